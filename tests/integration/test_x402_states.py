"""How settlements really end: a payment moves through pending (begun) -> broadcast (sent, not
confirmed) -> settled (confirmed) or failed, or disputed, as the facilitators answer (OKX's default
`status: "pending"`, its /settle/status, its aggr_deferred; the official SDK's settlement_pending
then success); one hash settles once, a settled row never goes back, contradicting answers make a
row disputed with both kept; payment identifiers make begin and record idempotent; versions and
schemes the journal does not implement are refused and never written."""
import json

import psycopg
import pytest
from eth_account import Account
from pgcluster import FIXTURES, as_operator
from x402_sign import sign_payment

from test_x402_journal import answer, begin, jdb, ledger, one, record, req_v2, tx  # noqa: F401


def status(conn, tx_hash, status_answer):
    with as_operator(conn):
        return conn.execute("SELECT status, tx_hash, failure_reason, dispute_reason FROM x402.record_status(%s, %s::jsonb)",
                            (tx_hash, json.dumps(status_answer))).fetchone()


def stats(conn):
    return conn.execute("SELECT settled, broadcast, pending, failed, disputed, revenue::text, unconfirmed_revenue::text"
                        " FROM x402.payment_stats() WHERE endpoint IS NULL").fetchone()


def test_okx_pending_then_status(cluster, jdb):
    acct = Account.create()
    req = req_v2("2500")
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        c.execute((FIXTURES / "realtime.sql").read_text())  # InsForge's realtime schema, a stand-in
        with as_operator(c):
            c.execute("SELECT x402.enable_realtime()")
        assert begin(c, pay, req)["status"] == "pending"
        r = record(c, pay, req, answer(tx(1), acct.address, status="pending"))  # OKX, syncSettle false
        assert (r["status"], r["tx_hash"]) == ("broadcast", tx(1))
        assert stats(c) == (0, 1, 0, 0, 0, "0", "2500")
        assert one(c, "SELECT revenue FROM x402.stats() WHERE endpoint IS NULL") == 0  # 0.2.0's columns: confirmed only
        look = c.execute("SELECT look_up FROM x402.unreconciled('0 seconds')").fetchall()
        assert len(look) == 1 and f"/api/v6/pay/x402/settle/status?txHash={tx(1)}" in look[0][0]
        assert status(c, tx(1), {"success": True, "status": "pending"})[0] == "broadcast"  # still going
        assert status(c, tx(1), {"success": True, "status": "success"})[0] == "settled"
        assert stats(c) == (1, 0, 0, 0, 0, "2500", "0")
        assert status(c, tx(1), {"status": "pending"})[0] == "settled"  # a late answer never takes it back
        assert c.execute("SELECT x402.unreconciled('0 seconds')").fetchall() == []
        events = [e["new"]["status"] for (e,) in c.execute("SELECT payload FROM realtime.published")]
        assert events == ["broadcast", "settled"]


def test_the_sdks_settlement_pending_then_success(cluster, jdb):
    """SDK 2.25: the receipt wait failed after broadcast, so the facilitator answered success = false with
    settlement_pending and the hash; the resource server resent once and got success with the same hash."""
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        begin(c, pay, req)
        pending = {"success": False, "errorReason": "settlement_pending", "transaction": tx(2), "network": "eip155:196",
                   "payer": acct.address}
        assert record(c, pay, req, pending)["status"] == "broadcast"
        assert one(c, "SELECT count(*) FROM x402.unreconciled('0 seconds')") == 1
        done = record(c, pay, req, answer(tx(2), acct.address))
        assert (done["status"], done["tx_hash"]) == ("settled", tx(2))
        assert [r["status"] for r in ledger(c)] == ["settled"]
        assert record(c, pay, req, answer(tx(2), acct.address))["id"] == done["id"]  # a retry: the same row


