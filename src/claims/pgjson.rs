//! Postgres's own jsonb code, called directly, so that every answer is the one
//! `::jsonb`, `->`, `->>` and `#>>` would give.

use crate::dbtext::database_is_utf8;
use insforge_core::jwt::{self, JsonSink, JwtError};
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::borrow::Cow;
use std::cell::RefCell;
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
/// [`tree_to_jsonb`] serialises it. No text round trip, no `pushJsonbValue`,
/// no intermediate `serde_json::Map`.
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
    with_sink(|sink| {
        // Every pair takes at least 4 bytes of JSON (`"":0`), every array
        // element or number at least 1 plus a separator: room for any tree
        // of this text, so the arenas never move while it is built.
        sink.reset(payload.len() / 4 + 1, payload.len() / 2 + 1);
        let (mut root, checked) = jwt::parse_payload(payload, sink)?;
        if sink.inexact || !database_is_utf8() {
            return Ok((None, checked));
        }
        // SAFETY: every pointer in the tree points into `payload` (borrowed
        // strings) or into the sink's arenas, both alive and unmoved until
        // after this call; the jsonb is a new palloc'd copy.
        let jsonb = unsafe { tree_to_jsonb(&mut root, &mut sink.out) };
        Ok((Some(jsonb), checked))
    })
}

/// `value` as jsonb, built like [`payload_to_jsonb`], or None when a number
/// is not an `i64` or a string contains NUL (the caller then parses the
/// serialized text with `jsonb_in`).
pub fn value_to_jsonb(value: &serde_json::Value) -> Option<pg_sys::Datum> {
    fn count(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(items) => 1 + items.iter().map(count).sum::<usize>(),
            serde_json::Value::Object(obj) => 1 + obj.values().map(count).sum::<usize>(),
            _ => 1,
        }
    }
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
    if !database_is_utf8() {
        return None;
    }
    with_sink(|sink| {
        let n = count(value);
        sink.reset(n, n);
        let mut root = node(sink, value);
        if sink.inexact {
            return None;
        }
        // SAFETY: the tree points into `value` and into the sink's arenas,
        // both alive and unmoved here; the jsonb is a fresh palloc'd copy.
        Some(unsafe { tree_to_jsonb(&mut root, &mut sink.out) })
    })
}

// The direct writer stores strings as UTF-8 (serde's unescaping of `\u`
// escapes included); in another encoding `jsonb_in` converts them, so the
// callers take that path there (dbtext::database_is_utf8).

thread_local! {
    /// One sink per backend, its arenas reused from call to call.
    static SINK: RefCell<JsonbSink> = RefCell::new(JsonbSink::default());
}

/// Runs `f` with the backend's sink (a fresh one if it is in use), and
/// frees arenas a large document grew.
fn with_sink<T>(f: impl FnOnce(&mut JsonbSink) -> T) -> T {
    SINK.with(|cell| match cell.try_borrow_mut() {
        Ok(mut sink) => {
            let out = f(&mut sink);
            if sink.pairs.capacity() > 4096 || sink.elems.capacity() > 8192 {
                *sink = JsonbSink::default();
            }
            out
        }
        Err(_) => f(&mut JsonbSink::default()),
    })
}

/// A `JsonbValue` tree (an object or array root, as [`JsonbSink`] builds
/// them: keys sorted and unique) as a jsonb datum: serialised by
/// [`write_jsonb`] exactly as Postgres's `convertToJsonb` lays it out, in one
/// palloc; anything else (a scalar root, sizes past jsonb's limits) through
/// `JsonbValueToJsonb` itself. Debug builds also run `JsonbValueToJsonb`
/// and assert the bytes are identical.
///
/// # Safety
/// Every pointer in the tree must be valid (see [`JsonbSink`]).
unsafe fn tree_to_jsonb(root: &mut pg_sys::JsonbValue, buf: &mut Vec<u8>) -> pg_sys::Datum {
    let Some(bytes) = write_jsonb(root, buf) else {
        return pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(root));
    };
    if cfg!(debug_assertions) {
        let theirs = pg_sys::JsonbValueToJsonb(root).cast::<u8>();
        let size = pgrx::varlena::varsize_any(theirs.cast());
        let theirs = std::slice::from_raw_parts(theirs, size);
        assert_eq!(bytes, theirs, "jsonb writer differs from convertToJsonb");
    }
    let out = pg_sys::palloc(bytes.len()).cast::<u8>();
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len());
    pg_sys::Datum::from(out)
}

