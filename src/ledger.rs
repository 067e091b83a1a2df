//! The settlement journal's writes: `x402.begin_settlement()`,
//! `x402.record_settlement()` and `x402.record_status()` (declared in
//! sql/x402.sql: SECURITY INVOKER, operators only, `enable_seqscan = off`).
//!
//! What to write is decided in `insforge_core::x402` (settlement.rs: the terms
//! of a payment, what an answer says happened, and the transition from the
//! ledger's rows); this shell reads the rows, asks, and writes, with statements
//! kept per backend (src/kept.rs). The common case of each write, a new intent
//! or a new settlement the ledger has no row of, is one INSERT ... ON CONFLICT
//! DO NOTHING: the unique transaction hash, the one live row per authorization
//! and the one live row per payment identifier turn every other case into the
//! general path (read the rows with FOR UPDATE, decide, write), tried three
//! times against concurrent writers, then 40001.

use crate::errors::raise;
use crate::jsonb::arg::{Jsonb, JsonbDatum};
use insforge_core::x402::{self as xc, Decision, Outcome, Row, Status, Terms, X402Error};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::SpiError;
use pgrx::PgSqlErrorCode;
use serde_json::{json, Value};

/// An `x402.payment` row, laid out by Postgres (SPI_returntuple), handed back as is.
pub struct PaymentRow(pg_sys::Datum);

crate::returns_raw_datum!(PaymentRow, "x402.payment", pg_sys::RECORDOID);

/// x402.payment's columns, in order, from the ledger row `p`; the casts give
/// the row type's column types whatever a guide-made ledger declares.
macro_rules! payment_columns {
    () => {
        "p.id::uuid, p.payer_address::text, p.endpoint::text, p.amount::numeric(78,0), p.tx_hash::text,
  p.chain::text, p.status::text, p.response_summary::text, p.created_at::timestamptz, p.network::text,
  p.asset::text, p.pay_to::text, p.nonce::text, p.dispute_reason::text, p.payload::jsonb,
  p.requirements::jsonb, p.settlement::jsonb, p.failure_reason::text, p.completed_at::timestamptz,
  p.nonce_scope::text, p.scheme::text, p.valid_before::timestamptz, p.payment_id::text,
  p.settled_amount::numeric(78,0), p.answers::jsonb"
    };
}

/// The ledger's key of one authorization, and the statuses of its live row:
/// written once here, as the unique index x402_payments_authorization_key
/// (sql/x402.sql, install_ledger) spells it.
macro_rules! authorization_match {
    ($network:literal, $scope:literal, $payer:literal, $nonce:literal) => {
        concat!(
            "p.network = ",
            $network,
            " AND lower(p.nonce_scope) = lower(",
            $scope,
            ") AND lower(p.payer_address) = lower(",
            $payer,
            ") AND p.nonce = ",
            $nonce
        )
    };
}

