//! `insforge.act_as()`: the rest of the transaction as a client, set up the
//! way PostgREST sets up a request (`role`, transaction-local
//! `request.jwt.claims` and `request.headers`), from claims or from a token.
//! `insforge._act_as()` is the same switch without the transaction-block
//! requirement, for `insforge.explain_access()` (sql/explain.sql), which makes
//! it inside a subtransaction it rolls back.
//!
//! Which roles may be taken on (SECURITY.md, "Acting as a client"): never a
//! privileged one (`session::privileged_role_problem`), and otherwise only a
//! role a token may take on through the extension (`insforge_integrations.jwt_roles`,
//! which only a superuser sets) or one whose privileges the caller already
//! has. Claims given by hand are never marked verified: in
//! `claims_source = verified` mode they give no identity, as a hand-written
//! `request.jwt.claims` gives none; a token verified with the stored key does.

use crate::claims::{self, verified};
use crate::dbtext::DbText;
use crate::errors::{raise, INSUFFICIENT_PRIVILEGE, INVALID_PARAMETER, NO_TRANSACTION};
use crate::jsonb::arg::{Jsonb, JsonbDatum};
use crate::session;
use crate::settings::{self, ClaimsSource};
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Map, Value};
use std::ffi::CString;

/// SQLSTATE 42704: a role that does not exist.
const UNDEFINED_OBJECT: PgSqlErrorCode = PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT;

/// Operators only (project_admin, a superuser, a role given
/// `insforge.grant_operator()`): raises 42501 naming what is needed, through
/// the extension's one operator check, `insforge._require_operator(text)`.
fn require_operator(what: &str) {
    Spi::run_with_args("SELECT insforge._require_operator($1)", &[what.into()])
        .unwrap_or_else(|e| raise(INSUFFICIENT_PRIVILEGE, e.to_string(), None));
}

/// The claims and role a request from `claims` or `token` has, as PostgREST
/// derives them: the role claim (default `anon`) put into the claims.
fn resolve(
    claims: Option<Jsonb>,
    token: Option<DbText>,
    who: &str,
) -> (String, Map<String, Value>, bool) {
    match (claims, token) {
        (Some(_), Some(_)) => raise(
            INVALID_PARAMETER,
            format!("{who}: give claims or a token, not both"),
            Some("A token is verified with the stored key and its claims are used; claims are taken as given."),
        ),
        (None, Some(token)) => {
            let (map, _) = verified::token_claims(token.as_str());
            let role = role_claim(&map, who);
            (role, map, true)
        }
        (claims, None) => {
            let map = match claims.map(|c| c.0) {
                None => Map::new(),
                Some(Value::Object(map)) => map,
                Some(other) => raise(
                    INVALID_PARAMETER,
                    format!(
                        "{who}: claims must be a JSON object, not {}",
                        json_kind(&other)
                    ),
                    Some("Pass the token's payload, e.g. '{\"sub\": \"user_2\", \"role\": \"authenticated\"}'."),
                ),
            };
            let role = role_claim(&map, who);
            (role, map, false)
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The role claim, `anon` when there is none (PostgREST's anonymous role in InsForge).
fn role_claim(map: &Map<String, Value>, who: &str) -> String {
    match map.get("role") {
        None | Some(Value::Null) => "anon".to_string(),
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        Some(Value::String(_)) => raise(
            INVALID_PARAMETER,
            format!("{who}: the role claim is empty"),
            None,
        ),
        Some(other) => raise(
            INVALID_PARAMETER,
            format!(
                "{who}: the role claim must be a string, not {}",
                json_kind(other)
            ),
            None,
        ),
    }
}

/// Refuses (42704, 42501) a role that does not exist, a privileged one, and
/// one that neither `insforge_integrations.jwt_roles` lists nor the caller
/// has the privileges of.
fn check_role(role: &str, who: &str) {
    let Ok(name) = CString::new(role) else {
        raise(
            INVALID_PARAMETER,
            format!("{who}: the role claim contains a NUL byte"),
            None,
        );
    };
    // SAFETY: catalog lookup by name.
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        raise(
            UNDEFINED_OBJECT,
            format!("{who}: role \"{}\" does not exist", insforge_core::jwt::clean(role)),
            Some("The role claim names the database role the request runs as (anon, authenticated, ...)."),
        );
    }
    session::refuse_privileged(role, who);
    let listed = settings::rules().roles.iter().any(|r| r == role);
    // SAFETY: plain catalog check of the current user against a role oid.
    let held = unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), oid) };
    if !listed && !held {
        let current = current_role_name();
        raise(
            INSUFFICIENT_PRIVILEGE,
            format!(
                "{who} refuses to switch to role {role}: it is not a client role (insforge_integrations.jwt_roles: {}) and {current} does not have its privileges",
                settings::rules().roles.join(",")
            ),
            Some("A superuser can make a role a client role: ALTER DATABASE ... SET insforge_integrations.jwt_roles = 'anon,authenticated,that_role'."),
        );
    }
}

