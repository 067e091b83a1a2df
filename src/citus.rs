//! Citus: making a request's identity reach the workers (docs/citus.md).
//!
//! On a Citus coordinator, row-level security of a distributed table is
//! evaluated on the workers, in backends Citus opens as the current role. The
//! workers see the request's `request.jwt.claims` only when the coordinator
//! sends it: Citus never propagates `set_config()`, and propagates `SET LOCAL`
//! only with `citus.propagate_set_commands = 'local'`, only inside a
//! transaction block, and only when the statement's text is the `SET`
//! statement alone (Citus forwards the text it was given). So
//! [`propagate_identity`] sets `citus.propagate_set_commands` to `local` for
//! the transaction and runs `SET LOCAL "request.jwt.claims" TO '…'` and `SET
//! LOCAL "request.headers" TO '…'` as statements of their own, with the values
//! the coordinator holds, byte for byte. Citus sends them to the worker
//! connections the transaction already has and to every one it opens later,
//! and undoes them with the (sub)transaction, so a rolled-back savepoint takes
//! its claims away on the workers too.
//!
//! Without Citus (its library not loaded), every function here returns at
//! once: [`pre_request`] costs a function call and one cached check.

use crate::errors::raise;
use crate::session;
use crate::settings::{REQUEST_HEADERS, REQUEST_JWT_CLAIMS};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CString;
use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not checked yet; 1: Citus is not loaded; 2: it is.
static LOADED: AtomicU8 = AtomicU8::new(0);

/// True when the Citus library is loaded in this backend: its setting
/// `citus.propagate_set_commands` exists and is not a placeholder. Citus
/// can only be loaded through `shared_preload_libraries`, so the answer is
/// the same for the backend's whole life and is computed once.
pub fn loaded() -> bool {
    match LOADED.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // SAFETY: a lookup of a setting's flags by name; 0 when it does not exist.
            let flags = unsafe {
                pg_sys::GetConfigOptionFlags(c"citus.propagate_set_commands".as_ptr(), true)
            };
            let exists = unsafe {
                !pg_sys::GetConfigOption(c"citus.propagate_set_commands".as_ptr(), true, false)
                    .is_null()
            };
            let yes = exists && flags & pg_sys::GUC_CUSTOM_PLACEHOLDER as i32 == 0;
            LOADED.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

/// Runs `SET LOCAL "<name>" TO <value>` as one SPI statement, the statement's
/// whole text, so that Citus records it for the workers.
fn set_local_statement(name: &str, value: &[u8]) {
    let mut text = format!("SET LOCAL \"{name}\" TO ").into_bytes();
    text.extend_from_slice(&insforge_core::sqltext::literal(value));
    let Ok(text) = CString::new(text) else {
        raise(
            crate::errors::INVALID_PARAMETER,
            format!("{name} holds a NUL byte"),
            None,
        );
    };
    // SAFETY: SPI bracketed by connect/finish; an ERROR inside unwinds through
    // pgrx's guard and SPI is cleaned up by the transaction abort.
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            raise(
                pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                "SPI_connect failed",
                None,
            );
        }
        let rc = pg_sys::SPI_execute(text.as_ptr(), false, 0);
        if rc != pg_sys::SPI_OK_UTILITY as i32 {
            raise(
                pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("SET LOCAL \"{name}\" failed (SPI code {rc})"),
                None,
            );
        }
        pg_sys::SPI_finish();
    }
}

/// Sends the request's identity to the Citus workers for the rest of the
/// transaction: `request.jwt.claims` and `request.headers` as the coordinator
/// holds them now (empty when unset, so that a value from earlier in the
/// transaction does not linger on a worker). No-op without Citus or outside
/// a transaction block (where there is nothing later to send them to).
///
/// Both values are read before anything is set, and each is set with one
/// statement; an error in either (a worker that cannot be reached) aborts the
/// transaction or savepoint, which Citus undoes on every worker with it.
pub fn propagate_identity() {
    // SAFETY: plain read of transaction state.
    if !loaded() || !unsafe { pg_sys::IsTransactionBlock() } {
        return;
    }
    let claims = REQUEST_JWT_CLAIMS.bytes().unwrap_or_default().to_vec();
    let headers = REQUEST_HEADERS.bytes().unwrap_or_default().to_vec();
    session::set_local(
        "citus.propagate_set_commands",
        "local",
        pg_sys::GucContext::PGC_USERSET,
    );
    set_local_statement("request.jwt.claims", &claims);
    set_local_statement("request.headers", &headers);
}

