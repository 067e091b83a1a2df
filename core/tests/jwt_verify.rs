//! Rust-signed tokens (HMAC, ES256, ES384, Ed25519) for the precise rules of
//! `jwt::verify` and `KeySet::parse`, plus hostile-input checks. RSA cases
//! are covered by the PyJWT vectors (`jwt_vectors.rs`): RSA signing is slow
//! in debug builds. Time is always an explicit `now`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use insforge_core::jwt::{
    verify, Algorithm, JwtError, JwtErrorKind, Key, KeySet, KeySource, VerifyOptions,
    MAX_TOKEN_BYTES,
};
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};

const NOW: i64 = 1_750_000_000;
const SECRET: &str = "insforge-rust-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn hmac_sig(alg: &str, secret: &[u8], input: &[u8]) -> Vec<u8> {
    fn tag<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("hmac key");
        m.update(input);
        m.finalize().into_bytes().to_vec()
    }
    match alg {
        "HS384" => tag::<Hmac<Sha384>>(secret, input),
        "HS512" => tag::<Hmac<Sha512>>(secret, input),
        _ => tag::<Hmac<Sha256>>(secret, input),
    }
}

/// `header.payload.signature` with `sign` producing the signature bytes.
fn token_with(header: &Value, payload: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn hs(alg: &str, claims: &Value, secret: &str) -> String {
    hs_header(&json!({"alg": alg, "typ": "JWT"}), claims, secret)
}

fn hs_header(header: &Value, claims: &Value, secret: &str) -> String {
    let alg = header["alg"].as_str().unwrap_or("HS256").to_string();
    token_with(header, claims.to_string().as_bytes(), |i| {
        hmac_sig(&alg, secret.as_bytes(), i)
    })
}

fn p256_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("p256 key")
}

fn p384_key(seed: u8) -> p384::ecdsa::SigningKey {
    p384::ecdsa::SigningKey::from_slice(&[seed; 48]).expect("p384 key")
}

fn ed_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn es256(header: &Value, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
    token_with(header, claims.to_string().as_bytes(), |i| {
        let sig: p256::ecdsa::Signature = key.sign(i);
        sig.to_bytes().to_vec()
    })
}

fn es384(header: &Value, claims: &Value, key: &p384::ecdsa::SigningKey) -> String {
    token_with(header, claims.to_string().as_bytes(), |i| {
        let sig: p384::ecdsa::Signature = key.sign(i);
        sig.to_bytes().to_vec()
    })
}

fn eddsa(header: &Value, claims: &Value, key: &ed25519_dalek::SigningKey) -> String {
    token_with(header, claims.to_string().as_bytes(), |i| {
        key.sign(i).to_bytes().to_vec()
    })
}

fn p256_jwk(key: &p256::ecdsa::SigningKey, extra: Value) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    let mut jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")),
    });
    merge(&mut jwk, extra);
    jwk
}

fn p384_jwk(key: &p384::ecdsa::SigningKey, extra: Value) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    let mut jwk = json!({
        "kty": "EC", "crv": "P-384",
        "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")),
    });
    merge(&mut jwk, extra);
    jwk
}

fn ed_jwk(key: &ed25519_dalek::SigningKey, extra: Value) -> Value {
    let mut jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())});
    merge(&mut jwk, extra);
    jwk
}

fn oct_jwk(secret: &str, extra: Value) -> Value {
    let mut jwk = json!({"kty": "oct", "k": b64(secret.as_bytes())});
    merge(&mut jwk, extra);
    jwk
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), extra) {
        a.extend(b);
    }
}

fn keys(text: &str) -> KeySet {
    KeySet::parse(text).unwrap_or_else(|e| panic!("key does not parse: {e}"))
}

fn claims() -> Value {
    json!({"sub": "550e8400-e29b-41d4-a716-446655440000", "role": "authenticated",
           "aud": "insforge-api", "iat": NOW - 10, "exp": NOW + 3600})
}

fn at(now: i64) -> VerifyOptions {
    VerifyOptions::at(now)
}

fn ok(token: &str, keys: &KeySet, opts: &VerifyOptions) -> Value {
    match verify(token, keys, opts) {
        Ok(c) => Value::Object(c),
        Err(e) => panic!("expected success, got {:?}: {}", e.kind, e.message),
    }
}

fn err(token: &str, keys: &KeySet, opts: &VerifyOptions) -> JwtError {
    match verify(token, keys, opts) {
        Ok(c) => panic!("expected an error, got {}", Value::Object(c)),
        Err(e) => e,
    }
}

