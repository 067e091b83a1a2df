#!/usr/bin/env python3
"""Generate independent JWT test vectors for core/src/jwt and core/src/validate.

Signs with PyJWT + cryptography (`pip install pyjwt cryptography`), so the
Rust verifier is checked against a second, unrelated implementation.

Writes, next to this script:
  jwt_keys.json     private test keys (PKCS#8 PEM), created on the first run
                    and reused afterwards so re-running does not churn keys.
                    Test fixtures only: never use them anywhere else.
  jwt_vectors.json  the vectors. HS*, RS* and EdDSA signatures are
                    deterministic; ES* (random k) and PS* (random salt)
                    signatures change on every run, nothing else does.

Each vector:
  name        unique label
  token       compact JWS
  key         key text exactly as a user would configure it (secret, PEM,
              JWK or JWKS JSON)
  now         unix seconds the verifier must use (never the wall clock)
  leeway      seconds
  audiences   null or list (accepted aud)
  issuers     null or list (accepted iss)
  expect      {"claims": {...}}                       the verified claims, or
              {"error": "Invalid"|"MalformedKey", "message": "<substring>"}
  provider    (only with "claims") expected auth_provider(claims), or null
  validate    (optional) {"rules": {audiences, issuers, roles, leeway,
              providers}, "problems": [...]}: validate_claims(claims, rules, now)
"""

import base64
import hashlib
import hmac
import json
import os

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_PATH = os.path.join(HERE, "jwt_keys.json")
OUT_PATH = os.path.join(HERE, "jwt_vectors.json")

NOW = 1_750_000_000
HOUR = 3600
SECRET = "insforge-test-jwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz!!"
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs512-0123456789-abcdefghij"

# ------------------------------------------------------------------ keys


def load_or_create_keys():
    if os.path.exists(KEYS_PATH):
        with open(KEYS_PATH) as f:
            pems = json.load(f)
    else:
        pems = {}
    specs = {
        "rsa2048_a": lambda: rsa.generate_private_key(65537, 2048),
        "rsa2048_b": lambda: rsa.generate_private_key(65537, 2048),
        "rsa3072": lambda: rsa.generate_private_key(65537, 3072),
        "rsa4096": lambda: rsa.generate_private_key(65537, 4096),
        "rsa1024": lambda: rsa.generate_private_key(65537, 1024),
        "p256_a": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p256_b": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "p521": lambda: ec.generate_private_key(ec.SECP521R1()),
        "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
        "ed25519_a": lambda: ed25519.Ed25519PrivateKey.generate(),
        "ed25519_b": lambda: ed25519.Ed25519PrivateKey.generate(),
        "ed448": lambda: ed448.Ed448PrivateKey.generate(),
    }
    changed = False
    for name, make in specs.items():
        if name not in pems:
            key = make()
            pems[name] = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            changed = True
    if changed:
        with open(KEYS_PATH, "w") as f:
            json.dump(pems, f, indent=1, sort_keys=True)
            f.write("\n")
    return {
        name: serialization.load_pem_private_key(pem.encode(), None)
        for name, pem in pems.items()
    }


K = load_or_create_keys()


