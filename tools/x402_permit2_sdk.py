"""The official x402 SDK's facilitator (PyPI `x402` 2.25.0) verifying and settling Permit2 payments,
`exact` with assetTransferMethod "permit2" (`ExactEvmScheme.verify` -> `verify_permit2`) and `upto`
(`UptoEvmScheme.verify` -> `verify_upto_permit2`), in-process and offline: the reference the
extension's Permit2 verify is held to. Payloads come from tools/x402_permit2.py (eth-account).

The SDK reaches a chain only through its `FacilitatorEvmSigner` interface. `Permit2Chain` implements
it from state held in memory and answers what a chain would:

* `get_addresses`: the facilitator's own addresses (upto checks witness.facilitator against them);
* `get_code`: bytecode at the token, Permit2 and the two x402 proxies (each can be switched off),
  none anywhere else (payers are EOAs);
* `read_contract` (eth_call, from the facilitator's address like `FacilitatorWeb3Signer`) of the
  token's `allowance(owner, Permit2)` and `balanceOf`, Permit2's `nonceBitmap`, and the proxies'
  `settle`, which a model of the proxy + Permit2 contracts answers by succeeding or by reverting
  with the contract's own error, in the contracts' order (coinbase/x402 contracts/evm/src/
  x402*Permit2Proxy.sol; Uniswap/permit2 src/SignatureTransfer.sol, libraries/SignatureVerification.sol):
  upto amount <= permitted (AmountExceedsPermitted), msg.sender == witness.facilitator
  (UnauthorizedFacilitator), amount != 0, owner and to != 0, validAfter <= block time
  (PaymentTooEarly), block time <= deadline (SignatureExpired), requested <= permitted
  (InvalidAmount), the owner's nonce bit unused (InvalidNonce), the signature (65 bytes r,s,v or
  64-byte EIP-2098; ecrecover semantics: v must be 27/28, high s accepted) recovering to the owner
  (InvalidSignature/InvalidSigner), then the token's transferFrom (allowance to Permit2 and balance;
  "TRANSFER_FROM_FAILED"). An eth_call or transaction to an address without code succeeds and
  does nothing, as on a real chain.
* `write_contract` runs the same model and applies it (nonce bit set, tokens moved) and returns a
  deterministic hash; `wait_for_transaction_receipt` follows a plan ("success", "reverted",
  "timeout"), so the SDK's settle answers, settlement_pending included, can be shown offline. By
  default a call that will revert is still broadcast and mined with status 0, as the SDK's own
  `FacilitatorWeb3Signer` does (fixed gas limit, no estimation: mechanisms/evm/signers.py
  write_contract); chain_state {"broadcast": "estimate"} models a signer that estimates first.

The stand-in never sees requirements and never returns a verdict or a reason: the SDK decides both.
Nothing leaves the process (sockets are refused while the SDK runs). Time: `now` is frozen for the
SDK's Permit2 modules; the chain's block time is now + 1.

Run `python3 tools/x402_permit2_sdk.py` for the table of cases (valid and each single fault) with
the SDK's answers and what the modeled chain would do at settlement.
"""
from __future__ import annotations

import contextlib
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_keys import keys
from eth_utils import keccak

import x402_permit2 as p2

# The SDK logs warnings with tracebacks on every rejected signature; keep them off stderr.
logging.getLogger("x402").addHandler(logging.NullHandler())

CODE = bytes.fromhex("6080604052")
ZERO = "0x" + "00" * 20
MAX = 2**256 - 1
DEFAULT_NETWORKS = ["eip155:8453", "eip155:84532"]


class Revert(Exception):
    """An eth_call/transaction that reverted, worded as `execution reverted: <Error>()`."""

    def __init__(self, reason: str):
        super().__init__(f"execution reverted: {reason}")
        self.reason = reason


class SdkCannotJudge(Exception):
    """The SDK raised instead of answering (unparseable input, no scheme for the network, ...)."""


@dataclass
class Receipt:
    status: int
    block_number: int
    tx_hash: str
    logs: list | None = None


@dataclass
class Token:
    address: str
    code: bool = True
    default_balance: int = 10**24
    default_allowance: int = MAX  # allowance(owner, Permit2)
    balances: dict[str, int] = field(default_factory=dict)
    allowances: dict[tuple[str, str], int] = field(default_factory=dict)

    def balance_of(self, who: str) -> int:
        return self.balances.get(who.lower(), self.default_balance)

    def allowance(self, owner: str, spender: str) -> int:
        if spender.lower() != p2.PERMIT2_ADDRESS.lower():
            return self.allowances.get((owner.lower(), spender.lower()), 0)
        return self.allowances.get((owner.lower(), spender.lower()), self.default_allowance)


