"""The official x402 SDK's facilitator verify (PyPI `x402`: `ExactEvmScheme.verify` for x402 v2,
`ExactEvmSchemeV1.verify` for v1, routed by its `x402Facilitator`), run in-process and offline: the
reference the differential test (tests/integration/test_x402_sdk.py) holds `x402.verify_payment` to.

The SDK reaches a chain only through its `FacilitatorEvmSigner` interface. `FakeChain` implements
that interface from state held in memory, answering what a chain would:

* `get_code`: bytecode at the token contracts it holds, none anywhere else (payers are EOAs);
* `read_contract` (eth_call) of the token's `name()`, `version()`, `balanceOf`,
  `authorizationState` (EIP-3009 nonce state), Multicall3 `tryAggregate` over those, and
  `transferWithAuthorization`, which a model of the token contract answers by succeeding or by
  reverting with the contract's own message. The model applies FiatToken v2's rules (USDC's, which
  the tokens x402 uses follow): validAfter < block time < validBefore, the nonce unused, an ECDSA
  signature with low s and v 27/28 recovering to `from` under the token's own EIP-712 domain (its
  name, version, chain id and address), and a balance covering the value.

The fake never sees payment requirements and never returns a verdict or a reason: the SDK decides
both (it maps a revert message to its reason codes itself). With `check_signatures=False` the contract
model skips its signature check (state only: window, nonce, balance), which shows what the SDK judges
without the token's own signature rules. Nothing leaves the process:
`write_contract`, `send_transaction` and receipts raise, and no RPC endpoint is configured.

Time: the SDK reads `time.time()`; `SdkFacilitator.verify(..., now=...)` freezes it for the SDK's
facilitator modules, and the fake chain's block time is `now + 1` (the block a settlement would be
mined in), so the contract's strict `validAfter < block time` agrees with the SDK's own rule
`validAfter <= now`.
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import keccak, to_checksum_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CODE = bytes.fromhex("6080604052")  # any non-empty bytecode

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
TRANSFER_TYPEHASH = keccak(text="TransferWithAuthorization(address from,address to,uint256 value,"
                                "uint256 validAfter,uint256 validBefore,bytes32 nonce)")


class Revert(Exception):
    """An eth_call that reverted, worded as web3 words it (the SDK looks for "revert")."""

    def __init__(self, reason: str):
        super().__init__(f"execution reverted: {reason}")


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


@dataclass
class Token:
    """An EIP-3009 token contract's state: its EIP-712 domain, balances and used nonces."""
    chain_id: int
    address: str
    name: str
    version: str
    balances: dict[str, int] = field(default_factory=dict)
    used_nonces: set[tuple[str, bytes]] = field(default_factory=set)

    def domain_separator(self) -> bytes:
        return keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                             [DOMAIN_TYPEHASH, keccak(text=self.name), keccak(text=self.version), self.chain_id,
                              to_checksum_address(self.address)]))

    def balance_of(self, holder: str) -> int:
        return self.balances.get(holder.lower(), 0)

    def authorization_state(self, authorizer: str, nonce: bytes) -> bool:
        return (authorizer.lower(), bytes(nonce)) in self.used_nonces

    def transfer_with_authorization(self, block_time: int, frm: str, to: str, value: int, valid_after: int,
                                    valid_before: int, nonce: bytes, v: int, r: bytes, s: bytes,
                                    check_signature: bool = True) -> None:
        """FiatToken v2's checks, in its order; raises Revert with its messages."""
        if not block_time > valid_after:
            raise Revert("FiatTokenV2: authorization is not yet valid")
        if not block_time < valid_before:
            raise Revert("FiatTokenV2: authorization is expired")
        if self.authorization_state(frm, nonce):
            raise Revert("FiatTokenV2: authorization is used or canceled")
        struct_hash = keccak(encode(["bytes32", "address", "address", "uint256", "uint256", "uint256", "bytes32"],
                                    [TRANSFER_TYPEHASH, to_checksum_address(frm), to_checksum_address(to), value,
                                     valid_after, valid_before, bytes(nonce)]))
        digest = keccak(b"\x19\x01" + self.domain_separator() + struct_hash)
        if check_signature and self._ecrecover(digest, v, bytes(r), bytes(s)) != frm.lower():
            raise Revert("FiatTokenV2: invalid signature")
        if self.balance_of(frm) < value:
            raise Revert("ERC20: transfer amount exceeds balance")

    @staticmethod
    def _ecrecover(digest: bytes, v: int, r: bytes, s: bytes) -> str:
        """OpenZeppelin's ECRecover.recover: low s, v 27/28, a recovered address."""
        s_int = int.from_bytes(s, "big")
        if s_int > SECP256K1_N // 2:
            raise Revert("ECRecover: invalid signature 's' value")
        if v not in (27, 28):
            raise Revert("ECRecover: invalid signature 'v' value")
        try:
            key = keys.Signature(vrs=(v - 27, int.from_bytes(r, "big"), s_int)).recover_public_key_from_msg_hash(digest)
        except (BadSignature, ValidationError):
            raise Revert("ECRecover: invalid signature") from None
        return key.to_checksum_address().lower()