fn invalid(token: &str, keys: &KeySet, opts: &VerifyOptions, needle: &str) {
    let e = err(token, keys, opts);
    assert_eq!(e.kind, JwtErrorKind::Invalid, "{}", e.message);
    assert!(
        e.message.contains(needle),
        "message {:?} lacks {needle:?}",
        e.message
    );
    assert_eq!(e.sqlstate(), "28000");
}

fn malformed(text: &str, needle: &str) {
    match KeySet::parse(text) {
        Ok(k) => panic!("expected MalformedKey for {text:?}, got {k:?}"),
        Err(e) => {
            assert_eq!(e.kind, JwtErrorKind::MalformedKey, "{}", e.message);
            assert!(
                e.message.contains(needle),
                "message {:?} lacks {needle:?}",
                e.message
            );
            assert_eq!(e.sqlstate(), "22023");
        }
    }
}

// ------------------------------------------------------------------ algorithms

#[test]
fn hmac_all_sizes_and_forms() {
    for alg in ["HS256", "HS384", "HS512"] {
        let t = hs(alg, &claims(), SECRET);
        for text in [
            SECRET.to_string(),
            oct_jwk(SECRET, json!({})).to_string(),
            oct_jwk(
                SECRET,
                json!({"alg": alg, "use": "sig", "key_ops": ["verify"]}),
            )
            .to_string(),
            json!({"keys": [oct_jwk("other-secret", json!({})), oct_jwk(SECRET, json!({}))]})
                .to_string(),
        ] {
            assert_eq!(ok(&t, &keys(&text), &at(NOW)), claims(), "{alg} {text}");
        }
        invalid(
            &t,
            &keys("wrong-secret"),
            &at(NOW),
            "JWT signature does not match",
        );
    }
}

#[test]
fn ecdsa_and_eddsa_all_forms() {
    let k256 = p256_key(7);
    let k384 = p384_key(9);
    let ked = ed_key(11);
    let c = claims();
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            es256(&json!({"alg": "ES256"}), &c, &k256),
            vec![
                p256_jwk(&k256, json!({})).to_string(),
                p256_jwk(&k256, json!({"alg": "ES256"})).to_string(),
                json!({"keys": [p256_jwk(&k256, json!({"use": "sig"}))]}).to_string(),
                p256::PublicKey::from(k256.verifying_key())
                    .to_string()
                    .replace('\n', "\r\n"),
            ],
        ),
        (
            es384(&json!({"alg": "ES384"}), &c, &k384),
            vec![
                p384_jwk(&k384, json!({})).to_string(),
                json!({"keys": [p384_jwk(&k384, json!({"alg": "ES384"}))]}).to_string(),
            ],
        ),
        (
            eddsa(&json!({"alg": "EdDSA"}), &c, &ked),
            vec![
                ed_jwk(&ked, json!({})).to_string(),
                json!({"keys": [ed_jwk(&ked, json!({"alg": "EdDSA"}))]}).to_string(),
            ],
        ),
        (
            eddsa(&json!({"alg": "Ed25519"}), &c, &ked),
            vec![ed_jwk(&ked, json!({})).to_string()],
        ),
    ];
    for (token, texts) in cases {
        for text in texts {
            assert_eq!(ok(&token, &keys(&text), &at(NOW)), c, "{text}");
        }
    }
}

#[test]
fn ecdsa_signature_forms() {
    let k = p256_key(7);
    let c = claims();
    let jwk = keys(&p256_jwk(&k, json!({})).to_string());
    // DER-encoded signature instead of raw r||s.
    let der = token_with(&json!({"alg": "ES256"}), c.to_string().as_bytes(), |i| {
        let sig: p256::ecdsa::Signature = k.sign(i);
        sig.to_der().as_bytes().to_vec()
    });
    invalid(&der, &jwk, &at(NOW), "JWT signature does not match");
    // Truncated and zero signatures.
    let good = es256(&json!({"alg": "ES256"}), &c, &k);
    let (input, sig) = good.rsplit_once('.').expect("3 parts");
    let raw = URL_SAFE_NO_PAD.decode(sig).expect("b64");
    for bad in [
        raw[..63].to_vec(),
        vec![0u8; 64],
        vec![0xffu8; 64],
        [raw.clone(), vec![0]].concat(),
    ] {
        invalid(
            &format!("{input}.{}", b64(&bad)),
            &jwk,
            &at(NOW),
            "JWT signature does not match",
        );
    }
    // High-S form of a valid signature is still a valid ECDSA signature.
    let sig = p256::ecdsa::Signature::from_slice(&raw).expect("sig");
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r, -*s).expect("flip");
    let t = format!("{input}.{}", b64(&flipped.to_bytes()));
    assert_eq!(ok(&t, &jwk, &at(NOW)), c);
}

