//! The settlement journal's logic: what a payment authorizes, what a
//! facilitator's answer says happened, and what the ledger must do about it.
//!
//! A payment moves through
//!
//! ```text
//!   pending ──► broadcast ──► settled
//!      │            │    ╲
//!      │            ▼     ╲──► disputed (answers that contradict each other or the payment)
//!      └──────────► failed
//! ```
//!
//! - `pending`: `begin_settlement()` wrote the intent before `/settle`;
//! - `broadcast`: the facilitator sent the transaction but nobody has confirmed
//!   it (OKX's default `status: "pending"` or `"timeout"`, the SDK's
//!   `settlement_pending`, or OKX's `aggr_deferred`, whose hash comes later);
//! - `settled`: confirmed (OKX `status: "success"`, an answer without a status
//!   field, which the SDK gives only after the receipt, or a status answer);
//! - `failed`: terminal, with or without a hash (a reverted transaction has one);
//! - `disputed`: money may have moved but something disagrees; the reason says what.
//!
//! One live row (`pending`, `broadcast` or `settled`) per authorization; one
//! hash is one settlement; a settled row never goes back; contradicting answers
//! make the row disputed, both kept. Everything here is pure: the SQL shell
//! (src/ledger.rs) reads the rows, asks [`decide`] and writes what it says.

use serde_json::{json, Value};

use super::authorized::{authorized_payment, payment_identifier, AuthorizedPayment};
use super::error::{Result, X402Error};
use super::network::{caip2, chain_name, parse_network};
use super::payment::{extract_authorization, payload_version, recover_payer, PaymentRequirements};
use super::permit2::PERMIT2_ADDRESS;
use super::uint::U256;
use super::SCHEME_EXACT;

/// A row's status in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Broadcast,
    Settled,
    Failed,
    Disputed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Broadcast => "broadcast",
            Status::Settled => "settled",
            Status::Failed => "failed",
            Status::Disputed => "disputed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "broadcast" => Status::Broadcast,
            "settled" => Status::Settled,
            "failed" => Status::Failed,
            "disputed" => Status::Disputed,
            _ => return None,
        })
    }

    /// The statuses of which an authorization has at most one row.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Pending | Status::Broadcast | Status::Settled)
    }
}

/// What a payment authorizes, normalized: the ledger's identity columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// `exact` or `upto`.
    pub scheme: String,
    pub chain_id: u64,
    /// The token.
    pub asset: String,
    /// Whose nonce space the nonce belongs to: the token for EIP-3009, the
    /// Permit2 contract for Permit2 (one nonce space per owner across tokens).
    pub nonce_scope: String,
    pub pay_to: String,
    /// `authorization.from`: who signed.
    pub payer: String,
    /// exact: the amount; upto: the ceiling the payer signed.
    pub amount: String,
    /// `0x` + 64 lower-case hex digits.
    pub nonce: String,
    /// Unix seconds after which it can no longer settle.
    pub valid_before: Option<u64>,
    /// The client's `payment-identifier`, when the payload carries one.
    pub payment_id: Option<String>,
}

impl Terms {
    /// The ledger's terms of a payment: what was signed (the token's own
    /// requirements give only the chain, and EIP-3009's token).
    pub fn of(p: &AuthorizedPayment) -> Terms {
        Terms {
            scheme: p.scheme.as_str().to_string(),
            chain_id: p.chain_id,
            asset: p.asset.to_checksum(),
            nonce_scope: p.nonce_scope().to_checksum(),
            pay_to: p.pay_to.to_checksum(),
            payer: p.payer.to_checksum(),
            amount: p.amount.to_decimal_string(),
            nonce: p.nonce_hex(),
            valid_before: p.valid_before.to_decimal_string().parse().ok(),
            payment_id: p.payment_id.clone(),
        }
    }

    /// Whether the payment is a Permit2 one (its nonce lives in Permit2).
    pub fn is_permit2(&self) -> bool {
        self.nonce_scope
            .eq_ignore_ascii_case(&PERMIT2_ADDRESS.to_checksum())
    }

    /// The signed amount's field, for messages.
    fn amount_field(&self) -> &'static str {
        if self.is_permit2() {
            "permit2Authorization.permitted.amount"
        } else {
            "authorization.value"
        }
    }

    pub fn network(&self) -> String {
        caip2(self.chain_id)
    }

    /// The ledger's `chain` column: the legacy v1 name where there is one
    /// (`xlayer`, the guide's default), else CAIP-2.
    pub fn chain(&self) -> String {
        chain_name(self.chain_id)
    }

    /// Whether `other` names the same authorization (the ledger's key).
    pub fn same_authorization(&self, other: &Terms) -> bool {
        self.chain_id == other.chain_id
            && self.nonce_scope.eq_ignore_ascii_case(&other.nonce_scope)
            && self.payer.eq_ignore_ascii_case(&other.payer)
            && self.nonce == other.nonce
    }
}