class Permit2Chain:
    """Chain state behind the SDK's FacilitatorEvmSigner interface (see the module docstring)."""

    def __init__(self, chain_id: int, tokens: list[Token], facilitator_addresses: list[str], *,
                 block_time: int = 0, permit2_code: bool = True, proxy_code: bool = True,
                 check_signatures: bool = True, receipts: list[str] | None = None,
                 broadcast: str = "fixed_gas"):
        self.chain_id = chain_id
        self.tokens = {t.address.lower(): t for t in tokens}
        self.facilitator_addresses = list(facilitator_addresses)
        self.block_time = block_time
        self.permit2_code = permit2_code
        self.proxy_code = proxy_code
        self.check_signatures = check_signatures
        self.receipts = list(receipts or [])  # plan for the next receipt waits: "timeout" | "reverted"
        self.broadcast = broadcast
        self.bitmap: dict[tuple[str, int], int] = {}  # (owner, wordPos) -> word
        self.calls: list[str] = []
        self.sent: list[str] = []
        self._mined: dict[str, str] = {}

    # -- state helpers

    def use_nonce(self, owner: str, nonce: int) -> None:
        key = (owner.lower(), nonce >> 8)
        self.bitmap[key] = self.bitmap.get(key, 0) | (1 << (nonce & 0xFF))

    def nonce_used(self, owner: str, nonce: int) -> bool:
        return bool(self.bitmap.get((owner.lower(), nonce >> 8), 0) >> (nonce & 0xFF) & 1)

    def has_code(self, address: str) -> bool:
        a = address.lower()
        if a in self.tokens:
            return self.tokens[a].code
        if a == p2.PERMIT2_ADDRESS.lower():
            return self.permit2_code
        if a in (p2.EXACT_PROXY.lower(), p2.UPTO_PROXY.lower()):
            return self.proxy_code
        return False

    # -- FacilitatorEvmSigner

    def get_addresses(self) -> list[str]:
        return list(self.facilitator_addresses)

    def get_chain_id(self) -> int:
        return self.chain_id

    def get_code(self, address: str) -> bytes:
        self.calls.append(f"get_code {address}")
        return CODE if self.has_code(address) else b""

    def get_balance(self, address: str, token_address: str) -> int:
        return self.tokens[token_address.lower()].balance_of(address)

    def read_contract(self, address: str, abi: list[dict[str, Any]], function_name: str, *args: Any) -> Any:
        self.calls.append(f"read_contract {function_name}")
        a = address.lower()
        if not self.has_code(address):
            if function_name in ("settle", "settleWithPermit"):
                return None  # a call to an address without code succeeds and returns nothing
            raise Revert(f"no contract at {address}")  # a view returning data cannot decode ""
        if a in self.tokens:
            t = self.tokens[a]
            if function_name == "allowance":
                return t.allowance(args[0], args[1])
            if function_name == "balanceOf":
                return t.balance_of(args[0])
        if a == p2.PERMIT2_ADDRESS.lower() and function_name == "nonceBitmap":
            return self.bitmap.get((args[0].lower(), int(args[1])), 0)
        if a in (p2.EXACT_PROXY.lower(), p2.UPTO_PROXY.lower()) and function_name in ("settle", "settleWithPermit"):
            self.proxy_call(address, function_name, args, sender=self.facilitator_addresses[0], commit=False)
            return None
        raise Revert(f"{function_name} not modeled at {address}")

    def verify_typed_data(self, *args: Any, **kwargs: Any) -> bool:
        raise NotImplementedError("deciding a signature's validity is the SDK's job, not the chain's")

    def write_contract(self, address: str, abi: list[dict[str, Any]], function_name: str, *args: Any,
                       data_suffix: str | None = None) -> str:
        """Broadcast. `broadcast="fixed_gas"` (the SDK's own FacilitatorWeb3Signer: a fixed gas limit,
        no estimation) sends even a call that will revert, which is then mined with status 0;
        `broadcast="estimate"` (a signer that estimates gas or simulates first, like viem's
        writeContract) raises the revert here and sends nothing."""
        self.calls.append(f"write_contract {function_name}")
        planned = self.receipts[0] if self.receipts else None
        sender = self.facilitator_addresses[0]
        try:
            self.proxy_call(address, function_name, args, sender=sender, commit=False)
            reverts = False
        except Revert:
            if self.broadcast == "estimate":
                raise
            reverts = True
        mined = "reverted" if reverts or planned == "reverted" else "success"
        if mined == "success":
            self.proxy_call(address, function_name, args, sender=sender, commit=True)
        tx = "0x" + keccak(text=f"{self.chain_id}/{len(self.sent)}/{address}/{function_name}/{args!r}").hex()
        self.sent.append(tx)
        self._mined[tx] = mined
        return tx

    def send_transaction(self, *args: Any, **kwargs: Any) -> str:
        raise RuntimeError("offline: no raw transactions are modeled")

    def wait_for_transaction_receipt(self, tx_hash: str) -> Receipt:
        self.calls.append("wait_for_transaction_receipt")
        planned = self.receipts.pop(0) if self.receipts else None
        if planned == "timeout":
            raise TimeoutError(f"receipt for {tx_hash} not seen within the wait")
        status = 0 if self._mined.get(tx_hash) == "reverted" else 1
        return Receipt(status=status, block_number=1, tx_hash=tx_hash, logs=[])

    # -- the proxy + Permit2 model

    def proxy_call(self, proxy: str, fn: str, args: tuple, *, sender: str, commit: bool) -> None:
        if not self.has_code(proxy):
            return  # no code: the call succeeds and does nothing
        if fn != "settle":
            raise Revert(f"{fn} not modeled")
        if proxy.lower() == p2.EXACT_PROXY.lower():
            permit, owner, witness, sig = args
            amount = permit[0][1]
            to, valid_after = witness
            wtype = "Witness(address to,uint256 validAfter)"
            witness_hash = keccak(encode(["bytes32", "address", "uint256"], [keccak(text=wtype), to, valid_after]))
        else:
            permit, amount, owner, witness, sig = args
            to, facilitator, valid_after = witness
            if amount > permit[0][1]:
                raise Revert("AmountExceedsPermitted()")
            if sender.lower() != facilitator.lower():
                raise Revert("UnauthorizedFacilitator()")
            wtype = "Witness(address to,address facilitator,uint256 validAfter)"
            witness_hash = keccak(encode(["bytes32", "address", "address", "uint256"],
                                         [keccak(text=wtype), to, facilitator, valid_after]))
        # x402BasePermit2Proxy._settle
        if amount == 0:
            raise Revert("InvalidAmount()")
        if owner.lower() == ZERO:
            raise Revert("InvalidOwner()")
        if to.lower() == ZERO:
            raise Revert("InvalidDestination()")
        if self.block_time < valid_after:
            raise Revert("PaymentTooEarly()")
        if not self.permit2_code:
            return
        # Permit2 SignatureTransfer._permitTransferFrom, msg.sender = the proxy
        (token, permitted), nonce, deadline = permit
        if self.block_time > deadline:
            raise Revert(f"SignatureExpired({deadline})")
        if amount > permitted:
            raise Revert(f"InvalidAmount({permitted})")
        if self.nonce_used(owner, nonce):
            raise Revert("InvalidNonce()")
        witness_type_string = "Witness witness)TokenPermissions(address token,uint256 amount)" + wtype
        type_hash = keccak(text="PermitWitnessTransferFrom(TokenPermissions permitted,address spender,"
                                "uint256 nonce,uint256 deadline," + witness_type_string)
        tp = keccak(encode(["bytes32", "address", "uint256"],
                           [keccak(text="TokenPermissions(address token,uint256 amount)"), token, permitted]))
        struct = keccak(encode(["bytes32", "bytes32", "address", "uint256", "uint256", "bytes32"],
                               [type_hash, tp, proxy, nonce, deadline, witness_hash]))
        dom = keccak(encode(["bytes32", "bytes32", "uint256", "address"],
                            [keccak(text="EIP712Domain(string name,uint256 chainId,address verifyingContract)"),
                             keccak(text="Permit2"), self.chain_id, p2.PERMIT2_ADDRESS]))
        if self.check_signatures:
            self._verify_signature(bytes(sig), keccak(b"\x19\x01" + dom + struct), owner)
        t = self.tokens.get(token.lower())
        if t is None or not t.code:
            pass  # solmate SafeTransferLib: a call to an address without code "succeeds"
        elif t.allowance(owner, p2.PERMIT2_ADDRESS) < amount or t.balance_of(owner) < amount:
            raise Revert("TRANSFER_FROM_FAILED")
        if commit:
            self.use_nonce(owner, nonce)
            if t is not None and t.code:
                al = t.allowance(owner, p2.PERMIT2_ADDRESS)
                if al != MAX:
                    t.allowances[(owner.lower(), p2.PERMIT2_ADDRESS.lower())] = al - amount
                t.balances[owner.lower()] = t.balance_of(owner) - amount
                t.balances[to.lower()] = t.balance_of(to) + amount

    @staticmethod
    def _verify_signature(sig: bytes, digest: bytes, owner: str) -> None:
        """Permit2 SignatureVerification.verify for an owner without code."""
        if len(sig) == 65:
            r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        elif len(sig) == 64:
            r, vs = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            s, v = vs & ((1 << 255) - 1), (vs >> 255) + 27
        else:
            raise Revert("InvalidSignatureLength()")
        signer = ZERO
        if v in (27, 28) and 0 < r < p2.SECP256K1_N and 0 < s < p2.SECP256K1_N:  # the ecrecover precompile
            try:
                pub = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
                signer = pub.to_checksum_address().lower()
            except Exception:
                signer = ZERO
        if signer == ZERO:
            raise Revert("InvalidSignature()")
        if signer != owner.lower():
            raise Revert("InvalidSigner()")


