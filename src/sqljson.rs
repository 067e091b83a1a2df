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
//! Writing: [`JsonbDatum::from_value`] lays out the value with the same
//! in-memory `JsonbValue` builder as `verify_jwt` (one `JsonbValueToJsonb`
//! call), falling back to `jsonb_in` on the serialized text for a number that
//! is not an `i64` or a string with NUL.

use crate::claims::pgjson;
use crate::errors::{raise, INVALID_PARAMETER};
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::datum::FromDatum;
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use serde_json::{Map, Number, Value};

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

// jsonb's layout (src/include/utils/jsonb.h), unchanged since 9.4.
const JB_CMASK: u32 = 0x0FFF_FFFF;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;

/// Deepest nesting read directly; deeper values take the text path (whose
/// limit, serde_json's, is 128).
const MAX_DIRECT_DEPTH: usize = 100;

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(b.try_into().ok()?))
}

fn int_align(n: usize) -> usize {
    (n + 3) & !3
}

/// The value of the container at the start of `c` (a jsonb container's
/// header, children and data), or None when this value must take the text
/// path.
fn read_container(c: &[u8], depth: usize) -> Option<Value> {
    if depth >= MAX_DIRECT_DEPTH {
        return None;
    }
    let header = u32_at(c, 0)?;
    let count = (header & JB_CMASK) as usize;
    let object = header & JB_FOBJECT != 0;
    let entries = if object { count.checked_mul(2)? } else { count };
    let base = entries.checked_mul(4)?.checked_add(4)?;
    let data = c.get(base..)?;
    // Each child's (type, data), in order: keys then values for an object.
    let mut children = Vec::with_capacity(entries);
    let mut end = 0usize;
    for i in 0..entries {
        let entry = u32_at(c, 4 + 4 * i)?;
        let start = end;
        let offlen = (entry & JENTRY_OFFLENMASK) as usize;
        end = if entry & JENTRY_HAS_OFF != 0 {
            offlen
        } else {
            start.checked_add(offlen)?
        };
        children.push((entry & JENTRY_TYPEMASK, start, data.get(start..end)?));
    }
    let scalar = |(kind, start, bytes): (u32, usize, &[u8])| -> Option<Value> {
        Some(match kind {
            JENTRY_ISSTRING => Value::String(std::str::from_utf8(bytes).ok()?.to_owned()),
            JENTRY_ISNUMERIC => {
                let pad = int_align(start) - start;
                Value::Number(read_integer(bytes.get(pad..)?)?)
            }
            JENTRY_ISBOOL_FALSE => Value::Bool(false),
            JENTRY_ISBOOL_TRUE => Value::Bool(true),
            JENTRY_ISNULL => Value::Null,
            JENTRY_ISCONTAINER => {
                let pad = int_align(start) - start;
                read_container(bytes.get(pad..)?, depth + 1)?
            }
            _ => return None,
        })
    };
    if object {
        let (keys, values) = children.split_at(count);
        let mut map = Map::new();
        for (&(kind, _, key), &value) in keys.iter().zip(values) {
            if kind != JENTRY_ISSTRING {
                return None;
            }
            map.insert(std::str::from_utf8(key).ok()?.to_owned(), scalar(value)?);
        }
        Some(Value::Object(map))
    } else if header & JB_FSCALAR != 0 {
        // A raw scalar is stored as a one-element array.
        match children.as_slice() {
            [only] => scalar(*only),
            _ => None,
        }
    } else {
        let mut items = Vec::with_capacity(children.len());
        for child in children {
            items.push(scalar(child)?);
        }
        Some(Value::Array(items))
    }
}

/// A numeric (a 4-byte-header varlena at the start of `bytes`) that is an
/// integer fitting an `i64` or `u64`, as serde_json would read its text; None
/// for anything else.
fn read_integer(bytes: &[u8]) -> Option<Number> {
    // Numerics in jsonb have a plain 4-byte varlena header; read here on
    // little-endian machines only (elsewhere: the text path).
    let header = u32_at(bytes, 0)?;
    if !cfg!(target_endian = "little") || header & 0x3 != 0 {
        return None;
    }
    let body = bytes.get(4..(header >> 2) as usize)?;
    let n_header = u16::from_ne_bytes(body.get(0..2)?.try_into().ok()?);
    let (negative, dscale, weight, digits) = if n_header & 0x8000 != 0 {
        if n_header & 0xC000 == 0xC000 {
            return None; // NaN / infinity
        }
        let weight = i32::from(n_header & 0x3F) | if n_header & 0x40 != 0 { !0x3F } else { 0 };
        (
            n_header & 0x2000 != 0,
            (n_header & 0x1F80) >> 7,
            weight,
            body.get(2..)?,
        )
    } else {
        let sign = n_header & 0xC000;
        if sign != 0 && sign != 0x4000 {
            return None;
        }
        let weight = i16::from_ne_bytes(body.get(2..4)?.try_into().ok()?);
        (
            sign == 0x4000,
            n_header & 0x3FFF,
            i32::from(weight),
            body.get(4..)?,
        )
    };
    let ndigits = digits.len() / 2;
    if dscale != 0 || digits.len() % 2 != 0 || weight > 9 || (ndigits as i32) > weight + 1 {
        return None;
    }
    let mut value: i128 = 0;
    for k in 0..=weight {
        let digit = match digits.get(2 * k as usize..2 * k as usize + 2) {
            Some(d) => i16::from_ne_bytes(d.try_into().ok()?),
            None => 0,
        };
        if !(0..10000).contains(&digit) {
            return None;
        }
        value = value.checked_mul(10000)?.checked_add(i128::from(digit))?;
    }
    if negative {
        value = -value;
    }
    if value >= 0 {
        u64::try_from(value).ok().map(Number::from)
    } else {
        i64::try_from(value).ok().map(Number::from)
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

/// A jsonb result built by Postgres's own code (no serde text round trip).
pub struct JsonbDatum(pub pg_sys::Datum);

impl JsonbDatum {
    /// `value` as jsonb, exactly what `jsonb_in` gives for its serde_json
    /// text (see the module notes).
    pub fn from_value(value: &Value) -> JsonbDatum {
        match pgjson::value_to_jsonb(value) {
            Some(d) => JsonbDatum(d),
            None => {
                let text = serde_json::to_string(value).unwrap_or_default();
                // SAFETY: CurrentMemoryContext is the caller's.
                JsonbDatum(pgjson::parse_in(text.as_bytes(), unsafe {
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
