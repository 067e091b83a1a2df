"""The settlement journal for Permit2 payments (exact through Permit2, and upto): the ledger keys
them in Permit2's nonce space (one space per owner across tokens), keeps an upto payment's signed
ceiling and the amount the facilitator settled, counts the settled amount as revenue, and disputes
a settlement above the ceiling or a second use of one Permit2 nonce. Payloads are signed by
tools/x402_permit2.py (eth-account), independently of the extension."""
import json
import time

from eth_account import Account
from pgcluster import as_operator
import x402_permit2 as p2
from x402_sign import sign_payment as sign_eip3009

from test_x402_journal import MERCHANT, USDG, answer, begin, jdb, one, record, req_v2, tx  # noqa: F401

USDT0 = "0x779Ded0c9e1022225f8E0630b35a9b54bE713736"
FACILITATOR = "0x0746345E28B45F23475b2f0283bB06bbDE5b695d"


def exact(amount=1000, asset=USDG):
    return p2.exact_requirements("eip155:196", asset, MERCHANT, amount, name="Global Dollar", version="1")


def upto(ceiling=5000):
    return p2.upto_requirements("eip155:196", USDG, MERCHANT, ceiling, FACILITATOR, name="Global Dollar", version="1")


def signed(acct, req, nonce):
    return p2.sign_payment(acct, req, nonce=nonce, deadline=int(time.time()) + 600)


def ledger_row(conn, tx_hash=None):
    return conn.execute(
        "SELECT status, scheme, nonce_scope, amount::text, settled_amount::text, dispute_reason"
        "  FROM public.x402_payments WHERE tx_hash IS NOT DISTINCT FROM %s ORDER BY created_at DESC LIMIT 1",
        (tx_hash,)).fetchone()


def revenue(conn):
    return conn.execute("SELECT revenue::text, unconfirmed_revenue::text FROM x402.payment_stats()"
                        " WHERE endpoint IS NULL").fetchone()


def verify(conn, pay, req):
    return json.loads(json.dumps(conn.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb)",
                                              (json.dumps(pay), json.dumps(req))).fetchone()[0]))


def test_permit2_exact_is_keyed_in_permit2s_nonce_space(cluster, jdb):
    acct = Account.create()
    req = exact()
    pay = signed(acct, req, nonce=7)
    with cluster.connect(jdb) as c:
        assert verify(c, pay, req)["isValid"] is True
        b = begin(c, pay, req)
        assert b["status"] == "pending" and b["nonce"] == "0x" + "00" * 31 + "07"
        assert ledger_row(c) == ("pending", "exact", p2.PERMIT2_ADDRESS, "1000", None, None)
        # the begun nonce is used: verify_payment says so, as the chain would after settlement
        v = verify(c, pay, req)
        assert v["isValid"] is False and v["invalidReason"] == "permit2_invalid_nonce"
        r = record(c, pay, req, answer(tx(21), acct.address, status="pending"))
        assert (r["id"], r["status"]) == (b["id"], "broadcast")
        with as_operator(c):
            c.execute("SELECT x402.record_status(%s, '{\"status\": \"success\"}')", (tx(21),))
        assert ledger_row(c, tx(21)) == ("settled", "exact", p2.PERMIT2_ADDRESS, "1000", "1000", None)
        assert revenue(c) == ("1000", "0")


def test_upto_keeps_the_ceiling_and_counts_what_settled(cluster, jdb):
    acct = Account.create()
    req = upto(5000)
    pay = signed(acct, req, nonce=1)
    with cluster.connect(jdb) as c:
        assert verify(c, pay, req)["isValid"] is True
        begin(c, pay, req)
        r = record(c, pay, req, answer(tx(22), acct.address, amount="3200"))
        assert r["status"] == "settled"
        assert ledger_row(c, tx(22)) == ("settled", "upto", p2.PERMIT2_ADDRESS, "5000", "3200", None)
        assert revenue(c) == ("3200", "0")


def test_upto_settled_above_the_ceiling_or_without_an_amount_is_disputed(cluster, jdb):
    acct = Account.create()
    req = upto(5000)
    above, silent = signed(acct, req, nonce=2), signed(acct, req, nonce=3)
    with cluster.connect(jdb) as c:
        assert record(c, above, req, answer(tx(23), acct.address, amount="6000"))["status"] == "disputed"
        status, *_, why = ledger_row(c, tx(23))
        assert "settled 6000, above the authorized ceiling 5000" in why
        assert record(c, silent, req, answer(tx(24), acct.address))["status"] == "disputed"
        assert "does not say how much settled" in ledger_row(c, tx(24))[5]
        assert revenue(c) == ("0", "0")  # disputed money is not revenue


def test_one_permit2_nonce_across_tokens_is_one_authorization(cluster, jdb):
    """Permit2 nonces belong to the owner, not the token: the same nonce signed for USDG and for
    USD₮0 can settle only once on chain, so the second settlement is disputed, not revenue."""
    acct = Account.create()
    usdg, usdt0 = exact(asset=USDG), exact(asset=USDT0)
    first, second = signed(acct, usdg, nonce=9), signed(acct, usdt0, nonce=9)
    with cluster.connect(jdb) as c:
        assert record(c, first, usdg, answer(tx(25), acct.address))["status"] == "settled"
        r = record(c, second, usdt0, answer(tx(26), acct.address))
        assert r["status"] == "disputed" and "already recorded under transaction " + tx(25) in r["dispute_reason"]
        assert revenue(c) == ("1000", "0")


def test_eip3009_and_permit2_nonces_do_not_collide(cluster, jdb):
    """The same payer, token and nonce bytes under EIP-3009 (the token's nonce space) and Permit2
    (Permit2's): two authorizations, both settle."""
    acct = Account.create()
    req3009 = req_v2()
    pay3009 = sign_eip3009(acct, req3009)
    nonce = int(pay3009["payload"]["authorization"]["nonce"], 16)
    req = exact()
    pay = signed(acct, req, nonce=nonce)
    with cluster.connect(jdb) as c:
        assert record(c, pay3009, req3009, answer(tx(27), acct.address))["status"] == "settled"
        assert verify(c, pay, req)["isValid"] is True
        assert record(c, pay, req, answer(tx(28), acct.address))["status"] == "settled"
        assert one(c, "SELECT count(DISTINCT nonce_scope) FROM public.x402_payments WHERE nonce = %s",
                   pay3009["payload"]["authorization"]["nonce"].lower()) == 2
