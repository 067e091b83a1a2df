//! Raw-crypto micro-benchmark: the floor that `verify_jwt` and
//! `x402.recover_payer` are compared with (benches/run_all.py runs it in the
//! same run as the SQL benchmarks, on the same tokens and payload).
//!
//! Usage: cargo bench -p insforge_core --bench raw_crypto -- \
//!            [--jwt-cases FILE] [--x402-payload FILE] [--permit2-payload FILE]
//!            [--rounds 15] [--json]
//!
//! `--jwt-cases` is what `benches/jwt_bench.py --cases-out` writes: a JSON
//! array of `{"name", "token", "key"}` (the key text as given to
//! `verify_jwt`: a secret or a JWKS). `--x402-payload` is what
//! `benches/x402_bench.py --payload-out` writes: one x402 v2 payload. Without
//! them, built-in cases are used (an HS256 token only; no RSA/EC keys are
//! generated here).
//!
//! Variants, per JWT case (the token's signing input and decoded signature
//! are prepared once, so only the cryptography is timed):
//!   raw_oneshot   aws-lc-rs one-shot verify with the key bytes
//!                 (HMAC: key set-up + verify; RSA: `RsaPublicKeyComponents::verify`;
//!                 EC: `ECDSA_P256_SHA256_FIXED.verify_sig` on the SEC1 point)
//!   raw_parsed    aws-lc-rs with the key parsed beforehand (`ParsedPublicKey`;
//!                 HMAC: a prebuilt `hmac::Key`)
//!   jsonwebtoken  jsonwebtoken's aws-lc verifier with the `DecodingKey` our
//!                 core holds (what `insforge_core::jwt::verify` calls)
//!   core          `insforge_core::jwt::verify(token, keys, opts)`: the whole
//!                 check, base64 and JSON included, key set parsed once
//! `raw` is the faster of raw_oneshot and raw_parsed: the floor.
//!
//! x402 (the payload's EIP-3009 signature over its EIP-712 digest):
//!   raw           libsecp256k1 public-key recovery + Keccak-256 of the key
//!                 (the address), digest and signature prepared once
//!   core          `insforge_core::x402::recover_payer(&payload, None)`
//!   core_text     the same from the payload's JSON text (serde parse included)
//!
//! Permit2 (`--permit2-payload`: `{"payload", "requirements", "at"}`, what
//! `benches/x402_bench.py --permit2-out` writes: an x402 `exact` payment
//! through Permit2):
//!   raw           libsecp256k1 public-key recovery + Keccak-256 of the key,
//!                 over the payment's PermitWitnessTransferFrom digest
//!                 (prepared once): the same floor, on this signature
//!   core          `insforge_core::x402::verify_payment(&payload,
//!                 &requirements, at, ...)`: the whole verification
//!   core_text     the same from the JSON texts (serde parse included)
//!
//! Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so waiting for a
//! CPU on a shared machine does not count. Each round times every variant
//! back to back (order rotated per round); numbers are medians over rounds.

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED,
    ECDSA_P384_SHA384_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384,
    RSA_PSS_2048_8192_SHA512,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use insforge_core::jwt::{self, Algorithm, KeySet, VerifyOptions};
use insforge_core::x402;
use serde_json::{json, Value};

type Job = Box<dyn FnMut() -> bool>;

/// Nanoseconds of CPU time of this thread (wall-clock where unavailable).
fn cpu_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer for the duration of the call.
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    thread_local!(static START: Instant = Instant::now());
    START.with(|s| s.elapsed().as_nanos() as u64)
}

struct Variant {
    group: String,
    name: &'static str,
    job: Job,
    iters: u64,
    per_call_ns: Vec<f64>,
}

