//! x402 payment verification: the spec's v2 example, v1 shapes, one test per
//! `verify_payment` reason code, the official x402 SDK's check order and its
//! 6-second `validBefore` margin.

use base64::Engine;
use insforge_core::x402::*;
use k256::ecdsa::SigningKey;
use serde_json::{json, Value};

mod common;
use common::n_minus;

// The x402 v2 specification's example payment (Base Sepolia USDC).
const FROM: &str = "0x857b06519E91e3A54538791bDbb0E22373e36b66";
const TO: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";
const ASSET: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const NONCE: &str = "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480";
const SIG: &str = "0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c";
const AFTER: i64 = 1_740_672_089;
const BEFORE: i64 = 1_740_672_154;
const NOW: i64 = 1_740_672_100;

fn requirements_v2() -> Value {
    json!({
        "scheme": "exact",
        "network": "eip155:84532",
        "amount": "10000",
        "asset": ASSET,
        "payTo": TO,
        "maxTimeoutSeconds": 60,
        "extra": {"name": "USDC", "version": "2"}
    })
}

fn requirements_v1() -> Value {
    json!({
        "scheme": "exact",
        "network": "base-sepolia",
        "maxAmountRequired": "10000",
        "resource": "https://api.example.com/premium-data",
        "description": "Access to premium market data",
        "mimeType": "application/json",
        "payTo": TO,
        "maxTimeoutSeconds": 60,
        "asset": ASSET,
        "extra": {"name": "USDC", "version": "2"}
    })
}

fn inner() -> Value {
    json!({
        "signature": SIG,
        "authorization": {
            "from": FROM,
            "to": TO,
            "value": "10000",
            "validAfter": "1740672089",
            "validBefore": "1740672154",
            "nonce": NONCE
        }
    })
}

fn payload_v2() -> Value {
    json!({
        "x402Version": 2,
        "resource": {
            "url": "https://api.example.com/premium-data",
            "description": "Access to premium market data",
            "mimeType": "application/json"
        },
        "accepted": requirements_v2(),
        "payload": inner(),
        "extensions": {}
    })
}

fn payload_v1() -> Value {
    json!({"x402Version": 1, "scheme": "exact", "network": "base-sepolia", "payload": inner()})
}

/// `requirements` `None`: the payload's own `accepted` (a test shortcut; a
/// server passes its own requirements), or JSON null for a v1 payload.
fn verify(payload: &Value, requirements: Option<&Value>) -> VerifyResult {
    let accepted = payload.get("accepted").cloned().unwrap_or(Value::Null);
    verify_payment(
        payload,
        requirements.unwrap_or(&accepted),
        NOW,
        None,
        |_| false,
    )
    .expect("a verdict, not an error")
}

fn reason_of(r: &VerifyResult) -> &'static str {
    assert!(!r.is_valid, "expected a rejection, got {r:?}");
    assert!(r.invalid_message.is_some());
    r.invalid_reason_str().unwrap()
}

/// Sets `value` at a `/`-separated JSON pointer (creating nothing).
fn set(v: &mut Value, pointer: &str, value: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = value;
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
}

// ---------------------------------------------------------------- vectors

#[test]
fn spec_vector_recovers_from() {
    let p = payload_v2();
    assert_eq!(recover_payer(&p, None).unwrap(), FROM);
    assert_eq!(recover_payer(&p, Some(&requirements_v2())).unwrap(), FROM);
    assert_eq!(
        recover_payer(&payload_v1(), Some(&requirements_v1())).unwrap(),
        FROM
    );

    let mut wrong = requirements_v2();
    set(&mut wrong, "/extra/name", json!("USD Coin"));
    let other = recover_payer(&p, Some(&wrong)).unwrap();
    assert_ne!(other, FROM);
    assert_eq!(checksum_address(&other).unwrap(), other);
}

#[test]
fn spec_vector_verifies_v2_and_v1() {
    for (p, r) in [
        (payload_v2(), None),
        (payload_v2(), Some(requirements_v2())),
        (payload_v1(), Some(requirements_v1())),
    ] {
        let res = verify(&p, r.as_ref());
        assert!(res.is_valid, "{res:?}");
        assert_eq!(res.payer.as_deref(), Some(FROM));
        assert_eq!(res.invalid_reason, None);
        assert_eq!(res.to_json(), json!({"isValid": true, "payer": FROM}));
    }
}

#[test]
fn v0_1_and_27_28_give_the_same_payer() {
    let mut p = payload_v2();
    let mut sig = parse_signature(SIG).unwrap();
    sig[64] -= 27;
    set(&mut p, "/payload/signature", json!(hex::encode(sig)));
    assert_eq!(recover_payer(&p, None).unwrap(), FROM);
    assert!(verify(&p, None).is_valid);
}

#[test]
fn lowercase_and_uppercase_addresses_are_accepted() {
    let mut p = payload_v2();
    set(
        &mut p,
        "/payload/authorization/from",
        json!(FROM.to_lowercase()),
    );
    set(
        &mut p,
        "/payload/authorization/to",
        json!(format!("0x{}", TO[2..].to_uppercase())),
    );
    set(&mut p, "/accepted/asset", json!(ASSET.to_lowercase()));
    set(&mut p, "/accepted/payTo", json!(TO.to_lowercase()));
    let r = verify(&p, None);
    assert!(r.is_valid, "{r:?}");
}