/// What the payload and requirements authorize ([`authorized_payment`]: the
/// signed message's facts, for EIP-3009, Permit2 `exact` and `upto`). Refuses
/// (0A000) an x402 version or a scheme not implemented; 22023 for malformed
/// input. Nothing is written for either.
pub fn terms(payload: &Value, requirements: &Value) -> Result<Terms> {
    Ok(Terms::of(&authorized_payment(payload, requirements)?))
}

/// The terms of a payment whose answer says money may have moved: [`terms`]
/// when the payload and requirements read, else what can be read of them (the
/// payer from the answer or `authorization.from`, the amount, network, token,
/// recipient and nonce), with what could not as dispute reasons. A payment that
/// moved money is recorded (disputed), never dropped; only an x402 version or
/// scheme the journal does not implement (0A000) and a payment without any
/// payer (22023) are refused.
pub fn settlement_terms(
    payload: &Value,
    requirements: &Value,
    answer: &Value,
) -> Result<(Terms, Vec<String>, Option<AuthorizedPayment>)> {
    let e = match authorized_payment(payload, requirements) {
        Ok(a) => return Ok((Terms::of(&a), Vec::new(), Some(a))),
        Err(e) if e.kind == super::ErrorKind::Unsupported => return Err(e),
        Err(e) => e,
    };
    let version = payload_version(payload).unwrap_or(2);
    let auth = extract_authorization(payload).ok();
    let req = PaymentRequirements::parse(requirements, version).ok();
    let answered_payer = str_field(answer, "payer")
        .filter(|p| !p.is_empty())
        .and_then(|p| super::address::checksum_address(p).ok());
    let payer = answered_payer.or_else(|| auth.as_ref().map(|a| a.from.to_checksum())).ok_or_else(|| {
        X402Error::malformed(format!(
            "no payer: neither settlement.payer nor payload.payload.authorization.from is readable ({})",
            e.message
        ))
    })?;
    let amount = auth
        .as_ref()
        .map(|a| a.value.to_decimal_string())
        .or_else(|| req.as_ref().map(|r| r.amount.to_decimal_string()))
        .ok_or_else(|| e.clone())?;
    let chain_id = req
        .as_ref()
        .map(|r| r.chain_id)
        .or_else(|| str_field(answer, "network").and_then(|n| parse_network(n).ok()))
        .unwrap_or(0);
    let asset = req
        .as_ref()
        .map(|r| r.asset.to_checksum())
        .unwrap_or_default();
    let t = Terms {
        scheme: req
            .as_ref()
            .map(|r| r.scheme.clone())
            .unwrap_or_else(|| SCHEME_EXACT.to_string()),
        chain_id,
        nonce_scope: asset.clone(),
        asset,
        pay_to: req
            .as_ref()
            .map(|r| r.pay_to.to_checksum())
            .unwrap_or_default(),
        payer,
        amount,
        nonce: auth.as_ref().map(|a| a.nonce_hex()).unwrap_or_default(),
        valid_before: auth
            .as_ref()
            .and_then(|a| a.valid_before.to_decimal_string().parse().ok()),
        payment_id: payment_identifier(payload).ok().flatten(),
    };
    Ok((t, vec![e.message], None))
}

/// What a facilitator's `/settle` answer says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// Lower-case `0x` + 64 hex, when the answer names a transaction.
    pub tx_hash: Option<String>,
    /// What moved (upto: the answer's `amount`; exact: the amount).
    pub settled_amount: Option<String>,
    pub dispute_reason: Option<String>,
    pub failure_reason: Option<String>,
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The answer's transaction hash: `transaction` (the x402 answer), `txHash` (the
/// guide's mock) or `transactionHash` (a receipt). Empty: none yet (a failure,
/// or OKX's aggr_deferred). Missing altogether, or not a hash: 22023.
fn tx_hash(v: &Value) -> Result<Option<String>> {
    let field = ["transaction", "txHash", "transactionHash"]
        .iter()
        .find_map(|k| v.get(*k));
    let tx = match field {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "settlement.transaction is not a transaction hash (0x + 64 hex digits): {}",
                super::util::type_name(other)
            )))
        }
        None if v.get("success") == Some(&Value::Bool(false)) => "",
        None => {
            return Err(X402Error::malformed(
                "settlement.transaction is missing: a successful answer names its transaction hash (or \"\" when the facilitator deferred it)",
            ))
        }
    };
    if tx.is_empty() {
        return Ok(None);
    }
    if !is_tx_hash(tx) {
        return Err(X402Error::malformed(format!(
            "settlement.transaction is not a transaction hash (0x + 64 hex digits): {}",
            json!(tx)
        )));
    }
    Ok(Some(tx.to_ascii_lowercase()))
}