// ------------------------------------------------------------------ algorithm confusion

#[test]
fn hs_token_against_asymmetric_keys_is_refused() {
    let k256 = p256_key(7);
    let ked = ed_key(11);
    let texts = [
        (p256_jwk(&k256, json!({})).to_string(), "an EC P-256 key"),
        (ed_jwk(&ked, json!({})).to_string(), "an Ed25519 key"),
        (
            p256::PublicKey::from(k256.verifying_key()).to_string(),
            "an EC P-256 key",
        ),
    ];
    for (text, what) in texts {
        // The attacker signs with the public key text as the HMAC secret.
        let t = hs("HS256", &claims(), &text);
        invalid(
            &t,
            &keys(&text),
            &at(NOW),
            &format!("JWT algorithm HS256 does not fit {what}"),
        );
    }
}

#[test]
fn asymmetric_token_against_secret_is_refused() {
    let t = es256(&json!({"alg": "ES256"}), &claims(), &p256_key(1));
    invalid(
        &t,
        &keys(SECRET),
        &at(NOW),
        "JWT algorithm ES256 does not fit an HMAC secret",
    );
    let t = es384(&json!({"alg": "ES384"}), &claims(), &p384_key(1));
    invalid(
        &t,
        &keys(&p256_jwk(&p256_key(1), json!({})).to_string()),
        &at(NOW),
        "JWT algorithm ES384 does not fit an EC P-256 key",
    );
    // Header says ES256, signed by a P-384 key, checked against that P-384 key.
    let t = token_with(
        &json!({"alg": "ES256"}),
        claims().to_string().as_bytes(),
        |i| {
            let sig: p384::ecdsa::Signature = p384_key(1).sign(i);
            sig.to_bytes().to_vec()
        },
    );
    invalid(
        &t,
        &keys(&p384_jwk(&p384_key(1), json!({})).to_string()),
        &at(NOW),
        "JWT algorithm ES256 does not fit an EC P-384 key",
    );
}

#[test]
fn jwk_alg_pins_the_token_alg() {
    let text = oct_jwk(SECRET, json!({"alg": "HS256"})).to_string();
    let t = hs("HS512", &claims(), SECRET);
    invalid(
        &t,
        &keys(&text),
        &at(NOW),
        "JWT algorithm HS512 does not match the key's alg HS256",
    );
    let t = eddsa(&json!({"alg": "Ed25519"}), &claims(), &ed_key(3));
    let text = ed_jwk(&ed_key(3), json!({"alg": "EdDSA"})).to_string();
    assert_eq!(ok(&t, &keys(&text), &at(NOW)), claims());
}

#[test]
fn alg_none_and_unknown() {
    let payload = b64(claims().to_string().as_bytes());
    for alg in ["none", "NONE", "None", "nONe"] {
        let header = b64(json!({"alg": alg}).to_string().as_bytes());
        for sig in ["", "c2ln"] {
            invalid(
                &format!("{header}.{payload}.{sig}"),
                &keys(SECRET),
                &at(NOW),
                &format!("JWT algorithm '{alg}' is not allowed"),
            );
        }
    }
    for alg in ["ES512", "RS1", "HS1", "ES256K", "PS256 ", ""] {
        let t = hs_header(&json!({"alg": alg}), &claims(), SECRET);
        invalid(&t, &keys(SECRET), &at(NOW), "is not supported");
    }
    let t = hs_header(&json!({"alg": null}), &claims(), SECRET);
    invalid(
        &t,
        &keys(SECRET),
        &at(NOW),
        "JWT header 'alg' is not a string",
    );
}

#[test]
fn crit_is_never_understood() {
    for crit in [json!(["b64"]), json!(["exp", "x"])] {
        let t = hs_header(&json!({"alg": "HS256", "crit": crit}), &claims(), SECRET);
        invalid(&t, &keys(SECRET), &at(NOW), "critical extension(s)");
    }
    for crit in [json!([]), json!("b64"), json!([1]), json!(null)] {
        let t = hs_header(&json!({"alg": "HS256", "crit": crit}), &claims(), SECRET);
        invalid(
            &t,
            &keys(SECRET),
            &at(NOW),
            "JWT header 'crit' is not a non-empty array of names",
        );
    }
}

// ------------------------------------------------------------------ key choice

