//! Verification keys: [`KeySet::parse`] reads PostgREST's `jwt-secret`
//! vocabulary (HMAC secret, PEM public key, JWK, JWKS) into jsonwebtoken
//! [`DecodingKey`]s.
//!
//! jsonwebtoken holds the key material and checks signatures; this module is
//! the policy around it: which texts are which form, which keys are usable
//! (and why not, in words), and the algorithm family each key fits. What
//! jsonwebtoken's own types cannot express is enforced here, before a
//! `DecodingKey` is built:
//!
//! - PEM: the label decides (private keys and certificates are refused with a
//!   hint); the SubjectPublicKeyInfo's algorithm and named curve are read
//!   (`simple_asn1`) so that P-256, P-384 and unsupported curves (P-521,
//!   secp256k1, …) are told apart. jsonwebtoken's `DecodingKey::from_*_pem`
//!   then extracts the key.
//! - JWK / JWKS: jsonwebtoken's `Jwk`/`JwkSet` deserialize all-or-nothing
//!   and only say that a key is invalid, while a JWKS here keeps its usable
//!   keys, reports each skipped one with its reason, and tries every key that
//!   shares a `kid`. So the members are read here (with padding-tolerant
//!   base64url, as before) and the decoded components go to
//!   `DecodingKey::from_secret`, `from_rsa_raw_components`, `from_ec_der`
//!   (the SEC1 point) and `from_ed_der` (the raw 32 bytes), the same
//!   representations jsonwebtoken's `from_jwk` builds.
//! - Key validity, which `DecodingKey` does not check: RSA moduli of 2048 to
//!   4096 bits with an odd modulus and an odd exponent from 3 to 2^33-1 (PEM
//!   keys are also parsed by aws-lc through jsonwebtoken's key utilities);
//!   EC points on their curve (aws-lc's `ParsedPublicKey`); Ed25519 points
//!   that decompress and are not of small order (curve25519-dalek). A
//!   small-order Ed25519 key would accept forged signatures (aws-lc's
//!   verification does not refuse it), so it is refused as malformed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::signature::{
    ParsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED,
};
use base64::Engine as _;
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use super::alg::{Algorithm, Family};
use super::error::{clean, join_limited, quote, JwtError};
use super::B64;

/// Longest key text [`KeySet::parse`] accepts (1 MiB); a JWKS is a few KiB.
pub const MAX_KEY_TEXT_BYTES: usize = 1 << 20;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3: "2048 bits or larger
/// MUST be used").
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 4096;

/// Largest DER body a PEM public key may have: an RSA-4096 SubjectPublicKeyInfo
/// is about 550 bytes. Also bounds the ASN.1 parser's nesting depth.
const MAX_PEM_DER_BYTES: usize = 2048;

/// The shortest HMAC secret `insforge.set_jwt_secret()` stores (HS256's hash size).
pub const MIN_HMAC_BYTES: usize = 32;

/// How many skipped-key reasons a "no usable key" message lists.
const MAX_REASONS: usize = 5;

/// Each parsed key's id (clones share it): what the per-thread cache of
/// jsonwebtoken verifier objects is keyed by.
static NEXT_KEY_ID: AtomicU64 = AtomicU64::new(1);

fn next_key_id() -> u64 {
    NEXT_KEY_ID.fetch_add(1, Ordering::Relaxed)
}

/// One usable verification key.
#[derive(Clone)]
pub struct Key {
    id: u64,
    kid: Option<String>,
    alg: Option<Algorithm>,
    family: Family,
    /// RSA: modulus bits; HMAC: secret length in bytes (for `Debug` only).
    size: usize,
    pub(crate) decoding: DecodingKey,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key bytes (jsonwebtoken's own Debug redacts them too).
        let material = match self.family {
            Family::Hmac => format!("Hmac(<{} bytes>)", self.size),
            Family::Rsa => format!("Rsa({} bits)", self.size),
            Family::P256 => "P256".to_string(),
            Family::P384 => "P384".to_string(),
            Family::Ed25519 => "Ed25519".to_string(),
        };
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("material", &format_args!("{material}"))
            .finish()
    }
}

fn family_article(family: Family) -> &'static str {
    match family {
        Family::Hmac => "an HMAC secret",
        Family::Rsa => "an RSA key",
        Family::P256 => "an EC P-256 key",
        Family::P384 => "an EC P-384 key",
        Family::Ed25519 => "an Ed25519 key",
    }
}

/// Where a [`KeySet`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Plain text: the raw bytes are the HMAC secret.
    Secret,
    /// A PEM public key (SPKI or PKCS#1).
    Pem,
    /// One JWK object.
    Jwk,
    /// A JWKS (`{"keys": [...]}`).
    Jwks,
}