def spki(name):
    return (
        K[name]
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


def pkcs1(name):
    return (
        K[name]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )


def jwk(name, **extra):
    key = K[name].public_key()
    if name.startswith("rsa"):
        d = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif name.startswith("ed"):
        d = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        d = ECAlgorithm.to_jwk(key, as_dict=True)
    d = {k: v for k, v in d.items() if k in ("kty", "crv", "n", "e", "x", "y")}
    d.update(extra)
    return d


def oct_jwk(secret, **extra):
    d = {"kty": "oct", "k": b64u(secret.encode())}
    d.update(extra)
    return d


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def jwks(*keys):
    return dumps({"keys": list(keys)})


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ------------------------------------------------------------------ tokens


def sign(payload, alg, key_name=None, secret=SECRET, headers=None):
    key = secret if alg.startswith("HS") else K[key_name]
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def raw_token(header, payload, signature=b""):
    """A token assembled by hand (for things PyJWT refuses to make)."""
    h = b64u(dumps(header).encode())
    p = b64u(payload if isinstance(payload, bytes) else dumps(payload).encode())
    return f"{h}.{p}.{b64u(signature)}"


def hs_raw(header, payload, secret_bytes, digest=hashlib.sha256):
    h = b64u(dumps(header).encode())
    p = b64u(payload if isinstance(payload, bytes) else dumps(payload).encode())
    sig = hmac.new(secret_bytes, f"{h}.{p}".encode(), digest).digest()
    return f"{h}.{p}.{b64u(sig)}"


def base_claims(**extra):
    c = {
        "sub": "550e8400-e29b-41d4-a716-446655440000",
        "role": "authenticated",
        "aud": "insforge-api",
        "iat": NOW - 60,
        "exp": NOW + HOUR,
    }
    c.update(extra)
    return c


VECTORS = []


def add(name, token, key, expect, now=NOW, leeway=0, audiences=None, issuers=None, **more):
    assert all(v["name"] != name for v in VECTORS), name
    v = {
        "name": name,
        "token": token,
        "key": key,
        "now": now,
        "leeway": leeway,
        "audiences": audiences,
        "issuers": issuers,
        "expect": expect,
    }
    v.update(more)
    VECTORS.append(v)


def add_ok(name, token, key, claims, provider=None, **kw):
    add(name, token, key, {"claims": claims}, provider=provider, **kw)


def add_err(name, token, key, message, kind="Invalid", **kw):
    add(name, token, key, {"error": kind, "message": message}, **kw)


# ------------------------------------------------------------------ every algorithm x every key form

RSA_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]

for alg in ["HS256", "HS384", "HS512"]:
    c = base_claims(alg_test=alg)
    t = sign(c, alg)
    add_ok(f"{alg} secret", t, SECRET, c, "insforge")
    add_ok(f"{alg} jwk oct", t, dumps(oct_jwk(SECRET)), c, "insforge")
    add_ok(f"{alg} jwk oct alg", t, dumps(oct_jwk(SECRET, alg=alg, use="sig")), c, "insforge")
    add_ok(
        f"{alg} jwks oct kid",
        sign(c, alg, headers={"kid": "hs"}),
        jwks(oct_jwk(OTHER_SECRET, kid="other"), oct_jwk(SECRET, kid="hs")),
        c,
        "insforge",
    )
    add_err(f"{alg} wrong secret", t, OTHER_SECRET, "JWT signature does not match")

for size in ["rsa2048_a", "rsa3072", "rsa4096"]:
    for alg in RSA_ALGS:
        c = base_claims(alg_test=alg, key=size)
        t = sign(c, alg, size)
        add_ok(f"{alg} {size} spki pem", t, spki(size), c, "insforge")
        add_ok(f"{alg} {size} pkcs1 pem", t, pkcs1(size), c, "insforge")
        add_ok(f"{alg} {size} jwk", t, dumps(jwk(size)), c, "insforge")
        add_ok(
            f"{alg} {size} jwk alg kid use",
            sign(c, alg, size, headers={"kid": "r1"}),
            dumps(jwk(size, alg=alg, kid="r1", use="sig")),
            c,
            "insforge",
        )
        add_ok(
            f"{alg} {size} jwks",
            sign(c, alg, size, headers={"kid": "r1"}),
            jwks(jwk("p256_a", kid="e1"), jwk(size, kid="r1"), jwk("rsa2048_b", kid="r2")),
            c,
            "insforge",
        )

for alg, name in [("ES256", "p256_a"), ("ES384", "p384"), ("EdDSA", "ed25519_a")]:
    c = base_claims(alg_test=alg)
    t = sign(c, alg, name)
    add_ok(f"{alg} spki pem", t, spki(name), c, "insforge")
    add_ok(f"{alg} jwk", t, dumps(jwk(name)), c, "insforge")
    add_ok(
        f"{alg} jwk alg kid",
        sign(c, alg, name, headers={"kid": "k"}),
        dumps(jwk(name, alg=alg, kid="k")),
        c,
        "insforge",
    )
    add_ok(
        f"{alg} jwks",
        sign(c, alg, name, headers={"kid": "k2"}),
        jwks(jwk("rsa2048_a", kid="k1"), jwk(name, kid="k2", use="sig")),
        c,
        "insforge",
    )

