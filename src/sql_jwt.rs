//! SQL shells for claim validation, JWT verification and direct-connection
//! authentication. The logic is in `insforge_core::{jwt, validate}`.

use crate::claims::{self, verified};
use crate::dbtext::DbText;
use crate::errors::{
    raise, raise_jwt, INSUFFICIENT_PRIVILEGE, INVALID_AUTHORIZATION, INVALID_PARAMETER,
    NO_TRANSACTION,
};
use crate::jsonb::arg::{Jsonb, JsonbDatum};
use crate::jsonb::{pg, tree};
use crate::session;
use crate::settings::{self, bump_generation, claims_generation};
use insforge_core::jwt::{self, KeySet, VerifyOptions};
use insforge_core::validate::{self, parse_list};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// The last key text given to verify_jwt(), parsed (keys are parsed once).
    static ARG_KEY: RefCell<Option<(String, KeySet)>> = const { RefCell::new(None) };
}

fn with_arg_keys<T>(text: &str, f: impl FnOnce(&KeySet) -> T) -> T {
    ARG_KEY.with(|k| {
        let mut slot = k.borrow_mut();
        if slot.as_ref().is_none_or(|(t, _)| t != text) {
            match KeySet::parse(text) {
                Ok(keys) => *slot = Some((text.to_string(), keys)),
                Err(e) => raise_jwt(&e),
            }
        }
        match slot.as_ref() {
            Some((_, keys)) => f(keys),
            None => raise(INVALID_AUTHORIZATION, "JWT key cache is empty", None),
        }
    })
}

/// Verifies a JWT's signature (HS256/384/512, RS256/384/512, PS256/384/512,
/// ES256/384, EdDSA) with `key` (an HMAC secret, a PEM public key, a JWK or a
/// JWKS) and checks exp/nbf (with insforge_integrations.jwt_leeway) and, when given or
/// configured, audience and issuer. Returns the claims; every failed check
/// raises 28000 naming it, a malformed key 22023.
#[pg_extern(stable, parallel_safe)]
fn verify_jwt(
    token: Option<DbText>,
    key: Option<DbText>,
    audience: default!(Option<DbText>, "NULL"),
    issuer: default!(Option<DbText>, "NULL"),
) -> Option<JsonbDatum> {
    let (token, key) = (token?, key?);
    let (token, key) = (token.as_str(), key.as_str());
    let (audience, issuer) = (audience.as_deref(), issuer.as_deref());
    // The core's checks in its order: signature (1-4), payload (5), claims
    // (6-7); the payload is parsed once, straight into the jsonb result.
    PAYLOAD.with(|buffer| {
        let mut fresh = Vec::new();
        let mut reused = buffer.try_borrow_mut();
        let payload = match reused.as_deref_mut() {
            Ok(b) => b,
            Err(_) => &mut fresh,
        };
        with_arg_keys(key, |keys| {
            jwt::verify_signature(token, keys).and_then(|s| s.payload_bytes_into(payload))
        })
        .unwrap_or_else(|e| raise_jwt(&e));
        let (jsonb, checked) = tree::payload_to_jsonb(payload).unwrap_or_else(|e| raise_jwt(&e));
        with_options(audience, issuer, |opts| jwt::check_claims(&checked, opts))
            .unwrap_or_else(|e| raise_jwt(&e));
        Some(JsonbDatum(jsonb.unwrap_or_else(|| {
            // SAFETY: CurrentMemoryContext is the caller's.
            pg::parse_in(payload, unsafe { pg_sys::CurrentMemoryContext })
        })))
    })
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.verify_jwt(text, text, text, text) IS
'Returns the claims of a JWT whose signature verifies (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384, EdDSA) with key: an HMAC secret, a PEM public key, a JWK or a JWKS (kid picks the key). Checks exp/nbf with insforge_integrations.jwt_leeway against the transaction start, and audience/issuer when given or configured. Every failed check raises 28000 naming it; a malformed key 22023.';
"#,
    name = "verify_jwt_comment",
    requires = [verify_jwt]
);

thread_local! {
    /// verify_jwt's decoded payload, one buffer reused across calls.
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// verify_jwt's options from the settings, rebuilt when the settings'
    /// generation moves (so a call neither re-reads nor copies the lists).
    static OPTIONS: RefCell<Option<(u64, VerifyOptions)>> = const { RefCell::new(None) };
}

/// Runs `f` with verify_jwt's options: the settings at the transaction's
/// time, `audience`/`issuer` arguments (comma-separated lists) overriding
/// the settings when not NULL.
fn with_options<T>(
    audience: Option<&str>,
    issuer: Option<&str>,
    f: impl FnOnce(&VerifyOptions) -> T,
) -> T {
    let generation = claims_generation();
    let now = verified::transaction_now();
    OPTIONS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let opts = match slot.as_mut() {
            Some((g, opts)) if *g == generation => opts,
            _ => {
                let opts = verified::options(&settings::rules(), now);
                &mut slot.insert((generation, opts)).1
            }
        };
        opts.now = now;
        if audience.is_none() && issuer.is_none() {
            return f(opts);
        }
        let mut custom = opts.clone();
        if let Some(a) = audience {
            custom.audiences = Some(parse_list(a));
        }
        if let Some(i) = issuer {
            custom.issuers = Some(parse_list(i));
        }
        f(&custom)
    })
}

