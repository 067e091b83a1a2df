//! SQL shells for x402 (schema `x402`): header codecs, EIP-712, payer recovery
//! and verification. The logic is in `insforge_core::x402`; the ledger's
//! writes are src/ledger.rs, its table and reads sql/x402.sql.

use crate::errors::raise;
use insforge_core::x402::{ErrorKind, X402Error};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use serde_json::Value;

/// The SQLSTATE of an x402 core error: 22023 for malformed input or a bad
/// signature, 22003 for a number out of range, 0A000 for what is not implemented.
fn x402_sqlstate(kind: ErrorKind) -> PgSqlErrorCode {
    match kind {
        ErrorKind::Malformed | ErrorKind::InvalidSignature => {
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE
        }
        ErrorKind::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        ErrorKind::Unsupported => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
    }
}

/// Raises an x402 core error with its SQLSTATE; `suffix` follows its message
/// (the ledger's writers add "; nothing was written").
pub(crate) fn raise_x402(err: X402Error, suffix: &str) -> ! {
    raise(
        x402_sqlstate(err.kind),
        format!("{}{suffix}", err.message),
        None,
    )
}

/// `v`, when it is a JSON object; else 22023 "`what` must be a JSON object",
/// followed by `suffix`.
pub(crate) fn json_object<'a>(v: &'a Value, what: &str, suffix: &str) -> &'a Value {
    if !v.is_object() {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("{what} must be a JSON object{suffix}"),
            None,
        );
    }
    v
}

#[pg_schema]
mod x402 {
    use crate::dbtext::DbText;
    use crate::errors::raise;
    use crate::jsonb::arg::{Jsonb, JsonbDatum};
    use insforge_core::x402::{self as xc, X402Error, U256};
    use pgrx::datum::{AnyNumeric, Interval, TimestampWithTimeZone};
    use pgrx::prelude::*;
    use pgrx::PgSqlErrorCode;
    use serde_json::{json, Value};

    /// Raises an x402 core error with its SQLSTATE.
    fn fail(err: X402Error) -> ! {
        super::raise_x402(err, "")
    }

    fn ok<T>(r: xc::Result<T>) -> T {
        r.unwrap_or_else(|e| fail(e))
    }

