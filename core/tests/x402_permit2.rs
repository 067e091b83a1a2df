//! x402 Permit2 payments (`exact` with `permit2Authorization`, and `upto`):
//! the worked vectors of eth-account and the official x402 SDK 2.25
//! (tools/x402_permit2.py `worked_vector`), one test per reason code in the
//! SDK's order, the verify/recover/authorized_payment agreement, and the
//! payment identifier.

use insforge_core::x402::*;
use k256::ecdsa::SigningKey;
use serde_json::{json, Value};

mod common;
use common::n_minus;

const KEY: &str = "bd21888ae4206926d82334fbc9f7fc7c4435b894f870af00ed6da33ec342c683";
const PAYER: &str = "0x0473Ce1B2410916e66831b35f8ce772dE2eA90C1";
const USDC: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const USDC_BASE: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const PAY_TO: &str = "0xED3D13dDaba4aA8104E649ac940Dfee495cB299e";
const FACILITATOR: &str = "0x0746345E28B45F23475b2f0283bB06bbDE5b695d";
const OTHER: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const NONCE: &str = "17271509876904230898195603904827850891173620991802167303217006144908805997986";
const NOW: i64 = 1_763_800_000;
const DEADLINE: i64 = 1_763_800_300;
const EXACT_SIG: &str = "0x4f56c393fa1f496250d831f57877526fc520b1b60e93fb8810c0b857cdbb86ac67aeb7440a90a8d42aca7f3a85f027d456bbf15dd80d03cb76a805287872b82c1b";
const UPTO_SIG: &str = "0x122c9ce0e437cdc8ef6e8526b7d89e4081e11084c3d41f0b76773da69b4eb4d3564e0b4c3dd2487651220076b49a30ab80f9c01feaae5a58e1c8bf82e70af5131b";

fn requirements(kind: &str) -> Value {
    let mut extra = json!({"name": "USDC", "version": "2", "assetTransferMethod": "permit2"});
    if kind == "upto" {
        extra["facilitatorAddress"] = json!(FACILITATOR);
    }
    json!({"scheme": kind, "network": "eip155:84532", "asset": USDC, "amount": "10000",
           "payTo": PAY_TO, "maxTimeoutSeconds": 300, "extra": extra})
}

fn authorization(kind: &str) -> Value {
    let spender = if kind == "upto" {
        "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"
    } else {
        "0x402085c248EeA27D92E8b30b2C58ed07f9E20001"
    };
    let mut witness = json!({"to": PAY_TO, "validAfter": "0"});
    if kind == "upto" {
        witness["facilitator"] = json!(FACILITATOR);
    }
    json!({"from": PAYER, "permitted": {"token": USDC, "amount": "10000"}, "spender": spender,
           "nonce": NONCE, "deadline": DEADLINE.to_string(), "witness": witness})
}

/// The worked vector of `kind`: the payload the SDK's own client builds.
fn vector(kind: &str) -> Value {
    let sig = if kind == "upto" { UPTO_SIG } else { EXACT_SIG };
    json!({"x402Version": 2, "accepted": requirements(kind),
           "payload": {"permit2Authorization": authorization(kind), "signature": sig}})
}

fn key() -> SigningKey {
    SigningKey::from_slice(&hex::decode(KEY).unwrap()).unwrap()
}

/// r || s || v (27/28) over `digest`.
fn sign(digest: &[u8; 32]) -> [u8; 65] {
    let (sig, recid) = key().sign_prehash_recoverable(digest).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + recid.to_byte();
    out
}

/// `payload` with `permit2Authorization` changed by `edit` and signed again
/// on `chain` (so only the edit is at fault).
fn resigned(kind: &str, chain: u64, edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = vector(kind);
    edit(&mut p["payload"]["permit2Authorization"]);
    let auth =
        Permit2Authorization::from_json(&p["payload"]["permit2Authorization"], kind == "upto", "a")
            .unwrap();
    p["payload"]["signature"] = json!(format!("0x{}", hex::encode(sign(&auth.digest(chain)))));
    p
}

fn verify(p: &Value, r: &Value) -> VerifyResult {
    verify_payment(p, r, NOW, None, |_| false).expect("a verdict")
}

fn reason(p: &Value, r: &Value) -> String {
    let v = verify(p, r);
    assert!(!v.is_valid, "expected a rejection: {v:?}");
    assert!(v.invalid_message.is_some());
    v.invalid_reason_str().unwrap().to_owned()
}

