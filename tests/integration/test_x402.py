"""x402: header codecs, EIP-712/EIP-55, payer recovery checked against
eth-account (an independent implementation), facilitator-style verification,
and the exact-once settlement ledger."""
import base64
import json
import os
import subprocess

import psycopg
import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from pgcluster import FIXTURES, postgrest_request
from x402_sign import sign_payment

SPEC_REQ = {"scheme": "exact", "network": "eip155:84532", "amount": "10000",
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
            "extra": {"name": "USDC", "version": "2"}}
SPEC_AUTH = {"from": "0x857b06519E91e3A54538791bDbb0E22373e36b66", "to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
             "value": "10000", "validAfter": "1740672089", "validBefore": "1740672154",
             "nonce": "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}
SPEC_SIG = ("0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15"
            "092f9ecab05ded3d6293af148b571c")
SPEC_PAYLOAD = {"x402Version": 2, "accepted": SPEC_REQ, "payload": {"signature": SPEC_SIG, "authorization": SPEC_AUTH}}
USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
N = 115792089237316195423570985008687907852837564279074904382605163141518161494337  # secp256k1 order
TX = "0x" + "ab" * 32


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def j(v):
    return json.dumps(v)


def usdg_requirements(pay_to, amount="1000", version=2, name="Global Dollar"):
    req = {"scheme": "exact", "network": "eip155:196", "asset": USDG, "payTo": pay_to, "maxTimeoutSeconds": 300,
           "extra": {"name": name, "version": "1"}}
    if version == 2:
        req["amount"] = amount
    else:
        req.update({"maxAmountRequired": amount, "resource": "https://api.example.com/joke", "description": "a joke",
                    "mimeType": "application/json", "network": "xlayer"})
    return req


# -- codecs, addresses, EIP-712 ------------------------------------------------------------------------------

def test_header_codec(cluster, db):
    value = {"x402Version": 2, "accepts": [SPEC_REQ], "resource": {"url": "https://api.example.com/joke?é=1"}}
    raw = json.dumps(value, separators=(",", ":")).encode()
    variants = [base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
                base64.urlsafe_b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    with cluster.connect(db) as c:
        for v in variants:
            assert one(c, "select x402.decode_header(%s)", v) == value
        encoded = one(c, "select x402.encode_header(%s::jsonb)", j(value))
        assert json.loads(base64.b64decode(encoded)) == value
        assert one(c, "select x402.decode_header(x402.encode_header(%s::jsonb)) = %s::jsonb", j(value), j(value))
        for bad in ["%%%", base64.b64encode(b"[1,2]").decode(), base64.b64encode(b"42").decode(),
                    base64.b64encode(b"{nope").decode(), ""]:
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                c.execute("select x402.decode_header(%s)", (bad,))
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("select x402.encode_header('[1]'::jsonb)")


def test_domain_separator_and_checksums(cluster, db):
    with cluster.connect(db) as c:
        sep = one(c, "select encode(x402.domain_separator('Global Dollar', '1', 196, %s), 'hex')", USDG)
        assert sep == "415f0706e345fcaf25d5be24c4fd7830d0054fc5742c51a0db9319c759bd3743"
        assert len(one(c, "select x402.domain_separator('USDC', '2', 84532, %s)", SPEC_REQ["asset"])) == 32
        for addr in ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                     "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]:
            assert one(c, "select x402.checksum_address(%s)", addr.lower()) == addr
            assert one(c, "select x402.checksum_address(%s)", addr) == addr
        for bad in ["0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x12", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00",
                    "0xzzeb6053f3e94c9b9a09f33669435e7ef1beaed"]:
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                c.execute("select x402.checksum_address(%s)", (bad,))
        for bad_chain in ["-1", "1.5"]:
            with pytest.raises(psycopg.Error):
                c.execute(f"select x402.domain_separator('a', '1', {bad_chain}, %s)", (USDG,))


def test_recover_payer_spec_vector(cluster, db):
    with cluster.connect(db) as c:
        assert one(c, "select x402.recover_payer(%s::jsonb)", j(SPEC_PAYLOAD)) == SPEC_AUTH["from"]
        assert one(c, "select x402.recover_payer(%s::jsonb, %s::jsonb)", j(SPEC_PAYLOAD), j(SPEC_REQ)) == SPEC_AUTH["from"]
        other = {**SPEC_REQ, "extra": {"name": "USD Coin", "version": "2"}}
        got = one(c, "select x402.recover_payer(%s::jsonb, %s::jsonb)", j(SPEC_PAYLOAD), j(other))
        assert got != SPEC_AUTH["from"] and got.startswith("0x") and len(got) == 42
        # v as 0/1 instead of 27/28: the same signer.
        sig = bytes.fromhex(SPEC_SIG[2:])
        low_v = sig[:64] + bytes([sig[64] - 27])
        p = {**SPEC_PAYLOAD, "payload": {"signature": "0x" + low_v.hex(), "authorization": SPEC_AUTH}}
        assert one(c, "select x402.recover_payer(%s::jsonb)", j(p)) == SPEC_AUTH["from"]
        # The malleable twin (s' = n - s, v flipped) is refused.
        s = int.from_bytes(sig[32:64], "big")
        high = sig[:32] + (N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
        p = {**SPEC_PAYLOAD, "payload": {"signature": "0x" + high.hex(), "authorization": SPEC_AUTH}}
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="(?i)high-s|malleab"):
            c.execute("select x402.recover_payer(%s::jsonb)", (j(p),))


def test_recover_payer_matches_eth_account(cluster, db):
    """Random keys, domains and messages signed by eth-account: the extension recovers the same signer."""
    with cluster.connect(db) as c:
        for i in range(25):
            acct = Account.create()
            req = usdg_requirements("0x" + os.urandom(20).hex(), amount=str(int.from_bytes(os.urandom(8), "big")))
            if i % 2:
                req = {**SPEC_REQ, "payTo": req["payTo"], "amount": req["amount"]}
            payload = sign_payment(acct, req)
            assert one(c, "select x402.recover_payer(%s::jsonb)", j(payload)) == acct.address


# -- verify_payment -------------------------------------------------------------------------------------------

def verify(c, payload, req=None, at=None):
    if at is None:
        return one(c, "select x402.verify_payment(%s::jsonb, %s::jsonb)", j(payload), j(req) if req else None)
    return one(c, "select x402.verify_payment(%s::jsonb, %s::jsonb, to_timestamp(%s))", j(payload),
               j(req) if req else None, at)


def test_verify_payment_reason_codes(cluster, db):
    acct, merchant = Account.create(), Account.create().address
    req = usdg_requirements(merchant, "1000")
    good = sign_payment(acct, req, valid_after=1000, valid_before=2_000_000_000)
    with cluster.connect(db) as c:
        ok = verify(c, good, req, 1_500_000_000)
        assert ok == {"isValid": True, "invalidReason": None, "invalidMessage": None, "payer": acct.address}
        # The server's own requirements are required: the payload's `accepted` is the client's say.
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="needs the server's payment requirements"):
            verify(c, good, None, 1_500_000_000)
        # An x402Version or scheme the extension does not implement is an error, not a verdict.
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="x402Version is 7"):
            verify(c, {**good, "x402Version": 7}, req, 1_500_000_000)
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="scheme is \"deferred\""):
            verify(c, good, {**req, "scheme": "deferred"}, 1_500_000_000)
        cases = {
            "invalid_exact_evm_payload_authorization_valid_after": (good, req, 999),
            "invalid_exact_evm_payload_authorization_valid_before": (good, req, 2_000_000_000),
            "invalid_exact_evm_payload_recipient_mismatch": (good, {**req, "payTo": Account.create().address}, 1_500_000_000),
            "invalid_exact_evm_payload_authorization_value_mismatch": (good, {**req, "amount": "999"}, 1_500_000_000),
            "unsupported_scheme": (good, {**req, "scheme": "upto"}, 1_500_000_000),
            "network_mismatch": (good, {**req, "network": "eip155:8453"}, 1_500_000_000),
            "invalid_exact_evm_failed_to_get_network_config": (
                {**good, "accepted": {**req, "network": "eip155:x"}}, {**req, "network": "eip155:x"}, 1_500_000_000),
            "invalid_payment_requirements": (good, {k: v for k, v in req.items() if k != "asset"}, 1_500_000_000),
            "missing_eip712_domain": (good, {k: v for k, v in req.items() if k != "extra"}, 1_500_000_000),
            "invalid_x402_version": ({k: v for k, v in good.items() if k != "accepted"} | {"scheme": "exact"}, req,
                                     1_500_000_000),
            "invalid_payload": ({**good, "payload": {"signature": good["payload"]["signature"], "authorization": {
                **good["payload"]["authorization"], "nonce": "0x12"}}}, req, 1_500_000_000),
            "invalid_exact_evm_payload_signature": (
                {**good, "payload": {**good["payload"], "authorization": {**good["payload"]["authorization"],
                                                                         "from": Account.create().address}}},
                req, 1_500_000_000),
            # A signature that is not 65 bytes (the SDK: a smart wallet that has no code yet).
            "invalid_exact_evm_payload_undeployed_smart_wallet": (
                {**good, "payload": {"signature": "0x12", "authorization": good["payload"]["authorization"]}},
                req, 1_500_000_000),
            "invalid_exact_evm_failed_to_verify_signature": (
                {**good, "payload": {"signature": "0xzz", "authorization": good["payload"]["authorization"]}},
                req, 1_500_000_000),
            # The guide's "Invalid Authority": USDG with another EIP-712 name, caught from x402.assets.
            "invalid_exact_evm_payload_eip712_domain_mismatch": (
                sign_payment(acct, usdg_requirements(merchant, name="USDG")), usdg_requirements(merchant, name="USDG"),
                1_500_000_000),
        }
        for reason, (payload, r, at) in cases.items():
            got = verify(c, payload, r, at)
            assert (got["isValid"], got["invalidReason"]) == (False, reason), (reason, got)
            assert got["invalidMessage"]