#[test]
fn okx_v1_shape_without_network_and_with_amount() {
    // OKX's v1 facilitator API: payload without network, requirements with
    // `amount` and a CAIP-2 network.
    let p = json!({"x402Version": 1, "scheme": "exact", "payload": inner()});
    let mut r = requirements_v2();
    r.as_object_mut()
        .unwrap()
        .insert("resource".into(), json!("https://x"));
    let res = verify(&p, Some(&r));
    assert!(res.is_valid, "{res:?}");
    // v1 pays exactly the price too (as the SDK): more and less are refused.
    for amount in ["10001", "9999"] {
        set(&mut r, "/amount", json!(amount));
        assert_eq!(
            reason_of(&verify(&p, Some(&r))),
            "invalid_exact_evm_payload_authorization_value_mismatch",
            "{amount}"
        );
    }
}

#[test]
fn headers_end_to_end() {
    let p = payload_v2();
    let header = encode_header(&p).unwrap();
    let decoded = decode_named_header(PAYMENT_SIGNATURE_HEADER, &header).unwrap();
    assert_eq!(decoded, p);
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&payload_v1()).unwrap());
    let decoded = decode_named_header(X_PAYMENT_HEADER, &url).unwrap();
    assert!(verify(&decoded, Some(&requirements_v1())).is_valid);
}

#[test]
fn extraction_helpers() {
    let p = payload_v2();
    let auth = extract_authorization(&p).unwrap();
    assert_eq!(auth.from.to_string(), FROM);
    assert_eq!(auth.nonce_hex(), NONCE);
    assert_eq!(
        auth.to_json(),
        json!({"from": FROM, "to": TO, "value": "10000", "validAfter": "1740672089",
               "validBefore": "1740672154", "nonce": NONCE})
    );
    assert_eq!(auth.valid_before.to_u64(), Some(BEFORE as u64));

    let parsed = PaymentPayload::parse(&p).unwrap();
    assert_eq!(parsed.x402_version, 2);
    assert_eq!(parsed.scheme, "exact");
    assert_eq!(parsed.chain_id, Some(84532));
    assert_eq!(parsed.authorization, auth);
    let v1 = PaymentPayload::parse(&payload_v1()).unwrap();
    assert_eq!((v1.x402_version, v1.chain_id), (1, Some(84532)));
    assert_eq!(payload_version(&payload_v1()).unwrap(), 1);

    let req = effective_requirements(&p, None).unwrap();
    assert_eq!(req.chain_id, 84532);
    assert_eq!(req.asset.to_string(), ASSET);
    assert_eq!(req.pay_to.to_string(), TO);
    assert_eq!(req.amount.to_string(), "10000");
    assert_eq!(req.max_timeout_seconds, Some(60));
    assert_eq!(
        (req.eip712_name.as_str(), req.eip712_version.as_str()),
        ("USDC", "2")
    );
    let req1 = PaymentRequirements::parse(&requirements_v1(), 1).unwrap();
    assert_eq!(req1.amount, req.amount);
    assert_eq!(req1.domain(), req.domain());
    assert!(effective_requirements(&payload_v1(), None).is_err());

    let other = json!({"scheme": "exact", "network": "eip155:8453", "amount": "1",
                       "asset": ASSET, "payTo": TO, "extra": {"name": "USDC", "version": "2"}});
    let required = json!({"x402Version": 2, "accepts": [other, requirements_v2()]});
    assert_eq!(
        select_requirements(&required, &p).unwrap(),
        &requirements_v2()
    );
    let required_v1 = json!({"x402Version": 1, "accepts": [requirements_v1()]});
    assert_eq!(
        select_requirements(&required_v1, &payload_v1()).unwrap(),
        &requirements_v1()
    );
    assert!(select_requirements(&json!({"accepts": [other]}), &payload_v1()).is_err());
}

// ------------------------------------------------------- one per reason

#[test]
fn reason_invalid_payload() {
    assert_eq!(reason_of(&verify(&json!([1]), None)), "invalid_payload");
    let cases: Vec<(&str, Option<Value>)> = vec![
        ("/payload", None),
        ("/payload/authorization", None),
        ("/payload/authorization", Some(json!("x"))),
        ("/payload/authorization/nonce", None),
        ("/payload/authorization/nonce", Some(json!("0x1234"))),
        ("/payload/authorization/from", Some(json!("0x12"))),
        ("/payload/authorization/to", None),
        ("/payload/authorization/value", Some(json!("-1"))),
        ("/payload/authorization/value", Some(json!(1.5))),
        ("/payload/authorization/validBefore", Some(json!("1e9"))),
        ("/accepted", None),
        ("/accepted", Some(json!("exact"))),
        ("/accepted/scheme", None),
        ("/accepted/network", Some(json!(84532))),
    ];
    for (ptr, replacement) in cases {
        let mut p = payload_v2();
        match replacement {
            Some(v) => set(&mut p, ptr, v),
            None => remove(&mut p, ptr),
        }
        let r = verify(&p, Some(&requirements_v2()));
        assert_eq!(reason_of(&r), "invalid_payload", "{ptr}: {r:?}");
        assert_eq!(r.payer, None);
    }
    let r = verify(
        &json!({"x402Version": 2, "accepted": requirements_v2()}),
        None,
    );
    assert_eq!(
        r.invalid_message.as_deref(),
        Some("paymentPayload.payload is missing")
    );
    // A malformed authorization is structural: reported before the
    // recipient (and every later check), whatever else is wrong.
    let mut p = payload_v2();
    set(&mut p, "/payload/authorization/nonce", json!("0x12"));
    let mut r = requirements_v2();
    set(&mut r, "/payTo", json!(FROM));
    assert_eq!(reason_of(&verify(&p, Some(&r))), "invalid_payload");
}

