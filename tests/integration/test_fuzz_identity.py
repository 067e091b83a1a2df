"""Deterministic differential fuzzing of the identity functions: random and
mutated claim strings, each function against its SQL reference. The server must
never restart, no call may end in an internal error (XX000: how a Rust panic
surfaces), and every error must be one the Errors table (docs/errors.md) documents."""
import json
import random

import psycopg
import pytest
from test_differential import CALLS, CORPUS, REFERENCE, UNSET, evaluate

DOCUMENTED = {"22P02", "22P05", "54001"}  # jsonb input errors (54001: nesting too deep for the stack)
SEEDS = [c for c in CORPUS if c is not UNSET and "\u0000" not in c]
ALPHABET = list('{}[]":,\\ \t\nabsu0123456789-.eE+') + ["\\u", "\\u0000", "\\ud800", "é", "😀", "null", "true"]


def mutate(rng, s):
    ops = rng.randint(1, 4)
    for _ in range(ops):
        kind = rng.random()
        pos = rng.randint(0, len(s))
        if kind < 0.35:
            s = s[:pos] + rng.choice(ALPHABET) + s[pos:]
        elif kind < 0.6 and s:
            s = s[:pos] + s[pos + 1:]
        elif kind < 0.75:
            s = s[:pos]
        elif kind < 0.9:
            s = s[:pos] + rng.choice(SEEDS) + s[pos:]
        else:
            depth = rng.randint(1, 3000)
            s = "[" * depth + s + "]" * depth
    return s


def random_claims(rng):
    obj = {}
    for _ in range(rng.randint(0, 6)):
        key = rng.choice(["sub", "role", "email", "permissions", "org", "aud", "x", "", "https://a/b"])
        obj[key] = rng.choice([rng.randint(-10**30, 10**30), rng.random() * 10**rng.randint(-20, 20), None, True,
                               "".join(rng.choice("ab é😀\\\"") for _ in range(rng.randint(0, 20))),
                               ["read:notes", rng.randint(0, 9), None], {"roles": ["admin"], "id": 1}])
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5)


@pytest.fixture
def ref_db(cluster, db):
    with cluster.connect(db) as c:
        c.execute(REFERENCE)
    return db


def test_fuzz_identity_functions(cluster, ref_db):
    rng = random.Random(6)
    with cluster.connect() as c:
        started = c.execute("select pg_postmaster_start_time()").fetchone()[0]
    inputs = [mutate(rng, rng.choice(SEEDS)) for _ in range(700)] + [random_claims(rng) for _ in range(300)]
    calls = CALLS[:8] + CALLS[13:16] + CALLS[-4:]
    mismatches, sqlstates, n = [], set(), 0
    with cluster.connect(ref_db) as conn:
        for claims in inputs:
            if "\x00" in claims:
                continue
            with conn.transaction():
                cur = conn.cursor()
                cur.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
                for native, reference in calls:
                    got, want = evaluate(cur, native), evaluate(cur, reference)
                    n += 1
                    if got[0] == "error":
                        sqlstates.add(got[1])
                    if got != want:
                        mismatches.append((claims[:200], native, got, want))
    with cluster.connect() as c:
        assert c.execute("select pg_postmaster_start_time()").fetchone()[0] == started
    assert n > 10000
    assert not mismatches, "\n".join(map(repr, mismatches[:10]))
    assert "XX000" not in sqlstates and sqlstates <= DOCUMENTED, sqlstates