def test_verify_payment_valid_before_margin(cluster, db):
    """validBefore must be at least 6 s ahead (the official SDK's margin); the fourth argument changes that."""
    acct, merchant = Account.create(), Account.create().address
    req = usdg_requirements(merchant, "1000")
    at = 1_700_000_000
    with cluster.connect(db) as c:
        def run(valid_before, margin=None):
            p = j(sign_payment(acct, req, valid_before=valid_before))
            if margin is None:
                return one(c, "select x402.verify_payment(%s::jsonb, %s::jsonb, to_timestamp(%s))", p, j(req), at)
            return one(c, "select x402.verify_payment(%s::jsonb, %s::jsonb, to_timestamp(%s), %s::interval)",
                       p, j(req), at, margin)

        assert [run(at + d)["isValid"] for d in (5, 6, 7)] == [False, True, True]
        soon = run(at + 5)
        assert soon["invalidReason"] == "invalid_exact_evm_payload_authorization_valid_before"
        assert "expires too soon" in soon["invalidMessage"] and soon["payer"] is None
        assert run(at + 5, "6 seconds") == soon
        # 1 second: the token contract's own rule (now < validBefore); 0 also accepts validBefore = now.
        assert [run(at + d, "1 second")["isValid"] for d in (0, 1)] == [False, True]
        assert run(at, "0")["isValid"] and not run(at - 1, "0")["isValid"]
        # Wider margins, fractions rounded up to whole seconds (validBefore is whole seconds).
        assert [run(at + d, "30 seconds")["isValid"] for d in (29, 30)] == [False, True]
        assert [run(at + d, "5.5 seconds")["isValid"] for d in (5, 6)] == [False, True]
        assert not run(at + 86_400, "1 mon")["isValid"] and run(at + 31 * 86_400, "1 mon")["isValid"]
        # Bad input: a negative margin (22023); NULL gives NULL like the other arguments.
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="valid_before_margin"):
            run(at + 60, "-1 second")
        assert one(c, "select x402.verify_payment(%s::jsonb, %s::jsonb, now(), NULL)",
                   j(sign_payment(acct, req)), j(req)) is None