/// Whether `tx` is a transaction hash: `0x` and 64 hex digits, either case.
pub fn is_tx_hash(tx: &str) -> bool {
    tx.len() == 66 && tx.starts_with("0x") && tx.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

/// The facilitator's reason for a failed or unfinished settlement, as it said it.
pub fn failure_reason(v: &Value) -> String {
    let r = ["errorReason", "invalidReason", "error", "reason"]
        .iter()
        .find_map(|k| str_field(v, k))
        .filter(|r| !r.is_empty());
    let m = ["errorMessage", "invalidMessage", "message"]
        .iter()
        .find_map(|k| str_field(v, k))
        .filter(|m| !m.is_empty());
    match (r, m) {
        (Some(r), Some(m)) => format!("{r}: {m}"),
        (Some(r), None) => r.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => "the facilitator answered success = false without a reason".to_string(),
    }
}

/// The settled amount an answer reports for `upto` (`amount`, decimal), or an error.
fn answer_amount(v: &Value) -> Result<Option<U256>> {
    match v.get("amount") {
        None | Some(Value::Null) => Ok(None),
        Some(a) => U256::from_json(a)
            .map(Some)
            .map_err(|e| e.context("settlement.amount")),
    }
}

/// `a > b`: U256's big-endian bytes order as its values do.
fn above(a: &U256, b: &U256) -> bool {
    a.to_be_bytes() > b.to_be_bytes()
}

/// Reads a `/settle` answer: OKX's (`status` pending / success / timeout, or
/// `aggr_deferred`'s empty transaction), the official SDK's (`success: false`
/// with `errorReason: "settlement_pending"` and the hash means broadcast), or
/// the guide's mock (`txHash`). 22023 when `success` is not a boolean, the
/// hash is malformed, or a successful, confirmed answer has no hash.
pub fn outcome(answer: &Value) -> Result<Outcome> {
    let success = match answer.get("success") {
        Some(Value::Bool(b)) => *b,
        None => true, // the guide's mock {txHash, payer}
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "settlement.success must be true or false, not {}",
                super::util::type_name(other)
            )))
        }
    };
    let hash = tx_hash(answer)?;
    let status_field = str_field(answer, "status").map(str::to_ascii_lowercase);
    let out = |status, failure_reason| Outcome {
        status,
        tx_hash: hash.clone(),
        settled_amount: None,
        dispute_reason: None,
        failure_reason,
    };
    if !success {
        let pending = str_field(answer, "errorReason") == Some("settlement_pending");
        return Ok(if pending && hash.is_some() {
            out(Status::Broadcast, None)
        } else {
            out(Status::Failed, Some(failure_reason(answer)))
        });
    }
    let status = match status_field.as_deref() {
        Some("pending") | Some("timeout") => Status::Broadcast,
        Some("failed") => return Ok(out(Status::Failed, Some(failure_reason(answer)))),
        Some("success") | None => {
            if hash.is_some() {
                Status::Settled
            } else {
                // aggr_deferred: accepted for a later batched submission, hash to come
                Status::Broadcast
            }
        }
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "settlement.status {:?} is none of pending, success, timeout, failed",
                super::util::show(other)
            )))
        }
    };
    Ok(out(status, None))
}

