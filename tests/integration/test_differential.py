"""Each native function against its SQL reference (InsForge's own definitions),
on a corpus of claim strings: same value, or the same error (SQLSTATE)."""
import json
import random

import psycopg
import pytest

REFERENCE = r"""
CREATE SCHEMA ref;
CREATE FUNCTION ref.jwt() RETURNS jsonb LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb $$;
CREATE FUNCTION ref.requesting_user_id() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(ref.jwt() ->> 'sub', '') $$;
CREATE FUNCTION ref.claim(k text) RETURNS text LANGUAGE sql STABLE STRICT
    AS $$ SELECT ref.jwt() ->> k $$;
CREATE FUNCTION ref.claim_path(VARIADIC p text[]) RETURNS text LANGUAGE sql STABLE STRICT
    AS $$ SELECT ref.jwt() #>> p $$;
CREATE FUNCTION ref.role() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(ref.jwt() ->> 'role', '') $$;
CREATE FUNCTION ref.email() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(ref.jwt() ->> 'email', '') $$;
CREATE FUNCTION ref.has_claim(k text, v text) RETURNS boolean LANGUAGE sql STABLE STRICT
    AS $$ SELECT coalesce(CASE WHEN jsonb_typeof(ref.jwt() -> k) = 'array'
                               THEN EXISTS (SELECT 1 FROM jsonb_array_elements_text(ref.jwt() -> k) e WHERE e = v)
                               ELSE (ref.jwt() ->> k) = v END, false) $$;
"""

UNSET = object()
CORPUS = [
    UNSET, "", "null", "[]", "[1,2]", '"sub"', "123", "true", "{}", "   ", " \n",
    '{"role":"authenticated"}', '{"sub":""}', '{"sub":" "}', '{"sub":"\\t"}', '{"sub":123}', '{"sub":1.50}',
    '{"sub":1e2}', '{"sub":-0}', '{"sub":12345678901234567890123}', '{"sub":{"a":1,"b":[2]}}',
    '{"sub":["a"]}', '{"sub":true}', '{"sub":null}', '{"sub":"usér_ñ_😀"}', '{"sub":"\\u00e9\\ud83d\\ude00"}',
    json.dumps({"sub": "x" * 5000}), '{"sub":"a","sub":"b"}', '{"sub":"a","role":"x","role":"anon"}',
    '{"sub":"a\\u0000b"}', '{"x":"\\u0000"}', "{bad", '{"sub":"a"', "{'sub':'a'}", '{"sub":"\\ud800"}',
    '{"sub":"a"} x', ' {"sub":"lead"} ', '{"https://insforge.dev/insforge_token":"tok","sub":"auth0|abc"}',
    '{"sub":"user_2x","role":"authenticated","email":"","aud":["insforge-api","x"]}',
    '{"sub":"u","email":"a@b.c","permissions":["read:notes","write:notes"]}',
    '{"sub":"u","permissions":"read:notes"}', '{"permissions":[1,"1",null,true,{"a":1},["read:notes"]]}',
    '{"org":{"roles":["admin","member"],"id":"org_1"},"sub":"u"}', '{"":"empty key","sub":"u"}',
    "[" * 200 + "]" * 200, '{"sub":"\\"quoted\\""}', '{"sub":"line\\nbreak"}', '{"sub": 0.000001e6}',
    '{"sub":"a"}\u0000', "\ufeff{}",
]

CALLS = [
    ("insforge.jwt()::text", "ref.jwt()::text"),
    ("insforge.requesting_user_id()", "ref.requesting_user_id()"),
    ("public.requesting_user_id()", "ref.requesting_user_id()"),
    ("insforge.role()", "ref.role()"),
    ("insforge.email()", "ref.email()"),
]
for k in ["sub", "role", "email", "https://insforge.dev/insforge_token", "permissions", "missing", "", "org"]:
    CALLS.append((f"insforge.claim('{k}')", f"ref.claim('{k}')"))
for path in ["'sub'", "'org','roles','0'", "'org','roles','-1'", "'permissions','1'", "'a','b'", "VARIADIC '{}'::text[]",
             "'0'", "'0','0'", "VARIADIC ARRAY['sub', NULL]"]:
    CALLS.append((f"insforge.claim_path({path})", f"ref.claim_path({path})"))
for k, v in [("permissions", "read:notes"), ("permissions", "1"), ("permissions", "true"), ("permissions", '{"a": 1}'),
             ("permissions", '["read:notes"]'), ("sub", "a"), ("sub", "123"), ("sub", "b"), ("org", "x"),
             ("role", "authenticated"), ("role", "anon"), ("missing", "x"), ("sub", "")]:
    CALLS.append((f"insforge.has_claim('{k}', '{v}')", f"ref.has_claim('{k}', '{v}')"))


def evaluate(cur, expr):
    cur.execute("SAVEPOINT e")
    try:
        value = cur.execute(f"SELECT {expr}").fetchone()[0]
        cur.execute("RELEASE SAVEPOINT e")
        return ("value", value)
    except psycopg.Error as err:
        cur.execute("ROLLBACK TO SAVEPOINT e")
        return ("error", err.sqlstate)


def set_claims(cur, claims):
    if claims is UNSET:
        cur.execute("SET LOCAL request.jwt.claims TO DEFAULT")
    else:
        cur.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))


@pytest.fixture
def ref_db(cluster, db):
    with cluster.connect(db) as c:
        c.execute(REFERENCE)
    return db


def run_corpus(conn, corpus):
    mismatches, errors, compared = [], 0, 0
    for claims in corpus:
        with conn.transaction():
            cur = conn.cursor()
            try:
                set_claims(cur, claims)
            except psycopg.Error:  # e.g. NUL bytes cannot even be sent as a setting
                cur = None
            if cur is None:
                continue
            for native, reference in CALLS:
                got, want = evaluate(cur, native), evaluate(cur, reference)
                compared += 1
                errors += got[0] == "error"
                if got != want:
                    mismatches.append((claims if claims is not UNSET else "<unset>", native, got, want))
    return mismatches, errors, compared


def test_native_equals_reference_on_corpus(cluster, ref_db):
    with cluster.connect(ref_db) as conn:
        mismatches, errors, compared = run_corpus(conn, CORPUS)
    assert not mismatches, "\n".join(map(repr, mismatches[:20]))
    # The corpus really exercises both outcomes.
    # Every value but the one with a raw NUL (which no client can send) is compared,
    # and the corpus really exercises both outcomes.
    assert compared == len(CALLS) * (len(CORPUS) - 1)
    assert 100 < errors < compared / 2


def test_native_equals_reference_in_any_order(cluster, ref_db):
    """The same corpus shuffled (and repeated) on one connection: the cache never
    serves the previous value's answers."""
    rng = random.Random(20261122)
    corpus = CORPUS * 3
    rng.shuffle(corpus)
    with cluster.connect(ref_db) as conn:
        mismatches, _, _ = run_corpus(conn, corpus)
    assert not mismatches, "\n".join(map(repr, mismatches[:20]))


def test_malformed_claims_raise_postgres_own_error(cluster, db):
    with cluster.connect(db) as conn:
        for claims, sqlstate in [("{bad", "22P02"), ('{"sub":"a\\u0000b"}', "22P05"), ("   ", "22P02")]:
            for fn in ("insforge.jwt()", "insforge.requesting_user_id()", "insforge.claim('sub')"):
                with pytest.raises(psycopg.Error) as err:
                    with conn.transaction():
                        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
                        conn.execute(f"select {fn}")
                assert err.value.sqlstate == sqlstate, (claims, fn, err.value)
