//! Postgres's own jsonb code, called directly, so that every answer is the one
//! `::jsonb`, `->`, `->>` and `#>>` would give.

use insforge_core::jwt::{self, JsonSink, JwtError};
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::borrow::Cow;
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

/// A verified JWT's payload as `jsonb`, built in one pass: the core's parser
/// ([`jwt::parse_payload`]) hands each value to a [`JsonbSink`], which lays out
/// an in-memory `JsonbValue` tree (keys sorted and de-duplicated the way
/// `jsonb` does: shorter first, then bytewise; the last duplicate wins), and
/// one `JsonbValueToJsonb` call serialises it. No text round trip, no
/// `pushJsonbValue`, no intermediate `serde_json::Map`.
///
/// Returns the claims [`jwt::check_claims`] needs, and the `jsonb`, or None
/// when a value cannot be represented exactly that way (a number that is not
/// an `i64`, a string or key with NUL): the caller then runs `jsonb_in` on
/// the payload text (after the claim checks, as before), so the result is
/// always exactly `payload::jsonb`.
pub fn payload_to_jsonb(
    payload: &[u8],
) -> Result<
    (
        Option<pg_sys::Datum>,
        serde_json::Map<String, serde_json::Value>,
    ),
    JwtError,
> {
    let mut sink = JsonbSink::default();
    let (mut root, checked) = jwt::parse_payload(payload, &mut sink)?;
    if sink.inexact {
        return Ok((None, checked));
    }
    // SAFETY: every pointer in the tree points into `payload` (borrowed
    // strings) or into buffers owned by `sink` (owned strings, element and
    // pair arrays), both alive until after this call; JsonbValueToJsonb
    // copies everything into a new palloc'd jsonb in CurrentMemoryContext.
    let jsonb = unsafe { pg_sys::JsonbValueToJsonb(&mut root) };
    drop(sink);
    Ok((Some(pg_sys::Datum::from(jsonb)), checked))
}

/// `value` as jsonb, built like [`payload_to_jsonb`], or None when a number
/// is not an `i64` or a string contains NUL (the caller then parses the
/// serialized text with `jsonb_in`).
pub fn value_to_jsonb(value: &serde_json::Value) -> Option<pg_sys::Datum> {
    fn node<'v>(sink: &mut JsonbSink, v: &'v serde_json::Value) -> pg_sys::JsonbValue {
        use serde_json::Value;
        match v {
            Value::Null => <JsonbSink as JsonSink<'v>>::null(sink),
            Value::Bool(b) => <JsonbSink as JsonSink<'v>>::bool(sink, *b),
            Value::Number(n) => <JsonbSink as JsonSink<'v>>::number(sink, n.clone()),
            Value::String(s) => {
                if s.as_bytes().contains(&0) {
                    sink.inexact = true;
                }
                <JsonbSink as JsonSink<'v>>::string(sink, Cow::Borrowed(s))
            }
            Value::Array(items) => {
                let nodes = items.iter().map(|i| node(sink, i)).collect();
                <JsonbSink as JsonSink<'v>>::array(sink, nodes)
            }
            Value::Object(obj) => {
                let members = obj
                    .iter()
                    .map(|(k, i)| {
                        if k.as_bytes().contains(&0) {
                            sink.inexact = true;
                        }
                        (Cow::Borrowed(k.as_str()), node(sink, i))
                    })
                    .collect();
                <JsonbSink as JsonSink<'v>>::object(sink, members)
            }
        }
    }
    let mut sink = JsonbSink::default();
    let mut root = node(&mut sink, value);
    if sink.inexact {
        return None;
    }
    // (A scalar root is fine: JsonbValueToJsonb wraps it as a raw scalar.)
    // SAFETY: the tree points into `value` and into `sink`, both alive here;
    // the jsonb is a fresh palloc'd copy in CurrentMemoryContext.
    let jsonb = unsafe { pg_sys::JsonbValueToJsonb(&mut root) };
    drop(sink);
    Some(pg_sys::Datum::from(jsonb))
}