/// The problems found in `claims` under the insforge_integrations.jwt_* settings, in this
/// order: missing_sub, expired, not_yet_valid, audience, issuer, role,
/// provider_mismatch. Empty when none.
#[pg_extern(stable, parallel_safe)]
fn validate_claims(claims: Jsonb) -> Vec<String> {
    validate::validate_claims(&claims.0, &settings::rules(), verified::transaction_now())
        .into_iter()
        .map(String::from)
        .collect()
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.validate_claims(jsonb) IS
'The problems found in the claims under the insforge_integrations.jwt_* settings, in this order: missing_sub, expired, not_yet_valid, audience, issuer, role, provider_mismatch. Empty when none.';
"#,
    name = "validate_claims_comment",
    requires = [validate_claims]
);

/// True when the current request has claims and they pass validation.
#[pg_extern(stable, parallel_safe)]
fn claims_valid() -> bool {
    let c = claims::current();
    c.present() && c.problems().is_empty()
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.claims_valid() IS
'True when the current request has claims and they pass validation (cached per request).';
"#,
    name = "claims_valid_comment",
    requires = [claims_valid]
);

/// Raises 28000 naming the first problem when the current request's claims
/// are missing or fail validation.
#[pg_extern(stable, parallel_safe)]
fn require_valid_claims() {
    let c = claims::current();
    if !c.present() {
        raise(
            INVALID_AUTHORIZATION,
            "request has no claims (no JWT reached the database)",
            None,
        );
    }
    if let Some(first) = c.problems().first() {
        let first = *first;
        raise(
            INVALID_AUTHORIZATION,
            format!("request claims failed validation: {first}"),
            Some("SELECT insforge.validate_claims(insforge.jwt()) lists every problem."),
        );
    }
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.require_valid_claims() IS
'Raises 28000 naming the first problem when the current request has no claims or they fail validation.';
"#,
    name = "require_valid_claims_comment",
    requires = [require_valid_claims]
);

/// The identity provider behind `claims` (NULL: the current request's):
/// clerk, auth0, workos, kinde, stytch, better_auth, insforge, or NULL.
#[pg_extern(stable, parallel_safe)]
fn auth_provider(claims: default!(Option<Jsonb>, "NULL")) -> Option<&'static str> {
    match claims {
        Some(c) => validate::auth_provider(&c.0),
        None => validate::auth_provider(&claims::current().to_value()),
    }
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.auth_provider(jsonb) IS
'The identity provider behind the claims (NULL: the current request''s): clerk, auth0, workos, kinde, stytch, better_auth, insforge, or NULL. A classification by issuer and sub shape, not an authentication.';
"#,
    name = "auth_provider_comment",
    requires = [auth_provider]
);

/// Diagnostic: how many bearer tokens this backend has verified in
/// `claims_source = verified` mode (a per-row policy verifies once per token).
#[pg_extern(volatile, parallel_safe)]
fn token_verification_count() -> i64 {
    verified::verification_count() as i64
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.token_verification_count() IS
'Diagnostic: how many bearer tokens this backend has verified in insforge_integrations.claims_source = verified mode (a per-row policy verifies once per token).';
"#,
    name = "token_verification_count_comment",
    requires = [token_verification_count]
);

