//! `insforge_integrations.claims_source = verified`: where trusted claims come from.
//!
//! 1. `insforge_integrations.verified_claims`, which only `insforge.authenticate()` sets
//!    (a SUSET setting, transaction-local: ordinary roles cannot forge it,
//!    savepoint rollback and transaction end undo it, and parallel workers
//!    receive it with the other settings);
//! 2. otherwise the bearer token in `request.headers` (`authorization: Bearer …`,
//!    as PostgREST sets it), verified with the stored key;
//! 3. otherwise no claims at all. A hand-written `request.jwt.claims` is never read.

use crate::errors::raise_jwt;
use crate::settings::{self, REQUEST_HEADERS, VERIFIED_CLAIMS};
use base64::Engine as _;
use insforge_core::jwt::{verify, JwtError, KeySet, VerifyOptions};
use insforge_core::validate::Rules;
use pgrx::pg_sys;
use std::borrow::Cow;
use std::cell::RefCell;

/// A bearer token taken as PostgREST takes it, for `insforge.authenticate()`
/// and `insforge.act_as()`: verified with the stored key, its claims validated
/// against the operator's rules at the transaction's start; 28000 otherwise.
/// Returns the claims and the rules they passed.
pub fn token_claims(token: &str) -> (serde_json::Map<String, serde_json::Value>, Rules) {
    let rules = settings::rules();
    let now = transaction_now();
    let claims = with_stored_keys(|keys| verify(token, keys, &options(&rules, now)))
        .unwrap_or_else(|e| raise_jwt(&e));
    let value = serde_json::Value::Object(claims);
    if let Some(first) = insforge_core::validate::validate_claims(&value, &rules, now).first() {
        raise_jwt(&JwtError::invalid(format!(
            "JWT claims failed validation: {first}"
        )));
    }
    let serde_json::Value::Object(claims) = value else {
        unreachable!("an object stays an object")
    };
    (claims, rules)
}

/// The trusted claims text for the current request, if any. Raises 28000 when
/// a bearer token is present but does not verify (PostgREST would have
/// refused it, so it was not PostgREST that set the header).
pub fn claims_text() -> Option<Cow<'static, [u8]>> {
    if let Some(v) = VERIFIED_CLAIMS.bytes().filter(|b| !b.is_empty()) {
        return Some(Cow::Borrowed(v));
    }
    let token = bearer_token()?;
    match verify_cached(&token) {
        Ok(payload) => Some(Cow::Owned(payload)),
        Err(e) => raise_jwt(&e),
    }
}

/// The token in `request.headers`' `authorization: Bearer …`, if any.
fn bearer_token() -> Option<String> {
    let headers: serde_json::Value = serde_json::from_slice(REQUEST_HEADERS.bytes()?).ok()?;
    let auth = headers.get("authorization")?.as_str()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Seconds since the Unix epoch at the start of the current transaction
/// (what `now()` returns): every check in one request uses the same instant.
pub fn transaction_now() -> i64 {
    // SAFETY: plain read of the transaction start timestamp.
    let ts = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    ts.div_euclid(1_000_000) + 946_684_800
}

/// Verification options from the settings, at the transaction's time.
pub fn options(rules: &Rules, now: i64) -> VerifyOptions {
    VerifyOptions {
        now,
        leeway: rules.leeway,
        audiences: Some(rules.audiences.clone()),
        issuers: Some(rules.issuers.clone()),
    }
}

struct TokenCacheEntry {
    token: String,
    /// The transaction it was verified in (settings::transaction_seq): a
    /// verification never outlives its transaction.
    transaction: u64,
    now: i64,
    rules: Rules,
    result: Result<Vec<u8>, JwtError>,
}

struct KeyCacheEntry {
    text: String,
    keys: KeySet,
}

thread_local! {
    static TOKEN: RefCell<Option<TokenCacheEntry>> = const { RefCell::new(None) };
    static KEY: RefCell<Option<KeyCacheEntry>> = const { RefCell::new(None) };
}

static VERIFICATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many bearer tokens this backend has verified (cache misses).
pub fn verification_count() -> u64 {
    VERIFICATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Forgets cached verifications and the parsed key (after `set_jwt_secret`).
pub fn forget() {
    TOKEN.with(|t| t.borrow_mut().take());
    KEY.with(|k| k.borrow_mut().take());
}

/// The payload JSON of `token` verified with the stored key and the settings,
/// cached per token for the transaction (a per-row policy verifies once). A
/// new transaction verifies again, with the key as it is then and against its
/// own start time: an expired token or a replaced key ends the identity at
/// the next transaction, however long the session keeps the header.
fn verify_cached(token: &str) -> Result<Vec<u8>, JwtError> {
    let now = transaction_now();
    let transaction = settings::transaction_seq();
    let rules = settings::rules();
    let hit = TOKEN.with(|t| {
        t.borrow()
            .as_ref()
            .filter(|e| {
                e.token == token && e.transaction == transaction && e.now == now && e.rules == rules
            })
            .map(|e| e.result.clone())
    });
    if let Some(result) = hit {
        return result;
    }
    VERIFICATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let result = with_stored_keys(|keys| {
        verify(token, keys, &options(&rules, now)).map(|_| payload_bytes(token))
    });
    TOKEN.with(|t| {
        *t.borrow_mut() = Some(TokenCacheEntry {
            token: token.to_string(),
            transaction,
            now,
            rules,
            result: result.clone(),
        })
    });
    result
}

/// Runs `f` with the parsed stored key; 28000 when none is configured.
pub fn with_stored_keys<T>(f: impl FnOnce(&KeySet) -> Result<T, JwtError>) -> Result<T, JwtError> {
    let text = stored_key_text().ok_or_else(|| {
        JwtError::invalid("no JWT key is configured for this database (the operator stores it with insforge.set_jwt_secret(): project_admin in InsForge, or a superuser)")
    })?;
    KEY.with(|k| {
        let mut slot = k.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.text != text) {
            let keys = KeySet::parse(&text)?;
            *slot = Some(KeyCacheEntry { text, keys });
        }
        match slot.as_ref() {
            Some(e) => f(&e.keys),
            None => Err(JwtError::invalid("JWT key cache is empty")),
        }
    })
}

/// The raw payload JSON of a token that already verified (so it decodes).
pub fn payload_bytes(token: &str) -> Vec<u8> {
    let payload = token.trim().split('.').nth(1).unwrap_or("");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap_or_default()
}

/// The key `insforge.set_jwt_secret()` stored, read through the SECURITY
/// DEFINER function `insforge._jwt_key()` (EXECUTE revoked from PUBLIC; called
/// through fmgr without that check, it switches to the key's role to read the
/// table).
fn stored_key_text() -> Option<String> {
    let oid = crate::fmgr::function_oid(c"insforge._jwt_key()");
    // SAFETY: no arguments; it returns a text ('' when no key is stored).
    let text = unsafe { crate::fmgr::call(oid, &[]) }
        // SAFETY: a text datum returned just now.
        .map(|d| String::from_utf8_lossy(unsafe { crate::dbtext::text_bytes(d) }).into_owned())
        .unwrap_or_default();
    (!text.is_empty()).then_some(text)
}
