//! `jsonb` arguments as serde JSON, without pgrx's panicking conversion.
//!
//! pgrx's own `JsonB` argument type round-trips through serde and panics
//! (SQLSTATE XX000) on jsonb it cannot represent: numbers beyond an f64
//! (`1e400`) or nesting deeper than serde's 128 levels. This type raises 22023
//! with a message that says so instead.

use crate::errors::{raise, INVALID_PARAMETER};
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::datum::FromDatum;
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};

/// A `jsonb` argument, parsed.
pub struct Jsonb(pub serde_json::Value);

impl FromDatum for Jsonb {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        let detoasted = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let out = direct_function_call_as_datum(
            pg_sys::jsonb_out,
            &[Some(pg_sys::Datum::from(detoasted))],
        )?;
        let text = std::ffi::CStr::from_ptr(out.cast_mut_ptr::<std::ffi::c_char>());
        match serde_json::from_slice(text.to_bytes()) {
            Ok(v) => Some(Jsonb(v)),
            Err(e) => raise(
                INVALID_PARAMETER,
                format!("JSON argument cannot be processed: {e}"),
                Some("Numbers must fit a double precision value, and nesting may not exceed 128 levels."),
            ),
        }
    }
}

// SAFETY: the same contract as pgrx's argue_from_datum! for its own types.
unsafe impl<'fcx> ArgAbi<'fcx> for Jsonb {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        arg.unbox_arg_using_from_datum().unwrap_or_else(|| {
            raise(
                INVALID_PARAMETER,
                format!("argument {index} must not be null"),
                None,
            )
        })
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        arg.unbox_arg_using_from_datum().into()
    }
}

unsafe impl SqlTranslatable for Jsonb {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(Jsonb);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}
