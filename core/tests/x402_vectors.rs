//! Independent check of the x402 EIP-712 code against vectors produced by
//! eth-account (core/tests/data/x402_gen_vectors.py → x402_vectors.json).

use insforge_core::x402::{
    domain_separator, effective_requirements, eip712_digest, parse_signature, recover_address,
    recover_signer, verify_payment, Address, Authorization, ErrorKind, U256,
};
use serde_json::{json, Value};

mod common;
use common::n_minus;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x402_vectors.json");
    let text = std::fs::read_to_string(path).expect("x402_vectors.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("x402_vectors.json is JSON");
    doc["vectors"].as_array().expect("vectors array").clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string"))
}

#[test]
fn eth_account_vectors_match() {
    let vectors = vectors();
    assert!(vectors.len() >= 20, "only {} vectors", vectors.len());
    for (i, v) in vectors.iter().enumerate() {
        let d = &v["domain"];
        let chain_id = U256::parse_decimal(s(d, "chainId")).unwrap();
        let contract = Address::parse(s(d, "verifyingContract")).unwrap();
        let ds = domain_separator(s(d, "name"), s(d, "version"), chain_id, contract.to_bytes());
        assert_eq!(
            format!("0x{}", hex::encode(ds)),
            s(v, "domainSeparator"),
            "vector {i}"
        );

        let auth = Authorization::from_json(&v["message"], "message").unwrap();
        let sh = auth.struct_hash();
        assert_eq!(
            format!("0x{}", hex::encode(sh)),
            s(v, "structHash"),
            "vector {i}"
        );
        let digest = eip712_digest(&ds, &sh);
        assert_eq!(
            format!("0x{}", hex::encode(digest)),
            s(v, "digest"),
            "vector {i}"
        );

        // Normalization round-trips the generator's own text forms.
        assert_eq!(auth.to_json(), v["message"], "vector {i}");

        let signer = s(v, "signer");
        assert_eq!(
            recover_address(&digest, s(v, "signature")).unwrap(),
            signer,
            "vector {i}"
        );

        // v = 0/1 gives the same signer as v = 27/28.
        let sig = parse_signature(s(v, "signature")).unwrap();
        let mut v01 = sig;
        v01[64] -= 27;
        assert_eq!(recover_signer(&digest, &v01).unwrap().to_string(), signer);

        // The high-s twin (n - s, v flipped) is rejected.
        let mut high = sig;
        high[32..64].copy_from_slice(&n_minus(&sig[32..64]));
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        let e = recover_signer(&digest, &high).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSignature);

        // Another domain recovers to someone else.
        let other = domain_separator(
            &format!("{} ", s(d, "name")),
            s(d, "version"),
            chain_id,
            contract.to_bytes(),
        );
        let wrong = recover_signer(&eip712_digest(&other, &sh), &sig);
        assert!(wrong.map(|a| a.to_string() != signer).unwrap_or(true));

        // End to end through verify_payment, where the vector fits x402
        // (chain id a non-zero u64, a non-empty validity window).
        let chain = chain_id.to_u64().filter(|&c| c > 0);
        let at = auth
            .valid_after
            .to_u64()
            .and_then(|a| i64::try_from(a).ok());
        if let (Some(chain), Some(at)) = (chain, at) {
            if auth.valid_after < auth.valid_before {
                let requirements = json!({
                    "scheme": "exact",
                    "network": format!("eip155:{chain}"),
                    "amount": v["message"]["value"],
                    "asset": contract.to_string(),
                    "payTo": v["message"]["to"],
                    "maxTimeoutSeconds": 60,
                    "extra": {"name": d["name"], "version": d["version"]},
                });
                let payload = json!({
                    "x402Version": 2,
                    "accepted": requirements,
                    "payload": {"signature": v["signature"], "authorization": v["message"]},
                });
                let r = verify_payment(&payload, &requirements, at, None, |_| false).unwrap();
                assert!(r.is_valid, "vector {i}: {:?}", r);
                assert_eq!(r.payer.as_deref(), Some(signer));
                let parsed = effective_requirements(&payload, None).unwrap();
                assert_eq!(parsed.domain().separator(), ds);
            }
        }
    }
}