/// Internal (SECURITY DEFINER, owned by the key's role `insforge_integrations_secrets`,
/// executable by operators only): stores the verification key of this database, or
/// removes it (NULL). Called by insforge.set_jwt_secret(), which checks the caller.
///
/// The SQL name is `_set_jwt_secret`; the Rust name keeps the C symbol
/// `set_jwt_secret_wrapper` that 0.1.0's `insforge.set_jwt_secret()` names. So
/// the function checks who it runs as: the key's role (through the SECURITY
/// DEFINER function) or a superuser. In a database still on 0.1.0's catalog,
/// where that symbol is reached by a SECURITY INVOKER function executable by
/// everyone, that keeps everyone else out until `ALTER EXTENSION ... UPDATE`.
#[pg_extern(name = "_set_jwt_secret", volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn set_jwt_secret(key: Option<DbText>) {
    // SAFETY: plain catalog lookups of the current user and a role by name.
    let allowed = unsafe {
        pg_sys::superuser()
            || pg_sys::GetUserId() == pg_sys::get_role_oid(SECRETS_ROLE.as_ptr(), true)
    };
    if !allowed {
        raise(
            INSUFFICIENT_PRIVILEGE,
            "insforge.set_jwt_secret() may be run only by the operator: project_admin or a superuser",
            Some("If the extension's library was upgraded, run ALTER EXTENSION insforge_integrations UPDATE so that project_admin may set the key."),
        );
    }
    // SAFETY: plain read of the recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        raise(
            pgrx::PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "cannot set the JWT key on a standby",
            Some("Set it on the primary; the standby receives it by replication."),
        );
    }
    match key {
        None => {
            Spi::run("DELETE FROM insforge.jwt_secret")
                .unwrap_or_else(|e| raise(INVALID_AUTHORIZATION, e.to_string(), None));
        }
        Some(text) => {
            let keys = KeySet::parse(&text).unwrap_or_else(|e| raise_jwt(&e));
            if let Some(problem) = keys.storage_problem(&text) {
                raise(
                    INVALID_PARAMETER,
                    format!("insforge.set_jwt_secret(): {problem}; nothing was stored"),
                    Some("Store the project's real JWT secret: npx @insforge/cli secrets get JWT_SECRET prints it (or the key your auth provider signs with: a PEM public key, a JWK or a JWKS)."),
                );
            }
            Spi::run_with_args(
                "INSERT INTO insforge.jwt_secret(key) VALUES ($1) \
                 ON CONFLICT (singleton) DO UPDATE SET key = excluded.key, updated_at = now()",
                &[text.as_str().into()],
            )
            .unwrap_or_else(|e| raise(INVALID_AUTHORIZATION, e.to_string(), None));
        }
    }
    verified::forget();
    bump_generation();
}

/// The NOLOGIN role that owns the JWT key's table and the functions that read
/// or write it (sql/jwt_secret.sql; SECURITY.md).
pub const SECRETS_ROLE: &std::ffi::CStr = c"insforge_integrations_secrets";

/// For direct connections: verifies `token` with the stored key, validates
/// its claims, then for the rest of the transaction sets request.jwt.claims
/// and the role from the role claim (only roles in insforge_integrations.jwt_roles;
/// Postgres's SET ROLE rules apply), as PostgREST would. Returns the subject.
/// On a Citus coordinator it also sets `authorization: Bearer <token>` in
/// request.headers and sends the claims and headers to the workers
/// (`crate::citus::propagate_identity`), as `insforge.pre_request()` does.
#[pg_extern(volatile, parallel_unsafe)]
fn authenticate(token: DbText) -> Option<String> {
    let token = token.as_str();
    // SAFETY: plain reads of transaction state.
    if !unsafe { pg_sys::IsTransactionBlock() } {
        raise(
            NO_TRANSACTION,
            "insforge.authenticate() must run inside a transaction block",
            Some("It sets the role and claims for the rest of the transaction, like PostgREST: BEGIN; SELECT insforge.authenticate($1); ...; COMMIT;"),
        );
    }
    let (claims, rules) = verified::token_claims(token);
    let role = match claims.get("role") {
        None => "anon".to_string(),
        Some(serde_json::Value::String(r)) => r.clone(),
        Some(_) => raise(
            INVALID_AUTHORIZATION,
            "JWT role claim is not a string",
            None,
        ),
    };
    if !rules.roles.iter().any(|r| r == &role) {
        raise(
            INVALID_AUTHORIZATION,
            format!(
                "JWT role '{}' is not accepted (insforge_integrations.jwt_roles: {})",
                insforge_core::jwt::clean(&role),
                rules.roles.join(",")
            ),
            None,
        );
    }
    let payload = verified::payload_bytes(token);
    let payload = String::from_utf8_lossy(&payload).into_owned();
    session::become_client(&role, &payload, true, "insforge.authenticate()");
    if crate::citus::loaded() {
        // Citus workers evaluate the policies of distributed tables: they get the
        // claims, and the bearer for workers that trust only verified tokens.
        let headers = crate::citus::headers_with_bearer(token);
        session::set_local(
            "request.headers",
            &String::from_utf8_lossy(&headers),
            pg_sys::GucContext::PGC_USERSET,
        );
        crate::citus::propagate_identity();
    }
    claims::current()
        .sub
        .as_deref()
        .map(|s| String::from_utf8_lossy(s).into_owned())
}
extension_sql!(
    r#"
COMMENT ON FUNCTION insforge.authenticate(text) IS
'For direct connections: verifies the token with the stored key, validates its claims, then for the rest of the transaction sets request.jwt.claims and the role from the role claim (only roles in insforge_integrations.jwt_roles; Postgres''s SET ROLE rules apply), as PostgREST would. Returns the subject. 25P01 outside a transaction block. On a Citus coordinator it also puts the token in request.headers (authorization: Bearer) and sends the claims and headers to the workers, as insforge.pre_request() does.';
"#,
    name = "authenticate_comment",
    requires = [authenticate]
);
