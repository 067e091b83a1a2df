"""Claims you can trust: the stored key, verify_jwt for every algorithm
and key form (PyJWT as the independent signer, keys generated here), claim
validation, strict mode, authenticate() and verified mode."""
import json
import subprocess
import time

import jwt as pyjwt
import psycopg
import pytest
from conftest import PROVIDER_USERS
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from pgcluster import FIXTURES, postgrest_request

SECRET = "insforge-project-jwt-secret-0123456789abcdef-0123456789abcdef"



def now():
    """Seconds since the epoch, read at each use: the suite runs for a while."""
    return int(time.time())


def pem_public(private):
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    return {"rsa": rsa_key, "p256": p256, "p384": p384, "ed": ed}


def jwk_of(alg_cls, private, kid=None, alg=None):
    d = json.loads(alg_cls.to_jwk(private.public_key()))
    if kid:
        d["kid"] = kid
    if alg:
        d["alg"] = alg
    return d


ALGS = [("HS256", None), ("HS384", None), ("HS512", None), ("RS256", "rsa"), ("RS384", "rsa"), ("RS512", "rsa"),
        ("PS256", "rsa"), ("PS384", "rsa"), ("PS512", "rsa"), ("ES256", "p256"), ("ES384", "p384"), ("EdDSA", "ed")]
JWK_CLS = {"rsa": RSAAlgorithm, "p256": ECAlgorithm, "p384": ECAlgorithm, "ed": OKPAlgorithm}


def claims(**extra):
    c = {"sub": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "role": "authenticated", "aud": "insforge-api",
         "iat": now(), "exp": now() + 3600}
    c.update(extra)
    return c


def sign(alg, keys, kind, payload, kid=None):
    key = SECRET if kind is None else keys[kind]
    return pyjwt.encode(payload, key, algorithm=alg, headers={"kid": kid} if kid else None)


def verify(conn, token, key, *args):
    extra = "".join(", %s" for _ in args)
    return conn.execute(f"select insforge.verify_jwt(%s, %s{extra})", (token, key, *args)).fetchone()[0]


def rejects(conn, token, key, sqlstate, match, *args):
    with pytest.raises(psycopg.Error, match=match) as err:
        verify(conn, token, key, *args)
    assert err.value.sqlstate == sqlstate, err.value


# -- verify_jwt: every algorithm, every key form ------------------------------------------------------------

@pytest.mark.parametrize("alg,kind", ALGS, ids=[a for a, _ in ALGS])
def test_every_algorithm_and_key_form(cluster, db, keys, alg, kind):
    payload = claims()
    if kind is None:
        forms = {"secret": SECRET,
                 "jwk": json.dumps({"kty": "oct", "k": pyjwt.utils.base64url_encode(SECRET.encode()).decode()})}
    else:
        forms = {"pem": pem_public(keys[kind]), "jwk": json.dumps(jwk_of(JWK_CLS[kind], keys[kind]))}
    other = {"kty": "oct", "k": "c2hvcnQ", "kid": "other"}
    with cluster.connect(db) as conn:
        for form, key in forms.items():
            assert verify(conn, sign(alg, keys, kind, payload), key) == payload, form
        jwk = json.loads(forms["jwk"])
        jwk["kid"] = "k1"
        jwks = json.dumps({"keys": [other, jwk]})
        assert verify(conn, sign(alg, keys, kind, payload, kid="k1"), jwks) == payload
        # In a JWKS the header's kid picks the key: an unknown kid is refused.
        rejects(conn, sign(alg, keys, kind, payload, kid="nope"), jwks, "28000", "kid 'nope'")
        # No kid and a single usable key: that key.
        single = json.dumps({"keys": [jwk]})
        assert verify(conn, sign(alg, keys, kind, payload), single) == payload
        # A tampered payload fails the signature.
        h, p, s = sign(alg, keys, kind, payload).split(".")
        forged = pyjwt.utils.base64url_encode(json.dumps(claims(sub="someone_else")).encode()).decode()
        rejects(conn, f"{h}.{forged}.{s}", forms[list(forms)[0]], "28000", "signature")


