//! EIP-712 hashing and EIP-3009 recovery on correctly signed payments built
//! from fuzz bytes (payer key, amounts, window, nonce, domain, version).
//!
//! Invariants: `recover_payer` returns the signing key's address (with
//! requirements, and from a v2 payload's `accepted`); `verify_payment`
//! accepts the payment inside its window (validBefore at least 6 s ahead, the
//! official SDK's margin) and names the right reason just outside it, for a wrong recipient, a wrong amount, a used nonce, a
//! changed signature and the high-s twin of the signature; v 0/1 recovers
//! like 27/28; the digest is keccak(0x1901 || separator || structHash).
#![no_main]

use insforge_core::x402::{
    address_of_key, domain_separator, eip712_digest, keccak256, recover_payer,
    transfer_with_authorization_hash, verify_payment, Address, Authorization, Eip712Domain,
    InvalidReason, DEFAULT_VALID_BEFORE_MARGIN, U256,
};
use insforge_fuzz::{secp256k1_n_minus, Input};
use k256::ecdsa::SigningKey;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// The v2 payload with `accepted` replaced (it must agree with the
/// requirements on scheme and network only).
fn payload_with_accepted(payload: &Value, accepted: &Value) -> Value {
    let mut p = payload.clone();
    p["accepted"] = accepted.clone();
    p
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let secret = input.array::<32>();
    let Ok(key) = SigningKey::from_slice(&secret) else {
        return;
    };
    let payer = address_of_key(key.verifying_key()).expect("address");
    let version: u8 = if input.bool() { 2 } else { 1 };
    let chain_id = input.u64().max(1);
    let asset = Address::from_bytes(input.array::<20>());
    let pay_to = Address::from_bytes(input.array::<20>());
    let value = U256::from_be_bytes(input.array::<32>());
    // window: validAfter <= at and at + 6 <= validBefore (the SDK's margin),
    // all within i64
    let after = input.u64() % (1 << 40);
    let span = input.u64() % (1 << 40) + DEFAULT_VALID_BEFORE_MARGIN;
    let before = after + span;
    let at = after + input.u64() % (span - DEFAULT_VALID_BEFORE_MARGIN + 1);
    let nonce = input.array::<32>();
    let name = input.short_str(40);
    let ver = input.short_str(8);
    let flip = input.byte();
    // Which of the negative checks to run (each costs a signer recovery):
    // one per input keeps the target fast; the fuzzer varies it.
    let which = input.byte() % 6;

    let auth = Authorization {
        from: payer,
        to: pay_to,
        value,
        valid_after: U256::from(after),
        valid_before: U256::from(before),
        nonce,
    };
    let domain = Eip712Domain {
        name: name.clone(),
        version: ver.clone(),
        chain_id: U256::from(chain_id),
        verifying_contract: asset,
    };
    // digest, by hand
    let sep = domain_separator(&name, &ver, U256::from(chain_id), asset.to_bytes());
    assert_eq!(sep, domain.separator());
    let sh = transfer_with_authorization_hash(&auth);
    let mut pre = vec![0x19, 0x01];
    pre.extend_from_slice(&sep);
    pre.extend_from_slice(&sh);
    let digest = keccak256(&pre);
    assert_eq!(digest, eip712_digest(&sep, &sh));
    assert_eq!(digest, domain.transfer_with_authorization_digest(&auth));

    let (sig, recid) = key.sign_prehash_recoverable(&digest).expect("sign");
    let rs = sig.to_bytes();
    let mut sig65 = [0u8; 65];
    sig65[..64].copy_from_slice(&rs);
    sig65[64] = 27 + recid.to_byte();

    let network = format!("eip155:{chain_id}");
    let amount_key = if version == 2 {
        "amount"
    } else {
        "maxAmountRequired"
    };
    let mut requirements = json!({
        "scheme": "exact",
        "network": network,
        "asset": asset.to_checksum(),
        "payTo": pay_to.to_checksum(),
        "maxTimeoutSeconds": 60,
        "extra": {"name": name, "version": ver},
    });
    requirements[amount_key] = json!(value.to_decimal_string());
    if version == 1 {
        requirements["resource"] = json!("https://example.com/r");
        requirements["description"] = json!("");
        requirements["mimeType"] = json!("application/json");
    }
    let payload_with = |sig: &[u8]| -> Value {
        let inner = json!({"signature": hex0x(sig), "authorization": auth.to_json()});
        if version == 2 {
            json!({"x402Version": 2, "accepted": requirements, "payload": inner})
        } else {
            json!({"x402Version": 1, "scheme": "exact", "network": network, "payload": inner})
        }
    };
    let payload = payload_with(&sig65);
    let at = at as i64;
    let check = |p: &Value, req: &Value, at: i64, used: bool| {
        verify_payment(p, req, at, None, |_| used).expect("a verdict, not an error")
    };

    assert_eq!(
        recover_payer(&payload, Some(&requirements)).expect("recovers"),
        payer.to_checksum()
    );
    if version == 2 {
        assert_eq!(
            recover_payer(&payload, None).expect("recovers from accepted"),
            payer.to_checksum()
        );
    }
    let ok = check(&payload, &requirements, at, false);
    assert!(ok.is_valid, "{ok:?}");
    assert_eq!(ok.payer, Some(payer.to_checksum()));

    // v as 0/1
    if which == 0 {
        let mut low_v = sig65;
        low_v[64] -= 27;
        assert!(check(&payload_with(&low_v), &requirements, at, false).is_valid);
    }

    // the window's edges (validBefore with the 6 s margin), a used nonce
    if which == 1 {
        for t in [before - DEFAULT_VALID_BEFORE_MARGIN + 1, before] {
            let r = check(&payload, &requirements, t as i64, false);
            assert_eq!(
                r.invalid_reason,
                Some(InvalidReason::AuthorizationValidBefore),
                "{r:?}"
            );
        }
        let edge = before - DEFAULT_VALID_BEFORE_MARGIN;
        assert!(check(&payload, &requirements, edge as i64, false).is_valid);
        if after > 0 {
            let r = check(&payload, &requirements, after as i64 - 1, false);
            assert_eq!(
                r.invalid_reason,
                Some(InvalidReason::AuthorizationValidAfter),
                "{r:?}"
            );
        }
        let r = check(&payload, &requirements, at, true);
        assert_eq!(r.invalid_reason, Some(InvalidReason::NonceAlreadyUsed));
    }

    // requirements that disagree (the signature still recovers: it covers
    // the authorization, not the requirements' payTo/amount)
    let elsewhere = Address::from_bytes([0x11; 20]);
    if which == 2 && elsewhere != pay_to {
        let mut other = requirements.clone();
        other["payTo"] = json!(elsewhere.to_checksum());
        if version == 2 {
            other["amount"] = requirements["amount"].clone();
        }
        let p = if version == 2 {
            payload_with_accepted(&payload, &other)
        } else {
            payload.clone()
        };
        let r = check(&p, &other, at, false);
        assert_eq!(
            r.invalid_reason,
            Some(InvalidReason::RecipientMismatch),
            "{r:?}"
        );
        assert_eq!(
            r.payer, None,
            "the recipient is checked before the signature"
        );
    }
    if let (3, Some(v)) = (which, value.to_u64()) {
        let mut more = requirements.clone();
        more[amount_key] = json!((u128::from(v) + 1).to_string());
        let p = if version == 2 {
            payload_with_accepted(&payload, &more)
        } else {
            payload.clone()
        };
        let r = check(&p, &more, at, false);
        // exactly the price in v1 too (as the SDK)
        assert_eq!(
            r.invalid_reason,
            Some(InvalidReason::AuthorizationValueMismatch),
            "{r:?}"
        );
    }

    // high-s twin: same point, other parity, rejected as malleable
    if which == 4 {
        let mut high = sig65;
        let s: [u8; 32] = sig65[32..64].try_into().expect("32");
        high[32..64].copy_from_slice(&secp256k1_n_minus(&s));
        high[64] = if sig65[64] == 27 { 28 } else { 27 };
        let r = check(&payload_with(&high), &requirements, at, false);
        assert_eq!(
            r.invalid_reason,
            Some(InvalidReason::InvalidSignature),
            "{r:?}"
        );
        assert!(recover_payer(&payload_with(&high), Some(&requirements)).is_err());
    }

    // one changed byte of r or s
    if which == 5 {
        let mut bad = sig65;
        bad[usize::from(flip) % 64] ^= 1 << (flip % 8);
        let r = check(&payload_with(&bad), &requirements, at, false);
        assert!(!r.is_valid);
        assert_eq!(
            r.invalid_reason,
            Some(InvalidReason::InvalidSignature),
            "{r:?}"
        );
        if let Ok(other) = recover_payer(&payload_with(&bad), Some(&requirements)) {
            assert_ne!(other, payer.to_checksum());
        }
    }
});