#[test]
fn kid_rules() {
    let (a, b) = (p256_key(1), p256_key(2));
    let set = keys(
        &json!({"keys": [
            p256_jwk(&a, json!({"kid": "a"})),
            p256_jwk(&b, json!({"kid": "b"})),
            oct_jwk(SECRET, json!({"kid": "h"})),
        ]})
        .to_string(),
    );
    assert_eq!(set.source(), KeySource::Jwks);
    assert_eq!(set.len(), 3);
    let c = claims();
    assert_eq!(
        ok(
            &es256(&json!({"alg": "ES256", "kid": "b"}), &c, &b),
            &set,
            &at(NOW)
        ),
        c
    );
    invalid(
        &es256(&json!({"alg": "ES256", "kid": "a"}), &c, &b),
        &set,
        &at(NOW),
        "JWT signature does not match",
    );
    invalid(
        &es256(&json!({"alg": "ES256", "kid": "zz"}), &c, &b),
        &set,
        &at(NOW),
        "JWT kid 'zz' not found in JWKS (kids: a, b, h)",
    );
    invalid(
        &es256(&json!({"alg": "ES256", "kid": "h"}), &c, &b),
        &set,
        &at(NOW),
        "JWT algorithm ES256 does not fit an HMAC secret",
    );
    // No kid: every fitting key is tried.
    assert_eq!(
        ok(&es256(&json!({"alg": "ES256"}), &c, &b), &set, &at(NOW)),
        c
    );
    assert_eq!(ok(&hs("HS256", &c, SECRET), &set, &at(NOW)), c);
    invalid(
        &es256(&json!({"alg": "ES256"}), &c, &p256_key(3)),
        &set,
        &at(NOW),
        "JWT signature does not match (tried 2 keys)",
    );
    // A header kid against a JWKS whose keys have no kid.
    let kidless =
        keys(&json!({"keys": [p256_jwk(&a, json!({})), p256_jwk(&b, json!({}))]}).to_string());
    invalid(
        &es256(&json!({"alg": "ES256", "kid": "a"}), &c, &a),
        &kidless,
        &at(NOW),
        "JWT kid 'a' not found in JWKS (its keys have no kid)",
    );
    // ... but a single kid-less key is used for any kid.
    let single = keys(&json!({"keys": [p256_jwk(&a, json!({}))]}).to_string());
    assert_eq!(
        ok(
            &es256(&json!({"alg": "ES256", "kid": "a"}), &c, &a),
            &single,
            &at(NOW)
        ),
        c
    );
    // Key rotation: two keys share a kid; both are tried.
    let rotated = keys(
        &json!({"keys": [p256_jwk(&a, json!({"kid": "k"})), p256_jwk(&b, json!({"kid": "k"}))]})
            .to_string(),
    );
    assert_eq!(
        ok(
            &es256(&json!({"alg": "ES256", "kid": "k"}), &c, &b),
            &rotated,
            &at(NOW)
        ),
        c
    );
    // kid must be a string.
    invalid(
        &hs_header(&json!({"alg": "HS256", "kid": 1}), &c, SECRET),
        &keys(SECRET),
        &at(NOW),
        "JWT header 'kid' is not a string",
    );
}

#[test]
fn jwks_skips_unusable_keys() {
    let a = p256_key(1);
    let text = json!({"keys": [
        p256_jwk(&a, json!({"kid": "enc", "use": "enc"})),
        p256_jwk(&a, json!({"kid": "ops", "key_ops": ["encrypt"]})),
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "tiny", "n": b64(&[0xc5; 128]), "e": "AQAB"},
        {"kty": "RSA", "kid": "e1", "n": b64(&[0xc5; 256]), "e": "AQ"},
        {"kty": "oct", "kid": "empty", "k": ""},
        "not an object",
        {"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA"},
        p256_jwk(&a, json!({"kid": "alg", "alg": "RS256"})),
        {"kid": 5, "kty": "oct", "k": "AA"},
        p256_jwk(&a, json!({"kid": "good", "key_ops": ["verify"]})),
    ]});
    let set = keys(&text.to_string());
    assert_eq!(set.len(), 1);
    assert_eq!(set.keys()[0].kid(), Some("good"));
    assert_eq!(set.keys()[0].kind(), "EC P-256");
    assert!(set.keys()[0].fits(Algorithm::Es256));
    assert!(!set.keys()[0].fits(Algorithm::Hs256));
    let skipped = set.skipped().join("\n");
    for needle in [
        "key #0 (kid 'enc'): 'use' is 'enc', not 'sig'",
        "key #1 (kid 'ops'): 'key_ops' does not include 'verify'",
        "key #2 (kid 'p521'): EC curve 'P-521' is not supported",
        "key #3 (kid 'tiny'): RSA key is 1024 bits; at least 2048 are required",
        "key #4 (kid 'e1'): RSA key is not usable",
        "key #5 (kid 'empty'): oct 'k' is empty",
        "key #6: not a JSON object",
        "key #7 (kid 'short'): OKP Ed25519 'x' must be 32 bytes (got 3)",
        "key #8 (kid 'alg'): alg RS256 does not fit kty EC P-256",
        "key #9: 'kid' is not a string",
    ] {
        assert!(skipped.contains(needle), "{needle:?} not in\n{skipped}");
    }
    let t = es256(&json!({"alg": "ES256", "kid": "good"}), &claims(), &a);
    assert_eq!(ok(&t, &set, &at(NOW)), claims());
    invalid(
        &es256(&json!({"alg": "ES256", "kid": "enc"}), &claims(), &a),
        &set,
        &at(NOW),
        "JWT kid 'enc' not found in JWKS (kids: good)",
    );
}

