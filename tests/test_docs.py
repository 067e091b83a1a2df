"""The docs run as written: every ```sql block of README.md and docs/**/*.md, executed.

How to write a page so that this test can run it
================================================

Each page (README.md, every docs/**/*.md) gets a fresh database named `app`, shaped like an
InsForge project (tools/pgcluster.py, create_database: the roles anon, authenticated,
project_admin and authenticator, auth.jwt() and friends, InsForge's default privileges) with
the extension already created by project_admin. Its ```sql blocks run in the order they appear,
each in its own psql session (`psql -X -q`, ON_ERROR_STOP, time zone UTC), so what a block
creates stays for the blocks after it but a block's SET, SET ROLE or open transaction does not.

Directives are HTML comments (invisible on GitHub) on the line or lines right before a block;
several may share one comment, separated by `;`:

    <!-- run as project_admin -->
        Required before every ```sql block: the role that runs it. project_admin runs it the way
        InsForge runs a project's SQL (SET ROLE project_admin and the claims InsForge sets for
        it); postgres is a superuser (self-hosted, the platform); a role that may log in
        (authenticator, or one the page created WITH LOGIN) connects as itself; any other role
        (anon, authenticated, one the page created) is taken with SET ROLE. Say the role in the
        text too: readers do not see the comment.
    <!-- run as authenticated, claims {"sub": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "role": "authenticated"} -->
        A request as PostgREST makes it: that role, and request.jwt.claims set to the JSON (a JSON
        string instead, `claims "not json"`, sets that text as it stands).
    <!-- fixture: notes -->
        Runs tools/fixtures/notes.sql first, as project_admin (`fixture: realtime as postgres`
        names another role). A page uses only tables it defines itself or a fixture names.
    <!-- expect error 42501 -->
        The block must stop with an ERROR of this SQLSTATE (write the failing statement last).
    <!-- expect output -->
        Before a ```text block that follows a ```sql block: the text is exactly what that block
        prints: psql's aligned output, then its messages (NOTICE, ERROR, HINT, DETAIL; no
        CONTEXT). Trailing spaces and blank lines at either end do not count. Quote outputs and
        error messages only this way: a ```text block holding an `ERROR:` line must be an
        expected output.

Page directives, before the page's first ```sql block:

    <!-- database: without the extension -->
        The page's database has InsForge's shape but not the extension (a page that creates it).
    <!-- database: citus -->
        The page runs on a Citus coordinator with two workers (tools/citus_cluster.py, as
        tests/citus/ uses it: hardened as docs/citus.md says, so anon, authenticated and
        project_admin may log in only for Citus's connections and are taken with SET ROLE), in a
        fresh database named `insforge` (InsForge's name) on every node, with the extension
        created on the coordinator by project_admin. Blocks run on the coordinator, or with
        `<!-- run as postgres; on every worker -->` on each worker in turn (their outputs one
        after the other). Only in the Citus lane (INSFORGE_CITUS_TESTS=1 and Citus installed into
        $PG_CONFIG's PostgreSQL: scripts/citus.sh runs these pages after tests/citus/); elsewhere
        the page is skipped, with the reason. Settings a page makes with ALTER SYSTEM are undone
        afterwards.

psql variables: define them with `\\set name 'value'` in a ```sql block; they stay defined for the
rest of the page. Use them quoted, :'name' (psql interpolates :name unquoted, which is a syntax
error for JSON or text). Something the reader must replace (a real secret, a placeholder, a
driver parameter such as $1) or something that is not SQL (a shell command) goes in a ```sh or
```text block, never in a ```sql one. Relative links must point at files of the repository, and
their #anchors at headings of the linked page.

Run one page: python3 tests/test_docs.py docs/x402.md (a throwaway cluster, as the test does; a
Citus page needs INSFORGE_CITUS_TESTS=1 and PG_CONFIG naming a PostgreSQL with Citus).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from citus_cluster import CLIENT_ROLES, CitusCluster, citus_installed  # noqa: E402
from pgcluster import FIXTURES, PG_CONFIG, crate_version  # noqa: E402

DB = "app"
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
TWO_COMMANDS = """\
bash scripts/demo.sh    # set up, build, install into a throwaway PostgreSQL 15 cluster configured like InsForge's, run the demo
bash scripts/test.sh    # every test suite: lints, Rust unit tests, the full suite on PostgreSQL 15,
                        # the .deb installed and tested without Rust, PostgreSQL 14, 16, 17, 18, and Citus
