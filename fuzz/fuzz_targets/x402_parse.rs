//! Address, amount, bytes32, network and signature parsing.
//!
//! Input: a selector byte, then text (and, for some modes, raw bytes).
//!
//! Invariants: `checksum_address` is idempotent, case-insensitive on
//! single-case input and gives `0x` + 40 hex digits; `U256::parse_decimal`
//! round-trips through `to_decimal_string` (leading zeros dropped) and fails
//! with Malformed for non-digits and OutOfRange only for long digit strings;
//! raw 32-byte values round-trip through decimal and order like their
//! decimal strings; `parse_network` round-trips through `caip2`; parsed
//! bytes32/signatures re-encode to the input's digits.
#![no_main]

use insforge_core::x402::{
    caip2, checksum_address, parse_bytes32, parse_network, parse_signature, Address, ErrorKind,
    U256,
};
use insforge_fuzz::{text, Input};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn check_address(s: &str) {
    match checksum_address(s) {
        Ok(c) => {
            assert_eq!(c.len(), 42);
            assert!(c.starts_with("0x") && c[2..].bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(checksum_address(&c).expect("idempotent"), c);
            let lower = format!("0x{}", c[2..].to_ascii_lowercase());
            let upper = format!("0x{}", c[2..].to_ascii_uppercase());
            assert_eq!(checksum_address(&lower).expect("lower"), c);
            assert_eq!(checksum_address(&upper).expect("upper"), c);
            assert_eq!(s[2..].to_ascii_lowercase(), lower[2..]);
            let a = Address::parse(s).expect("parses");
            assert_eq!(a.to_checksum(), c);
            assert_eq!(a.to_string(), c);
            assert_eq!(a.to_lower_hex(), lower);
            assert_eq!(Address::from_bytes(a.to_bytes()), a);
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::Malformed, "{e:?}"),
    }
}

fn check_decimal(s: &str) {
    match U256::parse_decimal(s) {
        Ok(v) => {
            assert!(!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
            let d = v.to_decimal_string();
            let stripped = s.trim_start_matches('0');
            assert_eq!(d, if stripped.is_empty() { "0" } else { stripped });
            assert_eq!(U256::parse_decimal(&d).expect("own output parses"), v);
            assert_eq!(
                U256::from_json(&Value::String(s.to_string())).expect("from_json"),
                v
            );
            assert_eq!(v.is_zero(), d == "0");
            if let Ok(small) = d.parse::<u64>() {
                assert_eq!(v.to_u64(), Some(small));
                assert_eq!(U256::from(small), v);
            } else {
                assert_eq!(v.to_u64(), None);
            }
        }
        Err(e) => match e.kind {
            ErrorKind::Malformed => assert!(s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit())),
            ErrorKind::OutOfRange => {
                assert!(s.bytes().all(|b| b.is_ascii_digit()));
                assert!(s.trim_start_matches('0').len() >= 78);
            }
            other => panic!("unexpected {other:?}"),
        },
    }
}

fn check_raw_u256(a: [u8; 32], b: [u8; 32]) {
    let (x, y) = (U256::from_be_bytes(a), U256::from_be_bytes(b));
    let (dx, dy) = (x.to_decimal_string(), y.to_decimal_string());
    assert_eq!(U256::parse_decimal(&dx).expect("round trip"), x);
    assert_eq!(x.to_be_bytes(), a);
    let by_text = dx.len().cmp(&dy.len()).then_with(|| dx.cmp(&dy));
    assert_eq!(x.cmp(&y), by_text, "{dx} vs {dy}");
}

fn check_network(s: &str) {
    match parse_network(s) {
        Ok(id) => {
            assert_ne!(id, 0);
            if s.starts_with("eip155:") {
                assert_eq!(caip2(id), s);
            }
            assert_eq!(parse_network(&caip2(id)).expect("caip2 parses"), id);
        }
        Err(e) => assert!(matches!(
            e.kind,
            ErrorKind::Malformed | ErrorKind::Unsupported | ErrorKind::OutOfRange
        )),
    }
}

fn check_hex(s: &str) {
    if let Ok(b) = parse_bytes32(s) {
        assert_eq!(hex::encode(b), s[2..].to_ascii_lowercase());
    }
    match parse_signature(s) {
        Ok(sig) => {
            let digits = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .unwrap_or(s);
            assert_eq!(hex::encode(sig), digits.to_ascii_lowercase());
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::Malformed),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 6 {
        0 => check_address(&text(input.rest())),
        1 => check_decimal(&text(input.rest())),
        2 => {
            let (a, b) = (input.array::<32>(), input.array::<32>());
            check_raw_u256(a, b);
        }
        3 => check_network(&text(input.rest())),
        4 => check_hex(&text(input.rest())),
        _ => {
            // an address from 20 raw bytes, in every case form
            let a = Address::from_bytes(input.array::<20>());
            let c = a.to_checksum();
            assert_eq!(Address::parse(&c).expect("checksum parses"), a);
            assert_eq!(Address::parse(&a.to_lower_hex()).expect("lower parses"), a);
            check_address(&c);
            let t = text(input.rest());
            check_address(&t);
            check_decimal(&t);
            check_network(&t);
            check_hex(&t);
        }
    }
});
