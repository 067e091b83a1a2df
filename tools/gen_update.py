#!/usr/bin/env python3
"""Generates the update scripts sql/insforge_integrations--A--B.sql to the current version B,
one for each directory sql/update/A--B/.

An update script has two halves:

* the hand-written migration, in sql/update/A--B/: `before.sql` (refusals, drops of functions
  whose signature or result type changes, new types, tables and columns: whatever the functions
  below need to exist) and `after.sql` (data changes, ownership, privileges, anything that
  carries existing state over);
* the generated half, between them: every function of version B's install script that is new
  or whose definition differs from version A's (frozen) install script, as CREATE OR REPLACE
  FUNCTION, with its COMMENT and its GRANT/REVOKE statements when those are new or changed.

Version A's install script is sql/insforge_integrations--A.sql (released, frozen); version B's
is the one pgrx generates for the current sources (`cargo pgrx install` puts it into
$(pg_config --sharedir)/extension; `cargo pgrx schema` prints it).

    python3 tools/gen_update.py             # write every update script to the current version
    python3 tools/gen_update.py --check     # exit 1 when a committed script is stale
    python3 tools/gen_update.py --current FILE.sql   # B's install script from elsewhere

Statements of B's install script that are neither functions, comments nor privileges and do
not appear in A's (a new table, a changed type) are listed in the output's header: the
hand-written halves must carry them; the update test (tests/integration/test_upgrade.py)
compares an updated database with a fresh install object by object.
"""
from __future__ import annotations

import argparse
import os
import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXT = "insforge_integrations"
PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")


# -- splitting SQL into statements ----------------------------------------------------------------

def split_statements(sql: str) -> list[str]:
    """Top-level statements (text from the previous ';' to this one, comments included),
    aware of quotes, dollar quotes, E'' strings and comments."""
    out, start, i, n = [], 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "'":
            escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            i += 1
            while i < n:
                if escapes and sql[i] == "\\":
                    i += 2
                elif sql[i] == "'":
                    if sql.startswith("''", i):
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    i += 1
        elif c == '"':
            j = sql.find('"', i + 1)
            while j >= 0 and sql.startswith('""', j):
                j = sql.find('"', j + 2)
            i = n if j < 0 else j + 1
        elif c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                i = n if j < 0 else j + len(tag)
            else:
                i += 1
        elif c == ";":
            out.append(sql[start:i + 1])
            start = i = i + 1
        else:
            i += 1
    if sql[start:].strip():
        out.append(sql[start:])
    return out


def strip_comments(stmt: str) -> str:
    """The statement without leading comment lines and blank lines."""
    lines = stmt.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")
                     or lines[0].lstrip().startswith("/*") and lines[0].rstrip().endswith("*/")):
        lines.pop(0)
    body = "\n".join(lines).strip()
    # A block comment opening the statement (pgrx's "<begin connected objects>" markers).
    while body.startswith("/*"):
        end = body.find("*/")
        if end < 0:
            break
        body = body[end + 2:].strip()
        while body.startswith("--"):
            body = body.split("\n", 1)[1].strip() if "\n" in body else ""
    return body


def normalize(stmt: str) -> str:
    return re.sub(r"\s+", " ", stmt).strip()


# -- classifying --------------------------------------------------------------------------------

FUNC_RE = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+", re.I)


def split_args(text: str) -> list[str]:
    """Top-level comma-separated items of an argument list (no surrounding parentheses)."""
    items, depth, cur, quote = [], 0, "", None
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        items.append(cur)
    return items


def arg_type(arg: str) -> str:
    """The type of one declared argument: mode and name dropped, DEFAULT dropped, lower-cased."""
    a = re.split(r"\s+DEFAULT\s+|\s*=\s*", arg.strip(), maxsplit=1, flags=re.I)[0]
    a = re.sub(r"/\*.*?\*/", "", a).strip()
    words = a.split()
    if words and words[0].upper() in ("IN", "INOUT", "VARIADIC"):
        words = words[1:]
    if words and words[0].upper() == "OUT":
        return ""
    # name type [type words...]: a name is a plain or quoted identifier followed by a type
    if len(words) >= 2 and not words[0].lower() in ("double", "character", "timestamp", "time", "bit"):
        words = words[1:]
    t = " ".join(words).lower().replace('"', "")
    return {"bool": "boolean", "int8": "bigint", "int4": "integer", "timestamptz": "timestamp with time zone",
            "timestamp with time zone": "timestamp with time zone"}.get(t, t)


