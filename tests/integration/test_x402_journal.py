"""The settlement journal: begin_settlement() before /settle, then
record_settlement() completes that row exactly once (settled, disputed or failed);
unreconciled() lists what was begun and never recorded; one authorization recorded under a
second transaction is disputed and never counted twice; the OKX guide's server flow end to end;
concurrent twins; a client killed between begin and record.

Payments are signed with eth-account (tools/x402_sign.py), the facilitator is a stand-in that
answers the way the guide's mock and the real facilitator answer."""
import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from pgcluster import FIXTURES, ROOT, as_operator, postgrest_request
from x402_sign import sign_payment

USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
COLS = ["id", "payer_address", "endpoint", "amount", "tx_hash", "chain", "status", "response_summary", "created_at",
        "network", "asset", "pay_to", "nonce", "dispute_reason", "payload", "requirements", "settlement",
        "failure_reason", "completed_at"]


def one(conn, sql, *args):
    return conn.execute(sql, args or None).fetchone()[0]


def req_v2(amount="1000"):
    return {"scheme": "exact", "network": "eip155:196", "amount": amount, "asset": USDG, "payTo": MERCHANT,
            "maxTimeoutSeconds": 300, "extra": {"name": "Global Dollar", "version": "1"}}


def tx(n):
    return "0x" + f"{n:064x}"


def answer(tx_hash, payer, success=True, **extra):
    """The facilitator's /settle answer, real-shaped: {success, transaction, network, payer}."""
    return {"success": success, "transaction": tx_hash, "network": "eip155:196", "payer": payer, **extra}


def row(conn, sql, *args):
    r = conn.execute(sql, args or None).fetchone()
    return dict(zip(COLS, r)) if r else None


def begin(conn, payload, req, endpoint="/api/joke"):
    with as_operator(conn):
        return row(conn, "SELECT * FROM x402.begin_settlement(%s::jsonb, %s::jsonb, %s)",
                   json.dumps(payload), json.dumps(req), endpoint)


def record(conn, payload, req, settle, endpoint="/api/joke"):
    with as_operator(conn):
        return row(conn, "SELECT * FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, %s)",
                   json.dumps(payload), json.dumps(req), json.dumps(settle), endpoint)


def ledger(conn):
    return [dict(zip(["status", "tx_hash", "nonce", "amount"], r)) for r in conn.execute(
        "SELECT status, tx_hash, nonce, amount FROM public.x402_payments ORDER BY created_at, id").fetchall()]


def totals(conn):
    return conn.execute("SELECT requests, settled, disputed, revenue::text, pending, failed FROM x402.stats()"
                        " WHERE endpoint IS NULL").fetchall()