impl Key {
    /// Same as [`KeySet::parse`]: parses key text into the set of keys it holds.
    pub fn parse(text: &str) -> Result<KeySet, JwtError> {
        KeySet::parse(text)
    }

    /// The JWK `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK `alg`, if any: a token must then use exactly this algorithm.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// `"oct"`, `"RSA"`, `"EC P-256"`, `"EC P-384"` or `"OKP Ed25519"`.
    pub fn kind(&self) -> &'static str {
        kind_name(self.family)
    }

    /// This key's process-unique id (shared by its clones).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The jsonwebtoken key that signatures are checked with.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Whether a token signed with `alg` may be checked against this key.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.misfit(alg).is_none()
    }

    /// Why `alg` does not fit this key (the algorithm-confusion guard), or None.
    pub(crate) fn misfit(&self, alg: Algorithm) -> Option<String> {
        if alg.family() != self.family {
            return Some(format!(
                "JWT algorithm {alg} does not fit {}",
                family_article(self.family)
            ));
        }
        match self.alg {
            Some(own) if own != alg => Some(format!(
                "JWT algorithm {alg} does not match the key's alg {own}"
            )),
            _ => None,
        }
    }
}

fn kind_name(family: Family) -> &'static str {
    match family {
        Family::Hmac => "oct",
        Family::Rsa => "RSA",
        Family::P256 => "EC P-256",
        Family::P384 => "EC P-384",
        Family::Ed25519 => "OKP Ed25519",
    }
}

/// The keys parsed from one key text; what [`verify`](super::verify) checks
/// tokens against. Cheap to clone; cache it by key text.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<Key>,
    source: KeySource,
    skipped: Vec<String>,
}

impl KeySet {
    /// Parses key text the way PostgREST's `jwt-secret` reads it.
    ///
    /// After trimming surrounding whitespace, text that
    /// - starts with `-----BEGIN` is a PEM **public** key: SPKI
    ///   (`BEGIN PUBLIC KEY`: RSA, EC P-256, EC P-384, Ed25519) or PKCS#1
    ///   (`BEGIN RSA PUBLIC KEY`). Private keys and certificates are refused
    ///   with a message saying how to extract the public key.
    /// - starts with `{` is JSON: a JWKS if it has `keys`, else a JWK (`kty`
    ///   `oct` with `k`; `RSA` with `n`, `e`; `EC` with `crv` P-256/P-384, `x`,
    ///   `y`; `OKP` with `crv` Ed25519, `x`). Private members (`d`, …) are
    ///   ignored. A JWK whose `use` is not `sig`, or whose `key_ops` lacks
    ///   `verify`, is refused; a JWK `alg` must be a signature algorithm of
    ///   its `kty` and then pins the token's `alg`.
    /// - anything else is an HMAC secret: the *untrimmed* text's raw UTF-8
    ///   bytes (PostgREST semantics; no base64 decoding). An empty or
    ///   whitespace-only secret is refused.
    ///
    /// In a JWKS, keys that are unusable (wrong `use`/`key_ops`, unsupported
    /// `kty`/`crv`/`alg`, malformed members, RSA under 2048 bits) are skipped
    /// and listed by [`skipped`](Self::skipped); if no key is usable the whole
    /// text is [`MalformedKey`](super::JwtErrorKind::MalformedKey).
    ///
    /// Text that starts like PEM or JSON but does not parse is `MalformedKey`
    /// (never silently an HMAC secret). RSA keys must be 2048 to 4096 bits;
    /// EC points must lie on their curve; Ed25519 keys must be valid points
    /// not of small order.
    pub fn parse(text: &str) -> Result<KeySet, JwtError> {
        if text.len() > MAX_KEY_TEXT_BYTES {
            return Err(JwtError::malformed_key(format!(
                "key text is {} bytes; the limit is {MAX_KEY_TEXT_BYTES}",
                text.len()
            )));
        }
        let trimmed = text.trim();
        if trimmed.starts_with("-----BEGIN") {
            let key = parse_pem(trimmed).map_err(JwtError::malformed_key)?;
            return Ok(KeySet::single(key, KeySource::Pem));
        }
        if trimmed.starts_with('{') {
            return parse_json(trimmed);
        }
        if trimmed.is_empty() {
            return Err(JwtError::malformed_key(
                "HMAC secret is empty or only whitespace",
            ));
        }
        let key = secret_key(None, None, text.as_bytes())
            .map_err(|e| JwtError::malformed_key(format!("HMAC secret is not usable: {e}")))?;
        Ok(KeySet::single(key, KeySource::Secret))
    }

    fn single(key: Key, source: KeySource) -> KeySet {
        KeySet {
            keys: vec![key],
            source,
            skipped: Vec::new(),
        }
    }

