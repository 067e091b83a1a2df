"""Attack class 1: code that runs with more rights than its caller touching objects the operator
owns. The ledger is project_admin's table (install_ledger() creates it as its caller, and
InsForge's sweep hands every public table to project_admin anyway); whatever project_admin
attaches to it (a trigger, a column default, a CHECK, a rule, an index expression, a policy, a
view in its place) must only ever run as the role that wrote: project_admin itself, never the
extension's owner. Reached through begin_settlement, record_settlement, install_ledger (on a
guide-made ledger), enable_realtime, verify_payment's nonce check (as anon), ALTER EXTENSION
UPDATE and DROP EXTENSION through InsForge's hook."""
import subprocess

import psycopg
import pytest
from attack import assert_contained, attacked, one, plant, ran, store_key  # noqa: F401  (attacked: a fixture)
from payments import payment
from pgcluster import as_operator, postgrest_request, released_versions

ATTACHMENTS = {
    "trigger": """CREATE TRIGGER planted BEFORE INSERT OR UPDATE ON public.x402_payments
                  FOR EACH ROW EXECUTE FUNCTION public.attack_trigger()""",
    "default": "ALTER TABLE public.x402_payments ALTER COLUMN id SET DEFAULT"
               " CASE WHEN public.attack('default') THEN gen_random_uuid() END",
    "check": "ALTER TABLE public.x402_payments ADD CONSTRAINT planted CHECK (public.attack('check'))",
    "policy": """CREATE POLICY planted ON public.x402_payments AS RESTRICTIVE FOR ALL USING (public.attack('policy'))
                 WITH CHECK (public.attack('policy check'))""",
}


def install(c):
    with as_operator(c):
        assert one(c, "SELECT x402.install_ledger()::text") == "x402_payments"


@pytest.mark.parametrize("how", sorted(ATTACHMENTS))
def test_whatever_is_attached_to_the_ledger_runs_as_the_writer(cluster, attacked, how):
    db = attacked
    with cluster.connect(db) as c:
        install(c)
        with as_operator(c):
            c.execute(ATTACHMENTS[how])
            if how == "policy":  # RLS policies apply to the owner only when forced
                c.execute("ALTER TABLE public.x402_payments FORCE ROW LEVEL SECURITY")
        pay, req, settle = payment()
        with as_operator(c):
            assert one(c, "SELECT status FROM x402.begin_settlement(%s, %s, '/x')", pay, req) == "pending"
            assert one(c, "SELECT status FROM x402.record_settlement(%s, %s, %s, '/x')", pay, req, settle) == "settled"
            install(c)  # again: it checks and converts existing rows
        who = {w for w, _ in ran(c)}
        # (project_admin has BYPASSRLS, so its own writes never evaluate policies)
        assert who == ({"project_admin"} if how != "policy" else set()), ran(c)
    # A client reading the ledger evaluates the policy, as itself.
    with cluster.connect(db, user="authenticator") as conn:
        with postgrest_request(conn, {"role": "anon"}) as cur:
            cur.execute("SELECT count(*) FROM public.x402_payments").fetchone()
    with cluster.connect(db) as c:
        assert {w for w, _ in ran(c)} <= {"project_admin", "anon"}
        assert_contained(c)


def test_a_view_in_the_ledgers_place_is_read_with_the_callers_rights(cluster, attacked):
    """verify_payment's nonce check (reached by anon) reads whatever stands at public.x402_payments
    with the caller's own rights: a view project_admin put there runs its functions as anon."""
    db = attacked
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("""CREATE VIEW public.x402_payments AS
                         SELECT a || 'network' AS network, a || 'asset' AS nonce_scope, a || 'payer' AS payer_address,
                                a || 'nonce' AS nonce, a || 'status' AS status
                           FROM (SELECT CASE WHEN public.attack('view') THEN '' END AS a
                                   FROM generate_series(1, 1) OFFSET 0) v""")
            c.execute("GRANT SELECT ON public.x402_payments TO anon, authenticated")
    pay, req, _ = payment()
    with cluster.connect(db, user="authenticator") as conn:
        with postgrest_request(conn, {"role": "anon"}) as cur:
            assert cur.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'isValid'",
                               (pay, req)).fetchone() == ("true",)
    with cluster.connect(db) as c:
        assert {w for w, _ in ran(c)} == {"anon"}
        assert_contained(c)


