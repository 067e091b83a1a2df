"""The extension builds and reads jsonb without a text round trip: verify_jwt lays
out its result directly, the x402 functions read their jsonb arguments from jsonb's binary
layout and build their jsonb results directly. These tests pin that every such value is exactly
what Postgres's own text path gives: the same jsonb (`=`), the same text, and the same stored
size (so numerics are laid out as numeric_in lays them out), including the values that must take
the text path (fractions, numbers beyond 64 bits, NUL-free unicode escapes, deep nesting)."""
import base64
import hashlib
import hmac
import json

import pytest

SECRET = "jsonb-paths-test-secret-0123456789abcdef"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(payload_text: str) -> str:
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(payload_text.encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


INTEGERS = [0, 1, -1, 9, 10, 9999, 10000, 10001, 99990000, 100000000, 1763800000, 4102444800, -4102444800,
            123456789012345678, 2**31, -2**31, 2**53 + 1, 2**63 - 1, -2**63, 2**63, 2**64 - 1]
PAYLOADS = [
    '{"sub":"u","exp":4102444800,"iat":1763800000,"nbf":1763799990,"aud":"insforge-api","role":"authenticated"}',
    '{"n":[' + ",".join(str(i) for i in INTEGERS) + '],"m":{"x":-0,"y":0}}',
    '{"f":1.5,"g":1e3,"h":-2.50,"i":100.0}',
    '{"big":18446744073709551616,"neg":-9223372036854775809,"huge":1' + "0" * 60 + '}',
    '{"s":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\n\\t","k\\u00e9y":true,"e":"","z":null,"t":false}',
    '{"b":1,"a":2,"ab":3,"aa":4,"b":5,"":6,"aaa":{"c":[[],{}],"b":[1,[2,[3]]]}}',
    '{"deep":' + "[" * 90 + "1" + "]" * 90 + '}',
    '{}',
    # More than 32 keys and elements: every 32nd JEntry holds an offset, not a length.
    json.dumps({f"k{i:03d}": (i if i % 3 else [i, str(i), None, {"n": -i}]) for i in range(75)}),
    json.dumps({"a": list(range(-40, 40)), "s": ["x" * i for i in range(40)], "t": True}),
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_verify_jwt_result_is_payload_jsonb(cluster, db, payload):
    with cluster.connect(db) as c:
        row = c.execute(
            "select v = p::jsonb, v::text = p::jsonb::text, pg_column_size(v) = pg_column_size(p::jsonb)"
            "  from (select insforge.verify_jwt(%s, %s) v, %s::text p) s",
            (hs256(payload), SECRET, payload)).fetchone()
        assert row == (True, True, True), payload


VALUES = PAYLOADS + [
    '{"x402Version": 2, "maxTimeoutSeconds": 300, "amount": "1000", "neg": -300, "nested": {"k": [0, 10000]}}',
    '{"a": [1, "two", {"three": 3.0}, true, null, -1.25e-7]}',
]


def serde_text(value):
    """serde_json's compact text of a value without fractions: keys sorted by bytes, the same escapes."""
    return json.dumps(json.loads(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def has_fraction(value):
    return any(isinstance(x, float) for x in walk(json.loads(value, parse_int=int)))


def walk(v):
    yield v
    if isinstance(v, dict):
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


@pytest.mark.parametrize("value", VALUES)
def test_jsonb_arguments_and_results_match_the_text_path(cluster, db, value):
    """encode_header(jsonb) serializes its argument as read (from jsonb's layout where it can);
    decode_header builds its jsonb result directly: both must match the text path exactly."""
    with cluster.connect(db) as c:
        header = c.execute("select x402.encode_header(%s::jsonb)", (value,)).fetchone()[0]
        row = c.execute(
            "select d = t, d::text = t::text, pg_column_size(d) = pg_column_size(t)"
            "  from (select x402.decode_header(%s) d, convert_from(decode(%s, 'base64'), 'utf8')::jsonb t) s",
            (header, header)).fetchone()
        assert row == (True, True, True), value
        text = base64.b64decode(header).decode()
        if has_fraction(value) or "big" in value:
            assert json.loads(text, parse_int=float) == json.loads(value, parse_int=float), value
        else:
            assert text == serde_text(value), value


def beyond_i64(value):
    return any(isinstance(x, int) and not isinstance(x, bool) and not -2**63 <= x < 2**63
               for x in walk(json.loads(value)))


# What both our reader and our writer take directly: integers of an i64, no deep nesting.
DIRECT = [v for v in VALUES if not has_fraction(v) and not beyond_i64(v) and "deep" not in v]


@pytest.mark.parametrize("value", DIRECT)
def test_our_layout_code_agrees_with_postgres_own(cluster, db, value):
    """The reader gives the value PostgreSQL's JsonbIteratorNext walk gives, and the writer the
    bytes JsonbValueToJsonb gives, on the same document (insforge._jsonb_layout_bench() checks
    both while it times them; the benchmark refuses to report a difference)."""
    with cluster.connect(db) as c:
        rows = c.execute("SELECT half, identical FROM insforge._jsonb_layout_bench(%s, 15) ORDER BY half",
                         (value,)).fetchall()
        assert rows == [("read", True), ("write", True)], value


def test_the_layout_benchmark_is_internal(cluster, db):
    with cluster.connect(db) as c:
        for role in ("project_admin", "authenticated", "anon"):
            assert c.execute("SELECT has_function_privilege(%s, 'insforge._jsonb_layout_bench(text, integer)',"
                             " 'EXECUTE')", (role,)).fetchone()[0] is False, role
        with pytest.raises(Exception) as err:
            c.execute("SELECT * FROM insforge._jsonb_layout_bench('{\"a\": 1.5}', 15)")
        assert err.value.sqlstate == "22023"


def test_unrepresentable_numbers_still_raise_22023(cluster, db):
    with cluster.connect(db) as c:
        for value in ['{"a": 1e400}', '{"a": ' + "[" * 130 + "]" * 130 + '}']:
            with pytest.raises(Exception) as e:
                c.execute("select x402.encode_header(%s::jsonb)", (value,))
            assert getattr(e.value, "sqlstate", None) == "22023", value
            c.rollback()


def test_verify_jwt_in_a_latin1_database_takes_jsonb_in(cluster):
    """The direct writer stores strings as UTF-8; in a database of another encoding jsonb_in
    converts \\u escapes into that encoding, so verify_jwt takes jsonb_in's path there."""
    name = "jsonb_latin1"
    with cluster.connect() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    try:
        with cluster.connect(name) as c:
            c.execute("CREATE EXTENSION insforge_integrations")
            payload = '{"sub":"caf\\u00e9","n":[1,-2,10000],"o":{"b":1,"a":"\\u00e9t\\u00e9"}}'
            row = c.execute(
                "select v = p::jsonb, v::text = p::jsonb::text, pg_column_size(v) = pg_column_size(p::jsonb),"
                " v ->> 'sub' = 'caf' || chr(233)"
                "  from (select insforge.verify_jwt(%s, %s) v, %s::text p) s",
                (hs256(payload), SECRET, payload)).fetchone()
            assert row == (True, True, True, True)
    finally:
        with cluster.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