// ------------------------------------------------------------------ key parsing

#[test]
fn key_forms_and_sources() {
    let set = Key::parse("plain secret").expect("secret");
    assert_eq!(set.source(), KeySource::Secret);
    assert_eq!(set.keys()[0].kind(), "oct");
    assert!(!set.is_empty());
    let set = keys(&oct_jwk(SECRET, json!({"kid": "x"})).to_string());
    assert_eq!(set.source(), KeySource::Jwk);
    assert_eq!(set.keys()[0].kid(), Some("x"));
    let pem = p256::PublicKey::from(p256_key(1).verifying_key()).to_string();
    let set = keys(&format!("\n\n  {pem}  \n"));
    assert_eq!(set.source(), KeySource::Pem);
    assert_eq!(set.keys()[0].kind(), "EC P-256");
    let set = keys(&ed_jwk(&ed_key(1), json!({"alg": "EdDSA"})).to_string());
    assert_eq!(set.keys()[0].kind(), "OKP Ed25519");
    assert_eq!(set.keys()[0].alg(), Some(Algorithm::EdDsa));
    // A secret with spaces inside is still a secret; "[...]" too.
    assert_eq!(keys("two words").source(), KeySource::Secret);
    assert_eq!(keys("[1,2]").source(), KeySource::Secret);
}

#[test]
fn secret_bytes_are_used_untrimmed() {
    let secret = " padded secret \n";
    let t = hs("HS256", &claims(), secret);
    assert_eq!(ok(&t, &keys(secret), &at(NOW)), claims());
    invalid(
        &t,
        &keys(secret.trim()),
        &at(NOW),
        "JWT signature does not match",
    );
}

#[test]
fn malformed_keys() {
    malformed("", "HMAC secret is empty");
    malformed(" \n ", "HMAC secret is empty");
    malformed("-----BEGIN PUBLIC KEY-----\n", "no '-----END");
    malformed(
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "PEM PUBLIC KEY is not valid SubjectPublicKeyInfo DER",
    );
    malformed(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "X.509 certificate",
    );
    malformed(
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        "PEM holds a private key (EC PRIVATE KEY)",
    );
    malformed(
        "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n",
        "PEM label 'FOO' is not supported",
    );
    malformed(
        "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
        "PEM RSA PUBLIC KEY (PKCS#1) does not parse",
    );
    malformed("{", "is not valid JSON");
    malformed("{\"kty\": 1}", "JWK 'kty' is not a string");
    malformed("{\"kty\": \"oct\"}", "JWK oct key has no 'k'");
    malformed(
        "{\"kty\": \"oct\", \"k\": 5}",
        "JWK oct 'k' is not a string",
    );
    malformed(
        "{\"kty\": \"oct\", \"k\": \"a+b/\"}",
        "JWK oct 'k' is not valid base64url",
    );
    malformed(
        "{\"kty\": \"EC\", \"x\": \"AA\"}",
        "JWK EC key has no 'crv'",
    );
    malformed(
        "{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"AA\", \"y\": \"AA\"}",
        "JWK EC P-256 'x'/'y' must be 32 bytes each (got 1/1)",
    );
    malformed(
        &json!({"kty": "EC", "crv": "P-256", "x": b64(&[0; 32]), "y": b64(&[0; 32])}).to_string(),
        "JWK EC P-256 point is not on the curve",
    );
    malformed(
        &json!({"kty": "EC", "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[2; 48])}).to_string(),
        "JWK EC P-384 point is not on the curve",
    );
    malformed(
        &json!({"kty": "OKP", "crv": "Ed448", "x": "AA"}).to_string(),
        "JWK OKP curve 'Ed448' is not supported (Ed25519)",
    );
    malformed(
        &json!({"kty": "RSA", "n": b64(&[0xc5; 600]), "e": "AQAB"}).to_string(),
        "JWK RSA key is not usable",
    );
    malformed(
        &json!({"kty": "RSA", "n": b64(&[0xc5; 256]), "e": "AQ"}).to_string(),
        "JWK RSA key is not usable",
    );
    malformed(
        &json!({"kty": "RSA", "n": "", "e": "AQAB"}).to_string(),
        "JWK RSA key is not usable",
    );
    malformed(
        &oct_jwk(SECRET, json!({"key_ops": "verify"})).to_string(),
        "JWK 'key_ops' is not an array",
    );
    malformed(
        &oct_jwk(SECRET, json!({"alg": "none"})).to_string(),
        "JWK alg 'none' is not a supported signature algorithm",
    );
    malformed(
        &oct_jwk(SECRET, json!({"use": 1})).to_string(),
        "JWK 'use' is not a string",
    );
    malformed(
        "{\"keys\": [1, 2]}",
        "JWKS has no usable signature key: key #0: not a JSON object; key #1: not a JSON object",
    );
    malformed(
        &"x".repeat(insforge_core::jwt::MAX_KEY_TEXT_BYTES + 1),
        "the limit is 1048576",
    );
}

#[test]
fn private_members_of_a_jwk_are_ignored() {
    let k = ed_key(5);
    let text = ed_jwk(&k, json!({"d": b64(k.as_bytes())})).to_string();
    let t = eddsa(&json!({"alg": "EdDSA"}), &claims(), &k);
    assert_eq!(ok(&t, &keys(&text), &at(NOW)), claims());
}

#[test]
fn weak_ed25519_keys_never_verify() {
    // The identity point (a small-order key): verify_strict refuses it.
    let mut x = [0u8; 32];
    x[0] = 1;
    let text = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)}).to_string();
    if let Ok(set) = KeySet::parse(&text) {
        let header = b64(json!({"alg": "EdDSA"}).to_string().as_bytes());
        let payload = b64(claims().to_string().as_bytes());
        // R = identity, s = 0 verifies under the plain equation for this key.
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let t = format!("{header}.{payload}.{}", b64(&sig));
        invalid(&t, &set, &at(NOW), "JWT signature does not match");
    }
}