def test_install_ledger_on_a_guide_made_ledger_with_a_planted_trigger(cluster, attacked):
    """The guide's own table, made by project_admin with a trigger on UPDATE: install_ledger()
    lower-cases its hashes (an UPDATE), as its caller."""
    db = attacked
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("""CREATE TABLE public.x402_payments (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(), payer_address text NOT NULL, endpoint text,
                amount text NOT NULL, tx_hash text UNIQUE, chain text DEFAULT 'xlayer', status text DEFAULT 'settled',
                response_summary text, created_at timestamptz DEFAULT now())""")
            c.execute("INSERT INTO public.x402_payments(payer_address, amount, tx_hash) VALUES ('0xA', '5', %s)",
                      ("0x" + "AB" * 32,))
            c.execute(ATTACHMENTS["trigger"])
        install(c)
        assert one(c, "SELECT tx_hash FROM public.x402_payments") == "0x" + "ab" * 32
        assert {w for w, _ in ran(c)} == {"project_admin"}
        # Someone else's table: refused, nothing changed.
        c.execute("ALTER TABLE public.x402_payments OWNER TO postgres")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="belongs to postgres"):
            install(c)
        assert_contained(c)


def test_enable_realtime_and_a_replaced_publish_run_as_the_operator(cluster, attacked):
    """Attack class 2: where project_admin can create or replace realtime.publish() (InsForge gives
    it only USAGE on schema realtime; this test gives it more), the trigger's call runs as the
    role that wrote the ledger."""
    db = attacked
    with cluster.connect(db) as c:
        c.execute("""CREATE SCHEMA realtime;
                     CREATE TABLE realtime.channels (pattern text PRIMARY KEY, description text, enabled boolean);
                     GRANT ALL ON SCHEMA realtime TO project_admin; GRANT ALL ON realtime.channels TO project_admin""")
        with as_operator(c):
            c.execute("""CREATE FUNCTION realtime.publish(p_channel_name text, p_event_name text, p_payload jsonb)
                         RETURNS uuid LANGUAGE plpgsql SECURITY INVOKER AS $$
                         BEGIN PERFORM public.attack('publish: ' || (p_payload -> 'new' ? 'payload')::text);
                               RETURN gen_random_uuid(); END $$""")
        install(c)
        with as_operator(c):
            assert one(c, "SELECT x402.enable_realtime()").startswith("public.x402_payments publishes")
        pay, req, settle = payment()
        with as_operator(c):
            assert one(c, "SELECT status FROM x402.record_settlement(%s, %s, %s)", pay, req, settle) == "settled"
        assert ran(c) == [("project_admin", "publish: false")]  # and the message carried no signed payload
        assert_contained(c)