/// Every new row: an intent, a settlement, a failure or a dispute. $24: write
/// nothing when the authorization is disputed under another transaction
/// (the common case of record_settlement only; the general path decided).
const INSERT_SQL: &str = concat!(
    "INSERT INTO public.x402_payments AS p
    (payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network, asset, nonce_scope,
     pay_to, nonce, scheme, valid_before, payment_id, settled_amount, dispute_reason, failure_reason,
     payload, requirements, settlement, answers, completed_at)
SELECT $1, $2, $3::numeric, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, to_timestamp($14::float8), $15,
       $16::numeric, $17, $18, $19, $20, $21,
       CASE WHEN $22::jsonb IS NULL THEN '[]'::jsonb ELSE jsonb_build_array($22::jsonb) END,
       CASE WHEN $6 IN ('settled', 'failed', 'disputed') THEN now() END
 WHERE NOT ($23 AND EXISTS (SELECT FROM public.x402_payments p
                             WHERE ",
    authorization_match!("$8", "$10", "$1", "$12"),
    " AND p.tx_hash IS NOT NULL AND p.status = 'disputed'))
ON CONFLICT DO NOTHING
RETURNING ",
    payment_columns!()
);

const INSERT_TYPES: [pg_sys::Oid; 23] = {
    let (t, j, b) = (pg_sys::TEXTOID, pg_sys::JSONBOID, pg_sys::BOOLOID);
    [
        t, t, t, t, t, t, t, t, t, t, t, t, t, t, t, t, t, t, j, j, j, j, b,
    ]
};

/// Every row of this authorization, of this transaction, and of this payment
/// identifier, locked against concurrent writers.
const ROWS_SQL: &str = concat!(
    "SELECT p.id::text, p.status::text, p.tx_hash::text, p.network::text, coalesce(p.nonce_scope, p.asset)::text,
       p.asset::text, p.pay_to::text, p.payer_address::text, p.amount::text, p.nonce::text, p.payment_id::text,
       coalesce(p.scheme, 'exact')::text
  FROM public.x402_payments p
 WHERE (",
    authorization_match!("$1", "$2", "$3", "$4"),
    ") OR p.tx_hash = $5 OR (p.payment_id = $6 AND p.status IN ('pending', 'broadcast', 'settled'))
 ORDER BY p.created_at, p.id
   FOR UPDATE"
);

const ROWS_TYPES: [pg_sys::Oid; 6] = [pg_sys::TEXTOID; 6];

/// Row $1 becomes the outcome; a NULL hash or settled amount keeps the row's.
const UPDATE_SQL: &str = concat!(
    "UPDATE public.x402_payments p
   SET status = $2, tx_hash = coalesce($3, p.tx_hash), settled_amount = coalesce($4::numeric, p.settled_amount),
       dispute_reason = coalesce($5, p.dispute_reason), failure_reason = coalesce($6, p.failure_reason),
       endpoint = coalesce($7, p.endpoint), response_summary = coalesce($8, p.response_summary),
       payload = coalesce($9, p.payload), requirements = coalesce($10, p.requirements),
       settlement = coalesce($11, p.settlement),
       answers = coalesce(p.answers, '[]'::jsonb) || CASE WHEN $12::jsonb IS NULL THEN '[]'::jsonb ELSE jsonb_build_array($12::jsonb) END,
       completed_at = CASE WHEN $2 IN ('settled', 'failed', 'disputed') THEN coalesce(p.completed_at, now()) END
 WHERE p.id = $1::uuid
RETURNING ",
    payment_columns!()
);

const UPDATE_TYPES: [pg_sys::Oid; 12] = {
    let (t, j) = (pg_sys::TEXTOID, pg_sys::JSONBOID);
    [t, t, t, t, t, t, t, t, j, j, j, j]
};

const BY_ID_SQL: &str = concat!(
    "SELECT ",
    payment_columns!(),
    " FROM public.x402_payments p WHERE p.id = $1::uuid"
);

const BY_HASH_SQL: &str = "SELECT p.id::text, p.status::text, p.tx_hash::text, p.network::text,
       coalesce(p.nonce_scope, p.asset)::text, p.asset::text, p.pay_to::text, p.payer_address::text, p.amount::text,
       p.nonce::text, p.payment_id::text, coalesce(p.scheme, 'exact')::text
  FROM public.x402_payments p WHERE p.tx_hash = $1 FOR UPDATE";

crate::kept_slots! {
    static INSERT;
    static ROWS;
    static UPDATE;
    static BY_ID;
    static BY_HASH;
}

/// Raises an x402 core error with its SQLSTATE.
fn fail(err: X402Error) -> ! {
    crate::sql_x402::raise_x402(err, "; nothing was written")
}

/// A kept ledger statement failed in SPI (also 0.2.0's, src/ledger_v2.rs).
pub(crate) fn spi_failed(e: SpiError) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("x402 ledger statement: {e}"),
        None,
    )
}

/// Raises 42P01 without a ledger, 55000 with one that install_ledger() has not
/// brought up to date (the journal's columns are missing).
fn require_ledger() {
    // SAFETY: plain catalog lookups by name.
    let (rel, current) = unsafe {
        let public = pg_sys::get_namespace_oid(c"public".as_ptr(), true);
        let rel = if public == pg_sys::InvalidOid {
            pg_sys::InvalidOid
        } else {
            pg_sys::get_relname_relid(c"x402_payments".as_ptr(), public)
        };
        let current = rel != pg_sys::InvalidOid && pg_sys::get_attnum(rel, c"answers".as_ptr()) > 0;
        (rel, current)
    };
    if rel == pg_sys::InvalidOid {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            "public.x402_payments does not exist",
            Some("Run SELECT x402.install_ledger(); once."),
        );
    }
    if !current {
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "public.x402_payments predates this version of the settlement journal",
            Some("Its owner runs SELECT x402.install_ledger(); once after ALTER EXTENSION ... UPDATE. Nothing was written."),
        );
    }
}