// ------------------------------------------------------------------ time and claims

#[test]
fn exp_and_nbf_boundaries() {
    let c = json!({"exp": NOW, "nbf": NOW - 100});
    let t = hs("HS256", &c, SECRET);
    let k = keys(SECRET);
    ok(&t, &k, &at(NOW - 1));
    invalid(&t, &k, &at(NOW), "JWT expired 0 s ago");
    invalid(&t, &k, &at(NOW + 312), "JWT expired 312 s ago");
    let with_leeway = |now, leeway| VerifyOptions { leeway, ..at(now) };
    ok(&t, &k, &with_leeway(NOW + 29, 30));
    invalid(
        &t,
        &k,
        &with_leeway(NOW + 30, 30),
        "JWT expired 30 s ago (leeway 30 s)",
    );
    // Negative leeway counts as 0.
    invalid(&t, &k, &with_leeway(NOW, -100), "JWT expired 0 s ago");
    ok(&t, &k, &at(NOW - 100));
    invalid(
        &t,
        &k,
        &at(NOW - 140),
        "JWT not valid for another 40 s (nbf)",
    );
    ok(&t, &k, &with_leeway(NOW - 130, 30));
    invalid(
        &t,
        &k,
        &with_leeway(NOW - 131, 30),
        "JWT not valid for another 31 s (nbf) (leeway 30 s)",
    );
    // Extreme values never overflow.
    ok(&t, &k, &with_leeway(NOW, i64::MAX));
    ok(&t, &k, &with_leeway(i64::MAX, i64::MAX));
    invalid(&t, &k, &at(i64::MAX), "JWT expired");
    invalid(&t, &k, &at(i64::MIN), "JWT not valid for another");
    let huge = hs("HS256", &json!({"exp": 1e308, "nbf": -1e308}), SECRET);
    ok(&huge, &k, &at(i64::MAX));
    let big_int = hs("HS256", &json!({"exp": u64::MAX}), SECRET);
    ok(&big_int, &k, &at(i64::MAX));
}

#[test]
fn exp_nbf_types() {
    let k = keys(SECRET);
    for bad in [json!("1"), json!(null), json!(true), json!([1]), json!({})] {
        invalid(
            &hs("HS256", &json!({"exp": bad}), SECRET),
            &k,
            &at(NOW),
            "JWT 'exp' claim is not a number",
        );
        invalid(
            &hs("HS256", &json!({"nbf": bad}), SECRET),
            &k,
            &at(NOW),
            "JWT 'nbf' claim is not a number",
        );
    }
    ok(
        &hs("HS256", &json!({"exp": NOW as f64 + 0.5}), SECRET),
        &k,
        &at(NOW),
    );
}