# PEM with CRLF line endings and surrounding whitespace.
c = base_claims()
add_ok("RS256 pem crlf and whitespace", sign(c, "RS256", "rsa2048_a"),
       "\n  " + spki("rsa2048_a").replace("\n", "\r\n") + "\n\n", c, "insforge")

# ------------------------------------------------------------------ wrong keys (same type)

c = base_claims()
for alg, signer, other in [
    ("RS256", "rsa2048_a", "rsa2048_b"),
    ("PS256", "rsa2048_a", "rsa2048_b"),
    ("ES256", "p256_a", "p256_b"),
    ("EdDSA", "ed25519_a", "ed25519_b"),
]:
    add_err(f"{alg} wrong key", sign(c, alg, signer), spki(other), "JWT signature does not match")

# Tampered payload.
t = sign(c, "RS256", "rsa2048_a")
h, p, s = t.split(".")
tampered = f"{h}.{b64u(dumps(base_claims(role='service_role')).encode())}.{s}"
add_err("RS256 tampered payload", tampered, spki("rsa2048_a"), "JWT signature does not match")
t = sign(c, "HS256")
h, p, s = t.split(".")
add_err("HS256 tampered payload", f"{h}.{b64u(dumps(base_claims(role='service_role')).encode())}.{s}",
        SECRET, "JWT signature does not match")

# ES256 signature in DER form instead of raw r||s.
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

hdr = {"alg": "ES256", "typ": "JWT"}
signing_input = f"{b64u(dumps(hdr).encode())}.{b64u(dumps(c).encode())}".encode()
der = K["p256_a"].sign(signing_input, ec.ECDSA(hashes.SHA256()))
add_err("ES256 DER signature", f"{signing_input.decode()}.{b64u(der)}", spki("p256_a"),
        "JWT signature does not match")
r, s_ = decode_dss_signature(der)
raw = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
add_ok("ES256 hand-made raw signature", f"{signing_input.decode()}.{b64u(raw)}", spki("p256_a"), c,
       "insforge")

# ------------------------------------------------------------------ algorithm confusion and misfits

c = base_claims(role="service_role")
pem = spki("rsa2048_a")
add_err("HS256 signed with RSA PEM text (alg confusion)",
        hs_raw({"alg": "HS256", "typ": "JWT"}, c, pem.encode()), pem,
        "JWT algorithm HS256 does not fit an RSA key")
jwk_text = dumps(jwk("rsa2048_a"))
add_err("HS256 signed with RSA JWK text (alg confusion)",
        hs_raw({"alg": "HS256", "typ": "JWT"}, c, jwk_text.encode()), jwk_text,
        "JWT algorithm HS256 does not fit an RSA key")
add_err("HS256 against EC key", hs_raw({"alg": "HS256"}, c, spki("p256_a").encode()), spki("p256_a"),
        "JWT algorithm HS256 does not fit an EC P-256 key")
add_err("HS512 against Ed25519 key", hs_raw({"alg": "HS512"}, c, b"x", hashlib.sha512),
        spki("ed25519_a"), "JWT algorithm HS512 does not fit an Ed25519 key")
add_err("RS256 against EC key", sign(c, "RS256", "rsa2048_a"), spki("p256_a"),
        "JWT algorithm RS256 does not fit an EC P-256 key")
add_err("RS256 against secret", sign(c, "RS256", "rsa2048_a"), SECRET,
        "JWT algorithm RS256 does not fit an HMAC secret")
add_err("ES256 against P-384 key", sign(c, "ES256", "p256_a"), spki("p384"),
        "JWT algorithm ES256 does not fit an EC P-384 key")
add_err("ES384 against P-256 key", sign(c, "ES384", "p384"), spki("p256_a"),
        "JWT algorithm ES384 does not fit an EC P-256 key")
add_err("EdDSA against RSA key", sign(c, "EdDSA", "ed25519_a"), spki("rsa2048_a"),
        "JWT algorithm EdDSA does not fit an RSA key")
add_err("RS384 token against JWK alg RS256", sign(c, "RS384", "rsa2048_a"),
        dumps(jwk("rsa2048_a", alg="RS256")), "JWT algorithm RS384 does not match the key's alg RS256")