# ---------------------------------------------------------------------------- running the SDK

class _FrozenTime:
    def __init__(self, now: int):
        self._now = now

    def time(self) -> float:
        return float(self._now)


@contextlib.contextmanager
def frozen_time(now: int):
    """`time.time()` as the SDK's Permit2 modules see it (each does `import time`)."""
    from x402.extensions.eip2612_gas_sponsoring import facilitator as eip2612
    from x402.mechanisms.evm.exact import permit2_utils as exact
    from x402.mechanisms.evm.upto import permit2_utils as upto
    mods = [exact, upto, eip2612]
    saved = [m.time for m in mods]
    for m in mods:
        m.time = _FrozenTime(now)
    try:
        yield
    finally:
        for m, t in zip(mods, saved):
            m.time = t


@contextlib.contextmanager
def no_network():
    """Any attempt to open an internet socket while the SDK runs raises."""
    saved = socket.socket.connect, socket.create_connection

    def refuse(*a, **k):
        raise AssertionError("the SDK tried to reach the network")
    socket.socket.connect = refuse
    socket.create_connection = refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.create_connection = saved


def _network_of(d: Any) -> str | None:
    return d.get("network") if isinstance(d, dict) else None


def make_chain(payload: dict, requirements: dict, chain_state: dict | None = None) -> Permit2Chain:
    """The chain a facilitator for these requirements would see, with `chain_state` overrides:
    now, balance, allowance, token_code, permit2_code, proxy_code, used_nonces [(owner, nonce)],
    facilitator_addresses, check_signatures, receipts (e.g. ["timeout"]), broadcast ("fixed_gas" |
    "estimate"), networks (the facilitator's registered networks)."""
    cs = dict(chain_state or {})
    now = cs.get("now", p2.NOW)
    net = _network_of(requirements) or ""
    cid = int(net.split(":")[1]) if net.startswith("eip155:") and net.split(":")[1].isdigit() else 0
    tok_addrs = {a for a in (requirements.get("asset") if isinstance(requirements, dict) else None,
                             ((payload.get("payload") or {}).get("permit2Authorization") or {}).get("permitted", {})
                             .get("token") if isinstance(payload, dict) else None) if isinstance(a, str)}
    tokens = [Token(a, code=cs.get("token_code", True), default_balance=cs.get("balance", 10**24),
                    default_allowance=cs.get("allowance", MAX)) for a in sorted(tok_addrs)]
    fac = cs.get("facilitator_addresses")
    if fac is None:
        extra = requirements.get("extra") if isinstance(requirements, dict) else None
        fac = [(extra or {}).get("facilitatorAddress") or p2.Fixture().facilitator]
    chain = Permit2Chain(cid, tokens, fac, block_time=now + 1, permit2_code=cs.get("permit2_code", True),
                         proxy_code=cs.get("proxy_code", True), check_signatures=cs.get("check_signatures", True),
                         receipts=cs.get("receipts"), broadcast=cs.get("broadcast", "fixed_gas"))
    for owner, nonce in cs.get("used_nonces", []):
        chain.use_nonce(owner, int(nonce))
    return chain


