//! `KeySet::parse` on arbitrary key text, then tokens of every algorithm
//! verified against whatever parsed.
//!
//! Invariants: parse errors are `MalformedKey`; a parsed set is non-empty and
//! its source matches the text (`-----BEGIN` PEM, `{` JSON, else a secret
//! whose bytes are the untrimmed text); verification against any parsed set
//! fails only with `Invalid`; `fits` agrees with the key's kind; a secret
//! verifies an HS256 token signed with exactly its text.
#![no_main]

use insforge_core::jwt::{verify, Algorithm, JwtErrorKind, KeySet, KeySource, VerifyOptions};
use insforge_fuzz::{sample_tokens, sign_jwt, text, Signer, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let key_text = text(data);
    let set = match KeySet::parse(&key_text) {
        Ok(set) => set,
        Err(e) => {
            assert_eq!(e.kind, JwtErrorKind::MalformedKey, "{e:?}");
            assert_eq!(e.sqlstate(), "22023");
            return;
        }
    };
    assert!(!set.is_empty() && set.len() == set.keys().len());
    let trimmed = key_text.trim();
    match set.source() {
        KeySource::Pem => assert!(trimmed.starts_with("-----BEGIN") && set.len() == 1),
        KeySource::Jwk => assert!(trimmed.starts_with('{') && set.len() == 1),
        KeySource::Jwks => assert!(trimmed.starts_with('{')),
        KeySource::Secret => {
            assert!(
                !trimmed.starts_with("-----BEGIN")
                    && !trimmed.starts_with('{')
                    && !trimmed.is_empty()
            );
            assert_eq!(set.len(), 1);
            assert_eq!(set.keys()[0].kind(), "oct");
            // The secret is the untrimmed text's bytes.
            let signer = Signer::Hmac(key_text.as_bytes().to_vec());
            let token = sign_jwt(
                &signer,
                Algorithm::Hs256,
                &json!({"alg": "HS256"}),
                br#"{"sub":"x"}"#,
                1,
            )
            .expect("HS256 fits");
            let claims = verify(&token, &set, &VerifyOptions::at(NOW))
                .unwrap_or_else(|e| panic!("secret does not verify its own token: {e:?}"));
            assert_eq!(claims["sub"], "x");
        }
    }
    for key in set.keys() {
        let kind = key.kind();
        for alg in Algorithm::ALL {
            if key.fits(alg) {
                let ok = match kind {
                    "oct" => alg.as_str().starts_with("HS"),
                    "RSA" => alg.as_str().starts_with("RS") || alg.as_str().starts_with("PS"),
                    "EC P-256" => alg == Algorithm::Es256,
                    "EC P-384" => alg == Algorithm::Es384,
                    "OKP Ed25519" => alg == Algorithm::EdDsa,
                    other => panic!("unknown kind {other}"),
                };
                assert!(ok, "{kind} fits {alg:?}");
                if let Some(own) = key.alg() {
                    assert_eq!(own, alg);
                }
            }
        }
    }
    let mut opts = VerifyOptions::at(NOW);
    opts.leeway = 30;
    for token in sample_tokens() {
        if let Err(e) = verify(token, &set, &opts) {
            assert_eq!(e.kind, JwtErrorKind::Invalid, "{e:?}");
        }
    }
});
