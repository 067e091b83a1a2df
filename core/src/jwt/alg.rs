//! The JWS algorithms this crate verifies, and the signature check itself.

use std::fmt;

use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use super::key::KeyMaterial;

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

/// Which key type an algorithm needs.
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

    /// Checks `signature` over `signing_input` (`header.payload`, as sent).
    /// The caller has already checked that the key's family fits; a key of
    /// another family simply gives `false`.
    pub(crate) fn verify(self, key: &KeyMaterial, signing_input: &[u8], signature: &[u8]) -> bool {
        match (self, key) {
            (Algorithm::Hs256, KeyMaterial::Hmac(secret)) => {
                hmac_matches::<Hmac<Sha256>>(secret, signing_input, signature)
            }
            (Algorithm::Hs384, KeyMaterial::Hmac(secret)) => {
                hmac_matches::<Hmac<Sha384>>(secret, signing_input, signature)
            }
            (Algorithm::Hs512, KeyMaterial::Hmac(secret)) => {
                hmac_matches::<Hmac<Sha512>>(secret, signing_input, signature)
            }
            (Algorithm::Rs256, KeyMaterial::Rsa(k)) => {
                rsa_pkcs1::<Sha256>(k, signing_input, signature)
            }
            (Algorithm::Rs384, KeyMaterial::Rsa(k)) => {
                rsa_pkcs1::<Sha384>(k, signing_input, signature)
            }
            (Algorithm::Rs512, KeyMaterial::Rsa(k)) => {
                rsa_pkcs1::<Sha512>(k, signing_input, signature)
            }
            (Algorithm::Ps256, KeyMaterial::Rsa(k)) => {
                rsa_pss::<Sha256>(k, signing_input, signature)
            }
            (Algorithm::Ps384, KeyMaterial::Rsa(k)) => {
                rsa_pss::<Sha384>(k, signing_input, signature)
            }
            (Algorithm::Ps512, KeyMaterial::Rsa(k)) => {
                rsa_pss::<Sha512>(k, signing_input, signature)
            }
            (Algorithm::Es256, KeyMaterial::P256(k)) => {
                match p256::ecdsa::Signature::from_slice(signature) {
                    Ok(sig) => k.verify(signing_input, &sig).is_ok(),
                    Err(_) => false,
                }
            }
            (Algorithm::Es384, KeyMaterial::P384(k)) => {
                match p384::ecdsa::Signature::from_slice(signature) {
                    Ok(sig) => k.verify(signing_input, &sig).is_ok(),
                    Err(_) => false,
                }
            }
            (Algorithm::EdDsa, KeyMaterial::Ed25519(k)) => {
                match ed25519_dalek::Signature::from_slice(signature) {
                    // verify_strict rejects small-order keys and
                    // non-canonical signatures; honest signers never make them.
                    Ok(sig) => k.verify_strict(signing_input, &sig).is_ok(),
                    Err(_) => false,
                }
            }
            _ => false,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HMAC tag comparison in constant time (`subtle`); a tag of the wrong
/// length never matches.
fn hmac_matches<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8], tag: &[u8]) -> bool {
    let mut mac = match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return false,
    };
    mac.update(input);
    let expected = mac.finalize().into_bytes();
    let expected: &[u8] = &expected;
    bool::from(expected.ct_eq(tag))
}

fn rsa_pkcs1<D>(key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool
where
    D: Digest + rsa::pkcs8::AssociatedOid,
{
    let hashed = D::digest(input);
    key.verify(Pkcs1v15Sign::new::<D>(), &hashed, signature)
        .is_ok()
}

/// RSASSA-PSS as RFC 7518 §3.5 fixes it: MGF1 with the same hash, salt as
/// long as the hash.
fn rsa_pss<D>(key: &RsaPublicKey, input: &[u8], signature: &[u8]) -> bool
where
    D: 'static + Digest + sha2::digest::DynDigest + Send + Sync,
{
    let hashed = D::digest(input);
    key.verify(Pss::new::<D>(), &hashed, signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::EdDsa));
        assert_eq!(Algorithm::from_name("hs256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("ES512"), None);
    }

    #[test]
    fn wrong_key_family_is_false() {
        let key = KeyMaterial::Hmac(b"secret".to_vec());
        assert!(!Algorithm::Rs256.verify(&key, b"a.b", &[0u8; 256]));
        assert!(!Algorithm::Es256.verify(&key, b"a.b", &[0u8; 64]));
    }

    #[test]
    fn hmac_rejects_truncated_tags() {
        let key = KeyMaterial::Hmac(b"secret".to_vec());
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(b"secret")
            .unwrap_or_else(|_| unreachable!());
        mac.update(b"a.b");
        let tag = mac.finalize().into_bytes();
        assert!(Algorithm::Hs256.verify(&key, b"a.b", &tag));
        assert!(!Algorithm::Hs256.verify(&key, b"a.b", &tag[..31]));
        assert!(!Algorithm::Hs256.verify(&key, b"a.b", &[]));
        assert!(!Algorithm::Hs384.verify(&key, b"a.b", &tag));
    }
}