def test_rejections(cluster, db, keys):
    rsa_pem = pem_public(keys["rsa"])
    good = sign("HS256", keys, None, claims())
    with cluster.connect(db) as conn:
        # alg none, in any case.
        none = pyjwt.encode(claims(), None, algorithm="none")
        rejects(conn, none, SECRET, "28000", "'none'")
        h = pyjwt.utils.base64url_encode(b'{"alg":"NoNe","typ":"JWT"}').decode()
        rejects(conn, h + "." + none.split(".")[1] + ".", SECRET, "28000", "(?i)none")
        # Algorithm confusion: HS256 signed with the RSA public key's PEM as the HMAC secret.
        h = pyjwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
        p = pyjwt.utils.base64url_encode(json.dumps(claims()).encode()).decode()
        import hashlib
        import hmac
        sig = pyjwt.utils.base64url_encode(hmac.new(rsa_pem.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
        rejects(conn, f"{h}.{p}.{sig.decode()}", rsa_pem, "28000", "HS256")
        # An EC token against an RSA key, an RSA token against an HMAC secret.
        rejects(conn, sign("ES256", keys, "p256", claims()), rsa_pem, "28000", "ES256")
        rejects(conn, sign("RS256", keys, "rsa", claims()), SECRET, "28000", "RS256")
        rejects(conn, good, "a-different-secret-of-some-length", "28000", "JWT signature does not match")
        # Time: expired (with the default 30 s leeway), not yet valid.
        rejects(conn, sign("HS256", keys, None, claims(exp=now() - 312)), SECRET, "28000", r"JWT expired \d+ s ago")
        assert verify(conn, sign("HS256", keys, None, claims(exp=now() - 10)), SECRET)["sub"]  # within leeway
        rejects(conn, sign("HS256", keys, None, claims(nbf=now() + 600)), SECRET, "28000", "not valid for another")
        # Audience and issuer: checked when given (argument) or configured (setting).
        rejects(conn, good, SECRET, "28000", "audience 'insforge-api' not accepted", "other-api")
        assert verify(conn, good, SECRET, "x, insforge-api")["aud"] == "insforge-api"
        arr = sign("HS256", keys, None, claims(aud=["a", "insforge-api"]))
        assert verify(conn, arr, SECRET, "insforge-api")["aud"] == ["a", "insforge-api"]
        rejects(conn, good, SECRET, "28000", "iss", None, "https://clerk.example.com")
        conn.execute("set insforge_integrations.jwt_audience = 'only-this'")
        rejects(conn, good, SECRET, "28000", "audience")
        conn.execute("reset insforge_integrations.jwt_audience")
        # Malformed tokens and keys.
        rejects(conn, "not-a-jwt", SECRET, "28000", "3 dot-separated parts")
        rejects(conn, good, '{"kty":"RSA","n":"!!"}', "22023", "")
        rejects(conn, good, "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "22023", "")
        rejects(conn, good, '{"keys": [{"kty": "EC", "crv": "P-256"}]}', "22023", "")


# Clerk's template tokens live 60 s: their times are relative to the moment the test runs
# (offsets from now(), filled in by the test), not to when the module was imported.
GUIDE_TOKENS = {
    "clerk": dict(sub=PROVIDER_USERS["clerk"], iss="https://demo-app.clerk.accounts.dev",
                  azp="https://app.example.com", sid="sess_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", nbf=-5, exp=60),
    "auth0": {"sub": PROVIDER_USERS["auth0"], "email": "ada@example.com",
              "https://insforge.dev/insforge_token": "eyJ.inner.token"},
    "workos": dict(sub=PROVIDER_USERS["workos"], user_email="linus@example.com"),
    "kinde": dict(sub=PROVIDER_USERS["kinde"], email="ken@example.com"),
    "stytch": dict(sub=PROVIDER_USERS["stytch"]),
    "better_auth": dict(sub=PROVIDER_USERS["better_auth"]),
    "insforge": dict(sub=PROVIDER_USERS["insforge"], email="native@example.com"),
}


@pytest.mark.parametrize("provider", GUIDE_TOKENS)
def test_tokens_as_the_guides_mint_them(cluster, db, keys, provider):
    shape = {k: now() + v if k in ("nbf", "exp") else v for k, v in GUIDE_TOKENS[provider].items()}
    payload = claims(**shape)
    token = sign("HS256", keys, None, payload)
    with cluster.connect(db) as conn:
        got = verify(conn, token, SECRET, "insforge-api")
        assert got == payload
        assert conn.execute("select insforge.auth_provider(%s::jsonb)", (json.dumps(got),)).fetchone()[0] == provider
        assert conn.execute("select insforge.validate_claims(%s::jsonb)", (json.dumps(got),)).fetchone()[0] == []


# -- validation -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,problem", [
    ({"sub": None}, "missing_sub"), ({"sub": ""}, "missing_sub"), ({"exp": now() - 3600}, "expired"),
    ({"nbf": now() + 3600}, "not_yet_valid"), ({"aud": "elsewhere"}, "audience"), ({"iss": "https://evil"}, "issuer"),
    ({"role": "project_admin"}, "role"), ({"sub": "auth0|64b1f0c2e4a7d9b3c5e6f708", "iss": None}, "provider_mismatch"),
])
def test_validate_claims_each_problem(cluster, db, bad, problem):
    c = {k: v for k, v in {**claims(iss="https://demo.clerk.accounts.dev"), **bad}.items() if v is not None}
    with cluster.connect(db) as conn:
        conn.execute("set insforge_integrations.jwt_audience = 'insforge-api'")
        conn.execute("set insforge_integrations.jwt_issuers = 'https://demo.clerk.accounts.dev'")
        conn.execute("set insforge_integrations.jwt_providers = 'clerk'")
        if problem == "provider_mismatch":
            conn.execute("reset insforge_integrations.jwt_issuers")
        got = conn.execute("select insforge.validate_claims(%s::jsonb)", (json.dumps(c),)).fetchone()[0]
        assert got == [problem]
        with conn.transaction():
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(c),))
            assert conn.execute("select insforge.claims_valid()").fetchone() == (False,)
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match=problem):
                with conn.transaction():
                    conn.execute("select insforge.require_valid_claims()")