#[test]
fn reason_invalid_x402_version() {
    for version in [json!("2"), json!(null), json!(2.5)] {
        let mut p = payload_v2();
        set(&mut p, "/x402Version", version.clone());
        assert_eq!(
            reason_of(&verify(&p, None)),
            "invalid_x402_version",
            "{version}"
        );
    }
    // A version the core does not implement is an error (0A000), not a
    // verdict: the SDK has nothing to route it to either.
    for version in [3, 0, 7] {
        let mut p = payload_v2();
        set(&mut p, "/x402Version", json!(version));
        let e = verify_payment(&p, &requirements_v2(), NOW, None, |_| false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
        assert_eq!(e.sqlstate(), "0A000");
        assert!(
            e.message.contains(&format!("x402Version is {version}")),
            "{e}"
        );
    }
    // v2 payload with v1 requirements, and the reverse declared explicitly.
    assert_eq!(
        reason_of(&verify(&payload_v2(), Some(&requirements_v1()))),
        "invalid_x402_version"
    );
    let mut r = requirements_v1();
    r.as_object_mut()
        .unwrap()
        .insert("x402Version".into(), json!(2));
    assert_eq!(
        reason_of(&verify(&payload_v1(), Some(&r))),
        "invalid_x402_version"
    );
    // Shapes that contradict the declared version.
    let mut p = payload_v1();
    set(&mut p, "/x402Version", json!(2));
    assert_eq!(
        reason_of(&verify(&p, Some(&requirements_v2()))),
        "invalid_x402_version"
    );
    let mut p = payload_v2();
    set(&mut p, "/x402Version", json!(1));
    assert_eq!(
        reason_of(&verify(&p, Some(&requirements_v1()))),
        "invalid_x402_version"
    );
}

#[test]
fn reason_unsupported_scheme() {
    // An exact EIP-3009 payment under requirements that ask for upto.
    let mut r = requirements_v2();
    set(&mut r, "/scheme", json!("upto"));
    let res = verify(&payload_v2(), Some(&r));
    assert_eq!(reason_of(&res), "unsupported_scheme");
    assert!(res
        .invalid_message
        .unwrap()
        .contains("paymentRequirements.scheme is \"upto\""));
    // An EIP-3009 authorization sent as upto is no upto payload (the SDK's code).
    let mut p = payload_v2();
    set(&mut p, "/accepted/scheme", json!("upto"));
    assert_eq!(reason_of(&verify(&p, None)), "unsupported_payload_type");
    // Schemes the core does not implement, on either side, and upto in v1:
    // errors (0A000), not verdicts.
    let mut p = payload_v1();
    set(&mut p, "/scheme", json!("Exact"));
    let mut r = requirements_v2();
    set(&mut r, "/scheme", json!("deferred"));
    let mut v1_upto = payload_v1();
    set(&mut v1_upto, "/scheme", json!("upto"));
    for (p, r, what) in [
        (&p, &requirements_v1(), "paymentPayload.scheme is \"Exact\""),
        (
            &payload_v2(),
            &r,
            "paymentRequirements.scheme is \"deferred\"",
        ),
        (&v1_upto, &requirements_v1(), "upto exists in x402 v2 only"),
    ] {
        let e = verify_payment(p, r, NOW, None, |_| false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
        assert!(e.message.contains(what), "{e}");
    }
    // A missing scheme is a malformed object, not an unsupported scheme.
    let mut r = requirements_v1();
    remove(&mut r, "/scheme");
    assert_eq!(
        reason_of(&verify(&payload_v1(), Some(&r))),
        "invalid_payment_requirements"
    );
    let mut p = payload_v1();
    remove(&mut p, "/scheme");
    assert_eq!(
        reason_of(&verify(&p, Some(&requirements_v1()))),
        "invalid_payload"
    );
}

#[test]
fn reason_network_mismatch() {
    let mut p = payload_v2();
    set(&mut p, "/accepted/network", json!("eip155:8453"));
    let r = verify(&p, Some(&requirements_v2()));
    assert_eq!(reason_of(&r), "network_mismatch");
    assert_eq!(
        r.invalid_message.as_deref(),
        Some("paymentPayload.accepted.network eip155:8453 is not paymentRequirements.network eip155:84532")
    );
    let mut p = payload_v1();
    set(&mut p, "/network", json!("base"));
    assert_eq!(
        reason_of(&verify(&p, Some(&requirements_v1()))),
        "network_mismatch"
    );
    // Networks are compared as strings, as facilitators do: a legacy name
    // and its CAIP-2 form do not match (the message says why).
    for network in ["eip155:84532", "Base-Sepolia"] {
        set(&mut p, "/network", json!(network));
        let r = verify(&p, Some(&requirements_v1()));
        assert_eq!(reason_of(&r), "network_mismatch", "{network}");
        assert!(
            r.invalid_message.unwrap().contains("both name chain 84532"),
            "{network}"
        );
    }
    // Checked before the requirements' fields and the payload's.
    let mut p = payload_v2();
    set(&mut p, "/accepted/network", json!("eip155:1"));
    remove(&mut p, "/payload/authorization");
    let mut r = requirements_v2();
    remove(&mut r, "/extra");
    assert_eq!(reason_of(&verify(&p, Some(&r))), "network_mismatch");
    // A requirements object without a network is malformed.
    let mut r = requirements_v2();
    remove(&mut r, "/network");
    assert_eq!(
        reason_of(&verify(&payload_v2(), Some(&r))),
        "invalid_payment_requirements"
    );
}

#[test]
fn reason_failed_to_get_network_config() {
    for network in [
        "eip155:abc",
        "eip155:0",
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
        "nowhere",
        "",
    ] {
        let mut p = payload_v2();
        set(&mut p, "/accepted/network", json!(network));
        assert_eq!(
            reason_of(&verify(&p, None)),
            "invalid_exact_evm_failed_to_get_network_config",
            "{network}"
        );
        let mut r = requirements_v2();
        set(&mut r, "/network", json!(network));
        let mut p = payload_v2();
        set(&mut p, "/accepted/network", json!(network));
        assert_eq!(
            reason_of(&verify(&p, Some(&r))),
            "invalid_exact_evm_failed_to_get_network_config",
            "{network}"
        );
    }
    // The official SDK's v1 legacy names are known.
    for network in [
        "base-sepolia",
        "polygon-amoy",
        "avalanche-fuji",
        "monad",
        "celo",
        "megaeth",
    ] {
        assert!(parse_network(network).is_ok(), "{network}");
    }
}

#[test]
fn reason_invalid_payment_requirements() {
    assert_eq!(
        reason_of(&verify(&payload_v1(), None)),
        "invalid_payment_requirements"
    );
    assert_eq!(
        reason_of(&verify(&payload_v2(), Some(&json!("x")))),
        "invalid_payment_requirements"
    );
    let whole = json!({"x402Version": 2, "accepts": [requirements_v2()]});
    assert_eq!(
        reason_of(&verify(&payload_v2(), Some(&whole))),
        "invalid_payment_requirements"
    );
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/asset", None, "paymentRequirements.asset is missing"),
        (
            "/asset",
            Some(json!("0x12")),
            "paymentRequirements.asset: address 0x12 has 1 byte, expected 20",
        ),
        (
            "/payTo",
            Some(json!("0x209693bc6afc0C5328bA36FaF03C514EF312287C")),
            "invalid EIP-55 checksum",
        ),
        (
            "/amount",
            Some(json!("ten")),
            "paymentRequirements.amount: uint256 \"ten\" is not a decimal integer",
        ),
        ("/amount", None, "paymentRequirements.amount is missing"),
        (
            "/maxTimeoutSeconds",
            Some(json!(-5)),
            "paymentRequirements.maxTimeoutSeconds",
        ),
    ];
    for (ptr, replacement, message) in cases {
        let mut r = requirements_v2();
        match replacement {
            Some(v) => set(&mut r, ptr, v),
            None => remove(&mut r, ptr),
        }
        let res = verify(&payload_v2(), Some(&r));
        assert_eq!(reason_of(&res), "invalid_payment_requirements", "{ptr}");
        let m = res.invalid_message.unwrap();
        assert!(m.contains(message), "{ptr}: {m}");
    }
    // The payload's own accepted, passed as requirements, is checked the same way.
    let mut p = payload_v2();
    remove(&mut p, "/accepted/asset");
    let res = verify(&p, None);
    assert_eq!(reason_of(&res), "invalid_payment_requirements");
    assert_eq!(
        res.invalid_message.as_deref(),
        Some("paymentRequirements.asset is missing")
    );
    let mut r = requirements_v1();
    remove(&mut r, "/maxAmountRequired");
    assert_eq!(
        reason_of(&verify(&payload_v1(), Some(&r))),
        "invalid_payment_requirements"
    );
}

#[test]
fn reason_missing_eip712_domain() {
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/extra", None, "paymentRequirements.extra is missing"),
        (
            "/extra",
            Some(json!("USDC")),
            "paymentRequirements.extra must be an object",
        ),
        (
            "/extra/name",
            None,
            "paymentRequirements.extra.name is missing",
        ),
        (
            "/extra/version",
            None,
            "paymentRequirements.extra.version is missing",
        ),
        (
            "/extra/version",
            Some(json!(2)),
            "paymentRequirements.extra.version must be a string",
        ),
    ];
    for (ptr, replacement, message) in cases {
        let mut r = requirements_v2();
        match replacement {
            Some(v) => set(&mut r, ptr, v),
            None => remove(&mut r, ptr),
        }
        let res = verify(&payload_v2(), Some(&r));
        assert_eq!(reason_of(&res), "missing_eip712_domain", "{ptr}");
        let m = res.invalid_message.unwrap();
        assert!(m.contains(message), "{ptr}: {m}");
        assert_eq!(res.payer, None);
    }
    // v1 as well; and it comes before the recipient check (the SDK's order).
    let mut r = requirements_v1();
    remove(&mut r, "/extra");
    set(&mut r, "/payTo", json!(FROM));
    assert_eq!(
        reason_of(&verify(&payload_v1(), Some(&r))),
        "missing_eip712_domain"
    );
}

