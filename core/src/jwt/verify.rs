//! [`verify`]: signature and registered-claims checks for one compact JWS.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::alg::Algorithm;
use super::error::{join_limited, quote, JwtError};
use super::key::KeySet;
use super::payload::{parse_header, Member};
use super::B64;
use crate::validate::{check_aud, check_exp, check_iss, check_nbf, ListCheck, TimeCheck};

/// Longest token [`verify`] accepts, in bytes (after trimming whitespace).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// What [`verify`] checks besides the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The current time, unix seconds (the caller supplies it; tests pin it).
    pub now: i64,
    /// Seconds of clock skew allowed on `exp` and `nbf`; negative counts as 0.
    pub leeway: i64,
    /// Accepted `aud` values. `None` or empty: `aud` is not checked.
    /// Otherwise `aud` (a string, or an array of strings of which one must
    /// match) must be present and accepted.
    pub audiences: Option<Vec<String>>,
    /// Accepted `iss` values. `None` or empty: `iss` is not checked.
    /// Otherwise `iss` must be a string equal to one of them.
    pub issuers: Option<Vec<String>>,
}

impl VerifyOptions {
    /// Options at time `now` with no leeway and no `aud`/`iss` check.
    pub fn at(now: i64) -> VerifyOptions {
        VerifyOptions {
            now,
            leeway: 0,
            audiences: None,
            issuers: None,
        }
    }
}

/// Verifies a compact JWS and returns its claims.
///
/// Checks, in order (the first failure is returned, kind
/// [`Invalid`](super::JwtErrorKind::Invalid)):
/// 1. size: at most [`MAX_TOKEN_BYTES`] after trimming surrounding ASCII
///    whitespace; not empty; exactly 3 dot-separated parts (5 is a JWE: not
///    supported);
/// 2. header: base64url (padding tolerated) of a JSON object; `alg` a string,
///    not `none` in any case, one of [`Algorithm::ALL`] (or `Ed25519`);
///    no `crit` (no extension is understood, so any `crit` fails); `kid`, if
///    present, a string;
/// 3. key choice ([`KeySet::candidates`](super::KeySet) rule): a header `kid`
///    selects the keys with that `kid` (a single kid-less key is used for any
///    `kid`; otherwise an unknown `kid` fails); without `kid`, every key is a
///    candidate. Keys whose type does not fit `alg` (HS* needs a secret,
///    RS*/PS* an RSA key, ES256 P-256, ES384 P-384, EdDSA Ed25519) or whose
///    JWK `alg` differs are dropped: this is the algorithm-confusion guard;
/// 4. signature: non-empty base64url; must verify under at least one
///    remaining candidate, tried in key order, with jsonwebtoken's verifier
///    (HMAC compared in constant time; ECDSA as raw `r || s`; Ed25519 with
///    canonical `s`, small-order keys having been refused when parsed);
/// 5. payload: base64url of a JSON object;
/// 6. `exp` (valid while `now < exp + leeway`) and `nbf` (valid when
///    `now >= nbf - leeway`), each only if present, and then a JSON number;
/// 7. `aud` and `iss` against [`VerifyOptions::audiences`] / `issuers`.
///
/// `iat` and `sub` are not checked here (see [`crate::validate`]).
///
/// The same checks in pieces, for a caller that builds its own result from
/// the payload (the SQL shell builds `jsonb` directly): [`verify_signature`]
/// (1-4), [`Signed::payload_bytes`] and [`payload_json_error`] /
/// [`payload_not_object`] (5), [`check_claims`] (6-7).
pub fn verify(
    token: &str,
    keys: &KeySet,
    opts: &VerifyOptions,
) -> Result<Map<String, Value>, JwtError> {
    let signed = verify_signature(token, keys)?;
    let claims = decode_json_object(signed.payload_b64, "payload")?;
    check_claims(&claims, opts)?;
    Ok(claims)
}

/// A token whose format, header, key choice and signature passed
/// ([`verify_signature`]); its payload is not decoded yet.
#[derive(Clone, Copy, Debug)]
pub struct Signed<'t> {
    payload_b64: &'t str,
}

impl<'t> Signed<'t> {
    /// The payload part as sent (base64url).
    pub fn payload_b64(&self) -> &'t str {
        self.payload_b64
    }

    /// The payload's bytes (check 5, first half: base64url).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, JwtError> {
        let mut out = Vec::new();
        self.payload_bytes_into(&mut out)?;
        Ok(out)
    }

    /// [`payload_bytes`](Self::payload_bytes) into `out` (cleared first), so a
    /// caller can reuse one buffer.
    pub fn payload_bytes_into(&self, out: &mut Vec<u8>) -> Result<(), JwtError> {
        out.clear();
        B64.decode_vec(self.payload_b64, out).map_err(|_| {
            JwtError::invalid("JWT payload is not valid base64url JSON (bad base64url)")
        })
    }
}