/// Reads a status answer for a broadcast transaction: OKX's
/// `GET /api/v6/pay/x402/settle/status` (`status` pending / success / failed;
/// `success: false, errorReason: "not_found"` for a hash it does not know), or a
/// transaction receipt the app fetched (`status` `0x1` / `0x0` / 1 / 0).
/// Returns the status it reports (Broadcast for still pending or unknown).
pub fn status_answer(answer: &Value) -> Result<(Status, Option<String>)> {
    if !answer.is_object() {
        return Err(X402Error::malformed(
            "the status answer must be a JSON object",
        ));
    }
    if answer.get("success") == Some(&Value::Bool(false)) {
        return Ok((Status::Broadcast, Some(failure_reason(answer))));
    }
    let status = answer.get("status").ok_or_else(|| {
        X402Error::malformed("the status answer has no status (OKX: pending, success or failed; a receipt: 0x1 or 0x0)")
    })?;
    let s = match status {
        Value::String(s) => s.to_ascii_lowercase(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(X402Error::malformed(format!(
                "status must be a string or a number, not {}",
                super::util::type_name(other)
            )))
        }
    };
    Ok(match s.as_str() {
        "success" | "0x1" | "1" => (Status::Settled, None),
        "failed" | "0x0" | "0" => (
            Status::Failed,
            Some(reason_or(answer, "the transaction failed on chain")),
        ),
        "pending" => (Status::Broadcast, None),
        other => {
            return Err(X402Error::malformed(format!(
                "status {:?} is none of pending, success, failed, 0x1, 0x0",
                super::util::show(other)
            )))
        }
    })
}

fn reason_or(v: &Value, default: &str) -> String {
    let r = failure_reason(v);
    if r.starts_with("the facilitator answered") {
        default.to_string()
    } else {
        r
    }
}

/// What an answer to `/settle` means for these terms: the outcome with every
/// disagreement between payload, requirements and answer (which makes a
/// payment that moved money `disputed`, never dropped). Also checks who
/// signed: the signature must recover to `authorization.from`.
pub fn settlement(
    payload: &Value,
    requirements: &Value,
    answer: &Value,
    terms: &Terms,
) -> Result<Outcome> {
    settlement_with(payload, requirements, answer, terms, None, Vec::new())
}

/// [`settlement`] with what [`settlement_terms`] found already: the typed
/// payment when the payload and requirements read (its signer is recovered
/// from it, without reading them again), and the disagreements.
pub fn settlement_with(
    payload: &Value,
    requirements: &Value,
    answer: &Value,
    terms: &Terms,
    payment: Option<&AuthorizedPayment>,
    mut disputes: Vec<String>,
) -> Result<Outcome> {
    let mut o = outcome(answer)?;
    if o.status == Status::Failed {
        return Ok(o);
    }
    if let Some(p) = str_field(answer, "payer").filter(|p| !p.is_empty()) {
        match super::address::checksum_address(p) {
            Ok(p) if p == terms.payer => {}
            Ok(p) => disputes.push(format!(
                "settlement.payer {p} differs from the signer {}",
                terms.payer
            )),
            Err(e) => disputes.push(format!("settlement.payer: {}", e.message)),
        }
    }
    let signer = match payment {
        Some(p) => p.signer().map(|a| a.to_checksum()),
        None => recover_payer(payload, Some(requirements)),
    };
    match signer {
        Ok(signer) if signer == terms.payer => {}
        Ok(signer) => disputes.push(format!(
            "signature recovers to {signer}, not the payer it names {}",
            terms.payer
        )),
        Err(e) => disputes.push(format!("signature: {}", e.message)),
    }
    let version = payload_version(payload).unwrap_or(2);
    let upto = terms.scheme == "upto";
    let ceiling = U256::parse_decimal(&terms.amount).ok();
    // upto: the requirements given to /settle carry the amount to charge (at most the
    // signed ceiling); exact: the amount, which the signed one must equal.
    let charged = PaymentRequirements::parse(requirements, version).ok();
    if let Some(req) = &charged {
        if upto {
            if let Some(c) = ceiling.filter(|c| above(&req.amount, c)) {
                disputes.push(format!(
                    "requirements.amount {} (the charge) is above the signed ceiling {}",
                    req.amount.to_decimal_string(),
                    c.to_decimal_string()
                ));
            }
        } else if req.amount.to_decimal_string() != terms.amount {
            disputes.push(format!(
                "{} {} is not exactly the required {}",
                terms.amount_field(),
                terms.amount,
                req.amount.to_decimal_string()
            ));
        }
        if !terms.pay_to.is_empty() && req.pay_to.to_checksum() != terms.pay_to {
            disputes.push(format!(
                "the signed recipient {} differs from payTo {}",
                terms.pay_to,
                req.pay_to.to_checksum()
            ));
        }
    }
    if let Some(net) = str_field(answer, "network").filter(|n| !n.is_empty()) {
        match parse_network(net) {
            Ok(id) if id == terms.chain_id => {}
            _ => disputes.push(format!(
                "settlement.network {net} differs from requirements.network {}",
                terms.network()
            )),
        }
    }
    o.settled_amount = if upto {
        let charge = charged.as_ref().map(|r| r.amount);
        match answer_amount(answer)? {
            Some(a) => {
                if let Some(c) = ceiling.filter(|c| above(&a, c)) {
                    disputes.push(format!(
                        "settled {}, above the authorized ceiling {}",
                        a.to_decimal_string(),
                        c.to_decimal_string()
                    ));
                } else if let Some(c) = charge.filter(|c| *c != a) {
                    disputes.push(format!(
                        "settled {}, not the {} requirements.amount charges",
                        a.to_decimal_string(),
                        c.to_decimal_string()
                    ));
                }
                // The SDK's answer to a charge of 0: success, no transaction, nothing
                // moved (the permit's nonce stays unused on chain). Settled, for 0.
                if a.is_zero() && o.tx_hash.is_none() && o.status == Status::Broadcast {
                    o.status = Status::Settled;
                }
                Some(a.to_decimal_string())
            }
            // No amount in the answer (a broadcast one, or a facilitator that does
            // not echo it): what the requirements charged.
            None => match charge {
                Some(c) => Some(c.to_decimal_string()),
                None => {
                    disputes.push(
                        "neither the answer nor the requirements say how much settled (upto: amount)".into(),
                    );
                    None
                }
            },
        }
    } else {
        Some(terms.amount.clone())
    };
    if !disputes.is_empty() {
        o.status = Status::Disputed;
        o.dispute_reason = Some(disputes.join("; "));
    }
    Ok(o)
}