#[test]
fn reason_eip712_domain_mismatch() {
    let usdc = AssetInfo::new("USDC", "2");
    let r = verify_payment(&payload_v2(), &requirements_v2(), NOW, Some(&usdc), |_| {
        false
    })
    .unwrap();
    assert!(r.is_valid, "{r:?}");
    // Requirements that declare a domain other than the registered one,
    // signed over the declared domain: the signature recovers, the token
    // contract would refuse it.
    for known in [AssetInfo::new("USD Coin", "2"), AssetInfo::new("USDC", "1")] {
        let r = verify_payment(&payload_v2(), &requirements_v2(), NOW, Some(&known), |_| {
            false
        })
        .unwrap();
        assert_eq!(
            reason_of(&r),
            "invalid_exact_evm_payload_eip712_domain_mismatch"
        );
        assert_eq!(r.payer.as_deref(), Some(FROM));
    }
    // Checked after the signature: a signature that does not recover under
    // the declared domain is reported as such, with the registered domain as
    // a hint.
    let mut r = requirements_v2();
    set(&mut r, "/extra/name", json!("USD Coin"));
    let res = verify_payment(&payload_v2(), &r, NOW, Some(&usdc), |_| false).unwrap();
    assert_eq!(reason_of(&res), "invalid_exact_evm_payload_signature");
    assert!(res
        .invalid_message
        .unwrap()
        .contains("the asset is registered with name \"USDC\" version \"2\""));
}

