//! The JWS algorithms this crate verifies, and the signature check itself
//! (jsonwebtoken's verifier on its `aws_lc_rs` backend).

use std::cell::RefCell;
use std::fmt;

use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::JwtVerifier;
use jsonwebtoken::DecodingKey;

use super::key::Key;

/// How many jsonwebtoken verifier objects a thread keeps (see
/// [`Algorithm::verify_cached`]).
const CACHED_VERIFIERS: usize = 16;

/// A jsonwebtoken verifier object for (key id, algorithm).
type CachedVerifier = (u64, Algorithm, Box<dyn JwtVerifier>);

thread_local! {
    /// jsonwebtoken verifiers by (key id, algorithm), most recent last.
    static VERIFIERS: RefCell<Vec<CachedVerifier>> = const { RefCell::new(Vec::new()) };
}

/// A supported JWS `alg` (RFC 7518, RFC 8037).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    Ps256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt.
    Ps384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-byte salt.
    Ps512,
    /// ECDSA on P-256 with SHA-256; signature is raw `r || s` (64 bytes).
    Es256,
    /// ECDSA on P-384 with SHA-384; signature is raw `r || s` (96 bytes).
    Es384,
    /// EdDSA with Ed25519 (`alg` `EdDSA`, or the fully specified `Ed25519`).
    EdDsa,
}

/// Which key type an algorithm needs. Finer than jsonwebtoken's
/// `AlgorithmFamily`, which has one `Ec` family for both curves: an ES256
/// token must never be checked against a P-384 key, nor ES384 against P-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Hmac,
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm, in the order error messages list them.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Hs256,
        Algorithm::Hs384,
        Algorithm::Hs512,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The `alg` header value (`"HS256"`, …, `"EdDSA"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses an `alg` value. Names are case-sensitive (RFC 7515 §4.1.1);
    /// `Ed25519` (RFC 9864) is accepted as a synonym of `EdDSA`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        if name == "Ed25519" {
            return Some(Algorithm::EdDsa);
        }
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The same algorithm in jsonwebtoken's terms.
    pub fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Algorithm::Hs256 => J::HS256,
            Algorithm::Hs384 => J::HS384,
            Algorithm::Hs512 => J::HS512,
            Algorithm::Rs256 => J::RS256,
            Algorithm::Rs384 => J::RS384,
            Algorithm::Rs512 => J::RS512,
            Algorithm::Ps256 => J::PS256,
            Algorithm::Ps384 => J::PS384,
            Algorithm::Ps512 => J::PS512,
            Algorithm::Es256 => J::ES256,
            Algorithm::Es384 => J::ES384,
            Algorithm::EdDsa => J::EdDSA,
        }
    }

    pub(crate) fn family(self) -> Family {
        match self {
            Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => Family::Hmac,
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512 => Family::Rsa,
            Algorithm::Es256 => Family::P256,
            Algorithm::Es384 => Family::P384,
            Algorithm::EdDsa => Family::Ed25519,
        }
    }

    /// Checks `signature` over `signing_input` (`header.payload`, as sent)
    /// with jsonwebtoken's verifier for this algorithm (aws-lc: HMAC compared
    /// in constant time, ECDSA as fixed-size `r || s`, RSA 2048 to 8192 bits).
    /// The caller has already checked that the key's family fits; a key of
    /// another family, or any backend error, simply gives `false`.
    /// (`&Vec` because jsonwebtoken's verifiers take one: no copy.)
    #[allow(clippy::ptr_arg)]
    pub(crate) fn verify(
        self,
        key: &DecodingKey,
        signing_input: &[u8],
        signature: &Vec<u8>,
    ) -> bool {
        let Ok(verifier) = (DEFAULT_PROVIDER.verifier_factory)(&self.to_jsonwebtoken(), key) else {
            return false;
        };
        verifier.verify(signing_input, signature).is_ok()
    }
}

impl Algorithm {
    /// [`verify`](Self::verify) with `key`, reusing the jsonwebtoken verifier
    /// object built for this key and algorithm on this thread (building one
    /// sets up the key: for HMAC, the padded-key hashes). A small per-thread
    /// cache (16 entries, by the key's id, which clones share); the check
    /// itself is the same.
    #[allow(clippy::ptr_arg)]
    pub(crate) fn verify_cached(
        self,
        key: &Key,
        signing_input: &[u8],
        signature: &Vec<u8>,
    ) -> bool {
        VERIFIERS.with(|cell| {
            let Ok(mut cache) = cell.try_borrow_mut() else {
                return self.verify(&key.decoding, signing_input, signature);
            };
            let id = key.id();
            if let Some(pos) = cache.iter().position(|(k, a, _)| *k == id && *a == self) {
                return cache
                    .get(pos)
                    .is_some_and(|(_, _, v)| v.verify(signing_input, signature).is_ok());
            }
            let Ok(verifier) =
                (DEFAULT_PROVIDER.verifier_factory)(&self.to_jsonwebtoken(), &key.decoding)
            else {
                return false;
            };
            let ok = verifier.verify(signing_input, signature).is_ok();
            if cache.len() >= CACHED_VERIFIERS {
                cache.remove(0);
            }
            cache.push((id, self, verifier));
            ok
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
            assert_eq!(format!("{:?}", alg.to_jsonwebtoken()), alg.as_str());
        }
        assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::EdDsa));
        assert_eq!(Algorithm::from_name("hs256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("ES512"), None);
    }

    #[test]
    fn wrong_key_family_is_false() {
        let key = DecodingKey::from_secret(b"secret").unwrap_or_else(|e| panic!("{e}"));
        assert!(!Algorithm::Rs256.verify(&key, b"a.b", &vec![0u8; 256]));
        assert!(!Algorithm::Es256.verify(&key, b"a.b", &vec![0u8; 64]));
        assert!(!Algorithm::EdDsa.verify(&key, b"a.b", &vec![0u8; 64]));
    }

    #[test]
    fn hmac_rejects_truncated_tags() {
        let key = DecodingKey::from_secret(b"secret").unwrap_or_else(|e| panic!("{e}"));
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(b"secret")
            .unwrap_or_else(|_| unreachable!());
        mac.update(b"a.b");
        let tag = mac.finalize().into_bytes();
        let tag = tag.to_vec();
        assert!(Algorithm::Hs256.verify(&key, b"a.b", &tag));
        assert!(!Algorithm::Hs256.verify(&key, b"a.b", &tag[..31].to_vec()));
        assert!(!Algorithm::Hs256.verify(&key, b"a.b", &Vec::new()));
        assert!(!Algorithm::Hs384.verify(&key, b"a.b", &tag));
    }
}