// jsonb's layout (src/include/utils/jsonb.h), unchanged since 9.4.
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;
const JB_OFFSET_STRIDE: usize = 32;
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;

/// The varlena bytes `convertToJsonb` would build for an object or array
/// root (4-byte header, then the container), or None for anything else.
/// A line-by-line counterpart of convertJsonbValue/Object/Array/Scalar:
/// containers and numerics padded to 4 bytes (relative to the varlena's
/// start; the padding belongs to the padded item's length), keys' JEntries
/// then values' JEntries, every 32nd JEntry an end offset instead of a length.
///
/// # Safety
/// Every pointer in the tree must be valid.
unsafe fn write_jsonb<'b>(root: &pg_sys::JsonbValue, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    if !matches!(
        root.type_,
        pg_sys::jbvType::jbvObject | pg_sys::jbvType::jbvArray
    ) || cfg!(target_endian = "big")
    {
        return None;
    }
    buf.clear();
    buf.extend_from_slice(&[0u8; 4]);
    write_value(buf, root)?;
    let len = u32::try_from(buf.len()).ok().filter(|&l| l < 1 << 30)?;
    buf.get_mut(..4)?.copy_from_slice(&(len << 2).to_ne_bytes());
    Some(buf)
}

fn pad_to_int(buf: &mut Vec<u8>) -> usize {
    let pad = (4 - buf.len() % 4) % 4;
    buf.extend_from_slice(&[0u8; 3][..pad]);
    pad
}

/// Appends one value; returns its JEntry (type and length).
unsafe fn write_value(buf: &mut Vec<u8>, v: &pg_sys::JsonbValue) -> Option<u32> {
    use pg_sys::jbvType as t;
    let entry = match v.type_ {
        t::jbvNull => JENTRY_ISNULL,
        t::jbvBool if v.val.boolean => JENTRY_ISBOOL_TRUE,
        t::jbvBool => JENTRY_ISBOOL_FALSE,
        t::jbvString => {
            let s = v.val.string;
            let len = usize::try_from(s.len).ok()?;
            buf.extend_from_slice(std::slice::from_raw_parts(s.val.cast::<u8>(), len));
            u32::try_from(len)
                .ok()
                .filter(|&l| l <= JENTRY_OFFLENMASK)?
        }
        t::jbvNumeric => {
            let numeric = v.val.numeric.cast::<pg_sys::varlena>();
            let len = pgrx::varlena::varsize_any(numeric);
            let pad = pad_to_int(buf);
            buf.extend_from_slice(std::slice::from_raw_parts(numeric.cast::<u8>(), len));
            JENTRY_ISNUMERIC
                | u32::try_from(pad + len)
                    .ok()
                    .filter(|&l| l <= JENTRY_OFFLENMASK)?
        }
        t::jbvObject => {
            let o = v.val.object;
            let pairs = std::slice::from_raw_parts(o.pairs, usize::try_from(o.nPairs).ok()?);
            let keys = pairs.iter().map(|p| &p.key);
            let values = pairs.iter().map(|p| &p.value);
            write_container(buf, JB_FOBJECT, pairs.len(), keys.chain(values))?
        }
        t::jbvArray => {
            let a = v.val.array;
            if a.rawScalar {
                return None;
            }
            let elems = std::slice::from_raw_parts(a.elems, usize::try_from(a.nElems).ok()?);
            write_container(buf, JB_FARRAY, elems.len(), elems.iter())?
        }
        _ => return None,
    };
    Some(entry)
}