def make_facilitator(chain: Permit2Chain, networks: list[str]):
    """The SDK's sync facilitator with exact (EIP-3009 + Permit2, via its own register helper) and
    upto registered on `networks`, every chain read going to `chain`."""
    from x402 import x402FacilitatorSync
    from x402.mechanisms.evm.exact import register_exact_evm_facilitator
    from x402.mechanisms.evm.upto import UptoEvmFacilitatorScheme
    fac = register_exact_evm_facilitator(x402FacilitatorSync(), chain, networks=networks)
    fac.register(networks, UptoEvmFacilitatorScheme(chain))
    return fac


def _parse(payload: dict, requirements: dict):
    from x402.schemas.helpers import parse_payment_payload, parse_payment_requirements
    try:
        p = parse_payment_payload(payload)
        r = parse_payment_requirements(p.x402_version, requirements)
    except ValueError as e:  # pydantic's ValidationError is a ValueError
        raise SdkCannotJudge(f"the SDK cannot parse the input: {e}") from e
    return p, r


def _networks(payload: dict, requirements: dict, chain_state: dict | None) -> list[str]:
    if chain_state and "networks" in chain_state:
        return list(chain_state["networks"])
    nets = set(DEFAULT_NETWORKS)
    for n in (_network_of(requirements), _network_of(payload.get("accepted") if isinstance(payload, dict) else None)):
        if isinstance(n, str) and n.startswith("eip155:"):
            nets.add(n)
    return sorted(nets)


