//! `JsonbValue` trees built without a text round trip: a JWT payload as the
//! core's parser reads it ([`payload_to_jsonb`]), or a serde value
//! ([`value_to_jsonb`]), laid out by [`super::layout::write_jsonb`].

use super::layout::{short_numeric, write_jsonb};
use crate::dbtext::database_is_utf8;
use insforge_core::jwt::{self, JsonSink, JwtError};
#[cfg(feature = "pg13")]
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::borrow::Cow;
use std::cell::RefCell;

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
    if !database_is_utf8() {
        return None;
    }
    // SAFETY: the tree points into `value` and into the sink's arenas, both
    // alive and unmoved during the call; the jsonb is a fresh palloc'd copy.
    with_value_tree(value, |root, out| unsafe { tree_to_jsonb(root, out) })
}

/// Runs `f` on `value`'s `JsonbValue` tree (and the sink's output buffer),
/// or None when the tree cannot be exact (see [`value_to_jsonb`]). The tree
/// is valid only during `f`.
pub fn with_value_tree<T>(
    value: &serde_json::Value,
    f: impl FnOnce(&mut pg_sys::JsonbValue, &mut Vec<u8>) -> T,
) -> Option<T> {
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
    with_sink(|sink| {
        let n = count(value);
        sink.reset(n, n);
        let mut root = node(sink, value);
        if sink.inexact {
            return None;
        }
        Some(f(&mut root, &mut sink.out))
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