fn both() -> [&'static str; 2] {
    ["exact", "upto"]
}

#[test]
fn worked_vectors_hash_and_recover() {
    let sep = "010f27a92fb9a32622f44f001dc4d15706a85b33499cfc2ce9033113ab26592c";
    for (kind, struct_hash, digest) in [
        (
            "exact",
            "8bd9be9123a1eb32a677949571018b37b9b338c00875d5b9f1a00588bbf18055",
            "4068d62f746d8da3f197f64dbe982be3ef1cb1aa8e84a0d0993da4b451ad7331",
        ),
        (
            "upto",
            "56392723cab1bfdfc664a9b48f14d973e4b0c2ff661e5925c4c8de29b62a4f7e",
            "f8141163caa7ce1145fb8c5f1451b7e98c917eedd740983baacf0defbf556673",
        ),
    ] {
        let auth =
            Permit2Authorization::from_json(&authorization(kind), kind == "upto", "a").unwrap();
        assert_eq!(hex::encode(permit2_domain_separator(84532)), sep);
        assert_eq!(hex::encode(auth.struct_hash()), struct_hash, "{kind}");
        assert_eq!(hex::encode(auth.digest(84532)), digest, "{kind}");
        // by hand, as Permit2's PermitHash and EIP712 do
        let by_hand = eip712_digest(
            &hex::decode(sep).unwrap().try_into().unwrap(),
            &auth.struct_hash(),
        );
        assert_eq!(hex::encode(by_hand), digest);
        // our own signature over it is the vector's (RFC 6979, as eth-account)
        let sig = if kind == "upto" { UPTO_SIG } else { EXACT_SIG };
        assert_eq!(format!("0x{}", hex::encode(sign(&auth.digest(84532)))), sig);
        // recovery, verification, facts
        let p = vector(kind);
        assert_eq!(recover_payer(&p, None).unwrap(), PAYER);
        assert_eq!(recover_payer(&p, Some(&requirements(kind))).unwrap(), PAYER);
        let v = verify(&p, &requirements(kind));
        assert!(v.is_valid, "{kind}: {v:?}");
        assert_eq!(v.payer.as_deref(), Some(PAYER));
        let a = authorized_payment(&p, &requirements(kind)).unwrap();
        assert_eq!(hex::encode(a.digest), digest);
        assert_eq!(a.signer().unwrap().to_checksum(), PAYER);
        // the normalized form parses to the same permit
        let again = Permit2Authorization::from_json(&auth.to_json(), kind == "upto", "a").unwrap();
        assert_eq!(again, auth);
    }
}

#[test]
fn authorized_payment_facts() {
    let a = authorized_payment(&vector("exact"), &requirements("exact")).unwrap();
    assert_eq!(
        (a.x402_version, a.scheme, a.transfer_method, a.chain_id),
        (2, Scheme::Exact, TransferMethod::Permit2, 84532)
    );
    assert_eq!(a.network(), "eip155:84532");
    assert_eq!(a.asset.to_checksum(), USDC);
    assert_eq!(a.pay_to.to_checksum(), PAY_TO);
    assert_eq!(a.payer.to_checksum(), PAYER);
    assert_eq!(a.exact_amount(), Some(U256::from(10_000u64)));
    assert_eq!(a.ceiling(), None);
    assert!(a.admits(&U256::from(10_000u64)) && !a.admits(&U256::from(9_999u64)));
    assert_eq!(a.valid_before, U256::from(DEADLINE as u64));
    assert_eq!(a.valid_after, U256::ZERO);
    assert_eq!(
        a.nonce_hex(),
        permit2_nonce_hex(&U256::parse_decimal(NONCE).unwrap())
    );
    assert_eq!(a.spender, Some(X402_EXACT_PERMIT2_PROXY));
    assert_eq!(a.facilitator, None);
    assert_eq!(a.payment_id, None);
    // The nonce's scope is Permit2 itself: the same key for another token.
    let key = a.nonce_key();
    assert_eq!(key.scope, PERMIT2_ADDRESS);
    assert_eq!(key.transfer_method, TransferMethod::Permit2);
    let other_token = resigned("exact", 84532, |a| {
        a["permitted"]["token"] = json!(USDC_BASE)
    });
    let b = authorized_payment(&other_token, &requirements("exact")).unwrap();
    assert_eq!(b.asset.to_checksum(), USDC_BASE);
    assert_eq!(b.nonce_key(), key);
    // ... and for upto: one nonce space for every scheme.
    let u = authorized_payment(&vector("upto"), &requirements("upto")).unwrap();
    assert_eq!(u.scheme, Scheme::Upto);
    assert_eq!(u.ceiling(), Some(U256::from(10_000u64)));
    assert_eq!(u.exact_amount(), None);
    assert!(u.admits(&U256::ZERO) && u.admits(&U256::from(10_000u64)));
    assert!(!u.admits(&U256::from(10_001u64)));
    assert_eq!(
        u.facilitator.map(|f| f.to_checksum()).as_deref(),
        Some(FACILITATOR)
    );
    assert_eq!(u.spender, Some(X402_UPTO_PERMIT2_PROXY));
    assert_eq!(u.nonce_key(), key);
    // The window: Permit2 accepts validAfter <= now <= deadline.
    assert!(a.settleable_at(DEADLINE as u64) && !a.settleable_at(DEADLINE as u64 + 1));
    assert!(a.settleable_at(0));
    // JSON
    let j = u.to_json();
    assert_eq!(j["scheme"], "upto");
    assert_eq!(j["transfer_method"], "permit2");
    assert_eq!(j["amount"], Value::Null);
    assert_eq!(j["ceiling"], "10000");
    assert_eq!(j["nonce_scope"], PERMIT2_ADDRESS.to_checksum());
    assert_eq!(j["valid_before"], DEADLINE.to_string());
    assert_eq!(
        j["digest"],
        "0xf8141163caa7ce1145fb8c5f1451b7e98c917eedd740983baacf0defbf556673"
    );
}

