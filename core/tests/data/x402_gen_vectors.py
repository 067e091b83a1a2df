#!/usr/bin/env python3
"""Generate independent EIP-712 / EIP-3009 test vectors for the x402 core.

Uses eth-account only (`pip install eth-account`), so the Rust implementation
in core/src/x402/ is checked against a second, unrelated implementation.

Writes core/tests/data/x402_vectors.json next to this script. The output is
deterministic (fixed seed): re-running it must reproduce the committed file.

Each vector holds:
  domain            {name, version, chainId (decimal string), verifyingContract}
  message           {from, to, value, validAfter, validBefore, nonce}
                    (uint256 values as decimal strings, nonce as 0x hex)
  signature         0x + 65 bytes r||s||v, v in {27, 28}
  signer            checksummed address of the signing key
  domainSeparator   0x + 32 bytes (hashStruct(EIP712Domain))
  structHash        0x + 32 bytes (hashStruct(TransferWithAuthorization))
  digest            0x + 32 bytes keccak256(0x1901 || domainSeparator || structHash)
"""

import json
import os
import random

from eth_account import Account
from eth_account.messages import encode_typed_data

SEED = 402_2025
COUNT = 24
UINT256_MAX = 2**256 - 1

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
TWA_TYPE = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]

# (name, version, chainId, verifyingContract); None contract = random.
FIXED_DOMAINS = [
    ("Global Dollar", "1", 196, "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"),
    ("USDG", "2", 196, "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"),
    ("USDC", "2", 84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e"),
    ("USD Coin", "2", 8453, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
    ("USD Coin", "2", 1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
    ("", "", 1, None),
    ("Dólar ✓ 多币", "1.0.0-rc.1", 43114, None),
    ("A" * 200, "99", 137, None),
    ("Token", "1", 2**64 + 7, None),
    ("Token", "1", UINT256_MAX, None),
    ("Token", "1", 0, None),
]
NAMES = ["USDC", "USD Coin", "Global Dollar", "USDT0", "EURC", "Bridged USDC"]
VERSIONS = ["1", "2", "3"]
CHAINS = [1, 10, 137, 196, 1952, 8453, 42161, 43113, 43114, 84532]


def rand_address(rng):
    return Account.from_key(rng.randbytes(32)).address


def rand_uint(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return 0
    if kind == 1:
        return UINT256_MAX
    if kind == 2:
        return rng.randrange(1, 10**7)
    return rng.randrange(0, 2 ** rng.choice([8, 32, 64, 128, 256]))


def main():
    rng = random.Random(SEED)
    vectors = []
    for i in range(COUNT):
        if i < len(FIXED_DOMAINS):
            name, version, chain_id, contract = FIXED_DOMAINS[i]
        else:
            name, version, chain_id, contract = (
                rng.choice(NAMES),
                rng.choice(VERSIONS),
                rng.choice(CHAINS),
                None,
            )
        if contract is None:
            contract = rand_address(rng)

        key = rng.randbytes(32)
        acct = Account.from_key(key)
        recipient = rand_address(rng)
        valid_after = rand_uint(rng) if i % 3 else rng.randrange(1_700_000_000, 1_800_000_000)
        valid_before = rand_uint(rng) if i % 3 else valid_after + rng.randrange(1, 3600)
        message = {
            "from": acct.address,
            "to": recipient,
            "value": rand_uint(rng),
            "validAfter": valid_after,
            "validBefore": valid_before,
            "nonce": rng.randbytes(32),
        }
        domain = {
            "name": name,
            "version": version,
            "chainId": chain_id,
            "verifyingContract": contract,
        }
        full = {
            "types": {"EIP712Domain": DOMAIN_TYPE, "TransferWithAuthorization": TWA_TYPE},
            "primaryType": "TransferWithAuthorization",
            "domain": domain,
            "message": message,
        }
        signable = encode_typed_data(full_message=full)
        signed = Account.sign_message(signable, private_key=key)
        digest = getattr(signed, "message_hash", None) or signed.messageHash
        recovered = Account.recover_message(signable, signature=signed.signature)
        assert recovered == acct.address
        sig = bytes(signed.signature)
        assert len(sig) == 65 and sig[64] in (27, 28)
        assert bytes(signable.version) == b"\x01"

        vectors.append(
            {
                "domain": {
                    "name": name,
                    "version": version,
                    "chainId": str(chain_id),
                    "verifyingContract": contract,
                },
                "message": {
                    "from": message["from"],
                    "to": message["to"],
                    "value": str(message["value"]),
                    "validAfter": str(message["validAfter"]),
                    "validBefore": str(message["validBefore"]),
                    "nonce": "0x" + message["nonce"].hex(),
                },
                "signature": "0x" + sig.hex(),
                "signer": acct.address,
                "domainSeparator": "0x" + bytes(signable.header).hex(),
                "structHash": "0x" + bytes(signable.body).hex(),
                "digest": "0x" + bytes(digest).hex(),
            }
        )

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "x402_vectors.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(
            {
                "generator": "core/tests/data/x402_gen_vectors.py (eth-account)",
                "seed": SEED,
                "vectors": vectors,
            },
            f,
            indent=2,
            ensure_ascii=False,
        )
        f.write("\n")
    print(f"wrote {len(vectors)} vectors to {out}")


if __name__ == "__main__":
    main()
