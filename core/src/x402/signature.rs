//! secp256k1 signature parsing and public-key recovery (EOA signatures), on
//! libsecp256k1 (the `secp256k1` crate, feature `recovery`).
//!
//! libsecp256k1 is C: every call here returns an error value for any input
//! (the crate's contract), and the inputs are checked first anyway (`v`,
//! `r` and `s` ranges, low `s`), so no path can reach its abort callback.

use std::sync::OnceLock;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, Secp256k1, VerifyOnly};

use super::address::Address;
use super::eip712::keccak256;
use super::error::{Result, X402Error};
use super::util::{bytes_word, decode_hex, show, strip_0x, to_array};

/// The secp256k1 group order n, big-endian.
const SECP256K1_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// floor(n / 2), big-endian: the largest accepted `s` (EIP-2).
const SECP256K1_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// Parses a 65-byte `r || s || v` signature from hex (`0x` optional).
///
/// Only checks hex and length ([`ErrorKind::Malformed`](super::ErrorKind::Malformed));
/// [`recover_signer`] checks the values.
pub fn parse_signature(s: &str) -> Result<[u8; 65]> {
    let digits = strip_0x(s).unwrap_or(s);
    let bytes = decode_hex("signature", s, digits)?;
    to_array::<65>(&bytes).ok_or_else(|| {
        let hint = if bytes.len() > 65 {
            " (smart-contract wallet signatures, ERC-1271/ERC-6492, are not supported)"
        } else {
            ""
        };
        X402Error::malformed(format!(
            "signature {} has {}, expected 65 (r || s || v){hint}",
            show(s),
            bytes_word(bytes.len())
        ))
    })
}

/// Recovers the signer's address of a 65-byte `r || s || v` signature over a
/// 32-byte digest (e.g. an EIP-712 digest).
///
/// `v` may be 27/28 or 0/1. `r` and `s` must be in `[1, n-1]`, and `s` must be
/// at most n/2: high-s signatures are malleable (EIP-2) and rejected. Errors
/// are [`ErrorKind::InvalidSignature`](super::ErrorKind::InvalidSignature).
pub fn recover_signer(digest: &[u8; 32], signature: &[u8; 65]) -> Result<Address> {
    recover(digest, signature, false)
}

/// Recovers the signer's address as the EVM's `ecrecover` does (what Permit2's
/// `SignatureVerification` calls): like [`recover_signer`], but a high `s` is
/// accepted (`ecrecover` does not refuse malleable signatures, so Permit2
/// accepts both twins of a signature). `v` may be 27/28 or 0/1; `r` and `s`
/// must be in `[1, n-1]`.
pub fn recover_signer_any_s(digest: &[u8; 32], signature: &[u8; 65]) -> Result<Address> {
    recover(digest, signature, true)
}

fn recover(digest: &[u8; 32], signature: &[u8; 65], allow_high_s: bool) -> Result<Address> {
    let (r, rest) = signature
        .split_first_chunk::<32>()
        .ok_or_else(|| X402Error::invalid_signature("signature is shorter than 65 bytes"))?;
    let (s, rest) = rest
        .split_first_chunk::<32>()
        .ok_or_else(|| X402Error::invalid_signature("signature is shorter than 65 bytes"))?;
    let v = match rest {
        [v] => *v,
        _ => return Err(X402Error::invalid_signature("signature is not 65 bytes")),
    };
    let y_odd = match v {
        0 | 27 => false,
        1 | 28 => true,
        other => {
            return Err(X402Error::invalid_signature(format!(
                "signature v is {other}, expected 27 or 28 (or 0 or 1)"
            )))
        }
    };
    if r.iter().all(|&b| b == 0) || *r >= SECP256K1_N {
        return Err(X402Error::invalid_signature(
            "signature r is out of range (must be in 1..n-1 of secp256k1)",
        ));
    }
    if s.iter().all(|&b| b == 0) || *s >= SECP256K1_N {
        return Err(X402Error::invalid_signature(
            "signature s is out of range (must be in 1..n-1 of secp256k1)",
        ));
    }
    if !allow_high_s && *s > SECP256K1_HALF_N {
        return Err(X402Error::invalid_signature(
            "signature has a high s value (s > n/2): such signatures are malleable and \
             rejected (EIP-2); the canonical form uses n - s and the other v",
        ));
    }
    let mut rs = [0u8; 64];
    for (dst, src) in rs.iter_mut().zip(r.iter().chain(s.iter())) {
        *dst = *src;
    }
    let recid = if y_odd {
        RecoveryId::One
    } else {
        RecoveryId::Zero
    };
    let sig = RecoverableSignature::from_compact(&rs, recid)
        .map_err(|e| X402Error::invalid_signature(format!("signature is not valid: {e}")))?;
    let key = context()
        .recover_ecdsa(Message::from_digest(*digest), &sig)
        .map_err(|_| {
            X402Error::invalid_signature("signature does not recover to any public key")
        })?;
    address_of_key(&key)
}