add_err("PS256 token against JWK alg RS256", sign(c, "PS256", "rsa2048_a"),
        dumps(jwk("rsa2048_a", alg="RS256")), "JWT algorithm PS256 does not match the key's alg RS256")
add_err("HS256 against JWKS of RSA+EC", hs_raw({"alg": "HS256"}, c, b"guess"),
        jwks(jwk("rsa2048_a", kid="a"), jwk("p256_a", kid="b")),
        "JWT algorithm HS256 fits none of the 2 keys")

# alg none, in several spellings.
for spelling in ["none", "None", "NONE", "nOnE"]:
    add_err(f"alg {spelling}", raw_token({"alg": spelling, "typ": "JWT"}, c), SECRET,
            f"JWT algorithm '{spelling}' is not allowed")
add_err("alg none via PyJWT", jwt.encode(c, None, algorithm="none"), SECRET,
        "JWT algorithm 'none' is not allowed")
add_err("alg none with a signature", raw_token({"alg": "none"}, c, b"x" * 32), SECRET,
        "JWT algorithm 'none' is not allowed")
add_err("alg ES512 unsupported", sign(c, "ES512", "p521"), SECRET,
        "JWT algorithm 'ES512' is not supported")
add_err("alg lower case hs256", hs_raw({"alg": "hs256"}, c, SECRET.encode()), SECRET,
        "JWT algorithm 'hs256' is not supported")
add_err("alg missing", hs_raw({"typ": "JWT"}, c, SECRET.encode()), SECRET, "JWT header has no 'alg'")
add_err("alg not a string", hs_raw({"alg": 256}, c, SECRET.encode()), SECRET,
        "JWT header 'alg' is not a string")

# crit
add_err("crit b64", sign(c, "HS256", headers={"crit": ["b64"]}), SECRET,
        "JWT header lists critical extension(s) 'b64'")
add_err("crit exp", sign(c, "HS256", headers={"crit": ["exp"], "exp": 1}), SECRET,
        "critical extension(s) 'exp'")
add_err("crit empty", sign(c, "HS256", headers={"crit": []}), SECRET,
        "JWT header 'crit' is not a non-empty array of names")

# ------------------------------------------------------------------ kid rules

c = base_claims()
set3 = jwks(jwk("rsa2048_a", kid="k1"), jwk("rsa2048_b", kid="k2"), jwk("p256_a", kid="k3"))
add_ok("kid selects key", sign(c, "RS256", "rsa2048_b", headers={"kid": "k2"}), set3, c, "insforge")
add_err("kid not found", sign(c, "RS256", "rsa2048_b", headers={"kid": "abc"}), set3,
        "JWT kid 'abc' not found in JWKS (kids: k1, k2, k3)")
add_err("kid points at wrong key", sign(c, "RS256", "rsa2048_b", headers={"kid": "k1"}), set3,
        "JWT signature does not match")
add_err("kid points at EC key for RS token", sign(c, "RS256", "rsa2048_a", headers={"kid": "k3"}), set3,
        "JWT algorithm RS256 does not fit an EC P-256 key")
add_ok("no kid, several keys, second RSA verifies", sign(c, "RS256", "rsa2048_b"), set3, c, "insforge")
add_ok("no kid, several keys, EC verifies", sign(c, "ES256", "p256_a"), set3, c, "insforge")
add_err("no kid, several keys, none verifies", sign(c, "RS256", "rsa3072"), set3,
        "JWT signature does not match (tried 2 keys)")
add_ok("kid ignored for a single kid-less key",
       sign(c, "RS256", "rsa2048_a", headers={"kid": "whatever"}), spki("rsa2048_a"), c, "insforge")
add_ok("kid ignored for a secret", sign(c, "HS256", headers={"kid": "whatever"}), SECRET, c, "insforge")
add_err("kid differs from single JWK kid", sign(c, "RS256", "rsa2048_a", headers={"kid": "k9"}),
        dumps(jwk("rsa2048_a", kid="k1")), "JWT kid 'k9' does not match the key's kid 'k1'")
add_err("kid not a string", hs_raw({"alg": "HS256", "kid": 7}, c, SECRET.encode()), SECRET, "JWT header 'kid' is not a string")
enc_set = jwks(jwk("rsa2048_b", kid="enc1", use="enc"), jwk("rsa2048_a", kid="sig1", use="sig"))
add_ok("JWKS enc key skipped, sig key used", sign(c, "RS256", "rsa2048_a", headers={"kid": "sig1"}),
       enc_set, c, "insforge")
