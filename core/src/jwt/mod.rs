//! JWT verification: PostgREST-compatible keys, signature checks for every
//! common JWS algorithm, and the registered time/audience/issuer claims.
//!
//! Keys and signatures are jsonwebtoken's (`DecodingKey`, its verifiers on
//! the `aws_lc_rs` backend); this module is the policy on top: which key text
//! is which form and which keys are usable, the `kid` rules, the
//! algorithm-family guard, refusing `alg: none` and `crit`, the size limit,
//! `exp`/`nbf` with leeway against a given "now", audience and issuer, and
//! error messages that name the failed check.
//!
//! ```
//! use insforge_core::jwt::{verify, KeySet, VerifyOptions};
//!
//! // HS256 token {"sub":"1234567890","name":"John Doe","iat":1516239022}
//! let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
//!     eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
//!     SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
//! let keys = KeySet::parse("your-256-bit-secret")?;      // parse once, cache by key text
//! let claims = verify(token, &keys, &VerifyOptions::at(1_700_000_000))?;
//! assert_eq!(claims["sub"], "1234567890");
//! # Ok::<(), insforge_core::jwt::JwtError>(())
//! ```
//!
//! - [`KeySet::parse`] (also [`Key::parse`]) reads key text: an HMAC secret
//!   (raw bytes), a PEM public key, a JWK or a JWKS. Errors are
//!   [`JwtErrorKind::MalformedKey`] (SQLSTATE 22023).
//! - [`verify`] checks a compact JWS against a [`KeySet`] and returns the
//!   claims object. Errors are [`JwtErrorKind::Invalid`] (SQLSTATE 28000),
//!   with a message naming the failed check.
//!
//! Nothing here panics on any input, reads the clock, or allocates more than
//! a small multiple of its input ([`MAX_TOKEN_BYTES`], [`MAX_KEY_TEXT_BYTES`]).

mod alg;
mod error;
mod key;
mod payload;
mod verify;

pub use alg::Algorithm;
pub use error::{clean, quote, JwtError, JwtErrorKind};
pub use key::{
    Key, KeySet, KeySource, MAX_KEY_TEXT_BYTES, MAX_RSA_BITS, MIN_HMAC_BYTES, MIN_RSA_BITS,
};
pub use payload::{parse_payload, JsonSink, ValueSink};
pub use verify::{
    check_claims, payload_json_error, payload_not_object, verify, verify_signature, Signed,
    VerifyOptions, CHECKED_CLAIMS, MAX_TOKEN_BYTES,
};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// base64url, no padding written, padding tolerated when reading, trailing
/// bits must be zero (canonical).
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