    /// The usable keys, in text order. Never empty.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Number of usable keys (at least 1).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: parsing fails rather than returning an empty set.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Where the keys came from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// Why this key text must not be *stored* as a database's verification
    /// key (`insforge.set_jwt_secret()`), or None: text that is still a
    /// documentation placeholder (`<the JWT secret>`, `your-256-bit-secret`),
    /// or an HMAC secret shorter than 32 bytes (RFC 7518 section 3.2 asks for
    /// at least the hash size; InsForge's secrets are longer). Checking a
    /// token against such a key with `verify_jwt` stays possible: only
    /// storing it is refused.
    pub fn storage_problem(&self, text: &str) -> Option<String> {
        // The messages never repeat the text: it may be a real key after all.
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if trimmed.starts_with('<') && trimmed.ends_with('>') {
            return Some(
                "the key text is enclosed in <...>: it is a documentation placeholder, not a key"
                    .into(),
            );
        }
        if self.source == KeySource::Secret
            && (lower.starts_with("your-")
                || lower.starts_with("your_")
                || lower.contains("-your-"))
        {
            return Some(
                "the key text starts like a documentation placeholder (your-...), not a secret"
                    .into(),
            );
        }
        self.keys
            .iter()
            .find(|k| k.family == Family::Hmac && k.size < MIN_HMAC_BYTES)
            .map(|k| {
                format!(
                    "the HMAC secret is {} bytes; a stored secret must have at least {MIN_HMAC_BYTES} (RFC 7518 section 3.2)",
                    k.size
                )
            })
    }

    /// For a JWKS: one line per skipped key, saying why (`key #2 (kid 'x'):
    /// 'use' is 'enc', not 'sig'`).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The keys a token with header `kid` and `alg` may be checked against.
    ///
    /// Rule: a header `kid` selects the keys with that `kid`; if none has it,
    /// a set of exactly one key without a `kid` (a secret, a PEM key, a
    /// kid-less JWK or JWKS entry) is used anyway, and anything else is an
    /// unknown-kid error. Without a header `kid` every key is a candidate.
    /// Candidates whose type or own `alg` do not fit the token's `alg` are
    /// dropped; if none is left, the error names the mismatch. The caller
    /// tries the remaining candidates in order and succeeds on the first
    /// whose signature verifies.
    pub(crate) fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Candidates<'_>, JwtError> {
        // The common case, one key that fits: no allocation.
        if let [only] = self.keys.as_slice() {
            let selected = match kid {
                None => true,
                Some(kid) => only.kid.is_none() || only.kid.as_deref() == Some(kid),
            };
            if !selected {
                return Err(self.unknown_kid(kid.unwrap_or("")));
            }
            return match only.misfit(alg) {
                None => Ok(Candidates::One([only])),
                Some(why) => Err(JwtError::invalid(why)),
            };
        }
        let pool: Vec<&Key> = match kid {
            Some(kid) => {
                let matching: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if matching.is_empty() {
                    return Err(self.unknown_kid(kid));
                }
                matching
            }
            None => self.keys.iter().collect(),
        };
        let fitting: Vec<&Key> = pool.iter().copied().filter(|k| k.fits(alg)).collect();
        if !fitting.is_empty() {
            return Ok(Candidates::Many(fitting));
        }
        match pool.as_slice() {
            [only] => Err(JwtError::invalid(only.misfit(alg).unwrap_or_else(|| {
                format!("JWT algorithm {alg} does not fit the key")
            }))),
            many => Err(JwtError::invalid(format!(
                "JWT algorithm {alg} fits none of the {} keys ({})",
                many.len(),
                join_limited(
                    many.iter().map(|k| {
                        let what = family_article(k.family).to_string();
                        match (k.alg, k.family == alg.family()) {
                            (Some(own), true) => format!("{what} with alg {own}"),
                            _ => what,
                        }
                    }),
                    MAX_REASONS
                )
            ))),
        }
    }

    fn unknown_kid(&self, kid: &str) -> JwtError {
        let kids: Vec<String> = self
            .keys
            .iter()
            .filter_map(|k| k.kid.as_deref().map(clean))
            .collect();
        if self.source == KeySource::Jwks {
            if kids.is_empty() {
                JwtError::invalid(format!(
                    "JWT kid {} not found in JWKS (its keys have no kid)",
                    quote(kid)
                ))
            } else {
                JwtError::invalid(format!(
                    "JWT kid {} not found in JWKS (kids: {})",
                    quote(kid),
                    join_limited(kids, 10)
                ))
            }
        } else {
            JwtError::invalid(format!(
                "JWT kid {} does not match the key's kid {}",
                quote(kid),
                quote(
                    self.keys
                        .first()
                        .and_then(|k| k.kid.as_deref())
                        .unwrap_or("")
                )
            ))
        }
    }
}