/// `request.headers` with `authorization: Bearer <token>`: the current value
/// when it is a JSON object (its other headers kept), otherwise a new object.
pub fn headers_with_bearer(token: &str) -> Vec<u8> {
    let mut map = REQUEST_HEADERS
        .bytes()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| match v {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    map.insert(
        "authorization".to_string(),
        serde_json::Value::String(format!("Bearer {}", token.trim())),
    );
    serde_json::to_vec(&serde_json::Value::Object(map)).unwrap_or_default()
}

/// PostgREST's `db-pre-request` for a Citus coordinator: sends the request's
/// claims and headers to the workers (see the module). Executable by every
/// role: PostgREST calls it after switching to the request's role. Without
/// Citus it returns at once.
#[pg_extern(volatile, parallel_unsafe)]
fn pre_request() {
    propagate_identity();
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.pre_request() IS
'PostgREST''s db-pre-request for a Citus coordinator (PGRST_DB_PRE_REQUEST=insforge.pre_request): sends the request''s request.jwt.claims and request.headers to the Citus workers for the rest of the transaction (SET LOCAL with citus.propagate_set_commands = local), so that policies on distributed tables see the requesting user. Without Citus, or outside a transaction block, it does nothing.';
"#,
    name = "pre_request_comment",
    requires = [pre_request]
);

/// Internal (EXECUTE revoked from PUBLIC, so run only by superusers: the
/// extension's SECURITY DEFINER functions owned by its owner call it): on a
/// Citus coordinator with active primary workers, runs `command` on each of
/// them through Citus's `master_run_on_worker()`, as the current user (the
/// extension's owner, a superuser, as Citus's own node-to-node connections
/// are), and returns how many nodes ran it. Returns 0, doing nothing, without
/// Citus, on a node that is not the coordinator (so a worker running the
/// command does not send it on), with no workers, and inside an extension
/// script (CREATE/ALTER EXTENSION, which Citus propagates by itself).
///
/// Those runs are not part of the caller's transaction (each commits on its
/// node), so it refuses to run inside a transaction block (25001): a rollback
/// there would leave the workers changed and the coordinator not. A worker
/// that cannot be reached or raises an error makes it raise 08000 naming the
/// node and its error; the others keep what they did, and running the same
/// call again is the remedy. `what` names the operator's call in messages.
#[pg_extern(name = "_on_other_nodes", volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn on_other_nodes(command: crate::dbtext::DbText, what: crate::dbtext::DbText) -> i32 {
    // SAFETY: plain read of a backend global.
    if !loaded() || unsafe { pg_sys::creating_extension } {
        return 0;
    }
    let nodes = Spi::connect(|c| {
        let coordinator = c
            .select(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')
                    AND pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL",
                None,
                &[],
            )?
            .first()
            .get_one::<bool>()?
            == Some(true);
        if !coordinator {
            return Ok(Vec::new());
        }
        if c.select(
            "SELECT 1 FROM pg_catalog.pg_dist_local_group WHERE groupid = 0",
            None,
            &[],
        )?
        .is_empty()
        {
            return Ok(Vec::new());
        }
        let mut nodes = Vec::new();
        for row in c.select(
            "SELECT nodename::text, nodeport FROM pg_catalog.pg_dist_node
              WHERE isactive AND noderole = 'primary' AND groupid <> 0
              ORDER BY nodeid",
            None,
            &[],
        )? {
            if let (Some(n), Some(p)) = (row.get::<String>(1)?, row.get::<i32>(2)?) {
                nodes.push((n, p));
            }
        }
        Ok::<_, pgrx::spi::SpiError>(nodes)
    })
    .unwrap_or_else(|e| raise(INTERNAL, e.to_string(), None));
    if nodes.is_empty() {
        return 0;
    }
    let what = what.as_str();
    let plural = if nodes.len() == 1 { "" } else { "s" };
    // SAFETY: plain read of transaction state.
    if unsafe { pg_sys::IsTransactionBlock() } {
        raise(
            pgrx::PgSqlErrorCode::ERRCODE_ACTIVE_SQL_TRANSACTION,
            format!(
                "{what} cannot run inside a transaction block on a Citus coordinator: it also runs on {} worker{plural}, which would not roll back with this transaction",
                nodes.len()
            ),
            Some("Run it as a statement of its own (outside BEGIN ... COMMIT); nothing was changed."),
        );
    }
    let names: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
    let ports: Vec<i32> = nodes.iter().map(|(_, p)| *p).collect();
    let commands: Vec<String> = vec![command.0.clone(); nodes.len()];
    let failures = Spi::connect(|c| {
        let mut failures = Vec::new();
        for row in c.select(
            "SELECT node_name::text, node_port, success, result
               FROM pg_catalog.master_run_on_worker($1, $2, $3, true)",
            None,
            &[names.into(), ports.into(), commands.into()],
        )? {
            if row.get::<bool>(3)? != Some(true) {
                failures.push(format!(
                    "{}:{}: {}",
                    row.get::<String>(1)?.unwrap_or_default(),
                    row.get::<i32>(2)?.unwrap_or_default(),
                    row.get::<String>(4)?.unwrap_or_default()
                ));
            }
        }
        Ok::<_, pgrx::spi::SpiError>(failures)
    })
    .unwrap_or_else(|e| raise(INTERNAL, e.to_string(), None));
    if !failures.is_empty() {
        raise(
            pgrx::PgSqlErrorCode::ERRCODE_CONNECTION_EXCEPTION,
            format!(
                "{what} failed on {} of {} worker{plural}: {}",
                failures.len(),
                nodes.len(),
                failures.join("; ")
            ),
            Some("Nothing changed on the coordinator; the workers not named did it. Bring the worker back and run the same call again."),
        );
    }
    nodes.len() as i32
}
extension_sql!(
    r#"
-- pgrx creates insforge._on_other_nodes() executable by PUBLIC: it runs any statement on
-- every worker as its caller, so only superusers (the extension's owner, through the two
-- SECURITY DEFINER functions below) may run it.
REVOKE ALL ON FUNCTION insforge._on_other_nodes(text, text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._on_other_nodes(text, text) IS
'Internal (superusers only; called by insforge._propagate_jwt_secret() and insforge._propagate_requesting_user_id()): on a Citus coordinator runs the statement on every active primary worker through master_run_on_worker() and returns how many; 0 without Citus, on a worker, in an extension script, or without workers. 25001 inside a transaction block; 08000 naming a worker that failed.';
"#,
    name = "on_other_nodes_comment",
    requires = [on_other_nodes]
);

const INTERNAL: pgrx::PgSqlErrorCode = pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR;