"""
FORBIDDEN_FENCES = {"pgsql", "postgresql", "postgres", "psql", "plpgsql"}


# -- reading a page ------------------------------------------------------------------------------------------

@dataclass
class Block:
    lang: str
    text: str
    line: int                      # of the opening fence, 1-based
    directives: dict = field(default_factory=dict)

    def where(self, page: Path) -> str:
        return f"{name(page)}:{self.line}"


def name(page: Path) -> str:
    return os.path.relpath(page, ROOT) if page.is_relative_to(ROOT) else str(page)


DIRECTIVE = re.compile(r"<!--(.*?)-->", re.S)
PAGE_DIRECTIVES = ("without_extension", "citus")


def parse_directives(comment: str, line: int) -> dict | None:
    """The directives of one HTML comment, or None when it holds none (an ordinary comment)."""
    parts = [p.strip() for p in comment.split(";") if p.strip()]
    keywords = ("run as ", "fixture:", "expect error ", "expect output", "database:", "on every worker")
    if not parts or not any(parts[0].startswith(k) for k in keywords):
        return None
    out: dict = {}
    for p in parts:
        if p.startswith("run as "):
            m = re.fullmatch(r"run as ([a-z_][a-z0-9_]*)(?:, claims (\{.*\}|\".*\"))?", p, re.S)
            if not m:
                raise ValueError(f"line {line}: cannot read {p!r} (run as ROLE[, claims {{...}}])")
            out["role"] = m.group(1)
            if m.group(2):
                out["claims"] = json.loads(m.group(2))
        elif p.startswith("fixture:"):
            m = re.fullmatch(r"fixture: *([a-z_0-9]+)(?: as ([a-z_][a-z0-9_]*))?", p)
            if not m or not (FIXTURES / f"{m.group(1)}.sql").exists():
                raise ValueError(f"line {line}: {p!r} names no tools/fixtures/*.sql")
            out.setdefault("fixtures", []).append((m.group(1), m.group(2) or "project_admin"))
        elif p.startswith("expect error "):
            m = re.fullmatch(r"expect error ([0-9A-Z]{5})", p)
            if not m:
                raise ValueError(f"line {line}: {p!r}: expect error SQLSTATE")
            out["error"] = m.group(1)
        elif p == "expect output":
            out["output"] = True
        elif p == "on every worker":
            out["workers"] = True
        elif p == "database: without the extension":
            out["without_extension"] = True
        elif p == "database: citus":
            out["citus"] = True
        else:
            raise ValueError(f"line {line}: unknown directive {p!r}")
    return out


def read_page(path: Path) -> tuple[list[Block], dict]:
    """The page's fenced blocks with the directives before each, and the page's own directives."""
    lines = path.read_text().split("\n")
    blocks: list[Block] = []
    pending: dict = {}
    page: dict = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)(```+)\s*([A-Za-z0-9_+-]*)\s*$", line)
        if fence:
            indent, ticks, lang = fence.groups()
            start = i
            body = []
            i += 1
            while i < len(lines) and not re.match(rf"^\s*{ticks}\s*$", lines[i]):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            blocks.append(Block(lang.lower(), "\n".join(body) + "\n", start + 1, pending))
            pending = {}
            i += 1
            continue
        if line.lstrip().startswith("<!--"):  # a comment on its own line (not one quoted in prose)
            text = line
            j = i
            while "-->" not in text and j + 1 < len(lines):
                j += 1
                text += "\n" + lines[j]
            for m in DIRECTIVE.finditer(text):
                d = parse_directives(m.group(1), i + 1)
                for key in PAGE_DIRECTIVES:
                    if d and d.pop(key, False):
                        if any(b.lang == "sql" for b in blocks):
                            raise ValueError(f"{name(path)}:{i + 1}: 'database: ...' goes before the page's first ```sql block")
                        page[key] = True
                if d:
                    for k, v in d.items():
                        if k == "fixtures":
                            pending.setdefault(k, []).extend(v)
                        else:
                            pending[k] = v
            i = j + 1
            continue
        if line.strip() and pending:
            raise ValueError(f"{name(path)}:{i + 1}: directives {pending} are not followed by a block")
        i += 1
    if page.get("citus") and page.get("without_extension"):
        raise ValueError(f"{name(path)}: a Citus page's database always has the extension")
    if not page.get("citus"):
        for b in blocks:
            if b.directives.get("workers"):
                raise ValueError(f"{b.where(path)}: 'on every worker' needs <!-- database: citus -->")
    return blocks, page


def is_citus_page(page: Path) -> bool:
    """Whether the page says <!-- database: citus --> (a page that cannot be read is not: its
    test reports why)."""
    try:
        return bool(read_page(page)[1].get("citus"))
    except (ValueError, OSError):
        return False


# Pages that say <!-- database: citus --> run in the Citus lane (test_citus_page_runs_as_written).
CITUS_PAGES = [p for p in PAGES if is_citus_page(p)]
PLAIN_PAGES = [p for p in PAGES if p not in CITUS_PAGES]


def strip_literals(sql: str) -> str:
    """SQL without its string literals, dollar-quoted bodies and comments (for the variable checks)."""
    sql = re.sub(r"\$([A-Za-z_]*)\$.*?\$\1\$", "", sql, flags=re.S)
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.sub(r"--[^\n]*", "", sql)


def check_variables(block: Block, defined: set[str], page: Path) -> list[str]:
    problems = []
    code = "\n".join(l for l in block.text.split("\n") if not l.lstrip().startswith("\\set "))
    bare = strip_literals(code)
    for m in re.finditer(r"(?<![:\w]):([A-Za-z_]\w*)", bare):
        problems.append(f"{block.where(page)}: psql variable :{m.group(1)} is not quoted (write :'{m.group(1)}')")
    for m in re.finditer(r":'([A-Za-z_]\w*)'", code):
        if m.group(1) not in defined:
            problems.append(f"{block.where(page)}: psql variable :'{m.group(1)}' is not defined (\\set) earlier on the page")
    return problems


def set_lines(block: Block) -> list[str]:
    return [l for l in block.text.split("\n") if l.lstrip().startswith("\\set ")]


# -- running a block ---------------------------------------------------------------------------------------

MESSAGE = re.compile(r"^(ERROR|WARNING|NOTICE|INFO|LOG|DEBUG):  ([0-9A-Z]{5}): ", re.M)


def run_psql(db: "PageDatabase", sql: str, role: str, claims: dict | None, variables: list[str],
             node=None) -> tuple[int, str, list[str]]:
    """Runs `sql` in a new psql session as `role` in the page's database, on `node` (default the
    coordinator: the only node of a plain page); returns (exit code, output as psql prints it at
    default verbosity with messages in place, SQLSTATEs of the ERRORs)."""
    node = node or db.coordinator
    user = role if db.logs_in(role) else "postgres"
    prelude = list(variables)
    if user == "postgres" and role != "postgres":
        prelude.append(f'SET ROLE "{role}";')
        if role == "project_admin" and claims is None:
            claims = {"role": "project_admin"}  # what InsForge sets for its dashboard and migrations
    if claims is not None:
        prelude += ["\\o /dev/null",
                    "SELECT set_config('request.jwt.claims', "
                    + quote(claims if isinstance(claims, str) else json.dumps(claims)) + ", false);",
                    "\\o"]
    env = dict(os.environ, PGTZ="UTC", PGDATESTYLE="ISO, MDY", LC_ALL="C.UTF-8", PGCLIENTENCODING="UTF8")
    proc = subprocess.run(
        [str(node.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
         "-v", "SHOW_CONTEXT=never", "-h", str(node.base), "-p", str(node.port), "-U", user, "-d", db.dbname],
        input="\n".join(prelude) + "\n" + sql, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    codes = [m.group(2) for m in MESSAGE.finditer(proc.stdout) if m.group(1) == "ERROR"]
    out = MESSAGE.sub(r"\1:  ", proc.stdout)
    out = "\n".join(l for l in out.split("\n") if not l.startswith("LOCATION:  "))
    return proc.returncode, out, codes


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def normalized(text: str) -> list[str]:
    lines = [l.rstrip() for l in text.strip("\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def run_page(cluster, page: Path, outputs: dict | None = None, citus=None) -> list[str]:
    """Runs every ```sql block of a page in a fresh database (on `cluster`, or on `citus`, a
    tools/citus_cluster.CitusCluster, for a page that says <!-- database: citus -->); returns the
    problems found (empty: the page is true). `outputs`, when given, receives {text block: actual
    output} for --accept."""
    blocks, options = read_page(page)
    if options.get("citus"):
        if citus is None:
            raise ValueError(f"{name(page)} runs on Citus (<!-- database: citus -->): give run_page a CitusCluster")
        db: PageDatabase = CitusPageDatabase(citus)
    else:
        db = PageDatabase(cluster, extension=not options.get("without_extension"))
    db.create()
    try:
        problems = run_blocks(db, page, blocks, outputs)
    finally:
        left = db.clean_up()
    return problems + left


def run_blocks(db: "PageDatabase", page: Path, blocks: list[Block], outputs: dict | None = None) -> list[str]:
    problems: list[str] = []
    defined: set[str] = set()
    variables: list[str] = []
    last_output: str | None = None
    last_sql: Block | None = None
    for b in blocks:
        if b.lang in FORBIDDEN_FENCES:
            problems.append(f"{b.where(page)}: a ```{b.lang} block is never run; write ```sql (run) or ```text")
            continue
        if b.lang == "text" or b.lang == "":
            if b.directives.get("output"):
                if last_sql is None or last_output is None:
                    problems.append(f"{b.where(page)}: expected output without a ```sql block before it")
                elif normalized(b.text) != normalized(last_output):
                    if outputs is not None:
                        outputs[b.line] = normalized(last_output)
                    problems.append(f"{b.where(page)}: the output of the block at line {last_sql.line} differs:\n"
                                    + diff(normalized(b.text), normalized(last_output)))
            elif re.search(r"^(ERROR|HINT|DETAIL):  ", b.text, re.M):
                problems.append(f"{b.where(page)}: quotes an error without <!-- expect output --> (so it is never checked)")
            last_sql, last_output = None, None
            continue
        if b.directives.get("output"):
            problems.append(f"{b.where(page)}: <!-- expect output --> goes before the ```text block of the output")
        if b.lang != "sql":
            last_sql, last_output = None, None
            continue
        role = b.directives.get("role")
        if role is None:
            problems.append(f"{b.where(page)}: a ```sql block needs <!-- run as ROLE --> before it")
            continue
        var_problems = check_variables(b, defined | {l.split()[1] for l in set_lines(b) if len(l.split()) > 1}, page)
        problems += var_problems
        for name, as_role in b.directives.get("fixtures", []):
            rc, out, _ = run_psql(db, (FIXTURES / f"{name}.sql").read_text(), as_role, None, [])
            if rc != 0:
                problems.append(f"{b.where(page)}: fixture {name} failed:\n{out}")
        if b.directives.get("workers"):  # each worker in turn, the outputs one after the other
            runs = [run_psql(db, b.text, role, b.directives.get("claims"), variables, node) for node in db.workers]
            rc = max(r[0] for r in runs)
            out = "\n".join(r[1] for r in runs)
            codes = [c for r in runs for c in r[2]]
        else:
            rc, out, codes = run_psql(db, b.text, role, b.directives.get("claims"), variables)
        expected = b.directives.get("error")
        if expected is None and rc != 0:
            problems.append(f"{b.where(page)}: failed (as {role}):\n{out}")
        elif expected is not None and (rc == 0 or not codes or codes[-1] != expected):
            problems.append(f"{b.where(page)}: expected ERROR {expected} (as {role}), got "
                            f"{codes[-1] if codes else 'no error'}:\n{out}")
        for l in set_lines(b):
            variables.append(l.strip())
            parts = l.split()
            if len(parts) > 1:
                defined.add(parts[1])
        last_sql, last_output = b, out
    return problems