/// The row SPI_tuptable holds, as this call's result type (x402.payment) in
/// the caller's memory. None when the statement returned no row.
///
/// # Safety
/// Within the SPI connection that ran the statement; `fcinfo` is this call's.
/// (0.2.0's functions, src/ledger_v2.rs, return their rows through it too.)
pub(crate) unsafe fn returned_payment(fcinfo: pg_sys::FunctionCallInfo) -> Option<pg_sys::Datum> {
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

/// Runs a kept statement that returns x402.payment columns; its first row.
fn returning(
    slot: &'static crate::kept::Slot,
    sql: &str,
    types: &[pg_sys::Oid],
    args: &[DatumWithOid<'_>],
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<PaymentRow> {
    crate::kept::with(slot, sql, types, true, |c, stmt| {
        c.select(stmt, None, args)?;
        // SAFETY: in the connection that ran it; fcinfo is this call's.
        Ok(unsafe { returned_payment(fcinfo) }.map(PaymentRow))
    })
    .unwrap_or_else(|e| spi_failed(e))
}

/// Rows as the journal's decisions read them.
fn read_rows(
    sql_slot: &'static crate::kept::Slot,
    sql: &str,
    types: &[pg_sys::Oid],
    args: &[DatumWithOid<'_>],
) -> Vec<Row> {
    crate::kept::with(sql_slot, sql, types, true, |c, stmt| {
        let table = c.select(stmt, None, args)?;
        let mut rows = Vec::new();
        for r in table {
            let text = |i: usize| r.get::<String>(i).ok().flatten();
            let network = text(4).unwrap_or_default();
            rows.push(Row {
                id: text(1).unwrap_or_default(),
                status: text(2)
                    .as_deref()
                    .and_then(Status::parse)
                    .unwrap_or(Status::Disputed),
                tx_hash: text(3),
                terms: Terms {
                    scheme: text(12).unwrap_or_default(),
                    chain_id: xc::parse_network(&network).unwrap_or(0),
                    nonce_scope: text(5).unwrap_or_default(),
                    asset: text(6).unwrap_or_default(),
                    pay_to: text(7).unwrap_or_default(),
                    payer: text(8).unwrap_or_default(),
                    amount: text(9).unwrap_or_default(),
                    nonce: text(10).unwrap_or_default(),
                    valid_before: None,
                    payment_id: text(11),
                },
            });
        }
        Ok(rows)
    })
    .unwrap_or_else(|e| spi_failed(e))
}

fn text_arg<'a>(v: Option<&str>) -> DatumWithOid<'a> {
    v.map(DatumWithOid::from)
        .unwrap_or_else(|| DatumWithOid::null_oid(pg_sys::TEXTOID))
}

fn jsonb_arg<'a>(d: Option<pg_sys::Datum>) -> DatumWithOid<'a> {
    match d {
        // SAFETY: a jsonb datum (an argument of this call, or one just built).
        Some(d) => unsafe { DatumWithOid::new(d, pg_sys::JSONBOID) },
        None => DatumWithOid::null_oid(pg_sys::JSONBOID),
    }
}

/// Argument `n` of this call as it came (None when NULL): jsonb and text are
/// written to the ledger unchanged, in the database's encoding.
///
/// # Safety
/// `fcinfo` is this call's, with more than `n` arguments.
unsafe fn raw_arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Option<pg_sys::Datum> {
    let a = (*fcinfo).args.as_slice(n + 1).get(n)?;
    (!a.isnull).then_some(a.value)
}

/// What a write is about, for the statements.
struct Call<'a> {
    terms: &'a Terms,
    payload: Option<pg_sys::Datum>,
    requirements: Option<pg_sys::Datum>,
    settlement: Option<pg_sys::Datum>,
    endpoint: Option<pg_sys::Datum>,
    response_summary: Option<pg_sys::Datum>,
    /// The answer as the ledger's `answers` keeps it.
    answer: Option<pg_sys::Datum>,
}

fn raw_text<'a>(d: Option<pg_sys::Datum>) -> DatumWithOid<'a> {
    match d {
        // SAFETY: a text argument of this call.
        Some(d) => unsafe { DatumWithOid::new(d, pg_sys::TEXTOID) },
        None => DatumWithOid::null_oid(pg_sys::TEXTOID),
    }
}

fn insert(
    call: &Call<'_>,
    o: &Outcome,
    guard: bool,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<PaymentRow> {
    let t = call.terms;
    let valid_before = t.valid_before.map(|v| v.to_string());
    // What a malformed payload did not say (a disputed row) is NULL, not ''.
    let known = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let network = (t.chain_id != 0).then(|| t.network());
    let chain = (t.chain_id != 0).then(|| t.chain());
    let args = [
        t.payer.as_str().into(),
        raw_text(call.endpoint),
        t.amount.as_str().into(),
        text_arg(o.tx_hash.as_deref()),
        text_arg(chain.as_deref().or(Some("xlayer"))),
        o.status.as_str().into(),
        raw_text(call.response_summary),
        text_arg(network.as_deref()),
        text_arg(known(&t.asset).as_deref()),
        text_arg(known(&t.nonce_scope).as_deref()),
        text_arg(known(&t.pay_to).as_deref()),
        text_arg(known(&t.nonce).as_deref()),
        t.scheme.as_str().into(),
        text_arg(valid_before.as_deref()),
        text_arg(t.payment_id.as_deref()),
        text_arg(o.settled_amount.as_deref()),
        text_arg(o.dispute_reason.as_deref()),
        text_arg(o.failure_reason.as_deref()),
        jsonb_arg(call.payload),
        jsonb_arg(call.requirements),
        jsonb_arg(call.settlement),
        jsonb_arg(call.answer),
        guard.into(),
    ];
    returning(&INSERT, INSERT_SQL, &INSERT_TYPES, &args, fcinfo)
}

fn update(call: &Call<'_>, id: &str, o: &Outcome, fcinfo: pg_sys::FunctionCallInfo) -> PaymentRow {
    let args = [
        id.into(),
        o.status.as_str().into(),
        text_arg(o.tx_hash.as_deref()),
        text_arg(o.settled_amount.as_deref()),
        text_arg(o.dispute_reason.as_deref()),
        text_arg(o.failure_reason.as_deref()),
        raw_text(call.endpoint),
        raw_text(call.response_summary),
        jsonb_arg(call.payload),
        jsonb_arg(call.requirements),
        jsonb_arg(call.settlement),
        jsonb_arg(call.answer),
    ];
    returning(&UPDATE, UPDATE_SQL, &UPDATE_TYPES, &args, fcinfo).unwrap_or_else(|| row_gone(id))
}

fn by_id(id: &str, fcinfo: pg_sys::FunctionCallInfo) -> PaymentRow {
    returning(&BY_ID, BY_ID_SQL, &[pg_sys::TEXTOID], &[id.into()], fcinfo)
        .unwrap_or_else(|| row_gone(id))
}

fn row_gone(id: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        format!("ledger row {id} was deleted while this call wrote it"),
        Some("Retry the call; nothing was written."),
    )
}

fn rows_of(call: &Call<'_>, tx_hash: Option<&str>) -> Vec<Row> {
    let t = call.terms;
    let args = [
        t.network().into(),
        t.nonce_scope.as_str().into(),
        t.payer.as_str().into(),
        t.nonce.as_str().into(),
        text_arg(tx_hash),
        text_arg(t.payment_id.as_deref()),
    ];
    read_rows(&ROWS, ROWS_SQL, &ROWS_TYPES, &args)
}

/// The general path: read, decide, write; again when a concurrent writer's row
/// appeared in between (three times, then 40001).
fn settle(
    call: &Call<'_>,
    tx_hash: Option<&str>,
    decide: impl Fn(&[Row]) -> Decision,
    fcinfo: pg_sys::FunctionCallInfo,
) -> PaymentRow {
    for _ in 0..3 {
        let rows = rows_of(call, tx_hash);
        match decide(&rows) {
            Decision::Keep(id) => return by_id(&id, fcinfo),
            Decision::Update(id, o) => return update(call, &id, &o, fcinfo),
            Decision::Insert(o) => {
                if let Some(row) = insert(call, &o, false, fcinfo) {
                    return row;
                }
            }
            Decision::Conflict { message, detail } => {
                pgrx::pg_sys::panic::ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
                    message,
                    "insforge_integrations",
                )
                .set_detail(detail)
                .set_hint("A transaction hash identifies one settlement, a payment identifier one payment. Nothing was changed.")
                .report(pgrx::PgLogLevel::ERROR);
                unreachable!("ERROR does not return")
            }
        }
    }
    raise(
        PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        format!("could not write nonce {} after 3 attempts: concurrent writers keep changing its authorization's rows", call.terms.nonce),
        Some("Retry the call; nothing was written."),
    )
}

fn object<'a>(v: &'a Value, what: &str) -> &'a Value {
    crate::sql_x402::json_object(v, what, "; nothing was written")
}