def test_verify_payment_0_1_0_entry_point(cluster, db):
    """A database still at 0.1.0 (before ALTER EXTENSION ... UPDATE) calls the library's
    verify_payment_wrapper with three arguments; it must keep answering, with the default margin."""
    acct, merchant = Account.create(), Account.create().address
    req = usdg_requirements(merchant, "1000")
    at = 1_700_000_000
    with cluster.connect(db) as c:
        c.execute("create function public.verify_payment_0_1_0(payload jsonb, requirements jsonb default null,"
                  " at timestamptz default now()) returns jsonb stable parallel safe language c"
                  " as '$libdir/insforge_integrations', 'verify_payment_wrapper'")
        for valid_before, valid in ((at + 6, True), (at + 5, False)):
            p = j(sign_payment(acct, req, valid_before=valid_before))
            old = one(c, "select public.verify_payment_0_1_0(%s::jsonb, %s::jsonb, to_timestamp(%s))", p, j(req), at)
            assert old == verify(c, json.loads(p), req, at) and old["isValid"] is valid
        assert one(c, "select public.verify_payment_0_1_0(NULL)") is None


def test_verify_payment_v1_as_okx_sends_it(cluster, db):
    acct, merchant = Account.create(), Account.create().address
    req = usdg_requirements(merchant, "5000", version=1)
    with cluster.connect(db) as c:
        exact = sign_payment(acct, req, value=5000, version=1)
        assert verify(c, exact, req)["isValid"]
        # v1 pays exactly maxAmountRequired, as the official SDK's facilitator demands (the v1 specification
        # said "at least"): more and less are refused alike.
        for value in (6000, 4999):
            got = verify(c, sign_payment(acct, req, value=value, version=1), req)
            assert got["invalidReason"] == "invalid_exact_evm_payload_authorization_value_mismatch", value
        top = str(2**256 - 1)  # uint256, never through floats
        huge_req = {**req, "maxAmountRequired": top}
        assert verify(c, sign_payment(acct, huge_req, version=1), huge_req)["isValid"]
        assert verify(c, sign_payment(acct, huge_req, value=2**256 - 2, version=1), huge_req)["invalidReason"] == \
            "invalid_exact_evm_payload_authorization_value_mismatch"