/// One verification context for the process (libsecp256k1 contexts are
/// immutable once built and safe to share between threads).
fn context() -> &'static Secp256k1<VerifyOnly> {
    static CONTEXT: OnceLock<Secp256k1<VerifyOnly>> = OnceLock::new();
    CONTEXT.get_or_init(Secp256k1::verification_only)
}

/// Recovers the signer's checksummed address from a hex signature (`0x`
/// optional) over `digest`: [`parse_signature`] then [`recover_signer`].
pub fn recover_address(digest: &[u8; 32], signature_hex: &str) -> Result<String> {
    recover_signer(digest, &parse_signature(signature_hex)?).map(|a| a.to_checksum())
}

/// A secp256k1 public key [`address_of_key`] can read: libsecp256k1's
/// [`PublicKey`], the 64-byte `x || y` or 65-byte `04 || x || y` uncompressed
/// point, and, with the `k256` feature (for callers that sign with the
/// RustCrypto crate, like this crate's tests and fuzzers), `k256`'s
/// verifying key.
pub trait PublicKeyPoint {
    /// The uncompressed point without its `0x04` prefix, or None when the
    /// value is not a valid uncompressed point.
    fn uncompressed_xy(&self) -> Option<[u8; 64]>;
}

impl PublicKeyPoint for PublicKey {
    fn uncompressed_xy(&self) -> Option<[u8; 64]> {
        let point = self.serialize_uncompressed();
        point.last_chunk::<64>().copied()
    }
}

impl PublicKeyPoint for [u8; 64] {
    fn uncompressed_xy(&self) -> Option<[u8; 64]> {
        Some(*self)
    }
}

impl PublicKeyPoint for [u8; 65] {
    fn uncompressed_xy(&self) -> Option<[u8; 64]> {
        match self.split_first() {
            Some((0x04, xy)) => xy.try_into().ok(),
            _ => None,
        }
    }
}

#[cfg(feature = "k256")]
impl PublicKeyPoint for k256::ecdsa::VerifyingKey {
    fn uncompressed_xy(&self) -> Option<[u8; 64]> {
        let point = self.to_encoded_point(false);
        match point.as_bytes().split_first() {
            Some((0x04, xy)) => xy.try_into().ok(),
            _ => None,
        }
    }
}