add_err("JWKS kid of skipped enc key", sign(c, "RS256", "rsa2048_b", headers={"kid": "enc1"}),
        enc_set, "JWT kid 'enc1' not found in JWKS (kids: sig1)")
mixed = jwks({"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"},
             jwk("p521", kid="p521"), jwk("rsa1024", kid="small"),
             {"kty": "EC", "crv": "P-256", "kid": "x", "x": "AAAA", "y": "AAAA"},
             jwk("rsa2048_a", kid="good"))
add_ok("JWKS unusable keys skipped", sign(c, "RS256", "rsa2048_a", headers={"kid": "good"}), mixed, c,
       "insforge")

# ------------------------------------------------------------------ exp / nbf / aud / iss

c = base_claims(exp=NOW - 312)
t = sign(c, "HS256")
add_err("expired", t, SECRET, "JWT expired 312 s ago")
add_err("expired beyond leeway", t, SECRET, "JWT expired 312 s ago (leeway 300 s)", leeway=300)
add_ok("expired within leeway", t, SECRET, c, "insforge", leeway=313)
add_err("exp equals now", sign(base_claims(exp=NOW), "HS256"), SECRET, "JWT expired 0 s ago")
c = base_claims(nbf=NOW + 40)
t = sign(c, "HS256")
add_err("not yet valid", t, SECRET, "JWT not valid for another 40 s (nbf)")
add_ok("nbf within leeway", t, SECRET, c, "insforge", leeway=40)
add_ok("nbf equals now", sign(base_claims(nbf=NOW), "HS256"), SECRET, base_claims(nbf=NOW), "insforge")
add_err("exp not a number", sign(base_claims(exp="tomorrow"), "HS256"), SECRET,
        "JWT 'exp' claim is not a number")
add_err("nbf not a number", sign(base_claims(nbf=None), "HS256"), SECRET,
        "JWT 'nbf' claim is not a number")
c = base_claims()
del c["exp"]
add_ok("no exp at all", sign(c, "HS256"), SECRET, c, "insforge")
c = base_claims(exp=NOW + 0.5)
add_ok("fractional exp", sign(c, "HS256"), SECRET, c, "insforge")

AUD = ["insforge-api"]
add_err("audience not accepted", sign(base_claims(aud="x"), "HS256"), SECRET,
        "JWT audience 'x' not accepted (accepted: insforge-api)", audiences=AUD)
add_err("audience array not accepted", sign(base_claims(aud=["a", "b"]), "HS256"), SECRET,
        "JWT audience 'a', 'b' not accepted (accepted: insforge-api)", audiences=AUD)
c = base_claims(aud=["other", "insforge-api"])
add_ok("audience array accepted", sign(c, "HS256"), SECRET, c, "insforge", audiences=AUD)
c = base_claims()
del c["aud"]
add_err("audience missing", sign(c, "HS256"), SECRET, "JWT has no 'aud' claim", audiences=AUD)
add_ok("audience missing, not checked", sign(c, "HS256"), SECRET, c, "insforge", audiences=[])
add_err("audience not a string", sign(base_claims(aud=5), "HS256"), SECRET,
        "JWT 'aud' claim is not a string or an array of strings", audiences=AUD)
ISS = ["https://acme.auth0.com/"]
add_err("issuer not accepted", sign(base_claims(iss="x"), "HS256"), SECRET,
        "JWT issuer 'x' not accepted (accepted: https://acme.auth0.com/)", issuers=ISS)
add_err("issuer trailing slash", sign(base_claims(iss="https://acme.auth0.com"), "HS256"), SECRET,
        "note the trailing '/'", issuers=ISS)
add_err("issuer missing", sign(base_claims(), "HS256"), SECRET, "JWT has no 'iss' claim", issuers=ISS)

# ------------------------------------------------------------------ malformed tokens

