//! Every setting (GUC) the extension defines or observes, in one place.
//!
//! | setting              | context  | default | who may read it | why it is here |
//! |----------------------|----------|---------|-----------------|----------------|
//! | `request.jwt.claims` | USERSET  | unset   | the session that set it | PostgREST's and InsForge's per-request claims. The extension *defines* it (it is otherwise a placeholder) so that every change runs [`claims_generation`]'s assign hook: the claims cache then knows, with one integer compare, whether the value it parsed is still current. Values set before the library loaded (placeholders, `SET LOCAL`, savepoint stacks) are carried over by Postgres. |
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

static CLAIMS_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Changes whenever `request.jwt.claims` may have changed (any assignment,
/// transaction or savepoint rollback, RESET, DISCARD ALL, parallel worker
/// start-up). Never returns 0, so 0 can mean "nothing cached".
#[inline]
pub fn claims_generation() -> u64 {
    CLAIMS_GENERATION.load(Ordering::Relaxed)
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn bump_claims_generation(_newval: *const c_char, _extra: *mut c_void) {
    CLAIMS_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the settings. Called once per backend from `_PG_init`.
pub fn init() {
    // SAFETY: called from _PG_init on the backend's main thread; the name,
    // descriptions and storage are 'static.
    unsafe {
        pg_sys::DefineCustomStringVariable(
            c"request.jwt.claims".as_ptr(),
            c"Claims of the current request's JWT, as JSON (set per transaction by PostgREST and InsForge).".as_ptr(),
            c"Read by insforge.jwt(), insforge.requesting_user_id() and the claim accessors. Defined by insforge_integrations so that changes invalidate its parse cache; set it exactly as before.".as_ptr(),
            REQUEST_JWT_CLAIMS.0.get(),
            std::ptr::null(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GUC_NOT_IN_SAMPLE as i32,
            None,
            Some(bump_claims_generation),
            None,
        );
    }
}