/// x402.begin_settlement(payload, requirements, endpoint): the intent, before /settle
/// (C symbol x402_begin_settlement_wrapper; 0.2.0's symbol is src/ledger_v2.rs).
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn x402_begin_settlement(
    payload: Option<Jsonb>,
    requirements: Option<Jsonb>,
    _endpoint: Option<crate::dbtext::DbText>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> PaymentRow {
    let (Some(payload), Some(requirements)) = (payload, requirements) else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "payload and requirements are both required; nothing was written",
            None,
        )
    };
    require_ledger();
    let terms = xc::terms(
        object(&payload.0, "payload"),
        object(&requirements.0, "requirements"),
    )
    .unwrap_or_else(|e| fail(e));
    // SAFETY: this call's fcinfo, with three arguments.
    let call = unsafe {
        Call {
            terms: &terms,
            payload: raw_arg(fcinfo, 0),
            requirements: raw_arg(fcinfo, 1),
            settlement: None,
            endpoint: raw_arg(fcinfo, 2),
            response_summary: None,
            answer: None,
        }
    };
    let pending = Outcome {
        status: Status::Pending,
        tx_hash: None,
        settled_amount: None,
        dispute_reason: None,
        failure_reason: None,
    };
    if let Some(row) = insert(&call, &pending, false, fcinfo) {
        return row;
    }
    settle(&call, None, |rows| xc::decide_begin(rows, &terms), fcinfo)
}