good = sign(base_claims(), "HS256")
h, p, s = good.split(".")
add_err("two parts", f"{h}.{p}", SECRET, "JWT is malformed: expected 3 dot-separated parts, found 2")
add_err("JWE five parts", "a.b.c.d.e", SECRET, "found 5 (a JWE")
add_err("header not base64", f"!!!.{p}.{s}", SECRET, "JWT header is not valid base64url JSON")
add_err("header not JSON", f"{b64u(b'not json')}.{p}.{s}", SECRET, "JWT header is not valid base64url JSON")
add_err("header JSON array", f"{b64u(b'[1]')}.{p}.{s}", SECRET, "JWT header is not a JSON object")
add_err("signature not base64", f"{h}.{p}.***", SECRET, "JWT signature is not valid base64url")
add_err("signature empty", f"{h}.{p}.", SECRET, "JWT signature is empty")
add_err("payload array", hs_raw({"alg": "HS256"}, b"[1,2]", SECRET.encode()), SECRET,
        "JWT payload is not a JSON object")
add_err("payload not JSON", hs_raw({"alg": "HS256"}, b"{oops", SECRET.encode()), SECRET,
        "JWT payload is not valid base64url JSON")
add_err("empty token", "", SECRET, "JWT is empty")
add_ok("surrounding whitespace trimmed", f"  {good}\n", SECRET, base_claims(), "insforge")

# ------------------------------------------------------------------ malformed keys

t = sign(base_claims(), "RS256", "rsa2048_a")
MK = "MalformedKey"
add_err("key: garbage PEM", t, "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----",
        "PEM key does not parse", kind=MK)
add_err("key: truncated PEM", t, spki("rsa2048_a")[:200], "PEM key does not parse", kind=MK)
add_err("key: private PEM", t, K["rsa2048_a"].private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
    "PEM holds a private key", kind=MK)
add_err("key: traditional RSA private PEM", t, K["rsa2048_a"].private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption()).decode(), "PEM holds a private key (RSA PRIVATE KEY)", kind=MK)
add_err("key: RSA 1024", t, spki("rsa1024"), "RSA key is 1024 bits; at least 2048 are required", kind=MK)
add_err("key: P-521 PEM", t, spki("p521"), "PEM EC curve P-521", kind=MK)
add_err("key: secp256k1 PEM", t, spki("secp256k1"), "PEM EC curve secp256k1", kind=MK)
add_err("key: Ed448 PEM", t, spki("ed448"), "PEM public key algorithm Ed448", kind=MK)
add_err("key: JSON syntax", t, '{"kty": "RSA", ', "is not valid JSON", kind=MK)
add_err("key: JSON without kty or keys", t, '{"n": "x"}', "neither 'kty'", kind=MK)
add_err("key: JWK RSA without n", t, dumps({"kty": "RSA", "e": "AQAB"}), "JWK RSA key has no 'n'", kind=MK)
add_err("key: JWK RSA bad base64", t, dumps({"kty": "RSA", "n": "@@", "e": "AQAB"}),
        "JWK RSA 'n' is not valid base64url", kind=MK)
add_err("key: JWK unknown kty", t, dumps({"kty": "XYZ"}), "JWK kty 'XYZ' is not supported", kind=MK)
add_err("key: JWK EC P-521", t, dumps(jwk("p521")), "JWK EC curve 'P-521' is not supported", kind=MK)
add_err("key: JWK EC off curve", t, dumps({**jwk("p256_a"), "y": jwk("p256_b")["y"]}),
        "JWK EC P-256 point is not on the curve", kind=MK)
add_err("key: JWK OKP X25519", t, dumps({"kty": "OKP", "crv": "X25519", "x": b64u(b"\x09" * 32)}),
        "JWK OKP curve 'X25519' is not supported", kind=MK)
add_err("key: JWK use enc", t, dumps(jwk("rsa2048_a", use="enc")), "JWK 'use' is 'enc', not 'sig'", kind=MK)
add_err("key: JWK alg misfit", t, dumps(jwk("rsa2048_a", alg="ES256")), "JWK alg ES256 does not fit kty RSA",
        kind=MK)
add_err("key: JWK alg encryption", t, dumps(jwk("rsa2048_a", alg="RSA-OAEP")),
        "JWK alg 'RSA-OAEP' is not a supported signature algorithm", kind=MK)