/// A row of the ledger as the journal needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub status: Status,
    pub tx_hash: Option<String>,
    pub terms: Terms,
}

/// What to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: this row already says it (a retry, or an answer it has gone past).
    Keep(String),
    /// A new row with this outcome.
    Insert(Outcome),
    /// Row `id` becomes this outcome (its hash kept when the outcome has none).
    Update(String, Outcome),
    /// 23505: this would record one thing as two.
    Conflict { message: String, detail: String },
}

fn conflict_with(row: &Row, terms: &Terms, what: &str) -> Decision {
    Decision::Conflict {
        message: what.to_string(),
        detail: format!(
            "recorded: {}, payer {}, amount {}, pay_to {}, network {}, asset {}, nonce {}; given: payer {}, amount {}, pay_to {}, network {}, asset {}, nonce {}",
            row.status.as_str(), row.terms.payer, row.terms.amount, row.terms.pay_to, row.terms.network(),
            row.terms.asset, row.terms.nonce, terms.payer, terms.amount, terms.pay_to, terms.network(),
            terms.asset, terms.nonce
        ),
    }
}

/// 23505 when the payment identifier already names another authorization.
fn payment_id_conflict(rows: &[Row], terms: &Terms) -> Option<Decision> {
    let id = terms.payment_id.as_ref()?;
    rows.iter()
        .find(|r| {
            r.status != Status::Failed
                && r.terms.payment_id.as_ref() == Some(id)
                && !r.terms.same_authorization(terms)
        })
        .map(|r| Decision::Conflict {
            message: format!("payment identifier {id} already names another payment"),
            detail: format!(
                "recorded: nonce {} of {} on {} ({}); given: nonce {} of {}",
                r.terms.nonce,
                r.terms.payer,
                r.terms.network(),
                r.status.as_str(),
                terms.nonce,
                terms.payer
            ),
        })
}

/// `begin_settlement`: the intent, unless the authorization has a live row
/// (a retried begin, or it is paid already: that row).
pub fn decide_begin(rows: &[Row], terms: &Terms) -> Decision {
    if let Some(c) = payment_id_conflict(rows, terms) {
        return c;
    }
    match rows
        .iter()
        .find(|r| r.status.is_live() && r.terms.same_authorization(terms))
    {
        Some(live) => Decision::Keep(live.id.clone()),
        None => Decision::Insert(Outcome {
            status: Status::Pending,
            tx_hash: None,
            settled_amount: None,
            dispute_reason: None,
            failure_reason: None,
        }),
    }
}