/// The error for a payload that is not JSON (check 5).
pub fn payload_json_error(e: &serde_json::Error) -> JwtError {
    JwtError::invalid(format!("JWT payload is not valid base64url JSON ({e})"))
}

/// The error for a payload that is JSON but not an object (check 5).
pub fn payload_not_object() -> JwtError {
    JwtError::invalid("JWT payload is not a JSON object")
}

/// The claims [`check_claims`] reads; any other claim is ignored by it.
pub const CHECKED_CLAIMS: [&str; 4] = ["exp", "nbf", "aud", "iss"];

/// Checks 1-4 of [`verify`]: size and format, header, key choice, signature.
pub fn verify_signature<'t>(token: &'t str, keys: &KeySet) -> Result<Signed<'t>, JwtError> {
    let token = token.trim_ascii();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::invalid(format!(
            "JWT is too large: {} bytes (limit {MAX_TOKEN_BYTES})",
            token.len()
        )));
    }
    if token.is_empty() {
        return Err(JwtError::invalid("JWT is empty"));
    }
    let dots = count_dots(token.as_bytes());
    if dots != 2 {
        return Err(parts_error(dots + 1));
    }
    let (Some(first), Some(last)) = (token.find('.'), token.rfind('.')) else {
        return Err(parts_error(dots + 1));
    };
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), Some(signing_input)) = (
        token.get(..first),
        token.get(first + 1..last),
        token.get(last + 1..),
        token.get(..last),
    ) else {
        return Err(parts_error(dots + 1));
    };

    // 2. header
    // (A header is a few dozen bytes: decoded on the stack when it fits.)
    let bad_header = || JwtError::invalid("JWT header is not valid base64url JSON (bad base64url)");
    let mut stack = [0u8; 512];
    let heap: Vec<u8>;
    let header_bytes: &[u8] = if header_b64.len() <= 640 {
        let n = B64
            .decode_slice(header_b64, &mut stack)
            .map_err(|_| bad_header())?;
        stack.get(..n).unwrap_or_default()
    } else {
        heap = B64.decode(header_b64).map_err(|_| bad_header())?;
        &heap
    };
    let header = parse_header(header_bytes)
        .map_err(|e| JwtError::invalid(format!("JWT header is not valid base64url JSON ({e})")))?
        .ok_or_else(|| JwtError::invalid("JWT header is not a JSON object"))?;
    let alg = header_alg(header.alg.as_ref())?;
    if let Some(crit) = &header.crit {
        return Err(JwtError::invalid(crit_message(crit)));
    }
    let kid = match &header.kid {
        None => None,
        Some(Member::Str(s)) => Some(s.as_ref()),
        Some(Member::NotAString) => {
            return Err(JwtError::invalid("JWT header 'kid' is not a string"))
        }
    };

    // 3. key choice
    let candidates = keys.candidates(kid, alg)?;
    let candidates = candidates.as_slice();

    // 4. signature
    if sig_b64.is_empty() {
        return Err(JwtError::invalid("JWT signature is empty"));
    }
    let signature = B64
        .decode(sig_b64)
        .map_err(|_| JwtError::invalid("JWT signature is not valid base64url"))?;
    let verified = candidates
        .iter()
        .any(|k| alg.verify_cached(k, signing_input.as_bytes(), &signature));
    if !verified {
        return Err(JwtError::invalid(if candidates.len() > 1 {
            format!(
                "JWT signature does not match (tried {} keys)",
                candidates.len()
            )
        } else {
            "JWT signature does not match".to_string()
        }));
    }
    Ok(Signed { payload_b64 })
}

