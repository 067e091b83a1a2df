//! PostgreSQL's own jsonb functions, called directly, so that every answer is
//! the one `::jsonb`, `->`, `->>` and `#>>` would give.

use crate::dbtext::text_bytes;
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::ffi::CStr;

/// `bytes::jsonb`, allocated in `mcxt`. Raises exactly what `jsonb_in` raises.
pub fn parse_in(bytes: &[u8], mcxt: pg_sys::MemoryContext) -> pg_sys::Datum {
    // SAFETY: pnstrdup copies `len` bytes and NUL-terminates; jsonb_in reads
    // that C string and allocates its result in CurrentMemoryContext, which we
    // point at `mcxt` for the duration of the call (restored on error by
    // Postgres's error recovery, and by us on success).
    unsafe {
        let old = pg_sys::MemoryContextSwitchTo(mcxt);
        let cstr = pg_sys::pnstrdup(bytes.as_ptr().cast(), bytes.len());
        let parsed =
            direct_function_call_as_datum(pg_sys::jsonb_in, &[Some(pg_sys::Datum::from(cstr))]);
        pg_sys::MemoryContextSwitchTo(old);
        // jsonb_in never returns NULL for a non-NULL input.
        parsed.unwrap_or(pg_sys::Datum::from(0usize))
    }
}

/// `jsonb ->> key`, as bytes.
pub fn field_text(jsonb: pg_sys::Datum, key: pg_sys::Datum) -> Option<Vec<u8>> {
    // SAFETY: both arguments are valid varlena datums.
    unsafe {
        direct_function_call_as_datum(pg_sys::jsonb_object_field_text, &[Some(jsonb), Some(key)])
            .map(|d| text_bytes(d).to_vec())
    }
}

/// `nullif(jsonb ->> name, '')`, as bytes.
pub fn field_text_nonempty(jsonb: pg_sys::Datum, name: &CStr) -> Option<Vec<u8>> {
    // SAFETY: cstring_to_text copies the NUL-terminated name into a new text.
    let key = unsafe { pg_sys::Datum::from(pg_sys::cstring_to_text(name.as_ptr())) };
    field_text(jsonb, key).filter(|v| !v.is_empty())
}

/// `jsonb ->> key` as a text datum in the current memory context.
pub fn field_text_datum(jsonb: pg_sys::Datum, key: pg_sys::Datum) -> Option<pg_sys::Datum> {
    // SAFETY: both arguments are valid varlena datums.
    unsafe {
        direct_function_call_as_datum(pg_sys::jsonb_object_field_text, &[Some(jsonb), Some(key)])
    }
}

/// `jsonb #>> path` as a text datum in the current memory context.
pub fn path_text_datum(jsonb: pg_sys::Datum, path: pg_sys::Datum) -> Option<pg_sys::Datum> {
    // SAFETY: jsonb and a text[] datum.
    unsafe {
        direct_function_call_as_datum(pg_sys::jsonb_extract_path_text, &[Some(jsonb), Some(path)])
    }
}

/// True when `jsonb -> key` equals `value`, or is a JSON array with an element
/// whose text (`#>> '{}'`) equals `value`.
pub fn has_claim(jsonb: pg_sys::Datum, key: pg_sys::Datum, value: &[u8]) -> bool {
    // SAFETY: all datums passed are valid jsonb/text/int4 datums.
    unsafe {
        let Some(field) =
            direct_function_call_as_datum(pg_sys::jsonb_object_field, &[Some(jsonb), Some(key)])
        else {
            return false;
        };
        let kind = direct_function_call_as_datum(pg_sys::jsonb_typeof, &[Some(field)]);
        if kind.is_some_and(|k| text_bytes(k) == b"array") {
            let len = direct_function_call_as_datum(pg_sys::jsonb_array_length, &[Some(field)])
                .map(|d| d.value() as i32)
                .unwrap_or(0);
            (0..len).any(|i| {
                direct_function_call_as_datum(
                    pg_sys::jsonb_array_element_text,
                    &[Some(field), Some(pg_sys::Datum::from(i))],
                )
                .is_some_and(|e| text_bytes(e) == value)
            })
        } else {
            field_text(jsonb, key).is_some_and(|t| t == value)
        }
    }
}

/// A jsonb datum as serde JSON, through Postgres's own text output
/// (numbers that do not fit an f64/i64 keep their digits as best serde can).
pub fn jsonb_to_value(jsonb: pg_sys::Datum) -> serde_json::Value {
    // SAFETY: jsonb_out returns a palloc'd NUL-terminated C string.
    unsafe {
        let out = direct_function_call_as_datum(pg_sys::jsonb_out, &[Some(jsonb)]);
        let Some(d) = out else {
            return serde_json::Value::Null;
        };
        let text = std::ffi::CStr::from_ptr(d.cast_mut_ptr::<std::ffi::c_char>());
        serde_json::from_slice(text.to_bytes()).unwrap_or(serde_json::Value::Null)
    }
}