/// The keys [`KeySet::candidates`] chose, in order.
pub(crate) enum Candidates<'a> {
    One([&'a Key; 1]),
    Many(Vec<&'a Key>),
}

impl<'a> Candidates<'a> {
    pub(crate) fn as_slice(&self) -> &[&'a Key] {
        match self {
            Candidates::One(one) => one,
            Candidates::Many(many) => many,
        }
    }
}

// ---------------------------------------------------------------- key material

fn secret_key(kid: Option<String>, alg: Option<Algorithm>, secret: &[u8]) -> Result<Key, String> {
    let decoding = DecodingKey::from_secret(secret).map_err(|e| e.to_string())?;
    Ok(Key {
        id: next_key_id(),
        kid,
        alg,
        family: Family::Hmac,
        size: secret.len(),
        decoding,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or(&[])
}

/// The RSA rules on a modulus and exponent (big-endian); the modulus size in
/// bits. "Not usable" covers what no RSA verifier here accepts (a zero or even
/// modulus, one over 4096 bits, an exponent that is not odd and 3 to 2^33-1);
/// a usable key under 2048 bits is refused by name.
fn rsa_rules(n: &[u8], e: &[u8]) -> Result<usize, String> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let Some((&first, _)) = n.split_first() else {
        return Err("RSA key is not usable: the modulus is zero".to_string());
    };
    let bits = (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize);
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "RSA key is not usable: the modulus is {bits} bits; at most {MAX_RSA_BITS} are supported"
        ));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("RSA key is not usable: the modulus is even".to_string());
    }
    let exponent = if e.len() <= 8 {
        e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    } else {
        u64::MAX
    };
    if exponent < 3 || exponent & 1 == 0 || exponent >= 1 << 33 {
        return Err(format!(
            "RSA key is not usable: the public exponent must be odd and from 3 to 2^33-1 (got {})",
            if exponent == u64::MAX {
                format!("{} bytes", e.len())
            } else {
                exponent.to_string()
            }
        ));
    }
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
        ));
    }
    Ok(bits)
}

fn rsa_key(kid: Option<String>, alg: Option<Algorithm>, n: &[u8], e: &[u8]) -> Result<Key, String> {
    let bits = rsa_rules(n, e)?;
    let decoding =
        DecodingKey::from_rsa_raw_components(strip_leading_zeros(n), strip_leading_zeros(e));
    Ok(Key {
        id: next_key_id(),
        kid,
        alg,
        family: Family::Rsa,
        size: bits,
        decoding,
    })
}

fn ec_algorithm(family: Family) -> &'static dyn VerificationAlgorithm {
    if family == Family::P384 {
        &ECDSA_P384_SHA384_FIXED
    } else {
        &ECDSA_P256_SHA256_FIXED
    }
}

/// An EC key from a SEC1 point, checked to lie on the curve (by aws-lc).
fn ec_key(
    kid: Option<String>,
    alg: Option<Algorithm>,
    family: Family,
    point: &[u8],
) -> Result<Key, ()> {
    ParsedPublicKey::new(ec_algorithm(family), point).map_err(|_| ())?;
    Ok(Key {
        id: next_key_id(),
        kid,
        alg,
        family,
        size: 0,
        decoding: DecodingKey::from_ec_der(point),
    })
}

/// Why a 32-byte Ed25519 public key is unusable, or None: it must decompress
/// to a curve point, and not one of small order (such a key accepts forged
/// signatures).
fn ed25519_problem(x: &[u8; 32]) -> Option<&'static str> {
    match curve25519_dalek::edwards::CompressedEdwardsY(*x).decompress() {
        None => Some("is not a valid point"),
        Some(p) if p.is_small_order() => {
            Some("is a point of small order (a weak key that would accept forged signatures)")
        }
        Some(_) => None,
    }
}

fn ed25519_key(kid: Option<String>, alg: Option<Algorithm>, x: &[u8; 32]) -> Key {
    Key {
        id: next_key_id(),
        kid,
        alg,
        family: Family::Ed25519,
        size: 0,
        decoding: DecodingKey::from_ed_der(x),
    }
}

// ---------------------------------------------------------------- PEM