# -- the ledger ----------------------------------------------------------------------------------------------

def settlement(tx=TX, payer=None, success=True, network="eip155:196"):
    s = {"success": success, "transaction": tx, "network": network}
    if payer:
        s["payer"] = payer
    return s


@pytest.fixture
def ledger_db(cluster, db):
    with cluster.connect(db) as c:
        assert one(c, "select x402.install_ledger()::text") == "x402_payments"
    return db


def record(c, payload, req, settle, endpoint="/api/joke"):
    return c.execute("select * from x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, %s)",
                     (j(payload), j(req), j(settle), endpoint)).fetchone()


def count(c):
    return one(c, "select count(*) from public.x402_payments")


def test_record_settlement_exactly_once(cluster, ledger_db):
    acct, merchant = Account.create(), Account.create().address
    req = usdg_requirements(merchant, "1000")
    pay = sign_payment(acct, req)
    with cluster.connect(ledger_db) as c:
        row = record(c, pay, req, settlement(TX.upper().replace("0X", "0x"), acct.address))
        assert row[4] == TX and row[6] == "settled" and row[3] == 1000 and row[1] == acct.address
        assert row[9:13] == ("eip155:196", to_checksum_address(USDG), merchant,
                             pay["payload"]["authorization"]["nonce"])
        # A retry returns the same row.
        assert record(c, pay, req, settlement(TX, acct.address))[0] == row[0]
        assert count(c) == 1
        # The same hash with other facts: 23505, nothing changed.
        other = sign_payment(acct, {**req, "amount": "2000"})
        with pytest.raises(psycopg.errors.UniqueViolation, match="already recorded with different facts"):
            record(c, other, {**req, "amount": "2000"}, settlement(TX, acct.address))
        assert count(c) == 1 and one(c, "select amount::text from public.x402_payments") == "1000"
        # Nonce now recorded: verify_payment says so.
        assert verify(c, pay, req)["invalidReason"] == "invalid_exact_evm_nonce_already_used"


