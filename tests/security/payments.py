"""Signed x402 payments for the attack tests (eth-account signs; see tools/x402_sign.py)."""
import json
import secrets

from eth_account import Account
from x402_sign import sign_payment

USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"


def payment(amount="1000"):
    """(payload, requirements, settlement) of a fresh, valid USDG payment on X Layer, as JSON text."""
    payer, merchant = Account.create(), Account.create()
    req = {"scheme": "exact", "network": "eip155:196", "asset": USDG, "payTo": merchant.address,
           "maxTimeoutSeconds": 300, "amount": amount, "extra": {"name": "Global Dollar", "version": "1"}}
    pay = sign_payment(payer, req)
    settle = {"success": True, "transaction": "0x" + secrets.token_hex(32), "network": "eip155:196",
              "payer": payer.address}
    return json.dumps(pay), json.dumps(req), json.dumps(settle)
