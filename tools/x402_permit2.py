"""x402 payments settled through Permit2, signed with eth-account: the independent implementation
the Permit2 tests check the extension against (the EIP-3009 one is tools/x402_sign.py).

Two kinds, both x402 v2 only (the SDK has no v1 Permit2 or upto code):

* ``exact`` with ``accepts[i].extra.assetTransferMethod == "permit2"``: the payer signs a Permit2
  ``PermitWitnessTransferFrom`` whose spender is the x402ExactPermit2Proxy and whose witness is
  ``Witness(address to,uint256 validAfter)``; the proxy transfers exactly ``permitted.amount``.
* ``upto``: the same, with the x402UptoPermit2Proxy as spender and the witness
  ``Witness(address to,address facilitator,uint256 validAfter)``; ``permitted.amount`` is a ceiling,
  the facilitator settles any amount up to it.

The EIP-712 domain is Permit2's own: ``{name: "Permit2", chainId, verifyingContract: Permit2}`` (no
``version``). Everything here is computed with eth-account / eth-utils only (not the x402 SDK), so
tools/x402_permit2_sdk.py can hold the SDK to it. Keys and nonces are derived from a seed, so every
run builds the same payloads byte for byte (eth-account signs with RFC 6979).

Spec and SDK references: /work/notes/x402_permit2.md.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

# x402 SDK 2.25.0, x402/mechanisms/evm/constants.py lines 33-39 (the same address on every chain).
PERMIT2_ADDRESS = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
EXACT_PROXY = "0x402085c248EeA27D92E8b30b2C58ed07f9E20001"  # x402ExactPermit2Proxy
UPTO_PROXY = "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"  # x402UptoPermit2Proxy
PROXY = {"exact": EXACT_PROXY, "upto": UPTO_PROXY}

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT256_MAX = 2**256 - 1

DOMAIN_FIELDS = [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"},
                 {"name": "verifyingContract", "type": "address"}]
_PERMIT = [{"name": "permitted", "type": "TokenPermissions"}, {"name": "spender", "type": "address"},
           {"name": "nonce", "type": "uint256"}, {"name": "deadline", "type": "uint256"},
           {"name": "witness", "type": "Witness"}]
_TOKEN_PERMISSIONS = [{"name": "token", "type": "address"}, {"name": "amount", "type": "uint256"}]
WITNESS_FIELDS = {
    "exact": [{"name": "to", "type": "address"}, {"name": "validAfter", "type": "uint256"}],
    "upto": [{"name": "to", "type": "address"}, {"name": "facilitator", "type": "address"},
             {"name": "validAfter", "type": "uint256"}],
}
TYPES = {kind: {"EIP712Domain": DOMAIN_FIELDS, "PermitWitnessTransferFrom": _PERMIT,
                "TokenPermissions": _TOKEN_PERMISSIONS, "Witness": WITNESS_FIELDS[kind]}
         for kind in ("exact", "upto")}
PRIMARY_TYPE = "PermitWitnessTransferFrom"

# Fixtures (the SDK's default assets, x402/mechanisms/evm/default_assets.py).
USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
NOW = 1_763_800_000  # the fixed "now" of the fixtures (2025-11-22T08:26:40Z)


# ---------------------------------------------------------------------------- EIP-712 pieces

def encode_type(primary: str, types: dict) -> str:
    """EIP-712 encodeType: the primary type, then the referenced struct types sorted by name."""
    def deps(name: str, seen: set) -> set:
        for f in types[name]:
            base = f["type"].rstrip("[]")
            if base in types and base not in seen and base != "EIP712Domain":
                seen.add(base)
                deps(base, seen)
        return seen
    def one(name: str) -> str:
        return name + "(" + ",".join(f"{f['type']} {f['name']}" for f in types[name]) + ")"
    return one(primary) + "".join(one(d) for d in sorted(deps(primary, set()) - {primary}))


def type_strings(kind: str) -> dict[str, str]:
    """Every type string as hashed (the primary type's includes its dependencies)."""
    t = TYPES[kind]
    return {"EIP712Domain": encode_type("EIP712Domain", t), PRIMARY_TYPE: encode_type(PRIMARY_TYPE, t),
            "TokenPermissions": encode_type("TokenPermissions", t), "Witness": encode_type("Witness", t)}


def chain_id(network: str) -> int:
    """CAIP-2 eip155:<id> only: Permit2 and upto exist in x402 v2 only, which uses CAIP-2 names."""
    if not network.startswith("eip155:"):
        raise ValueError(f"not an eip155 network: {network}")
    return int(network.split(":", 1)[1])


def domain(chain: int, verifying_contract: str = PERMIT2_ADDRESS) -> dict:
    return {"name": "Permit2", "chainId": chain, "verifyingContract": verifying_contract}


def kind_of(auth: dict) -> str:
    """upto iff the witness has a facilitator (the SDK's own rule: types.py is_upto_permit2_payload)."""
    return "upto" if "facilitator" in (auth.get("witness") or {}) else "exact"


def typed_data(auth: dict, chain: int, *, kind: str | None = None,
               verifying_contract: str = PERMIT2_ADDRESS) -> dict:
    """The EIP-712 message a payer signs for `auth` (the payload's permit2Authorization, strings)."""
    kind = kind or kind_of(auth)
    w = auth["witness"]
    witness = {"to": w["to"], "validAfter": int(w["validAfter"])}
    if kind == "upto":
        witness = {"to": w["to"], "facilitator": w["facilitator"], "validAfter": int(w["validAfter"])}
    return {"types": TYPES[kind], "primaryType": PRIMARY_TYPE, "domain": domain(chain, verifying_contract),
            "message": {"permitted": {"token": auth["permitted"]["token"], "amount": int(auth["permitted"]["amount"])},
                        "spender": auth["spender"], "nonce": int(auth["nonce"]), "deadline": int(auth["deadline"]),
                        "witness": witness}}


def hashes(typed: dict) -> dict[str, bytes]:
    """domainSeparator, hashStruct(message) and the digest keccak(0x1901 || domain || struct)."""
    signable = encode_typed_data(full_message=typed)
    return {"domain_separator": signable.header, "struct_hash": signable.body,
            "digest": keccak(b"\x19\x01" + signable.header + signable.body)}


def digest(typed: dict) -> bytes:
    return hashes(typed)["digest"]


def manual_digest(auth: dict, chain: int, kind: str | None = None,
                  verifying_contract: str = PERMIT2_ADDRESS) -> bytes:
    """The same digest assembled by hand the way Permit2 and the proxies do on chain
    (PermitHash.hashWithWitness, the proxies' witnessHash, EIP712._hashTypedData): a cross-check."""
    kind = kind or kind_of(auth)
    word = lambda n: int(n).to_bytes(32, "big")  # noqa: E731
    addr = lambda a: bytes.fromhex(a[2:].lower()).rjust(32, b"\0")  # noqa: E731
    ts = type_strings(kind)
    dom = keccak(keccak(text=ts["EIP712Domain"]) + keccak(text="Permit2") + word(chain) + addr(verifying_contract))
    w = auth["witness"]
    wit = keccak(keccak(text=ts["Witness"]) + addr(w["to"])
                 + (addr(w["facilitator"]) if kind == "upto" else b"") + word(w["validAfter"]))
    tp = keccak(keccak(text=ts["TokenPermissions"]) + addr(auth["permitted"]["token"])
                + word(auth["permitted"]["amount"]))
    struct = keccak(keccak(text=ts[PRIMARY_TYPE]) + tp + addr(auth["spender"]) + word(auth["nonce"])
                    + word(auth["deadline"]) + wit)
    return keccak(b"\x19\x01" + dom + struct)


def sign_typed(account, typed: dict) -> str:
    """65-byte r||s||v (v 27/28, low s) as 0x-hex, the form the SDK client sends."""
    signed = Account.sign_message(encode_typed_data(full_message=typed), account.key)
    return "0x" + bytes(signed.signature).hex()


def recover(typed: dict, signature: str) -> str:
    return Account.recover_message(encode_typed_data(full_message=typed), signature=bytes.fromhex(signature[2:]))


# ---------------------------------------------------------------------------- deterministic keys

def key_from_seed(seed: str, label: str) -> bytes:
    k = int.from_bytes(keccak(text=f"{seed}/{label}"), "big") % (SECP256K1_N - 1) + 1
    return k.to_bytes(32, "big")


def account_from_seed(seed: str, label: str):
    return Account.from_key(key_from_seed(seed, label))


def address_from_seed(seed: str, label: str) -> str:
    return to_checksum_address(keccak(text=f"{seed}/address/{label}")[-20:])


def nonce_from_seed(seed: str, label: str) -> int:
    """A uint256 Permit2 nonce (the SDK draws 32 random bytes: utils.py create_permit2_nonce)."""
    return int.from_bytes(keccak(text=f"{seed}/nonce/{label}"), "big")


# ---------------------------------------------------------------------------- requirements and payloads

def requirements(scheme: str, network: str, asset: str, pay_to: str, amount: int | str, *,
                 max_timeout_seconds: int = 300, name: str | None = "USDC", version: str | None = "2",
                 facilitator: str | None = None, extra: dict | None = None) -> dict:
    """One `accepts[i]` entry. exact: extra.assetTransferMethod "permit2" (what makes the SDK client
    sign Permit2); upto: the same plus extra.facilitatorAddress (the SDK server always sets both)."""
    ex: dict[str, Any] = {}
    if name is not None:
        ex["name"] = name
    if version is not None:
        ex["version"] = version
    ex["assetTransferMethod"] = "permit2"
    if scheme == "upto":
        if not facilitator:
            raise ValueError("upto requirements need the facilitator address (extra.facilitatorAddress)")
        ex["facilitatorAddress"] = facilitator
    ex.update(extra or {})
    return {"scheme": scheme, "network": network, "asset": asset, "amount": str(amount), "payTo": pay_to,
            "maxTimeoutSeconds": max_timeout_seconds, "extra": ex}


def exact_requirements(network: str, asset: str, pay_to: str, amount: int | str, **kw) -> dict:
    return requirements("exact", network, asset, pay_to, amount, **kw)


def upto_requirements(network: str, asset: str, pay_to: str, amount: int | str, facilitator: str, **kw) -> dict:
    return requirements("upto", network, asset, pay_to, amount, facilitator=facilitator, **kw)


def authorization(req: dict, payer: str, *, nonce: int, deadline: int, valid_after: int = 0,
                  amount: int | str | None = None, token: str | None = None, spender: str | None = None,
                  to: str | None = None, facilitator: str | None = None, kind: str | None = None) -> dict:
    """`payload.permit2Authorization` as the SDK client builds it (types.py to_dict): numbers as decimal
    strings, addresses checksummed."""
    kind = kind or req["scheme"]
    witness = {"to": to_checksum_address(to or req["payTo"])}
    if kind == "upto":
        witness["facilitator"] = to_checksum_address(facilitator or req["extra"]["facilitatorAddress"])
    witness["validAfter"] = str(valid_after)
    return {"from": payer,
            "permitted": {"token": to_checksum_address(token or req["asset"]),
                          "amount": str(req["amount"] if amount is None else amount)},
            "spender": spender or PROXY[kind], "nonce": str(nonce), "deadline": str(deadline),
            "witness": witness}


def payment_payload(accepted: dict, auth: dict, signature: str | None, *, extensions: dict | None = None,
                    resource: dict | None = None) -> dict:
    """A v2 PaymentPayload: {x402Version: 2, accepted, payload: {signature, permit2Authorization}}."""
    inner: dict[str, Any] = {"permit2Authorization": auth}
    if signature is not None:
        inner["signature"] = signature
    p: dict[str, Any] = {"x402Version": 2, "accepted": accepted, "payload": inner}
    if resource is not None:
        p["resource"] = resource
    if extensions is not None:
        p["extensions"] = extensions
    return p


def sign_payment(account, req: dict, *, nonce: int, deadline: int, valid_after: int = 0,
                 amount: int | str | None = None, token: str | None = None, spender: str | None = None,
                 to: str | None = None, facilitator: str | None = None, sign_chain: int | None = None,
                 verifying_contract: str = PERMIT2_ADDRESS, kind: str | None = None,
                 extensions: dict | None = None) -> dict:
    """A signed v2 payload for `req` (exact+permit2 or upto, from req["scheme"]). The keyword
    arguments sign something else than `req` asks for (a single fault); `sign_chain` and
    `verifying_contract` sign under another EIP-712 domain."""
    kind = kind or req["scheme"]
    auth = authorization(req, account.address, nonce=nonce, deadline=deadline, valid_after=valid_after,
                         amount=amount, token=token, spender=spender, to=to, facilitator=facilitator, kind=kind)
    typed = typed_data(auth, sign_chain if sign_chain is not None else chain_id(req["network"]), kind=kind,
                       verifying_contract=verifying_contract)
    return payment_payload(req, auth, sign_typed(account, typed), extensions=extensions)


def payment_identifier_extension(payment_id: str | None, required: bool = False) -> dict:
    """`extensions["payment-identifier"]` (x402/extensions/payment_identifier): the server declares
    {info: {required}, schema}; the client copies it and adds info.id (16-128 of [A-Za-z0-9_-])."""
    info: dict[str, Any] = {"required": required}
    if payment_id is not None:
        info["id"] = payment_id
    return {"payment-identifier": {"info": info, "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"required": {"type": "boolean"},
                       "id": {"type": "string", "minLength": 16, "maxLength": 128, "pattern": "^[a-zA-Z0-9_-]+$"}},
        "required": ["required"]}}}