def test_mismatches_are_recorded_as_disputed(cluster, ledger_db):
    acct, merchant = Account.create(), Account.create().address
    req = usdg_requirements(merchant, "1000")
    with cluster.connect(ledger_db) as c:
        cases = [
            (sign_payment(acct, req, value=900), req, settlement("0x" + "01" * 32), "not exactly the required 1000"),
            (sign_payment(acct, {**req, "payTo": Account.create().address}), req, settlement("0x" + "02" * 32),
             "differs from payTo"),
            (sign_payment(acct, req), req, settlement("0x" + "03" * 32, payer=Account.create().address),
             "settlement.payer"),
            (sign_payment(acct, req, domain_name="USD Coin"), req, settlement("0x" + "04" * 32), "signature recovers"),
        ]
        for payload, r, s, reason in cases:
            row = record(c, payload, r, s)
            assert row[6] == "disputed" and reason in row[13], (reason, row[13])
        # success = false is not a dispute: the facilitator did not settle (tests/integration/test_x402_journal.py).
        row = record(c, sign_payment(acct, req), req, settlement("0x" + "05" * 32, success=False))
        assert row[6] == "failed" and row[13] is None and row[17]
        assert count(c) == len(cases) + 1


def test_malformed_input_writes_nothing(cluster, ledger_db):
    acct = Account.create()
    req = usdg_requirements(Account.create().address)
    pay = sign_payment(acct, req)
    with cluster.connect(ledger_db) as c:
        for bad in ["nope", "0x1234", "0x" + "g" * 64, None]:
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="transaction hash"):
                record(c, pay, req, {"success": True, "transaction": bad})
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="JSON object"):
            c.execute("select x402.record_settlement('[1]', %s::jsonb, %s::jsonb)", (j(req), j(settlement())))
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="no payer"):
            record(c, {"x402Version": 2}, req, settlement())
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("select x402.record_settlement(NULL, %s::jsonb, %s::jsonb)", (j(req), j(settlement())))
        assert count(c) == 0


def test_ledger_privileges(cluster, ledger_db):
    acct = Account.create()
    req = usdg_requirements(Account.create().address)
    pay = sign_payment(acct, req)
    with cluster.connect(ledger_db, user="authenticator") as conn:
        for role in ("anon", "authenticated"):
            with postgrest_request(conn, {"role": role, "sub": "u"}) as cur:
                assert cur.execute("select count(*) from public.x402_payments").fetchone() == (0,)  # public read
            for sql in ["insert into public.x402_payments(payer_address, amount, tx_hash) values ('x', 1, '%s')" % TX,
                        "update public.x402_payments set amount = 0", "delete from public.x402_payments",
                        "select x402.record_settlement('{}', '{}', '{}')"]:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with postgrest_request(conn, {"role": role, "sub": "u"}) as cur:
                        cur.execute(sql)
        with postgrest_request(conn, {"role": "project_admin"}) as cur:  # the service key
            row = cur.execute("select * from x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)",
                              (j(pay), j(req), j(settlement()))).fetchone()
            assert row[6] == "settled"
    with cluster.connect(ledger_db) as c:
        conf = one(c, "select proconfig from pg_proc where oid = 'x402.record_settlement'::regproc")
        assert conf == ["search_path=pg_catalog, pg_temp", "enable_seqscan=off"]
        # It runs as its caller (SECURITY.md): the ledger's triggers never run with more rights.
        assert not one(c, "select prosecdef from pg_proc where oid = 'x402.record_settlement'::regproc")


