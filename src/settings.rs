//! Every setting (GUC) the extension defines or observes, in one place.
//!
//! | setting              | context  | default | who may read it | why it is here |
//! |----------------------|----------|---------|-----------------|----------------|
//! | `request.jwt.claims` | USERSET  | unset   | the session that set it | PostgREST's and InsForge's per-request claims. The extension *defines* it (it is otherwise a placeholder) so that every change runs [`claims_generation`]'s assign hook: the claims cache then knows, with one integer compare, whether the value it parsed is still current. Values set before the library loaded (placeholders, `SET LOCAL`, savepoint stacks) are carried over by Postgres. |
//! | `request.headers`    | USERSET  | unset   | the session that set it | PostgREST's request headers (JSON, lower-case names). Observed the same way: in `claims_source = verified` mode the bearer token in `authorization` is what gets verified. |
//! | `insforge_integrations.jwt_audience` | SUSET | `''` | everyone | accepted `aud` values, comma-separated; empty: not checked |
//! | `insforge_integrations.jwt_issuers`  | SUSET | `''` | everyone | accepted `iss` values, comma-separated; empty: not checked |
//! | `insforge_integrations.jwt_roles`    | SUSET | `anon,authenticated` | everyone | accepted `role` claims |
//! | `insforge_integrations.jwt_leeway`   | SUSET | `30` | everyone | seconds of clock skew allowed on `exp`/`nbf` |
//! | `insforge_integrations.jwt_providers`| SUSET | `''` | everyone | accepted providers (`clerk`, `auth0`, …); empty: any |
//! | `insforge_integrations.strict`       | SUSET | `off` | everyone | `requesting_user_id()` raises 28000 for claims that fail validation |
//! | `insforge_integrations.claims_source`| SUSET | `setting` | everyone | `setting` (trust `request.jwt.claims`) or `verified` (trust only verified tokens) |
//! | `insforge_integrations.verified_claims` | SUSET, hidden | unset | the session | claims `insforge.authenticate()` verified, set transaction-locally; SUSET so that no ordinary role can forge it, and a setting so that parallel workers receive it |
//!
//! Names: the extension's own settings carry the library's name,
//! `insforge_integrations.`, and only that prefix is reserved
//! (`MarkGUCPrefixReserved`). The prefix `insforge.` is InsForge's
//! (`insforge.internal_schemas`, and `insforge.extension_grant_role` etc. of its
//! `insforge_pg_utils`): this library never defines, reserves or removes a
//! setting there. Version 0.1.0 used `insforge.*`; the 0.1.0 -> 0.2.0 update
//! script carries database and role settings over to the new names.
//!
//! No setting holds a secret: the JWT key lives in a superuser-only table
//! (`insforge.jwt_secret`), because every setting is readable through `SHOW`,
//! `current_setting()` or `pg_settings`, and `ALTER DATABASE … SET` values
//! through the world-readable `pg_db_role_setting`.
//!
//! Defining `request.jwt.claims` changes one observable detail: in a backend
//! where the library is loaded, `current_setting('request.jwt.claims', true)`
//! returns `''` rather than NULL before anything set it. That is what every
//! pooled PostgREST connection already returns after its first request, and why
//! InsForge's `auth.jwt()` wraps it in `nullif(…, '')`.

use pgrx::pg_sys;
use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};

/// Storage Postgres's GUC machinery writes a string setting's current value into.
pub struct GucString(UnsafeCell<*mut c_char>);

// SAFETY: a Postgres backend is single-threaded; the cell is only touched on
// the backend's main thread (by the GUC machinery and by our functions).
unsafe impl Sync for GucString {}

impl GucString {
    const fn new() -> Self {
        GucString(UnsafeCell::new(std::ptr::null_mut()))
    }

    /// The current value's bytes, or None when the setting has no value.
    ///
    /// The slice is valid until the setting next changes; callers copy what
    /// they keep.
    pub fn bytes(&self) -> Option<&'static [u8]> {
        // SAFETY: Postgres keeps either NULL or a NUL-terminated malloc'd
        // string in the cell, replaced (never mutated) on change.
        unsafe {
            let p = *self.0.get();
            if p.is_null() {
                None
            } else {
                Some(CStr::from_ptr(p).to_bytes())
            }
        }
    }
}

/// `request.jwt.claims`, as PostgREST and InsForge's backend set it.
pub static REQUEST_JWT_CLAIMS: GucString = GucString::new();
/// `request.headers`, as PostgREST sets it (JSON object, lower-case names).
pub static REQUEST_HEADERS: GucString = GucString::new();
pub static VERIFIED_CLAIMS: GucString = GucString::new();
pub static JWT_AUDIENCE: GucString = GucString::new();
pub static JWT_ISSUERS: GucString = GucString::new();
pub static JWT_ROLES: GucString = GucString::new();
pub static JWT_PROVIDERS: GucString = GucString::new();
pub static JWT_LEEWAY: GucCell<i32> = GucCell::new(30);
pub static STRICT: GucCell<bool> = GucCell::new(false);
pub static CLAIMS_SOURCE: GucCell<i32> = GucCell::new(ClaimsSource::Setting as i32);