fn current_role_name() -> String {
    // SAFETY: the current user exists; the name is copied at once.
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false);
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Switches the rest of the transaction (or subtransaction) to the client;
/// the claims it set.
fn switch(claims: Option<Jsonb>, token: Option<DbText>, who: &str) -> Value {
    let token_text = token.as_ref().map(|t| t.as_str().trim().to_string());
    let (role, mut map, verified) = resolve(claims, token, who);
    check_role(&role, who);
    // PostgREST puts the role it switched to into the claims.
    map.insert("role".to_string(), Value::String(role.clone()));
    let value = Value::Object(map);
    let text = serde_json::to_string(&value).unwrap_or_default();
    session::become_client(&role, &text, verified, who);
    let headers = match &token_text {
        Some(t) => serde_json::json!({ "authorization": format!("Bearer {t}") }).to_string(),
        None => "{}".to_string(),
    };
    session::set_local("request.headers", &headers, pg_sys::GucContext::PGC_USERSET);
    value
}

/// Makes the rest of the current transaction run as a client, exactly as
/// PostgREST sets up a request: `role` from the role claim (default `anon`),
/// and transaction-local `request.jwt.claims` (the claims with that role) and
/// `request.headers` (`authorization: Bearer <token>` when given a token).
/// From `claims` (taken as given) or `token` (verified with the stored key and
/// validated, like `insforge.authenticate()`; then also trusted in verified
/// mode). Neither: an anonymous request. Returns the subject the identity
/// functions now see. Operators only (42501); 25P01 outside a transaction block.
#[pg_extern(volatile, parallel_unsafe)]
fn act_as(
    claims: default!(Option<Jsonb>, "NULL"),
    token: default!(Option<DbText>, "NULL"),
) -> Option<String> {
    require_operator("insforge.act_as()");
    // SAFETY: plain read of transaction state.
    if !unsafe { pg_sys::IsTransactionBlock() } {
        raise(
            NO_TRANSACTION,
            "insforge.act_as() must run inside a transaction block",
            Some("It sets the role and claims for the rest of the transaction, like PostgREST: BEGIN; SELECT insforge.act_as('{\"sub\": \"user_2\", \"role\": \"authenticated\"}'); SELECT ...; ROLLBACK; (in InsForge's SQL editor, run the statements in one go)."),
        );
    }
    let given_token = token.is_some();
    switch(claims, token, "insforge.act_as()");
    if !given_token && settings::claims_source() == ClaimsSource::Verified {
        pgrx::notice!("insforge_integrations.claims_source is verified: claims given by hand give no identity (requesting_user_id() is NULL); pass the user's token (token => ...) to act as a verified request");
    }
    claims::current()
        .sub
        .as_deref()
        .map(|s| String::from_utf8_lossy(s).into_owned())
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.act_as(jsonb, text) IS
'Makes the rest of the current transaction run as a client, exactly as PostgREST sets up a request: role from the role claim (default anon), transaction-local request.jwt.claims (with that role) and request.headers (authorization: Bearer <token> when given a token). From claims (taken as given; in claims_source = verified mode they give no identity) or a token (verified with the stored key and validated, like authenticate()). Neither: an anonymous request. Refuses privileged roles and roles that are neither in insforge_integrations.jwt_roles nor held by the caller (42501). Returns the subject. Operators only (42501); 25P01 outside a transaction block.';
"#,
    name = "act_as_comment",
    requires = [act_as]
);

/// Internal (operators only): `insforge.act_as()` without the transaction-block
/// requirement, for `insforge.explain_access()`, which switches inside a
/// subtransaction and rolls it back. Returns the claims it set.
#[pg_extern(name = "_act_as", volatile, parallel_unsafe)]
fn act_as_internal(claims: Option<Jsonb>, token: Option<DbText>) -> JsonbDatum {
    require_operator("insforge.explain_access()");
    JsonbDatum::from_value(&switch(claims, token, "insforge.explain_access()"))
}
extension_sql!(
    r#"
REVOKE ALL ON FUNCTION insforge._act_as(jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._act_as(jsonb, text) IS
'Internal (insforge.explain_access(), operators only): insforge.act_as() without the transaction-block requirement, for a switch made inside a subtransaction that is rolled back. Returns the claims it set.';
"#,
    name = "act_as_internal_comment",
    requires = [act_as_internal]
);