#[test]
fn authorized_payment_of_eip3009_payments() {
    // The x402 v2 specification's example (Base Sepolia USDC).
    let req = json!({"scheme": "exact", "network": "eip155:84532", "amount": "10000", "asset": USDC,
                     "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
                     "extra": {"name": "USDC", "version": "2"}});
    let p = json!({"x402Version": 2, "accepted": req, "payload": {
        "signature": "0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c",
        "authorization": {"from": "0x857b06519E91e3A54538791bDbb0E22373e36b66",
                          "to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "value": "10000",
                          "validAfter": "1740672089", "validBefore": "1740672154",
                          "nonce": "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}}});
    let a = authorized_payment(&p, &req).unwrap();
    assert_eq!(
        (a.scheme, a.transfer_method),
        (Scheme::Exact, TransferMethod::Eip3009)
    );
    assert_eq!(
        a.payer.to_checksum(),
        "0x857b06519E91e3A54538791bDbb0E22373e36b66"
    );
    assert_eq!(a.signer().unwrap(), a.payer);
    assert_eq!(a.amount, U256::from(10_000u64));
    assert_eq!(a.spender, None);
    // EIP-3009 nonces live in the token: the key's scope is the asset.
    let key = a.nonce_key();
    assert_eq!(
        (key.scope, key.transfer_method),
        (a.asset, TransferMethod::Eip3009)
    );
    assert_eq!(
        key.nonce_hex(),
        "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"
    );
    assert_ne!(
        key,
        authorized_payment(&vector("exact"), &requirements("exact"))
            .unwrap()
            .nonce_key()
    );
    // validAfter < now < validBefore (the token's rule)
    assert!(!a.settleable_at(1_740_672_089) && a.settleable_at(1_740_672_090));
    assert!(a.settleable_at(1_740_672_153) && !a.settleable_at(1_740_672_154));
    // recover_payer and the facts agree
    assert_eq!(
        recover_payer(&p, Some(&req)).unwrap(),
        a.payer.to_checksum()
    );
}

#[test]
fn authorized_payment_refuses() {
    let kind_err = |p: &Value, r: &Value| authorized_payment(p, r).unwrap_err();
    // unimplemented version or scheme: 0A000
    let mut p = vector("exact");
    p["x402Version"] = json!(3);
    assert_eq!(kind_err(&p, &requirements("exact")).sqlstate(), "0A000");
    let mut p = vector("exact");
    p["accepted"]["scheme"] = json!("deferred");
    assert_eq!(kind_err(&p, &requirements("exact")).sqlstate(), "0A000");
    let mut r = requirements("exact");
    r["scheme"] = json!("stream");
    assert_eq!(kind_err(&vector("exact"), &r).sqlstate(), "0A000");
    // an upto payload without a facilitator in its witness: not an upto payment
    let mut p = vector("upto");
    p["payload"]["permit2Authorization"]["witness"]
        .as_object_mut()
        .unwrap()
        .remove("facilitator");
    let e = kind_err(&p, &requirements("upto"));
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert!(e.message.contains("upto"), "{e}");
    // unreadable fields (22023), a number beyond uint256 (22003)
    let mut p = vector("exact");
    p["payload"]["permit2Authorization"]["nonce"] = json!("0x12");
    let e = kind_err(&p, &requirements("exact"));
    assert!(e.message.contains("permit2Authorization.nonce"), "{e}");
    p["payload"]["permit2Authorization"]["nonce"] =
        json!("115792089237316195423570985008687907853269984665640564039457584007913129639936");
    assert_eq!(
        kind_err(&p, &requirements("exact")).kind,
        ErrorKind::OutOfRange
    );
    let mut p = vector("exact");
    p["payload"]["permit2Authorization"]["deadline"] = json!("-1");
    assert!(kind_err(&p, &requirements("exact"))
        .message
        .contains("negative"));
    // the requirements' network is the chain
    let mut r = requirements("exact");
    r.as_object_mut().unwrap().remove("network");
    assert!(kind_err(&vector("exact"), &r).message.contains("network"));
    // Python int() syntax the SDK accepts is accepted
    let mut p = vector("exact");
    p["payload"]["permit2Authorization"]["permitted"]["amount"] = json!("10_000");
    assert_eq!(
        authorized_payment(&p, &requirements("exact"))
            .unwrap()
            .amount,
        U256::from(10_000u64)
    );
}

#[test]
fn payment_identifier_is_read_strictly() {
    let with = |ext: Value| {
        let mut p = vector("exact");
        p["extensions"] = ext;
        p
    };
    let pi = |id: Value| json!({"payment-identifier": {"info": {"required": false, "id": id}}});
    let id = "pay_0123456789abcdef";
    assert_eq!(
        payment_identifier(&with(pi(json!(id)))).unwrap().as_deref(),
        Some(id)
    );
    let a = authorized_payment(&with(pi(json!(id))), &requirements("exact")).unwrap();
    assert_eq!(a.payment_id.as_deref(), Some(id));
    // absent: none
    for ext in [
        json!({}),
        Value::Null,
        json!({"payment-identifier": {"info": {"required": true}}}),
        json!({"payment-identifier": {"schema": {}}}),
        json!({"other": 1}),
    ] {
        assert_eq!(
            payment_identifier(&with(ext.clone())).unwrap(),
            None,
            "{ext}"
        );
    }
    assert_eq!(payment_identifier(&vector("exact")).unwrap(), None);
    // 16 and 128 characters; letters, digits, _ and -
    for ok in ["a".repeat(16), "Z9_-".repeat(32)] {
        assert!(is_valid_payment_id(&ok), "{ok}");
    }
    for bad in [
        "a".repeat(15),
        "a".repeat(129),
        "pay_0123456789abcdef\n".into(),
        "pay_0123456789abcdé".into(),
        "pay 0123456789abcdef".into(),
        "pay_0123456789abcd.f".into(),
    ] {
        assert!(!is_valid_payment_id(&bad), "{bad:?}");
        let e = payment_identifier(&with(pi(json!(bad)))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.message.contains("info.id"), "{e}");
        assert!(authorized_payment(&with(pi(json!(bad))), &requirements("exact")).is_err());
    }
    for bad in [
        json!([1]),
        json!({"payment-identifier": "x"}),
        json!({"payment-identifier": {"info": 1}}),
        pi(json!(12345678901234567u64)),
    ] {
        assert!(payment_identifier(&with(bad.clone())).is_err(), "{bad}");
    }
    // verify ignores the identifier (as the SDK's facilitator)
    assert!(verify(&with(pi(json!("short"))), &requirements("exact")).is_valid);
}

#[test]
fn payment_kind_routes_as_the_sdk() {
    let k = payment_kind(&vector("exact")).unwrap();
    assert_eq!(
        (k.x402_version, k.scheme, k.transfer_method),
        (2, Scheme::Exact, TransferMethod::Permit2)
    );
    assert_eq!(
        payment_kind(&vector("upto")).unwrap().transfer_method,
        TransferMethod::Permit2
    );
    let eip3009 = json!({"x402Version": 2, "accepted": requirements("exact"),
                         "payload": {"signature": "0x", "authorization": {}}});
    assert_eq!(
        payment_kind(&eip3009).unwrap().transfer_method,
        TransferMethod::Eip3009
    );
    // v1 has neither Permit2 nor upto
    let v1 = json!({"x402Version": 1, "scheme": "exact", "payload": {"permit2Authorization": {}}});
    assert_eq!(
        payment_kind(&v1).unwrap().transfer_method,
        TransferMethod::Eip3009
    );
    let v1_upto = json!({"x402Version": 1, "scheme": "upto", "payload": {}});
    assert_eq!(
        payment_kind(&v1_upto).unwrap_err().kind,
        ErrorKind::Unsupported
    );
}

#[test]
fn reasons_in_the_sdks_order() {
    for kind in both() {
        let upto = kind == "upto";
        let req = requirements(kind);
        let good = vector(kind);
        let set = |p: &Value, ptr: &str, v: Value| {
            let mut q = p.clone();
            *q.pointer_mut(ptr).unwrap_or_else(|| panic!("{ptr}")) = v;
            q
        };
        let auth = "/payload/permit2Authorization";
        // network
        let network_mismatch = if upto {
            "invalid_upto_evm_network_mismatch"
        } else {
            "network_mismatch"
        };
        assert_eq!(
            reason(&good, &set(&req, "/network", json!("eip155:8453"))),
            network_mismatch
        );
        assert_eq!(
            reason(&set(&good, "/accepted/network", json!("eip155:8453")), &req),
            network_mismatch
        );
        let config = if upto {
            "invalid_upto_evm_failed_to_get_network_config"
        } else {
            "invalid_exact_evm_failed_to_get_network_config"
        };
        let legacy = set(&good, "/accepted/network", json!("base-sepolia"));
        assert_eq!(
            reason(&legacy, &set(&req, "/network", json!("base-sepolia"))),
            config
        );
        // the requirements' shape
        for (ptr, v) in [
            ("/asset", json!("0x12")),
            ("/maxTimeoutSeconds", json!("soon")),
        ] {
            assert_eq!(
                reason(&good, &set(&req, ptr, v)),
                "invalid_payment_requirements",
                "{kind} {ptr}"
            );
        }
        // spender
        for spender in [
            json!(if upto {
                "0x402085c248EeA27D92E8b30b2C58ed07f9E20001"
            } else {
                "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"
            }),
            json!(PERMIT2_ADDRESS.to_checksum()),
            json!(FACILITATOR),
            json!("0x12"),
            Value::Null,
        ] {
            let p = set(&good, &format!("{auth}/spender"), spender.clone());
            assert_eq!(
                reason(&p, &req),
                "invalid_permit2_spender",
                "{kind} {spender}"
            );
        }
        // recipient
        assert_eq!(
            reason(&good, &set(&req, "/payTo", json!(OTHER))),
            "invalid_permit2_recipient_mismatch"
        );
        let p = resigned(kind, 84532, |a| a["witness"]["to"] = json!(OTHER));
        assert_eq!(reason(&p, &req), "invalid_permit2_recipient_mismatch");
        assert_eq!(
            reason(&good, &set(&req, "/payTo", json!("nope"))),
            "invalid_permit2_recipient_mismatch"
        );
        // facilitator (upto)
        if upto {
            let p = resigned(kind, 84532, |a| a["witness"]["facilitator"] = json!(OTHER));
            assert_eq!(reason(&p, &req), "upto_facilitator_mismatch");
            let r = set(&req, "/extra/facilitatorAddress", json!(OTHER));
            assert_eq!(reason(&good, &r), "upto_facilitator_mismatch");
            let mut r = req.clone();
            r["extra"]
                .as_object_mut()
                .unwrap()
                .remove("facilitatorAddress");
            assert_eq!(reason(&good, &r), "invalid_payment_requirements");
        }
        // numbers
        for (ptr, v) in [
            ("deadline", json!("soon")),
            ("witness/validAfter", Value::Null),
            ("permitted/amount", json!("1e4")),
            ("permitted/amount", json!({})),
        ] {
            let p = set(&good, &format!("{auth}/{ptr}"), v);
            assert_eq!(
                reason(&p, &req),
                "invalid_permit2_payload_format",
                "{kind} {ptr}"
            );
        }
        // the window: deadline >= now + 6, validAfter <= now
        // a negative deadline is expired (int() reads it) before the typed data refuses it
        let p = set(&good, &format!("{auth}/deadline"), json!("-1"));
        assert_eq!(reason(&p, &req), "permit2_deadline_expired");
        for (deadline, valid) in [(NOW + 5, false), (NOW + 6, true), (NOW, false)] {
            let p = resigned(kind, 84532, |a| a["deadline"] = json!(deadline.to_string()));
            let v = verify(&p, &req);
            assert_eq!(v.is_valid, valid, "{kind} deadline {deadline}: {v:?}");
            if !valid {
                assert_eq!(reason(&p, &req), "permit2_deadline_expired");
            }
        }
        for (after, valid) in [(NOW, true), (NOW + 1, false)] {
            let p = resigned(kind, 84532, |a| {
                a["witness"]["validAfter"] = json!(after.to_string())
            });
            assert_eq!(
                verify(&p, &req).is_valid,
                valid,
                "{kind} validAfter {after}"
            );
            if !valid {
                assert_eq!(reason(&p, &req), "permit2_not_yet_valid");
            }
        }
        // the margin is the caller's
        let p = resigned(kind, 84532, |a| {
            a["deadline"] = json!((NOW + 2).to_string())
        });
        let v = verify_payment_with_margin(&p, &req, NOW, 1, None, |_| false).unwrap();
        assert!(v.is_valid, "{v:?}");
        // amount: exactly the requirements' (upto: the ceiling they carry at verify)
        for amount in ["9999", "10001"] {
            let p = resigned(kind, 84532, |a| a["permitted"]["amount"] = json!(amount));
            assert_eq!(
                reason(&p, &req),
                "permit2_amount_mismatch",
                "{kind} {amount}"
            );
        }
        assert_eq!(
            reason(&good, &set(&req, "/amount", json!("10001"))),
            "permit2_amount_mismatch"
        );
        // token
        let p = resigned(kind, 84532, |a| a["permitted"]["token"] = json!(USDC_BASE));
        assert_eq!(reason(&p, &req), "permit2_token_mismatch");
        // signature
        let sig = hex::decode(&good["payload"]["signature"].as_str().unwrap()[2..]).unwrap();
        let with_sig = |s: Value| set(&good, "/payload/signature", s);
        let hexed = |b: &[u8]| json!(format!("0x{}", hex::encode(b)));
        let mut v29 = sig.clone();
        v29[64] = 29;
        for (what, p) in [
            ("another chain", resigned(kind, 1, |_| {})),
            (
                "nonce changed",
                set(&good, &format!("{auth}/nonce"), json!("1")),
            ),
            (
                "hex nonce",
                set(&good, &format!("{auth}/nonce"), json!("0x01")),
            ),
            ("missing from", {
                let mut q = good.clone();
                q.pointer_mut(auth)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("from");
                q
            }),
            (
                "from without 0x",
                set(&good, &format!("{auth}/from"), json!(&PAYER[2..])),
            ),
            (
                "another from",
                set(&good, &format!("{auth}/from"), json!(OTHER)),
            ),
            ("empty", with_sig(json!(""))),
            ("missing", {
                let mut q = good.clone();
                q["payload"].as_object_mut().unwrap().remove("signature");
                q
            }),
            ("not hex", with_sig(json!("0xzz"))),
            (
                "0X prefix",
                with_sig(json!(format!("0X{}", hex::encode(&sig)))),
            ),
            ("64 bytes", with_sig(hexed(&sig[..64]))),
            (
                "66 bytes",
                with_sig(hexed(&[sig.as_slice(), &[0]].concat())),
            ),
            ("v 29", with_sig(hexed(&v29))),
        ] {
            let v = verify(&p, &req);
            assert_eq!(
                v.invalid_reason_str(),
                Some("invalid_permit2_signature"),
                "{kind} {what}: {v:?}"
            );
        }
        // a forged from: payer is who really signed
        let v = verify(&set(&good, &format!("{auth}/from"), json!(OTHER)), &req);
        assert_eq!(v.payer.as_deref(), Some(PAYER));
        // accepted forms the SDK reads the same way
        let mut high = sig.clone();
        high[32..64].copy_from_slice(&n_minus(&sig[32..64]));
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        for (what, p) in [
            (
                "high s (Permit2's ecrecover accepts it)",
                with_sig(hexed(&high)),
            ),
            ("no 0x", with_sig(json!(hex::encode(&sig)))),
            (
                "upper-case hex",
                with_sig(json!(format!("0x{}", hex::encode_upper(&sig)))),
            ),
            (
                "lower-case from",
                set(&good, &format!("{auth}/from"), json!(PAYER.to_lowercase())),
            ),
            (
                "amount with _",
                set(&good, &format!("{auth}/permitted/amount"), json!("10_000")),
            ),
            (
                "nonce as a JSON number? no: a string with spaces",
                set(&good, &format!("{auth}/nonce"), json!(format!(" {NONCE} "))),
            ),
            ("spender without 0x", {
                let s = good
                    .pointer(&format!("{auth}/spender"))
                    .unwrap()
                    .as_str()
                    .unwrap()[2..]
                    .to_owned();
                set(&good, &format!("{auth}/spender"), json!(s))
            }),
            (
                "requirements without assetTransferMethod or name",
                good.clone(),
            ),
        ] {
            let r = if what.starts_with("requirements") {
                let mut r = req.clone();
                for k in ["assetTransferMethod", "name", "version"] {
                    r["extra"].as_object_mut().unwrap().remove(k);
                }
                r
            } else {
                req.clone()
            };
            let v = verify(&p, &r);
            assert!(v.is_valid, "{kind} {what}: {v:?}");
            assert_eq!(v.payer.as_deref(), Some(PAYER));
        }
        // v 0/1: the SDK's exact verify accepts it; upto's simulation does not
        // (Permit2's ecrecover needs 27/28).
        let mut v01 = sig.clone();
        v01[64] -= 27;
        let v = verify(&with_sig(hexed(&v01)), &req);
        if upto {
            assert_eq!(
                v.invalid_reason_str(),
                Some("invalid_upto_evm_transaction_failed")
            );
            assert_eq!(v.payer.as_deref(), Some(PAYER));
        } else {
            assert!(v.is_valid, "{v:?}");
        }
        // amount 0 and the zero recipient: exact accepts (as the SDK), upto refuses
        for (field, value) in [
            ("/amount", json!("0")),
            ("/payTo", json!(Address::ZERO.to_checksum())),
        ] {
            let r = set(&req, field, value.clone());
            let p = resigned(kind, 84532, |a| {
                if field == "/amount" {
                    a["permitted"]["amount"] = value.clone();
                } else {
                    a["witness"]["to"] = value.clone();
                }
            });
            let mut p = p;
            p["accepted"] = r.clone();
            let v = verify(&p, &r);
            if upto {
                assert_eq!(
                    v.invalid_reason_str(),
                    Some("invalid_upto_evm_transaction_failed"),
                    "{field}"
                );
            } else {
                assert!(v.is_valid, "{field}: {v:?}");
            }
        }
    }
}

#[test]
fn nonce_callback_in_permit2s_space() {
    for kind in both() {
        let mut seen = None;
        let v = verify_payment(&vector(kind), &requirements(kind), NOW, None, |k| {
            seen = Some(k.clone());
            true
        })
        .unwrap();
        let want = if kind == "upto" {
            "invalid_upto_evm_transaction_failed"
        } else {
            "permit2_invalid_nonce"
        };
        assert_eq!(v.invalid_reason_str(), Some(want));
        assert!(v.invalid_message.unwrap().contains("InvalidNonce"));
        let key = seen.unwrap();
        assert_eq!(key.transfer_method, TransferMethod::Permit2);
        assert_eq!(key.scope, PERMIT2_ADDRESS);
        assert_eq!(key.payer.to_checksum(), PAYER);
        assert_eq!(key.chain_id, 84532);
        assert_eq!(
            key,
            authorized_payment(&vector(kind), &requirements(kind))
                .unwrap()
                .nonce_key()
        );
        // not consulted when an earlier check fails
        let mut called = false;
        let v = verify_payment(&vector(kind), &requirements(kind), DEADLINE, None, |_| {
            called = true;
            true
        })
        .unwrap();
        assert!(!v.is_valid && !called);
    }
}

#[test]
fn routing_and_schemes() {
    // exact routes on the payload's shape, not on extra.assetTransferMethod;
    // it reads neither the requirements' scheme nor the EIP-3009 domain.
    let mut r = requirements("exact");
    r["scheme"] = json!("upto");
    assert!(verify(&vector("exact"), &r).is_valid);
    // upto requires upto requirements
    let mut r = requirements("upto");
    r["scheme"] = json!("exact");
    assert_eq!(reason(&vector("upto"), &r), "invalid_upto_evm_scheme");
    // an exact Permit2 payload sent as upto, an upto payload sent as exact
    let mut p = vector("exact");
    p["accepted"] = requirements("upto");
    assert_eq!(
        reason(&p, &requirements("upto")),
        "unsupported_payload_type"
    );
    assert_eq!(verify(&p, &requirements("upto")).payer, None);
    let mut p = vector("upto");
    p["accepted"] = requirements("exact");
    assert_eq!(
        reason(&p, &requirements("exact")),
        "invalid_permit2_spender"
    );
    // malformed containers
    let mut p = vector("exact");
    p["payload"]["permit2Authorization"] = json!("x");
    assert_eq!(reason(&p, &requirements("exact")), "invalid_payload");
    let mut p = vector("exact");
    p["payload"]["permit2Authorization"]["witness"] = Value::Null;
    assert_eq!(reason(&p, &requirements("exact")), "invalid_payload");
    // a missing witness reads as empty (the SDK's default): the recipient fails
    let mut p = vector("exact");
    p["payload"]["permit2Authorization"]
        .as_object_mut()
        .unwrap()
        .remove("witness");
    assert_eq!(
        reason(&p, &requirements("exact")),
        "invalid_permit2_recipient_mismatch"
    );
    // v1 knows no Permit2: the payload is read as EIP-3009
    let p = json!({"x402Version": 1, "scheme": "exact", "network": "base-sepolia",
                   "payload": vector("exact")["payload"].clone()});
    let r = json!({"scheme": "exact", "network": "base-sepolia", "maxAmountRequired": "10000",
                   "asset": USDC, "payTo": PAY_TO, "extra": {"name": "USDC", "version": "2"}});
    assert_eq!(reason(&p, &r), "invalid_payload");
}

#[test]
fn recover_payer_of_permit2_payments() {
    for kind in both() {
        let p = vector(kind);
        // on another chain, another signer
        let mut r = requirements(kind);
        r["network"] = json!("eip155:8453");
        assert_ne!(recover_payer(&p, Some(&r)).unwrap(), PAYER);
        // high s recovers the same payer (Permit2 accepts both twins)
        let mut q = p.clone();
        let s = hex::decode(&q["payload"]["signature"].as_str().unwrap()[2..]).unwrap();
        let mut high = s.clone();
        high[32..64].copy_from_slice(&n_minus(&s[32..64]));
        high[64] = if s[64] == 27 { 28 } else { 27 };
        q["payload"]["signature"] = json!(format!("0x{}", hex::encode(&high)));
        assert_eq!(recover_payer(&q, None).unwrap(), PAYER);
        // bad input is an error
        q["payload"]["signature"] = json!("0x12");
        assert_eq!(recover_payer(&q, None).unwrap_err().sqlstate(), "22023");
        let mut q = p.clone();
        q["payload"]["permit2Authorization"]["nonce"] = json!("0x01");
        assert!(recover_payer(&q, None).is_err());
    }
    // the scheme decides the witness: an upto permit read as exact is another message
    let mut p = vector("upto");
    p["accepted"]["scheme"] = json!("exact");
    assert_ne!(recover_payer(&p, None).unwrap(), PAYER);
}

/// The SDK's verdicts on every case of tools/x402_permit2.py (generated by
/// core/tests/data/x402_permit2_gen_cases.py with the SDK itself): the same
/// verdict and reason wherever the fault is not in the chain's state; where
/// it is (allowance, balance, token code, a nonce used on chain, the
/// facilitator's signer set), verification without the chain accepts.
#[test]
fn agrees_with_the_sdks_verdicts() {
    let data: Value = serde_json::from_str(include_str!("data/x402_permit2_cases.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 120);
    let (mut same, mut chain_only) = (0, 0);
    for c in cases {
        let name = format!("{} / {}", c["kind"], c["name"]);
        let at = c["now"].as_i64().unwrap();
        let ours = verify_payment(&c["payload"], &c["requirements"], at, None, |_| false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let sdk = &c["sdk"];
        let in_chain = !c["chain"].as_object().unwrap().is_empty();
        if in_chain && sdk["isValid"] == false {
            assert!(ours.is_valid, "{name}: {ours:?}");
            chain_only += 1;
            continue;
        }
        assert_eq!(
            Value::Bool(ours.is_valid),
            sdk["isValid"],
            "{name}: {ours:?}"
        );
        assert_eq!(
            ours.invalid_reason_str(),
            sdk["invalidReason"].as_str(),
            "{name}: {ours:?}"
        );
        if ours.is_valid {
            assert_eq!(
                ours.payer.unwrap().to_lowercase(),
                sdk["payer"].as_str().unwrap().to_lowercase(),
                "{name}"
            );
        }
        same += 1;
    }
    assert_eq!((same, chain_only), (110, 10));
}
