//! `text` arguments in any server encoding.
//!
//! pgrx's `&str` and `String` arguments assume the database is UTF-8 and panic
//! (SQLSTATE XX000) on anything else: a `SQL_ASCII` database stores whatever
//! bytes it is given, and a `LATIN1` one stores `é` as one byte. [`DbText`]
//! converts the argument from the server encoding to UTF-8 with Postgres's own
//! conversion (`pg_server_to_any`) and raises 22021 (what Postgres raises for
//! an invalid byte sequence) when the bytes are not valid in UTF-8, naming the
//! argument and the database encoding. Every text argument of the extension's
//! Rust functions is a `DbText`.

use crate::errors::raise;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::datum::FromDatum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::PgSqlErrorCode;

/// A `text` argument as UTF-8.
pub struct DbText(pub String);

impl DbText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for DbText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// True when the database's encoding is UTF-8 (no conversion needed).
pub fn database_is_utf8() -> bool {
    // SAFETY: plain read of the backend's database encoding.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}

/// `bytes` (in the server encoding) as UTF-8; 22021 when they are not valid there.
pub fn server_to_utf8(bytes: &[u8], what: &str) -> String {
    let converted: Vec<u8> = if database_is_utf8() || bytes.is_ascii() {
        bytes.to_vec()
    } else {
        // SAFETY: pg_server_to_any reads `len` bytes and returns either its input
        // or a palloc'd NUL-terminated conversion; conversion errors are
        // raised by Postgres itself (22021).
        unsafe {
            let out = pg_sys::pg_server_to_any(
                bytes.as_ptr().cast(),
                bytes.len() as i32,
                pg_sys::pg_enc::PG_UTF8 as i32,
            );
            if out.cast::<u8>().cast_const() == bytes.as_ptr() {
                bytes.to_vec()
            } else {
                std::ffi::CStr::from_ptr(out).to_bytes().to_vec()
            }
        }
    };
    match String::from_utf8(converted) {
        Ok(s) => s,
        Err(_) => {
            // SAFETY: a static C string of the encoding's name.
            let encoding = unsafe {
                std::ffi::CStr::from_ptr(pg_sys::GetDatabaseEncodingName()).to_string_lossy()
            };
            raise(
                PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                format!("{what} is not valid UTF-8 (the database encoding is {encoding}, which accepts any bytes)"),
                Some("Tokens, keys, addresses and x402 headers are UTF-8 text; pass them as such."),
            )
        }
    }
}

impl FromDatum for DbText {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        let bytes = text_bytes(datum);
        Some(DbText(server_to_utf8(bytes, "a text argument")))
    }
}

// SAFETY: the same contract as pgrx's argue_from_datum! for its own types.
unsafe impl<'fcx> ArgAbi<'fcx> for DbText {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        arg.unbox_arg_using_from_datum().unwrap_or_else(|| {
            raise(
                PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                format!("argument {index} must not be null"),
                None,
            )
        })
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        arg.unbox_arg_using_from_datum().into()
    }
}

// SAFETY: the SQL type is text, which is what the datum is.
unsafe impl SqlTranslatable for DbText {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(DbText);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("text"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("text")));
}

/// The bytes of a text datum (detoasted if needed; valid while the datum is).
///
/// # Safety
/// `d` must be a valid, non-NULL text (varlena) datum.
pub unsafe fn text_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    let v = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
    let len = pgrx::varlena::varsize_any_exhdr(v);
    let data = pgrx::varlena::vardata_any(v).cast::<u8>();
    std::slice::from_raw_parts(data, len)
}

/// A new text datum holding `bytes`, in the current memory context.
pub fn text_datum(bytes: &[u8]) -> pg_sys::Datum {
    // SAFETY: copies `len` bytes into a freshly palloc'd text.
    unsafe {
        pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            bytes.as_ptr().cast(),
            bytes.len() as i32,
        ))
    }
}

/// A copy of a varlena datum (e.g. the cached jsonb) in the current memory context.
pub fn copy_varlena(d: pg_sys::Datum) -> pg_sys::Datum {
    // SAFETY: `d` is a non-toasted varlena (jsonb_in's result); we copy
    // exactly its size into a fresh palloc chunk.
    unsafe {
        let src = d.cast_mut_ptr::<pg_sys::varlena>();
        let size = pgrx::varlena::varsize_any(src);
        let dst = pg_sys::palloc(size);
        std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), size);
        pg_sys::Datum::from(dst)
    }
}
