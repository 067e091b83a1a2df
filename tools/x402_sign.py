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
