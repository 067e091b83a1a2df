//! Payment payload parsing, EIP-712 hashing, EIP-3009 payer recovery and
//! facilitator-style verification on arbitrary JSON.
//!
//! Input: JSON. An array `[payload, requirements?, paymentRequired?, at?]`
//! is taken apart; anything else is the payload alone.
//!
//! Invariants: `verify_payment` never panics and is self-consistent (valid
//! exactly when there is no reason and no message; a payer only from the
//! signature check on, and then the one `recover_payer` gives; a valid
//! payment's payer is `authorization.from`); a payment that verifies with
//! no registered asset is refused with the domain-mismatch reason under a
//! different registered name, and with the nonce reason when the nonce is
//! used; the nonce callback sees the payer and the authorization's nonce;
//! parsed parts agree with each other; `select_requirements` returns an
//! entry of `accepts`; authorizations survive a JSON round trip.
#![no_main]

use insforge_core::x402::{
    effective_requirements, eip712_digest, extract_authorization, payload_version, recover_payer,
    select_requirements, transfer_with_authorization_hash, verify_payment, AssetInfo,
    Authorization, InvalidReason, PaymentPayload, VerifyResult,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn consistent(r: &VerifyResult) {
    assert_eq!(r.is_valid, r.invalid_reason.is_none());
    assert_eq!(r.is_valid, r.invalid_message.is_none());
    if r.is_valid {
        assert!(r.payer.is_some());
    }
    // Every check before the signature recovers a key (the SDK's order).
    let before_signature = [
        InvalidReason::InvalidPayload,
        InvalidReason::InvalidX402Version,
        InvalidReason::UnsupportedScheme,
        InvalidReason::NetworkMismatch,
        InvalidReason::FailedToGetNetworkConfig,
        InvalidReason::InvalidPaymentRequirements,
        InvalidReason::MissingEip712Domain,
        InvalidReason::RecipientMismatch,
        InvalidReason::AuthorizationValueMismatch,
        InvalidReason::AuthorizationValidBefore,
        InvalidReason::AuthorizationValidAfter,
        InvalidReason::UndeployedSmartWallet,
        InvalidReason::FailedToVerifySignature,
    ];
    if let Some(reason) = r.invalid_reason {
        if before_signature.contains(&reason) {
            assert!(
                r.payer.is_none(),
                "payer set before the signature check: {r:?}"
            );
        }
    }
    let j = r.to_json();
    assert_eq!(j["isValid"], Value::Bool(r.is_valid));
    assert_eq!(
        j.get("invalidReason").and_then(Value::as_str),
        r.invalid_reason_str()
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (payload, requirements, required, at) = match &json {
        Value::Array(items) if !items.is_empty() => (
            &items[0],
            items.get(1).filter(|v| !v.is_null()),
            items.get(2),
            items
                .get(3)
                .and_then(Value::as_i64)
                .unwrap_or(1_725_507_000),
        ),
        other => (other, None, None, 1_725_507_000),
    };

    let mut seen = None;
    let r = verify_payment(payload, requirements, at, None, |k| {
        seen = Some(k.clone());
        false
    });
    consistent(&r);
    let recovered = recover_payer(payload, requirements);
    if let Some(p) = &r.payer {
        if r.invalid_reason != Some(InvalidReason::InvalidSignature) {
            assert_eq!(
                recovered.as_ref().ok(),
                Some(p),
                "payer differs from recover_payer"
            );
        }
    }
    if r.is_valid {
        let auth = extract_authorization(payload).expect("valid payment has an authorization");
        assert_eq!(r.payer.as_deref(), Some(auth.from.to_checksum().as_str()));
        let key = seen.expect("nonce callback ran for a valid payment");
        assert_eq!(key.payer, auth.from);
        assert_eq!(key.nonce, auth.nonce);

        let req =
            effective_requirements(payload, requirements).expect("valid payment has requirements");
        assert_eq!(key.asset, req.asset);
        assert_eq!(key.chain_id, req.chain_id);
        // the digest recover_payer used
        let digest = eip712_digest(
            &req.domain().separator(),
            &transfer_with_authorization_hash(&auth),
        );
        assert_eq!(
            digest,
            req.domain().transfer_with_authorization_digest(&auth)
        );

        let same = AssetInfo::new(req.eip712_name.clone(), req.eip712_version.clone());
        assert!(verify_payment(payload, requirements, at, Some(&same), |_| false).is_valid);
        let other = AssetInfo::new(format!("{}x", req.eip712_name), req.eip712_version.clone());
        let r2 = verify_payment(payload, requirements, at, Some(&other), |_| false);
        assert_eq!(r2.invalid_reason, Some(InvalidReason::Eip712DomainMismatch));
        let r3 = verify_payment(payload, requirements, at, None, |_| true);
        assert_eq!(r3.invalid_reason, Some(InvalidReason::NonceAlreadyUsed));
        assert_eq!(r3.payer, r.payer);
    } else {
        assert!(
            seen.is_none() || r.invalid_reason == Some(InvalidReason::NonceAlreadyUsed),
            "nonce callback ran for an invalid payment: {r:?}"
        );
    }

    // the parts
    if let Ok(p) = PaymentPayload::parse(payload) {
        assert!(p.x402_version == 1 || p.x402_version == 2);
        assert_eq!(payload_version(payload).ok(), Some(p.x402_version));
        assert_eq!(
            extract_authorization(payload).ok().as_ref(),
            Some(&p.authorization)
        );
        assert_eq!(p.network.is_some(), p.chain_id.is_some());
    }
    if let Ok(auth) = extract_authorization(payload) {
        let again = Authorization::from_json(&auth.to_json(), "a").expect("normalized form parses");
        assert_eq!(again, auth);
        assert_eq!(auth.struct_hash(), transfer_with_authorization_hash(&auth));
    }
    if let Ok(req) = effective_requirements(payload, requirements) {
        assert_ne!(req.chain_id, 0);
    }
    if let Some(required) = required {
        if let Ok(hit) = select_requirements(required, payload) {
            let accepts = required["accepts"].as_array().expect("accepts is an array");
            assert!(accepts.iter().any(|e| std::ptr::eq(e, hit)));
        }
    }
});
