//! `verify` in pieces (what the SQL shell runs: `verify_signature`,
//! `Signed::payload_bytes`, `parse_payload` into its own document type,
//! `check_claims`) gives exactly `verify`'s answer, claims or error, on every
//! PyJWT vector and on payload edge cases.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use insforge_core::jwt::{
    check_claims, parse_payload, verify, verify_signature, JwtError, KeySet, ValueSink,
    VerifyOptions,
};
use serde_json::{json, Value};
use sha2::Sha256;

const VECTORS: &str = include_str!("data/jwt_vectors.json");

fn in_pieces(token: &str, keys: &KeySet, opts: &VerifyOptions) -> Result<Value, JwtError> {
    let payload = verify_signature(token, keys)?.payload_bytes()?;
    let (claims, checked) = parse_payload(&payload, &mut ValueSink)?;
    check_claims(&checked, opts)?;
    Ok(claims)
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    })
}

#[test]
fn pieces_agree_with_verify_on_every_vector() {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors JSON");
    let mut compared = 0;
    for v in doc["vectors"].as_array().expect("vectors") {
        let Ok(keys) = KeySet::parse(v["key"].as_str().expect("key")) else {
            continue;
        };
        let opts = VerifyOptions {
            now: v["now"].as_i64().expect("now"),
            leeway: v["leeway"].as_i64().expect("leeway"),
            audiences: strings(&v["audiences"]),
            issuers: strings(&v["issuers"]),
        };
        let token = v["token"].as_str().expect("token");
        let whole = verify(token, &keys, &opts).map(Value::Object);
        assert_eq!(in_pieces(token, &keys, &opts), whole, "{}", v["name"]);
        compared += 1;
    }
    assert!(compared > 200, "{compared}");
}

fn hs256(payload: &[u8], secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256"}).to_string());
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[test]
fn pieces_agree_with_verify_on_payload_edge_cases() {
    let secret = "split-test-secret";
    let keys = KeySet::parse(secret).expect("secret");
    let opts = VerifyOptions {
        leeway: 30,
        audiences: Some(vec!["insforge-api".into()]),
        ..VerifyOptions::at(1_750_000_000)
    };
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(300), "]".repeat(300));
    let payloads: Vec<&[u8]> = vec![
        br#"{"aud":"insforge-api","exp":1750000100,"sub":"x","n":[1,{"b":null}],"s":"\u00e9"}"#,
        br#"{"aud":"insforge-api","exp":1749999000}"#,
        br#"{"aud":["a","insforge-api"],"exp":"soon"}"#,
        br#"{"aud":"other"}"#,
        br#"{"aud":"insforge-api","aud":"other"}"#,
        br#"{"aud":"other","aud":"insforge-api","exp":1.5e9,"exp":1760000000.5}"#,
        br#"{"exp":1750000100}"#,
        br#"{"nbf":1750000100,"aud":"insforge-api"}"#,
        br#"[1,2]"#,
        br#"{"a":1"#,
        br#"{"a":1e400}"#,
        br#"{"a":"\u0000","aud":"insforge-api"}"#,
        deep.as_bytes(),
        b"",
    ];
    for payload in payloads {
        let token = hs256(payload, secret);
        let whole = verify(&token, &keys, &opts).map(Value::Object);
        assert_eq!(
            in_pieces(&token, &keys, &opts),
            whole,
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
}
