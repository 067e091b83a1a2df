//! Payment payload parsing, EIP-712 hashing, EIP-3009 and Permit2 payer
//! recovery and facilitator-style verification on arbitrary JSON.
//!
//! Input: JSON. An array `[payload, requirements?, paymentRequired?, at?]`
//! is taken apart; anything else is the payload alone (then, as without
//! requirements, the payload's own `accepted` stands for the requirements).
//!
//! Invariants: `verify_payment` never panics, errs only with `Unsupported`
//! (and exactly when `payment_kind` or the requirements' scheme says the
//! version or scheme is not implemented), and is self-consistent (valid
//! exactly when there is no reason and no message; a payer only from the
//! signature check on, and then the one `recover_payer` gives; a valid
//! payment's payer is its `from`, and `authorized_payment` gives the same
//! payer, signer and nonce key as verification used, or refuses exactly a
//! malformed payment identifier, which verification ignores); a valid EIP-3009
//! payment is refused with the domain-mismatch reason under a different
//! registered name; every valid payment is refused with its scheme's nonce
//! reason when the nonce is used; the nonce callback sees the payer and the
//! nonce; parsed parts agree with each other; `select_requirements` returns
//! an entry of `accepts`; authorizations survive a JSON round trip.
#![no_main]

use insforge_core::x402::{
    authorized_payment, effective_requirements, eip712_digest, extract_authorization,
    payload_version, payment_identifier, payment_kind, recover_payer, select_requirements,
    transfer_with_authorization_hash, verify_payment, AssetInfo, Authorization, ErrorKind,
    InvalidReason, PaymentPayload, Permit2Authorization, TransferMethod, VerifyResult,
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
        InvalidReason::UnsupportedPayloadType,
        InvalidReason::UptoInvalidScheme,
        InvalidReason::UptoNetworkMismatch,
        InvalidReason::UptoFailedToGetNetworkConfig,
        InvalidReason::Permit2InvalidSpender,
        InvalidReason::Permit2RecipientMismatch,
        InvalidReason::UptoFacilitatorMismatch,
        InvalidReason::Permit2PayloadFormat,
        InvalidReason::Permit2DeadlineExpired,
        InvalidReason::Permit2NotYetValid,
        InvalidReason::Permit2AmountMismatch,
        InvalidReason::Permit2TokenMismatch,
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

    // Without requirements the payload's own `accepted` stands in (a v1
    // payload has none: JSON null, which is refused as requirements).
    let accepted = payload.get("accepted").cloned().unwrap_or(Value::Null);
    let req = requirements.unwrap_or(&accepted);
    let mut seen = None;
    let r = match verify_payment(payload, req, at, None, |k| {
        seen = Some(k.clone());
        false
    }) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Unsupported, "verify_payment erred: {e}");
            // the same refusal the facts give (version and schemes come first there too)
            let facts = authorized_payment(payload, req).expect_err("unsupported facts");
            assert_eq!(facts.kind, ErrorKind::Unsupported, "{facts}");
            return;
        }
    };
    consistent(&r);
    let kind = payment_kind(payload);
    let recovered = recover_payer(payload, Some(req));
    if let Some(p) = &r.payer {
        if !matches!(
            r.invalid_reason,
            Some(InvalidReason::InvalidSignature | InvalidReason::Permit2InvalidSignature)
        ) {
            assert_eq!(
                recovered.as_ref().ok(),
                Some(p),
                "payer differs from recover_payer"
            );
        }
    }
    if r.is_valid {
        // The facts of a valid payment: its payer, signer and nonce key are
        // verification's.
        let kind = kind.expect("a valid payment is of a known kind");
        // (verification ignores the payment identifier, as the SDK's
        // facilitator does; the facts refuse a malformed one)
        if let Err(e) = payment_identifier(payload) {
            let refused = authorized_payment(payload, req).expect_err("a malformed identifier");
            assert_eq!(refused, e);
            return;
        }
        let facts = authorized_payment(payload, req).expect("a valid payment has facts");
        let key = seen
            .clone()
            .expect("nonce callback ran for a valid payment");
        assert_eq!(facts.nonce_key(), key);
        assert_eq!(facts.transfer_method, kind.transfer_method);
        assert_eq!(r.payer.as_deref(), Some(facts.payer.to_checksum().as_str()));
        assert_eq!(facts.signer().expect("signer"), facts.payer);
        let again = verify_payment(payload, req, at, None, |_| true).expect("a verdict");
        let nonce_reason = match (kind.transfer_method, facts.scheme) {
            (TransferMethod::Eip3009, _) => InvalidReason::NonceAlreadyUsed,
            (TransferMethod::Permit2, insforge_core::x402::Scheme::Exact) => {
                InvalidReason::Permit2InvalidNonce
            }
            (TransferMethod::Permit2, insforge_core::x402::Scheme::Upto) => {
                InvalidReason::UptoTransactionFailed
            }
        };
        assert_eq!(again.invalid_reason, Some(nonce_reason));
        assert_eq!(again.payer, r.payer);
        if kind.transfer_method == TransferMethod::Permit2 {
            let permit = Permit2Authorization::from_json(
                &payload["payload"]["permit2Authorization"],
                facts.ceiling().is_some(),
                "p",
            )
            .expect("a valid permit parses");
            assert_eq!(facts.digest, permit.digest(facts.chain_id));
            let back = Permit2Authorization::from_json(&permit.to_json(), permit.is_upto(), "p")
                .expect("the normalized permit parses");
            assert_eq!(back, permit);
            return;
        }
    }
    if r.is_valid {
        let given = req;
        let auth = extract_authorization(payload).expect("valid payment has an authorization");
        assert_eq!(r.payer.as_deref(), Some(auth.from.to_checksum().as_str()));
        let key = seen.expect("nonce callback ran for a valid payment");
        assert_eq!(key.payer, auth.from);
        assert_eq!(key.nonce, auth.nonce);

        let req =
            effective_requirements(payload, Some(given)).expect("valid payment has requirements");
        assert_eq!(key.scope, req.asset);
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
        assert!(
            verify_payment(payload, given, at, Some(&same), |_| false)
                .expect("a verdict")
                .is_valid
        );
        let other = AssetInfo::new(format!("{}x", req.eip712_name), req.eip712_version.clone());
        let r2 = verify_payment(payload, given, at, Some(&other), |_| false).expect("a verdict");
        assert_eq!(r2.invalid_reason, Some(InvalidReason::Eip712DomainMismatch));
    } else {
        assert!(
            seen.is_none()
                || matches!(
                    r.invalid_reason,
                    Some(
                        InvalidReason::NonceAlreadyUsed
                            | InvalidReason::Permit2InvalidNonce
                            | InvalidReason::UptoTransactionFailed
                    )
                ),
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
