//! jsonb's binary layout (PostgreSQL's `src/include/utils/jsonb.h`, unchanged
//! since 9.4), read and written by our own code: the constants, once; the
//! reader behind `Jsonb` arguments ([`read_container`]); the writer behind
//! jsonb results ([`write_jsonb`]). Each is kept because it beats PostgreSQL's
//! own code on the same inputs: the reader takes 0.5-0.7 of the time of a
//! `JsonbIteratorNext` walk, the writer 0.7-0.85 of `JsonbValueToJsonb`'s
//! (`insforge._jsonb_layout_bench()`, `benches/jsonb_bench.py`, BENCHMARKS.md
//! "jsonb: our layout code against PostgreSQL's"). Debug builds check the
//! writer's bytes against `JsonbValueToJsonb` on every call; the tests check
//! both halves against PostgreSQL's code and `jsonb_out`'s text.

use pgrx::pg_sys;
use serde_json::{Map, Number, Value};

pub const JB_CMASK: u32 = 0x0FFF_FFFF;
pub const JB_FSCALAR: u32 = 0x1000_0000;
pub const JB_FOBJECT: u32 = 0x2000_0000;
pub const JB_FARRAY: u32 = 0x4000_0000;
/// Every JB_OFFSET_STRIDE'th JEntry stores an end offset instead of a length.
pub const JB_OFFSET_STRIDE: usize = 32;
pub const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
pub const JENTRY_TYPEMASK: u32 = 0x7000_0000;
pub const JENTRY_HAS_OFF: u32 = 0x8000_0000;
pub const JENTRY_ISSTRING: u32 = 0x0000_0000;
pub const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
pub const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
pub const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
pub const JENTRY_ISNULL: u32 = 0x4000_0000;
pub const JENTRY_ISCONTAINER: u32 = 0x5000_0000;

// ---- reading: a jsonb container as serde JSON

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
pub fn read_container(c: &[u8], depth: usize) -> Option<Value> {
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

// ---- writing: a JsonbValue tree as jsonb bytes

/// The varlena bytes `convertToJsonb` would build for an object or array
/// root (4-byte header, then the container), or None for anything else.
/// A line-by-line counterpart of convertJsonbValue/Object/Array/Scalar:
/// containers and numerics padded to 4 bytes (relative to the varlena's
/// start; the padding belongs to the padded item's length), keys' JEntries
/// then values' JEntries, every 32nd JEntry an end offset instead of a length.
///
/// # Safety
/// Every pointer in the tree must be valid.
pub unsafe fn write_jsonb<'b>(root: &pg_sys::JsonbValue, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
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

/// An integer as a numeric, laid out (little-endian) as `int64_to_numeric`
/// does: short format, base-10000 digits most significant first, trailing
/// zero digits dropped, weight counting all of them; zero has no digits.
pub fn short_numeric(i: i64) -> [u32; 4] {
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