    fn object_arg<'a>(v: &'a Value, what: &str) -> &'a Value {
        super::json_object(v, what, "")
    }

    /// Decodes a PAYMENT-SIGNATURE, X-PAYMENT, PAYMENT-REQUIRED or
    /// PAYMENT-RESPONSE header value: standard or URL-safe base64, padded or
    /// not, of a JSON object. Anything else raises 22023.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn decode_header(value: DbText) -> JsonbDatum {
        JsonbDatum::from_value(&ok(xc::decode_header(&value)))
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION x402.decode_header(text) IS
'Decodes a PAYMENT-SIGNATURE, X-PAYMENT, PAYMENT-REQUIRED or PAYMENT-RESPONSE header value: standard or URL-safe base64, padded or not, of a JSON object. Anything else raises 22023.';
"#,
        name = "decode_header_comment",
        requires = [decode_header]
    );

    /// Encodes a JSON object as a header value: standard padded base64 of
    /// compact JSON (round-trips with decode_header).
    #[pg_extern(immutable, parallel_safe, strict)]
    fn encode_header(value: Jsonb) -> String {
        ok(xc::encode_header(&value.0))
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION x402.encode_header(jsonb) IS
'Encodes a JSON object as a header value: standard padded base64 of compact JSON (round-trips with decode_header).';
"#,
        name = "encode_header_comment",
        requires = [encode_header]
    );

    /// The EIP-712 domain separator of EIP712Domain(string name,string
    /// version,uint256 chainId,address verifyingContract): 32 bytes.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn domain_separator(
        name: DbText,
        version: DbText,
        chain_id: AnyNumeric,
        verifying_contract: DbText,
    ) -> Vec<u8> {
        let text = chain_id.to_string();
        let digits = match text.split_once('.') {
            Some((int, frac)) if frac.bytes().all(|b| b == b'0') => int.to_string(),
            _ => text,
        };
        let chain = U256::parse_decimal(&digits).unwrap_or_else(|e| {
            fail(X402Error {
                kind: e.kind,
                message: format!("chain_id {digits}: {}", e.message),
            })
        });
        let contract = ok(xc::Address::parse(&verifying_contract));
        xc::domain_separator(&name, &version, chain, contract.to_bytes()).to_vec()
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION x402.domain_separator(text, text, numeric, text) IS
'The EIP-712 domain separator of EIP712Domain(string name,string version,uint256 chainId,address verifyingContract): 32 bytes.';
"#,
        name = "domain_separator_comment",
        requires = [domain_separator]
    );

    /// The EIP-55 checksummed form of an address; 22023 for a malformed
    /// address or a mixed-case one whose checksum is wrong.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn checksum_address(address: DbText) -> String {
        ok(xc::checksum_address(&address))
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION x402.checksum_address(text) IS
'The EIP-55 checksummed form of an address; 22023 for a malformed address or a mixed-case one whose checksum is wrong.';
"#,
        name = "checksum_address_comment",
        requires = [checksum_address]
    );

    /// The checksummed address that signed the payment (NULL requirements:
    /// the v2 payload's `accepted`): EIP-3009 TransferWithAuthorization
    /// under the requirements' EIP-712 domain (high-s signatures refused,
    /// 22023, as the token refuses them), or Permit2's
    /// PermitWitnessTransferFrom with the x402 witness (exact, or upto when
    /// accepted.scheme is upto) on the requirements' chain (high s accepted,
    /// as Permit2's ecrecover accepts it). v 27/28 or 0/1.
    #[pg_extern(immutable, parallel_safe)]
    fn recover_payer(
        payload: Option<Jsonb>,
        requirements: default!(Option<Jsonb>, "NULL"),
    ) -> Option<String> {
        let payload = payload?;
        Some(ok(xc::recover_payer(
            object_arg(&payload.0, "payload"),
            requirements.as_ref().map(|r| &r.0),
        )))
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION x402.recover_payer(jsonb, jsonb) IS
'The checksummed address that signed the payment (NULL requirements: the v2 payload''s accepted): EIP-3009 TransferWithAuthorization under the requirements'' EIP-712 domain (high-s signatures refused, 22023, as the token refuses them), or Permit2''s PermitWitnessTransferFrom with the x402 witness (exact; upto when accepted.scheme is upto) on the requirements'' chain (high s accepted, as Permit2''s ecrecover accepts it). v 27/28 or 0/1.';
"#,
        name = "recover_payer_comment",
        requires = [recover_payer]
    );

    /// Checks a payment as the official x402 SDK's facilitator /verify does,
    /// before any network call: {"isValid", "invalidReason",
    /// "invalidMessage", "payer"}, with the SDK's check order and reason
    /// codes, for `exact` through EIP-3009 or Permit2 and for `upto`.
    /// `requirements` are the server's own (one entry of its accepts): NULL
    /// raises 22023 (the payload's `accepted` says what the client wants).
    /// An x402Version or scheme the extension does not implement raises
    /// 0A000. `valid_before_margin`: how far ahead of `at` validBefore
    /// (Permit2: deadline) must be (the SDK's 6 seconds by default; 1 second
    /// is the token contract's own rule). Besides the SDK's codes,
    /// `invalid_exact_evm_payload_eip712_domain_mismatch` (a registered asset
    /// in x402.assets has another EIP-712 name/version: the token contract
    /// would refuse the signature) and
    /// `invalid_exact_evm_nonce_already_used` (the ledger already
    /// holds this payer's nonce for this asset).
    #[pg_extern(stable, parallel_safe, name = "verify_payment")]
    fn verify_payment_with_margin(
        payload: Option<Jsonb>,
        requirements: default!(Option<Jsonb>, "NULL"),
        at: default!(Option<TimestampWithTimeZone>, "now()"),
        valid_before_margin: default!(Option<Interval>, "'6 seconds'"),
    ) -> Option<JsonbDatum> {
        let (payload, at, margin) = (payload?, at?, valid_before_margin?);
        let margin_micros = margin.as_micros();
        if margin_micros < 0 {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!(
                    "valid_before_margin must be zero or positive, got {} s",
                    margin_micros as f64 / 1e6
                ),
                None,
            );
        }
        // Whole seconds, rounded up: validBefore is whole seconds.
        let margin_secs = u64::try_from((margin_micros + 999_999) / 1_000_000).unwrap_or(u64::MAX);
        Some(verify(&payload, requirements.as_ref(), at, margin_secs))
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION x402.verify_payment(jsonb, jsonb, timestamptz, interval) IS
'Checks a payment against the server''s own requirements as the official x402 SDK''s facilitator /verify does, before any network call: {"isValid", "invalidReason", "invalidMessage", "payer"}, with the SDK''s check order and reason strings, for exact (EIP-3009 or Permit2) and upto (Permit2); validBefore (Permit2: deadline) at least valid_before_margin (6 s) ahead. NULL requirements raise 22023; an x402Version or scheme not implemented, 0A000. Additions the SDK sees only on chain: invalid_exact_evm_payload_eip712_domain_mismatch (x402.assets registers another EIP-712 domain) and invalid_exact_evm_nonce_already_used (the ledger holds the nonce).';
"#,
        name = "verify_payment_comment",
        requires = [verify_payment_with_margin]
    );

    /// The entry point of version 0.1.0's three-argument
    /// x402.verify_payment(payload, requirements, at), with the default
    /// margin. No SQL of its own: it keeps a database whose extension is not
    /// yet updated (ALTER EXTENSION ... UPDATE) working once this library
    /// replaces the old one.
    #[pg_extern(stable, parallel_safe, sql = false)]
    fn verify_payment(
        payload: Option<Jsonb>,
        requirements: Option<Jsonb>,
        at: Option<TimestampWithTimeZone>,
    ) -> Option<JsonbDatum> {
        Some(verify(
            &payload?,
            requirements.as_ref(),
            at?,
            xc::DEFAULT_VALID_BEFORE_MARGIN,
        ))
    }

    fn verify(
        payload: &Jsonb,
        requirements: Option<&Jsonb>,
        at: TimestampWithTimeZone,
        valid_before_margin: u64,
    ) -> JsonbDatum {
        let Some(requirements) = requirements else {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "verify_payment needs the server's payment requirements (the accepts entry it \
                 issued): requirements is NULL",
                Some(
                    "Pass the requirements your server sent in PAYMENT-REQUIRED; the payload's own \
                     accepted says whatever the client wants (any amount, any payTo).",
                ),
            )
        };
        let at_unix = at.into_inner().div_euclid(1_000_000) + 946_684_800;
        let req = &requirements.0;
        // x402.assets holds EIP-3009 tokens' EIP-712 domains; Permit2 signs in
        // its own domain, so only EIP-3009 payments look there.
        let eip3009 = xc::payment_kind(&payload.0)
            .is_ok_and(|k| k.transfer_method == xc::TransferMethod::Eip3009);
        let known = match eip3009 {
            true => xc::effective_requirements(&payload.0, Some(req))
                .ok()
                .and_then(|r| registered_domain(&r)),
            false => None,
        };
        let result = ok(xc::verify_payment_with_margin(
            &payload.0,
            req,
            at_unix,
            valid_before_margin,
            known.as_ref(),
            // The ledger keys a nonce by its scope: the token for EIP-3009,
            // the Permit2 contract for Permit2 (one nonce space per owner).
            |key| {
                nonce_recorded(
                    &xc::caip2(key.chain_id),
                    &key.scope.to_checksum(),
                    &key.payer.to_checksum(),
                    &key.nonce_hex(),
                )
            },
        ));
        JsonbDatum::from_value(&json!({
            "isValid": result.is_valid,
            "invalidReason": result.invalid_reason_str(),
            "invalidMessage": result.invalid_message,
            "payer": result.payer,
        }))
    }

    /// The EIP-712 domain registered in x402.assets for these requirements.
    ///
    /// A kept, read-only statement (src/kept.rs): this function is PARALLEL SAFE.
    fn registered_domain(r: &xc::PaymentRequirements) -> Option<xc::AssetInfo> {
        let (network, asset) = (xc::caip2(r.chain_id), r.asset.to_lower_hex());
        let row = crate::kept::with(
            &ASSET_QUERY,
            "SELECT eip712_name, eip712_version FROM x402.assets WHERE network = $1 AND asset = $2",
            &[pg_sys::TEXTOID, pg_sys::TEXTOID],
            false,
            |c, stmt| {
                c.select(
                    stmt,
                    Some(1),
                    &[network.as_str().into(), asset.as_str().into()],
                )?
                .first()
                .get_two::<String, String>()
            },
        )
        .ok()?;
        match row {
            (Some(name), Some(version)) => Some(xc::AssetInfo::new(name, version)),
            _ => None,
        }
    }

    /// Whether the ledger holds this nonce (x402._nonce_recorded, sql/x402.sql),
    /// read with the caller's own privileges. The function is called directly
    /// (fmgr, no EXECUTE check: it is internal, EXECUTE revoked from PUBLIC);
    /// plpgsql keeps its plan for the session. NULL (the caller may not read
    /// the ledger) counts as not recorded: the chain has the last word anyway.
    fn nonce_recorded(network: &str, asset: &str, payer: &str, nonce: &str) -> bool {
        let args =
            [network, asset, payer, nonce].map(|a| Some(crate::dbtext::text_datum(a.as_bytes())));
        let oid = crate::fmgr::function_oid(c"x402._nonce_recorded(text,text,text,text)");
        // SAFETY: four text datums for the function's four text parameters.
        unsafe { crate::fmgr::call(oid, &args) }.is_some_and(|d| d.value() != 0)
    }

    /// Internal: what a payment authorizes (insforge_core's AuthorizedPayment):
    /// x402_version, scheme, transfer_method, network, chain_id, asset,
    /// pay_to, payer, amount (exact) or ceiling (upto), valid_after,
    /// valid_before, nonce, nonce_scope, spender, facilitator, payment_id,
    /// digest. 0A000 for an x402Version or scheme not implemented; 22023 or
    /// 22003 for unreadable input. Checks nothing else (verify_payment does).
    #[pg_extern(immutable, parallel_safe, strict)]
    fn _authorization(payload: Jsonb, requirements: Jsonb) -> JsonbDatum {
        JsonbDatum::from_value(&ok(xc::authorized_payment(&payload.0, &requirements.0)).to_json())
    }
    extension_sql!(
        r#"
REVOKE ALL ON FUNCTION x402._authorization(jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._authorization(jsonb, jsonb) IS
'Internal: what a payment authorizes, derived once (insforge_core AuthorizedPayment): x402_version, scheme, transfer_method (eip3009 or permit2), network, chain_id, asset, pay_to, payer, amount (exact) or ceiling (upto), valid_after, valid_before (Permit2: deadline), nonce, nonce_scope (the contract holding the nonce: the token, or Permit2), spender, facilitator, payment_id, digest. 0A000 for an x402Version or scheme not implemented, 22023/22003 for unreadable input; validates nothing else.';
"#,
        name = "authorization_comment",
        requires = [_authorization]
    );

    crate::kept_slots! {
        static ASSET_QUERY;
    }
}