#[test]
fn reason_invalid_signature() {
    // A changed message recovers to someone else: payer is that someone.
    let mut p = payload_v2();
    set(&mut p, "/payload/authorization/value", json!("10001"));
    let mut r = requirements_v2();
    set(&mut r, "/amount", json!("10001"));
    let res = verify(&p, Some(&r));
    assert_eq!(reason_of(&res), "invalid_exact_evm_payload_signature");
    let payer = res.payer.unwrap();
    assert_ne!(payer, FROM);
    assert!(res.invalid_message.unwrap().contains(&payer));

    // The wrong domain name (as the "Invalid Authority" case) fails here
    // when no registered asset is known.
    let mut r = requirements_v2();
    set(&mut r, "/extra/name", json!("USD Coin"));
    assert_eq!(
        reason_of(&verify(&payload_v2(), Some(&r))),
        "invalid_exact_evm_payload_signature"
    );

    // High s (n - s, v flipped): the token contract refuses it, so do we.
    let sig = parse_signature(SIG).unwrap();
    let mut high = sig;
    high[32..64].copy_from_slice(&n_minus(&sig[32..64]));
    high[64] = if sig[64] == 27 { 28 } else { 27 };
    let mut p = payload_v2();
    set(
        &mut p,
        "/payload/signature",
        json!(format!("0x{}", hex::encode(high))),
    );
    let res = verify(&p, None);
    assert_eq!(reason_of(&res), "invalid_exact_evm_payload_signature");
    assert!(res.invalid_message.unwrap().contains("high s"));
    assert_eq!(res.payer, None);
    assert!(recover_payer(&p, None).is_err());

    // r = 0, s = 0, r >= n.
    for (range, byte) in [(0..32, 0u8), (32..64, 0u8), (0..32, 0xff)] {
        let mut bad = sig;
        bad[range].fill(byte);
        let mut p = payload_v2();
        set(&mut p, "/payload/signature", json!(hex::encode(bad)));
        assert_eq!(
            reason_of(&verify(&p, None)),
            "invalid_exact_evm_payload_signature"
        );
    }

    // Missing, null or empty: the SDK's "no signature".
    for replacement in [None, Some(json!(null)), Some(json!(""))] {
        let mut p = payload_v2();
        match replacement {
            Some(v) => set(&mut p, "/payload/signature", v),
            None => remove(&mut p, "/payload/signature"),
        }
        assert_eq!(
            reason_of(&verify(&p, None)),
            "invalid_exact_evm_payload_signature"
        );
    }
}

#[test]
fn reason_undeployed_smart_wallet() {
    // Not 65 bytes: not an EOA signature, and a smart wallet's needs its
    // code on chain. As the SDK says for an address without code.
    let sig = parse_signature(SIG).unwrap();
    for bytes in [
        sig[..64].to_vec(),
        [sig.as_slice(), &[0]].concat(),
        Vec::new(),
        vec![0xab; 200],
    ] {
        let mut p = payload_v2();
        set(
            &mut p,
            "/payload/signature",
            json!(format!("0x{}", hex::encode(&bytes))),
        );
        let res = verify(&p, None);
        assert_eq!(
            reason_of(&res),
            "invalid_exact_evm_payload_undeployed_smart_wallet",
            "{} bytes",
            bytes.len()
        );
        assert!(res
            .invalid_message
            .unwrap()
            .contains(&format!("has {} byte", bytes.len())));
        assert_eq!(res.payer, None);
    }
}

#[test]
fn reason_failed_to_verify_signature() {
    let mut sig = parse_signature(SIG).unwrap();
    sig[64] = 29;
    for bad in [
        json!("0xzz"),
        json!("0x123"),
        json!(12),
        json!({"r": "0x01"}),
        json!(hex::encode(sig)),
    ] {
        let mut p = payload_v2();
        set(&mut p, "/payload/signature", bad.clone());
        assert_eq!(
            reason_of(&verify(&p, None)),
            "invalid_exact_evm_failed_to_verify_signature",
            "{bad}"
        );
    }
}

#[test]
fn reason_recipient_mismatch() {
    let mut r = requirements_v2();
    set(&mut r, "/payTo", json!(FROM));
    let res = verify(&payload_v2(), Some(&r));
    assert_eq!(
        reason_of(&res),
        "invalid_exact_evm_payload_recipient_mismatch"
    );
    // Before the signature check: no payer yet.
    assert_eq!(res.payer, None);
}