add_err("key: JWK oct empty", t, dumps({"kty": "oct", "k": ""}), "JWK oct 'k' is empty", kind=MK)
add_err("key: JWKS empty", t, '{"keys": []}', "JWKS has no keys", kind=MK)
add_err("key: JWKS not array", t, '{"keys": {}}', "JWKS 'keys' is not an array", kind=MK)
add_err("key: JWKS all enc", t, jwks(jwk("rsa2048_a", kid="a", use="enc"), jwk("p256_a", kid="b", use="enc")),
        "JWKS has no usable signature key: key #0 (kid 'a'): 'use' is 'enc', not 'sig'; key #1 (kid 'b')",
        kind=MK)
add_err("key: empty secret", t, "", "HMAC secret is empty", kind=MK)

# ------------------------------------------------------------------ tokens as each guide mints them
# (HS256 with the project's shared JWT secret, role authenticated, aud insforge-api)

GUIDE_RULES = {"audiences": ["insforge-api"], "issuers": [], "roles": ["anon", "authenticated"],
               "leeway": 30, "providers": []}


def guide(name, provider, claims, issuers=None):
    rules = dict(GUIDE_RULES, providers=[provider], issuers=issuers or [])
    add_ok(f"guide {name}", sign(claims, "HS256"), SECRET, claims, provider, audiences=["insforge-api"],
           issuers=issuers, validate={"rules": rules, "problems": []})


guide("clerk", "clerk", {
    "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "iss": "https://happy-cat-12.clerk.accounts.dev",
    "azp": "http://localhost:3000", "sid": "sess_2NNEr6qZ8Eo5vgygYwBlMBQVTGf",
    "role": "authenticated", "aud": "insforge-api",
    "iat": NOW - 10, "nbf": NOW - 15, "exp": NOW + 60,
}, issuers=["https://happy-cat-12.clerk.accounts.dev"])
guide("clerk custom domain", "clerk", {
    "sub": "user_2pQ8xLrW3nTfYb6KcZ1mVdHsJ4a", "iss": "https://clerk.example.com",
    "azp": "https://example.com", "sid": "sess_2pQ8y0aB1cD2eF3gH4iJ5kL6mN7",
    "role": "authenticated", "aud": "insforge-api", "iat": NOW, "nbf": NOW - 5, "exp": NOW + 60,
})
guide("auth0", "auth0", {
    "sub": "auth0|507f1f77bcf86cd799439011", "iss": "https://acme.us.auth0.com/",
    "aud": ["insforge-api", "https://acme.us.auth0.com/userinfo"], "azp": "k3Jq9",
    "scope": "openid profile email", "role": "authenticated",
    "https://insforge.dev/insforge_token": "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    "https://insforge.dev/role": "authenticated",
    "iat": NOW - 100, "exp": NOW + 86400,
}, issuers=["https://acme.us.auth0.com/"])
guide("auth0 google", "auth0", {
    "sub": "google-oauth2|103547991597142817347", "iss": "https://acme.auth0.com/",
    "aud": "insforge-api", "role": "authenticated", "iat": NOW, "exp": NOW + 600,
})
guide("auth0 github via sub only", "auth0", {
    "sub": "github|1234567", "aud": "insforge-api", "role": "authenticated", "iat": NOW, "exp": NOW + 600,
})
guide("workos", "workos", {
    "sub": "user_01E4ZCR3C56J083X43JQXF3JK5", "iss": "https://api.workos.com/user_management/client_01HXYZ",
    "sid": "session_01HABC", "org_id": "org_01EHZNVPK3SFK441A1RGBFSHRT", "role": "authenticated",
    "aud": "insforge-api", "iat": NOW, "exp": NOW + 300,
})
guide("kinde", "kinde", {
    "sub": "kp_c3143a4b50ad43c88e541d9077681782", "iss": "https://acme.kinde.com",
    "aud": "insforge-api", "role": "authenticated", "iat": NOW, "exp": NOW + 300,
    "org_code": "org_123", "permissions": ["read:notes"],
})
guide("stytch", "stytch", {
    "sub": "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6", "iss": "stytch.com/project-test-1234",
    "aud": ["insforge-api"], "role": "authenticated", "iat": NOW, "nbf": NOW, "exp": NOW + 300,
    "https://stytch.com/session": {"id": "session-test-1"},
})
guide("stytch live https issuer", "stytch", {
    "sub": "user-live-2f0a7c9e-5b4d-4e3f-8a1b-0c9d8e7f6a5b", "iss": "https://stytch.com/project-live-9",
    "aud": "insforge-api", "role": "authenticated", "exp": NOW + 300,
})
guide("better auth", "better_auth", {
    "sub": "x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu", "iss": "https://app.example.com",
    "aud": "insforge-api", "role": "authenticated", "email": "ada@example.com", "iat": NOW, "exp": NOW + 900,
})
guide("insforge native", "insforge", {
    "sub": "550e8400-e29b-41d4-a716-446655440000", "email": "ada@example.com", "role": "authenticated",
    "iat": NOW - 5, "exp": NOW + 7 * 86400, "iss": "insforge", "aud": "insforge-api",
})