fn variant(group: &str, name: &'static str, mut job: Job) -> Variant {
    for _ in 0..3 {
        assert!(job(), "{group}/{name}: the operation failed");
    }
    // Calibrate: about 20 ms of CPU per timed block.
    let mut iters = 1u64;
    loop {
        let t0 = cpu_ns();
        for _ in 0..iters {
            black_box(job());
        }
        let dt = cpu_ns() - t0;
        if dt > 5_000_000 || iters > 1 << 24 {
            iters = (iters * 20_000_000 / dt.max(1)).max(1);
            break;
        }
        iters *= 4;
    }
    Variant {
        group: group.to_string(),
        name,
        job,
        iters,
        per_call_ns: Vec::new(),
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .expect("base64url")
}

/// The JWK (object) a token's `kid` picks from key text, if the text is JSON.
fn jwk_for(key_text: &str, kid: Option<&str>) -> Option<Value> {
    let v: Value = serde_json::from_str(key_text).ok()?;
    match v.get("keys").and_then(Value::as_array) {
        Some(keys) => keys
            .iter()
            .find(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
            .cloned(),
        None => Some(v),
    }
}

fn jwt_variants(name: &str, token: &str, key_text: &str) -> Vec<Variant> {
    let (input, sig_b64) = token.rsplit_once('.').expect("token");
    let header: Value = serde_json::from_slice(&b64(input.split('.').next().expect("header")))
        .expect("header JSON");
    let alg = Algorithm::from_name(header["alg"].as_str().expect("alg")).expect("alg");
    let kid = header.get("kid").and_then(Value::as_str);
    let msg = input.as_bytes().to_vec();
    let sig = b64(sig_b64);
    let keys = KeySet::parse(key_text).expect("key text");
    let now = 2_000_000_000;
    let mut out = Vec::new();

    // raw
    match alg {
        Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => {
            let secret = match jwk_for(key_text, kid) {
                Some(jwk) => b64(jwk["k"].as_str().expect("k")),
                None => key_text.as_bytes().to_vec(),
            };
            let hmac_alg = match alg {
                Algorithm::Hs384 => aws_lc_rs::hmac::HMAC_SHA384,
                Algorithm::Hs512 => aws_lc_rs::hmac::HMAC_SHA512,
                _ => aws_lc_rs::hmac::HMAC_SHA256,
            };
            let (m, s, k) = (msg.clone(), sig.clone(), secret.clone());
            out.push(variant(
                name,
                "raw_oneshot",
                Box::new(move || {
                    let key = aws_lc_rs::hmac::Key::new(hmac_alg, &k);
                    aws_lc_rs::hmac::verify(&key, &m, &s).is_ok()
                }),
            ));
            let key = aws_lc_rs::hmac::Key::new(hmac_alg, &secret);
            let (m, s) = (msg.clone(), sig.clone());
            out.push(variant(
                name,
                "raw_parsed",
                Box::new(move || aws_lc_rs::hmac::verify(&key, &m, &s).is_ok()),
            ));
        }
        _ => {
            let jwk = jwk_for(key_text, kid).expect("asymmetric cases need a JWK or JWKS key");
            let params: &'static dyn VerificationAlgorithm = match alg {
                Algorithm::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
                Algorithm::Rs384 => &RSA_PKCS1_2048_8192_SHA384,
                Algorithm::Rs512 => &RSA_PKCS1_2048_8192_SHA512,
                Algorithm::Ps256 => &RSA_PSS_2048_8192_SHA256,
                Algorithm::Ps384 => &RSA_PSS_2048_8192_SHA384,
                Algorithm::Ps512 => &RSA_PSS_2048_8192_SHA512,
                Algorithm::Es256 => &ECDSA_P256_SHA256_FIXED,
                Algorithm::Es384 => &ECDSA_P384_SHA384_FIXED,
                _ => &ED25519,
            };
            let parsed = if jwk["kty"] == "RSA" {
                let (n, e) = (
                    b64(jwk["n"].as_str().expect("n")),
                    b64(jwk["e"].as_str().expect("e")),
                );
                let rsa_params = match alg {
                    Algorithm::Rs384 => &RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Ps256 => &RSA_PSS_2048_8192_SHA256,
                    Algorithm::Ps384 => &RSA_PSS_2048_8192_SHA384,
                    Algorithm::Ps512 => &RSA_PSS_2048_8192_SHA512,
                    _ => &RSA_PKCS1_2048_8192_SHA256,
                };
                let parsed = RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .to_parsed_public_key(rsa_params)
                .expect("RSA key");
                let (m, s) = (msg.clone(), sig.clone());
                out.push(variant(
                    name,
                    "raw_oneshot",
                    Box::new(move || {
                        RsaPublicKeyComponents {
                            n: &n[..],
                            e: &e[..],
                        }
                        .verify(rsa_params, &m, &s)
                        .is_ok()
                    }),
                ));
                parsed
            } else {
                let mut point = vec![];
                if jwk["kty"] == "EC" {
                    point.push(4u8);
                    point.extend(b64(jwk["x"].as_str().expect("x")));
                    point.extend(b64(jwk["y"].as_str().expect("y")));
                } else {
                    point.extend(b64(jwk["x"].as_str().expect("x")));
                }
                let parsed = ParsedPublicKey::new(params, &point).expect("EC/Ed key");
                let (m, s) = (msg.clone(), sig.clone());
                out.push(variant(
                    name,
                    "raw_oneshot",
                    Box::new(move || params.verify_sig(&point, &m, &s).is_ok()),
                ));
                parsed
            };
            let (m, s) = (msg.clone(), sig.clone());
            out.push(variant(
                name,
                "raw_parsed",
                Box::new(move || parsed.verify_sig(&m, &s).is_ok()),
            ));
        }
    }

    // jsonwebtoken, with the DecodingKey the core holds for this token
    let decoding = keys
        .keys()
        .iter()
        .find(|k| k.fits(alg) && (kid.is_none() || k.kid().is_none() || k.kid() == kid))
        .expect("a fitting key")
        .decoding_key()
        .clone();
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    let jalg = alg.to_jsonwebtoken();
    let (m, s) = (msg.clone(), sig.clone());
    out.push(variant(
        name,
        "jsonwebtoken",
        Box::new(
            move || match (provider.verifier_factory)(&jalg, &decoding) {
                Ok(v) => v.verify(&m, &s).is_ok(),
                Err(_) => false,
            },
        ),
    ));

    // the whole core check
    let token = token.to_string();
    let opts = VerifyOptions::at(now);
    out.push(variant(
        name,
        "core",
        Box::new(move || jwt::verify(&token, &keys, &opts).is_ok()),
    ));
    out
}

fn x402_variants(payload: &Value) -> Vec<Variant> {
    let mut out = Vec::new();
    let accepted = &payload["accepted"];
    let auth = x402::extract_authorization(payload).expect("authorization");
    let req = x402::PaymentRequirements::parse(accepted, 2).expect("requirements");
    let digest = req.domain().transfer_with_authorization_digest(&auth);
    let sig = x402::parse_signature(payload["payload"]["signature"].as_str().expect("signature"))
        .expect("signature hex");
    let expected = auth.from;
    out.push(variant("x402", "raw", raw_recovery(digest, sig, expected)));
    let p = payload.clone();
    let want = expected.to_checksum();
    out.push(variant(
        "x402",
        "core",
        Box::new(move || x402::recover_payer(&p, None).is_ok_and(|a| a == want)),
    ));
    let text = payload.to_string();
    let want = expected.to_checksum();
    out.push(variant(
        "x402",
        "core_text",
        Box::new(move || {
            let v: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) => return false,
            };
            x402::recover_payer(&v, None).is_ok_and(|a| a == want)
        }),
    ));
    out
}