/// See [`payload_to_jsonb`]. The `JsonbValue`s it returns hold raw pointers
/// into the parsed input and into its own arenas: valid only while both live.
#[derive(Default)]
struct JsonbSink {
    strings: Vec<String>,
    elems: Vec<Vec<pg_sys::JsonbValue>>,
    pairs: Vec<Vec<pg_sys::JsonbPair>>,
    numerics: NumericArena,
    inexact: bool,
}

/// Room for numerics (16 bytes each, 4-byte aligned) whose addresses stay
/// put: fixed-size chunks, never reallocated.
#[derive(Default)]
struct NumericArena {
    // Boxed on purpose: the chunks must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    chunks: Vec<Box<[[u32; 4]; 32]>>,
    used: usize,
}

impl NumericArena {
    fn alloc(&mut self, value: [u32; 4]) -> Option<pg_sys::Numeric> {
        if self.used == 0 || self.used == 32 {
            self.chunks.push(Box::new([[0; 4]; 32]));
            self.used = 0;
        }
        let slot = self
            .chunks
            .last_mut()
            .and_then(|chunk| chunk.get_mut(self.used));
        self.used += 1;
        slot.map(|slot| {
            *slot = value;
            slot.as_mut_ptr().cast()
        })
    }
}

fn jbv(type_: pg_sys::jbvType::Type) -> pg_sys::JsonbValue {
    // SAFETY: JsonbValue is a plain C struct; all-zero is a valid bit pattern.
    let mut v: pg_sys::JsonbValue = unsafe { std::mem::zeroed() };
    v.type_ = type_;
    v
}

impl JsonbSink {
    /// A string (or key). Only an unescaped copy can hold a NUL: JSON text
    /// itself cannot contain a raw control character.
    fn text(&mut self, s: Cow<'_, str>) -> pg_sys::JsonbValue {
        let (ptr, len) = match s {
            Cow::Borrowed(b) => (b.as_ptr(), b.len()),
            Cow::Owned(o) => {
                if o.as_bytes().contains(&0) {
                    self.inexact = true;
                }
                let p = (o.as_ptr(), o.len());
                self.strings.push(o);
                p
            }
        };
        let mut v = jbv(pg_sys::jbvType::jbvString);
        v.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
            len: len as i32,
            val: ptr.cast_mut().cast(),
        };
        v
    }
}

impl<'de> JsonSink<'de> for JsonbSink {
    type Node = pg_sys::JsonbValue;

    fn null(&mut self) -> pg_sys::JsonbValue {
        jbv(pg_sys::jbvType::jbvNull)
    }

    fn bool(&mut self, value: bool) -> pg_sys::JsonbValue {
        let mut v = jbv(pg_sys::jbvType::jbvBool);
        v.val.boolean = value;
        v
    }

    fn number(&mut self, value: serde_json::Number) -> pg_sys::JsonbValue {
        let Some(i) = value.as_i64() else {
            self.inexact = true;
            return self.null();
        };
        let mut v = jbv(pg_sys::jbvType::jbvNumeric);
        v.val.numeric = self.numeric(i);
        v
    }

    fn string(&mut self, value: Cow<'de, str>) -> pg_sys::JsonbValue {
        self.text(value)
    }

    fn array(&mut self, items: Vec<pg_sys::JsonbValue>) -> pg_sys::JsonbValue {
        let mut v = jbv(pg_sys::jbvType::jbvArray);
        v.val.array = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_2 {
            nElems: items.len() as i32,
            elems: items.as_ptr().cast_mut(),
            rawScalar: false,
        };
        self.elems.push(items);
        v
    }

