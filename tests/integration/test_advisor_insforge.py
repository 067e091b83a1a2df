"""One advisor for InsForge: insforge.advise_insforge() returns insforge.advise()'s findings in
the row shape of InsForge's own advisor rule queries (database-advisor.service.ts), so its scan
can run it as one more rule query; and insforge.advise() honours InsForge's suppressions
(system.advisor_suppressions, instance and rule scope) when the caller may read them.

The stand-ins for InsForge's tables are its migrations' DDL (057 and 059), with the grants its
migration 045 gives project_admin (SELECT on system's tables)."""
import psycopg
import pytest
from psycopg.rows import dict_row

from pgcluster import as_operator

SECRET = "advisor-insforge-jwt-secret-0123456789abcdef-0123456789"

# InsForge's migrations 057 and 059, as written there (shared notes, section 1).
SYSTEM = """
CREATE SCHEMA IF NOT EXISTS system;
CREATE TABLE IF NOT EXISTS system.advisor_scans (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  scan_type TEXT NOT NULL DEFAULT 'manual' CHECK (scan_type IN ('manual', 'scheduled')),
  scanned_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  error_message TEXT);
CREATE TABLE IF NOT EXISTS system.advisor_findings (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  scan_id UUID NOT NULL REFERENCES system.advisor_scans(id) ON DELETE CASCADE,
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
  category TEXT NOT NULL CHECK (category IN ('security', 'performance', 'health')),
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  affected_object TEXT,
  recommendation TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW());
CREATE TABLE IF NOT EXISTS system.advisor_suppressions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  rule_id TEXT NOT NULL,
  affected_object TEXT,
  scope TEXT NOT NULL DEFAULT 'instance' CHECK (scope IN ('instance', 'rule')),
  reason TEXT NOT NULL CHECK (reason IN ('false_positive', 'accepted_risk', 'wont_fix', 'other')),
  note TEXT,
  created_by TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT advisor_suppressions_scope_object_ck CHECK (
    (scope = 'rule' AND affected_object IS NULL)
    OR (scope = 'instance' AND affected_object IS NOT NULL)));
CREATE UNIQUE INDEX IF NOT EXISTS idx_advisor_suppressions_fingerprint
  ON system.advisor_suppressions (rule_id, COALESCE(affected_object, ''));
GRANT USAGE ON SCHEMA system TO project_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA system TO project_admin;
"""

# A project with findings of every object kind: policies, tables, columns, a function, settings.
MISTAKES = """
CREATE TABLE public.posts (id int, user_id uuid NOT NULL DEFAULT auth.uid(), body text);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY "Users read own drafts" ON public.posts FOR SELECT TO authenticated USING (auth.uid() = user_id);
CREATE TABLE public.files (id int, owner uuid);
ALTER TABLE public.files ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Own files" ON public.files FOR SELECT TO authenticated USING (owner::text = requesting_user_id());
CREATE TABLE public.todos (id int, owner_id text, done boolean);
CREATE TABLE public.x402_payments (id int, payer_address text, tx_hash text, amount text);
CREATE TABLE public.empty_rls (id int);
ALTER TABLE public.empty_rls ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION public.leaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;
"""

COLUMNS = [("affected_object", "text"), ("rule_id", "text"), ("severity", "text"), ("category", "text"),
           ("title", "text"), ("description", "text"), ("detail", "text"), ("remediation", "text")]

# The addition to database-advisor.service.ts that docs/advisor.md shows, as the scan runs it.
INSFORGE_RULE_QUERY = "SELECT * FROM insforge.advise_insforge()"
# InsForge's read-time filter (database-advisor.service.ts, lines 59-65).
INSFORGE_READ = """
SELECT f.rule_id, f.affected_object FROM system.advisor_findings f
 WHERE f.scan_id = %s AND NOT EXISTS (
    SELECT 1 FROM system.advisor_suppressions s
     WHERE s.rule_id = f.rule_id
       AND (s.scope = 'rule' OR s.affected_object = f.affected_object))"""


@pytest.fixture
def project(cluster, db):
    with cluster.connect(db) as c:
        c.execute(SYSTEM)
        with as_operator(c):
            c.execute(MISTAKES)
        c.execute(f"ALTER DATABASE \"{db}\" SET insforge_integrations.jwt_audience = 'insforge-api'")
    yield db
    with cluster.connect(db) as c:
        c.execute(f'ALTER DATABASE "{db}" RESET insforge_integrations.jwt_audience')


def scan(conn):
    """InsForge's scan, as the superuser connection runs it: the rule query, then the findings
    stored with its mapping (description = detail || description, recommendation = remediation)."""
    rows = conn.cursor(row_factory=dict_row).execute(INSFORGE_RULE_QUERY).fetchall()
    scan_id = conn.execute("INSERT INTO system.advisor_scans (status, scan_type) VALUES ('running', 'manual') RETURNING id").fetchone()[0]
    with conn.transaction():
        for r in rows:
            conn.execute("INSERT INTO system.advisor_findings (scan_id, rule_id, severity, category, title, description,"
                         " affected_object, recommendation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                         (scan_id, r["rule_id"], r["severity"], r["category"], r["title"],
                          r["detail"] or r["description"], r["affected_object"] or None, r["remediation"] or None))
        conn.execute("UPDATE system.advisor_scans SET status = 'completed' WHERE id = %s", (scan_id,))
    return scan_id, rows


def advise_pairs(conn):
    return sorted((r["name"], r["object"]) for r in conn.cursor(row_factory=dict_row).execute(
        "SELECT name, insforge.advisor_affected_object(metadata, cache_key) AS object FROM insforge.advise()").fetchall())


