"""The demo's paid request, end to end (bash scripts/demo.sh): an API that sells a joke for
1 USDG with x402, its server running as project_admin (InsForge's service key), a client that
signs an EIP-3009 authorization with eth-account, and a local stand-in for OKX's facilitator
(tools/okx_standin.py) whose /settle answers "pending" right after broadcast, as OKX does by
default. The ledger follows the payment: pending (begun) -> broadcast -> settled once the status
answer confirms it; the same payment header again is refused; payment_stats() counts it once."""
from __future__ import annotations

import json

from eth_account import Account
from okx_standin import OkxStandIn, get, post
from pgcluster import as_operator
from x402_sdk_facilitator import Token
from x402_sign import sign_payment

USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
PAYER_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
REQUIREMENTS = {"scheme": "exact", "network": "eip155:196", "amount": "1000000", "asset": USDG, "payTo": MERCHANT,
                "maxTimeoutSeconds": 300, "extra": {"name": "Global Dollar", "version": "1"}}


def run(cluster, db: str = "demo") -> list[str]:
    failures: list[str] = []

    def check(ok, what):
        if not ok:
            failures.append(what)
            print(f"   !! FAILED: {what}")

    payer = Account.from_key(PAYER_KEY)
    print("\n== a paid request: GET /api/joke for 1 USDG on X Layer, settled by a stand-in for OKX's facilitator")
    token = Token(196, USDG, "Global Dollar", "1", balances={payer.address.lower(): 5_000_000})
    with OkxStandIn([token]) as okx, cluster.connect(db) as c:
        with as_operator(c):  # the server's SQL runs with the service key: project_admin
            required = {"x402Version": 2, "resource": {"url": "https://api.example.com/api/joke"},
                        "accepts": [REQUIREMENTS]}
            header = c.execute("SELECT x402.encode_header(%s::jsonb)", (json.dumps(required),)).fetchone()[0]
            print(f"   402 Payment Required; PAYMENT-REQUIRED: {header[:44]}...")
        payment = sign_payment(payer, REQUIREMENTS)
        with as_operator(c):
            x_payment = c.execute("SELECT x402.encode_header(%s::jsonb)", (json.dumps(payment),)).fetchone()[0]
        print(f"   the client signs 1 USDG to {MERCHANT[:10]}... and retries with PAYMENT-SIGNATURE: {x_payment[:32]}...")

        def serve(x_payment: str) -> str:
            with as_operator(c):
                decoded = c.execute("SELECT x402.decode_header(%s)", (x_payment,)).fetchone()[0]
                v = c.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb)",
                              (json.dumps(decoded), json.dumps(REQUIREMENTS))).fetchone()[0]
            print(f"   1. x402.verify_payment(): isValid={v['isValid']} {v['invalidReason'] or ''}".rstrip())
            if not v["isValid"]:
                return f"402 again ({v['invalidReason']})"
            fac = post(f"{okx.url}/api/v6/pay/x402/verify", {"paymentPayload": decoded, "paymentRequirements": REQUIREMENTS})
            print(f"      the facilitator's /verify agrees: isValid={fac['isValid']}")
            check(fac["isValid"], "the facilitator verifies the payment")
            with as_operator(c):
                row = c.execute("SELECT status, id FROM x402.begin_settlement(%s::jsonb, %s::jsonb, '/api/joke')",
                                (json.dumps(decoded), json.dumps(REQUIREMENTS))).fetchone()
            print(f"   2. x402.begin_settlement(): {row[0]} (committed before /settle)")
            if row[0] in ("broadcast", "settled"):
                return "200 (already paid: not settled again)"
            answer = post(f"{okx.url}/api/v6/pay/x402/settle", {"paymentPayload": decoded,
                                                                "paymentRequirements": REQUIREMENTS})
            print(f"   3. POST /settle answers: success={answer['success']} status={answer['status']!r}"
                  f" transaction={answer['transaction'][:18]}...")
            with as_operator(c):
                rec = c.execute("SELECT status, tx_hash FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb,"
                                " '/api/joke')", (json.dumps(decoded), json.dumps(REQUIREMENTS),
                                                  json.dumps(answer))).fetchone()
            print(f"   4. x402.record_settlement(): {rec[0]} (sent, not confirmed: not revenue yet)")
            check(rec[0] == "broadcast", "OKX's pending answer is recorded as broadcast")
            status = {"status": "pending"}
            while status.get("status") == "pending":
                status = get(f"{okx.url}/api/v6/pay/x402/settle/status?txHash={rec[1]}")
                with as_operator(c):
                    now = c.execute("SELECT status FROM x402.record_status(%s, %s::jsonb)",
                                    (rec[1], json.dumps(status))).fetchone()[0]
                print(f"   5. GET /settle/status: {status['status']!r} -> x402.record_status(): {now}")
            check(now == "settled", "the status answer settles the payment")
            return "200 OK: Why do programmers prefer dark mode? Because light attracts bugs."

        print(f"   -> {serve(x_payment)}")
        print("   the same PAYMENT-SIGNATURE again (a replay):")
        replay = serve(x_payment)
        print(f"   -> {replay}")
        check(replay.startswith("402") and "nonce_already_used" in replay, "a replayed payment is refused")
        with as_operator(c):
            stats = c.execute("SELECT requests, settled, broadcast, revenue_tokens, unconfirmed_revenue_tokens"
                              " FROM x402.payment_stats() WHERE endpoint IS NULL AND network = 'eip155:196'"
                              ).fetchone()
        print(f"   x402.payment_stats(): requests={stats[0]} settled={stats[1]} broadcast={stats[2]}"
              f" revenue={stats[3]} USDG (unconfirmed {stats[4]})")
        check(stats[:3] == (1, 1, 0) and str(stats[3]) == "1", "one payment, counted once, 1 USDG confirmed")
        check(token.balance_of(MERCHANT) == 1_000_000, "the merchant holds 1 USDG on the stand-in's chain")
        check(okx.calls.count("POST /api/v6/pay/x402/settle") == 1, "/settle was called once")
    return failures