# ---------------------------------------------------------------------------- fixtures and single faults

@dataclass
class Fixture:
    """Everything a deterministic case needs, derived from `seed`."""
    seed: str = "x402-permit2"
    now: int = NOW
    network: str = "eip155:84532"
    asset: str = USDC_BASE_SEPOLIA
    amount: int = 10_000

    def __post_init__(self):
        self.payer = account_from_seed(self.seed, "payer")
        self.other = account_from_seed(self.seed, "other-signer")
        self.pay_to = address_from_seed(self.seed, "merchant")
        self.facilitator = account_from_seed(self.seed, "facilitator").address
        self.other_address = address_from_seed(self.seed, "someone-else")
        self.other_token = USDC_BASE if self.asset != USDC_BASE else USDC_BASE_SEPOLIA

    def requirements(self, kind: str, **kw) -> dict:
        if kind == "upto":
            return upto_requirements(self.network, self.asset, self.pay_to, self.amount, self.facilitator, **kw)
        return exact_requirements(self.network, self.asset, self.pay_to, self.amount, **kw)

    def nonce(self, label: str = "main") -> int:
        return nonce_from_seed(self.seed, label)

    def sign(self, kind: str, req: dict | None = None, *, account=None, label: str = "main", **kw) -> dict:
        req = req or self.requirements(kind)
        kw.setdefault("deadline", self.now + 300)
        kw.setdefault("valid_after", self.now - 600)
        return sign_payment(account or self.payer, req, nonce=kw.pop("nonce", self.nonce(label)), kind=kind, **kw)