#[test]
fn reason_authorization_value_mismatch_v2() {
    for amount in ["9999", "10001", "0"] {
        let mut r = requirements_v2();
        set(&mut r, "/amount", json!(amount));
        let res = verify(&payload_v2(), Some(&r));
        assert_eq!(
            reason_of(&res),
            "invalid_exact_evm_payload_authorization_value_mismatch",
            "{amount}"
        );
        assert_eq!(res.payer, None);
    }
    // Leading zeros are the same number.
    let mut r = requirements_v2();
    set(&mut r, "/amount", json!("0010000"));
    assert!(verify(&payload_v2(), Some(&r)).is_valid);
}

#[test]
fn reason_authorization_value_mismatch_v1() {
    // v1 pays exactly maxAmountRequired, as the official SDK's facilitator
    // demands (the v1 specification said "at least").
    for amount in ["10001", "9999"] {
        let mut r = requirements_v1();
        set(&mut r, "/maxAmountRequired", json!(amount));
        assert_eq!(
            reason_of(&verify(&payload_v1(), Some(&r))),
            "invalid_exact_evm_payload_authorization_value_mismatch",
            "{amount}"
        );
    }
    assert!(verify(&payload_v1(), Some(&requirements_v1())).is_valid);
}

#[test]
fn reason_valid_after() {
    let at =
        |t: i64| verify_payment(&payload_v2(), &requirements_v2(), t, None, |_| false).unwrap();
    // validAfter = now + 1: not yet; = now and = now - 1: valid.
    assert_eq!(
        reason_of(&at(AFTER - 1)),
        "invalid_exact_evm_payload_authorization_valid_after"
    );
    assert!(at(AFTER).is_valid);
    assert!(at(AFTER + 1).is_valid);
    assert_eq!(
        reason_of(&at(-1)),
        "invalid_exact_evm_payload_authorization_valid_after"
    );
    assert_eq!(
        reason_of(&at(i64::MIN)),
        "invalid_exact_evm_payload_authorization_valid_after"
    );
}

#[test]
fn reason_valid_before() {
    let at =
        |t: i64| verify_payment(&payload_v2(), &requirements_v2(), t, None, |_| false).unwrap();
    // The SDK's margin: validBefore must be at least 6 s ahead.
    assert_eq!(DEFAULT_VALID_BEFORE_MARGIN, 6);
    assert!(at(BEFORE - 7).is_valid); // validBefore = now + 7
    assert!(at(BEFORE - 6).is_valid); // validBefore = now + 6
    let soon = at(BEFORE - 5); // validBefore = now + 5
    assert_eq!(
        reason_of(&soon),
        "invalid_exact_evm_payload_authorization_valid_before"
    );
    assert!(soon.invalid_message.unwrap().contains("expires too soon"));
    for t in [BEFORE - 1, BEFORE, BEFORE + 1, i64::MAX] {
        let res = at(t);
        assert_eq!(
            reason_of(&res),
            "invalid_exact_evm_payload_authorization_valid_before",
            "{t}"
        );
    }
    assert!(at(BEFORE).invalid_message.unwrap().contains("has expired"));
}

#[test]
fn valid_before_margin_is_an_argument() {
    let with = |t: i64, margin: u64| {
        verify_payment_with_margin(&payload_v2(), &requirements_v2(), t, margin, None, |_| {
            false
        })
        .unwrap()
    };
    // validBefore >= now + margin: 1 is the token contract's own rule
    // (now < validBefore), 0 also accepts validBefore = now.
    assert!(with(BEFORE - 1, 1).is_valid);
    assert_eq!(
        reason_of(&with(BEFORE, 1)),
        "invalid_exact_evm_payload_authorization_valid_before"
    );
    assert!(with(BEFORE, 0).is_valid);
    assert!(!with(BEFORE + 1, 0).is_valid);
    // 6 is the default.
    for t in [BEFORE - 7, BEFORE - 6, BEFORE - 5] {
        assert_eq!(
            with(t, 6),
            verify_payment(&payload_v2(), &requirements_v2(), t, None, |_| false).unwrap()
        );
    }
    // A wider margin; the window's ends never overflow.
    assert!(with(NOW, 54).is_valid);
    assert!(!with(NOW, 55).is_valid);
    assert!(!with(NOW, u64::MAX).is_valid);
    assert!(!with(i64::MAX, u64::MAX).is_valid);
    assert_eq!(
        reason_of(&with(i64::MIN, u64::MAX)),
        "invalid_exact_evm_payload_authorization_valid_before"
    );
    assert_eq!(
        reason_of(&with(i64::MIN, 6)),
        "invalid_exact_evm_payload_authorization_valid_after"
    );
}

#[test]
fn reason_nonce_already_used() {
    let mut seen = None;
    let res = verify_payment(
        &payload_v2(),
        &requirements_v2(),
        NOW,
        None,
        |k: &NonceKey| {
            seen = Some(k.clone());
            true
        },
    )
    .unwrap();
    assert_eq!(reason_of(&res), "invalid_exact_evm_nonce_already_used");
    assert_eq!(res.payer.as_deref(), Some(FROM));
    let key = seen.unwrap();
    assert_eq!(key.chain_id, 84532);
    assert_eq!(key.scope.to_string(), ASSET);
    assert_eq!(key.transfer_method, TransferMethod::Eip3009);
    assert_eq!(key.payer.to_string(), FROM);
    assert_eq!(key.nonce_hex(), NONCE);

    // The callback is not consulted when an earlier check fails.
    let mut called = false;
    let res = verify_payment(&payload_v2(), &requirements_v2(), BEFORE, None, |_| {
        called = true;
        true
    })
    .unwrap();
    assert!(!res.is_valid && !called);
}