    fn object(&mut self, members: Vec<(Cow<'de, str>, pg_sys::JsonbValue)>) -> pg_sys::JsonbValue {
        let mut pairs = Vec::with_capacity(members.len());
        for (order, (key, value)) in members.into_iter().enumerate() {
            pairs.push(pg_sys::JsonbPair {
                key: self.text(key),
                value,
                order: order as u32,
            });
        }
        // jsonb's key order (lengthCompareJsonbStringValue: shorter first,
        // then bytewise), and for equal keys the later one first, so that
        // keeping the first of each run keeps the last duplicate (what
        // uniqueifyJsonbObject does).
        pairs.sort_by(|a, b| {
            let (ka, kb) = (key_bytes(a), key_bytes(b));
            ka.len()
                .cmp(&kb.len())
                .then_with(|| match (short_key(ka), short_key(kb)) {
                    // Claim names are short: compare them as integers.
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => ka.cmp(kb),
                })
                .then_with(|| b.order.cmp(&a.order))
        });
        pairs.dedup_by(|later, first| key_bytes(later) == key_bytes(first));
        let mut v = jbv(pg_sys::jbvType::jbvObject);
        v.val.object = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_3 {
            nPairs: pairs.len() as i32,
            pairs: pairs.as_mut_ptr(),
        };
        self.pairs.push(pairs);
        v
    }
}

/// A key of at most 8 bytes as a big-endian integer (zero-padded): for keys
/// of equal length, integer order is byte order.
fn short_key(key: &[u8]) -> Option<u64> {
    if key.len() > 8 {
        return None;
    }
    let mut b = [0u8; 8];
    b[..key.len()].copy_from_slice(key);
    Some(u64::from_be_bytes(b))
}

/// A pair's key bytes.
fn key_bytes(pair: &pg_sys::JsonbPair) -> &[u8] {
    // SAFETY: keys are built by JsonbSink::text: `val`/`len` describe a live
    // string (in the parsed input or the sink's arena) for the sink's life.
    unsafe {
        let s = pair.key.val.string;
        std::slice::from_raw_parts(s.val.cast::<u8>(), s.len as usize)
    }
}

impl JsonbSink {
    /// An integer as a numeric, laid out as `int64_to_numeric` does (short
    /// format: base-10000 digits, trailing zero digits dropped), in the sink's
    /// own memory; on a big-endian machine, `int64_to_numeric` itself.
    fn numeric(&mut self, i: i64) -> pg_sys::Numeric {
        if cfg!(target_endian = "big") {
            return int_numeric(i);
        }
        self.short_numeric(i).unwrap_or_else(|| int_numeric(i))
    }

    fn short_numeric(&mut self, i: i64) -> Option<pg_sys::Numeric> {
        let mut magnitude = i.unsigned_abs();
        let mut digits = [0u16; 5];
        let mut n = 0;
        while magnitude > 0 {
            digits[n] = (magnitude % 10_000) as u16;
            magnitude /= 10_000;
            n += 1;
        }
        // digits[..n] are least significant first; weight counts all of them.
        let weight = n.saturating_sub(1) as u16;
        let zeros = digits[..n].iter().take_while(|&&d| d == 0).count();
        let kept = &digits[zeros..n];
        let negative = i < 0 && !kept.is_empty();
        let n_header: u16 = 0x8000 | if negative { 0x2000 } else { 0 } | (weight & 0x3F);
        let len = 6 + 2 * kept.len();
        let mut bytes = [0u8; 16];
        let mut at = 0;
        let mut put = |b: &[u8]| {
            bytes[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        };
        put(&((len as u32) << 2).to_ne_bytes());
        put(&n_header.to_ne_bytes());
        for d in kept.iter().rev() {
            put(&(*d as i16).to_ne_bytes());
        }
        let mut words = [0u32; 4];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        self.numerics.alloc(words)
    }
}

/// An integer as a palloc'd numeric (what `jsonb_in` stores for it).
fn int_numeric(i: i64) -> pg_sys::Numeric {
    #[cfg(not(feature = "pg13"))]
    {
        // SAFETY: allocates a numeric in CurrentMemoryContext.
        unsafe { pg_sys::int64_to_numeric(i) }
    }
    #[cfg(feature = "pg13")]
    {
        // SAFETY: int8_numeric takes an int8 datum and returns a numeric.
        unsafe {
            direct_function_call_as_datum(pg_sys::int8_numeric, &[Some(pg_sys::Datum::from(i))])
                .unwrap_or(pg_sys::Datum::from(0usize))
                .cast_mut_ptr()
        }
    }
}