@dataclass
class Case:
    """One payload/requirements pair; `chain` overrides the SDK stand-in's chain state
    (tools/x402_permit2_sdk.py make_chain)."""
    kind: str
    name: str
    payload: dict
    requirements: dict
    chain: dict = field(default_factory=dict)
    note: str = ""


def _mutate(p: dict, fn: Callable[[dict], None]) -> dict:
    q = copy.deepcopy(p)
    fn(q)
    return q


def with_signature(p: dict, sig_hex: str | None) -> dict:
    def f(q):
        if sig_hex is None:
            q["payload"].pop("signature", None)
        else:
            q["payload"]["signature"] = sig_hex
    return _mutate(p, f)


def with_auth(p: dict, path: str, value: Any) -> dict:
    """Change (value) or delete (value is ...) one permit2Authorization field after signing,
    e.g. path "witness.to", "nonce"."""
    def f(q):
        node = q["payload"]["permit2Authorization"]
        *parents, leaf = path.split(".")
        for k in parents:
            node = node[k]
        if value is ...:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return _mutate(p, f)


def cases(kind: str, fx: Fixture | None = None) -> list[Case]:
    """The valid payment and each single fault for `kind` ("exact" = exact+permit2, or "upto")."""
    fx = fx or Fixture()
    req = fx.requirements(kind)
    now, price = fx.now, fx.amount
    good = fx.sign(kind)
    sig = bytes.fromhex(good["payload"]["signature"][2:])
    other_proxy = UPTO_PROXY if kind == "exact" else EXACT_PROXY
    other_network = "eip155:8453" if fx.network != "eip155:8453" else "eip155:84532"
    out: list[Case] = []

    def add(name, payload, requirements=None, chain=None, note=""):
        out.append(Case(kind, name, payload, requirements or req, dict(chain or {}), note))

    add("valid", good)
    add("valid, validAfter 0 (as the SDK client signs), deadline now+300", fx.sign(kind, valid_after=0, label="va0"))
    # time window (the SDK: deadline >= now + 6, validAfter <= now)
    add("deadline = now + 6 (edge)", fx.sign(kind, deadline=now + 6, label="d6"))
    add("deadline = now + 5", fx.sign(kind, deadline=now + 5, label="d5"))
    add("deadline = now (expired)", fx.sign(kind, deadline=now, label="d0"))
    add("validAfter = now (edge)", fx.sign(kind, valid_after=now, label="vanow"))
    add("validAfter = now + 1 (not yet valid)", fx.sign(kind, valid_after=now + 1, label="va1"))
    # recipient
    add("recipient: requirements payTo differs", good, {**req, "payTo": fx.other_address})
    add("recipient: signed to another address", fx.sign(kind, to=fx.other_address, label="to"))
    # amount
    add("amount: signed price - 1", fx.sign(kind, amount=price - 1, label="am-"))
    add("amount: signed price + 1 (over the requirements' amount)", fx.sign(kind, amount=price + 1, label="am+"))
    add("amount: requirements ask price + 1 (over the signed ceiling)", good, {**req, "amount": str(price + 1)})
    # token, spender, network, domain
    add("token: signed another token", fx.sign(kind, token=fx.other_token, label="tok"))
    add("token: requirements name another asset", good, {**req, "asset": fx.other_token})
    add("spender: the other x402 proxy", fx.sign(kind, spender=other_proxy, label="sp1"))
    add("spender: Permit2 itself", fx.sign(kind, spender=PERMIT2_ADDRESS, label="sp2"))
    add("spender: the facilitator", fx.sign(kind, spender=fx.facilitator, label="sp3"))
    add("network: requirements on another network", good, {**req, "network": other_network})
    add("network: accepted on another network", _mutate(good, lambda q: q["accepted"].update(network=other_network)),
        note="routed by accepted.network; requirements keep the signed one")
    add("domain: signed for another chainId", fx.sign(kind, sign_chain=1, label="chain"))
    add("domain: signed under another verifyingContract",
        fx.sign(kind, verifying_contract=fx.other_address, label="vc"))
    # signature
    forged = fx.sign(kind, account=fx.other, label="forged")
    forged = with_auth(forged, "from", fx.payer.address)
    add("signature: another key signed (from = payer)", forged)
    add("signature: nonce changed after signing", with_auth(good, "nonce", str(fx.nonce() ^ 1)))
    add("signature: deadline changed after signing", with_auth(good, "deadline", str(now + 301)))
    add("signature: empty string", with_signature(good, ""))
    add("signature: missing", with_signature(good, None))
    add("signature: not hex", with_signature(good, "0xzz" + good["payload"]["signature"][4:]))
    add("signature: 64 bytes (r||s, truncated)", with_signature(good, "0x" + sig[:64].hex()))
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    compact = (s | ((v - 27) << 255)).to_bytes(32, "big")
    add("signature: EIP-2098 compact (64 bytes, Permit2 accepts it)", with_signature(good, "0x" + (r + compact).hex()))
    add("signature: 66 bytes", with_signature(good, "0x" + (sig + b"\x00").hex()))
    add("signature: v as 0/1", with_signature(good, "0x" + (sig[:64] + bytes([v - 27])).hex()))
    add("signature: v = 29", with_signature(good, "0x" + (sig[:64] + bytes([29])).hex()))
    add("signature: high s (malleated twin)",
        with_signature(good, "0x" + (r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])).hex()))
    # encodings the SDK parses with Python int()
    add("nonce as 0x-hex string (the spec's example form)", with_auth(good, "nonce", hex(fx.nonce())))
    add("nonce = 2**256 (out of uint256)", fx_sign_raw(fx, kind, req, nonce_str=str(2**256)))
    add("amount with underscores '10_000' (Python int() accepts it)", with_auth(good, "permitted.amount",
                                                                                 f"{price:_}"))
    add("deadline not a number", with_auth(good, "deadline", "soon"))
    add("lower-case addresses in the payload", _mutate(good, _lowercase_addresses))
    # missing fields
    add("missing permit2Authorization.from", with_auth(good, "from", ...))
    add("missing permit2Authorization.spender", with_auth(good, "spender", ...))
    add("missing permit2Authorization.nonce", with_auth(good, "nonce", ...))
    add("missing permit2Authorization.witness", with_auth(good, "witness", ...))
    add("missing witness.validAfter", with_auth(good, "witness.validAfter", ...))
    # what the proxy refuses on chain
    zero = {**req, "amount": "0"}
    add("amount 0 (requirements and permit)", fx.sign(kind, zero, label="zero"), zero)
    zero_pay = {**req, "payTo": "0x" + "00" * 20}
    add("payTo is the zero address", fx.sign(kind, zero_pay, label="zpay"), zero_pay)
    # the accepted copy of the requirements
    add("accepted differs from requirements (amount, payTo, asset)",
        _mutate(good, lambda q: q["accepted"].update(amount="1", payTo=fx.other_address, asset=fx.other_token)))
    # requirements' extra
    ex = {k: v for k, v in req["extra"].items() if k != "assetTransferMethod"}
    add("requirements without extra.assetTransferMethod", good, {**req, "extra": ex})
    add("requirements without extra.name/version (Permit2 has no token domain)", good,
        {**req, "extra": {k: v for k, v in req["extra"].items() if k not in ("name", "version")}})
    # extensions the facilitator ignores
    add("payment-identifier extension (valid id)",
        _mutate(good, lambda q: q.update(extensions=payment_identifier_extension("pay_0123456789abcdef"))))
    add("payment-identifier extension (invalid id 'short')",
        _mutate(good, lambda q: q.update(extensions=payment_identifier_extension("short"))))
    # chain state
    add("chain: no Permit2 allowance", good, chain={"allowance": 0})
    add("chain: allowance = price - 1", good, chain={"allowance": price - 1})
    add("chain: balance = price - 1", good, chain={"balance": price - 1})
    add("chain: token has no code", good, chain={"token_code": False})
    add("chain: Permit2 nonce already used", good, chain={"used_nonces": [(fx.payer.address, fx.nonce())]})
    add("chain: x402 proxy not deployed", good, chain={"proxy_code": False})

    if kind == "upto":
        add("upto: witness.facilitator is another address", fx.sign(kind, facilitator=fx.other_address, label="fac"))
        add("upto: the facilitator's signer set lacks extra.facilitatorAddress", good,
            chain={"facilitator_addresses": [fx.other_address]})
        add("upto: missing witness.facilitator (then it is no upto payload)",
            with_auth(good, "witness.facilitator", ...))
        add("upto: requirements scheme exact", good, {**req, "scheme": "exact"})
        exact_style = fx.sign("exact", fx.requirements("exact"), label="exact-as-upto")
        add("upto: an exact-permit2 payload sent as upto",
            _mutate(exact_style, lambda q: q.update(accepted=req)))
    else:
        upto_req = fx.requirements("upto")
        upto_style = fx.sign("upto", upto_req, label="upto-as-exact")
        add("exact: an upto payload (witness.facilitator) sent as exact",
            _mutate(upto_style, lambda q: q.update(accepted=req)))
        add("exact: requirements scheme 'upto'", good, {**req, "scheme": "upto"})
        add("exact: EIP-3009 domain name/version ignored (extra.name 'Wrong')", good,
            {**req, "extra": {**req["extra"], "name": "Wrong"}})
    return out