def test_claims_valid_for_current_request(cluster, db):
    with cluster.connect(db, user="authenticator") as conn:
        with postgrest_request(conn, claims()) as cur:
            assert cur.execute("select insforge.claims_valid(), insforge.auth_provider()").fetchone() == (True, "clerk")
            cur.execute("select insforge.require_valid_claims()")
        with postgrest_request(conn, None, role="anon") as cur:
            assert cur.execute("select insforge.claims_valid()").fetchone() == (False,)


def test_settings_are_superuser_only(cluster, db):
    with cluster.connect(db) as c:
        c.execute("select insforge.role()")  # settings exist once the library is loaded
        rows = dict(c.execute("select name, setting from pg_settings where name like 'insforge\\_integrations.%'").fetchall())
        assert rows["insforge_integrations.jwt_roles"] == "anon,authenticated" and rows["insforge_integrations.jwt_leeway"] == "30"
        assert rows["insforge_integrations.strict"] == "off" and rows["insforge_integrations.claims_source"] == "setting"
    with cluster.connect(db, user="authenticator") as conn:
        conn.execute("select insforge.role()")
        for setting in ("insforge_integrations.strict = off", "insforge_integrations.jwt_audience = ''", "insforge_integrations.claims_source = setting",
                        "insforge_integrations.jwt_leeway = 99999"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"set {setting}")