def function_key(body: str) -> tuple[str, str] | None:
    """('schema.name(types)', header) of a CREATE FUNCTION statement, or None."""
    m = FUNC_RE.match(body)
    if not m:
        return None
    rest = body[m.end():]
    name_end = rest.index("(")
    name = rest[:name_end].strip().replace('"', "")
    depth, j = 0, name_end
    for j in range(name_end, len(rest)):
        if rest[j] == "(":
            depth += 1
        elif rest[j] == ")":
            depth -= 1
            if depth == 0:
                break
    args = rest[name_end + 1:j]
    types = [t for t in (arg_type(a) for a in split_args(args)) if t]
    return f"{name}({', '.join(types)})", name


def classify(body: str, default_schema: str) -> tuple[str, str]:
    """(kind, key) of a statement."""
    fk = function_key(body)
    if fk:
        sig, name = fk
        if "." not in name:
            sig = f"{default_schema}.{sig}"
        return "function", sig
    m = re.match(r"^COMMENT\s+ON\s+FUNCTION\s+(.*?)\s+IS\s", body, re.I | re.S)
    if m:
        inner = m.group(1)
        name, _, args = inner.partition("(")
        types = [t for t in (arg_type("x " + a) if len(a.split()) == 1 else arg_type(a)
                             for a in split_args(args.rstrip(")"))) if t]
        return "comment", f"{name.strip()}({', '.join(types)})"
    if re.match(r"^(GRANT|REVOKE)\s", body, re.I):
        return "acl", normalize(body)
    return "other", normalize(body)


def parse(sql: str, default_schema: str = "insforge") -> list[tuple[str, str, str]]:
    """[(kind, key, statement text)] in order; statements that are only comments are dropped."""
    out = []
    for stmt in split_statements(sql):
        body = strip_comments(stmt)
        if not body or body == ";":
            continue
        kind, key = classify(body, default_schema)
        out.append((kind, key, body))
    return out


# -- generating -----------------------------------------------------------------------------------

def acl_function_key(body: str) -> str | None:
    """The function a GRANT/REVOKE ... ON FUNCTION statement is about, keyed like `classify`."""
    m = re.search(r"\bON\s+FUNCTION\s+([^;]*?\))\s+(?:FROM|TO)\b", body, re.I | re.S)
    if not m:
        return None
    name, _, args = m.group(1).partition("(")
    types = [t for t in (arg_type("x " + a) if len(a.split()) == 1 else arg_type(a)
                         for a in split_args(args.rstrip(")"))) if t]
    return f"{name.strip()}({', '.join(types)})"


def generate(old_sql: str, new_sql: str) -> tuple[str, list[str], list[str]]:
    """(the generated statements, functions of A that B has no more, other statements of B not in A).

    pgrx writes the install script in an order that may change from build to build, so the
    generated part is in a canonical order (by function signature: each function, then its
    comment and privileges) and runs with check_function_bodies off, as pg_dump's output does:
    a SQL-language body may name a function created further down. (The install script itself
    checks every body.)"""
    old = parse(old_sql)
    new = parse(new_sql)
    old_funcs = {k: normalize(b) for kind, k, b in old if kind == "function"}
    old_comments = {k: normalize(b) for kind, k, b in old if kind == "comment"}
    old_other = {k for kind, k, _ in old if kind in ("acl", "other")}
    new_funcs = {k: b for kind, k, b in new if kind == "function"}
    per_key: dict[str, list[str]] = {}
    for kind, key, body in new:
        if kind == "function" and old_funcs.get(key) != normalize(body):
            per_key.setdefault(key, []).insert(0, FUNC_RE.sub("CREATE OR REPLACE FUNCTION ", body, count=1))
        elif kind == "comment" and old_comments.get(key) != normalize(body):
            per_key.setdefault(key, []).append(body)
        elif kind == "acl" and key not in old_other:
            per_key.setdefault(acl_function_key(body) or "~" + key, []).append(body)
    parts = ["SELECT pg_catalog.set_config('check_function_bodies', 'off', true);"]
    for key in sorted(per_key):
        parts.extend(per_key[key])
    parts.append("SELECT pg_catalog.set_config('check_function_bodies', 'on', true);")
    removed = sorted(k for k in old_funcs if k not in new_funcs)
    other_new = sorted((b for kind, k, b in new if kind == "other" and k not in old_other), key=normalize)
    return "\n\n".join(parts), removed, other_new


def first_line(stmt: str) -> str:
    return normalize(stmt)[:110]