/// libsecp256k1 recovery + Keccak-256 of the key, compared with `expected`.
fn raw_recovery(
    digest: [u8; 32],
    sig: [u8; 65],
    expected: x402::Address,
) -> Box<dyn FnMut() -> bool> {
    let secp = secp256k1::Secp256k1::verification_only();
    Box::new(move || {
        let (rs, v) = sig.split_at(64);
        let recid = if matches!(v[0], 1 | 28) {
            secp256k1::ecdsa::RecoveryId::One
        } else {
            secp256k1::ecdsa::RecoveryId::Zero
        };
        let Ok(rsig) = secp256k1::ecdsa::RecoverableSignature::from_compact(rs, recid) else {
            return false;
        };
        let Ok(key) = secp.recover_ecdsa(secp256k1::Message::from_digest(digest), &rsig) else {
            return false;
        };
        let point = key.serialize_uncompressed();
        let hash = x402::keccak256(&point[1..]);
        hash[12..] == expected.to_bytes()[..]
    })
}

fn permit2_variants(input: &Value) -> Vec<Variant> {
    let (payload, requirements) = (input["payload"].clone(), input["requirements"].clone());
    let at = input["at"].as_i64().expect("at");
    let upto = payload["accepted"]["scheme"] == "upto";
    let chain: u64 = requirements["network"]
        .as_str()
        .and_then(|n| n.strip_prefix("eip155:"))
        .and_then(|id| id.parse().ok())
        .expect("eip155 network");
    let auth = x402::Permit2Authorization::from_json(
        &payload["payload"]["permit2Authorization"],
        upto,
        "permit2Authorization",
    )
    .expect("permit2Authorization");
    let digest = auth.digest(chain);
    let sig = x402::parse_signature(payload["payload"]["signature"].as_str().expect("signature"))
        .expect("signature hex");
    let mut out = vec![variant(
        "permit2",
        "raw",
        raw_recovery(digest, sig, auth.from),
    )];
    let verify = move |p: &Value, r: &Value| {
        x402::verify_payment(p, r, at, None, |_| false).is_ok_and(|v| v.is_valid)
    };
    let (p, r) = (payload.clone(), requirements.clone());
    out.push(variant("permit2", "core", Box::new(move || verify(&p, &r))));
    let (p_text, r_text) = (payload.to_string(), requirements.to_string());
    out.push(variant(
        "permit2",
        "core_text",
        Box::new(move || {
            match (
                serde_json::from_str::<Value>(&p_text),
                serde_json::from_str::<Value>(&r_text),
            ) {
                (Ok(p), Ok(r)) => verify(&p, &r),
                _ => false,
            }
        }),
    ));
    out
}