fn parse_pem(text: &str) -> Result<Key, String> {
    if !text.contains("-----END ") {
        return Err("PEM key does not parse: no '-----END …-----' line (truncated?)".to_string());
    }
    let pem = pem::parse(text).map_err(|e| format!("PEM key does not parse: {e}"))?;
    let label = pem.tag();
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
            return Err(
                "PEM holds an X.509 certificate, which is not supported; give its public key \
                        (openssl x509 -pubkey -noout)"
                    .to_string(),
            )
        }
        l if l.contains("PRIVATE KEY") => {
            return Err(format!(
                "PEM holds a private key ({l}); give the public key instead (openssl pkey -pubout)"
            ))
        }
        other => {
            return Err(format!(
                "PEM label {} is not supported (PUBLIC KEY, RSA PUBLIC KEY)",
                quote(other)
            ))
        }
    }
    let der = pem.contents();
    if label == "RSA PUBLIC KEY" {
        let what = "PEM RSA PUBLIC KEY (PKCS#1) does not parse";
        if der.len() > MAX_PEM_DER_BYTES {
            return Err(format!("{what}: {} bytes of DER is too large", der.len()));
        }
        return pem_rsa(text, what);
    }
    if der.len() > MAX_PEM_DER_BYTES {
        return Err(format!(
            "PEM PUBLIC KEY is not valid SubjectPublicKeyInfo DER: {} bytes is too large for a \
             supported public key",
            der.len()
        ));
    }
    let (algorithm, curve) = spki_algorithm(der)?;
    match algorithm.as_str() {
        OID_RSA => pem_rsa(text, "PEM RSA public key does not parse"),
        OID_EC => {
            let (family, name) = match curve.as_deref() {
                Some(OID_P256) => (Family::P256, "P-256"),
                Some(OID_P384) => (Family::P384, "P-384"),
                Some(other) => {
                    return Err(format!(
                        "PEM EC curve {} is not supported (P-256, P-384)",
                        oid_name(other)
                    ))
                }
                None => return Err("PEM EC public key has no named curve".to_string()),
            };
            let fail = |why: &str| format!("PEM EC {name} public key does not parse: {why}");
            let decoding =
                DecodingKey::from_ec_pem(text.as_bytes()).map_err(|e| fail(&e.to_string()))?;
            let point = decoding
                .try_get_as_bytes()
                .map_err(|e| fail(&e.to_string()))?;
            ec_key(None, None, family, point).map_err(|()| fail("the point is not on the curve"))
        }
        OID_ED25519 => {
            let fail = |why: &str| format!("PEM Ed25519 public key does not parse: {why}");
            let decoding =
                DecodingKey::from_ed_pem(text.as_bytes()).map_err(|e| fail(&e.to_string()))?;
            let x: [u8; 32] = decoding
                .try_get_as_bytes()
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| fail("the key is not 32 bytes"))?;
            if let Some(problem) = ed25519_problem(&x) {
                return Err(fail(&format!("the key {problem}")));
            }
            Ok(ed25519_key(None, None, &x))
        }
        other => Err(format!(
            "PEM public key algorithm {} is not supported (RSA, EC P-256, EC P-384, Ed25519)",
            oid_name(other)
        )),
    }
}

