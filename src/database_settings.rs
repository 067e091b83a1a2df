//! The operator's settings for its database: rows of `insforge.database_settings`
//! (sql/settings.sql), written with `insforge.set_setting()`.
//!
//! InsForge never hands a project a superuser, and every `insforge_integrations.*`
//! setting is SUSET (a client must never change them), so `ALTER DATABASE ... SET`
//! is out of the operator's reach. Instead the operator writes this table with
//! its own privileges; a trigger validates each value as the setting's own
//! parser would and stores it in canonical form. The identity functions read the
//! table directly (a heap scan: no privilege check, no policy, no trigger, no
//! planner), once, and again only after it changed: every write registers a
//! relcache invalidation of the table, which every backend processes at its next
//! transaction start, so pooled connections see a change at their next request
//! without a restart. Parallel workers read it themselves.
//!
//! Precedence (`settings::effective_value`): a value a superuser set (any GUC
//! source but the default: configuration file, ALTER SYSTEM, ALTER DATABASE/ROLE
//! ... SET, a session's SET) wins over the operator's, which wins over the
//! default.

use crate::errors::{raise, INVALID_PARAMETER};
use crate::settings::{bump_generation, OPERATOR_SETTINGS};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

const PREFIX: &str = "insforge_integrations.";

/// The table has changed (or was never read) since this backend last read it.
static STALE: AtomicBool = AtomicBool::new(true);
/// The table's OID when last found (0: not found).
static TABLE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static VALUES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

#[allow(clippy::declare_interior_mutable_const)]
const NO_GUC: AtomicPtr<pg_sys::config_generic> = AtomicPtr::new(std::ptr::null_mut());
/// Each operator setting's GUC record, found once after they are defined.
static GUCS: [AtomicPtr<pg_sys::config_generic>; OPERATOR_SETTINGS.len()] =
    [NO_GUC; OPERATOR_SETTINGS.len()];

