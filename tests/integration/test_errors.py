"""The Errors table is true: every row of docs/errors.md is raised, with the cause the row
describes, by at least one call here, and every SQLSTATE raised here is a row of the table.

Each case is a function that must raise; `@case(SQLSTATE, match)` registers it, and the test
asserts the exact SQLSTATE and that the message (with its detail) matches `match`, so the error
comes from the cause the table names and not from somewhere else."""
import contextlib
import copy
import json
import re
import shutil
import subprocess

import psycopg
import pytest
from eth_account import Account
from pgcluster import FIXTURES, ROOT, Cluster, _as_postgres, as_operator, postgrest_request, released_versions
from x402_sign import sign_payment

EXT = "insforge_integrations"
KEY = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # a well-known test key
USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
REQ = {"scheme": "exact", "network": "eip155:196", "amount": "10000", "asset": USDG, "payTo": MERCHANT,
       "maxTimeoutSeconds": 300, "extra": {"name": "Global Dollar", "version": "1"}}
SECRET = "errors-test-secret-0123456789abcdef-0123456789abcdef"
UINT256_OVERFLOW = str(2 ** 256)

CASES: list[tuple[str, str, object]] = []


def case(code: str, match: str):
    def register(fn):
        CASES.append((code, match, fn))
        return fn
    return register


def payment(n: int, **kw) -> dict:
    """A v2 payment of REQ with nonce n repeated, valid until 2100 (a copy: callers change it)."""
    return copy.deepcopy(sign_payment(KEY, REQ, nonce="0x" + f"{n:02x}" * 32, valid_before=4102444800, **kw))


def answer(tx_hash: str, **extra) -> dict:
    return {"success": True, "transaction": tx_hash, "network": "eip155:196", "payer": KEY.address, **extra}


def tx(n: int) -> str:
    return "0x" + f"{n:064x}"


def operator(conn, sql, *args):
    with as_operator(conn):
        return conn.execute(sql, args or None).fetchall()


def ledger(conn):
    operator(conn, "SELECT x402.install_ledger()")


def j(value) -> str:
    return json.dumps(value)


@contextlib.contextmanager
def cluster_role(cluster, name: str, *member_of: str):
    """A NOLOGIN role for one case, with the privileges of `member_of`; dropped afterwards (roles
    are cluster-wide, and the key's role must have no members when a database installs the
    extension)."""
    with cluster.connect() as c:
        c.execute(f'DROP ROLE IF EXISTS "{name}"')
        c.execute(f'CREATE ROLE "{name}" NOLOGIN' + (" IN ROLE " + ", ".join(member_of) if member_of else ""))
    try:
        yield name
    finally:
        with cluster.connect() as c:
            c.execute(f'DROP ROLE IF EXISTS "{name}"')


def rls_table(conn):
    """public.notes with RLS on and an owner policy for authenticated, as project_admin."""
    with as_operator(conn):
        conn.execute("CREATE TABLE public.notes (id int, user_id text DEFAULT requesting_user_id())")
        conn.execute("ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY own ON public.notes FOR SELECT TO authenticated USING (user_id = requesting_user_id())")


# -- claims --------------------------------------------------------------------------------------------------

@case("22P02", r"invalid input syntax for type json")
def claims_not_json(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, "{not json", role="authenticated") as cur:
            cur.execute("SELECT requesting_user_id()")


@case("22P05", r"unsupported Unicode escape sequence")
def claims_with_nul(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, '{"sub": "a\\u0000b"}', role="authenticated") as cur:
            cur.execute("SELECT insforge.jwt()")


@case("54001", r"stack depth limit exceeded")
def claims_nested_too_deep(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, "[" * 200000, role="authenticated") as cur:
            cur.execute("SELECT insforge.claim('sub')")


# -- verification and validation ---------------------------------------------------------------------------

@case("28000", r"JWT signature does not match")
def verify_with_the_wrong_key(cluster, db):
    import jwt
    token = jwt.encode({"sub": "u", "role": "authenticated"}, SECRET, algorithm="HS256")
    with cluster.connect(db) as c:
        c.execute("SELECT insforge.verify_jwt(%s, %s)", (token, SECRET + "-other"))


