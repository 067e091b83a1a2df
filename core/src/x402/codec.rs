//! x402 header codec: base64 of a JSON object.
//!
//! Used by `PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE` (v2), `X-PAYMENT` (v1) and
//! `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::Value;

use super::error::{Result, X402Error};
use super::util::type_name;

/// v2 header carrying the payment requirements (server to client).
pub const PAYMENT_REQUIRED_HEADER: &str = "PAYMENT-REQUIRED";
/// v2 header carrying the payment payload (client to server).
pub const PAYMENT_SIGNATURE_HEADER: &str = "PAYMENT-SIGNATURE";
/// v2 header carrying the settlement response (server to client).
pub const PAYMENT_RESPONSE_HEADER: &str = "PAYMENT-RESPONSE";
/// v1 header carrying the payment payload (client to server).
pub const X_PAYMENT_HEADER: &str = "X-PAYMENT";
/// v1 header carrying the settlement response (server to client).
pub const X_PAYMENT_RESPONSE_HEADER: &str = "X-PAYMENT-RESPONSE";

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes an x402 header value into its JSON object (as a `Value::Object`).
///
/// Accepts standard (`+/`) or URL-safe (`-_`) base64, padded or not, with
/// surrounding whitespace. Anything else is [`ErrorKind::Malformed`](super::ErrorKind::Malformed):
/// an empty value, mixed alphabets, invalid base64, bytes that are not JSON,
/// JSON that is not an object (array, number, string, ...).
pub fn decode_header(value: &str) -> Result<Value> {
    decode_named_header("x402 header", value)
}

/// [`decode_header`] with the header's name (e.g. `PAYMENT-SIGNATURE`) in
/// error messages: `PAYMENT-SIGNATURE is not base64: ...`.
pub fn decode_named_header(name: &str, value: &str) -> Result<Value> {
    let text = value.trim();
    if text.is_empty() {
        return Err(X402Error::malformed(format!("{name} is empty")));
    }
    let url_safe = text.contains(['-', '_']);
    if url_safe && text.contains(['+', '/']) {
        return Err(X402Error::malformed(format!(
            "{name} is not base64: it mixes the standard (+/) and URL-safe (-_) alphabets"
        )));
    }
    let engine = if url_safe {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    let bytes = engine
        .decode(text)
        .map_err(|e| X402Error::malformed(format!("{name} is not base64: {e}")))?;
    let json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| X402Error::malformed(format!("{name} is base64 but not JSON: {e}")))?;
    if !json.is_object() {
        return Err(X402Error::malformed(format!(
            "{name} decodes to {}, expected a JSON object",
            type_name(&json)
        )));
    }
    Ok(json)
}

/// Encodes a JSON object as an x402 header value: standard, padded base64 of
/// the compact JSON. Non-objects are [`ErrorKind::Malformed`](super::ErrorKind::Malformed).
pub fn encode_header(value: &Value) -> Result<String> {
    if !value.is_object() {
        return Err(X402Error::malformed(format!(
            "an x402 header must encode a JSON object, got {}",
            type_name(value)
        )));
    }
    let bytes = serde_json::to_vec(value)
        .map_err(|e| X402Error::malformed(format!("cannot serialize header JSON: {e}")))?;
    Ok(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x402::ErrorKind;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use serde_json::json;

    /// A JSON object whose standard base64 has both `+`/`/` and padding.
    fn sample() -> Value {
        (0..64)
            .map(|n| json!({"x402Version": 2, "k": "ÿ?>~~~???", "pad": "p".repeat(n), "s": "\u{1F600}"}))
            .find(|v| {
                let s = STANDARD.encode(serde_json::to_vec(v).unwrap());
                s.contains('+') && s.contains('/') && s.ends_with('=')
            })
            .unwrap()
    }

    #[test]
    fn round_trip_all_four_variants() {
        let v = sample();
        let encoded = encode_header(&v).unwrap();
        assert_eq!(decode_header(&encoded).unwrap(), v);
        let raw = serde_json::to_vec(&v).unwrap();
        let variants = [
            STANDARD.encode(&raw),
            STANDARD_NO_PAD.encode(&raw),
            URL_SAFE.encode(&raw),
            URL_SAFE_NO_PAD.encode(&raw),
        ];
        assert!(variants[2].contains('-') && variants[2].contains('_'));
        assert!(!variants[1].ends_with('=') && !variants[3].ends_with('='));
        for s in &variants {
            assert_eq!(decode_header(s).unwrap(), v, "{s}");
            assert_eq!(decode_header(&format!(" \t{s}\r\n")).unwrap(), v);
        }
    }

    #[test]
    fn non_objects_are_rejected() {
        for v in [
            json!([1, 2]),
            json!(7),
            json!("x"),
            json!(null),
            json!(true),
        ] {
            let s = STANDARD.encode(serde_json::to_vec(&v).unwrap());
            let e = decode_named_header("PAYMENT-SIGNATURE", &s).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Malformed);
            assert!(e.message.starts_with("PAYMENT-SIGNATURE decodes to"), "{e}");
            assert!(encode_header(&v).is_err());
        }
    }

    #[test]
    fn garbage_is_rejected() {
        let e = decode_named_header("PAYMENT-SIGNATURE", "not base64!").unwrap_err();
        assert!(
            e.message.starts_with("PAYMENT-SIGNATURE is not base64:"),
            "{e}"
        );
        assert!(decode_header("").unwrap_err().message.contains("is empty"));
        assert!(decode_header("   ").is_err());
        assert!(decode_header("ab+_").unwrap_err().message.contains("mixes"));
        let not_json = STANDARD.encode(b"{not json");
        assert!(decode_header(&not_json)
            .unwrap_err()
            .message
            .contains("not JSON"));
        let not_utf8 = STANDARD.encode([0xff, 0xfe, 0x7b]);
        assert!(decode_header(&not_utf8).is_err());
        let deep = "[".repeat(10_000);
        assert!(decode_header(&STANDARD.encode(deep)).is_err());
        assert!(decode_header("e30=e30=").is_err());
        assert_eq!(decode_header("e30").unwrap(), json!({}));
    }
}