/// An RSA key from PEM text (SPKI or PKCS#1): jsonwebtoken extracts the
/// PKCS#1 `RSAPublicKey`, aws-lc parses it (jsonwebtoken's key utilities),
/// then the RSA rules apply.
fn pem_rsa(text: &str, what: &str) -> Result<Key, String> {
    let decoding =
        DecodingKey::from_rsa_pem(text.as_bytes()).map_err(|e| format!("{what}: {e}"))?;
    let der = decoding
        .try_get_as_bytes()
        .map_err(|e| format!("{what}: {e}"))?;
    let (n, e) = (DEFAULT_PROVIDER
        .key_utils
        .rsa_pub_components_from_public_key)(der)
    .map_err(|e| format!("{what}: {e}"))?;
    rsa_key(None, None, &n, &e)
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_SECP256K1: &str = "1.3.132.0.10";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";
const OID_X25519: &str = "1.3.101.110";

/// The algorithm OID of a SubjectPublicKeyInfo and, when its parameters are
/// an OID (an EC named curve), that OID: `SEQUENCE { SEQUENCE { OID, params? },
/// BIT STRING }`.
fn spki_algorithm(der: &[u8]) -> Result<(String, Option<String>), String> {
    use simple_asn1::ASN1Block::{BitString, ObjectIdentifier, Sequence};
    let bad = |why: &str| format!("PEM PUBLIC KEY is not valid SubjectPublicKeyInfo DER: {why}");
    match der.first() {
        None => return Err(bad("no data")),
        Some(0x30) => {}
        Some(&other) => {
            return Err(bad(&format!(
                "unexpected ASN.1 DER tag: expected SEQUENCE, got {}",
                der_tag_name(other)
            )))
        }
    }
    let blocks = simple_asn1::from_der(der).map_err(|e| bad(&e.to_string()))?;
    let oid_text = |oid: &simple_asn1::OID| -> Option<String> {
        let arcs = oid.as_vec::<u64>().ok()?;
        Some(
            arcs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("."),
        )
    };
    let shape = "expected SEQUENCE { SEQUENCE { OBJECT IDENTIFIER, … }, BIT STRING }";
    let [Sequence(_, spki)] = blocks.as_slice() else {
        return Err(bad(shape));
    };
    let [Sequence(_, algorithm), BitString(..)] = spki.as_slice() else {
        return Err(bad(shape));
    };
    let (oid, params) = match algorithm.as_slice() {
        [ObjectIdentifier(_, oid)] => (oid, None),
        [ObjectIdentifier(_, oid), params] => (oid, Some(params)),
        _ => return Err(bad(shape)),
    };
    let oid = oid_text(oid).ok_or_else(|| bad("the algorithm identifier is out of range"))?;
    let curve = match params {
        Some(ObjectIdentifier(_, c)) => oid_text(c),
        _ => None,
    };
    Ok((oid, curve))
}

/// An ASN.1 identifier octet in words (`SEQUENCE`, `APPLICATION [14]
/// (constructed)`, …), for the message when a SubjectPublicKeyInfo does not
/// even start with a SEQUENCE.
fn der_tag_name(octet: u8) -> String {
    let constructed = if octet & 0x20 != 0 {
        "constructed"
    } else {
        "primitive"
    };
    let number = octet & 0x1f;
    let class = match octet >> 6 {
        0 => {
            let name = match number {
                1 => "BOOLEAN",
                2 => "INTEGER",
                3 => "BIT STRING",
                4 => "OCTET STRING",
                5 => "NULL",
                6 => "OBJECT IDENTIFIER",
                10 => "ENUMERATED",
                12 => "UTF8String",
                16 => "SEQUENCE",
                17 => "SET",
                19 => "PrintableString",
                22 => "IA5String",
                23 => "UTCTime",
                24 => "GeneralizedTime",
                _ => return format!("UNIVERSAL [{number}] ({constructed})"),
            };
            return name.to_string();
        }
        1 => "APPLICATION",
        2 => "CONTEXT-SPECIFIC",
        _ => "PRIVATE",
    };
    if number == 0x1f {
        format!("{class} tag in multi-byte form ({constructed})")
    } else {
        format!("{class} [{number}] ({constructed})")
    }
}

fn oid_name(oid: &str) -> String {
    let name = match oid {
        OID_RSA_PSS => "RSASSA-PSS",
        OID_P521 => "P-521",
        OID_SECP256K1 => "secp256k1",
        OID_ED448 => "Ed448",
        OID_X25519 => "X25519",
        _ => return format!("OID {oid}"),
    };
    format!("{name} (OID {oid})")
}

// ---------------------------------------------------------------- JWK / JWKS

fn parse_json(text: &str) -> Result<KeySet, JwtError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        JwtError::malformed_key(format!(
            "key text starts with '{{' but is not valid JSON: {e}"
        ))
    })?;
    let Value::Object(obj) = value else {
        return Err(JwtError::malformed_key(
            "key text is JSON but not an object",
        ));
    };
    if let Some(keys) = obj.get("keys") {
        return parse_jwks(keys);
    }
    if !obj.contains_key("kty") {
        return Err(JwtError::malformed_key(
            "JSON key has neither 'kty' (a JWK) nor 'keys' (a JWKS)",
        ));
    }
    let key = parse_jwk(&obj).map_err(|e| JwtError::malformed_key(format!("JWK {e}")))?;
    Ok(KeySet::single(key, KeySource::Jwk))
}

fn parse_jwks(keys: &Value) -> Result<KeySet, JwtError> {
    let Value::Array(items) = keys else {
        return Err(JwtError::malformed_key("JWKS 'keys' is not an array"));
    };
    if items.is_empty() {
        return Err(JwtError::malformed_key("JWKS has no keys"));
    }
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let result = match item {
            Value::Object(obj) => {
                parse_jwk(obj).map_err(|e| match obj.get("kid").and_then(Value::as_str) {
                    Some(kid) => format!("key #{n} (kid {}): {e}", quote(kid)),
                    None => format!("key #{n}: {e}"),
                })
            }
            _ => Err(format!("key #{n}: not a JSON object")),
        };
        match result {
            Ok(key) => usable.push(key),
            Err(reason) => skipped.push(reason),
        }
    }
    if usable.is_empty() {
        return Err(JwtError::malformed_key(format!(
            "JWKS has no usable signature key: {}",
            join_limited(skipped, MAX_REASONS).replace(", key #", "; key #")
        )));
    }
    Ok(KeySet {
        keys: usable,
        source: KeySource::Jwks,
        skipped,
    })
}