def build(old_version: str, new_version: str, current: Path) -> str:
    part_dir = ROOT / "sql" / "update" / f"{old_version}--{new_version}"
    before = include((part_dir / "before.sql").read_text())
    after = include((part_dir / "after.sql").read_text())
    old_sql = (ROOT / "sql" / f"{EXT}--{old_version}.sql").read_text()
    new_sql = current.read_text()
    generated, removed, other_new = generate(old_sql, new_sql)
    dropped = {normalize(m.group(1)).lower() for m in
               re.finditer(r"DROP\s+FUNCTION\s+(?:IF\s+EXISTS\s+)?([^;]+);", before + after, re.I)}
    missing = [r for r in removed
               if not any(r.split("(")[0].lower() in d for d in dropped)]
    if missing:
        raise SystemExit(f"gen_update: functions of {old_version} that {new_version} no longer has must be dropped "
                         f"in {part_dir.relative_to(ROOT)}/before.sql: {', '.join(missing)}")
    header = [
        f"-- {EXT} {old_version} -> {new_version} (ALTER EXTENSION {EXT} UPDATE).",
        "--",
        f"-- GENERATED by tools/gen_update.py from sql/update/{old_version}--{new_version}/before.sql, the",
        f"-- functions of the current install script that are new or differ from sql/{EXT}--{old_version}.sql,",
        f"-- and sql/update/{old_version}--{new_version}/after.sql. Do not edit: change those and run",
        "-- python3 tools/gen_update.py (CI checks that this file is what it generates).",
    ]
    if other_new:
        header.append("--")
        header.append("-- Statements of the install script that are not functions and are new since "
                      f"{old_version}; the hand-written parts carry them:")
        header += [f"--   {first_line(s)}" for s in other_new]
    return ("\n".join(header) + "\n\n"
            + "-- ==== before.sql " + "=" * 70 + "\n" + before.rstrip() + "\n\n"
            + "-- ==== generated: functions new or changed since " + old_version + " " + "=" * 36 + "\n"
            + generated + "\n\n"
            + "-- ==== after.sql " + "=" * 71 + "\n" + after.rstrip() + "\n")


def include(text: str) -> str:
    """Replaces each line `-- @include sql/<file>.sql` with that file's text (shared with the
    install script, e.g. sql/guard.sql)."""
    def repl(m: re.Match) -> str:
        path = m.group(1).strip()
        return f"-- {path}\n" + (ROOT / path).read_text().rstrip() + "\n"
    return re.sub(r"^-- @include (\S+)\s*$", repl, text, flags=re.M)


def crate_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'^\[package\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S).group(1)


def installed_script(version: str) -> Path:
    sharedir = subprocess.check_output([PG_CONFIG, "--sharedir"], text=True).strip()
    return Path(sharedir) / "extension" / f"{EXT}--{version}.sql"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--to", dest="new", default=None, help="default: Cargo.toml's version")
    ap.add_argument("--current", type=Path, default=None,
                    help="the new version's install script (default: the installed one, from cargo pgrx install)")
    ap.add_argument("--check", action="store_true", help="compare with the committed scripts instead of writing them")
    args = ap.parse_args()
    new_version = args.new or crate_version()
    current = args.current or installed_script(new_version)
    if not current.exists():
        raise SystemExit(f"gen_update: {current} does not exist; run bash scripts/setup.sh (cargo pgrx install) first")
    olds = sorted(d.name.split("--")[0] for d in (ROOT / "sql" / "update").glob(f"*--{new_version}") if d.is_dir())
    if not olds:
        raise SystemExit(f"gen_update: no sql/update/<version>--{new_version}/ directory")
    stale = 0
    for old in olds:
        text = build(old, new_version, current)
        target = ROOT / "sql" / f"{EXT}--{old}--{new_version}.sql"
        if args.check:
            committed = target.read_text() if target.exists() else ""
            if committed != text:
                sys.stdout.writelines(difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                                           str(target.relative_to(ROOT)), "generated", n=2))
                print(f"\ngen_update: {target.relative_to(ROOT)} is stale: run python3 tools/gen_update.py",
                      file=sys.stderr)
                stale += 1
            else:
                print(f"{target.relative_to(ROOT)} is up to date")
            continue
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)}")
        # Beside the install script it was generated from (the installed extension), so that
        # ALTER EXTENSION ... UPDATE can use it at once.
        if args.current is None:
            installed = current.parent / target.name
            try:
                installed.write_text(text)
            except OSError:
                print(f"(not installed into {current.parent}: run bash scripts/setup.sh)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