#[test]
fn audience_and_issuer() {
    let k = keys(SECRET);
    let opts = |aud: Option<Vec<&str>>, iss: Option<Vec<&str>>| VerifyOptions {
        audiences: aud.map(|v| v.into_iter().map(String::from).collect()),
        issuers: iss.map(|v| v.into_iter().map(String::from).collect()),
        ..at(NOW)
    };
    let c = json!({"aud": "insforge-api", "iss": "https://acme.auth0.com/"});
    let t = hs("HS256", &c, SECRET);
    ok(
        &t,
        &k,
        &opts(
            Some(vec!["x", "insforge-api"]),
            Some(vec!["https://acme.auth0.com/"]),
        ),
    );
    ok(&t, &k, &opts(Some(vec![]), Some(vec![])));
    ok(&t, &k, &opts(None, None));
    invalid(
        &t,
        &k,
        &opts(Some(vec!["a", "b"]), None),
        "JWT audience 'insforge-api' not accepted (accepted: a, b)",
    );
    invalid(
        &t,
        &k,
        &opts(None, Some(vec!["https://other/"])),
        "JWT issuer 'https://acme.auth0.com/' not accepted (accepted: https://other/)",
    );
    let t = hs("HS256", &json!({"aud": []}), SECRET);
    invalid(
        &t,
        &k,
        &opts(Some(vec!["insforge-api"]), None),
        "JWT audience [] not accepted (accepted: insforge-api)",
    );
    let t = hs("HS256", &json!({"aud": ["insforge-api", 3]}), SECRET);
    invalid(
        &t,
        &k,
        &opts(Some(vec!["insforge-api"]), None),
        "JWT 'aud' claim is not a string or an array of strings",
    );
    let t = hs("HS256", &json!({"iss": ["a"]}), SECRET);
    invalid(
        &t,
        &k,
        &opts(None, Some(vec!["a"])),
        "JWT 'iss' claim is not a string",
    );
    // Values from the token are sanitised in messages.
    let t = hs(
        "HS256",
        &json!({"iss": format!("evil\n{}", "x".repeat(500))}),
        SECRET,
    );
    let e = err(&t, &k, &opts(None, Some(vec!["a"])));
    assert!(
        e.message.starts_with("JWT issuer 'evil?xxx"),
        "{}",
        e.message
    );
    assert!(e.message.len() < 200, "{}", e.message);
}

// ------------------------------------------------------------------ token format

#[test]
fn token_format() {
    let k = keys(SECRET);
    let good = hs("HS256", &claims(), SECRET);
    invalid("", &k, &at(NOW), "JWT is empty");
    invalid("   \n", &k, &at(NOW), "JWT is empty");
    invalid(
        "abc",
        &k,
        &at(NOW),
        "expected 3 dot-separated parts, found 1",
    );
    invalid(
        "a.b.c.d",
        &k,
        &at(NOW),
        "expected 3 dot-separated parts, found 4",
    );
    invalid(&format!("{good}."), &k, &at(NOW), "found 4");
    invalid("..", &k, &at(NOW), "JWT header is not valid base64url JSON");
    ok(&format!("\t{good} \r\n"), &k, &at(NOW));
    // Bearer prefixes are not stripped.
    invalid(
        &format!("Bearer {good}"),
        &k,
        &at(NOW),
        "JWT header is not valid base64url JSON",
    );
    // Padding on parts is tolerated (the signature covers the text as sent).
    let header = format!("{}=", b64(json!({"alg": "HS256"}).to_string().as_bytes()));
    let payload = b64(b"{\"a\":1}");
    let input = format!("{header}.{payload}");
    let t = format!(
        "{input}.{}",
        b64(&hmac_sig("HS256", SECRET.as_bytes(), input.as_bytes()))
    );
    if header.len() % 4 == 0 {
        assert_eq!(ok(&t, &k, &at(NOW)), json!({"a": 1}));
    }
    // Standard base64 alphabet is not base64url.
    let (input, sig) = good.rsplit_once('.').expect("parts");
    let std_sig = sig.replace('-', "+").replace('_', "/");
    if std_sig != sig {
        invalid(
            &format!("{input}.{std_sig}"),
            &k,
            &at(NOW),
            "JWT signature is not valid base64url",
        );
    }
    // A header that is valid JSON but not an object; a payload that is a string.
    let t = hs_header(&json!({"alg": "HS256"}), &json!("just a string"), SECRET);
    invalid(&t, &k, &at(NOW), "JWT payload is not a JSON object");
    // Duplicate keys in the payload: the last one wins (as in jsonb).
    let dup = token_with(
        &json!({"alg": "HS256"}),
        b"{\"sub\":\"a\",\"sub\":\"b\"}",
        |i| hmac_sig("HS256", SECRET.as_bytes(), i),
    );
    assert_eq!(ok(&dup, &k, &at(NOW)), json!({"sub": "b"}));
}