def diff(expected: list[str], actual: list[str]) -> str:
    import difflib
    return "\n".join(difflib.unified_diff(expected, actual, "docs", "actual", lineterm=""))


# -- links -------------------------------------------------------------------------------------------------

def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*\*|\*|\[|\]\([^)]*\)", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_fence = False
    for line in path.read_text().split("\n"):
        if re.match(r"^\s*```", line):
            in_fence = not in_fence
        if in_fence:
            continue
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


# Pages that other branches add; linked from the index before they arrive.
ARRIVING = {"docs/citus.md", "docs/explain.md", "docs/x402-permit2.md"}


REPO_PATH = re.compile(r"(?<![\w/.$-])((?:src|sql|core|tests|tools|scripts|docker|benches|fuzz|docs)/[\w./*-]*)")


def prose_and_text_blocks(page: Path) -> tuple[str, str]:
    """The page's prose (fenced blocks removed) and the contents of its ```text/```sh blocks."""
    prose, blocks, fence = [], [], None
    for line in page.read_text().split("\n"):
        m = re.match(r"^\s*(```+)\s*([A-Za-z0-9_+-]*)\s*$", line)
        if fence is None and m:
            fence = (m.group(1), m.group(2))
            continue
        if fence is not None and re.match(rf"^\s*{fence[0]}\s*$", line):
            fence = None
            continue
        if fence is None:
            prose.append(line)
        elif fence[1] in ("text", "sh", ""):
            blocks.append(line)
    return "\n".join(prose), "\n".join(blocks)