/// One JWK object; the error is a reason without the "JWK " prefix.
fn parse_jwk(obj: &Map<String, Value>) -> Result<Key, String> {
    let kty = match obj.get("kty") {
        None => return Err("has no 'kty'".to_string()),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("'kty' is not a string".to_string()),
    };
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("'kid' is not a string".to_string()),
    };
    match obj.get("use") {
        None => {}
        Some(Value::String(s)) if s == "sig" => {}
        Some(Value::String(s)) => return Err(format!("'use' is {}, not 'sig'", quote(s))),
        Some(_) => return Err("'use' is not a string".to_string()),
    }
    match obj.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o.as_str() == Some("verify")) => {}
        Some(Value::Array(_)) => return Err("'key_ops' does not include 'verify'".to_string()),
        Some(_) => return Err("'key_ops' is not an array".to_string()),
    }
    let alg = match obj.get("alg") {
        None => None,
        Some(Value::String(s)) => match Algorithm::from_name(s) {
            Some(a) => Some(a),
            None => {
                return Err(format!(
                    "alg {} is not a supported signature algorithm",
                    quote(s)
                ))
            }
        },
        Some(_) => return Err("'alg' is not a string".to_string()),
    };
    let key = match kty {
        "oct" => {
            let k = b64_member(obj, "oct", "k")?;
            if k.is_empty() {
                return Err("oct 'k' is empty".to_string());
            }
            secret_key(kid, alg, &k).map_err(|e| format!("oct key is not usable: {e}"))?
        }
        "RSA" => {
            let n = b64_member(obj, "RSA", "n")?;
            let e = b64_member(obj, "RSA", "e")?;
            rsa_key(kid, alg, &n, &e)?
        }
        "EC" => {
            let crv = str_member(obj, "EC", "crv")?;
            let (family, size) = match crv {
                "P-256" => (Family::P256, 32),
                "P-384" => (Family::P384, 48),
                other => {
                    return Err(format!(
                        "EC curve {} is not supported (P-256, P-384)",
                        quote(other)
                    ))
                }
            };
            let (x, y) = (b64_member(obj, "EC", "x")?, b64_member(obj, "EC", "y")?);
            if x.len() != size || y.len() != size {
                return Err(format!(
                    "EC {crv} 'x'/'y' must be {size} bytes each (got {}/{})",
                    x.len(),
                    y.len()
                ));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ec_key(kid, alg, family, &point)
                .map_err(|()| format!("EC {crv} point is not on the curve"))?
        }
        "OKP" => {
            let crv = str_member(obj, "OKP", "crv")?;
            if crv != "Ed25519" {
                return Err(format!(
                    "OKP curve {} is not supported (Ed25519)",
                    quote(crv)
                ));
            }
            let x = b64_member(obj, "OKP", "x")?;
            let bytes: [u8; 32] = x
                .as_slice()
                .try_into()
                .map_err(|_| format!("OKP Ed25519 'x' must be 32 bytes (got {})", x.len()))?;
            if let Some(problem) = ed25519_problem(&bytes) {
                return Err(format!("OKP Ed25519 'x' {problem}"));
            }
            ed25519_key(kid, alg, &bytes)
        }
        other => {
            return Err(format!(
                "kty {} is not supported (oct, RSA, EC, OKP)",
                quote(other)
            ))
        }
    };
    if let Some(a) = alg {
        if a.family() != key.family {
            return Err(format!("alg {a} does not fit kty {}", key.kind()));
        }
    }
    Ok(key)
}

fn str_member<'a>(obj: &'a Map<String, Value>, kty: &str, name: &str) -> Result<&'a str, String> {
    match obj.get(name) {
        None => Err(format!("{kty} key has no '{name}'")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{kty} '{name}' is not a string")),
    }
}