@case("28000", r"no JWT key is configured for this database \(the operator stores it with insforge.set_jwt_secret\(\)")
def authenticate_without_a_key(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with c.transaction():
            c.execute("SELECT insforge.authenticate('a.b.c')")


@case("28000", r"request claims failed validation: expired \(insforge_integrations.strict is on\)")
def strict_mode_refuses_expired_claims(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_setting('strict', 'on')")
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"sub": "user_x", "role": "authenticated", "exp": 1000000000}) as cur:
            cur.execute("SELECT requesting_user_id()")


@case("28000", r"request has no claims")
def require_valid_claims_without_claims(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT insforge.require_valid_claims()")


@case("28000", r"JWT signature does not match")
def verified_mode_with_a_bearer_token_that_does_not_verify(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_jwt_secret(%s)", SECRET)
        operator(c, "SELECT insforge.set_setting('claims_source', 'verified')")
    import jwt
    forged = jwt.encode({"sub": "u", "role": "authenticated"}, SECRET + "-forged", algorithm="HS256")
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"sub": "u", "role": "authenticated"}, token=forged) as cur:
            cur.execute("SELECT requesting_user_id()")


# -- malformed arguments -------------------------------------------------------------------------------------

@case("22023", r"documentation placeholder")
def placeholder_key(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_jwt_secret('<the JWT secret>')")


@case("22023", r"at least 32")
def short_hmac_secret(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_jwt_secret('too-short-a-secret')")


@case("22023", r"PEM PUBLIC KEY is not valid")
def key_that_does_not_parse(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_jwt_secret(%s)", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")


@case("22023", r"x402 header is not base64")
def malformed_header(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT x402.decode_header('!!!')")


@case("22023", r"checksum")
def address_with_a_wrong_checksum(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT x402.checksum_address('0x4AE46a509f6b1d9056937ba4500cb143933d2dc8')")


@case("22023", r"paymentRequirements.network is missing; nothing was written")
def requirements_the_ledger_cannot_read(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.begin_settlement(%s, '{\"scheme\": \"exact\"}')", j(payment(1)))


@case("22023", r"not a transaction hash.*nothing was written")
def settlement_with_nothing_to_record(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.record_settlement(%s, %s, %s)", j(payment(1)), j(REQ),
                 j(answer("0x12")))


@case("22023", r'status "mined" is none of')
def malformed_status_answer(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.record_settlement(%s, %s, %s)", j(payment(1)), j(REQ),
                 j(answer(tx(1), status="pending")))
        operator(c, "SELECT * FROM x402.record_status(%s, '{\"status\": \"mined\"}')", tx(1))


@case("22023", r"payment-identifier")
def malformed_payment_identifier(cluster, db):
    p = payment(1)
    p["extensions"] = {"payment-identifier": {"info": {"id": "short"}}}
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(p), j(REQ))


@case("22023", r"valid_before_margin")
def negative_margin(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT x402.verify_payment(%s, %s, now(), '-1 second')", (j(payment(1)), j(REQ)))


@case("22023", r"verify_payment needs the server's payment requirements .*: requirements is NULL")
def verify_payment_without_requirements(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT x402.verify_payment(%s, NULL)", (j(payment(1)),))


@case("22023", r"older_than must not be NULL")
def null_older_than(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        c.execute("SELECT * FROM x402.unreconciled(NULL)")


@case("22023", r"unknown provider okta")
def bad_setting_value(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_setting('jwt_providers', 'clerk,okta')")


@case("22023", r"not whole numbers")
def ledger_rows_install_ledger_cannot_convert(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("CREATE TABLE public.x402_payments (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
                      " payer_address text, endpoint text, amount text, tx_hash text UNIQUE, chain text,"
                      " status text, response_summary text, created_at timestamptz DEFAULT now())")
            c.execute("INSERT INTO public.x402_payments (payer_address, amount, tx_hash, status)"
                      " VALUES ('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '0.01', %s, 'settled')", (tx(1),))
        ledger(c)


@case("22023", r"must not be NULL")
def null_role(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.grant_operator(NULL)")


@case("22003", r"exceeds 2\^256-1")
def chain_id_beyond_uint256(cluster, db):
    with cluster.connect(db) as c:
        c.execute(f"SELECT x402.domain_separator('USDG', '1', {UINT256_OVERFLOW}, %s)", (USDG,))


@case("22003", r"value: uint256 .* exceeds 2\^256-1; nothing was written")
def amount_beyond_uint256(cluster, db):
    p = payment(1)
    p["payload"]["authorization"]["value"] = UINT256_OVERFLOW
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(p), j(REQ))


@case("22021", r"not valid UTF-8|invalid byte sequence")
def text_that_is_not_utf8(cluster, db):
    with cluster.connect() as c:
        c.execute("DROP DATABASE IF EXISTS errors_sql_ascii WITH (FORCE)")
        c.execute("CREATE DATABASE errors_sql_ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'")
    try:
        with cluster.connect("errors_sql_ascii") as c:
            c.execute(f"CREATE EXTENSION {EXT}")
            c.execute("SELECT x402.checksum_address(convert_from('\\xff41fe'::bytea, 'SQL_ASCII'))")
    finally:
        with cluster.connect() as c:
            c.execute("DROP DATABASE IF EXISTS errors_sql_ascii WITH (FORCE)")


# -- not implemented ---------------------------------------------------------------------------------------

@case("0A000", r"x402Version is 3; supported versions are 1 and 2; nothing was written")
def unknown_x402_version(cluster, db):
    p = payment(1)
    p["x402Version"] = 3
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(p), j(REQ))
        assert c.execute("SELECT count(*) FROM public.x402_payments").fetchone() == (0,)


@case("0A000", r"scheme is \"deferred\"; the schemes implemented are")
def unknown_scheme(cluster, db):
    req = dict(REQ, scheme="deferred")
    p = sign_payment(KEY, req, nonce="0x" + "01" * 32)
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.record_settlement(%s, %s, %s)", j(p), j(req), j(answer(tx(1))))


@case("0A000", r"paymentPayload.x402Version is 3; supported versions are 1 and 2")
def verify_payment_of_an_unknown_x402_version(cluster, db):
    p = payment(1)
    p["x402Version"] = 3
    with cluster.connect(db) as c:
        c.execute("SELECT x402.verify_payment(%s, %s)", (j(p), j(REQ)))


@case("0A000", r'paymentRequirements.scheme is "deferred"; the schemes implemented are "exact" and "upto"')
def verify_payment_for_a_scheme_not_implemented(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT x402.verify_payment(%s, %s)", (j(payment(1)), j(dict(REQ, scheme="deferred"))))


@case("0A000", r"network solana is not an EVM network")
def non_evm_network(cluster, db):
    p = payment(1)
    p["accepted"]["network"] = "solana"
    with cluster.connect(db) as c:
        c.execute("SELECT x402.recover_payer(%s)", (j(p),))


# -- duplicates ----------------------------------------------------------------------------------------------

@case("23505", r"already recorded with different facts")
def a_transaction_recorded_with_other_facts(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.record_settlement(%s, %s, %s)", j(payment(1)), j(REQ), j(answer(tx(1))))
        operator(c, "SELECT * FROM x402.record_settlement(%s, %s, %s)", j(payment(2)), j(REQ), j(answer(tx(1))))


@case("23505", r"payment identifier order_0123456789abcdef already names another payment")
def a_payment_identifier_of_another_payment(cluster, db):
    first, second = payment(1), payment(2)
    for p in (first, second):
        p["extensions"] = {"payment-identifier": {"info": {"id": "order_0123456789abcdef"}}}
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(first), j(REQ))
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(second), j(REQ))


@case("23505", r"records these transactions more than once")
def a_guide_made_ledger_with_a_transaction_twice(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("CREATE TABLE public.x402_payments (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
                      " payer_address text, endpoint text, amount text, tx_hash text, chain text,"
                      " status text, response_summary text, created_at timestamptz DEFAULT now())")
            for h in (tx(1), tx(1).upper().replace("0X", "0x")):
                c.execute("INSERT INTO public.x402_payments (payer_address, amount, tx_hash, status)"
                          " VALUES ('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '10000', %s, 'settled')", (h,))
        ledger(c)


# -- privileges ----------------------------------------------------------------------------------------------

@case("42501", r"may be run only by the operator: project_admin or a superuser \(current role: authenticated\)")
def operator_function_by_a_client(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"sub": "u", "role": "authenticated"}) as cur:
            cur.execute("SELECT insforge.set_setting('strict', 'off')")


@case("42501", r"permission denied for function record_settlement")
def ledger_writer_by_a_client(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"sub": "u", "role": "authenticated"}) as cur:
            cur.execute("SELECT * FROM x402.record_settlement(%s, %s, %s)", (j(payment(1)), j(REQ), j(answer(tx(1)))))


@case("42501", r"permission denied for table x402_payments")
def the_signed_payload_for_a_client(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"role": "anon"}) as cur:
            cur.execute("SELECT payload FROM public.x402_payments")


@case("42501", r"permission denied to set parameter \"insforge_integrations.strict\"")
def set_of_a_setting_once_the_library_is_loaded(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"sub": "u", "role": "authenticated"}) as cur:
            cur.execute("SELECT insforge.role()")
            cur.execute("SET insforge_integrations.strict = off")


@case("42501", r"client role of InsForge and cannot be an operator")
def grant_operator_to_a_client(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.grant_operator('anon')")


@case("42501", r"only its owner can bring it up to date")
def install_ledger_on_someone_elses_ledger(cluster, db):
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE public.x402_payments (id bigserial PRIMARY KEY, payer_address text, amount text,"
                  " tx_hash text, status text)")  # the superuser's
        ledger(c)


@case("42501", r"refuses to switch to role postgres: role postgres is a superuser")
def authenticate_to_a_privileged_role(cluster, db):
    import jwt
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_jwt_secret(%s)", SECRET)
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_roles = \'anon,authenticated,postgres\'')
    token = jwt.encode({"sub": "u", "role": "postgres"}, SECRET, algorithm="HS256")
    with cluster.connect(db, user="authenticator") as c:
        with c.transaction():
            c.execute("SELECT insforge.authenticate(%s)", (token,))


@case("42501", r"insforge.act_as\(\) may be run only by the operator: project_admin or a superuser \(current role: authenticated\)")
def act_as_by_a_client(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        with postgrest_request(c, {"sub": "u", "role": "authenticated"}) as cur:
            cur.execute("""SELECT insforge.act_as('{"sub": "v", "role": "authenticated"}')""")


@case("42501", r"insforge.explain_access\(\) may be run only by the operator: project_admin or a superuser \(current role: authenticator\)")
def explain_access_by_a_login_app_role(cluster, db):
    with cluster.connect(db) as c:
        rls_table(c)
    with cluster.connect(db, user="authenticator") as c:
        c.execute("""SELECT * FROM insforge.explain_access('public.notes', '{"role": "anon"}')""")


@case("42501", r"insforge.explain_access\(\) refuses to switch to role postgres: role postgres is a superuser")
def explain_access_as_a_superuser(cluster, db):
    with cluster.connect(db) as c:
        rls_table(c)
        operator(c, """SELECT * FROM insforge.explain_access('public.notes', '{"role": "postgres"}')""")


@case("42501", r"insforge.authenticate\(\) refuses to switch to role pg_monitor: role pg_monitor is one of PostgreSQL's predefined roles")
def authenticate_to_a_predefined_role(cluster, db):
    import jwt
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.set_jwt_secret(%s)", SECRET)
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_roles = \'anon,authenticated,pg_monitor\'')
    token = jwt.encode({"sub": "u", "role": "pg_monitor"}, SECRET, algorithm="HS256")
    with cluster.connect(db, user="authenticator") as c:
        with c.transaction():
            c.execute("SELECT insforge.authenticate(%s)", (token,))


@case("42501", r"insforge.act_as\(\) refuses to switch to role errors_reader: role errors_reader has the privileges of pg_read_all_data")
def act_as_a_role_that_reads_all_data(cluster, db):
    with cluster_role(cluster, "errors_reader", "pg_read_all_data"), cluster.connect(db) as c:
        operator(c, """SELECT insforge.act_as('{"role": "errors_reader"}')""")


@case("42501", r"insforge.act_as\(\) refuses to switch to role errors_heir: role errors_heir has the privileges of insforge_integrations_secrets")
def act_as_a_role_with_the_keys_privileges(cluster, db):
    with cluster_role(cluster, "errors_heir", "insforge_integrations_secrets"), cluster.connect(db) as c:
        operator(c, """SELECT insforge.act_as('{"role": "errors_heir"}')""")


@case("42501", r"insforge.act_as\(\) refuses to switch to role errors_app: it is not a client role \(insforge_integrations.jwt_roles: anon,authenticated\) and project_admin does not have its privileges")
def act_as_a_role_neither_client_nor_held(cluster, db):
    with cluster_role(cluster, "errors_app"), cluster.connect(db) as c:
        operator(c, """SELECT insforge.act_as('{"role": "errors_app"}')""")


@case("42501", r"insforge.explain_access\(\) reads public.payroll as its caller, and project_admin may not read it")
def explain_access_of_a_table_the_caller_may_not_read(cluster, db):
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE public.payroll (id int, amount numeric)")  # the superuser's
        c.execute("REVOKE ALL ON public.payroll FROM project_admin")
        operator(c, """SELECT * FROM insforge.explain_access('public.payroll', '{"role": "authenticated"}')""")


@case("42501", r"schema x402 exists and was not created by insforge_integrations \(owner: project_admin\)")
def create_extension_into_a_squatted_schema(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute(f"DROP EXTENSION {EXT}")
        with as_operator(c):
            c.execute("CREATE SCHEMA x402")
        with as_operator(c):
            c.execute(f"CREATE EXTENSION {EXT}")


# -- transactions and recovery -------------------------------------------------------------------------------

@case("25P01", r"must run inside a transaction block")
def authenticate_outside_a_transaction(cluster, db):
    with cluster.connect(db, user="authenticator") as c:
        c.execute("SELECT insforge.authenticate('a.b.c')")


@case("25P01", r"insforge.act_as\(\) must run inside a transaction block")
def act_as_outside_a_transaction(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SET ROLE project_admin")
        c.execute("""SELECT insforge.act_as('{"sub": "u", "role": "authenticated"}')""")


@case("25006", r"insforge.explain_access\(\) cannot run in a read-only transaction or on a standby")
def explain_access_in_a_read_only_transaction(cluster, db):
    with cluster.connect(db) as c:
        rls_table(c)
        with as_operator(c):
            c.execute("SET TRANSACTION READ ONLY")
            c.execute("""SELECT * FROM insforge.explain_access('public.notes', '{"sub": "u", "role": "authenticated"}')""")


@case("25006", r"cannot set the JWT key on a standby")
def set_jwt_secret_on_a_standby(cluster, db):
    standby = Cluster(port=cluster.port)
    standby.base.mkdir(parents=True, exist_ok=True)
    standby.base.chmod(0o755)
    shutil.chown(standby.base, "postgres", "postgres")
    try:
        subprocess.run(_as_postgres([str(standby.bin / "pg_basebackup"), "-h", str(cluster.base), "-p",
                                     str(cluster.port), "-U", "postgres", "-D", str(standby.data), "-R",
                                     "-X", "stream", "-c", "fast"]), check=True, capture_output=True)
        with open(standby.data / "postgresql.auto.conf", "a") as f:
            f.write(f"unix_socket_directories = '{standby.base}'\nhot_standby = on\n")
        standby.start()
        with standby.connect(db) as s:
            assert s.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            s.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
    finally:
        standby.cleanup()


@case("40001", r"could not serialize access")
def the_same_settlement_twice_at_once_under_repeatable_read(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
    args = (j(payment(1)), j(REQ), j(answer(tx(1))))
    a = cluster.connect(db, autocommit=False)
    b = cluster.connect(db, autocommit=False)
    try:
        b.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        b.execute("SET LOCAL ROLE project_admin")
        b.execute("SELECT 1")  # B's snapshot, taken before A commits
        a.execute("SET LOCAL ROLE project_admin")
        a.execute("SELECT * FROM x402.record_settlement(%s, %s, %s)", args)
        a.commit()
        b.execute("SELECT * FROM x402.record_settlement(%s, %s, %s)", args)
    finally:
        a.close()
        b.close()


# -- state ---------------------------------------------------------------------------------------------------

@case("55000", r"returns uuid")
def adopt_a_helper_returning_uuid(cluster, db):
    cluster.create_database(db, extension=False)
    with cluster.connect(db) as c:
        with as_operator(c):  # the project's own helper, before the extension
            c.execute("CREATE FUNCTION public.requesting_user_id() RETURNS uuid LANGUAGE sql STABLE"
                      " AS $$ SELECT (auth.jwt() ->> 'sub')::uuid $$")
            c.execute(f"CREATE EXTENSION {EXT}")
        operator(c, "SELECT insforge.adopt_requesting_user_id()")


@case("55000", r"predates this version of the settlement journal")
def a_ledger_not_brought_up_to_date(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        with as_operator(c):
            c.execute("ALTER TABLE public.x402_payments DROP COLUMN answers")  # as an older version's ledger
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(payment(1)), j(REQ))


@case("55000", r"both names are set with different values")
def update_from_0_1_0_with_both_setting_names(cluster, db):
    with released_versions():
        cluster.create_database(db, extension=False)
        with cluster.connect(db) as c:
            c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
            c.execute(f'ALTER DATABASE "{db}" SET insforge.jwt_roles = \'anon,authenticated\'')
            c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_roles = \'authenticated\'')
            with as_operator(c):
                c.execute(f"ALTER EXTENSION {EXT} UPDATE")


@case("42704", r'role "no_such_role" does not exist')
def grant_operator_to_nobody(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT insforge.grant_operator('no_such_role')")


@case("42704", r'insforge.act_as\(\): role "no_such_role" does not exist')
def act_as_a_role_that_does_not_exist(cluster, db):
    with cluster.connect(db) as c:
        operator(c, """SELECT insforge.act_as('{"sub": "u", "role": "no_such_role"}')""")


@case("42704", r'insforge.explain_access\(\): role "no_such_role" does not exist')
def explain_access_as_a_role_that_does_not_exist(cluster, db):
    with cluster.connect(db) as c:
        rls_table(c)
        operator(c, """SELECT * FROM insforge.explain_access('public.notes', '{"role": "no_such_role"}')""")


@case("3F000", r"schema public does not exist")
def adopt_without_schema_public(cluster, db):
    cluster.create_database(db, extension=False)
    with cluster.connect(db) as c:
        c.execute("DROP SCHEMA public CASCADE")
        with as_operator(c):
            c.execute(f"CREATE EXTENSION {EXT}")
        operator(c, "SELECT insforge.adopt_requesting_user_id()")


@case("42P01", r"public.x402_payments does not exist")
def begin_before_install_ledger(cluster, db):
    with cluster.connect(db) as c:
        operator(c, "SELECT * FROM x402.begin_settlement(%s, %s)", j(payment(1)), j(REQ))


@case("42P01", r"public.x402_payments does not exist")
def payment_stats_before_install_ledger(cluster, db):
    with cluster.connect(db) as c:
        c.execute("SELECT * FROM x402.payment_stats()")


@case("42883", r"realtime.publish\(text, text, jsonb\) does not exist")
def enable_realtime_without_realtime(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT x402.enable_realtime()")


@case("P0002", r"no payment with transaction 0x0+ff is recorded")
def record_status_of_an_unknown_hash(cluster, db):
    with cluster.connect(db) as c:
        ledger(c)
        operator(c, "SELECT * FROM x402.record_status(%s, '{\"status\": \"success\"}')", tx(255))


@case("2BP01", r"cannot drop function x402.stats\(timestamp with time zone\) because other objects depend on it")
def update_from_0_1_0_under_a_view_over_stats(cluster, db):
    with released_versions():
        cluster.create_database(db, extension=False)
        with cluster.connect(db) as c:
            c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
            c.execute("CREATE VIEW public.revenue AS SELECT endpoint, revenue FROM x402.stats()")
            with as_operator(c):
                c.execute(f"ALTER EXTENSION {EXT} UPDATE")


@case("2BP01", r"trigger x402_payments_realtime on table x402_payments depends on function x402.publish_payment\(\)")
def drop_extension_after_enable_realtime(cluster, db):
    with cluster.connect(db) as c:
        c.execute((FIXTURES / "realtime.sql").read_text())
        ledger(c)
        operator(c, "SELECT x402.enable_realtime()")
        operator(c, f"DROP EXTENSION {EXT}")


# -- the tests -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,match,fn", CASES, ids=[f"{code}-{fn.__name__}" for code, _, fn in CASES])
def test_raises(cluster, db, code, match, fn):
    with pytest.raises(psycopg.Error) as err:
        fn(cluster, db)
    e = err.value
    text = "\n".join(filter(None, [str(e), e.diag.message_detail]))
    assert e.sqlstate == code, f"{fn.__name__}: expected {code}, got {e.sqlstate}: {text}"
    assert re.search(match, text, re.S), f"{fn.__name__}: {code} for another cause: {text}"


def table_codes() -> list[str]:
    text = (ROOT / "docs" / "errors.md").read_text()
    return re.findall(r"^\| `([0-9A-Z]{5})` \|", text, re.M)


def test_the_table_and_the_cases_agree():
    codes = table_codes()
    assert len(codes) == len(set(codes)), "a SQLSTATE is in the table twice"
    assert set(codes) == {code for code, _, _ in CASES}, (
        f"in the table without a case: {set(codes) - {c for c, _, _ in CASES}}; "
        f"raised here but not in the table: {({c for c, _, _ in CASES}) - set(codes)}")