/// Registers the relcache callback and finds the settings' GUC records. Called
/// from `settings::init()` after the settings are defined.
pub fn init() {
    // SAFETY: _PG_init time, backend main thread; the callback is 'static.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(relcache_changed), pg_sys::Datum::from(0usize));
        let (vars, n) = guc_variables();
        for i in 0..n {
            let var = *vars.add(i);
            if var.is_null() || (*var).name.is_null() {
                continue;
            }
            let name = CStr::from_ptr((*var).name).to_string_lossy();
            if let Some(short) = name.strip_prefix(PREFIX) {
                if let Some(k) = OPERATOR_SETTINGS.iter().position(|s| *s == short) {
                    GUCS[k].store(var, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
unsafe fn guc_variables() -> (*mut *mut pg_sys::config_generic, usize) {
    (
        pg_sys::get_guc_variables(),
        pg_sys::GetNumConfigOptions().max(0) as usize,
    )
}

#[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
unsafe fn guc_variables() -> (*mut *mut pg_sys::config_generic, usize) {
    let mut n: std::ffi::c_int = 0;
    let vars = pg_sys::get_guc_variables(&mut n);
    (vars, n.max(0) as usize)
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn relcache_changed(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let table = TABLE.load(Ordering::Relaxed);
    if table != 0 && (relid == pg_sys::InvalidOid || u32::from(relid) == table) {
        STALE.store(true, Ordering::Relaxed);
        bump_generation();
    }
}

/// True when a superuser set this setting (its GUC's source is not the default).
pub fn guc_was_set(name: &str) -> bool {
    let Some(k) = OPERATOR_SETTINGS.iter().position(|s| *s == name) else {
        return false;
    };
    let var = GUCS[k].load(Ordering::Relaxed);
    // SAFETY: a GUC record lives as long as the backend.
    !var.is_null() && unsafe { (*var).source } != pg_sys::GucSource::PGC_S_DEFAULT
}

/// The operator's value of `name` for this database, canonical, or None.
pub fn operator_value(name: &str) -> Option<String> {
    refresh();
    VALUES.with(|v| {
        v.borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    })
}

/// Every row the operator set, (name, canonical value), in name order.
pub fn operator_values() -> Vec<(String, String)> {
    refresh();
    VALUES.with(|v| v.borrow().clone())
}

/// The table's OID, or None when the extension has none here (before CREATE
/// EXTENSION finished, or in a database without it).
fn table_oid() -> Option<pg_sys::Oid> {
    // SAFETY: syscache lookups by name.
    unsafe {
        let ns = pg_sys::get_namespace_oid(c"insforge".as_ptr(), true);
        if ns == pg_sys::InvalidOid {
            return None;
        }
        let rel = pg_sys::get_relname_relid(c"database_settings".as_ptr(), ns);
        (rel != pg_sys::InvalidOid).then_some(rel)
    }
}

/// Reads the table when it changed since the last read (or is not known yet).
fn refresh() {
    // SAFETY: plain read of the transaction state.
    if !unsafe { pg_sys::IsTransactionState() } {
        return;
    }
    if !STALE.load(Ordering::Relaxed) && TABLE.load(Ordering::Relaxed) != 0 {
        return;
    }
    let Some(relid) = table_oid() else {
        TABLE.store(0, Ordering::Relaxed);
        VALUES.with(|v| v.borrow_mut().clear());
        return;
    };
    // SAFETY: opens the table with AccessShareLock, scans it with a catalog
    // snapshot and copies every row's two text columns out before closing.
    let rows = unsafe { scan(relid) };
    TABLE.store(relid.into(), Ordering::Relaxed);
    STALE.store(false, Ordering::Relaxed);
    VALUES.with(|v| *v.borrow_mut() = rows);
}

unsafe fn scan(relid: pg_sys::Oid) -> Vec<(String, String)> {
    let rel = pg_sys::table_open(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    let desc = (*rel).rd_att;
    let natts = (*desc).natts.max(0) as usize;
    let mut values = vec![pg_sys::Datum::from(0usize); natts];
    let mut nulls = vec![true; natts];
    let scan = pg_sys::systable_beginscan(
        rel,
        pg_sys::InvalidOid,
        false,
        std::ptr::null_mut(),
        0,
        std::ptr::null_mut(),
    );
    let mut rows = Vec::new();
    loop {
        let tuple = pg_sys::systable_getnext(scan);
        if tuple.is_null() {
            break;
        }
        pg_sys::heap_deform_tuple(tuple, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
        if natts >= 2 && !nulls[0] && !nulls[1] {
            let text = |d| String::from_utf8_lossy(crate::dbtext::text_bytes(d)).into_owned();
            rows.push((text(values[0]), text(values[1])));
        }
    }
    pg_sys::systable_endscan(scan);
    pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    rows.sort();
    rows
}

/// `name` as stored: the short name of an operator setting (with or without
/// the `insforge_integrations.` prefix). 22023 for anything else.
pub fn short_name(name: &str) -> &str {
    let short = name.trim().strip_prefix(PREFIX).unwrap_or(name.trim());
    if !OPERATOR_SETTINGS.contains(&short) {
        raise(
            INVALID_PARAMETER,
            format!("{name} is not a setting the operator may set"),
            Some(&format!(
                "The operator's settings are insforge_integrations.{{{}}}.",
                OPERATOR_SETTINGS.join(", ")
            )),
        );
    }
    short
}

/// `value` validated as setting `name` would validate it (22023 otherwise), in
/// canonical form: on/off, seconds, the enum's name, a trimmed list.
pub fn canonical(name: &str, value: &str) -> String {
    let full = CString::new(format!("{PREFIX}{name}")).unwrap_or_default();
    let Ok(v) = CString::new(value) else {
        raise(
            INVALID_PARAMETER,
            format!("{PREFIX}{name}: the value contains a NUL byte"),
            None,
        );
    };
    // SAFETY: validates only (changeVal = false): Postgres's own parser and
    // check hooks, raising its own 22023 for a bad value.
    unsafe {
        pg_sys::set_config_option(
            full.as_ptr(),
            v.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SET,
            false,
            pgrx::PgLogLevel::ERROR as i32,
            false,
        );
    }
    let list = || insforge_core::validate::parse_list(value);
    match name {
        "strict" => {
            let mut b = false;
            // SAFETY: a NUL-terminated string; validated above.
            unsafe { pg_sys::parse_bool(v.as_ptr(), &mut b) };
            (if b { "on" } else { "off" }).to_string()
        }
        "jwt_leeway" => {
            let mut secs: std::ffi::c_int = 0;
            // SAFETY: a NUL-terminated string; validated above (with its unit).
            unsafe {
                pg_sys::parse_int(
                    v.as_ptr(),
                    &mut secs,
                    pg_sys::GUC_UNIT_S as i32,
                    std::ptr::null_mut(),
                )
            };
            secs.to_string()
        }
        "claims_source" => value.trim().to_ascii_lowercase(),
        "jwt_roles" => {
            let roles = list();
            for role in &roles {
                if let Some(problem) = crate::session::privileged_role_problem(role) {
                    raise(
                        INVALID_PARAMETER,
                        format!("{PREFIX}jwt_roles lists client roles only: {problem}"),
                        Some("insforge.authenticate() and insforge.act_as() switch only to roles without administrative attributes."),
                    );
                }
            }
            roles.join(",")
        }
        "jwt_providers" => {
            let providers = list();
            if let Some(bad) = providers
                .iter()
                .find(|p| !insforge_core::validate::PROVIDERS.contains(&p.as_str()))
            {
                raise(
                    INVALID_PARAMETER,
                    format!("{PREFIX}jwt_providers: unknown provider {bad}"),
                    Some(&format!(
                        "Providers: {}.",
                        insforge_core::validate::PROVIDERS.join(", ")
                    )),
                );
            }
            providers.join(",")
        }
        _ => list().join(","),
    }
}

/// Registers a relcache invalidation of the table: every backend reads it again
/// at its next transaction (this one at its next command).
pub fn changed() {
    if let Some(relid) = table_oid() {
        // SAFETY: queues an invalidation message for a relation that exists.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
    }
}

/// The SQL functions (in the extension's schema, insforge).
pub mod sql {
    use crate::dbtext::DbText;
    use crate::settings::{effective_value, Source, OPERATOR_SETTINGS};
    use pgrx::prelude::*;

    /// Internal (the trigger of insforge.database_settings): the setting's name as stored.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn _setting_name(name: DbText) -> String {
        super::short_name(&name).to_string()
    }
    extension_sql!(
        r#"
-- The trigger's helpers are internal; operators get EXECUTE (sql/operator.sql),
-- since the trigger runs as whoever writes.
REVOKE ALL ON FUNCTION insforge._setting_name(text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._setting_name(text) IS
'Internal (trigger of insforge.database_settings): the setting''s name as stored, without the insforge_integrations. prefix; 22023 for a setting the operator may not set.';
"#,
        name = "setting_name_comment",
        requires = [_setting_name]
    );

    /// Internal (the trigger of insforge.database_settings): the value validated, in canonical form.
    #[pg_extern(stable, parallel_unsafe, strict)]
    fn _setting_value(name: DbText, value: DbText) -> String {
        super::canonical(super::short_name(&name), &value)
    }
    extension_sql!(
        r#"
REVOKE ALL ON FUNCTION insforge._setting_value(text, text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._setting_value(text, text) IS
'Internal (trigger of insforge.database_settings): the value validated by the setting''s own parser (22023 otherwise), in canonical form.';
"#,
        name = "setting_value_comment",
        requires = [_setting_value]
    );

    /// Internal (the trigger of insforge.database_settings): every backend reads
    /// the operator's settings again at its next transaction.
    #[pg_extern(volatile, parallel_unsafe)]
    fn _settings_changed() {
        super::changed();
    }
    extension_sql!(
        r#"
REVOKE ALL ON FUNCTION insforge._settings_changed() FROM PUBLIC;
COMMENT ON FUNCTION insforge._settings_changed() IS
'Internal (trigger of insforge.database_settings): every session reads the operator''s settings again at its next transaction.';
"#,
        name = "settings_changed_comment",
        requires = [_settings_changed]
    );

    /// Every setting the operator may configure: the value in effect, where it
    /// comes from (superuser: a configuration file, ALTER SYSTEM, ALTER
    /// DATABASE/ROLE ... SET or a session's SET; operator: insforge.set_setting();
    /// default), the operator's value if any, and what it means.
    #[pg_extern(stable, parallel_safe)]
    fn settings() -> TableIterator<
        'static,
        (
            name!(name, String),
            name!(value, String),
            name!(source, String),
            name!(operator_value, Option<String>),
            name!(description, String),
        ),
    > {
        let operator = super::operator_values();
        let rows: Vec<_> = OPERATOR_SETTINGS
            .iter()
            .map(|name| {
                let (value, source) = effective_value(name);
                let op = operator
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone());
                let source = match source {
                    Source::Superuser => "superuser",
                    Source::Operator => "operator",
                    Source::Default => "default",
                };
                (
                    format!("insforge_integrations.{name}"),
                    value,
                    source.to_string(),
                    op,
                    crate::settings::describe(name).to_string(),
                )
            })
            .collect();
        TableIterator::new(rows)
    }
    extension_sql!(
        r#"
COMMENT ON FUNCTION insforge.settings() IS
'Every insforge_integrations setting the operator may configure: the value in effect, its source (superuser: postgresql.conf, ALTER SYSTEM, ALTER DATABASE/ROLE ... SET or a session''s SET; operator: insforge.set_setting(); default), the operator''s value, and what it means.';
"#,
        name = "settings_comment",
        requires = [settings]
    );
}
