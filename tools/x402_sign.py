"""x402 "exact" payments signed with eth-account, the independent implementation the
tests, the reliability load and the x402 benchmark check the extension against:
EIP-3009 TransferWithAuthorization under the requirements' EIP-712 domain."""

import os

TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "TransferWithAuthorization": [{"name": "from", "type": "address"}, {"name": "to", "type": "address"},
                                  {"name": "value", "type": "uint256"}, {"name": "validAfter", "type": "uint256"},
                                  {"name": "validBefore", "type": "uint256"}, {"name": "nonce", "type": "bytes32"}]}
LEGACY_NETWORKS = {"xlayer": 196, "base-sepolia": 84532, "base": 8453}


def chain_id(network: str) -> int:
    return LEGACY_NETWORKS[network] if network in LEGACY_NETWORKS else int(network.split(":")[1])


def typed_data(req: dict, auth: dict, domain_name: str | None = None) -> dict:
    """The EIP-712 message a payer signs for `auth` (strings, as in the payload) under `req`'s domain."""
    return {"types": TYPES, "primaryType": "TransferWithAuthorization",
            "domain": {"name": domain_name or req["extra"]["name"], "version": req["extra"]["version"],
                       "chainId": chain_id(req["network"]), "verifyingContract": req["asset"]},
            "message": {"from": auth["from"], "to": auth["to"], "value": int(auth["value"]),
                        "validAfter": int(auth["validAfter"]), "validBefore": int(auth["validBefore"]),
                        "nonce": bytes.fromhex(auth["nonce"][2:])}}


def sign_payment(account, req: dict, value=None, valid_after: int = 0, valid_before: int = 4102444800,
                 nonce: str | None = None, version: int = 2, domain_name: str | None = None) -> dict:
    """A v2 (`accepted` + `payload`) or v1 (`scheme`, `network`, `payload`) payment payload.
    `domain_name` signs under another EIP-712 name than the requirements say (a wrong domain)."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    nonce = nonce or "0x" + os.urandom(32).hex()
    amount = value or req.get("amount") or req["maxAmountRequired"]
    auth = {"from": account.address, "to": req["payTo"], "value": str(amount), "validAfter": str(valid_after),
            "validBefore": str(valid_before), "nonce": nonce}
    signed = Account.sign_message(encode_typed_data(full_message=typed_data(req, auth, domain_name)), account.key)
    inner = {"signature": "0x" + signed.signature.hex().removeprefix("0x"), "authorization": auth}
    if version == 2:
        return {"x402Version": 2, "accepted": req, "payload": inner}
    return {"x402Version": 1, "scheme": "exact", "network": req["network"], "payload": inner}


class FastSigner:
    """The same signatures as sign_payment (RFC 6979, low-s), about 100 times faster, for loads
    that need tens of thousands of payments: libsecp256k1 through coincurve, and the EIP-712
    digest of TransferWithAuthorization assembled directly under one fixed domain. `check(n)`
    compares its first payments with sign_payment's, byte for byte."""

    TYPE = b"TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter," \
           b"uint256 validBefore,bytes32 nonce)"

    def __init__(self, req: dict):
        from eth_account.messages import encode_typed_data
        from eth_hash.auto import keccak
        self.req, self.keccak = req, keccak
        probe = {"from": "0x" + "00" * 20, "to": req["payTo"], "value": "0", "validAfter": "0",
                 "validBefore": "0", "nonce": "0x" + "00" * 32}
        self.domain = encode_typed_data(full_message=typed_data(req, probe)).header
        self.type_hash = keccak(self.TYPE)

    def sign(self, key: bytes, address: str, value: int, nonce: str, valid_after: int = 0,
             valid_before: int = 4102444800) -> dict:
        import coincurve
        word = lambda n: n.to_bytes(32, "big")  # noqa: E731
        addr = lambda a: bytes.fromhex(a[2:]).rjust(32, b"\0")  # noqa: E731
        struct = self.keccak(self.type_hash + addr(address) + addr(self.req["payTo"]) + word(value)
                             + word(valid_after) + word(valid_before) + bytes.fromhex(nonce[2:]))
        digest = self.keccak(b"\x19\x01" + self.domain + struct)
        sig = coincurve.PrivateKey(key).sign_recoverable(digest, hasher=None)
        signature = "0x" + sig[:64].hex() + f"{sig[64] + 27:02x}"
        auth = {"from": address, "to": self.req["payTo"], "value": str(value), "validAfter": str(valid_after),
                "validBefore": str(valid_before), "nonce": nonce}
        accepted = dict(self.req, amount=str(value)) if "amount" in self.req else self.req
        return {"x402Version": 2, "accepted": accepted, "payload": {"signature": signature, "authorization": auth}}

    def check(self, account, n: int = 5) -> None:
        for i in range(n):
            nonce = "0x" + os.urandom(32).hex()
            value = int(self.req["amount"]) + i
            ours = self.sign(account.key, account.address, value, nonce)
            theirs = sign_payment(account, dict(self.req, amount=str(value)), value=value, nonce=nonce)
            if ours != theirs:
                raise AssertionError(f"FastSigner differs from eth-account:\n{ours}\n{theirs}")
