//! Permit2 payments (`exact` and `upto`) correctly signed from fuzz bytes:
//! payer key, kind, chain, token, amount, nonce, deadline, validAfter,
//! recipient, facilitator, and the time of the check.
//!
//! Invariants: the digest is keccak(0x1901 || Permit2's domain separator ||
//! structHash), the separator computed by hand; `recover_payer` returns the
//! signing key's address, also for the high-s twin (Permit2's `ecrecover`
//! accepts it); `verify_payment` accepts the payment inside its window
//! (deadline at least 6 s ahead, validAfter not ahead) and names the SDK's
//! reason just outside it; `authorized_payment` gives back exactly what was
//! signed, in Permit2's nonce space (one nonce per payer, whatever the
//! token); and, one per input: the amount, token, recipient, spender,
//! facilitator, network and nonce faults get the SDK's reasons, and v 0/1
//! is accepted by `exact` and refused by `upto`'s simulation.
#![no_main]

use insforge_core::x402::{
    address_of_key, authorized_payment, eip712_digest, keccak256, permit2_domain_separator,
    recover_payer, verify_payment, Address, InvalidReason, Permit2Authorization, Scheme,
    TransferMethod, PERMIT2_ADDRESS, PERMIT2_DOMAIN_TYPE, U256, X402_EXACT_PERMIT2_PROXY,
    X402_UPTO_PERMIT2_PROXY,
};
use insforge_fuzz::{secp256k1_n_minus, Input};
use k256::ecdsa::SigningKey;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let Ok(key) = SigningKey::from_slice(&input.array::<32>()) else {
        return;
    };
    let payer = address_of_key(key.verifying_key()).expect("address");
    let upto = input.bool();
    let chain_id = input.u64().max(1);
    let token = Address::from_bytes(input.array::<20>());
    let pay_to = Address::from_bytes(input.array::<20>());
    let facilitator = Address::from_bytes(input.array::<20>());
    let amount = U256::from_be_bytes(input.array::<32>());
    let nonce = U256::from_be_bytes(input.array::<32>());
    // window: validAfter <= at, at + 6 <= deadline; all within i64
    let after = input.u64() % (1 << 40);
    let span = input.u64() % (1 << 40) + 6;
    let deadline = after + span;
    let at = (after + input.u64() % (span - 6 + 1)) as i64;
    let which = input.byte() % 9;

    let permit = Permit2Authorization {
        from: payer,
        token,
        amount,
        spender: if upto {
            X402_UPTO_PERMIT2_PROXY
        } else {
            X402_EXACT_PERMIT2_PROXY
        },
        nonce,
        deadline: U256::from(deadline),
        to: pay_to,
        facilitator: upto.then_some(facilitator),
        valid_after: U256::from(after),
    };
    // the domain separator, by hand
    let mut dom = keccak256(PERMIT2_DOMAIN_TYPE.as_bytes()).to_vec();
    dom.extend_from_slice(&keccak256(b"Permit2"));
    dom.extend_from_slice(&U256::from(chain_id).to_be_bytes());
    dom.extend_from_slice(&PERMIT2_ADDRESS.to_word());
    assert_eq!(keccak256(&dom), permit2_domain_separator(chain_id));
    let digest = permit.digest(chain_id);
    assert_eq!(
        digest,
        eip712_digest(&permit2_domain_separator(chain_id), &permit.struct_hash())
    );

    let (sig, recid) = key.sign_prehash_recoverable(&digest).expect("sign");
    let mut sig65 = [0u8; 65];
    sig65[..64].copy_from_slice(&sig.to_bytes());
    sig65[64] = 27 + recid.to_byte();

    let scheme = if upto { "upto" } else { "exact" };
    let network = format!("eip155:{chain_id}");
    let mut extra = json!({"assetTransferMethod": "permit2"});
    if upto {
        extra["facilitatorAddress"] = json!(facilitator.to_checksum());
    }
    let requirements = json!({
        "scheme": scheme, "network": network, "asset": token.to_checksum(),
        "amount": amount.to_decimal_string(), "payTo": pay_to.to_checksum(),
        "maxTimeoutSeconds": 60, "extra": extra,
    });
    let payload_with = |auth: &Value, sig: &[u8]| -> Value {
        json!({"x402Version": 2, "accepted": requirements,
               "payload": {"permit2Authorization": auth, "signature": hex0x(sig)}})
    };
    let payload = payload_with(&permit.to_json(), &sig65);
    let verify = |p: &Value, r: &Value, at: i64| {
        verify_payment(p, r, at, None, |_| false).expect("a verdict")
    };
    let reason = |p: &Value, r: &Value, at: i64| verify(p, r, at).invalid_reason;

    assert_eq!(
        recover_payer(&payload, Some(&requirements)).expect("recovers"),
        payer.to_checksum()
    );
    // upto's simulation refuses amount 0 and the zero recipient (the proxy would revert)
    let simulation_refuses = upto && (amount.is_zero() || pay_to == Address::ZERO);
    let ok = verify(&payload, &requirements, at);
    if simulation_refuses {
        assert_eq!(
            ok.invalid_reason,
            Some(InvalidReason::UptoTransactionFailed)
        );
    } else {
        assert!(ok.is_valid, "{ok:?}");
    }
    assert_eq!(ok.payer, Some(payer.to_checksum()));

    // the facts are what was signed
    let facts = authorized_payment(&payload, &requirements).expect("facts");
    assert_eq!(facts.transfer_method, TransferMethod::Permit2);
    assert_eq!(
        facts.scheme,
        if upto { Scheme::Upto } else { Scheme::Exact }
    );
    assert_eq!(
        (facts.chain_id, facts.asset, facts.pay_to, facts.payer),
        (chain_id, token, pay_to, payer)
    );
    assert_eq!(facts.amount, amount);
    assert_eq!(facts.nonce, nonce.to_be_bytes());
    assert_eq!(
        (facts.valid_after, facts.valid_before),
        (U256::from(after), U256::from(deadline))
    );
    assert_eq!(facts.facilitator, permit.facilitator);
    assert_eq!(facts.digest, digest);
    assert_eq!(facts.signer().expect("signer"), payer);
    assert_eq!(facts.nonce_key().scope, PERMIT2_ADDRESS);
    assert!(facts.settleable_at(at as u64));

    // the window's edges (the SDK: deadline >= at + 6, validAfter <= at)
    let d = deadline as i64;
    assert_eq!(
        reason(&payload, &requirements, d - 5),
        Some(InvalidReason::Permit2DeadlineExpired)
    );
    if after > 0 {
        assert_eq!(
            reason(&payload, &requirements, after as i64 - 1),
            Some(InvalidReason::Permit2NotYetValid)
        );
    }

    let mut r = requirements.clone();
    match which {
        0 => {
            // the high-s twin: the same payer, and valid (ecrecover accepts it)
            let mut high = sig65;
            high[32..64].copy_from_slice(&secp256k1_n_minus(&sig65[32..64].try_into().unwrap()));
            high[64] = if sig65[64] == 27 { 28 } else { 27 };
            let twin = payload_with(&permit.to_json(), &high);
            assert_eq!(
                recover_payer(&twin, None).expect("recovers"),
                payer.to_checksum()
            );
            assert_eq!(verify(&twin, &requirements, at), ok);
        }
        1 => {
            // v as 0/1
            let mut v01 = sig65;
            v01[64] -= 27;
            let p = payload_with(&permit.to_json(), &v01);
            let got = verify(&p, &requirements, at);
            if upto {
                assert_eq!(
                    got.invalid_reason,
                    Some(InvalidReason::UptoTransactionFailed)
                );
            } else {
                assert!(got.is_valid, "{got:?}");
            }
        }
        2 => {
            r["amount"] = json!(if amount == U256::MAX {
                "0".to_owned()
            } else {
                amount.to_decimal_string() + "0"
            });
            if !amount.is_zero() {
                assert_eq!(
                    reason(&payload, &r, at),
                    Some(InvalidReason::Permit2AmountMismatch)
                );
            }
        }
        3 => {
            let other = Address::from_bytes(keccak256(&token.to_bytes())[..20].try_into().unwrap());
            r["asset"] = json!(other.to_checksum());
            assert_eq!(
                reason(&payload, &r, at),
                Some(InvalidReason::Permit2TokenMismatch)
            );
        }
        4 => {
            let other =
                Address::from_bytes(keccak256(&pay_to.to_bytes())[..20].try_into().unwrap());
            r["payTo"] = json!(other.to_checksum());
            assert_eq!(
                reason(&payload, &r, at),
                Some(InvalidReason::Permit2RecipientMismatch)
            );
        }
        5 => {
            // the other proxy as spender (signed so)
            let mut other = permit.clone();
            other.spender = if upto {
                X402_EXACT_PERMIT2_PROXY
            } else {
                X402_UPTO_PERMIT2_PROXY
            };
            let (s, rid) = key
                .sign_prehash_recoverable(&other.digest(chain_id))
                .expect("sign");
            let mut sig = [0u8; 65];
            sig[..64].copy_from_slice(&s.to_bytes());
            sig[64] = 27 + rid.to_byte();
            let p = payload_with(&other.to_json(), &sig);
            assert_eq!(
                reason(&p, &requirements, at),
                Some(InvalidReason::Permit2InvalidSpender)
            );
        }
        6 => {
            if upto {
                r["extra"]["facilitatorAddress"] = json!(pay_to.to_checksum());
                if pay_to != facilitator {
                    assert_eq!(
                        reason(&payload, &r, at),
                        Some(InvalidReason::UptoFacilitatorMismatch)
                    );
                }
            } else {
                // exact reads neither the requirements' scheme nor extra
                r["scheme"] = json!("upto");
                r["extra"] = json!({});
                assert_eq!(verify(&payload, &r, at), ok);
            }
        }
        7 => {
            r["network"] = json!(format!("eip155:{}", chain_id.wrapping_add(1).max(1)));
            if r["network"] != requirements["network"] {
                let want = if upto {
                    InvalidReason::UptoNetworkMismatch
                } else {
                    InvalidReason::NetworkMismatch
                };
                assert_eq!(reason(&payload, &r, at), Some(want));
            }
        }
        _ => {
            // a changed nonce: another message, another signer
            let mut auth = permit.to_json();
            let changed = U256::from_be_bytes({
                let mut b = nonce.to_be_bytes();
                b[31] ^= 1;
                b
            });
            auth["nonce"] = json!(changed.to_decimal_string());
            let p = payload_with(&auth, &sig65);
            // (the signature is checked before upto's simulation)
            assert_eq!(
                reason(&p, &requirements, at),
                Some(InvalidReason::Permit2InvalidSignature)
            );
        }
    }
});
