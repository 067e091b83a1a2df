//! Raising ERRORs with an explicit SQLSTATE (the Errors table, docs/errors.md).

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// SQLSTATE 28000: a token or claim set failed verification or validation.
pub const INVALID_AUTHORIZATION: PgSqlErrorCode =
    PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
/// SQLSTATE 22023: a malformed argument (key, header, address, amount).
pub const INVALID_PARAMETER: PgSqlErrorCode = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
/// SQLSTATE 42501: the caller lacks a privilege.
pub const INSUFFICIENT_PRIVILEGE: PgSqlErrorCode = PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE;
/// SQLSTATE 25P01: the function needs a transaction block.
pub const NO_TRANSACTION: PgSqlErrorCode = PgSqlErrorCode::ERRCODE_NO_ACTIVE_SQL_TRANSACTION;

/// Raises an ERROR; never returns.
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>, hint: Option<&str>) -> ! {
    let mut report = ErrorReport::new(code, message.into(), "insforge_integrations");
    if let Some(h) = hint {
        report = report.set_hint(h.to_string());
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Raises a core JWT error with its SQLSTATE (28000 or 22023).
pub fn raise_jwt(err: &insforge_core::jwt::JwtError) -> ! {
    let code = match err.kind {
        insforge_core::jwt::JwtErrorKind::Invalid => INVALID_AUTHORIZATION,
        insforge_core::jwt::JwtErrorKind::MalformedKey => INVALID_PARAMETER,
    };
    raise(code, err.message.clone(), None)
}
