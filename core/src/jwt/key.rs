//! Verification keys: [`KeySet::parse`] reads PostgREST's `jwt-secret`
//! vocabulary (HMAC secret, PEM public key, JWK, JWKS).

use std::fmt;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::der::{pem, Decode};
use rsa::pkcs8::SubjectPublicKeyInfoRef;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Map, Value};

use super::alg::{Algorithm, Family};
use super::error::{clean, join_limited, quote, JwtError};
use super::B64;

/// Longest key text [`KeySet::parse`] accepts (1 MiB); a JWKS is a few KiB.
pub const MAX_KEY_TEXT_BYTES: usize = 1 << 20;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3: "2048 bits or larger
/// MUST be used"). The largest is 4096 bits (the `rsa` crate's limit).
pub const MIN_RSA_BITS: usize = 2048;

/// How many skipped-key reasons a "no usable key" message lists.
const MAX_REASONS: usize = 5;

/// The verification material of one key.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    /// Raw HMAC secret bytes.
    Hmac(Vec<u8>),
    Rsa(Box<RsaPublicKey>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl KeyMaterial {
    fn family(&self) -> Family {
        match self {
            KeyMaterial::Hmac(_) => Family::Hmac,
            KeyMaterial::Rsa(_) => Family::Rsa,
            KeyMaterial::P256(_) => Family::P256,
            KeyMaterial::P384(_) => Family::P384,
            KeyMaterial::Ed25519(_) => Family::Ed25519,
        }
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Never print secret bytes.
            KeyMaterial::Hmac(s) => write!(f, "Hmac(<{} bytes>)", s.len()),
            KeyMaterial::Rsa(k) => write!(f, "Rsa({} bits)", k.n().bits()),
            KeyMaterial::P256(_) => f.write_str("P256"),
            KeyMaterial::P384(_) => f.write_str("P384"),
            KeyMaterial::Ed25519(_) => f.write_str("Ed25519"),
        }
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

/// One usable verification key.
#[derive(Clone, Debug)]
pub struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    pub(crate) material: KeyMaterial,
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
        match self.material.family() {
            Family::Hmac => "oct",
            Family::Rsa => "RSA",
            Family::P256 => "EC P-256",
            Family::P384 => "EC P-384",
            Family::Ed25519 => "OKP Ed25519",
        }
    }

    /// Whether a token signed with `alg` may be checked against this key.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.misfit(alg).is_none()
    }

    /// Why `alg` does not fit this key (the algorithm-confusion guard), or None.
    pub(crate) fn misfit(&self, alg: Algorithm) -> Option<String> {
        let family = self.material.family();
        if alg.family() != family {
            return Some(format!(
                "JWT algorithm {alg} does not fit {}",
                family_article(family)
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
    /// (never silently an HMAC secret). RSA keys must be 2048 to 4096 bits.
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
        let key = Key {
            kid: None,
            alg: None,
            material: KeyMaterial::Hmac(text.as_bytes().to_vec()),
        };
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
    ) -> Result<Vec<&Key>, JwtError> {
        let pool: Vec<&Key> = match kid {
            Some(kid) => {
                let matching: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if !matching.is_empty() {
                    matching
                } else {
                    match self.keys.as_slice() {
                        [only] if only.kid.is_none() => vec![only],
                        _ => return Err(self.unknown_kid(kid)),
                    }
                }
            }
            None => self.keys.iter().collect(),
        };
        let fitting: Vec<&Key> = pool.iter().copied().filter(|k| k.fits(alg)).collect();
        if !fitting.is_empty() {
            return Ok(fitting);
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
                        let what = family_article(k.material.family()).to_string();
                        match (k.alg, k.material.family() == alg.family()) {
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

// ---------------------------------------------------------------- PEM

fn parse_pem(text: &str) -> Result<Key, String> {
    if !text.contains("-----END ") {
        return Err("PEM key does not parse: no '-----END …-----' line (truncated?)".to_string());
    }
    let label =
        pem::decode_label(text.as_bytes()).map_err(|e| format!("PEM key does not parse: {e}"))?;
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
    let (_, der) =
        pem::decode_vec(text.as_bytes()).map_err(|e| format!("PEM key does not parse: {e}"))?;
    let material = if label == "RSA PUBLIC KEY" {
        let key = RsaPublicKey::from_pkcs1_der(&der)
            .map_err(|e| format!("PEM RSA PUBLIC KEY (PKCS#1) does not parse: {e}"))?;
        KeyMaterial::Rsa(Box::new(rsa_size_checked(key)?))
    } else {
        spki_material(&der)?
    };
    Ok(Key {
        kid: None,
        alg: None,
        material,
    })
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

fn spki_material(der: &[u8]) -> Result<KeyMaterial, String> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| format!("PEM PUBLIC KEY is not valid SubjectPublicKeyInfo DER: {e}"))?;
    let oid = spki.algorithm.oid.to_string();
    match oid.as_str() {
        OID_RSA => {
            let key = RsaPublicKey::try_from(spki)
                .map_err(|e| format!("PEM RSA public key does not parse: {e}"))?;
            Ok(KeyMaterial::Rsa(Box::new(rsa_size_checked(key)?)))
        }
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map(|o| o.to_string())
                .map_err(|e| format!("PEM EC public key has no named curve: {e}"))?;
            match curve.as_str() {
                OID_P256 => p256::PublicKey::try_from(spki)
                    .map(|pk| KeyMaterial::P256(p256::ecdsa::VerifyingKey::from(pk)))
                    .map_err(|e| format!("PEM EC P-256 public key does not parse: {e}")),
                OID_P384 => p384::PublicKey::try_from(spki)
                    .map(|pk| KeyMaterial::P384(p384::ecdsa::VerifyingKey::from(pk)))
                    .map_err(|e| format!("PEM EC P-384 public key does not parse: {e}")),
                other => Err(format!(
                    "PEM EC curve {} is not supported (P-256, P-384)",
                    oid_name(other)
                )),
            }
        }
        OID_ED25519 => ed25519_dalek::VerifyingKey::try_from(spki)
            .map(KeyMaterial::Ed25519)
            .map_err(|e| format!("PEM Ed25519 public key does not parse: {e}")),
        other => Err(format!(
            "PEM public key algorithm {} is not supported (RSA, EC P-256, EC P-384, Ed25519)",
            oid_name(other)
        )),
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

fn rsa_size_checked(key: RsaPublicKey) -> Result<RsaPublicKey, String> {
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        Err(format!(
            "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
        ))
    } else {
        Ok(key)
    }
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
    let material = match kty {
        "oct" => {
            let k = b64_member(obj, "oct", "k")?;
            if k.is_empty() {
                return Err("oct 'k' is empty".to_string());
            }
            KeyMaterial::Hmac(k)
        }
        "RSA" => {
            let n = b64_member(obj, "RSA", "n")?;
            let e = b64_member(obj, "RSA", "e")?;
            let key = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
                .map_err(|err| format!("RSA key is not usable: {err}"))?;
            KeyMaterial::Rsa(Box::new(rsa_size_checked(key)?))
        }
        "EC" => {
            let crv = str_member(obj, "EC", "crv")?;
            match crv {
                "P-256" => {
                    let (x, y) = (b64_member(obj, "EC", "x")?, b64_member(obj, "EC", "y")?);
                    if x.len() != 32 || y.len() != 32 {
                        return Err(format!(
                            "EC P-256 'x'/'y' must be 32 bytes each (got {}/{})",
                            x.len(),
                            y.len()
                        ));
                    }
                    KeyMaterial::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1_uncompressed(&x, &y))
                            .map_err(|_| "EC P-256 point is not on the curve".to_string())?,
                    )
                }
                "P-384" => {
                    let (x, y) = (b64_member(obj, "EC", "x")?, b64_member(obj, "EC", "y")?);
                    if x.len() != 48 || y.len() != 48 {
                        return Err(format!(
                            "EC P-384 'x'/'y' must be 48 bytes each (got {}/{})",
                            x.len(),
                            y.len()
                        ));
                    }
                    KeyMaterial::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1_uncompressed(&x, &y))
                            .map_err(|_| "EC P-384 point is not on the curve".to_string())?,
                    )
                }
                other => {
                    return Err(format!(
                        "EC curve {} is not supported (P-256, P-384)",
                        quote(other)
                    ))
                }
            }
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
            KeyMaterial::Ed25519(
                ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| "OKP Ed25519 'x' is not a valid point".to_string())?,
            )
        }
        other => {
            return Err(format!(
                "kty {} is not supported (oct, RSA, EC, OKP)",
                quote(other)
            ))
        }
    };
    let key = Key { kid, alg, material };
    if let Some(a) = alg {
        if a.family() != key.material.family() {
            return Err(format!("alg {a} does not fit kty {}", key.kind()));
        }
    }
    Ok(key)
}

/// SEC1 uncompressed point: `04 || x || y`.
fn sec1_uncompressed(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + x.len() + y.len());
    out.push(0x04);
    out.extend_from_slice(x);
    out.extend_from_slice(y);
    out
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

    #[test]
    fn secret_is_raw_untrimmed_bytes() {
        let set = KeySet::parse(" s3cret\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.source(), KeySource::Secret);
        match &set.keys()[0].material {
            KeyMaterial::Hmac(b) => assert_eq!(b, b" s3cret\n"),
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
}
