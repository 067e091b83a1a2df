//! `jsonb` arguments as serde JSON, and `jsonb` results, without pgrx's
//! panicking conversion or a text round trip.
//!
//! pgrx's own `JsonB` argument type round-trips through serde and panics
//! (SQLSTATE XX000) on jsonb it cannot represent: numbers beyond an f64
//! (`1e400`) or nesting deeper than serde's 128 levels. [`Jsonb`] raises 22023
//! with a message that says so instead.
//!
//! Reading: the argument's binary layout is walked directly (strings and keys
//! are copied, integers that fit an `i64`/`u64` are read from the numeric's
//! digits), which gives exactly the value `jsonb_out` + `serde_json` give.
//! Anything else (a number with a fractional part or beyond 64 bits, nesting
//! deeper than 100 levels, a string that is not UTF-8) takes that text path
//! for the whole value, so its numbers and errors are serde_json's own.
//!
//! Writing: [`JsonbDatum::from_value`] builds the value's `JsonbValue` tree
//! (the builder `verify_jwt` uses, [`super::tree`]) and lays it out with our
//! writer, falling back to `jsonb_in` on the serialized text for a number that
//! is not an `i64` or a string with NUL.

use super::{layout::read_container, pg};
use crate::errors::{raise, INVALID_PARAMETER};
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::datum::FromDatum;
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use serde_json::Value;

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
        // A plain (4-byte header, aligned) copy if it was toasted or short.
        let detoasted = pg_sys::pg_detoast_datum(datum.cast_mut_ptr());
        let len = pgrx::varlena::varsize_any_exhdr(detoasted);
        let data = pgrx::varlena::vardata_any(detoasted).cast::<u8>();
        let root = std::slice::from_raw_parts(data, len);
        if let Some(value) = read_container(root, 0) {
            return Some(Jsonb(value));
        }
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

/// A jsonb result, laid out by [`super::tree::value_to_jsonb`] (or by
/// `jsonb_in` on serde_json's text where that cannot be exact).
pub struct JsonbDatum(pub pg_sys::Datum);

impl JsonbDatum {
    /// `value` as jsonb, exactly what `jsonb_in` gives for its serde_json
    /// text (see the module notes).
    pub fn from_value(value: &Value) -> JsonbDatum {
        match super::tree::value_to_jsonb(value) {
            Some(d) => JsonbDatum(d),
            None => {
                let text = serde_json::to_string(value).unwrap_or_default();
                // SAFETY: CurrentMemoryContext is the caller's.
                JsonbDatum(pg::parse_in(text.as_bytes(), unsafe {
                    pg_sys::CurrentMemoryContext
                }))
            }
        }
    }
}

/// A result type that is a datum Postgres already laid out (`$t(pg_sys::Datum)`),
/// returned as is under SQL type `$sql` (type OID `$oid` for pgrx's checks).
#[macro_export]
macro_rules! returns_raw_datum {
    ($t:ident, $sql:literal, $oid:expr) => {
        impl pgrx::datum::IntoDatum for $t {
            fn into_datum(self) -> Option<pgrx::pg_sys::Datum> {
                Some(self.0)
            }
            fn type_oid() -> pgrx::pg_sys::Oid {
                $oid
            }
        }

        // SAFETY: returns the datum through the fcinfo, as pgrx does for its own types.
        unsafe impl pgrx::callconv::BoxRet for $t {
            unsafe fn box_into<'fcx>(
                self,
                fcinfo: &mut pgrx::callconv::FcInfo<'fcx>,
            ) -> pgrx::datum::Datum<'fcx> {
                fcinfo.return_raw_datum(self.0)
            }
        }

        // SAFETY: the SQL type is the one the datum has.
        unsafe impl pgrx::pgrx_sql_entity_graph::metadata::SqlTranslatable for $t {
            const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!($t);
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: Result<
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef,
                pgrx::pgrx_sql_entity_graph::metadata::ArgumentError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef,
                pgrx::pgrx_sql_entity_graph::metadata::ReturnsError,
            > = Ok(pgrx::pgrx_sql_entity_graph::metadata::ReturnsRef::One(
                pgrx::pgrx_sql_entity_graph::metadata::SqlMappingRef::literal($sql),
            ));
        }
    };
}

returns_raw_datum!(JsonbDatum, "jsonb", pg_sys::JSONBOID);
