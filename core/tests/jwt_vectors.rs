//! Vectors signed by an independent implementation (PyJWT + cryptography):
//! see `tests/data/jwt_gen_vectors.py`, which writes `tests/data/jwt_vectors.json`.

use insforge_core::jwt::{verify, JwtErrorKind, KeySet, VerifyOptions};
use insforge_core::validate::{auth_provider, validate_claims, Rules};
use serde_json::Value;

const VECTORS: &str = include_str!("data/jwt_vectors.json");

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|s| s.as_str().expect("string list").to_string())
            .collect()
    })
}

fn run_one(v: &Value) -> Result<(), String> {
    let token = v["token"].as_str().ok_or("token")?;
    let key = v["key"].as_str().ok_or("key")?;
    let now = v["now"].as_i64().ok_or("now")?;
    let opts = VerifyOptions {
        now,
        leeway: v["leeway"].as_i64().ok_or("leeway")?,
        audiences: strings(&v["audiences"]),
        issuers: strings(&v["issuers"]),
    };
    let expect = &v["expect"];
    let outcome = KeySet::parse(key).and_then(|keys| verify(token, &keys, &opts));
    match (outcome, expect.get("claims")) {
        (Ok(claims), Some(want)) => {
            let got = Value::Object(claims);
            if &got != want {
                return Err(format!("claims differ: got {got}, want {want}"));
            }
            let provider = auth_provider(&got);
            if provider != v["provider"].as_str() {
                return Err(format!(
                    "auth_provider: got {provider:?}, want {}",
                    v["provider"]
                ));
            }
            if let Some(val) = v.get("validate") {
                let r = &val["rules"];
                let rules = Rules {
                    audiences: strings(&r["audiences"]).ok_or("rules.audiences")?,
                    issuers: strings(&r["issuers"]).ok_or("rules.issuers")?,
                    roles: strings(&r["roles"]).ok_or("rules.roles")?,
                    leeway: r["leeway"].as_i64().ok_or("rules.leeway")?,
                    providers: strings(&r["providers"]).ok_or("rules.providers")?,
                };
                let want: Vec<String> = strings(&val["problems"]).ok_or("problems")?;
                let got: Vec<&str> = validate_claims(&got, &rules, now);
                if got != want {
                    return Err(format!("validate_claims: got {got:?}, want {want:?}"));
                }
            }
            Ok(())
        }
        (Ok(claims), None) => Err(format!(
            "verified but expected {expect}: {}",
            Value::Object(claims)
        )),
        (Err(e), Some(_)) => Err(format!("expected success, got {:?}: {}", e.kind, e.message)),
        (Err(e), None) => {
            let kind = expect["error"].as_str().ok_or("expect.error")?;
            let msg = expect["message"].as_str().ok_or("expect.message")?;
            let want_kind = match kind {
                "Invalid" => JwtErrorKind::Invalid,
                "MalformedKey" => JwtErrorKind::MalformedKey,
                other => return Err(format!("unknown kind {other}")),
            };
            if e.kind != want_kind || !e.message.contains(msg) {
                return Err(format!(
                    "got {:?} {:?}, want {kind} containing {msg:?}",
                    e.kind, e.message
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn pyjwt_vectors() {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors JSON");
    let vectors = doc["vectors"].as_array().expect("vectors array");
    assert!(vectors.len() > 200, "only {} vectors", vectors.len());
    let mut failures = Vec::new();
    let (mut ok, mut err) = (0, 0);
    for v in vectors {
        if v["expect"].get("claims").is_some() {
            ok += 1;
        } else {
            err += 1;
        }
        if let Err(why) = run_one(v) {
            failures.push(format!("{}: {why}", v["name"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
    assert!(ok > 100 && err > 80, "ok {ok}, err {err}");
}

/// Every algorithm and every key form appears among the accepted vectors.
#[test]
fn vectors_cover_every_algorithm_and_key_form() {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors JSON");
    let vectors = doc["vectors"].as_array().expect("vectors array");
    let accepted: Vec<&Value> = vectors
        .iter()
        .filter(|v| v["expect"].get("claims").is_some())
        .collect();
    for alg in [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "EdDSA",
    ] {
        for form in ["secret", "pem", "jwk", "jwks"] {
            if form == "secret" && !alg.starts_with("HS") || form == "pem" && alg.starts_with("HS")
            {
                continue;
            }
            let found = accepted.iter().any(|v| {
                let name = v["name"].as_str().unwrap_or("");
                name.starts_with(alg) && name.contains(form)
            });
            assert!(found, "no accepted vector for {alg} with a {form} key");
        }
    }
}
