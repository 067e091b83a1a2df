//! `verify` of arbitrary token text against fixed keys of every kind (HMAC
//! secret and oct JWK, RSA SPKI/PKCS#1/JWK, P-256 and P-384 PEM/JWK,
//! Ed25519 PEM/JWK, and a JWKS of all of them with kids).
//!
//! Input: one selector byte (options), then the token text.
//!
//! Invariants: every error is `Invalid` (SQLSTATE 28000); a verified token
//! has 3 parts, its claims are a JSON object equal to its decoded payload,
//! and it also verifies under laxer options (no aud/iss, more leeway); the
//! SQL shell's path (`verify_in_pieces`) gives exactly the same answer.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use insforge_core::jwt::{verify, JwtErrorKind, VerifyOptions};
use insforge_fuzz::{fixed_keysets, text, verify_in_pieces, Input, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let sel = input.byte();
    let token = text(input.rest());
    let strict = VerifyOptions {
        now: if sel & 1 == 0 {
            NOW
        } else {
            i64::from(sel) * 7_000_000
        },
        leeway: match sel >> 1 & 3 {
            0 => 0,
            1 => 30,
            2 => -1,
            _ => i64::MAX,
        },
        audiences: (sel & 8 != 0).then(|| vec!["insforge-api".to_string(), String::new()]),
        issuers: (sel & 16 != 0).then(|| vec!["insforge".to_string()]),
    };
    let lax = VerifyOptions {
        now: strict.now,
        leeway: strict.leeway.max(0),
        audiences: None,
        issuers: None,
    };
    for (name, set) in fixed_keysets() {
        let whole = verify(&token, set, &strict);
        assert_eq!(
            verify_in_pieces(&token, set, &strict),
            whole,
            "{name}: the shell's path differs"
        );
        match whole {
            Ok(claims) => {
                let trimmed = token.trim_matches(|c: char| c.is_ascii_whitespace());
                let parts: Vec<&str> = trimmed.split('.').collect();
                assert_eq!(parts.len(), 3);
                let payload = URL_SAFE_NO_PAD
                    .decode(parts[1].trim_end_matches('='))
                    .expect("verified payload is base64url");
                let value: Value =
                    serde_json::from_slice(&payload).expect("verified payload is JSON");
                assert_eq!(Value::Object(claims.clone()), value, "{name}");
                assert_eq!(
                    verify(&token, set, &lax).ok(),
                    Some(claims),
                    "{name}: lax options refuse"
                );
            }
            Err(e) => assert_eq!(e.kind, JwtErrorKind::Invalid, "{name}: {e:?}"),
        }
    }
});