def fx_sign_raw(fx: Fixture, kind: str, req: dict, *, nonce_str: str) -> dict:
    """A payload whose nonce string does not fit a uint256; signed over nonce mod 2**256 (what a
    careless signer would hash), so only the encoding is at fault."""
    p = fx.sign(kind, nonce=int(nonce_str) % 2**256, label="raw")
    return with_auth(p, "nonce", nonce_str)


def _lowercase_addresses(q: dict) -> None:
    a = q["payload"]["permit2Authorization"]
    a["from"] = a["from"].lower()
    a["spender"] = a["spender"].lower()
    a["permitted"]["token"] = a["permitted"]["token"].lower()
    for k in ("to", "facilitator"):
        if k in a["witness"]:
            a["witness"][k] = a["witness"][k].lower()


def worked_vector(kind: str, fx: Fixture | None = None) -> dict:
    """One fully worked example: key, typed data, type strings and hashes, digest, signature, recovery."""
    fx = fx or Fixture()
    req = fx.requirements(kind)
    p = fx.sign(kind, valid_after=0, deadline=fx.now + 300)
    auth = p["payload"]["permit2Authorization"]
    td = typed_data(auth, chain_id(req["network"]), kind=kind)
    h = hashes(td)
    ts = type_strings(kind)
    return {"private_key": "0x" + fx.payer.key.hex().removeprefix("0x"), "address": fx.payer.address,
            "requirements": req, "payload": p, "typed_data": td, "type_strings": ts,
            "type_hashes": {k: "0x" + keccak(text=v).hex() for k, v in ts.items()},
            "domain_separator": "0x" + h["domain_separator"].hex(), "struct_hash": "0x" + h["struct_hash"].hex(),
            "digest": "0x" + h["digest"].hex(),
            "manual_digest": "0x" + manual_digest(auth, chain_id(req["network"]), kind).hex(),
            "signature": p["payload"]["signature"], "recovered": recover(td, p["payload"]["signature"])}


if __name__ == "__main__":
    import json
    for k in ("exact", "upto"):
        v = worked_vector(k)
        assert v["digest"] == v["manual_digest"] and v["recovered"] == v["address"], v
        print(json.dumps(v, indent=2, default=str))
