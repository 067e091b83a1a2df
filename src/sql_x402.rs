//! SQL shells for x402 (schema `x402`). The logic is in `insforge_core::x402`;
//! the ledger itself is plain SQL (`sql/x402_ledger.sql`).

use pgrx::prelude::*;

#[pg_schema]
mod x402 {
    use crate::errors::raise;
    use crate::sqljson::{Jsonb, JsonbDatum};
    use insforge_core::x402::{self as xc, ErrorKind, X402Error, U256};
    use pgrx::datum::{AnyNumeric, TimestampWithTimeZone};
    use pgrx::prelude::*;
    use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiResult};
    use pgrx::PgOid;
    use pgrx::PgSqlErrorCode;
    use serde_json::{json, Value};

    /// Raises an x402 core error with its SQLSTATE.
    fn fail(err: X402Error) -> ! {
        let code = match err.kind {
            ErrorKind::Malformed | ErrorKind::InvalidSignature => {
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE
            }
            ErrorKind::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            ErrorKind::Unsupported => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        };
        raise(code, err.message, None)
    }

    fn ok<T>(r: xc::Result<T>) -> T {
        r.unwrap_or_else(|e| fail(e))
    }

    fn object_arg<'a>(v: &'a Value, what: &str) -> &'a Value {
        if !v.is_object() {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("{what} must be a JSON object"),
                None,
            );
        }
        v
    }

    /// Decodes a PAYMENT-SIGNATURE, X-PAYMENT, PAYMENT-REQUIRED or
    /// PAYMENT-RESPONSE header value: standard or URL-safe base64, padded or
    /// not, of a JSON object. Anything else raises 22023.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn decode_header(value: &str) -> JsonbDatum {
        JsonbDatum::from_value(&ok(xc::decode_header(value)))
    }

    /// Encodes a JSON object as a header value: standard padded base64 of
    /// compact JSON (round-trips with decode_header).
    #[pg_extern(immutable, parallel_safe, strict)]
    fn encode_header(value: Jsonb) -> String {
        ok(xc::encode_header(&value.0))
    }

    /// The EIP-712 domain separator of EIP712Domain(string name,string
    /// version,uint256 chainId,address verifyingContract): 32 bytes.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn domain_separator(
        name: &str,
        version: &str,
        chain_id: AnyNumeric,
        verifying_contract: &str,
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
        let contract = ok(xc::Address::parse(verifying_contract));
        xc::domain_separator(name, version, chain, contract.to_bytes()).to_vec()
    }

    /// The EIP-55 checksummed form of an address; 22023 for a malformed
    /// address or a mixed-case one whose checksum is wrong.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn checksum_address(address: &str) -> String {
        ok(xc::checksum_address(address))
    }

    /// The checksummed address that signed the payload's EIP-3009
    /// TransferWithAuthorization under the requirements' EIP-712 domain (NULL
    /// requirements: the v2 payload's `accepted`). v 27/28 or 0/1; high-s
    /// signatures are refused (22023).
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

    /// Checks a payment like a facilitator's /verify, before any network
    /// call: {"isValid", "invalidReason", "invalidMessage", "payer"}. Besides
    /// the x402 reason codes, `invalid_exact_evm_payload_eip712_domain_mismatch`
    /// (a registered asset in x402.assets has another EIP-712 name/version:
    /// the facilitator's "Invalid Authority") and
    /// `invalid_exact_evm_payload_nonce_already_used` (the ledger already
    /// holds this payer's nonce for this asset).
    #[pg_extern(stable, parallel_safe)]
    fn verify_payment(
        payload: Option<Jsonb>,
        requirements: default!(Option<Jsonb>, "NULL"),
        at: default!(Option<TimestampWithTimeZone>, "now()"),
    ) -> Option<JsonbDatum> {
        let (payload, at) = (payload?, at?);
        let at_unix = at.into_inner().div_euclid(1_000_000) + 946_684_800;
        let req = requirements.as_ref().map(|r| &r.0);
        let known = xc::effective_requirements(&payload.0, req)
            .ok()
            .and_then(|r| registered_domain(&r));
        let result = xc::verify_payment(&payload.0, req, at_unix, known.as_ref(), |key| {
            nonce_recorded(
                &xc::caip2(key.chain_id),
                &key.asset.to_checksum(),
                &key.payer.to_checksum(),
                &key.nonce_hex(),
            )
        });
        Some(JsonbDatum::from_value(&json!({
            "isValid": result.is_valid,
            "invalidReason": result.invalid_reason_str(),
            "invalidMessage": result.invalid_message,
            "payer": result.payer,
        })))
    }

    /// The EIP-712 domain registered in x402.assets for these requirements.
    ///
    /// Reads go through `SpiClient::select`, never pgrx's `Spi::get_*`
    /// helpers: those run as updates and take a transaction id, which fails on
    /// a hot standby and in parallel workers (this function is PARALLEL SAFE).
    /// The statement is prepared once per backend and kept (the plan cache
    /// revalidates it after DDL), instead of being parsed and planned per call.
    fn registered_domain(r: &xc::PaymentRequirements) -> Option<xc::AssetInfo> {
        let (network, asset) = (xc::caip2(r.chain_id), r.asset.to_lower_hex());
        let row = with_kept(
            &ASSET_QUERY,
            "SELECT eip712_name, eip712_version FROM x402.assets WHERE network = $1 AND asset = $2",
            &[pg_sys::TEXTOID, pg_sys::TEXTOID],
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

    fn nonce_recorded(network: &str, asset: &str, payer: &str, nonce: &str) -> bool {
        with_kept(
            &NONCE_QUERY,
            "SELECT x402._nonce_recorded($1, $2, $3, $4)",
            &[pg_sys::TEXTOID; 4],
            |c, stmt| {
                c.select(
                    stmt,
                    Some(1),
                    &[network.into(), asset.into(), payer.into(), nonce.into()],
                )?
                .first()
                .get_one::<bool>()
            },
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    }

    thread_local! {
        static ASSET_QUERY: std::cell::RefCell<Option<OwnedPreparedStatement>> =
            const { std::cell::RefCell::new(None) };
        static NONCE_QUERY: std::cell::RefCell<Option<OwnedPreparedStatement>> =
            const { std::cell::RefCell::new(None) };
    }

    /// Runs `f` in an SPI connection with the statement `query`, prepared
    /// the first time and kept for the backend's life.
    fn with_kept<T>(
        slot: &'static std::thread::LocalKey<std::cell::RefCell<Option<OwnedPreparedStatement>>>,
        query: &str,
        types: &[pg_sys::Oid],
        f: impl FnOnce(&SpiClient<'_>, &OwnedPreparedStatement) -> SpiResult<T>,
    ) -> SpiResult<T> {
        Spi::connect(|c| {
            let oids: Vec<PgOid> = types.iter().map(|t| PgOid::from(*t)).collect();
            slot.with(|cell| match cell.try_borrow_mut() {
                Ok(mut kept) => {
                    if kept.is_none() {
                        *kept = Some(c.prepare(query, &oids)?.keep());
                    }
                    match kept.as_ref() {
                        Some(stmt) => f(c, stmt),
                        None => Err(pgrx::spi::SpiError::NoTupleTable),
                    }
                }
                // Re-entered (the query itself led back here): a one-off plan.
                Err(_) => f(c, &c.prepare(query, &oids)?.keep()),
            })
        })
    }

    /// Internal (record_settlement): the normalized facts of a settlement and
    /// every disagreement between payload, requirements and settlement.
    /// Raises 22023 only when there is nothing to record: no transaction hash
    /// or no payer.
    #[pg_extern(immutable, parallel_safe)]
    fn _settlement_facts(payload: Jsonb, requirements: Jsonb, settlement: Jsonb) -> JsonbDatum {
        let (payload, requirements, settlement) = (
            object_arg(&payload.0, "payload"),
            object_arg(&requirements.0, "requirements"),
            object_arg(&settlement.0, "settlement"),
        );
        JsonbDatum::from_value(
            &settlement_facts(payload, requirements, settlement).unwrap_or_else(|e| fail(e)),
        )
    }

    fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.get(k).and_then(Value::as_str)
    }

    pub(crate) fn settlement_facts(
        payload: &Value,
        requirements: &Value,
        settlement: &Value,
    ) -> xc::Result<Value> {
        let tx = str_field(settlement, "transaction")
            .or_else(|| str_field(settlement, "txHash"))
            .unwrap_or("");
        let tx_ok = tx.len() == 66
            && tx.starts_with("0x")
            && tx.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
        if !tx_ok {
            return Err(X402Error::malformed(format!(
                "settlement.transaction is not a transaction hash (0x + 64 hex digits): {}",
                json!(tx)
            )));
        }
        let mut disputes: Vec<String> = Vec::new();
        let auth = xc::extract_authorization(payload);
        let version = xc::payload_version(payload).unwrap_or(2);
        let req = xc::PaymentRequirements::parse(requirements, version);
        if let Err(e) = &auth {
            disputes.push(format!("payload: {}", e.message));
        }
        if let Err(e) = &req {
            disputes.push(format!("requirements: {}", e.message));
        }
        let settled_payer = str_field(settlement, "payer")
            .map(xc::checksum_address)
            .transpose();
        let settled_payer = settled_payer.unwrap_or_else(|e| {
            disputes.push(format!("settlement.payer: {}", e.message));
            None
        });
        let from = auth.as_ref().ok().map(|a| a.from.to_checksum());
        let payer = match (&settled_payer, &from) {
            (Some(p), Some(f)) if p != f => {
                disputes.push(format!("settlement.payer {p} differs from authorization.from {f}"));
                p.clone()
            }
            (Some(p), _) => p.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => {
                return Err(X402Error::malformed(
                    "no payer: neither settlement.payer nor payload.payload.authorization.from is readable",
                ))
            }
        };
        if settlement.get("success") == Some(&Value::Bool(false)) {
            disputes.push("settlement reports success = false".to_string());
        }
        if let (Ok(a), Ok(r)) = (&auth, &req) {
            match xc::recover_payer(payload, Some(requirements)) {
                Ok(signer) if Some(&signer) != from.as_ref() => disputes.push(format!(
                    "signature recovers to {signer}, not authorization.from {}",
                    a.from
                )),
                Ok(_) => {}
                Err(e) => disputes.push(format!("signature: {}", e.message)),
            }
            if a.to != r.pay_to {
                disputes.push(format!(
                    "authorization.to {} differs from payTo {}",
                    a.to, r.pay_to
                ));
            }
            let value_ok = if version == 1 {
                a.value >= r.amount
            } else {
                a.value == r.amount
            };
            if !value_ok {
                let want = if version == 1 { "at least" } else { "exactly" };
                disputes.push(format!(
                    "authorization.value {} is not {want} the required {}",
                    a.value.to_decimal_string(),
                    r.amount.to_decimal_string()
                ));
            }
        }
        let req_ok = req.as_ref().ok();
        if let (Some(net), Some(r)) = (str_field(settlement, "network"), req_ok) {
            match xc::parse_network(net) {
                Ok(id) if id == r.chain_id => {}
                _ => disputes.push(format!(
                    "settlement.network {net} differs from requirements.network {}",
                    r.network
                )),
            }
        }
        let amount = match (&auth, req_ok) {
            (Ok(a), _) => a.value.to_decimal_string(),
            (Err(_), Some(r)) => r.amount.to_decimal_string(),
            (Err(e), None) => return Err(e.clone()),
        };
        let chain = req_ok.map(|r| {
            xc::LEGACY_NETWORKS
                .iter()
                .find(|(_, id)| *id == r.chain_id)
                .map_or_else(|| xc::caip2(r.chain_id), |(name, _)| (*name).to_string())
        });
        Ok(json!({
            "tx_hash": tx.to_ascii_lowercase(),
            "payer_address": payer,
            "amount": amount,
            "network": req_ok.map(|r| xc::caip2(r.chain_id)),
            "chain": chain,
            "asset": req_ok.map(|r| r.asset.to_checksum()),
            "pay_to": req_ok.map(|r| r.pay_to.to_checksum()),
            "nonce": auth.as_ref().ok().map(|a| a.nonce_hex()),
            "status": if disputes.is_empty() { "settled" } else { "disputed" },
            "dispute_reason": (!disputes.is_empty()).then(|| disputes.join("; ")),
        }))
    }
}