/// x402.record_settlement(payload, requirements, settlement, endpoint,
/// response_summary): the facilitator's answer to /settle, exactly once (C symbol
/// x402_record_settlement_wrapper).
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn x402_record_settlement(
    payload: Option<Jsonb>,
    requirements: Option<Jsonb>,
    settlement: Option<Jsonb>,
    _endpoint: Option<crate::dbtext::DbText>,
    _response_summary: Option<crate::dbtext::DbText>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> PaymentRow {
    let (Some(payload), Some(requirements), Some(settlement)) = (payload, requirements, settlement)
    else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "payload, requirements and settlement are all required; nothing was written",
            None,
        )
    };
    require_ledger();
    let (p, r, s) = (
        object(&payload.0, "payload"),
        object(&requirements.0, "requirements"),
        object(&settlement.0, "settlement"),
    );
    let (terms, disputes, payment) = xc::settlement_terms(p, r, s).unwrap_or_else(|e| fail(e));
    let outcome = xc::settlement_with(p, r, s, &terms, payment.as_ref(), disputes)
        .unwrap_or_else(|e| fail(e));
    let answer = JsonbDatum::from_value(&json!({"kind": "settle", "answer": s})).0;
    // SAFETY: this call's fcinfo, with five arguments.
    let call = unsafe {
        Call {
            terms: &terms,
            payload: raw_arg(fcinfo, 0),
            requirements: raw_arg(fcinfo, 1),
            settlement: raw_arg(fcinfo, 2),
            endpoint: raw_arg(fcinfo, 3),
            response_summary: raw_arg(fcinfo, 4),
            answer: Some(answer),
        }
    };
    // The common case: a transaction (or a deferred acceptance) the ledger has no row of.
    if matches!(outcome.status, Status::Settled | Status::Broadcast) {
        if let Some(row) = insert(&call, &outcome, true, fcinfo) {
            return row;
        }
    }
    settle(
        &call,
        outcome.tx_hash.as_deref(),
        |rows| xc::decide_record(rows, &terms, &outcome),
        fcinfo,
    )
}