/// Where a row with hash `row` goes when an answer about the same transaction
/// says `new`.
fn progress(row: &Row, new: &Outcome) -> Decision {
    use Status::*;
    let keep = Decision::Keep(row.id.clone());
    let update = |o: Outcome| Decision::Update(row.id.clone(), o);
    let disputed = |why: String| {
        update(Outcome {
            status: Disputed,
            tx_hash: row.tx_hash.clone(),
            settled_amount: new.settled_amount.clone(),
            dispute_reason: Some(why),
            failure_reason: new.failure_reason.clone(),
        })
    };
    match (row.status, new.status) {
        (Disputed, _) => keep,
        (Settled, Settled) | (Settled, Broadcast) | (Broadcast, Broadcast) | (Failed, Failed) => {
            keep
        }
        (Broadcast, Settled) | (Broadcast, Failed) | (Broadcast, Disputed) | (Pending, _) => {
            update(new.clone())
        }
        (Settled, Failed) => disputed(format!(
            "transaction {} was recorded settled, then reported failed ({})",
            row.tx_hash.as_deref().unwrap_or("?"),
            new.failure_reason.as_deref().unwrap_or("no reason")
        )),
        (Failed, Settled) | (Failed, Broadcast) => disputed(format!(
            "transaction {} was recorded failed, then reported {}",
            row.tx_hash.as_deref().unwrap_or("?"),
            new.status.as_str()
        )),
        (Settled, Disputed) | (Failed, Disputed) => disputed(
            new.dispute_reason
                .clone()
                .unwrap_or_else(|| "the answers disagree".into()),
        ),
        (_, Pending) => keep,
    }
}

/// `record_settlement`: what an answer to `/settle` does to the ledger, given
/// every row of this authorization and of this transaction.
pub fn decide_record(rows: &[Row], terms: &Terms, new: &Outcome) -> Decision {
    // One hash is one settlement.
    if let Some(h) = &new.tx_hash {
        if let Some(row) = rows
            .iter()
            .find(|r| r.tx_hash.as_deref() == Some(h.as_str()))
        {
            if !row.terms.same_authorization(terms)
                || row.terms.pay_to != terms.pay_to
                || row.terms.amount != terms.amount
                || !row.terms.asset.eq_ignore_ascii_case(&terms.asset)
            {
                return conflict_with(
                    row,
                    terms,
                    &format!("transaction {h} is already recorded with different facts"),
                );
            }
            return progress(row, new);
        }
    }
    if let Some(c) = payment_id_conflict(rows, terms) {
        return c;
    }
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| r.terms.same_authorization(terms))
        .collect();
    let live = mine.iter().find(|r| r.status.is_live());
    match (new.status, live) {
        // A failure of an attempt that has no transaction yet ends it; a failure
        // while another transaction of it is under way or done is history.
        (Status::Failed, Some(row)) if row.tx_hash.is_none() => {
            Decision::Update(row.id.clone(), new.clone())
        }
        (Status::Failed, _) => Decision::Insert(new.clone()),
        // An answer without a hash (aggr_deferred) for an authorization already under way.
        (_, Some(row)) if new.tx_hash.is_none() => match row.status {
            Status::Pending => Decision::Update(row.id.clone(), new.clone()),
            _ => Decision::Keep(row.id.clone()),
        },
        // The intent, or a deferred answer, completed by this transaction.
        (_, Some(row)) if row.tx_hash.is_none() => Decision::Update(row.id.clone(), new.clone()),
        // Another transaction already used (or is using) this authorization:
        // on chain only one can have, so this one is disputed.
        (_, Some(row)) => Decision::Insert(disputed_second(new, row)),
        (_, None) => {
            // Disputed under another transaction already: disputed too.
            match mine
                .iter()
                .find(|r| r.status == Status::Disputed && r.tx_hash.is_some())
            {
                Some(row) if new.tx_hash.is_some() => Decision::Insert(disputed_second(new, row)),
                _ => Decision::Insert(new.clone()),
            }
        }
    }
}

fn disputed_second(new: &Outcome, first: &Row) -> Outcome {
    let note = format!(
        "authorization (nonce {}) already recorded under transaction {}: on chain only one of them can have used it",
        first.terms.nonce,
        first.tx_hash.as_deref().unwrap_or("(deferred)")
    );
    Outcome {
        status: Status::Disputed,
        dispute_reason: Some(match &new.dispute_reason {
            Some(r) => format!("{r}; {note}"),
            None => note,
        }),
        ..new.clone()
    }
}