fn builtin_cases() -> Vec<(String, String, String)> {
    // {"sub":"1234567890","name":"John Doe","iat":1516239022}, HS256, jwt.io's secret.
    vec![(
        "HS256".into(),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c".into(),
        "your-256-bit-secret".into(),
    )]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let rounds: usize = arg("--rounds").and_then(|r| r.parse().ok()).unwrap_or(15);
    let as_json = args.iter().any(|a| a == "--json");

    let cases: Vec<(String, String, String)> = match arg("--jwt-cases") {
        Some(path) => {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read --jwt-cases"))
                    .expect("cases JSON");
            v.as_array()
                .expect("cases array")
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().expect("name").to_string(),
                        c["token"].as_str().expect("token").to_string(),
                        c["key"].as_str().expect("key").to_string(),
                    )
                })
                .collect()
        }
        None => builtin_cases(),
    };
    let mut variants = Vec::new();
    for (name, token, key) in &cases {
        variants.extend(jwt_variants(name, token, key));
    }
    if let Some(path) = arg("--x402-payload") {
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read --x402-payload"))
                .expect("payload JSON");
        variants.extend(x402_variants(&payload));
    }
    if let Some(path) = arg("--permit2-payload") {
        let input: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read --permit2-payload"))
                .expect("permit2 JSON");
        variants.extend(permit2_variants(&input));
    }

    for round in 0..rounds {
        let n = variants.len();
        for i in 0..n {
            let v = &mut variants[(i + round) % n];
            let t0 = cpu_ns();
            for _ in 0..v.iters {
                black_box((v.job)());
            }
            let dt = cpu_ns() - t0;
            v.per_call_ns.push(dt as f64 / v.iters as f64);
        }
    }

    let mut groups = serde_json::Map::new();
    for v in &variants {
        let entry = groups
            .entry(v.group.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object");
        let us = median(&v.per_call_ns) / 1000.0;
        entry.insert(
            format!("{}_us", v.name),
            json!((us * 1000.0).round() / 1000.0),
        );
    }
    for (_, g) in groups.iter_mut() {
        let g = g.as_object_mut().expect("object");
        let floor = [g.get("raw_oneshot_us"), g.get("raw_parsed_us")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .fold(f64::INFINITY, f64::min);
        if floor.is_finite() {
            g.insert("raw_us".into(), json!(floor));
        }
    }
    let clock = if cfg!(target_os = "linux") {
        "thread CPU time"
    } else {
        "wall-clock"
    };
    let result = json!({"clock": clock, "rounds": rounds, "groups": groups});
    if as_json {
        println!("{result}");
        return;
    }
    println!("raw crypto, µs per call, medians of {rounds} interleaved rounds ({clock})");
    for (group, g) in &groups {
        let fields: Vec<String> = g
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| format!("{}={}", k.trim_end_matches("_us"), v))
            .collect();
        println!("{group:>8}: {}", fields.join("  "));
    }
}