@pytest.fixture
def jdb(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT x402.install_ledger()")
    return db


# -- 2. the intent journal --------------------------------------------------------------------------------------

def test_begin_then_record_completes_the_same_row_once(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        b = begin(c, pay, req)
        assert (b["status"], b["tx_hash"], b["payer_address"], b["amount"], b["endpoint"], b["completed_at"]) == \
            ("pending", None, acct.address, 1000, "/api/joke", None)
        assert b["nonce"] == pay["payload"]["authorization"]["nonce"] and b["network"] == "eip155:196"
        assert begin(c, pay, req)["id"] == b["id"]  # the app retried begin: the same intent
        assert one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'invalidReason'",
                   json.dumps(pay), json.dumps(req)) == "invalid_exact_evm_nonce_already_used"
        r = record(c, pay, req, answer(tx(1), acct.address))
        assert (r["id"], r["status"], r["tx_hash"]) == (b["id"], "settled", tx(1))
        assert r["completed_at"] is not None and r["created_at"] == b["created_at"]
        assert record(c, pay, req, answer(tx(1), acct.address))["id"] == b["id"]  # a retried record
        assert begin(c, pay, req)["status"] == "settled"  # already paid: begin says so, writes nothing
        assert ledger(c) == [{"status": "settled", "tx_hash": tx(1), "nonce": b["nonce"], "amount": 1000}]
        assert totals(c) == [(1, 1, 0, "1000", 0, 0)]


def test_record_without_begin_writes_the_row_as_before(cluster, jdb):
    acct = Account.create()
    req = req_v2("2500")
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        r = record(c, pay, req, answer(tx(2), acct.address))
        assert r["status"] == "settled" and r["amount"] == 2500
        assert ledger(c) == [{"status": "settled", "tx_hash": tx(2), "nonce": r["nonce"], "amount": 2500}]


def test_failed_settlement_marks_the_intent_failed_and_a_retry_is_a_new_row(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    first = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        b = begin(c, first, req)
        failed = record(c, first, req, {"success": False, "errorReason": "insufficient_funds", "transaction": "",
                                        "network": "eip155:196", "payer": acct.address})
        assert (failed["id"], failed["status"], failed["failure_reason"], failed["tx_hash"]) == \
            (b["id"], "failed", "insufficient_funds", None)
        # The nonce is unused on chain: verify_payment does not call it used.
        assert one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'invalidReason'",
                   json.dumps(first), json.dumps(req)) != "invalid_exact_evm_nonce_already_used"
        # The client retries with a new authorization: a new row, which settles.
        second = sign_payment(acct, req)
        b2 = begin(c, second, req)
        assert b2["id"] != b["id"] and b2["status"] == "pending"
        assert record(c, second, req, answer(tx(3), acct.address))["status"] == "settled"
        # The same authorization again after a failure: a new intent too (the failed row stays as history).
        b3 = begin(c, first, req)
        assert b3["id"] not in (b["id"], b2["id"]) and b3["status"] == "pending"
        assert [r["status"] for r in ledger(c)] == ["failed", "settled", "pending"]
        assert totals(c) == [(3, 1, 0, "1000", 1, 1)]
        # A failure answer with no intent is recorded too (and needs no transaction).
        third = sign_payment(acct, req)
        r = record(c, third, req, {"success": False, "errorReason": "invalid_exact_evm_payload_authorization_valid_before"})
        assert r["status"] == "failed" and r["failure_reason"] == "invalid_exact_evm_payload_authorization_valid_before"


# -- 3. nonce reuse -----------------------------------------------------------------------------------------------

def test_second_transaction_for_one_authorization_is_disputed_and_not_revenue(cluster, jdb):
    acct = Account.create()
    req = req_v2("7000")
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        first = record(c, pay, req, answer(tx(10), acct.address))
        second = record(c, pay, req, answer(tx(11), acct.address))
        assert (first["status"], second["status"]) == ("settled", "disputed")
        assert f"already recorded under transaction {tx(10)}" in second["dispute_reason"]
        assert record(c, pay, req, answer(tx(11), acct.address))["id"] == second["id"]  # retried: same row
        assert totals(c) == [(2, 1, 1, "7000", 0, 0)]
        # With an intent in between: the intent is for the same authorization, which is settled.
        assert begin(c, pay, req)["id"] == first["id"]
        third = record(c, pay, req, answer(tx(12), acct.address))
        assert third["status"] == "disputed" and tx(10) in third["dispute_reason"]
        assert totals(c) == [(3, 1, 2, "7000", 0, 0)]


def test_conflicting_facts_for_one_transaction_change_nothing(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        record(c, pay, req, answer(tx(20), acct.address))
        before = ledger(c)
        other = sign_payment(acct, req)
        with pytest.raises(psycopg.errors.UniqueViolation, match=f"transaction {tx(20)} is already recorded"):
            record(c, other, req, answer(tx(20), acct.address))
        assert ledger(c) == before
        # The same payment reported failed after it settled: the answers contradict, so the row is
        # disputed, with both answers kept (never back to failed, never dropped).
        record(c, pay, req, {"success": False, "errorReason": "transaction_failed", "transaction": tx(20)})
        status, reason, answers = c.execute("SELECT status, dispute_reason, answers FROM public.x402_payments"
                                            " WHERE tx_hash = %s", (tx(20),)).fetchone()
        assert status == "disputed" and "then reported failed (transaction_failed)" in reason
        assert [a["answer"].get("success") for a in answers] == [True, False]


def test_bad_input_writes_nothing(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        bad_calls = [
            ("SELECT x402.begin_settlement('{}'::jsonb, %s::jsonb)", [json.dumps(req)], "paymentPayload.x402Version is missing"),
            ("SELECT x402.begin_settlement('[1]'::jsonb, %s::jsonb)", [json.dumps(req)], "payload must be a JSON object"),
            ("SELECT x402.begin_settlement(%s::jsonb, '{\"scheme\": \"exact\"}'::jsonb)", [json.dumps(pay)], "paymentRequirements.network is missing"),
            ("SELECT x402.begin_settlement(NULL, %s::jsonb)", [json.dumps(req)], "required"),
            ("SELECT x402.record_settlement(%s::jsonb, %s::jsonb, '{\"success\": true, \"transaction\": \"0x12\"}'::jsonb)",
             [json.dumps(pay), json.dumps(req)], "not a transaction hash"),
            ("SELECT x402.record_settlement('{}'::jsonb, %s::jsonb, '{\"success\": false}'::jsonb)", [json.dumps(req)],
             "no payer"),
        ]
        for sql, args, message in bad_calls:
            with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
                with as_operator(c):
                    c.execute(sql, args)
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SELECT * FROM x402.unreconciled(NULL)")
        assert ledger(c) == []
    with cluster.connect(jdb, user="authenticator") as conn:  # clients read, never write
        for role in ("anon", "authenticated"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with postgrest_request(conn, {"role": role, "sub": "user_1"}) as cur:
                    cur.execute("SELECT x402.begin_settlement(%s::jsonb, %s::jsonb)", (json.dumps(pay), json.dumps(req)))
        with postgrest_request(conn, {"role": "anon"}) as cur:  # reads no signed payload: clients may run it
            assert cur.execute("SELECT count(*) FROM x402.unreconciled()").fetchone() == (0,)


# -- reconciling ------------------------------------------------------------------------------------------------

def test_unreconciled_lists_what_to_look_up_and_the_advisor_warns(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    live = sign_payment(acct, req)
    expired = sign_payment(acct, req, valid_before=int(time.time()) - 60)
    with cluster.connect(jdb) as c:
        b_live, b_expired = begin(c, live, req), begin(c, expired, req)
        rows = c.execute("SELECT id, payer_address, nonce, settleable, look_up, explorer FROM x402.unreconciled('0 seconds')"
                         ).fetchall()
        assert [(r[0], r[3]) for r in rows] == [(b_live["id"], True), (b_expired["id"], False)]
        for (_, payer, nonce, settleable, look_up, explorer), b in zip(rows, (b_live, b_expired)):
            assert payer == acct.address and nonce == b["nonce"]
            assert f"authorizationState({acct.address}, {b['nonce']})" in look_up and USDG.lower() in look_up.lower()
            assert explorer == f"https://www.oklink.com/xlayer/address/{acct.address}"
        assert "no longer can" in rows[1][4] and "has not settled yet" in rows[0][4]
        assert c.execute("SELECT count(*) FROM x402.unreconciled('1 hour')").fetchone() == (0,)
        with as_operator(c):
            [f] = c.execute("SELECT level, detail, metadata FROM insforge.advise()"
                            " WHERE name = 'x402_unreconciled_settlements'").fetchall()
        assert f[0] == "WARN" and "1 stale pending settlement (1 past validBefore)" in f[1]
        assert f[2]["pending"] == 1
        # Reconciled: the facilitator's answer, looked up, is recorded; the warning goes.
        record(c, expired, req, {"success": False, "errorReason": "invalid_exact_evm_payload_authorization_valid_before"})
        assert c.execute("SELECT count(*) FROM insforge.advise() WHERE name = 'x402_unreconciled_settlements'"
                         ).fetchone() == (0,)  # the remaining pending one is fresh and can still settle
        assert [r[0] for r in c.execute("SELECT id FROM x402.unreconciled('0 seconds')").fetchall()] == [b_live["id"]]


# -- 4. the OKX guide's server flow, end to end ----------------------------------------------------------------------

def b64(value):
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


@pytest.mark.parametrize("facilitator", ["guide_mock", "real_shaped"])
def test_guide_flow_v1_xlayer(cluster, jdb, facilitator):
    """402 with PAYMENT-REQUIRED (v1, network eip155:196 in accepts), the client's X-PAYMENT,
    verify in SQL, begin, /settle (stand-in), record, PAYMENT-RESPONSE."""
    acct = Account.create()
    accepts = {"scheme": "exact", "network": "eip155:196", "maxAmountRequired": "1000", "resource":
               "https://api.example.com/api/joke", "description": "A joke", "mimeType": "application/json",
               "payTo": MERCHANT, "maxTimeoutSeconds": 300, "asset": USDG,
               "extra": {"name": "Global Dollar", "version": "1"}}
    payment_required = b64({"x402Version": 1, "accepts": [accepts], "error": "X-PAYMENT header is required"})
    x_payment = None
    with cluster.connect(jdb) as c:
        # The client reads the 402, signs, and retries with X-PAYMENT.
        offered = one(c, "SELECT x402.decode_header(%s)", payment_required)
        x_payment = b64(sign_payment(acct, offered["accepts"][0], version=1))
        # The server: decode, pick the requirements, verify before any network call.
        payload = one(c, "SELECT x402.decode_header(%s)", x_payment)
        assert payload["x402Version"] == 1 and payload["network"] == "eip155:196"
        verdict = one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb)", json.dumps(payload), json.dumps(accepts))
        assert verdict["isValid"] is True and verdict["payer"] == acct.address, verdict
        intent = begin(c, payload, accepts, "/api/joke")
        assert intent["status"] == "pending"
        # The facilitator settles (stand-in: the guide's mock answer, or the real facilitator's shape).
        settle = ({"success": True, "txHash": tx(99), "payer": acct.address} if facilitator == "guide_mock"
                  else answer(tx(99), acct.address))
        r = record(c, payload, accepts, settle, "/api/joke")
        assert (r["id"], r["status"], r["tx_hash"], r["amount"], r["chain"]) == \
            (intent["id"], "settled", tx(99), 1000, "xlayer")
        response = one(c, "SELECT x402.encode_header(%s::jsonb)", json.dumps(
            {"success": True, "transaction": r["tx_hash"], "network": r["network"], "payer": r["payer_address"]}))
        assert json.loads(base64.b64decode(response))["transaction"] == tx(99)
        assert totals(c) == [(1, 1, 0, "1000", 0, 0)]
        # The same X-PAYMENT replayed: verify refuses it before any network call.
        assert one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'invalidReason'",
                   json.dumps(payload), json.dumps(accepts)) == "invalid_exact_evm_nonce_already_used"


# -- 5. concurrency and a client killed between begin and record -------------------------------------------------------

@pytest.mark.parametrize("calls", [("begin", "begin"), ("record", "record"), ("begin", "record"),
                                   ("record_other_tx", "record")])
def test_concurrent_twins_end_in_one_row(cluster, jdb, calls):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(kind):
        try:
            with cluster.connect(jdb) as c:
                barrier.wait()
                if kind == "begin":
                    results.append(begin(c, pay, req)["status"])
                else:
                    results.append(record(c, pay, req, answer(tx(31 if kind == "record_other_tx" else 30),
                                                              acct.address))["status"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with cluster.connect(jdb) as c:
        rows = ledger(c)
    if calls == ("record_other_tx", "record"):  # two transactions for one authorization: one settled, one disputed
        assert sorted(r["status"] for r in rows) == ["disputed", "settled"]
    else:
        assert len(rows) == 1, rows
        assert rows[0]["status"] == ("pending" if calls == ("begin", "begin") else "settled")


KILLED_CLIENT = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {tools!r})
    import psycopg
    from pgcluster import as_operator
    conn = psycopg.connect({conninfo!r}, autocommit=True)
    with as_operator(conn):
        conn.execute("SELECT * FROM x402.begin_settlement(%s::jsonb, %s::jsonb, '/api/joke')", ({payload!r}, {req!r}))
    print("begun", flush=True)
    time.sleep(600)  # /settle would be here; the process is killed first
""")


def test_client_killed_between_begin_and_record(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    code = KILLED_CLIENT.format(tools=str(ROOT / "tools"), conninfo=cluster.conninfo(jdb), payload=json.dumps(pay),
                                req=json.dumps(req))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "begun"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with cluster.connect(jdb) as c:
        assert [r["status"] for r in ledger(c)] == ["pending"]
        [(nonce,)] = c.execute("SELECT nonce FROM x402.unreconciled('0 seconds')").fetchall()
        assert nonce == pay["payload"]["authorization"]["nonce"]
        # Later the app (or an operator reconciling) records the facilitator's answer: the same row completes.
        r = record(c, pay, req, answer(tx(40), acct.address))
        assert r["status"] == "settled" and [x["status"] for x in ledger(c)] == ["settled"]
        assert c.execute("SELECT count(*) FROM x402.unreconciled('0 seconds')").fetchone() == (0,)


def test_realtime_publishes_each_payment_once(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    with cluster.connect(jdb) as c:
        c.execute((FIXTURES / "realtime.sql").read_text())  # InsForge's realtime schema, a stand-in
        with as_operator(c):
            c.execute("SELECT x402.enable_realtime()")
        a, b, f = sign_payment(acct, req), sign_payment(acct, req), sign_payment(acct, req)
        begin(c, a, req)                                    # pending: not a payment yet
        record(c, a, req, answer(tx(50), acct.address))     # completed: published
        record(c, b, req, answer(tx(51), acct.address))     # recorded without an intent: published
        record(c, b, req, answer(tx(51), acct.address))     # a retry: not again
        begin(c, f, req)
        record(c, f, req, {"success": False, "errorReason": "insufficient_funds"})  # failed: not a payment
        events = c.execute("SELECT event, payload -> 'new' ->> 'tx_hash', payload -> 'new' ->> 'status'"
                           " FROM realtime.published ORDER BY 2").fetchall()
        assert events == [("INSERT_x402_payments", tx(50), "settled"), ("INSERT_x402_payments", tx(51), "settled")]


# -- 6. the common case in one statement ------------------------------------------------------------------
# record_settlement writes a settlement that agrees and is new for the ledger with one INSERT (src/sql_x402.rs);
# every other case goes to x402._record_settlement. These pin what the one statement must leave to it.

def test_one_statement_row_is_the_ledger_row(cluster, jdb):
    acct = Account.create()
    req = req_v2("4200")
    pay = sign_payment(acct, req)
    settle = answer(tx(60), acct.address)
    with cluster.connect(jdb) as c:
        with as_operator(c):
            r = row(c, "SELECT * FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/api/joke', 'ok')",
                    json.dumps(pay), json.dumps(req), json.dumps(settle))
        stored = row(c, "SELECT " + ", ".join(COLS) + " FROM public.x402_payments")
        assert r == stored
        assert (r["status"], r["payer_address"], r["amount"], r["tx_hash"], r["chain"], r["network"], r["asset"],
                r["pay_to"], r["nonce"], r["endpoint"], r["response_summary"], r["dispute_reason"],
                r["failure_reason"]) == \
            ("settled", acct.address, 4200, tx(60), "xlayer", "eip155:196", to_checksum_address(USDG), MERCHANT,
             pay["payload"]["authorization"]["nonce"], "/api/joke", "ok", None, None)
        assert (r["payload"], r["requirements"], r["settlement"]) == (pay, req, settle)
        assert r["completed_at"] is not None
        # begin_settlement's one statement, likewise: the pending row it wrote, column by column.
        intent = sign_payment(acct, req)
        b = begin(c, intent, req, endpoint="/api/begin")
        assert b == row(c, "SELECT " + ", ".join(COLS) + " FROM public.x402_payments WHERE status = 'pending'")
        assert (b["status"], b["tx_hash"], b["amount"], b["endpoint"], b["payload"], b["requirements"], b["settlement"],
                b["completed_at"]) == ("pending", None, 4200, "/api/begin", intent, req, None, None)


def test_authorization_disputed_first_keeps_a_later_transaction_disputed(cluster, jdb):
    # Money moved under tx 61 but the answer names another network: disputed. A second transaction for the same
    # authorization that agrees in every other way is disputed too (on chain only one of them used it), never settled.
    acct = Account.create()
    req = req_v2("3000")
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        first = record(c, pay, req, answer(tx(61), acct.address, network="eip155:1"))
        assert first["status"] == "disputed" and "settlement.network eip155:1" in first["dispute_reason"]
        second = record(c, pay, req, answer(tx(62), acct.address))
        assert second["status"] == "disputed"
        assert f"already recorded under transaction {tx(61)}" in second["dispute_reason"]
        assert totals(c) == [(2, 0, 2, "0", 0, 0)]


def test_ledger_made_again_in_the_same_session(cluster, jdb):
    # The statement is prepared once per backend and kept: a ledger dropped and made again (here by the guide's
    # SQL, columns in another order and other text types, then upgraded by install_ledger) is planned again,
    # and the row still comes back column by column.
    acct = Account.create()
    req = req_v2("1500")
    with cluster.connect(jdb) as c:
        assert record(c, sign_payment(acct, req), req, answer(tx(63), acct.address))["status"] == "settled"
        with as_operator(c):
            c.execute("DROP TABLE public.x402_payments")
            c.execute("""CREATE TABLE public.x402_payments (
                created_at timestamptz DEFAULT now(), tx_hash varchar(66), status varchar(20) DEFAULT 'settled',
                amount text NOT NULL, endpoint varchar(200), payer_address varchar(42) NOT NULL,
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(), chain text DEFAULT 'xlayer', response_summary text)""")
            c.execute("SELECT x402.install_ledger()")
        pay = sign_payment(acct, req)
        r = record(c, pay, req, answer(tx(64), acct.address), endpoint="/again")
        assert (r["status"], r["tx_hash"], r["amount"], r["endpoint"], r["payer_address"], r["nonce"]) == \
            ("settled", tx(64), 1500, "/again", acct.address, pay["payload"]["authorization"]["nonce"])
        assert r == row(c, "SELECT " + ", ".join(COLS) + " FROM public.x402_payments")


def test_extension_made_again_in_the_same_session(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    with cluster.connect(jdb) as c:
        assert record(c, sign_payment(acct, req), req, answer(tx(65), acct.address))["status"] == "settled"
        with as_operator(c):
            c.execute("DROP EXTENSION insforge_integrations")
            c.execute("CREATE EXTENSION insforge_integrations")
        pay = sign_payment(acct, req)
        assert record(c, pay, req, answer(tx(66), acct.address))["status"] == "settled"
        assert record(c, pay, req, answer(tx(67), acct.address))["status"] == "disputed"  # the other path, made again
        intent = sign_payment(acct, req)
        assert begin(c, intent, req)["status"] == "pending"
        assert begin(c, intent, req)["status"] == "pending"  # a retried begin: x402._begin_settlement, made again
        assert [r["status"] for r in ledger(c)] == ["settled", "settled", "disputed", "pending"]


def test_kept_plans_never_scan_the_ledger(cluster, jdb):
    # The plans are made once per session, here while the ledger is empty and analyzed (the planner then prefers
    # a sequential scan), and used after it has grown: every lookup of record_settlement, begin_settlement and
    # verify_payment's nonce check must still go through an index.
    acct = Account.create()
    req = req_v2()
    first, second, intent = sign_payment(acct, req), sign_payment(acct, req), sign_payment(acct, req)

    def verify(c):
        return one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'isValid'", json.dumps(second),
                   json.dumps(req))
    with cluster.connect(jdb) as c:
        record(c, first, req, answer(tx(70), acct.address))
        c.execute("ALTER TABLE public.x402_payments SET (autovacuum_enabled = false)")  # no re-plan behind our back
        c.execute("ANALYZE public.x402_payments")
        # Past Postgres's five custom plans, so that each statement has its generic plan, kept from now on:
        begin(c, intent, req)
        for n in range(6):
            record(c, sign_payment(acct, req), req, answer(tx(700 + n), acct.address))  # the one-statement path
            record(c, first, req, answer(tx(710 + n), acct.address))  # the general path's statements
            assert begin(c, intent, req)["status"] == "pending"  # a retried begin: its lookup by authorization
            assert verify(c) == "true"  # the nonce check (x402._nonce_recorded)
        c.execute("INSERT INTO public.x402_payments (payer_address, amount, tx_hash, status, network, asset, pay_to,"
                  " nonce) SELECT %s, 1, '0x' || lpad(to_hex(g), 64, '0'), 'settled', 'eip155:196', %s, %s,"
                  " '0x' || md5(g::text) || md5(g::text) FROM generate_series(1000, 21000) g",
                  (acct.address, USDG, MERCHANT))
        plans = []
        c.add_notice_handler(lambda d: plans.append(d.message_primary))
        c.execute("LOAD 'auto_explain'")
        c.execute("SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;"
                  " SET auto_explain.log_level = notice; SET client_min_messages = notice")
        assert begin(c, intent, req)["status"] == "pending"
        assert verify(c) == "true"
        assert record(c, second, req, answer(tx(72), acct.address))["status"] == "settled"
        assert record(c, second, req, answer(tx(73), acct.address))["status"] == "disputed"
        scans = "\n".join(p for p in plans if "x402_payments" in p)
        assert "Index" in scans and "Insert on x402_payments" in scans, plans
        assert "lower(p_nonce)" in scans and "FOR UPDATE" in scans, scans  # the nonce check and the general path ran
        assert "Seq Scan on x402_payments" not in scans, scans