def sdk_verify(payload: dict, requirements: dict, chain_state: dict | None = None, *,
               chain: Permit2Chain | None = None) -> dict:
    """{"isValid", "invalidReason", "payer"} as the SDK's facilitator answers (x402FacilitatorSync.verify,
    routed by accepted.scheme/network to ExactEvmScheme or UptoEvmScheme) at `chain_state["now"]`."""
    from x402.mechanisms.evm.asset_cache import reset_asset_contract_cache
    from x402.schemas import SchemeNotFoundError
    p, r = _parse(payload, requirements)
    chain = chain or make_chain(payload, requirements, chain_state)
    fac = make_facilitator(chain, _networks(payload, requirements, chain_state))
    reset_asset_contract_cache()  # a process-wide cache of "the asset has code"
    with no_network(), frozen_time((chain_state or {}).get("now", p2.NOW)):
        try:
            res = fac.verify(p, r)
        except SchemeNotFoundError as e:
            raise SdkCannotJudge(str(e)) from e
        except (ValueError, TypeError, KeyError) as e:
            raise SdkCannotJudge(f"the SDK raised {type(e).__name__}: {e}") from e
    return {"isValid": res.is_valid, "invalidReason": res.invalid_reason, "payer": res.payer}


def sdk_settle(payload: dict, requirements: dict, chain_state: dict | None = None, *,
               settle_amount: int | str | None = None, retry: bool = True,
               chain: Permit2Chain | None = None) -> dict:
    """The SDK facilitator's settle, as its resource server calls it (`settle_with_pending_retry`:
    one automatic retry on settlement_pending). For upto, `settle_amount` replaces requirements.amount
    (what the SDK's HTTP server does with settlement_overrides). Returns the settle response as the
    SDK serializes it (by alias, None fields dropped) plus the chain calls."""
    from x402.mechanisms.evm.asset_cache import reset_asset_contract_cache
    from x402.server_base import settle_with_pending_retry
    req = dict(requirements)
    if settle_amount is not None:
        req["amount"] = str(settle_amount)
    p, r = _parse(payload, req)
    chain = chain or make_chain(payload, requirements, chain_state)
    fac = make_facilitator(chain, _networks(payload, requirements, chain_state))
    reset_asset_contract_cache()
    with no_network(), frozen_time((chain_state or {}).get("now", p2.NOW)):
        res = settle_with_pending_retry(fac, p, r) if retry else fac.settle(p, r)
    out = res.model_dump(by_alias=True, exclude_none=True)
    return {"response": out, "broadcasts": len(chain.sent), "calls": list(chain.calls)}


def chain_verdict(payload: dict, requirements: dict, chain_state: dict | None = None) -> str:
    """What the modeled proxy + Permit2 would do with the settle call the SDK builds from this
    payload (exact: the permitted amount; upto: requirements.amount), at block time now + 1."""
    from x402.mechanisms.evm.exact.permit2_utils import _build_permit2_settle_args
    from x402.mechanisms.evm.types import ExactPermit2Payload, UptoPermit2Payload, is_upto_permit2_payload
    from x402.mechanisms.evm.upto.permit2_utils import _build_upto_permit2_settle_args
    inner = payload.get("payload") or {}
    if "permit2Authorization" not in inner:
        return "n/a"
    chain = make_chain(payload, requirements, chain_state)
    try:
        if payload.get("accepted", {}).get("scheme") == "upto" and is_upto_permit2_payload(inner):
            args = _build_upto_permit2_settle_args(UptoPermit2Payload.from_dict(inner), int(requirements["amount"]))
            proxy = p2.UPTO_PROXY
        else:
            args = _build_permit2_settle_args(ExactPermit2Payload.from_dict(inner))
            proxy = p2.EXACT_PROXY
    except Exception as e:  # noqa: BLE001
        return f"unencodable ({type(e).__name__})"
    try:
        chain.proxy_call(proxy, "settle", args, sender=chain.facilitator_addresses[0], commit=False)
    except Revert as e:
        return e.reason
    except Exception as e:  # noqa: BLE001  (eth_abi refusing a value: the call cannot be encoded)
        return f"unencodable ({type(e).__name__})"
    return "settles" if chain.has_code(proxy) else "no-op (no proxy code)"


def sdk_version() -> str:
    from importlib.metadata import version
    return version("x402")


# ---------------------------------------------------------------------------- expectations

