"""The x402 ledger on a Citus coordinator (docs/citus.md, "The ledger"): public.x402_payments
stays a local table of the coordinator, created and written by the operator's own calls, which
run as their caller; begin/record/unreconciled and exactly-once behave as on one node, also
with two sessions recording the same settlement at once, and the dashboard's clients read it
through PostgREST-shaped requests next to distributed tables."""
import json
import threading

import psycopg
import pytest
from eth_account import Account

from citus_helpers import one, request
from x402_sign import sign_payment

USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


def req(amount="1000"):
    return {"scheme": "exact", "network": "eip155:196", "amount": amount, "asset": USDG, "payTo": MERCHANT,
            "maxTimeoutSeconds": 300, "extra": {"name": "Global Dollar", "version": "1"}}


def tx(n):
    return "0x" + f"{n:064x}"


def answer(tx_hash, payer):
    return {"success": True, "transaction": tx_hash, "network": "eip155:196", "payer": payer}


@pytest.fixture(scope="module")
def ledger(citus):
    with citus.operator() as op:
        op.execute("SELECT x402.install_ledger()")
        assert one(op, "SELECT to_regclass('public.x402_payments')::text") is not None
    return "public.x402_payments"


def test_the_ledger_is_the_operators_local_table(citus, ledger):
    with citus.connect() as c:
        assert one(c, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.x402_payments'::regclass") \
            == "project_admin"
        assert one(c, "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'public.x402_payments'::regclass") == 0
        for w in citus.workers:
            with w.connect(citus.dbname) as wc:
                assert one(wc, "SELECT to_regclass('public.x402_payments')") is None
        # Every ledger function runs as its caller.
        definers = c.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'x402'::regnamespace"
            " AND p.prosecdef").fetchall()
        assert definers == []


def test_begin_record_unreconciled_exactly_once(citus, ledger):
    acct = Account.create()
    r = req()
    pay = sign_payment(acct, r)
    with citus.operator() as op:
        b = op.execute("SELECT id, status FROM x402.begin_settlement(%s::jsonb, %s::jsonb, '/api/joke')",
                       (json.dumps(pay), json.dumps(r))).fetchone()
        assert b[1] == "pending"
        assert op.execute("SELECT id FROM x402.unreconciled('0 seconds')").fetchall() == [(b[0],)]
        rec = op.execute("SELECT id, status, tx_hash FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/api/joke')",
                         (json.dumps(pay), json.dumps(r), json.dumps(answer(tx(1), acct.address)))).fetchone()
        assert rec == (b[0], "settled", tx(1))
        again = op.execute("SELECT id FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/api/joke')",
                           (json.dumps(pay), json.dumps(r), json.dumps(answer(tx(1), acct.address)))).fetchone()
        assert again == (b[0],)
        assert op.execute("SELECT count(*) FROM public.x402_payments WHERE tx_hash = %s", (tx(1),)).fetchone()[0] == 1
        assert op.execute("SELECT id FROM x402.unreconciled('0 seconds')").fetchall() == []
        # The same authorization under another transaction: disputed, never counted twice.
        other = op.execute("SELECT status FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/api/joke')",
                           (json.dumps(pay), json.dumps(r), json.dumps(answer(tx(2), acct.address)))).fetchone()
        assert other == ("disputed",)
        assert op.execute("SELECT count(*) FROM public.x402_payments WHERE payer_address = %s AND status = 'settled'",
                          (acct.address,)).fetchone()[0] == 1


def test_two_sessions_record_the_same_settlement_once(citus, ledger):
    acct = Account.create()
    r = req("2500")
    pay = sign_payment(acct, r)
    barrier = threading.Barrier(2)
    out, errors = [], []

    def worker():
        try:
            with citus.operator() as op:
                barrier.wait()
                out.append(op.execute(
                    "SELECT id, status FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/api/joke')",
                    (json.dumps(pay), json.dumps(r), json.dumps(answer(tx(3), acct.address)))).fetchone())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(out) == 2 and out[0] == out[1] and out[0][1] == "settled"
    with citus.connect() as c:
        assert one(c, "SELECT count(*) FROM public.x402_payments WHERE tx_hash = %s", tx(3)) == 1


def test_clients_read_the_ledger_beside_distributed_tables(citus, ledger, tables):
    with citus.connect() as conn:
        with request(conn, "user_03") as cur:
            assert cur.execute("SELECT count(*) > 0 FROM public.x402_payments").fetchone()[0] is True
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute("SELECT payload FROM public.x402_payments")
        with request(conn, "user_03") as cur:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute("SELECT x402.record_settlement('{}'::jsonb, '{}'::jsonb, '{}'::jsonb)")
        with request(conn, "user_03") as cur:  # a join of the local ledger with a distributed table
            n = cur.execute(f"SELECT count(*) FROM {tables['native']} n"
                            " JOIN (SELECT DISTINCT endpoint FROM public.x402_payments) p ON true").fetchone()[0]
            assert n == 4