#[test]
fn size_cap() {
    let k = keys(SECRET);
    let big = json!({"pad": "x".repeat(MAX_TOKEN_BYTES)});
    let t = hs("HS256", &big, SECRET);
    invalid(&t, &k, &at(NOW), "JWT is too large");
    invalid(
        &"a".repeat(10 * MAX_TOKEN_BYTES),
        &k,
        &at(NOW),
        "(limit 65536)",
    );
    // Just under the cap verifies.
    let pad = (MAX_TOKEN_BYTES - 200) * 3 / 4;
    let t = hs("HS256", &json!({"pad": "y".repeat(pad)}), SECRET);
    assert!(t.len() <= MAX_TOKEN_BYTES, "{}", t.len());
    ok(&t, &k, &at(NOW));
}

#[test]
fn deeply_nested_payload_is_an_error_not_a_crash() {
    let k = keys(SECRET);
    let depth = 20_000;
    let payload = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let t = token_with(&json!({"alg": "HS256"}), payload.as_bytes(), |i| {
        hmac_sig("HS256", SECRET.as_bytes(), i)
    });
    invalid(&t, &k, &at(NOW), "JWT payload is not valid base64url JSON");
    // Nested header too (checked before the signature).
    let header = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let t = format!("{}.e30.AA", b64(header.as_bytes()));
    invalid(&t, &k, &at(NOW), "JWT header is not valid base64url JSON");
}

#[test]
fn keyset_is_shareable() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<KeySet>();
    assert_send_sync_clone::<JwtError>();
    let k = keys(SECRET);
    let t = hs("HS256", &claims(), SECRET);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (k, t) = (k.clone(), t.clone());
            std::thread::spawn(move || verify(&t, &k, &at(NOW)).is_ok())
        })
        .collect();
    for h in handles {
        assert!(h.join().expect("thread"));
    }
}

// ------------------------------------------------------------------ hostile input never panics

/// xorshift64*: deterministic, no dev-dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_tokens_never_panic_or_verify() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let ka = p256_key(1);
    let ked = ed_key(1);
    let sets = [
        keys(SECRET),
        keys(
            &json!({"keys": [p256_jwk(&ka, json!({"kid": "a"})), ed_jwk(&ked, json!({}))]})
                .to_string(),
        ),
    ];
    let tokens = [
        hs("HS256", &claims(), SECRET),
        es256(&json!({"alg": "ES256", "kid": "a"}), &claims(), &ka),
        eddsa(&json!({"alg": "EdDSA"}), &claims(), &ked),
    ];
    let alphabet: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x00\xff";
    let mut accepted = 0;
    for round in 0..900 {
        let base = &tokens[round % tokens.len()];
        let mut bytes = base.as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[i] = alphabet[rng.below(alphabet.len())],
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, alphabet[rng.below(alphabet.len())]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        for set in &sets {
            if verify(&text, set, &at(NOW)).is_ok() {
                accepted += 1;
                // Only a mutation the base64url decoder ignores may pass
                // (e.g. surrounding whitespace or a padding '=').
                let stripped: String = text
                    .trim_matches(|c: char| c.is_ascii_whitespace())
                    .split('.')
                    .map(|p| p.trim_end_matches('='))
                    .collect::<Vec<_>>()
                    .join(".");
                assert!(
                    tokens.contains(&stripped),
                    "mutated token verified: {text:?}"
                );
            }
        }
    }
    assert!(accepted < 100, "{accepted}");
}

#[test]
fn random_key_texts_never_panic() {
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    let seeds = [
        p256::PublicKey::from(p256_key(1).verifying_key()).to_string(),
        json!({"keys": [p256_jwk(&p256_key(1), json!({"kid": "a"})), ed_jwk(&ed_key(1), json!({}))]})
            .to_string(),
        ed_jwk(&ed_key(2), json!({"alg": "EdDSA"})).to_string(),
        json!({"kty": "RSA", "n": b64(&[0xc5; 256]), "e": "AQAB"}).to_string(),
    ];
    let t = es256(&json!({"alg": "ES256"}), &claims(), &p256_key(1));
    for round in 0..2000 {
        let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = (rng.next() & 0xff) as u8;
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(set) = KeySet::parse(&text) {
            let _ = verify(&t, &set, &at(NOW));
        }
    }
}
