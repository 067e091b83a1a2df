//! Making the rest of a transaction a client's request, as PostgREST does:
//! `role` and `request.jwt.claims` set transaction-locally.
//!
//! Used by `insforge.authenticate()` (direct connections, from a verified
//! token) and `insforge.act_as()` (the operator testing a policy). Both run in
//! sessions whose *session user* may be a superuser: InsForge's PostgREST and
//! its backend connect as the bootstrap superuser and switch roles per request.
//! Postgres lets such a session switch to any role, so [`become_client`]
//! refuses, before Postgres is asked, every role that holds more than a
//! client may: superusers, roles with CREATEROLE or REPLICATION, PostgreSQL's
//! predefined roles (`pg_*`) and every role with the privileges of one of
//! those that reach past a client's tables (reading or writing all data,
//! server files and programs, settings, statistics, signals, maintenance),
//! and the extension's own `insforge_integrations_secrets` and every role
//! with its privileges (SECURITY.md, "Switching roles").

use crate::errors::{raise, INSUFFICIENT_PRIVILEGE};
use pgrx::pg_sys;
use std::ffi::CString;

/// Roles whose privileges a client's role may not have: the predefined roles
/// that reach past the tables a client is granted (all data, server files and
/// programs, every setting and statistic, signals, maintenance, subscriptions,
/// reserved connections; those a version lacks are skipped) and the role that
/// owns the extension's secrets.
const HELD_ROLES_REFUSED: &[&std::ffi::CStr] = &[
    crate::sql_jwt::SECRETS_ROLE,
    c"pg_read_server_files",
    c"pg_write_server_files",
    c"pg_execute_server_program",
    c"pg_read_all_data",
    c"pg_write_all_data",
    c"pg_read_all_settings",
    c"pg_read_all_stats",
    c"pg_stat_scan_tables",
    c"pg_monitor",
    c"pg_signal_backend",
    c"pg_signal_autovacuum_worker",
    c"pg_checkpoint",
    c"pg_maintain",
    c"pg_create_subscription",
    c"pg_use_reserved_connections",
];

/// Why `role` may not be taken on as a client's role, or None. A role that
/// does not exist is left to Postgres (22023 from `set_config('role', …)`).
pub fn privileged_role_problem(role: &str) -> Option<String> {
    let name = CString::new(role).ok()?;
    // SAFETY: catalog lookups by name and oid; no allocation is kept.
    unsafe {
        let oid = pg_sys::get_role_oid(name.as_ptr(), true);
        if oid == pg_sys::InvalidOid {
            return None;
        }
        if pg_sys::superuser_arg(oid) {
            return Some(format!("role {role} is a superuser"));
        }
        if pg_sys::has_createrole_privilege(oid) {
            return Some(format!("role {role} has CREATEROLE"));
        }
        if pg_sys::has_rolreplication(oid) {
            return Some(format!("role {role} has REPLICATION"));
        }
        if role.starts_with("pg_") {
            return Some(format!(
                "role {role} is one of PostgreSQL's predefined roles"
            ));
        }
        for held in HELD_ROLES_REFUSED {
            let held_oid = pg_sys::get_role_oid(held.as_ptr(), true);
            if held_oid != pg_sys::InvalidOid && pg_sys::has_privs_of_role(oid, held_oid) {
                let held = held.to_string_lossy();
                return Some(if *held == *role {
                    format!("role {role} is the extension's own role for its secrets")
                } else {
                    format!("role {role} has the privileges of {held}")
                });
            }
        }
    }
    None
}

/// Raises 42501, naming `who`, when `role` is privileged
/// ([`privileged_role_problem`]).
pub fn refuse_privileged(role: &str, who: &str) {
    if let Some(problem) = privileged_role_problem(role) {
        raise(
            INSUFFICIENT_PRIVILEGE,
            format!("{who} refuses to switch to role {role}: {problem}"),
            Some("Only client roles (anon, authenticated, or an application role without administrative attributes) can be taken on from a token or claims."),
        );
    }
}

/// For the rest of the transaction: role `role`, `request.jwt.claims` =
/// `claims`, and (when `verified`) the extension's SUSET copy of them that
/// `claims_source = verified` trusts. Raises 42501 for a privileged role
/// ([`privileged_role_problem`]); Postgres's own SET ROLE rules apply after
/// that (42501 when the session may not become the role).
pub fn become_client(role: &str, claims: &str, verified: bool, who: &str) {
    refuse_privileged(role, who);
    set_local("role", role, pg_sys::GucContext::PGC_USERSET);
    set_local(
        "request.jwt.claims",
        claims,
        pg_sys::GucContext::PGC_USERSET,
    );
    set_local(
        "insforge_integrations.verified_claims",
        if verified { claims } else { "" },
        pg_sys::GucContext::PGC_SUSET,
    );
}

/// `set_config(name, value, true)` with the given context (SUSET for the
/// extension's own verified-claims setting).
pub fn set_local(name: &str, value: &str, context: pg_sys::GucContext::Type) {
    let (Ok(n), Ok(v)) = (CString::new(name), CString::new(value)) else {
        raise(
            crate::errors::INVALID_PARAMETER,
            format!("{name} value contains a NUL byte"),
            None,
        );
    };
    // SAFETY: NUL-terminated strings; errors (e.g. SET ROLE without
    // membership, 42501) are raised by Postgres itself.
    unsafe {
        pg_sys::set_config_option(
            n.as_ptr(),
            v.as_ptr(),
            context,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            0,
            false,
        );
    }
}
