//! SQL shells for x402 (schema `x402`). The logic is in `insforge_core::x402`;
//! the ledger itself is SQL (`sql/x402.sql`): its table, views and the
//! uncommon cases of its two writes. The common case of each write
//! (`record_settlement`, `begin_settlement`) is one kept INSERT here.

use pgrx::prelude::*;

#[pg_schema]
mod x402 {
    use crate::dbtext::DbText;
    use crate::errors::raise;
    use crate::sqljson::{Jsonb, JsonbDatum};
    use insforge_core::x402::{self as xc, ErrorKind, X402Error, U256};
    use pgrx::datum::DatumWithOid;
    use pgrx::datum::{AnyNumeric, Interval, TimestampWithTimeZone};
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
    fn decode_header(value: DbText) -> JsonbDatum {
        JsonbDatum::from_value(&ok(xc::decode_header(&value)))
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

    /// The EIP-55 checksummed form of an address; 22023 for a malformed
    /// address or a mixed-case one whose checksum is wrong.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn checksum_address(address: DbText) -> String {
        ok(xc::checksum_address(&address))
    }

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
            |key| match key.transfer_method {
                xc::TransferMethod::Eip3009 => nonce_recorded(
                    &xc::caip2(key.chain_id),
                    &key.scope.to_checksum(),
                    &key.payer.to_checksum(),
                    &key.nonce_hex(),
                ),
                // The ledger has no Permit2 nonce space yet (its key is the
                // token's): Permit2's nonce is left to the chain.
                xc::TransferMethod::Permit2 => false,
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

    /// Whether the ledger holds this nonce (x402._nonce_recorded, sql/x402.sql),
    /// read with the caller's own privileges. The function is called directly
    /// (fmgr, no EXECUTE check: it is internal, EXECUTE revoked from PUBLIC);
    /// plpgsql keeps its plan for the session. NULL (the caller may not read
    /// the ledger) counts as not recorded: the chain has the last word anyway.
    fn nonce_recorded(network: &str, asset: &str, payer: &str, nonce: &str) -> bool {
        let args = [network, asset, payer, nonce]
            .map(|a| Some(crate::claims::pgjson::text_datum(a.as_bytes())));
        let oid = crate::fmgr::function_oid(c"x402._nonce_recorded(text,text,text,text)");
        // SAFETY: four text datums for the function's four text parameters.
        unsafe { crate::fmgr::call(oid, &args) }.is_some_and(|d| d.value() != 0)
    }

    thread_local! {
        static ASSET_QUERY: std::cell::RefCell<Option<OwnedPreparedStatement>> =
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
        with_kept_as(slot, query, types, false, f)
    }

    /// [`with_kept`] for a statement that writes (`mutating`: run with a
    /// fresh snapshot and command counter, never read-only).
    fn with_kept_as<T>(
        slot: &'static std::thread::LocalKey<std::cell::RefCell<Option<OwnedPreparedStatement>>>,
        query: &str,
        types: &[pg_sys::Oid],
        mutating: bool,
        f: impl FnOnce(&SpiClient<'_>, &OwnedPreparedStatement) -> SpiResult<T>,
    ) -> SpiResult<T> {
        Spi::connect(|c| {
            let oids: Vec<PgOid> = types.iter().map(|t| PgOid::from(*t)).collect();
            let prepare = |c: &SpiClient<'_>| match mutating {
                true => c.prepare_mut(query, &oids).map(|s| s.keep()),
                false => c.prepare(query, &oids).map(|s| s.keep()),
            };
            slot.with(|cell| match cell.try_borrow_mut() {
                Ok(mut kept) => {
                    if kept.is_none() {
                        *kept = Some(prepare(c)?);
                    }
                    match kept.as_ref() {
                        Some(stmt) => f(c, stmt),
                        None => Err(pgrx::spi::SpiError::NoTupleTable),
                    }
                }
                // Re-entered (the query itself led back here): a one-off plan.
                Err(_) => f(c, &prepare(c)?),
            })
        })
    }

    /// Internal (record_settlement): the normalized facts of a facilitator's
    /// answer and every disagreement between payload, requirements and answer.
    /// `status` is `settled`, `disputed` (with `dispute_reason`) or, for an
    /// answer with `success: false`, `failed` (with `failure_reason`, the
    /// facilitator's `errorReason`). Raises 22023 only when there is nothing to
    /// record: no payer, or a successful answer without a transaction hash.
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

    /// An `x402.payment` row, laid out by Postgres (SPI_returntuple or the
    /// row x402._record_settlement returned), handed back as is.
    pub struct PaymentRow(pg_sys::Datum);

    crate::returns_raw_datum!(PaymentRow, "x402.payment", pg_sys::RECORDOID);

    thread_local! {
        static RECORD_NEW: std::cell::RefCell<Option<OwnedPreparedStatement>> =
            const { std::cell::RefCell::new(None) };
        static RECORD_OTHER: std::cell::RefCell<Option<OwnedPreparedStatement>> =
            const { std::cell::RefCell::new(None) };
        static BEGIN_NEW: std::cell::RefCell<Option<OwnedPreparedStatement>> =
            const { std::cell::RefCell::new(None) };
        static BEGIN_OTHER: std::cell::RefCell<Option<OwnedPreparedStatement>> =
            const { std::cell::RefCell::new(None) };
    }

    /// The columns of x402.payment, in order, from the ledger row `p`. The
    /// casts give the row x402.payment's column types whatever a guide-made
    /// ledger declares.
    macro_rules! payment_columns {
        () => {
            "p.id::uuid, p.payer_address::text, p.endpoint::text, p.amount::numeric(78,0), p.tx_hash::text,
          p.chain::text, p.status::text, p.response_summary::text, p.created_at::timestamptz, p.network::text,
          p.asset::text, p.pay_to::text, p.nonce::text, p.dispute_reason::text, p.payload::jsonb,
          p.requirements::jsonb, p.settlement::jsonb, p.failure_reason::text, p.completed_at::timestamptz"
        };
    }

    /// The common case of record_settlement: a settlement that agrees, for a
    /// transaction and an authorization the ledger does not hold. It writes
    /// only when nothing else applies: the unique transaction hash (a retry
    /// or a twin), the one live row per authorization (a pending intent to
    /// complete, or the authorization settled under another transaction) and
    /// the NOT EXISTS (the authorization disputed under another transaction)
    /// each leave it to x402._record_settlement.
    const RECORD_NEW_SQL: &str = concat!(
        "INSERT INTO public.x402_payments AS p
    (payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network, asset, pay_to, nonce,
     payload, requirements, settlement, completed_at)
SELECT $1, $2, $3::numeric, $4, $5, 'settled', $6, $7, $8, $9, $10, $11, $12, $13, now()
 WHERE NOT EXISTS (SELECT FROM public.x402_payments d
                    WHERE d.nonce = $10 AND d.network = $7 AND lower(d.asset) = lower($8)
                      AND lower(d.payer_address) = lower($1) AND d.tx_hash IS NOT NULL AND d.status = 'disputed')
ON CONFLICT DO NOTHING
RETURNING ",
        payment_columns!()
    );

    const RECORD_NEW_TYPES: [pg_sys::Oid; 13] = {
        let (t, j) = (pg_sys::TEXTOID, pg_sys::JSONBOID);
        [t, t, t, t, t, t, t, t, t, t, j, j, j]
    };

    const RECORD_OTHER_SQL: &str = "SELECT x402._record_settlement($1, $2, $3, $4, $5, $6)";

    const RECORD_OTHER_TYPES: [pg_sys::Oid; 6] = {
        let (t, j) = (pg_sys::TEXTOID, pg_sys::JSONBOID);
        [j, j, j, t, t, j]
    };

    /// The common case of begin_settlement: an authorization the ledger has
    /// no live row for. The one live row per authorization (a retried begin,
    /// or the authorization already settled) leaves it to
    /// x402._begin_settlement.
    const BEGIN_NEW_SQL: &str = concat!(
        "INSERT INTO public.x402_payments AS p
    (payer_address, endpoint, amount, chain, status, network, asset, pay_to, nonce, payload, requirements)
VALUES ($1, $2, $3::numeric, $4, 'pending', $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING ",
        payment_columns!()
    );

    const BEGIN_NEW_TYPES: [pg_sys::Oid; 10] = {
        let (t, j) = (pg_sys::TEXTOID, pg_sys::JSONBOID);
        [t, t, t, t, t, t, t, t, j, j]
    };

    const BEGIN_OTHER_SQL: &str = "SELECT x402._begin_settlement($1, $2, $3, $4)";

    const BEGIN_OTHER_TYPES: [pg_sys::Oid; 4] = {
        let (t, j) = (pg_sys::TEXTOID, pg_sys::JSONBOID);
        [j, j, t, j]
    };

    /// Raises 42P01 when public.x402_payments does not exist (as `to_regclass`
    /// would say).
    fn require_ledger() {
        // SAFETY: plain catalog lookups by name.
        let exists = unsafe {
            let public = pg_sys::get_namespace_oid(c"public".as_ptr(), true);
            public != pg_sys::InvalidOid
                && pg_sys::get_relname_relid(c"x402_payments".as_ptr(), public)
                    != pg_sys::InvalidOid
        };
        if !exists {
            raise(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                "public.x402_payments does not exist",
                Some("Run SELECT x402.install_ledger(); once."),
            );
        }
    }

    /// The row SPI_tuptable holds, as this call's result type (x402.payment)
    /// in the caller's memory. None when the statement returned no row.
    ///
    /// # Safety
    /// Within the SPI connection that ran the statement; `fcinfo` is this call's.
    unsafe fn returned_payment(fcinfo: pg_sys::FunctionCallInfo) -> Option<pg_sys::Datum> {
        let table = pg_sys::SPI_tuptable;
        if table.is_null() || (*table).numvals < 1 {
            return None;
        }
        let mut typid = pg_sys::InvalidOid;
        let mut desc: pg_sys::TupleDesc = std::ptr::null_mut();
        let class = pg_sys::get_call_result_type(fcinfo, &mut typid, &mut desc);
        let (wanted, got) = (
            pgrx::PgTupleDesc::from_pg_unchecked(desc),
            pgrx::PgTupleDesc::from_pg_unchecked((*table).tupdesc),
        );
        let same = class == pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE
            && wanted.len() == got.len()
            && wanted
                .iter()
                .zip(got.iter())
                .all(|(w, g)| w.atttypid == g.atttypid);
        if !same {
            raise(
                PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                "the ledger's row does not have x402.payment's column types",
                Some("Run SELECT x402.install_ledger(); to bring public.x402_payments up to date."),
            );
        }
        Some(pg_sys::Datum::from(pg_sys::SPI_returntuple(
            *(*table).vals,
            desc,
        )))
    }

    type Kept = std::thread::LocalKey<std::cell::RefCell<Option<OwnedPreparedStatement>>>;

    fn spi_failed(e: pgrx::spi::SpiError) -> ! {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("x402 ledger statement: {e}"),
            None,
        )
    }

    /// Runs the kept INSERT ... RETURNING `sql` and hands back the row it
    /// wrote, or None when ON CONFLICT DO NOTHING left it to the other path.
    fn insert_kept(
        slot: &'static Kept,
        sql: &str,
        types: &[pg_sys::Oid],
        args: &[DatumWithOid<'_>],
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Option<PaymentRow> {
        with_kept_as(slot, sql, types, true, |c, stmt| {
            c.select(stmt, None, args)?;
            // SAFETY: in the connection that ran it; fcinfo is this call's.
            Ok(unsafe { returned_payment(fcinfo) })
        })
        .unwrap_or_else(|e| spi_failed(e))
        .map(PaymentRow)
    }

    /// Runs the kept `SELECT x402._...(...)` `sql` and hands back its row.
    fn call_kept(
        slot: &'static Kept,
        sql: &str,
        types: &[pg_sys::Oid],
        args: &[DatumWithOid<'_>],
    ) -> PaymentRow {
        let row = with_kept_as(slot, sql, types, true, |c, stmt| {
            let row = c
                .select(stmt, None, args)?
                .first()
                .get_datum_by_ordinal(1)?;
            // SAFETY: a varlena row datum, copied out before SPI_finish.
            Ok(row.map(|d| unsafe { pg_sys::SPI_datumTransfer(d, false, -1) }))
        })
        .unwrap_or_else(|e| spi_failed(e));
        match row {
            Some(row) => PaymentRow(row),
            None => raise(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("{sql} returned no row"),
                None,
            ),
        }
    }

    /// The first `n` arguments of this call as they came (jsonb written to
    /// the ledger unchanged).
    ///
    /// # Safety
    /// `fcinfo` is this call's, with at least `n` arguments, none of them NULL.
    unsafe fn given_args(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Vec<pg_sys::Datum> {
        (*fcinfo).args.as_slice(n).iter().map(|a| a.value).collect()
    }

    fn jsonb_arg<'a>(d: pg_sys::Datum) -> DatumWithOid<'a> {
        // SAFETY: `d` is a jsonb datum (an argument of this call, or one just built).
        unsafe { DatumWithOid::new(d, pg_sys::JSONBOID) }
    }

    /// x402.record_settlement(payload, requirements, settlement, endpoint,
    /// response_summary), declared in sql/x402.sql (SECURITY DEFINER,
    /// search_path pinned, operators only), which also says what it records.
    ///
    /// The facts come from [`settlement_facts`]. A settlement that agrees and
    /// is new for the ledger is one INSERT ([`RECORD_NEW_SQL`]); everything
    /// else (a retry, a twin, a pending intent to complete, a second
    /// transaction for an authorization, disputed and failed answers) is
    /// x402._record_settlement's, with the same facts. Both statements are
    /// prepared once per backend and kept.
    #[pg_extern(volatile, parallel_unsafe, sql = false)]
    fn record_settlement(
        payload: Option<Jsonb>,
        requirements: Option<Jsonb>,
        settlement: Option<Jsonb>,
        endpoint: Option<&str>,
        response_summary: Option<&str>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> PaymentRow {
        let (Some(payload), Some(requirements), Some(settlement)) =
            (payload, requirements, settlement)
        else {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "payload, requirements and settlement are all required",
                None,
            )
        };
        require_ledger();
        let facts = settlement_facts(
            object_arg(&payload.0, "payload"),
            object_arg(&requirements.0, "requirements"),
            object_arg(&settlement.0, "settlement"),
        )
        .unwrap_or_else(|e| fail(e));
        // SAFETY: this call's fcinfo; the three jsonb arguments are not NULL (checked above).
        let given = unsafe { given_args(fcinfo, 3) };
        let fact = |k: &str| str_field(&facts, k);
        if fact("status") == Some("settled") {
            let args = [
                fact("payer_address").into(),
                endpoint.into(),
                fact("amount").into(),
                fact("tx_hash").into(),
                fact("chain").into(),
                response_summary.into(),
                fact("network").into(),
                fact("asset").into(),
                fact("pay_to").into(),
                fact("nonce").into(),
                jsonb_arg(given[0]),
                jsonb_arg(given[1]),
                jsonb_arg(given[2]),
            ];
            if let Some(row) = insert_kept(
                &RECORD_NEW,
                RECORD_NEW_SQL,
                &RECORD_NEW_TYPES,
                &args,
                fcinfo,
            ) {
                return row;
            }
        }
        let args = [
            jsonb_arg(given[0]),
            jsonb_arg(given[1]),
            jsonb_arg(given[2]),
            endpoint.into(),
            response_summary.into(),
            jsonb_arg(JsonbDatum::from_value(&facts).0),
        ];
        call_kept(&RECORD_OTHER, RECORD_OTHER_SQL, &RECORD_OTHER_TYPES, &args)
    }

    /// x402.begin_settlement(payload, requirements, endpoint), declared in
    /// sql/x402.sql (SECURITY DEFINER, search_path pinned, operators only),
    /// which also says what it writes.
    ///
    /// The facts come from [`intent_facts`]. An authorization the ledger has
    /// no live row for is one INSERT ([`BEGIN_NEW_SQL`]); a retried begin, an
    /// authorization already settled and concurrent twins are
    /// x402._begin_settlement's, with the same facts.
    #[pg_extern(volatile, parallel_unsafe, sql = false)]
    fn begin_settlement(
        payload: Option<Jsonb>,
        requirements: Option<Jsonb>,
        endpoint: Option<&str>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> PaymentRow {
        let (Some(payload), Some(requirements)) = (payload, requirements) else {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "payload and requirements are both required",
                None,
            )
        };
        require_ledger();
        let facts = intent_facts(
            object_arg(&payload.0, "payload"),
            object_arg(&requirements.0, "requirements"),
        )
        .unwrap_or_else(|e| fail(e));
        // SAFETY: this call's fcinfo; the two jsonb arguments are not NULL (checked above).
        let given = unsafe { given_args(fcinfo, 2) };
        let fact = |k: &str| str_field(&facts, k);
        let args = [
            fact("payer_address").into(),
            endpoint.into(),
            fact("amount").into(),
            fact("chain").into(),
            fact("network").into(),
            fact("asset").into(),
            fact("pay_to").into(),
            fact("nonce").into(),
            jsonb_arg(given[0]),
            jsonb_arg(given[1]),
        ];
        if let Some(row) = insert_kept(&BEGIN_NEW, BEGIN_NEW_SQL, &BEGIN_NEW_TYPES, &args, fcinfo) {
            return row;
        }
        let args = [
            jsonb_arg(given[0]),
            jsonb_arg(given[1]),
            endpoint.into(),
            jsonb_arg(JsonbDatum::from_value(&facts).0),
        ];
        call_kept(&BEGIN_OTHER, BEGIN_OTHER_SQL, &BEGIN_OTHER_TYPES, &args)
    }

    fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.get(k).and_then(Value::as_str)
    }

    /// The ledger's name for a network: the legacy v1 name where there is one
    /// (`xlayer`, the guide's default), else CAIP-2.
    fn chain_name(chain_id: u64) -> String {
        xc::LEGACY_NETWORKS
            .iter()
            .find(|(_, id)| *id == chain_id)
            .map_or_else(|| xc::caip2(chain_id), |(name, _)| (*name).to_string())
    }

    /// begin_settlement's facts: the authorization a payment carries, before
    /// /settle: payer (`authorization.from`), amount, network, asset,
    /// recipient, nonce and `validBefore`. An error (22023) when the payload
    /// or the requirements are malformed (nothing is written then).
    pub(crate) fn intent_facts(payload: &Value, requirements: &Value) -> xc::Result<Value> {
        let auth = xc::extract_authorization(payload)?;
        let version = xc::payload_version(payload).unwrap_or(2);
        let req = xc::PaymentRequirements::parse(requirements, version)?;
        Ok(json!({
            "payer_address": auth.from.to_checksum(),
            "amount": auth.value.to_decimal_string(),
            "network": xc::caip2(req.chain_id),
            "chain": chain_name(req.chain_id),
            "asset": req.asset.to_checksum(),
            "pay_to": req.pay_to.to_checksum(),
            "nonce": auth.nonce_hex(),
            "valid_before": auth.valid_before.to_decimal_string(),
        }))
    }

    /// The facilitator's reason for a failed settlement, as it reported it.
    fn failure_reason(settlement: &Value) -> String {
        let reason = ["errorReason", "invalidReason", "error", "reason"]
            .iter()
            .find_map(|k| str_field(settlement, k))
            .filter(|r| !r.is_empty());
        let message = ["errorMessage", "invalidMessage", "message"]
            .iter()
            .find_map(|k| str_field(settlement, k))
            .filter(|m| !m.is_empty());
        match (reason, message) {
            (Some(r), Some(m)) => format!("{r}: {m}"),
            (Some(r), None) => r.to_string(),
            (None, Some(m)) => m.to_string(),
            (None, None) => "the facilitator answered success = false without a reason".to_string(),
        }
    }

    pub(crate) fn settlement_facts(
        payload: &Value,
        requirements: &Value,
        settlement: &Value,
    ) -> xc::Result<Value> {
        let failed = settlement.get("success") == Some(&Value::Bool(false));
        let tx = str_field(settlement, "transaction")
            .or_else(|| str_field(settlement, "txHash"))
            .unwrap_or("");
        let tx_ok = tx.len() == 66
            && tx.starts_with("0x")
            && tx.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
        // A failed settlement need not have a transaction (the facilitator
        // answers "" when nothing was broadcast); a successful one must.
        let tx_acceptable = tx_ok || (failed && tx.is_empty());
        if !tx_acceptable {
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
            .filter(|p| !(failed && p.is_empty()))
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
            if a.value != r.amount {
                disputes.push(format!(
                    "authorization.value {} is not exactly the required {}",
                    a.value.to_decimal_string(),
                    r.amount.to_decimal_string()
                ));
            }
        }
        let req_ok = req.as_ref().ok();
        if let (Some(net), Some(r)) = (str_field(settlement, "network"), req_ok) {
            match xc::parse_network(net) {
                Ok(id) if id == r.chain_id => {}
                _ if failed && net.is_empty() => {}
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
        let status = if failed {
            "failed"
        } else if disputes.is_empty() {
            "settled"
        } else {
            "disputed"
        };
        Ok(json!({
            "tx_hash": tx_ok.then(|| tx.to_ascii_lowercase()),
            "payer_address": payer,
            "amount": amount,
            "network": req_ok.map(|r| xc::caip2(r.chain_id)),
            "chain": req_ok.map(|r| chain_name(r.chain_id)),
            "asset": req_ok.map(|r| r.asset.to_checksum()),
            "pay_to": req_ok.map(|r| r.pay_to.to_checksum()),
            "nonce": auth.as_ref().ok().map(|a| a.nonce_hex()),
            "status": status,
            "dispute_reason": (!failed && !disputes.is_empty()).then(|| disputes.join("; ")),
            "failure_reason": failed.then(|| failure_reason(settlement)),
        }))
    }
}