/// Storage for a bool/int/enum setting.
pub struct GucCell<T: Copy>(UnsafeCell<T>);
// SAFETY: as for GucString.
unsafe impl<T: Copy> Sync for GucCell<T> {}
impl<T: Copy> GucCell<T> {
    const fn new(v: T) -> Self {
        GucCell(UnsafeCell::new(v))
    }
    pub fn get(&self) -> T {
        // SAFETY: Postgres writes the value in place on the backend's thread.
        unsafe { *self.0.get() }
    }
}

/// Which claims the identity functions trust (`insforge_integrations.claims_source`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClaimsSource {
    /// `request.jwt.claims`, as set by PostgREST or the backend (InsForge's behaviour).
    Setting = 0,
    /// Only claims from a verified token: `insforge.authenticate()` in this
    /// transaction, or the bearer token in `request.headers`.
    Verified = 1,
}

/// Which claims the identity functions trust, in effect now.
pub fn claims_source() -> ClaimsSource {
    with_effective(|e| e.claims_source)
}

/// Whether strict mode is in effect now.
pub fn strict() -> bool {
    with_effective(|e| e.strict)
}

/// The validation rules in effect now.
pub fn rules() -> insforge_core::validate::Rules {
    with_effective(|e| e.rules.clone())
}

/// What the settings the operator may configure are in effect now: each one's
/// value where a superuser set it (postgresql.conf, `ALTER SYSTEM`, `ALTER
/// DATABASE/ROLE ... SET`, a session's `SET`), else the operator's value for
/// this database (`insforge.database_settings`, see `database_settings`), else
/// its default. Computed once per generation (every change of a setting, of
/// the operator's table, and every transaction end bumps it).
pub struct Effective {
    pub rules: insforge_core::validate::Rules,
    pub strict: bool,
    pub claims_source: ClaimsSource,
}

pub fn with_effective<T>(f: impl FnOnce(&Effective) -> T) -> T {
    thread_local! {
        static EFFECTIVE: std::cell::RefCell<Option<(u64, Effective)>> =
            const { std::cell::RefCell::new(None) };
    }
    let generation = claims_generation();
    EFFECTIVE.with(|r| {
        let fresh = matches!(r.borrow().as_ref(), Some((g, _)) if *g == generation);
        if !fresh {
            // Computed before the borrow: reading the operator's table may run
            // Postgres code, which never calls back here, but keep the borrow short.
            let e = compute_effective();
            *r.borrow_mut() = Some((generation, e));
        }
        match r.borrow().as_ref() {
            Some((_, e)) => f(e),
            None => f(&compute_effective()),
        }
    })
}

/// The settings the operator may set for its database, by short name, in the
/// order of `insforge.settings()`.
pub const OPERATOR_SETTINGS: [&str; 7] = [
    "claims_source",
    "jwt_audience",
    "jwt_issuers",
    "jwt_leeway",
    "jwt_providers",
    "jwt_roles",
    "strict",
];

/// What an operator setting means, for `insforge.settings()`.
pub fn describe(name: &str) -> &'static str {
    match name {
        "claims_source" => "setting: trust request.jwt.claims (InsForge's behaviour); verified: trust only verified tokens",
        "jwt_audience" => "accepted aud values, comma-separated; empty: not checked",
        "jwt_issuers" => "accepted iss values, comma-separated; empty: not checked",
        "jwt_leeway" => "seconds of clock skew allowed on exp and nbf",
        "jwt_providers" => "accepted identity providers, comma-separated; empty: any",
        "jwt_roles" => "accepted role claims; the roles authenticate() and act_as() may switch to",
        "strict" => "requesting_user_id() raises 28000 for claims that fail validation",
        _ => "",
    }
}

/// Where a setting's value in effect comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    /// A superuser set it: configuration file, ALTER SYSTEM, ALTER DATABASE/ROLE
    /// ... SET, or a session's SET (the GUC's source is not its default).
    Superuser,
    /// The operator's value for this database (insforge.database_settings).
    Operator,
    /// Neither: the built-in default.
    Default,
}

/// The value in effect of operator setting `name` (one of
/// [`OPERATOR_SETTINGS`]) as canonical text, and where it comes from.
pub fn effective_value(name: &str) -> (String, Source) {
    if crate::database_settings::guc_was_set(name) {
        return (guc_text(name), Source::Superuser);
    }
    match crate::database_settings::operator_value(name) {
        Some(v) => (v, Source::Operator),
        None => (guc_text(name), Source::Default),
    }
}

