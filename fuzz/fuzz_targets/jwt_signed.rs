//! Correctly signed tokens with arbitrary payloads and headers, for every
//! algorithm and every key form.
//!
//! Input: key/algorithm/form selectors, then the payload bytes.
//!
//! Invariants: a token signed by the right key is never refused for its
//! signature or key choice; its claims are the payload; with no `exp`/`nbf`
//! and a JSON-object payload it verifies; a token with one signature byte
//! changed never verifies; the same token checked against a key of another
//! family never verifies (algorithm confusion), and neither does an HS256
//! token whose HMAC key is the public key's own text; the SQL shell's path
//! (`verify_in_pieces`) gives exactly `verify`'s answer.
#![no_main]

use insforge_core::jwt::Algorithm;
use insforge_core::jwt::{verify, JwtErrorKind, KeySet, VerifyOptions};
use insforge_fuzz::{
    fixed_keysets, jwks_text, sign_jwt, test_keys, verify_in_pieces, Input, Signer, NOW,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let keys = test_keys();
    let key = &keys[input.choose(keys.len())];
    let alg = key.algs[input.choose(key.algs.len())];
    let form = input.choose(key.texts.len() + 1); // last: the JWKS
    let flags = input.byte();
    let flip_at = usize::from(input.byte());
    let seed = input.u64();
    let payload = input.rest();

    let mut header = json!({"alg": alg.as_str()});
    if flags & 1 != 0 {
        header["typ"] = json!("JWT");
    }
    if flags & 2 != 0 {
        header["kid"] = json!(key.name);
    }
    if flags & 4 != 0 && alg == Algorithm::EdDsa {
        header["alg"] = json!("Ed25519");
    }
    let token = sign_jwt(&key.signer, alg, &header, payload, seed).expect("alg fits key");
    let set = if form == key.texts.len() {
        KeySet::parse(jwks_text()).expect("jwks")
    } else {
        KeySet::parse(&key.texts[form]).expect("key text")
    };
    let opts = VerifyOptions::at(NOW);
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    let whole = verify(&token, &set, &opts);
    assert_eq!(
        verify_in_pieces(&token, &set, &opts),
        whole,
        "the shell's path differs"
    );
    match whole {
        Ok(claims) => assert_eq!(Some(Value::Object(claims)), parsed),
        Err(e) => {
            assert_eq!(e.kind, JwtErrorKind::Invalid);
            let m = &e.message;
            assert!(
                !m.contains("signature")
                    && !m.contains("kid")
                    && !m.contains("fit")
                    && !m.contains("algorithm"),
                "{} {alg:?} form {form}: correctly signed token refused: {m}",
                key.name
            );
            if let Some(Value::Object(obj)) = &parsed {
                assert!(
                    obj.contains_key("exp") || obj.contains_key("nbf"),
                    "payload object without exp/nbf refused: {m}"
                );
            }
        }
    }

    // one signature byte changed
    let (head, sig) = token.rsplit_once('.').expect("3 parts");
    let mut sig_bytes = sig.as_bytes().to_vec();
    let i = flip_at % sig_bytes.len();
    // Change a character to another base64url character of the same 6-bit
    // group position; the last character may carry padding bits, so skip it.
    let i = if i + 1 == sig_bytes.len() {
        i.saturating_sub(1)
    } else {
        i
    };
    sig_bytes[i] = if sig_bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}.{}", String::from_utf8(sig_bytes).expect("ascii"));
    if tampered != token {
        assert!(
            verify(&tampered, &set, &opts).is_err(),
            "tampered signature verifies"
        );
    }

    // another family's key never verifies it
    for (name, other) in fixed_keysets() {
        if name.starts_with(&format!("{}#", key.name)) || name == "jwks" {
            continue;
        }
        assert!(
            verify(&token, other, &opts).is_err(),
            "{} token verifies under {name}",
            key.name
        );
    }

    // algorithm confusion: HS256 keyed with a public key's text
    if !matches!(key.signer, Signer::Hmac(_)) {
        let text = &key.texts[form % key.texts.len()];
        let hs = sign_jwt(
            &Signer::Hmac(text.as_bytes().to_vec()),
            Algorithm::Hs256,
            &json!({"alg": "HS256"}),
            payload,
            0,
        )
        .expect("HS256");
        let s = KeySet::parse(text).expect("key text");
        assert!(
            verify(&hs, &s, &opts).is_err(),
            "HS256 keyed with the public key text verifies"
        );
    }
});
