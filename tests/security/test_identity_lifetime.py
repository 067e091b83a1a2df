"""Attack class 4: an identity outliving its token or its key. With `request.headers` (or
`request.jwt.claims`) set for the whole session, as a direct or pooled connection can, verified
and strict modes must verify and validate again in every transaction: a token that expired
(leeway 0, against the transaction's start) or a key replaced or removed by another session ends
the identity at the next transaction."""
import json
import time

import jwt as pyjwt
import psycopg
import pytest
from attack import KEY, one, store_key

ROTATED = "security-suite-rotated-secret-fedcba9876543210-fedcba98765"


def bearer(sub, secret=KEY, ttl=3):
    token = pyjwt.encode({"sub": sub, "role": "authenticated", "exp": int(time.time()) + ttl}, secret, algorithm="HS256")
    return json.dumps({"authorization": "Bearer " + token})


def configure(cluster, db, *settings):
    with cluster.connect(db) as c:
        store_key(c)
        for s in settings:
            c.execute(f'ALTER DATABASE "{db}" SET {s}')


def test_verified_identity_ends_when_the_token_expires(cluster, db):
    configure(cluster, db, "insforge_integrations.claims_source = verified", "insforge_integrations.jwt_leeway = 0")
    with cluster.connect(db) as conn:
        conn.execute("SELECT set_config('request.headers', %s, false)", (bearer("user_short", ttl=2),))
        assert one(conn, "SELECT insforge.requesting_user_id()") == "user_short"
        with conn.transaction():  # within one transaction the identity holds
            assert one(conn, "SELECT insforge.requesting_user_id()") == "user_short"
            time.sleep(3)
            assert one(conn, "SELECT insforge.requesting_user_id()") == "user_short"
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
            conn.execute("SELECT insforge.requesting_user_id()")


def test_verified_identity_ends_when_the_key_changes_in_another_session(cluster, db):
    configure(cluster, db, "insforge_integrations.claims_source = verified")
    with cluster.connect(db) as conn, cluster.connect(db) as admin:
        conn.execute("SELECT set_config('request.headers', %s, false)", (bearer("user_k", ttl=600),))
        assert one(conn, "SELECT insforge.requesting_user_id()") == "user_k"
        admin.execute("SELECT insforge.set_jwt_secret(%s)", (ROTATED,))
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="signature"):
            conn.execute("SELECT insforge.requesting_user_id()")
        admin.execute("SELECT insforge.set_jwt_secret(NULL)")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="no JWT key"):
            conn.execute("SELECT insforge.requesting_user_id()")
        admin.execute("SELECT insforge.set_jwt_secret(%s)", (KEY,))
        assert one(conn, "SELECT insforge.requesting_user_id()") == "user_k"


def test_strict_mode_validates_session_claims_in_every_transaction(cluster, db):
    configure(cluster, db, "insforge_integrations.strict = on", "insforge_integrations.jwt_leeway = 0")
    with cluster.connect(db) as conn:
        claims = {"sub": "user_s", "role": "authenticated", "exp": int(time.time()) + 2}
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)", (json.dumps(claims),))
        assert one(conn, "SELECT requesting_user_id()") == "user_s"
        time.sleep(3)
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
            conn.execute("SELECT requesting_user_id()")