/// A container: header, its JEntries (`count` pairs' keys then values, or
/// `count` elements), then the children's data.
unsafe fn write_container<'a>(
    buf: &mut Vec<u8>,
    kind: u32,
    count: usize,
    children: impl Iterator<Item = &'a pg_sys::JsonbValue>,
) -> Option<u32> {
    let base = buf.len();
    pad_to_int(buf);
    let head = u32::try_from(count).ok().filter(|&c| c <= 0x0FFF_FFFF)? | kind;
    buf.extend_from_slice(&head.to_ne_bytes());
    let entries = if kind == JB_FOBJECT { count * 2 } else { count };
    let mut at = buf.len();
    buf.resize(at + 4 * entries, 0);
    let mut total: u32 = 0;
    for (i, child) in children.enumerate() {
        let meta = write_value(buf, child)?;
        total = total.checked_add(meta & JENTRY_OFFLENMASK)?;
        if total > JENTRY_OFFLENMASK {
            return None;
        }
        let meta = if i % JB_OFFSET_STRIDE == 0 {
            (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF
        } else {
            meta
        };
        buf.get_mut(at..at + 4)?
            .copy_from_slice(&meta.to_ne_bytes());
        at += 4;
    }
    let len = u32::try_from(buf.len() - base)
        .ok()
        .filter(|&l| l <= JENTRY_OFFLENMASK)?;
    Some(JENTRY_ISCONTAINER | len)
}

/// See [`payload_to_jsonb`]. The `JsonbValue`s it returns hold raw pointers
/// into the parsed input and into its own arenas: valid only while both live
/// and the arenas are not moved, which [`reset`](JsonbSink::reset) ensures by
/// reserving room for the whole tree first (a push that would not fit marks
/// the tree inexact instead of reallocating).
#[derive(Default)]
struct JsonbSink {
    strings: Vec<String>,
    elems: Vec<pg_sys::JsonbValue>,
    pairs: Vec<pg_sys::JsonbPair>,
    numerics: Vec<[u32; 4]>,
    out: Vec<u8>,
    inexact: bool,
}

fn jbv(type_: pg_sys::jbvType::Type) -> pg_sys::JsonbValue {
    // SAFETY: JsonbValue is a plain C struct; all-zero is a valid bit pattern.
    let mut v: pg_sys::JsonbValue = unsafe { std::mem::zeroed() };
    v.type_ = type_;
    v
}

/// Pushes `item` unless that would reallocate `arena`; false then.
fn push_fixed<T>(arena: &mut Vec<T>, item: T) -> bool {
    if arena.len() == arena.capacity() {
        return false;
    }
    arena.push(item);
    true
}

impl JsonbSink {
    /// Empties the arenas (keeping their memory) and makes room for `pairs`
    /// object members and `values` array elements and numbers.
    fn reset(&mut self, pairs: usize, values: usize) {
        self.strings.clear();
        self.elems.clear();
        self.pairs.clear();
        self.numerics.clear();
        self.inexact = false;
        self.pairs.reserve(pairs);
        self.elems.reserve(values);
        self.numerics.reserve(values);
    }

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

    fn unrepresentable(&mut self) -> pg_sys::JsonbValue {
        self.inexact = true;
        jbv(pg_sys::jbvType::jbvNull)
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
            return self.unrepresentable();
        };
        let numeric = if cfg!(target_endian = "big") {
            int_numeric(i)
        } else {
            if !push_fixed(&mut self.numerics, short_numeric(i)) {
                return self.unrepresentable();
            }
            match self.numerics.last_mut() {
                Some(slot) => slot.as_mut_ptr().cast(),
                None => return self.unrepresentable(),
            }
        };
        let mut v = jbv(pg_sys::jbvType::jbvNumeric);
        v.val.numeric = numeric;
        v
    }

    fn string(&mut self, value: Cow<'de, str>) -> pg_sys::JsonbValue {
        self.text(value)
    }

    fn array(&mut self, items: Vec<pg_sys::JsonbValue>) -> pg_sys::JsonbValue {
        let start = self.elems.len();
        for item in items {
            if !push_fixed(&mut self.elems, item) {
                return self.unrepresentable();
            }
        }
        let n = self.elems.len() - start;
        let mut v = jbv(pg_sys::jbvType::jbvArray);
        v.val.array = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_2 {
            nElems: n as i32,
            // SAFETY: start <= len; the arena does not move (see reset).
            elems: unsafe { self.elems.as_mut_ptr().add(start) },
            rawScalar: false,
        };
        v
    }

    fn object(&mut self, members: Vec<(Cow<'de, str>, pg_sys::JsonbValue)>) -> pg_sys::JsonbValue {
        let start = self.pairs.len();
        for (order, (key, value)) in members.into_iter().enumerate() {
            let key = self.text(key);
            let pair = pg_sys::JsonbPair {
                key,
                value,
                order: order as u32,
            };
            if !push_fixed(&mut self.pairs, pair) {
                return self.unrepresentable();
            }
        }
        let Some(tail) = self.pairs.get_mut(start..) else {
            return self.unrepresentable();
        };
        // jsonb's key order (lengthCompareJsonbStringValue: shorter first,
        // then bytewise), and for equal keys the later one first, so that
        // keeping the first of each run keeps the last duplicate (what
        // uniqueifyJsonbObject does). `order` is unique: no ties.
        tail.sort_unstable_by(|a, b| {
            let (ka, kb) = (key_bytes(a), key_bytes(b));
            ka.len()
                .cmp(&kb.len())
                .then_with(|| ka.first().cmp(&kb.first()))
                .then_with(|| ka.cmp(kb))
                .then_with(|| b.order.cmp(&a.order))
        });
        let mut kept = 0usize;
        for i in 0..tail.len() {
            let pair = tail[i];
            if kept > 0 && key_bytes(&tail[kept - 1]) == key_bytes(&pair) {
                continue;
            }
            tail[kept] = pair;
            kept += 1;
        }
        self.pairs.truncate(start + kept);
        let mut v = jbv(pg_sys::jbvType::jbvObject);
        v.val.object = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_3 {
            nPairs: kept as i32,
            // SAFETY: start <= len; the arena does not move (see reset).
            pairs: unsafe { self.pairs.as_mut_ptr().add(start) },
        };
        v
    }
}

/// A pair's key bytes.
fn key_bytes(pair: &pg_sys::JsonbPair) -> &[u8] {
    // SAFETY: keys are built by JsonbSink::text: `val`/`len` describe a live
    // string (in the parsed input or the sink's arena) for the tree's life.
    unsafe {
        let s = pair.key.val.string;
        std::slice::from_raw_parts(s.val.cast::<u8>(), s.len as usize)
    }
}

/// An integer as a numeric, laid out (little-endian) as `int64_to_numeric`
/// does: short format, base-10000 digits most significant first, trailing
/// zero digits dropped, weight counting all of them; zero has no digits.
fn short_numeric(i: i64) -> [u32; 4] {
    let mut magnitude = i.unsigned_abs();
    let mut digits = [0u16; 5];
    let mut n = 0;
    while magnitude > 0 && n < digits.len() {
        digits[n] = (magnitude % 10_000) as u16;
        magnitude /= 10_000;
        n += 1;
    }
    // digits[..n] are least significant first.
    let weight = n.saturating_sub(1) as u16;
    let zeros = digits[..n].iter().take_while(|&&d| d == 0).count();
    let kept = &digits[zeros..n];
    let negative = i < 0 && !kept.is_empty();
    let n_header: u16 = 0x8000 | if negative { 0x2000 } else { 0 } | (weight & 0x3F);
    let len = 6 + 2 * kept.len();
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&((len as u32) << 2).to_ne_bytes());
    bytes[4..6].copy_from_slice(&n_header.to_ne_bytes());
    for (slot, d) in bytes[6..].chunks_exact_mut(2).zip(kept.iter().rev()) {
        slot.copy_from_slice(&(*d as i16).to_ne_bytes());
    }
    let mut words = [0u32; 4];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    words
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
