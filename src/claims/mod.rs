//! The current request's claims: `request.jwt.claims`, parsed once per distinct value.
//!
//! Exactness comes from using Postgres's own code: the setting is parsed by
//! `jsonb_in` (what `::jsonb` runs, so the same errors and SQLSTATEs) and fields
//! are read with `jsonb_object_field_text` (what `->>` runs). Speed comes from
//! doing that once: the parsed value and the derived subject/role/email live in
//! a backend-local cache that is checked against the setting's generation
//! counter (see `settings`) with one integer compare per call. When the
//! generation moved but the text is byte-for-byte the same (PostgREST sets the
//! same claims again in the next transaction), nothing is re-parsed.

pub mod verified;

use crate::jsonb::pg;
use crate::settings::{self, claims_generation, ClaimsSource, REQUEST_JWT_CLAIMS};
use pgrx::pg_sys;
use std::borrow::Cow;
use std::cell::UnsafeCell;

/// What the cache knows about one value of `request.jwt.claims`.
pub struct Claims {
    /// The parsed claims (`jsonb` in `Cache::mcxt`), None when the setting is
    /// unset or empty.
    pub jsonb: Option<pg_sys::Datum>,
    /// `nullif(claims ->> 'sub', '')`
    pub sub: Option<Vec<u8>>,
    /// `nullif(claims ->> 'role', '')`
    pub role: Option<Vec<u8>>,
    /// `nullif(claims ->> 'email', '')`
    pub email: Option<Vec<u8>>,
    /// Validation problems, computed on first use for `problems_at`.
    problems: Vec<&'static str>,
    problems_at: u64,
}

impl Claims {
    const fn empty() -> Self {
        Claims {
            jsonb: None,
            sub: None,
            role: None,
            email: None,
            problems: Vec::new(),
            problems_at: 0,
        }
    }

    /// True when there are claims at all.
    pub fn present(&self) -> bool {
        self.jsonb.is_some()
    }

    /// The claims as serde JSON (for the pure validation core).
    pub fn to_value(&self) -> serde_json::Value {
        self.jsonb
            .map(pg::jsonb_to_value)
            .unwrap_or(serde_json::Value::Null)
    }

    /// `insforge.validate_claims()` of these claims under the current settings,
    /// at the transaction's time; cached per request.
    pub fn problems(&mut self) -> &[&'static str] {
        let generation = claims_generation();
        if self.problems_at != generation {
            self.problems = if self.present() {
                insforge_core::validate::validate_claims(
                    &self.to_value(),
                    &settings::rules(),
                    verified::transaction_now(),
                )
            } else {
                Vec::new()
            };
            self.problems_at = generation;
        }
        &self.problems
    }

    /// An anonymous request: no claims, or role `anon` without a subject.
    pub fn anonymous(&self) -> bool {
        !self.present() || (self.sub.is_none() && self.role.as_deref() == Some(b"anon"))
    }
}

struct Cache {
    /// Generation the cache was last confirmed at; 0 means "check again".
    confirmed_at: u64,
    /// True when `key`/`claims` hold a completed parse (of `key`).
    parsed: bool,
    /// The claims text the cache was built from (None: no claims).
    key: Option<Vec<u8>>,
    /// Holds the parsed jsonb; reset before each re-parse.
    mcxt: pg_sys::MemoryContext,
    claims: Claims,
}

struct BackendLocal(UnsafeCell<Option<Cache>>);
// SAFETY: a Postgres backend runs our code on one thread only.
unsafe impl Sync for BackendLocal {}
static CACHE: BackendLocal = BackendLocal(UnsafeCell::new(None));

/// Counts how often the claims text was actually parsed in this backend
/// (exposed to tests through `insforge._claims_parse_count()`).
static PARSES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn parse_count() -> u64 {
    PARSES.load(std::sync::atomic::Ordering::Relaxed)
}

/// The claims for the current value of `request.jwt.claims`, parsing it if
/// this value has not been seen. Raises the jsonb input error for malformed
/// JSON (the cache is left empty, so the next call raises it again).
///
/// The reference is valid until the next call of `current()`.
pub fn current() -> &'static mut Claims {
    let generation = claims_generation();
    // SAFETY: single-threaded backend; callers copy what they need before
    // calling again, so no other reference into CACHE is live here.
    let slot = unsafe { &mut *CACHE.0.get() };
    let cache = slot.get_or_insert_with(|| Cache {
        confirmed_at: 0,
        parsed: false,
        key: None,
        // SAFETY: TopMemoryContext lives for the whole backend.
        mcxt: unsafe {
            pg_sys::AllocSetContextCreateInternal(
                pg_sys::TopMemoryContext,
                c"insforge claims cache".as_ptr(),
                pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
                pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            )
        },
        claims: Claims::empty(),
    });
    if cache.confirmed_at == generation {
        return &mut cache.claims;
    }
    let text: Option<Cow<'static, [u8]>> = match settings::claims_source() {
        ClaimsSource::Setting => REQUEST_JWT_CLAIMS
            .bytes()
            .filter(|b| !b.is_empty())
            .map(Cow::Borrowed),
        ClaimsSource::Verified => verified::claims_text(),
    };
    let text = text.as_deref();
    if cache.parsed && cache.key.as_deref() == text {
        cache.confirmed_at = generation;
        return &mut cache.claims;
    }
    // Invalidate first: if parsing raises, nothing stale survives.
    cache.confirmed_at = 0;
    cache.parsed = false;
    cache.key = None;
    cache.claims = Claims::empty();
    // SAFETY: the context is ours; nothing outside the cache points into it
    // (values handed to callers are copies).
    unsafe { pg_sys::MemoryContextReset(cache.mcxt) };
    if let Some(bytes) = text {
        PARSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let jsonb = pg::parse_in(bytes, cache.mcxt);
        cache.claims = Claims {
            jsonb: Some(jsonb),
            sub: pg::field_text_nonempty(jsonb, c"sub"),
            role: pg::field_text_nonempty(jsonb, c"role"),
            email: pg::field_text_nonempty(jsonb, c"email"),
            problems: Vec::new(),
            problems_at: 0,
        };
        cache.key = Some(bytes.to_vec());
    }
    cache.parsed = true;
    cache.confirmed_at = generation;
    &mut cache.claims
}