class FakeChain:
    """Chain state behind the SDK's FacilitatorEvmSigner interface (see the module docstring)."""

    def __init__(self, tokens: list[Token], check_signatures: bool = True):
        self.tokens = {t.address.lower(): t for t in tokens}
        self.check_signatures = check_signatures
        self.block_time = 0
        self.calls: list[str] = []  # what the SDK asked, for the test's own checks

    # -- FacilitatorEvmSigner

    def get_addresses(self) -> list[str]:
        return ["0x" + "fa" * 20]

    def get_chain_id(self) -> int:
        raise NotImplementedError("not used by verify; the fake holds tokens of several chains")

    def get_code(self, address: str) -> bytes:
        self.calls.append(f"get_code {address}")
        return CODE if address.lower() in self.tokens else b""

    def get_balance(self, address: str, token_address: str) -> int:
        return self._token(token_address).balance_of(address)

    def read_contract(self, address: str, abi: list[dict[str, Any]], function_name: str, *args: Any) -> Any:
        self.calls.append(f"read_contract {function_name}")
        if function_name == "tryAggregate":
            _require_success, calls = args
            return [self._try_call(target, data) for target, data in calls]
        token = self._token(address)
        if function_name == "name":
            return token.name
        if function_name == "version":
            return token.version
        if function_name == "balanceOf":
            return token.balance_of(args[0])
        if function_name == "authorizationState":
            return token.authorization_state(args[0], args[1])
        if function_name == "transferWithAuthorization":
            if len(args) == 9:  # (from, to, value, validAfter, validBefore, nonce, v, r, s)
                token.transfer_with_authorization(self.block_time, *args, check_signature=self.check_signatures)
                return None
            raise Revert("ECRecover: invalid signature length")  # the bytes overload, for an EOA
        raise Revert(f"no function {function_name}")

    def verify_typed_data(self, *args: Any, **kwargs: Any) -> bool:
        raise NotImplementedError("deciding a signature's validity is the SDK's job, not the chain's")

    def write_contract(self, *args: Any, **kwargs: Any) -> str:
        raise RuntimeError("offline: FakeChain sends no transactions")

    def send_transaction(self, *args: Any, **kwargs: Any) -> str:
        raise RuntimeError("offline: FakeChain sends no transactions")

    def wait_for_transaction_receipt(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("offline: FakeChain sends no transactions")

    # -- helpers

    def _token(self, address: str) -> Token:
        token = self.tokens.get(address.lower())
        if token is None:
            raise Revert(f"no contract at {address}")
        return token

    def _try_call(self, target: str, data: bytes) -> tuple[bool, bytes]:
        """One Multicall3 sub-call: the read functions the SDK's diagnosis uses, ABI-encoded."""
        error_string = _selector("Error(string)")
        try:
            token = self._token(target)
            sel, body = bytes(data[:4]), bytes(data[4:])
            if sel == _selector("name()"):
                return True, encode(["string"], [token.name])
            if sel == _selector("version()"):
                return True, encode(["string"], [token.version])
            if sel == _selector("balanceOf(address)"):
                (holder,) = decode(["address"], body)
                return True, encode(["uint256"], [token.balance_of(holder)])
            if sel == _selector("authorizationState(address,bytes32)"):
                holder, nonce = decode(["address", "bytes32"], body)
                return True, encode(["bool"], [token.authorization_state(holder, nonce)])
            if sel == _selector("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,"
                                "uint8,bytes32,bytes32)"):
                a = decode(["address", "address", "uint256", "uint256", "uint256", "bytes32", "uint8", "bytes32",
                            "bytes32"], body)
                token.transfer_with_authorization(self.block_time, *a, check_signature=self.check_signatures)
                return True, b""
            raise Revert("unknown selector")
        except Revert as e:
            return False, error_string + encode(["string"], [str(e).removeprefix("execution reverted: ")])


class _FrozenTime:
    def __init__(self, now: int):
        self._now = now

    def time(self) -> float:
        return float(self._now)


@contextlib.contextmanager
def frozen_time(now: int):
    """`time.time()` as the SDK's exact-EVM facilitator modules see it (they do `import time`)."""
    from x402.mechanisms.evm.exact import facilitator as v2
    from x402.mechanisms.evm.exact.v1 import facilitator as v1
    saved = v2.time, v1.time
    v2.time = v1.time = _FrozenTime(now)
    try:
        yield
    finally:
        v2.time, v1.time = saved


class SdkCannotJudge(Exception):
    """The SDK raised instead of answering (unparseable input, no scheme registered for the network)."""


class SdkFacilitator:
    """The SDK's own facilitator (`x402Facilitator`, async) with its exact-EVM schemes registered by its
    own helper: v2 for the given CAIP-2 networks (and, by the SDK's pattern rule, every eip155:*), v1 for
    the SDK's legacy network names. Every chain read goes to `chain`."""

    def __init__(self, chain: FakeChain, networks: list[str]):
        from x402 import x402Facilitator
        from x402.mechanisms.evm.exact import register_exact_evm_facilitator
        self.chain = chain
        self.facilitator = register_exact_evm_facilitator(x402Facilitator(), chain, networks=networks)

    def verify(self, payload: dict, requirements: dict, now: int) -> dict:
        """{"isValid", "invalidReason", "invalidMessage", "payer"} as the SDK answers, at unix time `now`."""
        from x402.schemas import SchemeNotFoundError
        from x402.schemas.helpers import parse_payment_payload, parse_payment_requirements
        try:
            p = parse_payment_payload(payload)
            r = parse_payment_requirements(p.x402_version, requirements)
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise SdkCannotJudge(f"the SDK cannot parse the input: {e}") from e
        self.chain.block_time = now + 1
        with frozen_time(now):
            try:
                res = asyncio.run(self.facilitator.verify(p, r))
            except SchemeNotFoundError as e:
                raise SdkCannotJudge(str(e)) from e
        return {"isValid": res.is_valid, "invalidReason": res.invalid_reason,
                "invalidMessage": res.invalid_message, "payer": res.payer}


def sdk_version() -> str:
    from importlib.metadata import version
    return version("x402")