/// x402.record_status(tx_hash, answer): what became of a broadcast transaction.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn x402_record_status(
    tx_hash: Option<crate::dbtext::DbText>,
    answer: Option<Jsonb>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> PaymentRow {
    let (Some(tx_hash), Some(answer)) = (tx_hash, answer) else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "tx_hash and answer are both required; nothing was written",
            None,
        )
    };
    require_ledger();
    let hash = tx_hash.to_ascii_lowercase();
    if !xc::is_tx_hash(&hash) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "tx_hash {:?} is not a transaction hash (0x + 64 hex digits); nothing was written",
                tx_hash.as_str()
            ),
            None,
        );
    }
    let (status, reason) = xc::status_answer(&answer.0).unwrap_or_else(|e| fail(e));
    let rows = read_rows(
        &BY_HASH,
        BY_HASH_SQL,
        &[pg_sys::TEXTOID],
        &[hash.as_str().into()],
    );
    let Some(row) = rows.into_iter().next() else {
        raise(
            PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
            format!("no payment with transaction {hash} is recorded; nothing was written"),
            Some("Record the facilitator's /settle answer first: x402.record_settlement(payload, requirements, answer)."),
        )
    };
    let entry = JsonbDatum::from_value(&json!({"kind": "status", "answer": answer.0})).0;
    let call = Call {
        terms: &row.terms,
        payload: None,
        requirements: None,
        settlement: None,
        endpoint: None,
        response_summary: None,
        answer: Some(entry),
    };
    match xc::decide_status(&row, status, reason) {
        Decision::Update(id, o) => update(&call, &id, &o, fcinfo),
        _ => by_id(&row.id, fcinfo),
    }
}

/// Internal (benchmarks, tests): what record_settlement derives from a
/// payment and an answer, without writing: the terms and the outcome.
#[pg_extern(immutable, parallel_safe, schema = "x402")]
fn _settlement_facts(payload: Jsonb, requirements: Jsonb, settlement: Jsonb) -> JsonbDatum {
    let (p, r, s) = (
        object(&payload.0, "payload"),
        object(&requirements.0, "requirements"),
        object(&settlement.0, "settlement"),
    );
    let t = xc::terms(p, r).unwrap_or_else(|e| fail(e));
    let o = xc::settlement(p, r, s, &t).unwrap_or_else(|e| fail(e));
    JsonbDatum::from_value(&json!({
        "payer_address": t.payer, "amount": t.amount, "network": t.network(), "chain": t.chain(),
        "asset": t.asset, "nonce_scope": t.nonce_scope, "pay_to": t.pay_to, "nonce": t.nonce, "scheme": t.scheme,
        "payment_id": t.payment_id, "valid_before": t.valid_before,
        "status": o.status.as_str(), "tx_hash": o.tx_hash, "settled_amount": o.settled_amount,
        "dispute_reason": o.dispute_reason, "failure_reason": o.failure_reason,
    }))
}
extension_sql!(
    r#"
REVOKE ALL ON FUNCTION x402._settlement_facts(jsonb, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._settlement_facts(jsonb, jsonb, jsonb) IS
'Internal (benchmarks, tests): what record_settlement() derives from a payment and a facilitator''s answer without writing: the payment''s terms and the outcome (settled, broadcast, failed or disputed, with the reasons). 22023 for malformed input, 0A000 for an unknown x402Version or scheme.';
"#,
    name = "settlement_facts_comment",
    requires = [_settlement_facts]
);