/// Checks 6-7 of [`verify`] on the payload's claims (only
/// [`CHECKED_CLAIMS`] are read): `exp`, `nbf`, then `aud` and `iss`.
pub fn check_claims(claims: &Map<String, Value>, opts: &VerifyOptions) -> Result<(), JwtError> {
    // 6. time
    let leeway_note = || {
        if opts.leeway > 0 {
            format!(" (leeway {} s)", opts.leeway)
        } else {
            String::new()
        }
    };
    match check_exp(claims, opts.now, opts.leeway) {
        TimeCheck::Ok => {}
        TimeCheck::Expired(ago) => {
            return Err(JwtError::invalid(format!(
                "JWT expired {ago} s ago{}",
                leeway_note()
            )))
        }
        TimeCheck::NotYetValid(_) | TimeCheck::NotNumeric => {
            return Err(JwtError::invalid("JWT 'exp' claim is not a number"))
        }
    }
    match check_nbf(claims, opts.now, opts.leeway) {
        TimeCheck::Ok => {}
        TimeCheck::NotYetValid(wait) => {
            return Err(JwtError::invalid(format!(
                "JWT not valid for another {wait} s (nbf){}",
                leeway_note()
            )))
        }
        TimeCheck::Expired(_) | TimeCheck::NotNumeric => {
            return Err(JwtError::invalid("JWT 'nbf' claim is not a number"))
        }
    }

    // 7. aud, iss
    if let Some(accepted) = opts.audiences.as_deref().filter(|a| !a.is_empty()) {
        let list = accepted_list(accepted);
        match check_aud(claims, accepted) {
            ListCheck::Ok => {}
            ListCheck::Missing => {
                return Err(JwtError::invalid(format!(
                    "JWT has no 'aud' claim (accepted: {list})"
                )))
            }
            ListCheck::WrongType => {
                return Err(JwtError::invalid(
                    "JWT 'aud' claim is not a string or an array of strings",
                ))
            }
            ListCheck::NotAccepted(found) => {
                let found = if found.is_empty() {
                    "[]".to_string()
                } else {
                    join_limited(found.iter().map(|s| quote(s)), 5)
                };
                return Err(JwtError::invalid(format!(
                    "JWT audience {found} not accepted (accepted: {list})"
                )));
            }
        }
    }
    if let Some(accepted) = opts.issuers.as_deref().filter(|a| !a.is_empty()) {
        let list = accepted_list(accepted);
        match check_iss(claims, accepted) {
            ListCheck::Ok => {}
            ListCheck::Missing => {
                return Err(JwtError::invalid(format!(
                    "JWT has no 'iss' claim (accepted: {list})"
                )))
            }
            ListCheck::WrongType => {
                return Err(JwtError::invalid("JWT 'iss' claim is not a string"))
            }
            ListCheck::NotAccepted(found) => {
                let iss = found.first().copied().unwrap_or("");
                let hint = if accepted
                    .iter()
                    .any(|a| a.trim_end_matches('/') == iss.trim_end_matches('/'))
                {
                    "; note the trailing '/'"
                } else {
                    ""
                };
                return Err(JwtError::invalid(format!(
                    "JWT issuer {} not accepted (accepted: {list}{hint})",
                    quote(iss)
                )));
            }
        }
    }
    Ok(())
}

fn accepted_list(accepted: &[String]) -> String {
    join_limited(accepted.iter().map(|s| super::error::clean(s)), 10)
}

/// Decodes one base64url JSON-object part ("header" or "payload").
fn decode_json_object(part: &str, what: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = B64.decode(part).map_err(|_| {
        JwtError::invalid(format!(
            "JWT {what} is not valid base64url JSON (bad base64url)"
        ))
    })?;
    // (For the payload these are exactly `Signed::payload_bytes`,
    // `payload_json_error` and `payload_not_object`.)
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| JwtError::invalid(format!("JWT {what} is not valid base64url JSON ({e})")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(JwtError::invalid(format!(
            "JWT {what} is not a JSON object"
        ))),
    }
}

/// The number of `.` in `bytes` (in byte-wide lanes, so it vectorizes).
fn count_dots(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().map(|&b| u8::from(b == b'.')).sum::<u8>()))
        .sum()
}

fn parts_error(parts: usize) -> JwtError {
    let hint = if parts == 5 {
        " (a JWE, i.e. an encrypted token, is not supported)"
    } else {
        ""
    };
    JwtError::invalid(format!(
        "JWT is malformed: expected 3 dot-separated parts, found {parts}{hint}"
    ))
}

fn header_alg(alg: Option<&Member<'_>>) -> Result<Algorithm, JwtError> {
    let name = match alg {
        None => return Err(JwtError::invalid("JWT header has no 'alg'")),
        Some(Member::Str(s)) => s.as_ref(),
        Some(Member::NotAString) => {
            return Err(JwtError::invalid("JWT header 'alg' is not a string"))
        }
    };
    if name.eq_ignore_ascii_case("none") {
        return Err(JwtError::invalid(format!(
            "JWT algorithm {} is not allowed",
            quote(name)
        )));
    }
    Algorithm::from_name(name).ok_or_else(|| {
        JwtError::invalid(format!(
            "JWT algorithm {} is not supported (supported: {})",
            quote(name),
            join_limited(Algorithm::ALL.iter().map(|a| a.as_str().to_string()), 20)
        ))
    })
}

/// No `crit` extension is understood (RFC 7515 §4.1.11), so any `crit`
/// header fails; the message names what was asked for.
fn crit_message(crit: &Value) -> String {
    match crit {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let names = join_limited(items.iter().filter_map(Value::as_str).map(quote), 5);
            format!("JWT header lists critical extension(s) {names} that are not understood")
        }
        _ => "JWT header 'crit' is not a non-empty array of names".to_string(),
    }
}