def test_the_row_shape_is_insforges(cluster, db):
    with cluster.connect(db) as c:
        result = c.execute("SELECT pg_get_function_result('insforge.advise_insforge()'::regprocedure)").fetchone()[0]
    assert result == "TABLE(" + ", ".join(f"{n} {t}" for n, t in COLUMNS) + ")"


def test_every_finding_maps_into_insforges_vocabularies_and_formats(cluster, project):
    with cluster.connect(project) as c:
        c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute(f"CREATE VIEW public.leak AS SELECT '{SECRET}'::text AS k")
        ours = c.cursor(row_factory=dict_row).execute("SELECT * FROM insforge.advise()").fetchall()
        theirs = c.cursor(row_factory=dict_row).execute(INSFORGE_RULE_QUERY).fetchall()
    assert len(ours) == len(theirs) >= 8
    level = {"ERROR": "critical", "WARN": "warning", "INFO": "info"}
    objects = {}
    for o, t in zip(ours, theirs):
        assert t["rule_id"] == o["name"]
        assert t["severity"] == level[o["level"]]
        assert t["category"] == ("security" if "SECURITY" in o["categories"] else
                                 "performance" if "PERFORMANCE" in o["categories"] else "health")
        assert (t["title"], t["description"], t["detail"], t["remediation"]) == \
            (o["title"], o["description"], o["detail"], o["remediation"])
        objects.setdefault(t["rule_id"], set()).add(t["affected_object"])
    # InsForge's affected_object formats: schema.table (policy), schema.table, schema.table.column, schema.fn(args)
    assert objects["auth_uid_in_policy"] == {"public.posts (Users read own posts)", "public.posts (Users read own drafts)"}
    assert objects["uuid_owner_column"] == {"public.files.owner"}
    assert objects["rls_disabled_with_owner_column"] == {"public.todos"}
    assert objects["rls_enabled_no_policy"] == {"public.empty_rls"}
    assert objects["x402_tx_hash_not_unique"] == {"public.x402_payments.tx_hash"}
    assert objects["security_definer_search_path"] == {"public.leaky()"}
    assert objects["validation_needs_unforwarded_claims"] == {"insforge_integrations.jwt_audience"}
    assert objects["jwt_secret_exposed"] == {"public.leak"}
    assert [t["severity"] for t in theirs] == sorted((t["severity"] for t in theirs),
                                                     key=["critical", "warning", "info"].index)


def test_insforges_scan_stores_every_finding(cluster, project):
    """The rule query's rows pass system.advisor_findings' CHECKs (one bad severity or category
    would fail InsForge's whole scan)."""
    with cluster.connect(project) as c:
        scan_id, rows = scan(c)
        stored = c.execute("SELECT count(*) FROM system.advisor_findings WHERE scan_id = %s", (scan_id,)).fetchone()[0]
        assert stored == len(rows) >= 7
        assert c.execute("SELECT status FROM system.advisor_scans WHERE id = %s", (scan_id,)).fetchone() == ("completed",)


@pytest.mark.parametrize("as_project_admin", [False, True])
def test_advise_honours_insforges_suppressions(cluster, project, as_project_admin):
    with cluster.connect(project) as c:
        scan_id, _ = scan(c)
        everything = advise_pairs(c)
        assert ("auth_uid_in_policy", "public.posts (Users read own posts)") in everything
        c.execute("INSERT INTO system.advisor_suppressions (rule_id, affected_object, scope, reason) VALUES"
                  " ('auth_uid_in_policy', 'public.posts (Users read own posts)', 'instance', 'accepted_risk'),"
                  " ('rls_disabled_with_owner_column', NULL, 'rule', 'wont_fix'),"
                  " ('uuid_owner_column', 'public.somewhere.else', 'instance', 'other'),"
                  " ('rls-disabled', NULL, 'rule', 'other')")
        if as_project_admin:
            c.execute("SET ROLE project_admin")
        shown = advise_pairs(c)
        c.execute("RESET ROLE")
        # exactly the suppressed ones are gone: one instance, one whole rule
        assert set(everything) - set(shown) == {("auth_uid_in_policy", "public.posts (Users read own posts)"),
                                                ("rls_disabled_with_owner_column", "public.todos")}
        assert ("auth_uid_in_policy", "public.posts (Users read own drafts)") in shown
        assert ("uuid_owner_column", "public.files.owner") in shown
        # the same set InsForge's dashboard shows from its stored scan
        assert sorted(c.execute(INSFORGE_READ, (scan_id,)).fetchall()) == shown
        # advise_insforge() stays unfiltered: InsForge filters when it reads
        assert len(c.execute(INSFORGE_RULE_QUERY).fetchall()) == len(everything)


def test_unreadable_or_absent_suppressions_change_nothing(cluster, project):
    with cluster.connect(project) as c:
        c.execute("INSERT INTO system.advisor_suppressions (rule_id, affected_object, scope, reason)"
                  " VALUES ('auth_uid_in_policy', NULL, 'rule', 'wont_fix')")
        hidden = advise_pairs(c)
        assert not any(n == "auth_uid_in_policy" for n, _ in hidden)
        c.execute("REVOKE SELECT ON system.advisor_suppressions FROM project_admin")
        with as_operator(c):
            full = advise_pairs(c)  # project_admin may not read them: advise() as before, no error
        assert sum(1 for n, _ in full if n == "auth_uid_in_policy") == 2
        # a view in the table's place is not read (reading it would run its owner's definition)
        c.execute("ALTER TABLE system.advisor_suppressions RENAME TO advisor_suppressions_real")
        c.execute("CREATE VIEW system.advisor_suppressions AS SELECT * FROM system.advisor_suppressions_real")
        assert advise_pairs(c) == full
        c.execute("DROP VIEW system.advisor_suppressions")
        c.execute("DROP SCHEMA system CASCADE")
        assert advise_pairs(c) == full