# The SDK's answer each case must get (None: valid), from reading its source (notes section c);
# checked so the cases test what they say.
SIG = "invalid_permit2_signature"
EXPECT_COMMON = {
    "valid": None,
    "valid, validAfter 0 (as the SDK client signs), deadline now+300": None,
    "deadline = now + 6 (edge)": None,
    "deadline = now + 5": "permit2_deadline_expired",
    "deadline = now (expired)": "permit2_deadline_expired",
    "validAfter = now (edge)": None,
    "validAfter = now + 1 (not yet valid)": "permit2_not_yet_valid",
    "recipient: requirements payTo differs": "invalid_permit2_recipient_mismatch",
    "recipient: signed to another address": "invalid_permit2_recipient_mismatch",
    "amount: signed price - 1": "permit2_amount_mismatch",
    "amount: signed price + 1 (over the requirements' amount)": "permit2_amount_mismatch",
    "amount: requirements ask price + 1 (over the signed ceiling)": "permit2_amount_mismatch",
    "token: signed another token": "permit2_token_mismatch",
    "token: requirements name another asset": "permit2_token_mismatch",
    "spender: the other x402 proxy": "invalid_permit2_spender",
    "spender: Permit2 itself": "invalid_permit2_spender",
    "spender: the facilitator": "invalid_permit2_spender",
    "domain: signed for another chainId": SIG,
    "domain: signed under another verifyingContract": SIG,
    "signature: another key signed (from = payer)": SIG,
    "signature: nonce changed after signing": SIG,
    "signature: deadline changed after signing": SIG,
    "signature: empty string": SIG,
    "signature: missing": SIG,
    "signature: not hex": SIG,
    "signature: 64 bytes (r||s, truncated)": SIG,
    "signature: EIP-2098 compact (64 bytes, Permit2 accepts it)": SIG,
    "signature: 66 bytes": SIG,
    "signature: v = 29": SIG,
    "signature: high s (malleated twin)": None,
    "nonce as 0x-hex string (the spec's example form)": SIG,
    "nonce = 2**256 (out of uint256)": SIG,
    "amount with underscores '10_000' (Python int() accepts it)": None,
    "deadline not a number": "invalid_permit2_payload_format",
    "lower-case addresses in the payload": None,
    "missing permit2Authorization.from": SIG,
    "missing permit2Authorization.spender": "invalid_permit2_spender",
    "missing permit2Authorization.nonce": SIG,
    "missing witness.validAfter": "invalid_permit2_payload_format",
    "requirements without extra.assetTransferMethod": None,
    "requirements without extra.name/version (Permit2 has no token domain)": None,
    "payment-identifier extension (valid id)": None,
    "payment-identifier extension (invalid id 'short')": None,
    "chain: no Permit2 allowance": "permit2_allowance_required",
    "chain: allowance = price - 1": "permit2_allowance_required",
    "chain: token has no code": "asset_not_deployed_contract",
    "chain: x402 proxy not deployed": None,
    "accepted differs from requirements (amount, payTo, asset)": None,
}
EXPECT = {
    "exact": {**EXPECT_COMMON,
              "network: requirements on another network": "network_mismatch",
              "network: accepted on another network": "network_mismatch",
              "signature: v as 0/1": None,
              "missing permit2Authorization.witness": "invalid_permit2_recipient_mismatch",
              "chain: balance = price - 1": "invalid_exact_evm_insufficient_balance",
              "chain: Permit2 nonce already used": None,
              "exact: an upto payload (witness.facilitator) sent as exact": "invalid_permit2_spender",
              "exact: requirements scheme 'upto'": None,
              "amount 0 (requirements and permit)": None,
              "payTo is the zero address": None,
              "exact: EIP-3009 domain name/version ignored (extra.name 'Wrong')": None},
    "upto": {**EXPECT_COMMON,
             "network: requirements on another network": "invalid_upto_evm_network_mismatch",
             "network: accepted on another network": "invalid_upto_evm_network_mismatch",
             "signature: v as 0/1": "invalid_upto_evm_transaction_failed",
             "missing permit2Authorization.witness": "unsupported_payload_type",
             "chain: balance = price - 1": "permit2_insufficient_balance",
             "chain: Permit2 nonce already used": "invalid_upto_evm_transaction_failed",
             "amount 0 (requirements and permit)": "invalid_upto_evm_transaction_failed",
             "payTo is the zero address": "invalid_upto_evm_transaction_failed",
             "upto: witness.facilitator is another address": "upto_facilitator_mismatch",
             "upto: the facilitator's signer set lacks extra.facilitatorAddress": "upto_facilitator_mismatch",
             "upto: missing witness.facilitator (then it is no upto payload)": "unsupported_payload_type",
             "upto: requirements scheme exact": "invalid_upto_evm_scheme",
             "upto: an exact-permit2 payload sent as upto": "unsupported_payload_type"},
}