/// The GUC's own current value, as canonical text.
pub fn guc_text(name: &str) -> String {
    let text = |g: &GucString| String::from_utf8_lossy(g.bytes().unwrap_or_default()).into_owned();
    match name {
        "claims_source" => match CLAIMS_SOURCE.get() {
            v if v == ClaimsSource::Verified as i32 => "verified".into(),
            _ => "setting".into(),
        },
        "jwt_audience" => text(&JWT_AUDIENCE),
        "jwt_issuers" => text(&JWT_ISSUERS),
        "jwt_leeway" => JWT_LEEWAY.get().to_string(),
        "jwt_providers" => text(&JWT_PROVIDERS),
        "jwt_roles" => text(&JWT_ROLES),
        "strict" => (if STRICT.get() { "on" } else { "off" }).into(),
        _ => String::new(),
    }
}

fn compute_effective() -> Effective {
    let value = |name: &str| effective_value(name).0;
    let list = |name: &str| insforge_core::validate::parse_list(&value(name));
    Effective {
        rules: insforge_core::validate::Rules {
            audiences: list("jwt_audience"),
            issuers: list("jwt_issuers"),
            roles: list("jwt_roles"),
            leeway: value("jwt_leeway").parse().unwrap_or(30),
            providers: list("jwt_providers"),
        },
        strict: value("strict") == "on",
        claims_source: if value("claims_source") == "verified" {
            ClaimsSource::Verified
        } else {
            ClaimsSource::Setting
        },
    }
}

struct EnumEntries([pg_sys::config_enum_entry; 3]);
// SAFETY: immutable table of 'static C strings.
unsafe impl Sync for EnumEntries {}
static CLAIMS_SOURCE_ENTRIES: EnumEntries = EnumEntries([
    pg_sys::config_enum_entry {
        name: c"setting".as_ptr(),
        val: ClaimsSource::Setting as i32,
        hidden: false,
    },
    pg_sys::config_enum_entry {
        name: c"verified".as_ptr(),
        val: ClaimsSource::Verified as i32,
        hidden: false,
    },
    pg_sys::config_enum_entry {
        name: std::ptr::null(),
        val: 0,
        hidden: false,
    },
]);

static CLAIMS_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Changes whenever anything an identity function's answer depends on may
/// have changed: `request.jwt.claims`, `request.headers`, any
/// `insforge_integrations.*` setting (any assignment, transaction or savepoint
/// rollback, RESET, DISCARD ALL, parallel worker start-up), or `insforge.authenticate()`. Never returns
/// 0, so 0 can mean "nothing cached".
#[inline]
pub fn claims_generation() -> u64 {
    CLAIMS_GENERATION.load(Ordering::Relaxed)
}

/// Marks every cached identity answer stale.
pub fn bump_generation() {
    CLAIMS_GENERATION.fetch_add(1, Ordering::Relaxed);
}

static TRANSACTION_SEQ: AtomicU64 = AtomicU64::new(1);

/// Changes at the end of every transaction of this backend: verified tokens
/// and validation results are never reused by the next transaction, whose
/// start time (the `now` of `exp` and `nbf`) and stored key may differ.
#[inline]
pub fn transaction_seq() -> u64 {
    TRANSACTION_SEQ.load(Ordering::Relaxed)
}