# Provider-native asymmetric forms: JWKS with kid (as fetched from the provider).
c = {"sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "iss": "https://happy-cat-12.clerk.accounts.dev",
     "azp": "http://localhost:3000", "sid": "sess_2NNEr6qZ8Eo5vgygYwBlMBQVTGf", "role": "authenticated",
     "aud": "insforge-api", "iat": NOW, "nbf": NOW - 5, "exp": NOW + 60}
add_ok("clerk RS256 JWKS", sign(c, "RS256", "rsa2048_a", headers={"kid": "ins_2NNEqL"}),
       jwks(jwk("rsa2048_a", kid="ins_2NNEqL", alg="RS256", use="sig")), c, "clerk",
       audiences=["insforge-api"], issuers=["https://happy-cat-12.clerk.accounts.dev"],
       validate={"rules": dict(GUIDE_RULES, providers=["clerk"]), "problems": []})
c = {"sub": "x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu", "iss": "https://app.example.com", "aud": "insforge-api",
     "role": "authenticated", "iat": NOW, "exp": NOW + 900}
add_ok("better auth EdDSA JWKS", sign(c, "EdDSA", "ed25519_a", headers={"kid": "ba1"}),
       jwks(jwk("ed25519_a", kid="ba1", alg="EdDSA")), c, "better_auth",
       validate={"rules": dict(GUIDE_RULES, providers=["better_auth"]), "problems": []})

# Validation problems on tokens that verify (verify has no aud/iss/role rules here).
c = {"sub": "  ", "role": "service_role", "aud": "other", "iss": "https://evil.example", "exp": NOW - 100,
     "nbf": NOW + 100}
add_ok("validate: every problem", sign(c, "HS256"), SECRET, c, None, leeway=1000,
       validate={"rules": {"audiences": ["insforge-api"], "issuers": ["insforge"], "roles": ["anon", "authenticated"],
                           "leeway": 30, "providers": ["clerk"]},
                 "problems": ["missing_sub", "expired", "not_yet_valid", "audience", "issuer", "role",
                              "provider_mismatch"]})
c = {"sub": "kp_c3143a4b50ad43c88e541d9077681782", "iss": "https://acme.kinde.com", "aud": "insforge-api"}
add_ok("validate: missing role counts as anon", sign(c, "HS256"), SECRET, c, "kinde",
       validate={"rules": dict(GUIDE_RULES, providers=["clerk", "auth0"]), "problems": ["provider_mismatch"]})
add_ok("validate: missing role, anon not accepted", sign(c, "HS256"), SECRET, c, "kinde",
       validate={"rules": dict(GUIDE_RULES, roles=["authenticated"], providers=["kinde"]), "problems": ["role"]})

# ------------------------------------------------------------------ self-check with PyJWT

for v in VECTORS:
    if "claims" in v["expect"] and v["key"] in (SECRET,) and v["token"].count(".") == 2:
        jwt.decode(v["token"].strip(), SECRET, algorithms=["HS256", "HS384", "HS512"],
                   options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iat": False})

with open(OUT_PATH, "w") as f:
    json.dump({"generator": "core/tests/data/jwt_gen_vectors.py", "pyjwt": jwt.__version__,
               "now": NOW, "vectors": VECTORS}, f, indent=1)
    f.write("\n")
print(f"wrote {len(VECTORS)} vectors to {OUT_PATH}")
