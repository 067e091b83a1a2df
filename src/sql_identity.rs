//! SQL shells for identity and claim accessors (`sql/identity.sql` declares them).
//!
//! These are plain V1 C functions rather than `#[pg_extern]`s: they sit in RLS
//! policies and run once per row, so they keep a per-call-site cache in
//! `fn_extra` and return the cached datum while the claims generation has not
//! moved. Each is wrapped by `#[pg_guard]`, so a Rust panic becomes an ERROR.

use crate::claims::{self, Claims};
use crate::dbtext;
use crate::errors::{raise, INVALID_AUTHORIZATION};
use crate::jsonb::pg;
use crate::settings::{self, claims_generation};
use pgrx::fcinfo::{pg_getarg_datum_raw, pg_return_null};
use pgrx::pg_sys;

/// Exports `$impl` as the V1 function `$name` (with its `pg_finfo_$name` record),
/// behind `#[pg_guard]`.
macro_rules! v1_function {
    ($finfo:ident, $name:ident, $impl:ident) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pg_sys::Pg_finfo_record {
            const V1_API: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1_API
        }

        #[no_mangle]
        #[doc(hidden)]
        #[pgrx::pg_guard]
        pub unsafe extern "C-unwind" fn $name(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
            $impl(fcinfo)
        }
    };
}

/// The value a call site returned last, and the claims generation it is valid for.
struct SiteCache {
    generation: u64,
    value: Option<pg_sys::Datum>,
}

/// Returns `pick(current claims)` as text, cached per call site.
///
/// The datum handed back lives in `fn_mcxt` (as long as the expression), and a
/// new copy is made only when the value itself changes, so a per-row call costs
/// one integer compare.
unsafe fn site_cached_text(
    fcinfo: pg_sys::FunctionCallInfo,
    pick: fn(&Claims) -> Option<&[u8]>,
    strict: bool,
) -> pg_sys::Datum {
    let flinfo = (*fcinfo).flinfo;
    let generation = claims_generation();
    if flinfo.is_null() {
        return match pick(checked_claims(strict)) {
            Some(bytes) => dbtext::text_datum(bytes),
            None => pg_return_null(fcinfo),
        };
    }
    let mut site = (*flinfo).fn_extra.cast::<SiteCache>();
    if !site.is_null() && (*site).generation == generation {
        return match (*site).value {
            Some(d) => d,
            None => pg_return_null(fcinfo),
        };
    }
    let picked = pick(checked_claims(strict));
    if site.is_null() {
        site =
            pg_sys::MemoryContextAlloc((*flinfo).fn_mcxt, std::mem::size_of::<SiteCache>()).cast();
        site.write(SiteCache {
            generation: 0,
            value: None,
        });
        (*flinfo).fn_extra = site.cast();
    }
    let unchanged = match ((*site).value, picked) {
        (Some(d), Some(bytes)) => dbtext::text_bytes(d) == bytes,
        (None, None) => true,
        _ => false,
    };
    if !unchanged {
        (*site).value = picked.map(|bytes| {
            let old = pg_sys::MemoryContextSwitchTo((*flinfo).fn_mcxt);
            let d = dbtext::text_datum(bytes);
            pg_sys::MemoryContextSwitchTo(old);
            d
        });
    }
    (*site).generation = generation;
    match (*site).value {
        Some(d) => d,
        None => pg_return_null(fcinfo),
    }
}

unsafe fn jwt_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    match claims::current().jsonb {
        Some(jsonb) => dbtext::copy_varlena(jsonb),
        None => pg_return_null(fcinfo),
    }
}
v1_function!(pg_finfo_insforge_jwt, insforge_jwt, jwt_impl);

/// The current claims; with `strict` and `insforge_integrations.strict = on`, raises 28000
/// when they fail validation (anonymous requests pass: they have no subject).
fn checked_claims(strict: bool) -> &'static Claims {
    let claims = claims::current();
    if strict && settings::strict() && !claims.anonymous() {
        if let Some(first) = claims.problems().first() {
            let first = *first;
            raise(
                INVALID_AUTHORIZATION,
                format!("request claims failed validation: {first} (insforge_integrations.strict is on)"),
                Some("SELECT insforge.validate_claims(insforge.jwt()) lists every problem."),
            );
        }
    }
    claims
}

unsafe fn requesting_user_id_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    site_cached_text(fcinfo, |c| c.sub.as_deref(), true)
}
v1_function!(
    pg_finfo_insforge_requesting_user_id,
    insforge_requesting_user_id,
    requesting_user_id_impl
);

unsafe fn role_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    site_cached_text(fcinfo, |c| c.role.as_deref(), false)
}
v1_function!(pg_finfo_insforge_role, insforge_role, role_impl);

unsafe fn email_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    site_cached_text(fcinfo, |c| c.email.as_deref(), false)
}
v1_function!(pg_finfo_insforge_email, insforge_email, email_impl);

// claim(key text): STRICT, so the argument is never NULL here.
unsafe fn claim_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let key = pg_getarg_datum_raw(fcinfo, 0);
    match claims::current()
        .jsonb
        .and_then(|j| pg::field_text_datum(j, key))
    {
        Some(d) => d,
        None => pg_return_null(fcinfo),
    }
}
v1_function!(pg_finfo_insforge_claim, insforge_claim, claim_impl);

// claim_path(VARIADIC path text[]): STRICT.
unsafe fn claim_path_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let path = pg_getarg_datum_raw(fcinfo, 0);
    match claims::current()
        .jsonb
        .and_then(|j| pg::path_text_datum(j, path))
    {
        Some(d) => d,
        None => pg_return_null(fcinfo),
    }
}
v1_function!(
    pg_finfo_insforge_claim_path,
    insforge_claim_path,
    claim_path_impl
);

// has_claim(key text, value text): STRICT.
unsafe fn has_claim_impl(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let key = pg_getarg_datum_raw(fcinfo, 0);
    let value = dbtext::text_bytes(pg_getarg_datum_raw(fcinfo, 1));
    let found = claims::current()
        .jsonb
        .is_some_and(|j| pg::has_claim(j, key, value));
    pg_sys::Datum::from(found)
}
v1_function!(
    pg_finfo_insforge_has_claim,
    insforge_has_claim,
    has_claim_impl
);

unsafe fn claims_parse_count_impl(_fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    pg_sys::Datum::from(claims::parse_count() as i64)
}
v1_function!(
    pg_finfo_insforge_claims_parse_count,
    insforge_claims_parse_count,
    claims_parse_count_impl
);