#[test]
fn every_reason_code_is_distinct_and_covered() {
    let codes: Vec<_> = InvalidReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "invalid_payload",
            "invalid_x402_version",
            "unsupported_scheme",
            "network_mismatch",
            "invalid_exact_evm_failed_to_get_network_config",
            "invalid_payment_requirements",
            "missing_eip712_domain",
            "invalid_exact_evm_payload_recipient_mismatch",
            "invalid_exact_evm_payload_authorization_value_mismatch",
            "invalid_exact_evm_payload_authorization_valid_before",
            "invalid_exact_evm_payload_authorization_valid_after",
            "invalid_exact_evm_payload_signature",
            "invalid_exact_evm_payload_undeployed_smart_wallet",
            "invalid_exact_evm_failed_to_verify_signature",
            "invalid_exact_evm_payload_eip712_domain_mismatch",
            "invalid_exact_evm_nonce_already_used",
            "unsupported_payload_type",
            "invalid_upto_evm_scheme",
            "invalid_upto_evm_network_mismatch",
            "invalid_upto_evm_failed_to_get_network_config",
            "invalid_permit2_spender",
            "invalid_permit2_recipient_mismatch",
            "upto_facilitator_mismatch",
            "invalid_permit2_payload_format",
            "permit2_deadline_expired",
            "permit2_not_yet_valid",
            "permit2_amount_mismatch",
            "permit2_token_mismatch",
            "invalid_permit2_signature",
            "invalid_upto_evm_transaction_failed",
            "permit2_invalid_nonce",
        ]
    );
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), codes.len());
    for r in InvalidReason::ALL {
        assert_eq!(r.to_string(), r.as_str());
    }
}

/// One payment with every semantic fault at once, removed one by one: each
/// time the next check in the SDK's order (recipient, value, validBefore,
/// validAfter, signature, then our registered domain and nonce) is reported.
#[test]
fn check_order_is_the_sdks() {
    let mut p = payload_v2();
    let mut r = requirements_v2();
    // The signature covers the authorization, so changing `from` breaks it.
    set(&mut p, "/payload/authorization/from", json!(TO));
    let at = AFTER - 1; // before validAfter, and validBefore is > 6 s ahead
    let known = AssetInfo::new("USD Coin", "2");
    set(&mut r, "/payTo", json!(FROM));
    set(&mut r, "/amount", json!("1"));
    let run = |p: &Value, r: &Value, at: i64, known: Option<&AssetInfo>| {
        verify_payment(p, r, at, known, |_| true).unwrap()
    };
    let order = [
        "invalid_exact_evm_payload_recipient_mismatch",
        "invalid_exact_evm_payload_authorization_value_mismatch",
        "invalid_exact_evm_payload_authorization_valid_before",
        "invalid_exact_evm_payload_authorization_valid_after",
        "invalid_exact_evm_payload_signature",
        "invalid_exact_evm_payload_eip712_domain_mismatch",
        "invalid_exact_evm_nonce_already_used",
    ];
    // Expired too (validBefore - at < 6): only after the value check.
    let expired = BEFORE - 3;
    assert_eq!(reason_of(&run(&p, &r, expired, Some(&known))), order[0]);
    set(&mut r, "/payTo", json!(TO));
    assert_eq!(reason_of(&run(&p, &r, expired, Some(&known))), order[1]);
    set(&mut r, "/amount", json!("10000"));
    assert_eq!(reason_of(&run(&p, &r, expired, Some(&known))), order[2]);
    assert_eq!(reason_of(&run(&p, &r, at, Some(&known))), order[3]);
    assert_eq!(reason_of(&run(&p, &r, NOW, Some(&known))), order[4]);
    set(&mut p, "/payload/authorization/from", json!(FROM));
    assert_eq!(reason_of(&run(&p, &r, NOW, Some(&known))), order[5]);
    let usdc = AssetInfo::new("USDC", "2");
    assert_eq!(reason_of(&run(&p, &r, NOW, Some(&usdc))), order[6]);
    assert!(
        verify_payment(&p, &r, NOW, Some(&usdc), |_| false)
            .unwrap()
            .is_valid
    );
    // And the signature's own faults all come after the window.
    for sig in [json!(""), json!("0x12"), json!("0xzz")] {
        let mut q = p.clone();
        set(&mut q, "/payload/signature", sig.clone());
        assert_eq!(
            reason_of(&run(&q, &r, BEFORE, None)),
            "invalid_exact_evm_payload_authorization_valid_before",
            "{sig}"
        );
    }
}

// ------------------------------------------------------------ X Layer

const USDG: &str = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8";

/// A USDG payment on X Layer signed over the given domain name/version.
fn signed_usdg(name: &str, version: &str) -> (Value, String) {
    let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let payer = address_of_key(key.verifying_key()).unwrap();
    let auth = json!({
        "from": payer.to_string(), "to": TO, "value": "123",
        "validAfter": "0", "validBefore": "4102444800",
        "nonce": format!("0x{}", "ab".repeat(32)),
    });
    let parsed = Authorization::from_json(&auth, "authorization").unwrap();
    let domain = Eip712Domain {
        name: name.into(),
        version: version.into(),
        chain_id: U256::from(196u64),
        verifying_contract: Address::parse(USDG).unwrap(),
    };
    let digest = domain.transfer_with_authorization_digest(&parsed);
    let (sig, recid) = key.sign_prehash_recoverable(&digest).unwrap();
    let mut bytes = sig.to_bytes().to_vec();
    bytes.push(27 + recid.to_byte());
    let payload = json!({
        "x402Version": 1, "scheme": "exact", "network": "eip155:196",
        "payload": {"signature": format!("0x{}", hex::encode(bytes)), "authorization": auth},
    });
    (payload, payer.to_string())
}

