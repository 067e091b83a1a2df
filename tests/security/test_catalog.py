"""Every function the extension installs with more rights than its caller (SECURITY DEFINER) is
reviewed in SECURITY.md ("Who runs what"), with the owner the table gives, search_path pinned, and
EXECUTE never granted to PUBLIC unless the table says everyone may run it. Every internal function
(a name starting with `_`) has EXECUTE revoked from PUBLIC, but the operator check, which only says
whether the caller is an operator. The key's role has no attributes, members or memberships."""
import re
from pathlib import Path

from attack import one

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = """
    SELECT p.oid, p.oid::regprocedure::text AS sig, p.proname, p.prosecdef, p.proconfig, pg_get_userbyid(p.proowner) AS owner,
           p.proacl, e.extowner
      FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'insforge_integrations'"""


def reviewed():
    """{signature as regprocedure prints it (no spaces): (runs as, who may execute)} from SECURITY.md."""
    text = (ROOT / "SECURITY.md").read_text()
    table = text.split("## Who runs what", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in table.splitlines():
        m = re.match(r"\| `([^`]+)` \| ([^|]+) \| [^|]+ \| ([^|]+) \|", line)
        if m:
            out[m.group(1).replace(" ", "")] = (m.group(2).strip(), m.group(3).strip())
    return out


def test_every_privileged_function_is_reviewed(cluster, db):
    table = reviewed()
    assert len(table) >= 7, table
    with cluster.connect(db) as c:
        ext_owner = one(c, "SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'insforge_integrations'")
        definers = c.execute(MEMBERS + " WHERE p.prosecdef ORDER BY 2").fetchall()
        assert {d[1].replace(" ", "") for d in definers} == set(table), "SECURITY.md and the catalog disagree"
        for _, sig, _, _, config, owner, acl, _ in definers:
            runs_as, who = table[sig.replace(" ", "")]
            expected_owner = ext_owner if runs_as.startswith("the extension's owner") else runs_as.strip("`")
            assert owner == expected_owner, (sig, owner, runs_as)
            assert config and "search_path=pg_catalog, pg_temp" in config, (sig, config)
            public = one(c, "SELECT has_function_privilege('public', %s::regprocedure, 'EXECUTE')", sig)
            assert public == (who == "everyone"), (sig, who, acl)
            for client in ("anon", "authenticated"):
                allowed = one(c, "SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE')", client, sig)
                assert allowed == (who == "everyone"), (sig, client)


def test_every_internal_function_is_closed_to_public(cluster, db):
    with cluster.connect(db) as c:
        open_ = [sig for (sig,) in c.execute(
            "SELECT sig FROM (" + MEMBERS + ") m WHERE proname LIKE '\\_%' AND sig <> 'insforge._require_operator(text)'"
            " AND has_function_privilege('public', oid, 'EXECUTE') ORDER BY 1").fetchall()]
        assert open_ == [], f"internal functions executable by PUBLIC: {open_}"


def test_the_keys_role_has_nothing_else(cluster, db):
    with cluster.connect(db) as c:
        row = c.execute("SELECT rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit"
                        " FROM pg_roles WHERE rolname = 'insforge_integrations_secrets'").fetchone()
        assert row == (False, False, False, False, False, False, False)
        assert one(c, "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid IN (m.roleid, m.member)"
                      " WHERE r.rolname = 'insforge_integrations_secrets'") == 0
        owned = c.execute("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner"
                          " WHERE r.rolname = 'insforge_integrations_secrets' ORDER BY 1").fetchall()
        assert [o for (o,) in owned] == ["insforge._jwt_key()", "insforge._set_jwt_secret(text)",
                                         "insforge.jwt_secret_configured()", "insforge.lint_jwt_secret_exposed()"]
        assert c.execute("SELECT c.oid::regclass::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
                         " WHERE r.rolname = 'insforge_integrations_secrets' AND c.relkind = 'r'").fetchall() \
            == [("insforge.jwt_secret",)]
