#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, written to fuzz/corpus/<target>/ (git-ignored).

Seeds come from the core's own test vectors (core/tests/data: tokens signed by
PyJWT, EIP-3009 and Permit2 signatures by eth-account) plus hand-written edge cases, laid
out in each target's input format (see the header comment of each target).
Deterministic; re-running overwrites the seed-* files and leaves whatever
libFuzzer added alone. Standard library only.
"""
import base64
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "core", "tests", "data")
OUT = os.path.join(HERE, "corpus")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(target, seeds):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    n = 0
    for s in seeds:
        if isinstance(s, str):
            s = s.encode("utf-8", "surrogatepass")
        name = "seed-" + hashlib.sha1(s).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)
        n += 1
    return n


def main():
    jv = json.load(open(os.path.join(DATA, "jwt_vectors.json")))["vectors"]
    xv = json.load(open(os.path.join(DATA, "x402_vectors.json")))["vectors"]
    keys = json.load(open(os.path.join(DATA, "jwt_keys.json")))
    counts = {}

    # ---- claims: selector byte + claims JSON
    claims = [v["expect"]["claims"] for v in jv if "claims" in v.get("expect", {})]
    claims += [
        {}, [], "x", None, 1, {"sub": ""}, {"sub": " "}, {"sub": 1.5}, {"sub": None}, {"sub": True},
        {"sub": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "iss": "https://clerk.example.com"},
        {"sub": "auth0|64b1f0c2e4a7d9b3c5e6f708", "iss": "https://t.eu.auth0.com/"},
        {"sub": "user_01HZX3K5M7N9P1Q3R5S7T9V1W3", "iss": "https://api.workos.com/user_management/x"},
        {"sub": "kp_0123456789abcdef0123456789abcdef", "iss": "https://b.kinde.com"},
        {"sub": "user-test-8b6a1f5e-2c3d-4e5f-9a0b-1c2d3e4f5a6b", "iss": "stytch.com/project-test-1"},
        {"sub": "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"},
        {"sub": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "iss": "insforge"},
        {"sub": "x", "exp": 1e308, "nbf": -1e308, "aud": ["a", "b", 3], "iss": "https://a.clerk.accounts.dev:443/p"},
        {"sub": "x", "exp": "1", "nbf": None, "role": None, "aud": []},
        {"sub": "x", "role": "authenticated", "aud": "insforge-api", "exp": 4102444800, "iss": "HTTPS://X.AUTH0.COM."},
    ]
    seeds = []
    for i, c in enumerate(claims):
        for sel in (i % 256, (i * 37 + 5) % 256):
            seeds.append(bytes([sel]) + json.dumps(c).encode())
    seeds.append(b"\x00 a, ,b ,c,, ")
    counts["claims"] = write("claims", seeds)

    # ---- jwt_keyset: key texts
    texts = sorted({v["key"] for v in jv})
    texts += list(keys.values())  # private keys: refused
    texts += ["", " ", "secret", " padded secret ", "{", "{}", '{"keys":[]}', '{"kty":"oct","k":""}',
              "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"]
    counts["jwt_keyset"] = write("jwt_keyset", texts)

    # ---- jwt_verify: selector + token
    toks = sorted({v["token"] for v in jv})
    seeds = [bytes([i % 32]) + t.encode() for i, t in enumerate(toks)]
    seeds += [b"\x00", b"\x00a.b.c", b"\x00a.b.c.d.e", b"\x00" + b64u(b'{"alg":"none"}').encode() + b"." + b64u(b"{}").encode() + b"."]
    counts["jwt_verify"] = write("jwt_verify", seeds)

    # ---- jwt_signed: key, alg, form, flags, flip, seed(8) + payload
    seeds = []
    for i, c in enumerate(claims[:40]):
        head = bytes([i % 5, i % 6, i % 4, i % 8, (i * 13) % 256]) + bytes(8)
        seeds.append(head + json.dumps(c).encode())
    seeds.append(bytes(13) + b'{"sub":"x","exp":1,"nbf":2}')
    seeds.append(bytes(13) + b"not json")
    counts["jwt_signed"] = write("jwt_signed", seeds)

    # ---- x402: payloads from the eth-account vectors
    payloads = []
    for v in xv:
        d, m = v["domain"], v["message"]
        try:
            chain = int(d["chainId"])
        except ValueError:
            continue
        req = {"scheme": "exact", "network": f"eip155:{chain}", "amount": m["value"], "asset": d["verifyingContract"],
               "payTo": m["to"], "maxTimeoutSeconds": 60, "extra": {"name": d["name"], "version": d["version"]}}
        inner = {"signature": v["signature"], "authorization": m}
        at = int(m["validAfter"]) if int(m["validAfter"]) < 2**62 else 0
        v2 = {"x402Version": 2, "resource": {"url": "https://api.example.com/x"}, "accepted": req, "payload": inner}
        req1 = dict(req)
        req1["maxAmountRequired"] = req1.pop("amount")
        req1.update(resource="https://api.example.com/x", description="", mimeType="application/json")
        v1 = {"x402Version": 1, "scheme": "exact", "network": req["network"], "payload": inner}
        payloads.append([v2, req, {"x402Version": 2, "accepts": [req]}, at])
        payloads.append([v2, None, None, at])
        payloads.append([v1, req1, {"x402Version": 1, "accepts": [req1]}, at])
        payloads.append([{"x402Version": 1, "scheme": "exact", "payload": inner}, req1])
    # Permit2 (exact and upto): the valid payments and every single fault, with the SDK's verdicts
    # (core/tests/data/x402_permit2_cases.json).
    permit2 = json.load(open(os.path.join(DATA, "x402_permit2_cases.json")))["cases"]
    for c in permit2:
        payloads.append([c["payload"], c["requirements"], {"x402Version": 2, "accepts": [c["requirements"]]}, c["now"]])
    counts["x402_payment"] = write("x402_payment", [json.dumps(p) for p in payloads] + ["{}", "[]", "[{}, {}]", "null"])

    seeds = [base64.b64encode(json.dumps(p[0]).encode()).decode() for p in payloads[:20]]
    seeds += [base64.urlsafe_b64encode(json.dumps(p[0]).encode()).decode().rstrip("=") for p in payloads[:8]]
    seeds += [json.dumps(p[0]) for p in payloads[:8]]
    seeds += ["", "e30", "e30=", " e30= ", "W10=", "ab+_", '{"a":1.5e300,"b":[null,true,-0.0]}']
    counts["x402_header"] = write("x402_header", seeds)

    # x402_signed: secret(32) version chain(8) asset(20) payTo(20) value(32) after(8) span(8) at(8) nonce(32) name version flip
    seeds = []
    for i in range(16):
        h = hashlib.sha512(b"x402_signed %d" % i).digest() * 4
        seeds.append(h[: 32 + 1 + 8 + 20 + 20 + 32 + 24 + 32] + b"\x0dGlobal Dollar\x011" + bytes([i, i % 6]))
    counts["x402_signed"] = write("x402_signed", seeds)

    # x402_permit2: secret(32) upto(1) chain(8) token(20) payTo(20) facilitator(20) amount(32) nonce(32)
    # after(8) span(8) at(8) which(1)
    seeds = []
    for i in range(18):
        h = hashlib.sha512(b"x402_permit2 %d" % i).digest() * 4
        seeds.append(h[: 32 + 1 + 8 + 60 + 64 + 24] + bytes([i % 9]))
    counts["x402_permit2"] = write("x402_permit2", seeds)

    # x402_parse: selector + text
    texts = []
    for v in xv:
        texts += [v["signer"], v["message"]["to"], v["message"]["value"], v["message"]["nonce"], v["signature"], v["domain"]["chainId"],
                  v["domain"]["verifyingContract"]]
    texts += ["0x", "0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
              "115792089237316195423570985008687907853269984665640564039457584007913129639936", "0" * 100 + "1",
              "eip155:196", "eip155:0", "eip155:01", "eip155:18446744073709551616", "base-sepolia", "solana:5eykt", "XLAYER", "",
              "１２３"]
    seeds = [bytes([i % 6]) + t.encode() for i, t in enumerate(texts)]
    seeds += [bytes([sel]) + t.encode() for sel in range(6) for t in texts[:6]]
    counts["x402_parse"] = write("x402_parse", seeds)

    for t, n in sorted(counts.items()):
        print(f"{t}: {n} seeds")


if __name__ == "__main__":
    sys.exit(main())