/// At the end of each transaction (commit, abort, prepare, in the leader and
/// in parallel workers): a new transaction sequence and claims generation, so
/// that no identity, verification or validation outlives the transaction it
/// was established in, even when the claims or headers were set for the whole
/// session (a direct or pooled connection).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn end_of_transaction(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_PARALLEL_ABORT
            | XACT_EVENT_PREPARE
    ) {
        TRANSACTION_SEQ.fetch_add(1, Ordering::Relaxed);
        bump_generation();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn bump_on_string(_newval: *const c_char, _extra: *mut c_void) {
    bump_generation();
}
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn bump_on_bool(_newval: bool, _extra: *mut c_void) {
    bump_generation();
}
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn bump_on_int(_newval: i32, _extra: *mut c_void) {
    bump_generation();
}

unsafe fn define_string(
    name: &'static CStr,
    short: &'static CStr,
    long: &'static CStr,
    cell: &'static GucString,
    boot: Option<&'static CStr>,
    context: pg_sys::GucContext::Type,
) {
    pg_sys::DefineCustomStringVariable(
        name.as_ptr(),
        short.as_ptr(),
        long.as_ptr(),
        cell.0.get(),
        boot.map_or(std::ptr::null(), CStr::as_ptr),
        context,
        pg_sys::GUC_NOT_IN_SAMPLE as i32,
        None,
        Some(bump_on_string),
        None,
    );
}

/// Registers the settings. Called once per backend from `_PG_init`.
pub fn init() {
    use pg_sys::GucContext::{PGC_SUSET, PGC_USERSET};
    // SAFETY: called from _PG_init on the backend's main thread; names,
    // descriptions, enum tables and storage are 'static.
    unsafe {
        define_string(
            c"request.jwt.claims",
            c"Claims of the current request's JWT, as JSON (set per transaction by PostgREST and InsForge).",
            c"Read by insforge.jwt(), insforge.requesting_user_id() and the claim accessors. Defined by insforge_integrations so that changes invalidate its parse cache; set it exactly as before.",
            &REQUEST_JWT_CLAIMS,
            None,
            PGC_USERSET,
        );
        define_string(
            c"request.headers",
            c"Headers of the current request, as JSON with lower-case names (set per transaction by PostgREST).",
            c"With insforge_integrations.claims_source = verified, the bearer token in its authorization header is verified to establish the request's claims.",
            &REQUEST_HEADERS,
            None,
            PGC_USERSET,
        );
        pg_sys::DefineCustomStringVariable(
            c"insforge_integrations.verified_claims".as_ptr(),
            c"Claims verified by insforge.authenticate() in this transaction (set by the extension only).".as_ptr(),
            c"".as_ptr(),
            VERIFIED_CLAIMS.0.get(),
            std::ptr::null(),
            PGC_SUSET,
            (pg_sys::GUC_NOT_IN_SAMPLE | pg_sys::GUC_NO_SHOW_ALL | pg_sys::GUC_DISALLOW_IN_FILE) as i32,
            None,
            Some(bump_on_string),
            None,
        );
        define_string(
            c"insforge_integrations.jwt_audience",
            c"Accepted JWT audiences (comma-separated); empty: audience not checked.",
            c"",
            &JWT_AUDIENCE,
            Some(c""),
            PGC_SUSET,
        );
        define_string(
            c"insforge_integrations.jwt_issuers",
            c"Accepted JWT issuers (comma-separated); empty: issuer not checked.",
            c"",
            &JWT_ISSUERS,
            Some(c""),
            PGC_SUSET,
        );
        define_string(c"insforge_integrations.jwt_roles", c"Accepted role claims (comma-separated).", c"insforge.authenticate() only switches to these roles; validation reports any other role claim.", &JWT_ROLES, Some(c"anon,authenticated"), PGC_SUSET);
        define_string(c"insforge_integrations.jwt_providers", c"Accepted identity providers (comma-separated: clerk, auth0, workos, kinde, stytch, better_auth, insforge); empty: any.", c"", &JWT_PROVIDERS, Some(c""), PGC_SUSET);
        pg_sys::DefineCustomIntVariable(
            c"insforge_integrations.jwt_leeway".as_ptr(),
            c"Seconds of clock skew allowed when checking exp and nbf.".as_ptr(),
            c"".as_ptr(),
            JWT_LEEWAY.0.get(),
            30,
            0,
            86400,
            PGC_SUSET,
            (pg_sys::GUC_NOT_IN_SAMPLE | pg_sys::GUC_UNIT_S) as i32,
            None,
            Some(bump_on_int),
            None,
        );
        pg_sys::DefineCustomBoolVariable(
            c"insforge_integrations.strict".as_ptr(),
            c"requesting_user_id() raises 28000 when the current claims fail validation.".as_ptr(),
            c"Off by default: InsForge behaviour is unchanged unless a project opts in.".as_ptr(),
            STRICT.0.get(),
            false,
            PGC_SUSET,
            pg_sys::GUC_NOT_IN_SAMPLE as i32,
            None,
            Some(bump_on_bool),
            None,
        );
        pg_sys::DefineCustomEnumVariable(
            c"insforge_integrations.claims_source".as_ptr(),
            c"Which claims the identity functions trust: setting (request.jwt.claims) or verified.".as_ptr(),
            c"verified: only claims established in this transaction by insforge.authenticate(), or by verifying the bearer token in request.headers with the stored key.".as_ptr(),
            CLAIMS_SOURCE.0.get(),
            ClaimsSource::Setting as i32,
            CLAIMS_SOURCE_ENTRIES.0.as_ptr(),
            PGC_SUSET,
            pg_sys::GUC_NOT_IN_SAMPLE as i32,
            None,
            Some(bump_on_int),
            None,
        );
        pg_sys::RegisterXactCallback(Some(end_of_transaction), std::ptr::null_mut());
        crate::database_settings::init();
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        pg_sys::MarkGUCPrefixReserved(c"insforge_integrations".as_ptr());
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        pg_sys::EmitWarningsOnPlaceholders(c"insforge_integrations".as_ptr());
    }
}
