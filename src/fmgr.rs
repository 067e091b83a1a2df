//! Calling the extension's own internal SQL functions from C, the way Postgres
//! calls a function in an expression: through fmgr, with NULL arguments
//! allowed, and without an EXECUTE check.
//!
//! Internal functions (`insforge._jwt_key()`, `x402._nonce_recorded(...)`)
//! have EXECUTE revoked from PUBLIC so that no role can call them by name; the
//! extension's own code reaches them here. Their `SET` clauses and SECURITY
//! DEFINER (where they have one) apply as in any call.

use crate::errors::raise;
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::ffi::CStr;

/// The OID of `signature` (`schema.name(argtypes)`, as `::regprocedure`
/// reads it). Raises 42883 when the function does not exist.
pub fn function_oid(signature: &CStr) -> pg_sys::Oid {
    // SAFETY: regprocedurein reads a C string and returns an OID datum or
    // raises undefined_function.
    unsafe {
        direct_function_call_as_datum(
            pg_sys::regprocedurein,
            &[Some(pg_sys::Datum::from(signature.as_ptr()))],
        )
        .map(|d| pg_sys::Oid::from(d.value() as u32))
        .unwrap_or_else(|| {
            raise(
                pgrx::PgSqlErrorCode::ERRCODE_UNDEFINED_FUNCTION,
                format!(
                    "{} is missing: reinstall the extension",
                    signature.to_string_lossy()
                ),
                None,
            )
        })
    }
}

/// Calls function `oid` with `args` (None: SQL NULL); None when it returns NULL.
///
/// # Safety
/// Each argument must be a valid datum of the function's parameter type.
pub unsafe fn call(oid: pg_sys::Oid, args: &[Option<pg_sys::Datum>]) -> Option<pg_sys::Datum> {
    let mut flinfo = std::mem::MaybeUninit::<pg_sys::FmgrInfo>::zeroed();
    pg_sys::fmgr_info(oid, flinfo.as_mut_ptr());
    let mut flinfo = flinfo.assume_init();
    let size = std::mem::size_of::<pg_sys::FunctionCallInfoBaseData>()
        + std::mem::size_of::<pg_sys::NullableDatum>() * args.len();
    let fcinfo = pg_sys::palloc0(size).cast::<pg_sys::FunctionCallInfoBaseData>();
    (*fcinfo).flinfo = &mut flinfo;
    (*fcinfo).nargs = args.len() as i16;
    (*fcinfo).fncollation = pg_sys::DEFAULT_COLLATION_OID;
    let slots = (*fcinfo).args.as_mut_slice(args.len());
    for (slot, arg) in slots.iter_mut().zip(args) {
        slot.value = arg.unwrap_or(pg_sys::Datum::from(0usize));
        slot.isnull = arg.is_none();
    }
    let Some(addr) = flinfo.fn_addr else {
        raise(
            pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("function {oid:?} has no address"),
            None,
        )
    };
    let result = addr(fcinfo);
    let isnull = (*fcinfo).isnull;
    pg_sys::pfree(fcinfo.cast());
    (!isnull).then_some(result)
}