def test_aggr_deferred_is_completed_when_its_hash_arrives(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        begin(c, pay, req)
        d = record(c, pay, req, {"success": True, "transaction": "", "network": "eip155:196", "payer": acct.address,
                                 "status": "success"})
        assert (d["status"], d["tx_hash"]) == ("broadcast", None)
        assert "later batched settlement" in one(c, "SELECT look_up FROM x402.unreconciled('0 seconds')")
        done = record(c, pay, req, answer(tx(3), acct.address, status="success"))
        assert (done["id"], done["status"], done["tx_hash"]) == (d["id"], "settled", tx(3))


def test_failures_and_contradictions(cluster, jdb):
    acct = Account.create()
    req = req_v2()
    first, second = sign_payment(acct, req), sign_payment(acct, req)
    with cluster.connect(jdb) as c:
        record(c, first, req, answer(tx(4), acct.address, status="pending"))
        s, h, failure, _ = status(c, tx(4), {"success": True, "status": "failed", "errorReason": "execution reverted"})
        assert (s, h, failure) == ("failed", tx(4), "execution reverted")  # terminal, with its hash
        assert stats(c)[3] == 1
        record(c, second, req, answer(tx(5), acct.address))
        s, _, _, why = status(c, tx(5), {"status": "0x0"})  # a receipt saying it failed, after it settled
        assert s == "disputed" and "recorded settled, then reported failed" in why
        answers = one(c, "SELECT answers FROM public.x402_payments WHERE tx_hash = %s", tx(5))
        assert [a["kind"] for a in answers] == ["settle", "status"]
        with pytest.raises(psycopg.errors.NoDataFound, match="no payment with transaction"):
            status(c, tx(6), {"status": "success"})
        for bad in ({"status": "mined"}, {"nothing": 1}, [1]):
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                status(c, tx(5), bad)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a transaction hash"):
            status(c, "0x12", {"status": "success"})


def test_payment_identifiers_make_begin_and_record_idempotent(cluster, jdb):
    acct = Account.create()
    req = req_v2()

    def with_id(pid):
        p = sign_payment(acct, req)
        p["extensions"] = {"payment-identifier": {"info": {"id": pid, "required": False}}}
        return p
    pay, other = with_id("order_0123456789abcdef"), with_id("order_0123456789abcdef")
    with cluster.connect(jdb) as c:
        b = begin(c, pay, req)
        assert begin(c, pay, req)["id"] == b["id"]
        before = ledger(c)
        with pytest.raises(psycopg.errors.UniqueViolation, match="payment identifier order_0123456789abcdef already names"):
            begin(c, other, req)
        with pytest.raises(psycopg.errors.UniqueViolation, match="already names another payment"):
            record(c, other, req, answer(tx(7), acct.address))
        assert ledger(c) == before
        assert record(c, pay, req, answer(tx(8), acct.address))["id"] == b["id"]
        assert one(c, "SELECT payment_id FROM public.x402_payments") == "order_0123456789abcdef"
        bad = with_id("short")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="payment-identifier"):
            begin(c, bad, req)


@pytest.mark.parametrize("change,field", [({"x402Version": 3}, "x402Version is 3"), ("scheme", "scheme")])
def test_what_is_not_implemented_is_refused_and_never_written(cluster, jdb, change, field):
    acct = Account.create()
    req = req_v2()
    pay = sign_payment(acct, req)
    if change == "scheme":
        req = {**req, "scheme": "deferred"}
        pay["accepted"] = req
    else:
        pay.update(change)
    with cluster.connect(jdb) as c:
        for call in (lambda: begin(c, pay, req), lambda: record(c, pay, req, answer(tx(9), acct.address))):
            with pytest.raises(psycopg.errors.FeatureNotSupported, match=field):
                call()
        assert ledger(c) == []


def test_end_to_end_against_a_stand_in_for_okx(cluster, jdb):
    """The demo's paid request (tools/demo_x402.py): verify in SQL and at the facilitator, begin,
    /settle answering pending, the status answers, settled, a replay refused, counted once; the
    facilitator is tools/okx_standin.py, whose verify is the official SDK's."""
    import demo_x402
    assert demo_x402.run(cluster, jdb) == []


def test_the_advisor_warns_of_broadcast_transactions_never_confirmed(cluster, jdb):
    acct = Account.create()
    req = req_v2("2500")
    pay = sign_payment(acct, req)

    def finding(c):
        with as_operator(c):
            return c.execute("SELECT detail, metadata FROM insforge.advise() WHERE name = 'x402_unreconciled_settlements'"
                             ).fetchall()
    with cluster.connect(jdb) as c:
        record(c, pay, req, answer(tx(31), acct.address, status="pending"))
        assert finding(c) == []  # just sent: X Layer confirms in seconds
        c.execute("UPDATE public.x402_payments SET created_at = now() - interval '11 minutes' WHERE tx_hash = %s", (tx(31),))
        [(detail, meta)] = finding(c)
        assert "0 stale pending settlements (0 past validBefore) and 1 broadcast transaction unconfirmed" in detail
        assert "2500 in unconfirmed revenue" in detail
        assert (meta["broadcast"], meta["pending"], meta["unconfirmed_revenue"]) == (1, 0, 2500)
        status(c, tx(31), {"success": True, "status": "success"})
        assert finding(c) == []