#[test]
fn x_layer_usdg_domain() {
    let global_dollar = AssetInfo::new("Global Dollar", "1");
    let (payload, payer) = signed_usdg("Global Dollar", "1");
    let req = |name: &str, version: &str| {
        json!({"scheme": "exact", "network": "eip155:196", "maxAmountRequired": "123",
               "asset": USDG, "payTo": TO, "maxTimeoutSeconds": 300,
               "extra": {"name": name, "version": version}})
    };
    let ok = verify_payment(
        &payload,
        &req("Global Dollar", "1"),
        NOW,
        Some(&global_dollar),
        |_| false,
    )
    .unwrap();
    assert!(ok.is_valid, "{ok:?}");
    assert_eq!(ok.payer.as_deref(), Some(payer.as_str()));

    // Requirements that declare the wrong domain, signed over it: the
    // signature recovers, and the registered asset says the token contract
    // would refuse it.
    let (payload2, _) = signed_usdg("USDG", "2");
    let bad = verify_payment(
        &payload2,
        &req("USDG", "2"),
        NOW,
        Some(&global_dollar),
        |_| false,
    )
    .unwrap();
    assert_eq!(
        reason_of(&bad),
        "invalid_exact_evm_payload_eip712_domain_mismatch"
    );
    let msg = bad.invalid_message.unwrap();
    assert!(
        msg.contains("Global Dollar") && msg.contains("eip155:196"),
        "{msg}"
    );
    // Without the registry the same payment looks valid off-chain.
    assert!(
        verify_payment(&payload2, &req("USDG", "2"), NOW, None, |_| false)
            .unwrap()
            .is_valid
    );

    // The legacy name against the CAIP-2 requirements: another network
    // string, refused as a facilitator would.
    let mut legacy = payload.clone();
    set(&mut legacy, "/network", json!("xlayer"));
    let r = verify_payment(&legacy, &req("Global Dollar", "1"), NOW, None, |_| false).unwrap();
    assert_eq!(reason_of(&r), "network_mismatch");
}

// ------------------------------------------------------- hostile input

/// Small deterministic PRNG (xorshift64*), to avoid a dev-dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{prefix}/{k}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let replacements = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5e300),
        json!(u64::MAX),
        json!(""),
        json!("0x"),
        json!("0x00"),
        json!("\u{0}\n\u{7f}"),
        json!("9".repeat(100)),
        json!("f".repeat(10_000)),
        json!(format!("0x{}", "ff".repeat(65))),
        json!(format!("0x{}", "00".repeat(65))),
        json!(format!("0x{}", "00".repeat(32))),
        json!("eip155:18446744073709551616"),
        json!("eip155:0"),
        json!([]),
        json!({}),
        json!([{"a": [null]}]),
    ];
    let mut rng = Rng(0x402_402_402);
    let bases = [
        (payload_v2(), requirements_v2()),
        (payload_v1(), requirements_v1()),
    ];
    for round in 0..1500 {
        let (base_p, base_r) = rng.pick(&bases).clone();
        let (mut p, mut r) = (base_p, base_r);
        for _ in 0..(1 + rng.next() % 3) {
            let target = if rng.next().is_multiple_of(2) {
                &mut p
            } else {
                &mut r
            };
            let mut ptrs = Vec::new();
            pointers(target, String::new(), &mut ptrs);
            if ptrs.is_empty() {
                continue;
            }
            let ptr = rng.pick(&ptrs).clone();
            if rng.next().is_multiple_of(5) {
                if let Some((parent, key)) = ptr.rsplit_once('/') {
                    if let Some(Value::Object(m)) = target.pointer_mut(parent) {
                        m.remove(key);
                    }
                }
            } else if let Some(slot) = target.pointer_mut(&ptr) {
                *slot = rng.pick(&replacements).clone();
            }
        }
        let at = *rng.pick(&[i64::MIN, -1, 0, NOW, i64::MAX]);
        let known = AssetInfo::new("USDC", "2");
        let accepted = p.get("accepted").cloned().unwrap_or(Value::Null);
        for req in [None, Some(&r)] {
            match verify_payment(&p, req.unwrap_or(&accepted), at, Some(&known), |_| false) {
                Ok(res) => assert_eq!(res.is_valid, res.invalid_reason.is_none(), "round {round}"),
                // only an unimplemented version or scheme is an error
                Err(e) => assert_eq!(e.kind, ErrorKind::Unsupported, "round {round}: {e}"),
            }
            let _ = authorized_payment(&p, req.unwrap_or(&accepted));
            let _ = recover_payer(&p, req);
            let _ = effective_requirements(&p, req);
        }
        let _ = PaymentPayload::parse(&p);
        let _ = extract_authorization(&p);
        let _ = encode_header(&p).map(|h| decode_header(&h));
    }
    // Random bytes as header values.
    for _ in 0..2000 {
        let len = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = decode_header(&text);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let _ = decode_header(&b64);
        let _ = checksum_address(&text);
        let _ = parse_network(&text);
        let _ = U256::parse_decimal(&text);
    }
}