fn b64_member(obj: &Map<String, Value>, kty: &str, name: &str) -> Result<Vec<u8>, String> {
    let s = str_member(obj, kty, name)?;
    B64.decode(s)
        .map_err(|_| format!("{kty} '{name}' is not valid base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::DecodingKeyKind;

    #[test]
    fn secret_is_raw_untrimmed_bytes() {
        let set = KeySet::parse(" s3cret\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.source(), KeySource::Secret);
        match set.keys()[0].decoding.kind() {
            DecodingKeyKind::SecretOrDer(b) => assert_eq!(b, b" s3cret\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_hides_secret() {
        let set = KeySet::parse("super-secret-value").unwrap_or_else(|e| panic!("{e}"));
        let dbg = format!("{set:?}");
        assert!(!dbg.contains("super-secret-value"), "{dbg}");
        assert!(dbg.contains("18 bytes"), "{dbg}");
    }

    #[test]
    fn placeholders_and_short_secrets_are_not_storable() {
        let problem = |text: &str| {
            KeySet::parse(text)
                .unwrap_or_else(|e| panic!("{text:?}: {e}"))
                .storage_problem(text)
        };
        for text in [
            "<the JWT secret>",
            " <your JWT secret> ",
            "your-256-bit-secret-your-256-bit-secret",
            "YOUR_JWT_SECRET_0123456789abcdef0123456789",
            "jwt-your-secret-goes-here-0123456789abcdef",
            "short-secret",
            &"x".repeat(31),
        ] {
            let p = problem(text).unwrap_or_else(|| panic!("{text:?} was storable"));
            assert!(!p.contains(text.trim()), "the message repeats the key: {p}");
        }
        assert!(problem(&"x".repeat(31)).is_some_and(|p| p.contains("31 bytes")));
        for text in [
            &"x".repeat(32) as &str,
            "a-real-secret-0123456789abcdef-0123456789",
        ] {
            assert_eq!(problem(text), None, "{text:?}");
        }
        // A JWK oct key is an HMAC secret too: its decoded length counts.
        let short_jwk = r#"{"kty":"oct","k":"c2hvcnQ"}"#;
        assert!(problem(short_jwk).is_some_and(|p| p.contains("5 bytes")));
    }

    #[test]
    fn empty_secret_refused() {
        for text in ["", "   ", "\n\t"] {
            let e = KeySet::parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(e.kind, super::super::JwtErrorKind::MalformedKey);
        }
    }

    #[test]
    fn oversized_key_text_refused() {
        let text = "a".repeat(MAX_KEY_TEXT_BYTES + 1);
        let e = KeySet::parse(&text).err().unwrap_or_else(|| panic!());
        assert!(e.message.contains("limit"), "{}", e.message);
    }

    #[test]
    fn rsa_rules_name_the_problem() {
        let n2048 = [0xc5u8; 256];
        assert_eq!(rsa_rules(&n2048, &[1, 0, 1]), Ok(2048));
        assert_eq!(
            rsa_rules(&[&[0u8, 0][..], &n2048].concat(), &[0, 3]),
            Ok(2048)
        );
        for (n, e, needle) in [
            (&[][..], &[1u8, 0, 1][..], "modulus is zero"),
            (&[0xc4; 256][..], &[1, 0, 1][..], "modulus is even"),
            (&[0xc5; 513][..], &[1, 0, 1][..], "4104 bits; at most 4096"),
            (&n2048[..], &[1][..], "(got 1)"),
            (&n2048[..], &[2][..], "(got 2)"),
            (&n2048[..], &[2, 0, 0, 0, 1][..], "(got 8589934593)"),
            (&n2048[..], &[1; 9][..], "(got 9 bytes)"),
            (&[0xc5; 128][..], &[1, 0, 1][..], "RSA key is 1024 bits"),
        ] {
            let err = rsa_rules(n, e).err().unwrap_or_default();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn small_order_ed25519_keys_are_refused() {
        // The identity (y = 1) and the order-2 point (y = -1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        for x in [identity, minus_one, [0u8; 32]] {
            let problem = ed25519_problem(&x).unwrap_or_default();
            assert!(problem.contains("small order"), "{problem}");
        }
        // y = 2 does not decompress (x^2 would have to be a non-square).
        let mut two = [0u8; 32];
        two[0] = 2;
        assert_eq!(ed25519_problem(&two), Some("is not a valid point"));
    }

    #[test]
    fn der_tags_are_named() {
        assert_eq!(der_tag_name(0x6e), "APPLICATION [14] (constructed)");
        assert_eq!(der_tag_name(0x02), "INTEGER");
        assert_eq!(der_tag_name(0x80), "CONTEXT-SPECIFIC [0] (primitive)");
        assert_eq!(
            der_tag_name(0xff),
            "PRIVATE tag in multi-byte form (constructed)"
        );
        let text = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----";
        let e = KeySet::parse(text).err().unwrap_or_else(|| panic!());
        assert_eq!(
            e.message,
            "PEM PUBLIC KEY is not valid SubjectPublicKeyInfo DER: unexpected ASN.1 DER tag: \
             expected SEQUENCE, got APPLICATION [14] (constructed)"
        );
    }

    #[test]
    fn deeply_nested_der_is_an_error_not_a_crash() {
        // 1,000 nested SEQUENCEs in 2,000 bytes: under the DER size cap.
        let depth = 1000;
        let mut der = Vec::new();
        for level in 0..depth {
            let len = 2 * (depth - level - 1);
            der.push(0x30);
            if len < 128 {
                der.push(len as u8);
            } else {
                der.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
            }
        }
        let body = base64::engine::general_purpose::STANDARD.encode(&der);
        let text = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
        let e = KeySet::parse(&text).err().unwrap_or_else(|| panic!());
        assert_eq!(e.kind, super::super::JwtErrorKind::MalformedKey);
    }
}