def test_install_ledger_upgrades_guide_table_in_place(cluster, db):
    with cluster.connect(db) as c:
        c.execute("""create table public.x402_payments (
            id uuid primary key default gen_random_uuid(), payer_address text not null, endpoint text,
            amount text not null, tx_hash text, chain text default 'xlayer', status text default 'settled',
            response_summary text, created_at timestamptz default now())""")
        c.execute("alter table public.x402_payments enable row level security")
        c.execute("""create policy "Allow public read" on public.x402_payments for select using (true)""")
        c.execute("insert into public.x402_payments(payer_address, endpoint, amount, tx_hash) values"
                  " ('0xA', '/a', '1000', %s), ('0xB', '/b', '115792089237316195423570985008687907853269984665640564039457584007913129639935', %s)",
                  ("0x" + "AA" * 32, "0x" + "bb" * 32))
        ids = c.execute("select id from public.x402_payments order by id").fetchall()
        assert one(c, "select x402.install_ledger()::text") == "x402_payments"
        assert one(c, "select x402.install_ledger()::text") == "x402_payments"  # idempotent
        assert c.execute("select id from public.x402_payments order by id").fetchall() == ids
        assert one(c, "select format_type(atttypid, atttypmod) from pg_attribute where attrelid ="
                      " 'public.x402_payments'::regclass and attname = 'amount'") == "numeric(78,0)"
        assert one(c, "select max(amount)::text from public.x402_payments") == str(2**256 - 1)
        assert one(c, "select count(*) from public.x402_payments where tx_hash = lower(tx_hash)") == 2
        assert one(c, "select count(*) from pg_policy where polrelid = 'public.x402_payments'::regclass"
                      " and polcmd = 'r'") == 1  # the guide's read policy kept, none added
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute("insert into public.x402_payments(payer_address, amount, tx_hash) values ('x', 1, %s)",
                      ("0x" + "aa" * 32,))


@pytest.mark.parametrize("problem,sqlstate", [("duplicate", "23505"), ("fraction", "22023"), ("hash", "22023")])
def test_install_ledger_refuses_to_damage_rows(cluster, db, problem, sqlstate):
    with cluster.connect(db) as c:
        c.execute("create table public.x402_payments (id uuid primary key default gen_random_uuid(),"
                  " payer_address text, endpoint text, amount text, tx_hash text, chain text, status text,"
                  " response_summary text, created_at timestamptz default now())")
        rows = {"duplicate": [("1", "0x" + "aa" * 32), ("2", "0x" + "AA" * 32)], "fraction": [("1.5", "0x" + "aa" * 32)],
                "hash": [("1", "pending")]}[problem]
        for amount, tx in rows:
            c.execute("insert into public.x402_payments(payer_address, amount, tx_hash) values ('p', %s, %s)", (amount, tx))
        with pytest.raises(psycopg.Error) as err:
            c.execute("select x402.install_ledger()")
        assert err.value.sqlstate == sqlstate
        assert one(c, "select format_type(atttypid, atttypmod) from pg_attribute where attrelid ="
                      " 'public.x402_payments'::regclass and attname = 'amount'") == "text"
        assert one(c, "select count(*) from public.x402_payments") == len(rows)