/// `record_status`: what a status answer about a recorded transaction does.
pub fn decide_status(row: &Row, status: Status, reason: Option<String>) -> Decision {
    let new = Outcome {
        status,
        tx_hash: row.tx_hash.clone(),
        settled_amount: None,
        dispute_reason: None,
        failure_reason: if status == Status::Failed {
            reason
        } else {
            None
        },
    };
    progress(row, &new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";

    fn terms(nonce: &str) -> Terms {
        Terms {
            scheme: "exact".into(),
            chain_id: 196,
            asset: "0x4ae46a509F6b1D9056937BA4500cb143933D2dc8".into(),
            nonce_scope: "0x4ae46a509F6b1D9056937BA4500cb143933D2dc8".into(),
            pay_to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C".into(),
            payer: "0x857b06519E91e3A54538791bDbb0E22373e36b66".into(),
            amount: "10000".into(),
            nonce: nonce.into(),
            valid_before: Some(4_102_444_800),
            payment_id: None,
        }
    }

    fn row(id: &str, status: Status, hash: Option<&str>, t: Terms) -> Row {
        Row {
            id: id.into(),
            status,
            tx_hash: hash.map(str::to_string),
            terms: t,
        }
    }

    fn answer(v: Value) -> Outcome {
        outcome(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn answers_say_what_happened() {
        let ok = |v: Value| answer(v).status;
        assert_eq!(
            ok(json!({"success": true, "transaction": H1})),
            Status::Settled
        );
        assert_eq!(
            ok(json!({"success": true, "transaction": H1, "status": "success"})),
            Status::Settled
        );
        assert_eq!(
            ok(json!({"success": true, "transaction": H1, "status": "pending"})),
            Status::Broadcast
        );
        assert_eq!(
            ok(json!({"success": true, "transaction": H1, "status": "timeout"})),
            Status::Broadcast
        );
        assert_eq!(
            ok(json!({"success": true, "transaction": ""})),
            Status::Broadcast
        ); // aggr_deferred
        assert_eq!(ok(json!({"txHash": H1, "payer": "0x"})), Status::Settled); // the guide's mock
        let pending = answer(
            json!({"success": false, "errorReason": "settlement_pending", "transaction": H1}),
        );
        assert_eq!(
            (pending.status, pending.tx_hash.as_deref()),
            (Status::Broadcast, Some(H1))
        );
        let failed = answer(
            json!({"success": false, "errorReason": "transaction_failed", "transaction": H1}),
        );
        assert_eq!(
            (failed.status, failed.tx_hash.as_deref()),
            (Status::Failed, Some(H1))
        );
        assert_eq!(
            answer(json!({"success": false, "errorReason": "insufficient_funds"}))
                .failure_reason
                .as_deref(),
            Some("insufficient_funds")
        );
        for bad in [
            json!({"success": "yes"}),
            json!({"success": true, "transaction": "0x12"}),
            json!({"success": true, "transaction": H1, "status": "mined"}),
            json!({"success": true}),
            json!({"success": true, "transaction": null}),
        ] {
            assert_eq!(
                outcome(&bad).map_err(|e| e.kind),
                Err(super::super::ErrorKind::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn status_answers() {
        assert_eq!(
            status_answer(&json!({"status": "success"}))
                .ok()
                .map(|s| s.0),
            Some(Status::Settled)
        );
        assert_eq!(
            status_answer(&json!({"status": "0x1"})).ok().map(|s| s.0),
            Some(Status::Settled)
        );
        assert_eq!(
            status_answer(&json!({"status": 0})).ok().map(|s| s.0),
            Some(Status::Failed)
        );
        assert_eq!(
            status_answer(&json!({"status": "pending"}))
                .ok()
                .map(|s| s.0),
            Some(Status::Broadcast)
        );
        assert_eq!(
            status_answer(&json!({"success": false, "errorReason": "not_found"}))
                .ok()
                .map(|s| s.0),
            Some(Status::Broadcast)
        );
        assert!(status_answer(&json!({"status": "maybe"})).is_err());
        assert!(status_answer(&json!([1])).is_err());
    }

    #[test]
    fn the_sdks_pending_then_success() {
        let t = terms("0x01");
        let rows = vec![row("a", Status::Pending, None, t.clone())];
        let pending = answer(
            json!({"success": false, "errorReason": "settlement_pending", "transaction": H1}),
        );
        let d = decide_record(&rows, &t, &pending);
        assert!(
            matches!(&d, Decision::Update(id, o) if id == "a" && o.status == Status::Broadcast)
        );
        let rows = vec![row("a", Status::Broadcast, Some(H1), t.clone())];
        let done = answer(json!({"success": true, "transaction": H1}));
        assert!(
            matches!(decide_record(&rows, &t, &done), Decision::Update(id, o) if id == "a" && o.status == Status::Settled)
        );
        // and a settled row never goes back
        let rows = vec![row("a", Status::Settled, Some(H1), t.clone())];
        assert_eq!(
            decide_record(&rows, &t, &pending),
            Decision::Keep("a".into())
        );
        assert_eq!(
            decide_status(&rows[0], Status::Broadcast, None),
            Decision::Keep("a".into())
        );
    }

    #[test]
    fn okx_pending_then_status() {
        let t = terms("0x02");
        let rows = [row("a", Status::Broadcast, Some(H1), t.clone())];
        assert!(
            matches!(decide_status(&rows[0], Status::Settled, None), Decision::Update(_, o) if o.status == Status::Settled)
        );
        assert!(
            matches!(decide_status(&rows[0], Status::Failed, Some("reverted".into())),
                         Decision::Update(_, o) if o.status == Status::Failed && o.failure_reason.as_deref() == Some("reverted"))
        );
        assert_eq!(
            decide_status(&rows[0], Status::Broadcast, None),
            Decision::Keep("a".into())
        );
    }

    #[test]
    fn contradictions_are_disputed() {
        let t = terms("0x03");
        let settled = row("a", Status::Settled, Some(H1), t.clone());
        assert!(
            matches!(decide_status(&settled, Status::Failed, Some("x".into())),
                         Decision::Update(_, o) if o.status == Status::Disputed
                             && o.dispute_reason.as_deref().is_some_and(|r| r.contains("then reported failed")))
        );
        let failed = row("a", Status::Failed, Some(H1), t.clone());
        assert!(
            matches!(decide_status(&failed, Status::Settled, None), Decision::Update(_, o) if o.status == Status::Disputed)
        );
        // a second transaction for one authorization
        let second = answer(json!({"success": true, "transaction": H2}));
        assert!(
            matches!(decide_record(std::slice::from_ref(&settled), &t, &second),
                         Decision::Insert(o) if o.status == Status::Disputed && o.tx_hash.as_deref() == Some(H2))
        );
        // the same hash with other facts
        let mut other = t.clone();
        other.amount = "1".into();
        assert!(matches!(
            decide_record(
                &[settled],
                &other,
                &answer(json!({"success": true, "transaction": H1}))
            ),
            Decision::Conflict { .. }
        ));
    }

    #[test]
    fn deferred_answers_are_completed_by_their_hash() {
        let t = terms("0x04");
        let deferred = row("a", Status::Broadcast, None, t.clone());
        let again = answer(json!({"success": true, "transaction": ""}));
        assert_eq!(
            decide_record(std::slice::from_ref(&deferred), &t, &again),
            Decision::Keep("a".into())
        );
        let hashed = answer(json!({"success": true, "transaction": H1, "status": "success"}));
        assert!(matches!(decide_record(&[deferred], &t, &hashed),
                         Decision::Update(id, o) if id == "a" && o.tx_hash.as_deref() == Some(H1) && o.status == Status::Settled));
    }

    #[test]
    fn begin_and_payment_identifiers() {
        let mut t = terms("0x05");
        t.payment_id = Some("pay_0123456789abcdef".into());
        assert!(
            matches!(decide_begin(&[], &t), Decision::Insert(o) if o.status == Status::Pending)
        );
        let live = row("a", Status::Settled, Some(H1), t.clone());
        assert_eq!(
            decide_begin(std::slice::from_ref(&live), &t),
            Decision::Keep("a".into())
        );
        let mut other = terms("0x06");
        other.payment_id = t.payment_id.clone();
        assert!(
            matches!(decide_begin(std::slice::from_ref(&live), &other), Decision::Conflict { message, .. } if message.contains("pay_0123456789abcdef"))
        );
        assert!(matches!(
            decide_record(
                &[live],
                &other,
                &answer(json!({"success": true, "transaction": H2}))
            ),
            Decision::Conflict { .. }
        ));
        // a failed attempt does not hold the identifier
        let failed = row("b", Status::Failed, None, t.clone());
        assert!(matches!(
            decide_begin(&[failed], &other),
            Decision::Insert(_)
        ));
        for (id, ok) in [
            ("short", false),
            ("pay_0123456789abcdef", true),
            ("pay 0123456789abcdef", false),
            (&*"x".repeat(129), false),
            ("pay_0123456789abcdef\n", false),
        ] {
            let v = json!({"extensions": {"payment-identifier": {"info": {"id": id}}}});
            assert_eq!(payment_identifier(&v).is_ok(), ok, "{id:?}");
        }
    }

    #[test]
    fn failures() {
        let t = terms("0x07");
        let pending = row("a", Status::Pending, None, t.clone());
        let failed = answer(json!({"success": false, "errorReason": "insufficient_funds"}));
        assert!(
            matches!(decide_record(&[pending], &t, &failed), Decision::Update(id, o) if id == "a" && o.status == Status::Failed)
        );
        let settled = row("a", Status::Settled, Some(H1), t.clone());
        assert!(
            matches!(decide_record(&[settled], &t, &failed), Decision::Insert(o) if o.status == Status::Failed)
        );
    }
}