def run_cases(kind: str, fx: p2.Fixture | None = None) -> list[dict]:
    rows = []
    for c in p2.cases(kind, fx):
        chain_state = {"now": (fx or p2.Fixture()).now, **c.chain}
        try:
            res = sdk_verify(c.payload, c.requirements, chain_state)
        except SdkCannotJudge as e:
            res = {"isValid": None, "invalidReason": f"raises: {e}"[:60], "payer": None}
        rows.append({"kind": kind, "case": c.name, **res, "expect": EXPECT[kind].get(c.name, "?"),
                     "chain": chain_verdict(c.payload, c.requirements, chain_state)})
    return rows


def settle_scenarios(fx: p2.Fixture | None = None) -> list[tuple[str, dict]]:
    """The SDK's settle answers (offline) for the shapes section (a) of the notes describes."""
    fx = fx or p2.Fixture()
    now = {"now": fx.now}
    out = []
    ex = fx.sign("exact")
    up = fx.sign("upto")
    out.append(("exact: success", sdk_settle(ex, ex["accepted"], now)))
    out.append(("exact: receipt wait times out once (settlement_pending, then the retry reconciles)",
                sdk_settle(ex, ex["accepted"], {**now, "receipts": ["timeout"]})))
    out.append(("exact: receipt wait times out, no retry",
                sdk_settle(ex, ex["accepted"], {**now, "receipts": ["timeout"]}, retry=False)))
    out.append(("exact: mined but reverted", sdk_settle(ex, ex["accepted"], {**now, "receipts": ["reverted"]})))
    used = {**now, "used_nonces": [(fx.payer.address, fx.nonce())]}
    out.append(("exact: nonce already used on chain (verify passes; SDK signer: fixed gas, mined reverted)",
                sdk_settle(ex, ex["accepted"], used)))
    out.append(("exact: nonce already used on chain (a signer that estimates gas: revert before broadcast)",
                sdk_settle(ex, ex["accepted"], {**used, "broadcast": "estimate"})))
    out.append(("exact: verify fails at settle (expired)",
                sdk_settle(fx.sign("exact", deadline=fx.now, label="d0"), ex["accepted"], now)))
    out.append(("upto: settle 2500 of 10000", sdk_settle(up, up["accepted"], now, settle_amount=2500)))
    out.append(("upto: settle the full 10000", sdk_settle(up, up["accepted"], now, settle_amount=10000)))
    out.append(("upto: settle 0 (no transaction)", sdk_settle(up, up["accepted"], now, settle_amount=0)))
    out.append(("upto: settle 10001 (over the ceiling)", sdk_settle(up, up["accepted"], now, settle_amount=10001)))
    out.append(("upto: receipt wait times out once", sdk_settle(up, up["accepted"], {**now, "receipts": ["timeout"]},
                                                                settle_amount=2500)))
    out.append(("upto: nonce already used on chain (settle skips the simulation; fixed gas: mined reverted)",
                sdk_settle(up, up["accepted"], used, settle_amount=2500)))
    out.append(("upto: nonce already used on chain (a signer that estimates gas)",
                sdk_settle(up, up["accepted"], {**used, "broadcast": "estimate"}, settle_amount=2500)))
    out.append(("upto: settle 0 with an expired authorization (verify runs first)",
                sdk_settle(fx.sign("upto", deadline=fx.now, label="d0"), up["accepted"], now, settle_amount=0)))
    # One Permit2 nonce per owner and chain, whatever the token, spender or scheme: after the exact
    # payment settles, a second authorization with the same owner and nonce cannot settle.
    shared = Permit2Chain(p2.chain_id(fx.network), [Token(fx.asset), Token(fx.other_token)], [fx.facilitator],
                          block_time=fx.now + 1)
    other_req = fx.requirements("exact") | {"asset": fx.other_token}
    same_nonce_other_token = fx.sign("exact", other_req)
    same_nonce_upto = fx.sign("upto")
    out.append(("shared nonce 1/4: exact on the fixture token settles",
                sdk_settle(ex, ex["accepted"], now, chain=shared)))
    out.append(("shared nonce 2/4: same owner+nonce, another token: verify says",
                {"response": sdk_verify(same_nonce_other_token, other_req, now, chain=shared), "broadcasts": 1}))
    out.append(("shared nonce 3/4: ... and settle (mined reverted: InvalidNonce)",
                sdk_settle(same_nonce_other_token, other_req, now, chain=shared)))
    out.append(("shared nonce 4/4: same owner+nonce as upto: verify (its simulation sees the used bit)",
                {"response": sdk_verify(same_nonce_upto, same_nonce_upto["accepted"], now, chain=shared),
                 "broadcasts": len(shared.sent)}))
    return out