def ignored(rel: str) -> bool:
    """Git-ignored paths (build output, fuzzing corpora) may be named though absent."""
    return subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", rel]).returncode == 0


def link_problems(page: Path) -> list[str]:
    """Relative links that lead nowhere, #anchors that name no heading, and repository paths
    (src/..., tests/..., in code spans and text blocks) that do not exist."""
    problems = []
    prose, text_blocks = prose_and_text_blocks(page)
    spans = re.findall(r"`([^`\n]+)`", prose)
    links = re.sub(r"`[^`\n]*`", "", prose)
    for m in re.finditer(r"\]\(([^)\s]+)\)", links):
        target = m.group(1)
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        if not file:  # a heading of this page
            if anchor not in anchors(page):
                problems.append(f"{name(page)}: link {target}: no heading #{anchor} on this page")
            continue
        path = (page.parent / file).resolve()
        rel = os.path.relpath(path, ROOT)
        if rel.startswith(".."):
            problems.append(f"{name(page)}: link {target} points outside the repository")
        elif not path.exists():
            if rel not in ARRIVING:
                problems.append(f"{name(page)}: link {target}: {rel} does not exist")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            problems.append(f"{name(page)}: link {target}: no heading #{anchor} in {rel}")
    version = crate_version()
    # Package names, and the version the front page announces, are the current version's.
    current = r"insforge-integrations_(\d+\.\d+\.\d+)_amd64|PACKAGE_VERSION=(\d+\.\d+\.\d+)"
    if page.name == "README.md":
        current += r"|\bversion (\d+\.\d+\.\d+)\b"
    for m in re.finditer(current, page.read_text()):
        if next(g for g in m.groups() if g) != version:
            problems.append(f"{name(page)}: {m.group(0)} is not the current version {version} (Cargo.toml)")
    for text in spans + [text_blocks]:
        for m in REPO_PATH.finditer(text):
            rel = m.group(1).rstrip(".")
            if text[m.end():m.end() + 1] == "<":  # a placeholder follows (sql/x--<new>.sql): its directory
                rel = rel.rsplit("/", 1)[0] + "/"
            if rel in ARRIVING or ignored(rel):
                continue
            if not (list(ROOT.glob(rel)) if "*" in rel else (ROOT / rel).exists()):
                problems.append(f"{name(page)}: names {rel}, which is not in the repository")
    return problems


