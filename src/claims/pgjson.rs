//! Postgres's own jsonb code, called directly, so that every answer is the one
//! `::jsonb`, `->`, `->>` and `#>>` would give.

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

/// `jsonb` built directly from parsed claims with Postgres's `pushJsonbValue`
/// (no text round trip), or None when the value cannot be represented exactly
/// that way: a number that is not an integer (serde keeps only an f64 of it) or
/// a string with a NUL. The caller then parses the original text instead, so
/// the result is always what `::jsonb` of the payload gives.
pub fn object_to_jsonb(obj: &serde_json::Map<String, serde_json::Value>) -> Option<pg_sys::Datum> {
    if !obj.iter().all(|(k, v)| !k.contains('\0') && exact(v)) {
        return None;
    }
    // SAFETY: every JsonbValue pushed points at palloc'd copies that live in
    // the current memory context until JsonbValueToJsonb has serialised them.
    unsafe {
        let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
        let root = push_object(&mut state, obj);
        Some(pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(root)))
    }
}

fn exact(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => !s.contains('\0'),
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(a) => a.iter().all(exact),
        Value::Object(o) => o.iter().all(|(k, v)| !k.contains('\0') && exact(v)),
        Value::Null | Value::Bool(_) => true,
    }
}

unsafe fn string_jbv(s: &str) -> pg_sys::JsonbValue {
    let copy = pg_sys::palloc(s.len().max(1)).cast::<std::ffi::c_char>();
    std::ptr::copy_nonoverlapping(s.as_ptr().cast::<std::ffi::c_char>(), copy, s.len());
    let mut jv: pg_sys::JsonbValue = std::mem::zeroed();
    jv.type_ = pg_sys::jbvType::jbvString;
    jv.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
        len: s.len() as i32,
        val: copy,
    };
    jv
}

unsafe fn scalar_jbv(v: &serde_json::Value) -> pg_sys::JsonbValue {
    use serde_json::Value;
    let mut jv: pg_sys::JsonbValue = std::mem::zeroed();
    match v {
        Value::String(s) => return string_jbv(s),
        Value::Bool(b) => {
            jv.type_ = pg_sys::jbvType::jbvBool;
            jv.val.boolean = *b;
        }
        Value::Number(n) => {
            let numeric = match n.as_i64() {
                Some(i) => direct_function_call_as_datum(
                    pg_sys::int8_numeric,
                    &[Some(pg_sys::Datum::from(i))],
                ),
                None => {
                    let digits = std::ffi::CString::new(n.to_string()).unwrap_or_default();
                    direct_function_call_as_datum(
                        pg_sys::numeric_in,
                        &[
                            Some(pg_sys::Datum::from(digits.as_ptr())),
                            Some(pg_sys::Datum::from(pg_sys::InvalidOid)),
                            Some(pg_sys::Datum::from(-1i32)),
                        ],
                    )
                }
            };
            jv.type_ = pg_sys::jbvType::jbvNumeric;
            jv.val.numeric = numeric
                .unwrap_or(pg_sys::Datum::from(0usize))
                .cast_mut_ptr();
        }
        _ => jv.type_ = pg_sys::jbvType::jbvNull,
    }
    jv
}

unsafe fn push_value(
    state: &mut *mut pg_sys::JsonbParseState,
    v: &serde_json::Value,
    token: pg_sys::JsonbIteratorToken::Type,
) -> *mut pg_sys::JsonbValue {
    use pg_sys::JsonbIteratorToken::*;
    match v {
        serde_json::Value::Object(o) => push_object(state, o),
        serde_json::Value::Array(a) => {
            pg_sys::pushJsonbValue(state, WJB_BEGIN_ARRAY, std::ptr::null_mut());
            for e in a {
                push_value(state, e, WJB_ELEM);
            }
            pg_sys::pushJsonbValue(state, WJB_END_ARRAY, std::ptr::null_mut())
        }
        scalar => {
            let mut jv = scalar_jbv(scalar);
            pg_sys::pushJsonbValue(state, token, &mut jv)
        }
    }
}

unsafe fn push_object(
    state: &mut *mut pg_sys::JsonbParseState,
    obj: &serde_json::Map<String, serde_json::Value>,
) -> *mut pg_sys::JsonbValue {
    use pg_sys::JsonbIteratorToken::*;
    pg_sys::pushJsonbValue(state, WJB_BEGIN_OBJECT, std::ptr::null_mut());
    for (k, v) in obj {
        let mut key = string_jbv(k);
        pg_sys::pushJsonbValue(state, WJB_KEY, &mut key);
        push_value(state, v, WJB_VALUE);
    }
    pg_sys::pushJsonbValue(state, WJB_END_OBJECT, std::ptr::null_mut())
}