def test_ledger_survives_drop_extension_and_dump_restore(cluster, ledger_db):
    acct = Account.create()
    req = usdg_requirements(Account.create().address)
    with cluster.connect(ledger_db) as c:
        for i in range(5):
            record(c, sign_payment(acct, req), req, settlement("0x%064x" % (i + 1)))
        c.execute("insert into x402.assets values ('eip155:1', '0x" + "cd" * 20 + "', 'Mine', '1', 18, 'MINE')")
        before = c.execute("select id, tx_hash, amount, status from public.x402_payments order by tx_hash").fetchall()
    dump = subprocess.run([str(cluster.bin / "pg_dump"), "-Fc", "-h", str(cluster.base), "-p", str(cluster.port),
                           "-U", "postgres", ledger_db], capture_output=True, check=True).stdout
    with cluster.connect() as c:
        c.execute('drop database if exists "restored" with (force)')
        c.execute('create database "restored" template template0')
    subprocess.run([str(cluster.bin / "pg_restore"), "-h", str(cluster.base), "-p", str(cluster.port), "-U", "postgres",
                    "-d", "restored", "--no-owner", "--exit-on-error"], input=dump, check=True, capture_output=True)
    with cluster.connect("restored") as c:
        assert c.execute("select id, tx_hash, amount, status from public.x402_payments order by tx_hash"
                         ).fetchall() == before
        assert one(c, "select count(*) from x402.assets") == 4  # built-ins once, plus the user's row
        record(c, sign_payment(acct, req), req, settlement("0x%064x" % 99))  # still works after restore
    with cluster.connect() as c:
        c.execute('drop database "restored" with (force)')
    with cluster.connect(ledger_db) as c:
        c.execute("drop extension insforge_integrations cascade")
        assert c.execute("select id, tx_hash, amount, status from public.x402_payments order by tx_hash"
                         ).fetchall() == before


def test_stats(cluster, ledger_db):
    acct = Account.create()
    with cluster.connect(ledger_db) as c:
        for i, (endpoint, amount) in enumerate([("/a", "1000"), ("/a", "2500"), ("/b", "500000")]):
            req = usdg_requirements(Account.create().address, amount)
            record(c, sign_payment(acct, req), req, settlement("0x%064x" % (i + 1)), endpoint)
        req = usdg_requirements(Account.create().address, "7")
        record(c, sign_payment(acct, req, value=6), req, settlement("0x%064x" % 9), "/b")  # disputed
        rows = c.execute("select endpoint, requests, settled, disputed, revenue::text, revenue_tokens::text, symbol"
                         " from x402.stats()").fetchall()
        assert rows == [(None, 4, 3, 1, "503500", "0.5035", "USDG"), ("/a", 2, 2, 0, "3500", "0.0035", "USDG"),
                        ("/b", 2, 1, 1, "500000", "0.5", "USDG")]
        assert c.execute("select requests from x402.stats(now() + interval '1 day')").fetchall() == []


def test_enable_realtime(cluster, ledger_db):
    acct = Account.create()
    req = usdg_requirements(Account.create().address)
    with cluster.connect(ledger_db) as c:
        with pytest.raises(psycopg.errors.UndefinedFunction, match="realtime.publish"):
            c.execute("select x402.enable_realtime()")
        # A stand-in for InsForge's realtime schema, recording what is published.
        c.execute((FIXTURES / "realtime.sql").read_text())
        assert "x402_payments" in one(c, "select x402.enable_realtime()")
        c.execute("select x402.enable_realtime()")  # idempotent
        pay = sign_payment(acct, req)
        row = record(c, pay, req, settlement())
        record(c, pay, req, settlement())  # a retry publishes nothing new
        sent = c.execute("select channel, event, payload -> 'new' ->> 'tx_hash', payload -> 'new' ->> 'id'"
                         " from realtime.published").fetchall()
        assert sent == [("x402_payments", "INSERT_x402_payments", TX, str(row[0]))]
        assert c.execute("select pattern from realtime.channels").fetchall() == [("x402_payments",)]


def test_null_arguments_give_null_not_internal_errors(cluster, db):
    with cluster.connect(db) as c:
        row = c.execute("select x402.recover_payer(NULL), x402.verify_payment(NULL, NULL),"
                        " x402.verify_payment(%s::jsonb, NULL, NULL), x402.decode_header(NULL),"
                        " x402.checksum_address(NULL)", (j(SPEC_PAYLOAD),)).fetchone()
        assert row == (None, None, None, None, None)