# -- the tests ---------------------------------------------------------------------------------------------

class PageDatabase:
    """A page's fresh database `app` on the single-node test cluster."""

    dbname = DB

    def __init__(self, cluster, extension: bool = True):
        self.coordinator = cluster
        self.workers: list = []
        self.extension = extension
        self.roles_before: set[str] = set()

    @property
    def nodes(self) -> list:
        return [self.coordinator, *self.workers]

    def logs_in(self, role: str) -> bool:
        """Whether psql connects as the role itself (else as postgres, then SET ROLE)."""
        if role == "postgres":
            return False
        with self.coordinator.connect(self.dbname) as c:
            row = c.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        return bool(row and row[0])

    def create(self) -> None:
        self.roles_before = roles_of(self.coordinator)
        self.coordinator.create_database(self.dbname, extension=self.extension)

    def clean_up(self) -> list[str]:
        """Drops the page's database and the roles it created; a page must leave nothing cluster-wide."""
        for node in self.nodes:
            with node.connect() as c:
                c.execute(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
        problems = []
        for node in self.nodes:
            with node.connect() as c:
                for (r,) in c.execute("SELECT rolname FROM pg_roles").fetchall():
                    if r not in self.roles_before:
                        c.execute(f'DROP ROLE "{r}"')
                left = c.execute("SELECT setrole::regrole::text, setconfig FROM pg_db_role_setting WHERE setdatabase = 0"
                                 " AND setrole <> 0").fetchall()
                if left:
                    problems.append(f"role settings left behind (port {node.port}): {left}")
                    for r, _ in left:
                        c.execute(f"ALTER ROLE {r} RESET ALL")
        return problems


def roles_of(node) -> set[str]:
    with node.connect() as c:
        return {r for (r,) in c.execute("SELECT rolname FROM pg_roles")}


def auto_conf(node) -> dict[str, str]:
    """What ALTER SYSTEM has written on a node (postgresql.auto.conf, read afresh)."""
    with node.connect() as c:
        return dict(c.execute("SELECT name, setting FROM pg_file_settings"
                              " WHERE sourcefile LIKE '%/postgresql.auto.conf'").fetchall())


class CitusPageDatabase(PageDatabase):
    """A page's fresh database `insforge` on every node of a Citus cluster (<!-- database: citus -->)."""

    def __init__(self, citus):
        super().__init__(citus.coordinator)
        self.citus = citus
        self.dbname = citus.dbname
        self.workers = list(citus.workers)
        self.conf_before: dict = {}

    def logs_in(self, role: str) -> bool:
        # The client roles may log in only for Citus's own connections (the hardening); a page
        # takes them with SET ROLE, as InsForge does.
        return role not in CLIENT_ROLES and super().logs_in(role)

    def create(self) -> None:
        self.roles_before = roles_of(self.coordinator)
        self.conf_before = {node.port: auto_conf(node) for node in self.nodes}
        self.citus.create_database(self.dbname)

    def clean_up(self) -> list[str]:
        problems = super().clean_up()
        for node in self.nodes:  # what the page set with ALTER SYSTEM (on a worker: docs/citus.md)
            before, after = self.conf_before.get(node.port, {}), auto_conf(node)
            added = [k for k in after if k not in before]
            changed = [k for k in before if after.get(k) != before[k]]
            if changed:
                problems.append(f"ALTER SYSTEM changed the test cluster's own settings (port {node.port}): {changed}")
            if added:
                with node.connect() as c:
                    c.execute("LOAD 'insforge_integrations'")  # defines its settings, for ALTER SYSTEM RESET
                    for k in added:
                        c.execute(f"ALTER SYSTEM RESET {k}")
                    c.execute("SELECT pg_reload_conf()")
        return problems


def citus_lane_missing() -> str | None:
    """Why the Citus pages cannot run here (None: they can): the condition of tests/citus/."""
    if os.environ.get("INSFORGE_CITUS_TESTS") != "1":
        return "a Citus page (<!-- database: citus -->): runs in the Citus lane only (bash scripts/citus.sh sets INSFORGE_CITUS_TESTS=1)"
    if not citus_installed():
        return f"a Citus page (<!-- database: citus -->): Citus is not installed into {PG_CONFIG} (bash scripts/citus.sh builds it)"
    return None


@pytest.fixture(scope="session")
def citus_docs():
    """A coordinator and two workers for the Citus pages, started only when one runs."""
    missing = citus_lane_missing()
    if missing:
        pytest.skip(missing)
    c = CitusCluster()
    c.start()
    try:
        yield c
    finally:
        c.cleanup()


@pytest.mark.parametrize("page", PLAIN_PAGES, ids=[str(p.relative_to(ROOT)) for p in PLAIN_PAGES])
def test_page_runs_as_written(cluster, page):
    problems = run_page(cluster, page)
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("page", CITUS_PAGES, ids=[str(p.relative_to(ROOT)) for p in CITUS_PAGES])
def test_citus_page_runs_as_written(citus_docs, page):
    problems = run_page(None, page, citus=citus_docs)
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("page", PAGES + [ROOT / "SECURITY.md", ROOT / "BENCHMARKS.md", ROOT / "RELIABILITY.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_paths_resolve(page):
    problems = link_problems(page)
    assert not problems, "\n".join(problems)


def test_readme_starts_with_the_two_commands():
    first = read_page(ROOT / "README.md")[0][0]
    assert (first.lang, first.text) == ("sh", TWO_COMMANDS)


def test_the_checks_catch_untrue_text(cluster, tmp_path):
    """The test fails a page whose output, error or variables are not what the text says."""
    page = tmp_path / "wrong.md"
    page.write_text(
        "<!-- run as project_admin -->\n```sql\n\\set who 'x'\nSELECT current_user, :'who' AS who;\n```\n"
        "<!-- expect output -->\n```text\n current_user | who\n--------------+-----\n postgres     | x\n(1 row)\n```\n"
        "<!-- run as authenticated; expect error 42501 -->\n```sql\nSELECT insforge.set_setting('strict', 'on');\n```\n"
        "<!-- run as anon; expect error 42501 -->\n```sql\nSELECT 1;\n```\n"
        "<!-- run as anon -->\n```sql\nSELECT :who, :'nobody';\n```\n"
        "```sql\nSELECT 1;\n```\n"
        "```text\nERROR:  made up\n```\n")
    problems = run_page(cluster, page)
    text = "\n".join(problems)
    assert "differs" in text and "+ project_admin" in text          # the wrong output
    assert "expected ERROR 42501 (as anon), got no error" in text   # an error that does not happen
    assert "set_setting" not in text                                # the right error passes
    assert ":who is not quoted" in text and ":'nobody' is not defined" in text
    assert "needs <!-- run as ROLE -->" in text
    assert "quotes an error without" in text
    assert "failed (as anon)" in text and len(problems) == 7, text


def test_the_citus_directives_are_read(tmp_path):
    """<!-- database: citus --> makes a page a Citus page (run by test_citus_page_runs_as_written,
    never on the single-node cluster); `on every worker` exists only there."""
    page = tmp_path / "citus.md"
    page.write_text("# On Citus\n\n<!-- database: citus -->\n\n<!-- run as project_admin -->\n```sql\nSELECT 1;\n```\n"
                    "<!-- run as postgres; on every worker -->\n```sql\nSELECT 2;\n```\n")
    blocks, options = read_page(page)
    assert options == {"citus": True}
    assert [b.directives for b in blocks] == [{"role": "project_admin"}, {"role": "postgres", "workers": True}]
    assert is_citus_page(page) and not is_citus_page(ROOT / "docs" / "x402.md")
    with pytest.raises(ValueError, match="give run_page a CitusCluster"):
        run_page(None, page)
    wrong = {
        "needs <!-- database: citus -->": "<!-- run as postgres; on every worker -->\n```sql\nSELECT 1;\n```\n",
        "goes before the page's first": "<!-- run as postgres -->\n```sql\nSELECT 1;\n```\n<!-- database: citus -->\n",
        "always has the extension": "<!-- database: citus -->\n<!-- database: without the extension -->\n",
    }
    for message, text in wrong.items():
        page.write_text(text)
        with pytest.raises(ValueError, match=re.escape(message)):
            read_page(page)
    assert set(CITUS_PAGES) & set(PLAIN_PAGES) == set() and set(CITUS_PAGES) | set(PLAIN_PAGES) == set(PAGES)
    assert ROOT / "docs" / "citus.md" in CITUS_PAGES


def accept(page: Path, outputs: dict) -> None:
    """Writes actual outputs into the page's expected-output blocks (keyed by their fence's line)."""
    lines = page.read_text().split("\n")
    for line in sorted(outputs, reverse=True):
        start = line - 1
        indent = re.match(r"^(\s*)", lines[start]).group(1)
        end = start + 1
        while not re.match(r"^\s*```\s*$", lines[end]):
            end += 1
        lines[start + 1:end] = [(indent + l).rstrip() for l in outputs[line]]
    page.write_text("\n".join(lines))


def test_the_link_checks_catch_dead_links(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n[here](#a-title), [gone](#no-such-heading), [up](../../../outside.md),\n"
                    "`src/lib.rs`, `src/no_such_file.rs`, `postgresql-15-insforge-integrations_0.0.1_amd64.deb`\n")
    problems = link_problems(page)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "link #no-such-heading: no heading #no-such-heading on this page",
        "link ../../../outside.md points outside the repository",
        f"insforge-integrations_0.0.1_amd64 is not the current version {crate_version()} (Cargo.toml)",
        "names src/no_such_file.rs, which is not in the repository",
    ], problems


def main() -> int:
    """python3 tests/test_docs.py [--accept] [PAGE ...]: runs pages on a throwaway cluster and prints
    what is untrue; --accept writes the actual outputs into the pages' expected-output blocks
    (read the diff before committing: the docs say what these outputs mean). A Citus page runs on
    a throwaway Citus cluster in the Citus lane's condition (citus_lane_missing), else is skipped."""
    from pgcluster import Cluster
    args = sys.argv[1:]
    do_accept = "--accept" in args
    names = [a for a in args if a != "--accept"]
    pages = [ROOT / n for n in names] if names else PAGES
    cluster = citus = None
    failed = 0
    try:
        for page in pages:
            outputs: dict = {}
            if is_citus_page(page):
                missing = citus_lane_missing()
                if missing:
                    print(f"{name(page)}: skipped: {missing}")
                    continue
                if citus is None:
                    citus = CitusCluster()
                    citus.start()
            elif cluster is None:
                cluster = Cluster(port=int(os.environ.get("INSFORGE_TEST_PORT", "55497")))
                cluster.start()
            problems = run_page(cluster, page, outputs if do_accept else None, citus) + link_problems(page)
            if do_accept and outputs:
                accept(page, outputs)
            failed += bool(problems)
            print(f"{name(page)}: " + ("ok" if not problems else "\n\n".join(problems)))
    finally:
        for c in (cluster, citus):
            if c is not None:
                c.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