def test_updating_the_extension_through_the_hook_never_runs_what_is_attached(cluster):
    """Attack item 8: a 0.2.0 database whose ledger (project_admin's since 0.2.0) carries a planted
    trigger, default and check; ALTER EXTENSION ... UPDATE runs as the bootstrap superuser for
    project_admin and does not touch the ledger at all; its rows stay; afterwards
    install_ledger(), as the table's owner, brings it up to date."""
    db = "sec_update_0_2_0"
    cluster.create_database(db, extension=False)
    with released_versions(), cluster.connect(db) as c:
        c.execute("CREATE EXTENSION insforge_integrations VERSION '0.2.0'")
        store_key(c)
        plant(c)
        with as_operator(c):
            c.execute("SELECT x402.install_ledger()")  # 0.2.0: made by its SECURITY DEFINER half
        assert one(c, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.x402_payments'::regclass") \
            == "project_admin"
        pay, req, settle = payment()
        with as_operator(c):
            c.execute("SELECT x402.record_settlement(%s, %s, %s)", (pay, req, settle))
            for how in ("trigger", "default", "check"):
                c.execute(ATTACHMENTS[how])
        c.execute("TRUNCATE public.attack_log")
        before = c.execute("SELECT * FROM public.x402_payments").fetchall()
        with as_operator(c):
            c.execute("ALTER EXTENSION insforge_integrations UPDATE")
        assert one(c, "SELECT extversion FROM pg_extension WHERE extname = 'insforge_integrations'") == "0.3.0"
        assert ran(c) == []
        assert c.execute("SELECT * FROM public.x402_payments").fetchall() == before
        install(c)
        pay, req, settle = payment()
        with as_operator(c):
            assert one(c, "SELECT status FROM x402.record_settlement(%s, %s, %s)", pay, req, settle) == "settled"
        assert {w for w, _ in ran(c)} == {"project_admin"}
        assert_contained(c)


def test_dropping_the_extension_through_the_hook(cluster, db):
    """DROP EXTENSION (as the bootstrap superuser for project_admin) hands public.requesting_user_id()
    back and drops the realtime trigger's function, and runs nothing of project_admin's."""
    with cluster.connect(db) as c:
        store_key(c)
        plant(c)
        install(c)
        with as_operator(c):
            for how in ("trigger", "default", "check", "policy"):
                c.execute(ATTACHMENTS[how])
        with as_operator(c):
            assert one(c, "SELECT insforge.adopt_requesting_user_id()").startswith("unchanged")
        c.execute("TRUNCATE public.attack_log")
        with as_operator(c):
            c.execute("DROP EXTENSION insforge_integrations CASCADE")
        assert ran(c) == []
        assert one(c, "SELECT rolsuper FROM pg_roles WHERE rolname = 'project_admin'") is False
        assert one(c, "SELECT count(*) FROM public.x402_payments") == 0
        # the helper is an ordinary SQL function again, and works
        assert one(c, "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'public.requesting_user_id()'::regprocedure") == "sql"


def test_a_dump_restored_by_project_admin(cluster, attacked):
    """A project's dump, restored as project_admin (pg_restore --role on a superuser's login, the way
    InsForge runs a project's SQL). pg_dump writes the extension's schema as a CREATE SCHEMA of its
    own (PostgreSQL creates a control file's schema outside the extension), so the restore makes
    insforge project_admin's: CREATE EXTENSION, through the hook, refuses that schema (42501), as it
    refuses any squatted one; nothing ran as a superuser. The ledger comes back with its rows and
    what project_admin attached to it. The documented way on (docs/install.md): drop the empty
    schema and create the extension again; then settling runs the attachment as project_admin only."""
    db = attacked
    with cluster.connect(db) as c:
        install(c)
        with as_operator(c):
            c.execute(ATTACHMENTS["trigger"])
        pay, req, settle = payment()
        with as_operator(c):
            one(c, "SELECT status FROM x402.record_settlement(%s, %s, %s, '/x')", pay, req, settle)
    dump = subprocess.run([str(cluster.bin / "pg_dump"), "-h", str(cluster.base), "-p", str(cluster.port), "-U", "postgres",
                           "-Fc", db], capture_output=True, check=True).stdout
    target = "restored_" + db
    cluster.create_database(target, insforge=True, extension=False)
    try:
        restore = subprocess.run([str(cluster.bin / "pg_restore"), "-h", str(cluster.base), "-p", str(cluster.port),
                                  "-U", "postgres", "--role=project_admin", "--no-owner", "-d", target],
                                 input=dump, capture_output=True)
        errors = restore.stderr.decode()
        assert "schema insforge belongs to project_admin, not to the extension's owner" in errors, errors
        with cluster.connect(target) as c:
            assert c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'insforge_integrations'"
                             ).fetchone() == (0,)
            assert one(c, "SELECT count(*) FROM public.x402_payments WHERE status = 'settled'") == 1, errors
            assert one(c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'planted'") == 1, errors
            assert_contained(c, key=None)
            with as_operator(c):
                c.execute("DROP SCHEMA insforge")
                c.execute("CREATE EXTENSION insforge_integrations")
            pay, req, settle = payment()
            with as_operator(c):
                assert one(c, "SELECT status FROM x402.record_settlement(%s, %s, %s, '/x')", pay, req, settle) == "settled"
            assert {w for w, _ in ran(c)} <= {"project_admin"}, ran(c)
            assert_contained(c, key=None)
    finally:
        with cluster.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
