//! The 0.2.0 journal, kept for databases whose catalog is still 0.2.0's.
//!
//! The library is shared by every database of a cluster: from the moment this
//! version's library is installed, a database not yet updated (`ALTER EXTENSION
//! insforge_integrations UPDATE`) runs it under its 0.2.0 catalog, whose
//! `x402.record_settlement()` and `x402.begin_settlement()` name the C symbols
//! `record_settlement_wrapper` and `begin_settlement_wrapper` and whose ledger
//! has 0.2.0's shape. These are those functions as 0.2.0 had them (over that
//! catalog's `x402._record_settlement()` and `x402._begin_settlement()`), so
//! that a settlement is never lost in that window. 0.3.0's catalog names the
//! new journal (src/ledger.rs) instead. Remove at the next major version.

#[pgrx::pg_schema]
mod x402 {
    use crate::errors::raise;
    use crate::jsonb::arg::{Jsonb, JsonbDatum};
    use insforge_core::x402::{self as xc, X402Error};
    use pgrx::datum::DatumWithOid;
    use pgrx::prelude::*;
    use pgrx::PgSqlErrorCode;
    use serde_json::{json, Value};

    /// Raises an x402 core error with its SQLSTATE.
    fn fail(err: X402Error) -> ! {
        crate::sql_x402::raise_x402(err, "")
    }

    fn object_arg<'a>(v: &'a Value, what: &str) -> &'a Value {
        crate::sql_x402::json_object(v, what, "")
    }

    /// An `x402.payment` row, laid out by Postgres (SPI_returntuple or the
    /// row x402._record_settlement returned), handed back as is.
    pub struct PaymentRowV2(pg_sys::Datum);

    crate::returns_raw_datum!(PaymentRowV2, "x402.payment", pg_sys::RECORDOID);

    crate::kept_slots! {
        static RECORD_NEW;
        static RECORD_OTHER;
        static BEGIN_NEW;
        static BEGIN_OTHER;
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

    use crate::kept::Slot as Kept;
    use crate::ledger::spi_failed;

    /// Runs the kept INSERT ... RETURNING `sql` and hands back the row it
    /// wrote, or None when ON CONFLICT DO NOTHING left it to the other path.
    fn insert_kept(
        slot: &'static Kept,
        sql: &str,
        types: &[pg_sys::Oid],
        args: &[DatumWithOid<'_>],
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Option<PaymentRowV2> {
        crate::kept::with(slot, sql, types, true, |c, stmt| {
            c.select(stmt, None, args)?;
            // SAFETY: in the connection that ran it; fcinfo is this call's.
            Ok(unsafe { crate::ledger::returned_payment(fcinfo) })
        })
        .unwrap_or_else(|e| spi_failed(e))
        .map(PaymentRowV2)
    }

    /// Runs the kept `SELECT x402._...(...)` `sql` and hands back its row.
    fn call_kept(
        slot: &'static Kept,
        sql: &str,
        types: &[pg_sys::Oid],
        args: &[DatumWithOid<'_>],
    ) -> PaymentRowV2 {
        let row = crate::kept::with(slot, sql, types, true, |c, stmt| {
            let row = c
                .select(stmt, None, args)?
                .first()
                .get_datum_by_ordinal(1)?;
            // SAFETY: a varlena row datum, copied out before SPI_finish.
            Ok(row.map(|d| unsafe { pg_sys::SPI_datumTransfer(d, false, -1) }))
        })
        .unwrap_or_else(|e| spi_failed(e));
        match row {
            Some(row) => PaymentRowV2(row),
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
    /// response_summary), declared by 0.2.0's sql/x402.sql (SECURITY DEFINER there,
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
    ) -> PaymentRowV2 {
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
    ) -> PaymentRowV2 {
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
            "chain": xc::chain_name(req.chain_id),
            "asset": req.asset.to_checksum(),
            "pay_to": req.pay_to.to_checksum(),
            "nonce": auth.nonce_hex(),
            "valid_before": auth.valid_before.to_decimal_string(),
        }))
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
        let tx_ok = xc::is_tx_hash(tx);
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
            "chain": req_ok.map(|r| xc::chain_name(r.chain_id)),
            "asset": req_ok.map(|r| r.asset.to_checksum()),
            "pay_to": req_ok.map(|r| r.pay_to.to_checksum()),
            "nonce": auth.as_ref().ok().map(|a| a.nonce_hex()),
            "status": status,
            "dispute_reason": (!failed && !disputes.is_empty()).then(|| disputes.join("; ")),
            "failure_reason": failed.then(|| xc::failure_reason(settlement)),
        }))
    }
}