/// The address of a public key: the last 20 bytes of keccak256 of the
/// uncompressed point without its 0x04 prefix.
pub fn address_of_key<K: PublicKeyPoint + ?Sized>(key: &K) -> Result<Address> {
    let xy = key.uncompressed_xy().ok_or_else(|| {
        X402Error::invalid_signature("recovered key is not an uncompressed point")
    })?;
    let hash = keccak256(&xy);
    hash.last_chunk::<20>()
        .map(|a| Address::from_bytes(*a))
        .ok_or_else(|| X402Error::invalid_signature("keccak256 output is not 32 bytes"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::x402::ErrorKind;
    use k256::ecdsa::SigningKey;

    /// n - s, big-endian.
    pub(crate) fn n_minus(s: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut d = SECP256K1_N[i] as i16 - s[i] as i16 - borrow;
            borrow = 0;
            if d < 0 {
                d += 256;
                borrow = 1;
            }
            out[i] = d as u8;
        }
        out
    }

    /// Signs `digest` with a test key, returning r || s || v (v = 27/28).
    pub(crate) fn sign(key: &SigningKey, digest: &[u8; 32]) -> [u8; 65] {
        let (sig, recid) = key.sign_prehash_recoverable(digest).unwrap();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.to_byte();
        out
    }

    #[test]
    fn recovers_and_accepts_both_v_forms() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let expected = address_of_key(key.verifying_key()).unwrap();
        for i in 0..20u8 {
            let digest = keccak256(&[i]);
            let sig = sign(&key, &digest);
            assert_eq!(recover_signer(&digest, &sig).unwrap(), expected);
            let mut zero_one = sig;
            zero_one[64] -= 27;
            assert_eq!(recover_signer(&digest, &zero_one).unwrap(), expected);
            let hex27 = hex::encode(sig);
            let hex01 = format!("0x{}", hex::encode(zero_one));
            assert_eq!(
                recover_address(&digest, &hex27).unwrap(),
                recover_address(&digest, &hex01).unwrap()
            );
        }
    }

    #[test]
    fn high_s_is_rejected() {
        let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let digest = keccak256(b"x402");
        let sig = sign(&key, &digest);
        let mut high = sig;
        high[32..64].copy_from_slice(&n_minus(&sig[32..64]));
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        let e = recover_signer(&digest, &high).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        assert!(e.message.contains("high s"), "{e}");
    }

    #[test]
    fn high_s_is_recovered_as_ecrecover_does() {
        let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let expected = address_of_key(key.verifying_key()).unwrap();
        for i in 0..20u8 {
            let digest = keccak256(&[i, 1]);
            let sig = sign(&key, &digest);
            let mut high = sig;
            high[32..64].copy_from_slice(&n_minus(&sig[32..64]));
            high[64] = if sig[64] == 27 { 28 } else { 27 };
            assert!(recover_signer(&digest, &high).is_err());
            assert_eq!(recover_signer_any_s(&digest, &high).unwrap(), expected);
            assert_eq!(recover_signer_any_s(&digest, &sig).unwrap(), expected);
            // the same key with the wrong parity is someone else
            let mut flipped = high;
            flipped[64] = sig[64];
            assert_ne!(recover_signer_any_s(&digest, &flipped).ok(), Some(expected));
        }
        let digest = keccak256(b"x");
        let sig = sign(&key, &digest);
        let mut max_s = sig;
        max_s[32..64].copy_from_slice(&SECP256K1_N);
        assert!(recover_signer_any_s(&digest, &max_s).is_err());
        let mut zero_s = sig;
        zero_s[32..64].fill(0);
        assert!(recover_signer_any_s(&digest, &zero_s).is_err());
    }

    #[test]
    fn bad_values() {
        let digest = keccak256(b"x");
        let key = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let sig = sign(&key, &digest);
        for v in [2u8, 26, 29, 35, 255] {
            let mut bad = sig;
            bad[64] = v;
            let e = recover_signer(&digest, &bad).unwrap_err();
            assert!(e.message.contains(&format!("v is {v}")), "{e}");
        }
        let mut zero_r = sig;
        zero_r[..32].fill(0);
        assert!(recover_signer(&digest, &zero_r)
            .unwrap_err()
            .message
            .contains("r is out of range"));
        let mut big_r = sig;
        big_r[..32].copy_from_slice(&SECP256K1_N);
        assert!(recover_signer(&digest, &big_r).is_err());
        let mut zero_s = sig;
        zero_s[32..64].fill(0);
        assert!(recover_signer(&digest, &zero_s)
            .unwrap_err()
            .message
            .contains("s is out of range"));
        let mut max_s = sig;
        max_s[32..64].fill(0xff);
        assert!(recover_signer(&digest, &max_s).is_err());
        // r that is not the x coordinate of any curve point must not panic.
        let mut odd_r = sig;
        odd_r[..32].fill(0);
        odd_r[31] = 5;
        let _ = recover_signer(&digest, &odd_r);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_signature("0x1234").unwrap_err().message,
            "signature 0x1234 has 2 bytes, expected 65 (r || s || v)"
        );
        assert!(parse_signature("0x123")
            .unwrap_err()
            .message
            .contains("odd number"));
        assert!(parse_signature("0xgg")
            .unwrap_err()
            .message
            .contains("non-hex"));
        assert!(parse_signature(&"ab".repeat(66))
            .unwrap_err()
            .message
            .contains("ERC-1271"));
        assert!(parse_signature(&"ab".repeat(65)).is_ok());
        assert!(parse_signature("").is_err());
    }
}
