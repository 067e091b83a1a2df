//! Small helpers shared by the x402 modules (crate-internal).

use serde_json::{Map, Value};

use super::error::{Result, X402Error};

/// Longest piece of user input quoted in an error message, in characters.
const SHOW_MAX_CHARS: usize = 80;

/// User input made safe to quote in a message: control characters escaped,
/// cut after [`SHOW_MAX_CHARS`] characters.
pub(crate) fn show(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= SHOW_MAX_CHARS {
            out.push('…');
            return out;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The JSON type of `v`, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `s` without a leading `0x`/`0X`, or `None` when it has none.
pub(crate) fn strip_0x(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// Decodes hex `digits` (no prefix); `what` and `original` name the input in
/// messages.
pub(crate) fn decode_hex(what: &str, original: &str, digits: &str) -> Result<Vec<u8>> {
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(X402Error::malformed(format!(
            "{what} {} contains the non-hex character {c:?}",
            show(original)
        )));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(X402Error::malformed(format!(
            "{what} {} has an odd number of hex digits ({})",
            show(original),
            digits.len()
        )));
    }
    hex::decode(digits)
        .map_err(|e| X402Error::malformed(format!("{what} {} is not hex: {e}", show(original))))
}

/// `0x` + lowercase hex.
pub(crate) fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// "1 byte" / "3 bytes".
pub(crate) fn bytes_word(n: usize) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

/// Copies a slice into a fixed array when the lengths match.
pub(crate) fn to_array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    <[u8; N]>::try_from(bytes).ok()
}

/// Parses `0x` + exactly 64 hex digits (a `bytes32`, e.g. an EIP-3009 nonce).
pub fn parse_bytes32(s: &str) -> Result<[u8; 32]> {
    let digits = strip_0x(s)
        .ok_or_else(|| X402Error::malformed(format!("bytes32 {} must start with 0x", show(s))))?;
    let bytes = decode_hex("bytes32", s, digits)?;
    to_array::<32>(&bytes).ok_or_else(|| {
        X402Error::malformed(format!(
            "bytes32 {} has {}, expected 32",
            show(s),
            bytes_word(bytes.len())
        ))
    })
}

/// A field of `obj`; JSON `null` counts as absent.
pub(crate) fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A required string field `path.key`.
pub(crate) fn req_str<'a>(obj: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a str> {
    match field(obj, key) {
        None => Err(X402Error::malformed(format!("{path}.{key} is missing"))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(X402Error::malformed(format!(
            "{path}.{key} must be a string, got {}",
            type_name(other)
        ))),
    }
}

/// A required object field `path.key`.
pub(crate) fn req_obj<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a Map<String, Value>> {
    match field(obj, key) {
        None => Err(X402Error::malformed(format!("{path}.{key} is missing"))),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(X402Error::malformed(format!(
            "{path}.{key} must be an object, got {}",
            type_name(other)
        ))),
    }
}

/// `value` as an object, or an error naming `path`.
pub(crate) fn as_obj<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        X402Error::malformed(format!(
            "{path} must be a JSON object, got {}",
            type_name(value)
        ))
    })
}