def test_placeholder_set_before_load_cannot_weaken_settings(cluster, db):
    """Before the library loads, insforge_integrations.* names are placeholders anyone can SET;
    when it loads, Postgres re-checks who set them and drops a non-superuser's value."""
    with cluster.connect() as c:
        c.execute(f'alter database "{db}" set insforge_integrations.claims_source = verified')
        c.execute(f'alter database "{db}" set insforge_integrations.strict = on')
    with cluster.connect(db, user="authenticator") as conn:
        conn.execute("set insforge_integrations.claims_source = setting")
        conn.execute("set insforge_integrations.strict = off")
        conn.execute("select insforge.role()")
        assert conn.execute("select current_setting('insforge_integrations.claims_source'), current_setting('insforge_integrations.strict')"
                            ).fetchone() == ("verified", "on")


# -- strict mode ------------------------------------------------------------------------------------------

def test_strict_mode(cluster, db):
    with cluster.connect(db) as c:
        c.execute((FIXTURES / "notes.sql").read_text())
        c.execute("insert into notes(user_id, body) values ('u1', 'x')")
    expired = claims(sub="u1", exp=now() - 3600)
    with cluster.connect(db, user="authenticator") as conn:
        with postgrest_request(conn, expired) as cur:  # off by default: InsForge behaviour
            assert cur.execute("select requesting_user_id(), count(*) from notes").fetchone() == ("u1", 1)
    with cluster.connect() as c:
        c.execute(f'alter database "{db}" set insforge_integrations.strict = on')
    with cluster.connect(db, user="authenticator") as conn:
        for fn in ("requesting_user_id()", "insforge.requesting_user_id()", "count(*) from notes"):
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
                with postgrest_request(conn, expired) as cur:
                    cur.execute(f"select {fn}")
        with postgrest_request(conn, claims(sub="u1")) as cur:
            assert cur.execute("select requesting_user_id(), count(*) from notes").fetchone() == ("u1", 1)
        with postgrest_request(conn, {"role": "anon"}) as cur:  # anonymous requests have no subject to refuse
            assert cur.execute("select requesting_user_id()").fetchone() == (None,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set insforge_integrations.strict = off")


# -- the stored key ---------------------------------------------------------------------------------------

def test_stored_key_is_unreadable_by_non_superusers(cluster, db):
    secret = "s3cr3t-" + "k" * 40
    with cluster.connect(db) as c:
        c.execute("create role app_login login")
        c.execute("grant anon, authenticated, project_admin to app_login")
        assert c.execute("select insforge.jwt_secret_configured()").fetchone() == (False,)
        c.execute("select insforge.set_jwt_secret(%s)", (secret,))
        assert c.execute("select insforge.jwt_secret_configured()").fetchone() == (True,)
    with cluster.connect(db, user="app_login") as conn:
        for role in ("anon", "authenticated"):  # clients may not set it (project_admin, the operator, may)
            conn.execute(f"set role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="project_admin"):
                conn.execute("select insforge.set_jwt_secret('mine')")
        conn.execute("reset role")
        for role in ("app_login", "anon", "authenticated", "project_admin"):
            conn.execute(f"set role {role}")
            assert conn.execute("select insforge.jwt_secret_configured()").fetchone() == (True,)
            for sql in ("select * from insforge.jwt_secret", "select insforge._jwt_key()"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
            # Every setting, by every path: SHOW ALL, pg_settings, current_setting().
            shown = conn.execute("show all").fetchall()
            assert not [r for r in shown if secret in " ".join(map(str, r))]
            names = [r[0] for r in conn.execute("select name from pg_settings").fetchall()]
            assert all(secret not in (conn.execute("select current_setting(%s, true)", (n,)).fetchone()[0] or "")
                       for n in names)
            # pg_db_role_setting is world-readable; the key is never stored there.
            assert not conn.execute("select 1 from pg_db_role_setting where array_to_string(setconfig, ',') like %s",
                                    (f"%{secret}%",)).fetchall()
            # Every table and view this role can read.
            rels = conn.execute(
                "select c.oid::regclass::text from pg_class c where c.relkind in ('r','v','m','p')"
                " and has_table_privilege(c.oid, 'SELECT')").fetchall()
            for (rel,) in rels:
                with conn.transaction():
                    hit = conn.execute(f"select count(*) from {rel} t where t::text like %s",
                                       (f"%{secret}%",)).fetchone()[0]
                assert hit == 0, rel
            conn.execute("reset role")
    # Not in backups either.
    dump = subprocess.run([str(cluster.bin / "pg_dump"), "-h", str(cluster.base), "-p", str(cluster.port),
                           "-U", "postgres", db], capture_output=True, text=True, check=True).stdout
    assert secret not in dump and "CREATE EXTENSION IF NOT EXISTS insforge_integrations" in dump


def test_set_jwt_secret_rejects_malformed_keys(cluster, db):
    with cluster.connect(db) as c:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("""select insforge.set_jwt_secret('{"kty":"RSA","n":"x"}')""")
        assert c.execute("select insforge.jwt_secret_configured()").fetchone() == (False,)
        c.execute("select insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute("select insforge.set_jwt_secret(NULL)")
        assert c.execute("select insforge.jwt_secret_configured()").fetchone() == (False,)


# -- authenticate() and verified mode -----------------------------------------------------------------------

@pytest.fixture
def keyed_db(cluster, db):
    with cluster.connect(db) as c:
        c.execute("select insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute((FIXTURES / "notes.sql").read_text())
        c.execute("insert into notes(user_id, body) select 'user_' || (g % 10), 'n' from generate_series(1, 100000) g")
        c.execute("analyze notes")
    return db


def token_for(sub, **extra):
    return pyjwt.encode(claims(sub=sub, **extra), SECRET, algorithm="HS256")


def test_authenticate(cluster, keyed_db):
    with cluster.connect(keyed_db, user="authenticator") as conn:
        with pytest.raises(psycopg.errors.NoActiveSqlTransaction, match="transaction block"):
            conn.execute("select insforge.authenticate(%s)", (token_for("user_1"),))
        with conn.transaction():
            assert conn.execute("select insforge.authenticate(%s)", (token_for("user_1"),)).fetchone() == ("user_1",)
            row = conn.execute("select current_user, requesting_user_id(), count(*) from notes").fetchone()
            assert row == ("authenticated", "user_1", 10000)
        assert conn.execute("select current_user, requesting_user_id()").fetchone() == ("authenticator", None)
        for bad, match in [(token_for("user_1", exp=now() - 600), "expired"),
                           (pyjwt.encode(claims(), "wrong-secret-wrong-secret-wrong", algorithm="HS256"), "signature"),
                           (token_for("user_1", role="project_admin"), "role"),
                           (token_for("", role="authenticated"), "missing_sub")]:
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match=match):
                with conn.transaction():
                    conn.execute("select insforge.authenticate(%s)", (bad,))
        assert conn.execute("select current_user, requesting_user_id()").fetchone() == ("authenticator", None)
    # Postgres's own SET ROLE rules apply: a login that is not a member of the role cannot become it.
    with cluster.connect(keyed_db) as c:
        c.execute("create role outsider login")
        c.execute("grant usage on schema insforge to outsider")
    with cluster.connect(keyed_db, user="outsider") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with conn.transaction():
                conn.execute("select insforge.authenticate(%s)", (token_for("user_1"),))


def test_verified_mode_trusts_only_verified_claims(cluster, keyed_db):
    with cluster.connect() as c:
        c.execute(f'alter database "{keyed_db}" set insforge_integrations.claims_source = verified')
    with cluster.connect(keyed_db, user="authenticator") as conn:
        # Hand-written claims impersonate nobody.
        with postgrest_request(conn, claims(sub="user_3")) as cur:
            assert cur.execute("select requesting_user_id(), count(*) from notes").fetchone() == (None, 0)
        # The bearer token PostgREST puts in request.headers is verified.
        with conn.transaction():
            conn.execute("select set_config('role', 'authenticated', true),"
                         " set_config('request.jwt.claims', %s, true),"
                         " set_config('request.headers', %s, true)",
                         (json.dumps(claims(sub="user_4")), json.dumps({"authorization": "Bearer " + token_for("user_4")})))
            before = conn.execute("select insforge.token_verification_count()").fetchone()[0]
            assert conn.execute("select requesting_user_id(), count(*) from notes").fetchone() == ("user_4", 10000)
            assert conn.execute("select insforge.token_verification_count()").fetchone()[0] - before == 1
            # Parallel workers verify the same token and see the same rows.
            for s in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0"):
                conn.execute(f"set local {s}")
            plan = json.dumps(conn.execute("explain (analyze, format json) select count(*) from notes").fetchone()[0])
            assert '"Workers Launched": 2' in plan
            assert conn.execute("select count(*) from notes").fetchone() == (10000,)
        # A forged bearer token is refused loudly.
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="signature"):
            with conn.transaction():
                forged = pyjwt.encode(claims(sub="user_5"), "not-the-project-secret-xxxxxxxxxx", algorithm="HS256")
                conn.execute("select set_config('request.headers', %s, true)",
                             (json.dumps({"authorization": "Bearer " + forged}),))
                conn.execute("select requesting_user_id()")
        # authenticate() establishes claims; rewriting request.jwt.claims afterwards changes nothing.
        with conn.transaction():
            conn.execute("select insforge.authenticate(%s)", (token_for("user_6"),))
            conn.execute("""select set_config('request.jwt.claims', '{"sub":"user_7"}', true)""")
            assert conn.execute("select requesting_user_id(), count(*) from notes").fetchone() == ("user_6", 10000)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute("""select set_config('insforge_integrations.verified_claims', '{"sub":"user_7"}', true)""")
            for s in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0"):
                conn.execute(f"set local {s}")
            assert conn.execute("select count(*) from notes").fetchone() == (10000,)
        with conn.transaction():
            assert conn.execute("select requesting_user_id()").fetchone() == (None,)


def test_verify_jwt_nulls_and_exact_claims(cluster, db, keys):
    """NULL token or key gives NULL (never an internal error), and the claims returned are
    exactly `payload::jsonb`, whichever way they are built."""
    with cluster.connect(db) as conn:
        assert conn.execute("select insforge.verify_jwt(NULL, %s), insforge.verify_jwt(%s, NULL)",
                            (SECRET, sign("HS256", keys, None, claims()))).fetchone() == (None, None)
        payloads = [
            claims(), claims(ratio=1.5, tiny=1e-7, big=12345678901234567890123, neg=-42, zero=0),
            claims(name="Zoë 😀 \"quoted\" \\ back", nested={"a": [1, {"b": None, "c": True}], "e": []}),
            claims(permissions=["read:notes", "write:notes"], **{"https://insforge.dev/insforge_token": "x"}),
            claims(u64=18446744073709551615, i64=-9223372036854775808),
        ]
        for payload in payloads:
            token = sign("HS256", keys, None, payload)
            body = token.split(".")[1]
            raw = pyjwt.utils.base64url_decode(body.encode()).decode()
            same = conn.execute("select insforge.verify_jwt(%s, %s) = %s::jsonb, insforge.verify_jwt(%s, %s)::text",
                                (token, SECRET, raw, token, SECRET)).fetchone()
            assert same[0], (raw, same[1])
        # Duplicate keys: the last wins, as in jsonb.
        h = pyjwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
        p = pyjwt.utils.base64url_encode(b'{"sub":"a","sub":"b","exp":4102444800}').decode()
        import hashlib
        import hmac
        sig = pyjwt.utils.base64url_encode(hmac.new(SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
        assert conn.execute("select insforge.verify_jwt(%s, %s) ->> 'sub'", (f"{h}.{p}.{sig.decode()}", SECRET)
                            ).fetchone() == ("b",)
        # A NUL in a claim: jsonb cannot hold it, and says so as ::jsonb does.
        p = pyjwt.utils.base64url_encode(b'{"sub":"a\\u0000b"}').decode()
        sig = pyjwt.utils.base64url_encode(hmac.new(SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
        with pytest.raises(psycopg.errors.UntranslatableCharacter):
            conn.execute("select insforge.verify_jwt(%s, %s)", (f"{h}.{p}.{sig.decode()}", SECRET))
