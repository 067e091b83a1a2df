"""Attack classes 5 and 6: clients reading what they must not. The ledger's signed payloads (a
pending or failed authorization could still be submitted on chain by whoever holds it) are not
readable by clients on any path; what a dashboard needs is. verify_payment's nonce check reads the
ledger with the caller's own privileges: a project that revokes ledger reads hides the nonces too."""
import json

import psycopg
import pytest
from attack import one
from payments import payment
from pgcluster import as_operator, postgrest_request

DASHBOARD = "id, payer_address, endpoint, amount, tx_hash, chain, status, created_at, network, asset, pay_to"


@pytest.fixture
def recorded(cluster, db):
    pending, settled = payment(), payment()
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT x402.install_ledger()")
            c.execute("SELECT x402.begin_settlement(%s, %s, '/joke')", pending[:2])
            c.execute("SELECT x402.record_settlement(%s, %s, %s, '/joke')", settled)
    return db, pending, settled


def test_clients_never_read_signatures(cluster, recorded):
    db, pending, _ = recorded
    with cluster.connect(db, user="authenticator") as conn:
        for role in ("anon", "authenticated"):
            for sql in ("SELECT payload FROM public.x402_payments", "SELECT * FROM public.x402_payments",
                        "SELECT x402_payments FROM public.x402_payments",
                        "SELECT to_jsonb(p) FROM public.x402_payments p"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with postgrest_request(conn, {"role": role, "sub": "u"}) as cur:
                        cur.execute(sql)
            with postgrest_request(conn, {"role": role, "sub": "u"}) as cur:
                rows = cur.execute(f"SELECT {DASHBOARD} FROM public.x402_payments ORDER BY status").fetchall()
                assert [r[6] for r in rows] == ["pending", "settled"]
                assert json.loads(pending[0])["payload"]["signature"] not in json.dumps(rows, default=str)
                assert cur.execute("SELECT sum(revenue) FROM x402.stats() WHERE endpoint IS NULL").fetchone()[0] == 1000
                # what to look up for the pending one: no signed payload needed, none shown
                rows = cur.execute("SELECT * FROM x402.unreconciled('0 seconds')").fetchall()
                assert len(rows) == 1 and json.loads(pending[0])["payload"]["signature"] not in json.dumps(rows, default=str)


def test_the_nonce_check_respects_the_ledgers_privileges(cluster, recorded):
    db, pending, _ = recorded
    with cluster.connect(db, user="authenticator") as conn:
        with postgrest_request(conn, {"role": "authenticated", "sub": "u"}) as cur:
            assert cur.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'invalidReason'",
                               pending[:2]).fetchone()[0] == "invalid_exact_evm_nonce_already_used"
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # internal: no one calls it by name
                cur.execute("SELECT x402._nonce_recorded('eip155:196', '0x00', '0x00', '0x00')")
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("REVOKE ALL ON public.x402_payments FROM authenticated")
    with cluster.connect(db, user="authenticator") as conn:
        with postgrest_request(conn, {"role": "authenticated", "sub": "u"}) as cur:
            # The caller may not read the ledger, so nothing is said about its nonces.
            assert cur.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'isValid'",
                               pending[:2]).fetchone()[0] == "true"
        with postgrest_request(conn, {"role": "anon"}) as cur:  # still granted: still told
            assert cur.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'invalidReason'",
                               pending[:2]).fetchone()[0] == "invalid_exact_evm_nonce_already_used"
