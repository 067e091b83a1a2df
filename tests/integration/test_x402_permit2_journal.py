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


def charge(req, amount):
    """The requirements a server sends to /settle for an upto payment: the same, with the amount to
    charge (the SDK's settlement override; at most the signed ceiling)."""
    return {**req, "amount": str(amount)}


def test_upto_keeps_the_ceiling_and_counts_what_settled(cluster, jdb):
    acct = Account.create()
    req = upto(5000)
    pay = signed(acct, req, nonce=1)
    with cluster.connect(jdb) as c:
        assert verify(c, pay, req)["isValid"] is True  # verified against the ceiling
        begin(c, pay, charge(req, 3200))
        r = record(c, pay, charge(req, 3200), answer(tx(22), acct.address, amount="3200"))
        assert r["status"] == "settled"
        assert ledger_row(c, tx(22)) == ("settled", "upto", p2.PERMIT2_ADDRESS, "5000", "3200", None)
        assert revenue(c) == ("3200", "0")
        # the answer without its amount (a facilitator that does not echo it): the charge
        other = signed(acct, req, nonce=4)
        assert record(c, other, charge(req, 1200), answer(tx(29), acct.address))["status"] == "settled"
        assert ledger_row(c, tx(29))[4] == "1200"


def test_upto_above_the_ceiling_or_not_what_was_charged_is_disputed(cluster, jdb):
    acct = Account.create()
    req = upto(5000)
    above, other = signed(acct, req, nonce=2), signed(acct, req, nonce=3)
    with cluster.connect(jdb) as c:
        assert record(c, above, charge(req, 6000), answer(tx(23), acct.address, amount="6000"))["status"] == "disputed"
        why = ledger_row(c, tx(23))[5]
        assert "requirements.amount 6000 (the charge) is above the signed ceiling 5000" in why
        assert "settled 6000, above the authorized ceiling 5000" in why
        assert record(c, other, charge(req, 3000), answer(tx(24), acct.address, amount="3200"))["status"] == "disputed"
        assert "settled 3200, not the 3000 requirements.amount charges" in ledger_row(c, tx(24))[5]
        assert revenue(c) == ("0", "0")  # disputed money is not revenue


def test_an_upto_charge_of_zero_is_settled_for_nothing(cluster, jdb):
    """The SDK answers a charge of 0 with success, no transaction and amount 0: nothing moved. The row
    is settled for 0 (not a broadcast waiting for its hash), and a retry is the same row."""
    acct = Account.create()
    req = upto(5000)
    pay = signed(acct, req, nonce=5)
    zero = {"success": True, "transaction": "", "network": "eip155:196", "payer": acct.address, "amount": "0"}
    with cluster.connect(jdb) as c:
        begin(c, pay, charge(req, 0))
        r = record(c, pay, charge(req, 0), zero)
        assert (r["status"], r["tx_hash"]) == ("settled", None)
        assert ledger_row(c, None)[:5] == ("settled", "upto", p2.PERMIT2_ADDRESS, "5000", "0")
        assert record(c, pay, charge(req, 0), zero)["id"] == r["id"]
        assert one(c, "SELECT count(*) FROM x402.unreconciled('0 seconds')") == 0
        assert revenue(c) == ("0", "0")


def test_unreconciled_names_permit2s_nonce_bitmap(cluster, jdb):
    acct = Account.create()
    req = exact()
    pay = signed(acct, req, nonce=0x1234)
    with cluster.connect(jdb) as c:
        begin(c, pay, req)
        [look] = c.execute("SELECT look_up FROM x402.unreconciled('0 seconds')").fetchone()
        assert look.startswith(f"nonceBitmap({acct.address}, 0x{'0' * 60}12) on Permit2 {p2.PERMIT2_ADDRESS}"
                               " (eip155:196), bit 52: a set bit means the authorization was used"), look


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