def client_parity(fx: p2.Fixture | None = None) -> list[str]:
    """The SDK's own client (ExactEvmScheme / UptoEvmScheme create_payment_payload) with its clock and
    nonce pinned signs byte for byte what tools/x402_permit2.py signs."""
    import time as time_mod
    from x402.mechanisms.evm.exact import client as exact_client
    from x402.mechanisms.evm.exact import permit2_utils as exact_p2
    from x402.mechanisms.evm.upto import client as upto_client
    from x402.schemas import PaymentRequirements
    fx = fx or p2.Fixture()
    nonce = fx.nonce()
    saved = (exact_p2.create_permit2_nonce, upto_client.create_permit2_nonce, exact_p2.time, time_mod.time)
    exact_p2.create_permit2_nonce = upto_client.create_permit2_nonce = lambda: str(nonce)
    exact_p2.time = _FrozenTime(fx.now)
    time_mod.time = lambda: float(fx.now)
    out = []
    try:
        for kind, scheme in (("exact", exact_client.ExactEvmScheme(fx.payer)),
                             ("upto", upto_client.UptoEvmScheme(fx.payer))):
            req = fx.requirements(kind)
            theirs = scheme.create_payment_payload(PaymentRequirements.model_validate(req))
            ours = fx.sign(kind, req, valid_after=0, deadline=fx.now + req["maxTimeoutSeconds"])["payload"]
            same = json.dumps(theirs, sort_keys=True) == json.dumps(ours, sort_keys=True)
            out.append(f"{kind}: SDK client payload {'==' if same else '!='} ours")
            if not same:
                out.append(f"  sdk:  {theirs}\n  ours: {ours}")
    finally:
        exact_p2.create_permit2_nonce, upto_client.create_permit2_nonce, exact_p2.time, time_mod.time = saved
    return out


def digest_parity(fx: p2.Fixture | None = None) -> list[str]:
    """The SDK's own digest (verify.py _hash_typed_data over permit2_utils._build_*_typed_data) equals
    eth-account's and the hand-assembled one in tools/x402_permit2.py."""
    from x402.mechanisms.evm.exact.permit2_utils import _build_permit2_typed_data
    from x402.mechanisms.evm.types import ExactPermit2Payload, UptoPermit2Payload
    from x402.mechanisms.evm.upto.permit2_utils import _build_upto_permit2_typed_data
    from x402.mechanisms.evm.verify import _hash_typed_data
    fx = fx or p2.Fixture()
    out = []
    for kind in ("exact", "upto"):
        p = fx.sign(kind)
        inner = p["payload"]
        cid = p2.chain_id(p["accepted"]["network"])
        if kind == "exact":
            parts = _build_permit2_typed_data(ExactPermit2Payload.from_dict(inner).permit2_authorization, cid)
        else:
            parts = _build_upto_permit2_typed_data(UptoPermit2Payload.from_dict(inner).permit2_authorization, cid)
        sdk = _hash_typed_data(*parts)
        ours = p2.digest(p2.typed_data(inner["permit2Authorization"], cid, kind=kind))
        manual = p2.manual_digest(inner["permit2Authorization"], cid, kind)
        out.append(f"{kind}: sdk {sdk.hex()[:16]}.. eth-account {ours.hex()[:16]}.. manual {manual.hex()[:16]}.. "
                   f"{'all equal' if sdk == ours == manual else 'DIFFER'}")
    return out


def main() -> int:
    fx = p2.Fixture()
    print(f"x402 SDK {sdk_version()}: facilitator verify (offline, stand-in chain), now = {fx.now}, "
          f"network {fx.network}, asset {fx.asset}, price {fx.amount}")
    print(f"payer {fx.payer.address}, payTo {fx.pay_to}, facilitator {fx.facilitator}\n")
    for line in digest_parity(fx) + client_parity(fx):
        print(line)
    bad = []
    for kind in ("exact", "upto"):
        rows = run_cases(kind, fx)
        print(f"\n{kind}{' (assetTransferMethod permit2)' if kind == 'exact' else ''}: {len(rows)} cases, "
              f"{sum(1 for r in rows if r['isValid'])} valid per the SDK")
        print(f"  {'case':64} {'SDK isValid':11} {'SDK invalidReason':36} {'payer':8} chain at settle (model)")
        for r in rows:
            ok = r["invalidReason"] == r["expect"]
            if not ok:
                bad.append(f"{kind} / {r['case']}: SDK {r['invalidReason']}, expected {r['expect']}")
            payer = "''" if r["payer"] == "" else (r["payer"] or "-")[:8]
            print(f"{'  ' if ok else '!!'}{r['case'][:64]:64} {str(r['isValid']):11} {str(r['invalidReason']):36} "
                  f"{payer:8} {r['chain']}")
    print("\nsettle (SDK facilitator settle via settle_with_pending_retry, offline):")
    for name, res in settle_scenarios(fx):
        print(f"  {name}\n    -> {json.dumps(res['response'])}  broadcasts={res['broadcasts']}")
    if bad:
        print("\nUNEXPECTED:\n" + "\n".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
