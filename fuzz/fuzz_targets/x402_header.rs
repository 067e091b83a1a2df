//! x402 header codec on arbitrary text and arbitrary JSON.
//!
//! Invariants: a decoded header is a JSON object and decode(encode(v)) == v;
//! `decode_named_header` agrees with `decode_header`; every JSON object
//! encodes, and all four base64 variants (standard/URL-safe, padded or not,
//! with surrounding whitespace) decode to it; non-objects never encode.
//!
//! "==" is [`same`]: exact, except that floating-point numbers may differ in
//! the last bits. serde_json (as the core builds it, without the
//! `float_roundtrip` feature) parses some decimals 1 ULP off, e.g. `125E30`
//! as 1.2500000000000001e32, so a float does not always survive
//! encode/decode bit for bit. Integers (i64/u64) must survive exactly.
#![no_main]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use insforge_core::x402::{decode_header, decode_named_header, encode_header, ErrorKind};
use insforge_fuzz::text;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Structural equality; floats within a relative 1e-15.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x == y || (x - y).abs() <= 1e-15 * x.abs().max(y.abs())
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. the bytes as a header value
    let value = text(data);
    let decoded = decode_header(&value);
    let named = decode_named_header("PAYMENT-SIGNATURE", &value);
    match (&decoded, &named) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.kind, b.kind),
        _ => panic!("decode_header and decode_named_header disagree"),
    }
    match decoded {
        Ok(v) => {
            assert!(v.is_object());
            let enc = encode_header(&v).expect("an object encodes");
            let back = decode_header(&enc).expect("own encoding decodes");
            assert!(same(&back, &v), "{back} != {v}");
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::Malformed, "{e:?}"),
    }

    // 2. the bytes as JSON
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match encode_header(&json) {
        Ok(enc) => {
            assert!(json.is_object());
            let back = decode_header(&enc).expect("decodes");
            assert!(same(&back, &json), "{back} != {json}");
            let raw = serde_json::to_vec(&json).expect("serializes");
            for s in [
                STANDARD.encode(&raw),
                STANDARD_NO_PAD.encode(&raw),
                URL_SAFE.encode(&raw),
                URL_SAFE_NO_PAD.encode(&raw),
            ] {
                let back = decode_header(&format!(" {s}\n")).expect("variant decodes");
                assert!(same(&back, &json), "{s}");
            }
        }
        Err(e) => {
            assert!(!json.is_object());
            assert_eq!(e.kind, ErrorKind::Malformed);
        }
    }
});
