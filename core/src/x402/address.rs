//! 20-byte EVM addresses and EIP-55 checksums.

use std::fmt;
use std::str::FromStr;

use super::eip712::keccak256;
use super::error::{Result, X402Error};
use super::util::{bytes_word, decode_hex, show, strip_0x, to_array};

/// A 20-byte EVM address. `Display` gives the EIP-55 checksummed form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address([u8; 20]);

impl Address {
    /// The zero address.
    pub const ZERO: Address = Address([0; 20]);

    /// From raw bytes.
    pub const fn from_bytes(bytes: [u8; 20]) -> Self {
        Address(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(&self) -> [u8; 20] {
        self.0
    }

    /// Parses `0x` + 40 hex digits.
    ///
    /// All-lowercase and all-uppercase digits are accepted as is; mixed case
    /// must be the exact EIP-55 checksum, and otherwise the error names the
    /// expected checksummed form.
    pub fn parse(s: &str) -> Result<Self> {
        let digits = strip_0x(s).ok_or_else(|| {
            X402Error::malformed(format!("address {} must start with 0x", show(s)))
        })?;
        if !digits.len().is_multiple_of(2) && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(X402Error::malformed(format!(
                "address {} has {} hex digits, expected 40",
                show(s),
                digits.len()
            )));
        }
        let bytes = decode_hex("address", s, digits)?;
        let address = to_array::<20>(&bytes).map(Address).ok_or_else(|| {
            X402Error::malformed(format!(
                "address {} has {}, expected 20",
                show(s),
                bytes_word(bytes.len())
            ))
        })?;
        let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper {
            let expected = address.to_checksum();
            if expected.strip_prefix("0x") != Some(digits) {
                return Err(X402Error::malformed(format!(
                    "address {s} has an invalid EIP-55 checksum (mixed case must match \
                     the checksum exactly); expected {expected}"
                )));
            }
        }
        Ok(address)
    }

    /// The EIP-55 checksummed form, `0x` + 40 hex digits.
    pub fn to_checksum(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut lower = [0u8; 40];
        for (pair, byte) in lower.chunks_exact_mut(2).zip(self.0) {
            for (dst, nibble) in pair.iter_mut().zip([byte >> 4, byte & 0x0f]) {
                *dst = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
            }
        }
        let hash = keccak256(&lower);
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (pair, h) in lower.chunks_exact(2).zip(hash) {
            for (&c, nibble) in pair.iter().zip([h >> 4, h & 0x0f]) {
                out.push(char::from(if nibble >= 8 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }));
            }
        }
        out
    }

    /// `0x` + 40 lowercase hex digits.
    pub fn to_lower_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// The ABI encoding: 12 zero bytes then the address.
    pub fn to_word(&self) -> [u8; 32] {
        let mut word = [0u8; 32];
        for (dst, src) in word.iter_mut().rev().zip(self.0.iter().rev()) {
            *dst = *src;
        }
        word
    }
}

/// Validates an address and returns its EIP-55 checksummed form.
///
/// `0x` + 40 hex digits; all-lowercase or all-uppercase input is accepted and
/// checksummed; mixed case with a wrong checksum is an error that names the
/// expected checksum form.
pub fn checksum_address(s: &str) -> Result<String> {
    Address::parse(s).map(|a| a.to_checksum())
}

impl FromStr for Address {
    type Err = X402Error;
    fn from_str(s: &str) -> Result<Self> {
        Address::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_checksum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x402::ErrorKind;

    /// The test vectors of EIP-55 itself.
    const EIP55: [&str; 8] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
    ];

    #[test]
    fn eip55_vectors() {
        for v in EIP55 {
            assert_eq!(checksum_address(v).unwrap(), v);
            let lower = format!("0x{}", v[2..].to_ascii_lowercase());
            let upper = format!("0x{}", v[2..].to_ascii_uppercase());
            assert_eq!(checksum_address(&lower).unwrap(), v);
            assert_eq!(checksum_address(&upper).unwrap(), v);
            assert_eq!(checksum_address(&format!("0X{}", &v[2..])).unwrap(), v);
        }
    }

    #[test]
    fn wrong_checksum_names_expected_form() {
        let e = checksum_address("0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(
            e.message
                .contains("expected 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            "{e}"
        );
    }

    #[test]
    fn malformed_addresses() {
        let e = checksum_address("0x12").unwrap_err();
        assert_eq!(e.message, "address 0x12 has 1 byte, expected 20");
        let e = checksum_address("0x123").unwrap_err();
        assert_eq!(e.message, "address 0x123 has 3 hex digits, expected 40");
        let e = checksum_address(&format!("0x{}", "ab".repeat(21))).unwrap_err();
        assert!(e.message.ends_with("has 21 bytes, expected 20"), "{e}");
        let e = checksum_address("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap_err();
        assert!(e.message.contains("must start with 0x"), "{e}");
        let e = checksum_address("0xzzAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap_err();
        assert!(e.message.contains("non-hex character 'z'"), "{e}");
        assert!(checksum_address("").is_err());
        assert!(checksum_address("0x").is_err());
        assert!(checksum_address(" 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_err());
    }

    #[test]
    fn word_is_left_padded() {
        let a = Address::parse("0x4ae46a509f6b1d9056937ba4500cb143933d2dc8").unwrap();
        let w = a.to_word();
        assert_eq!(&w[..12], &[0u8; 12]);
        assert_eq!(&w[12..], &a.to_bytes());
        assert_eq!(
            a.to_lower_hex(),
            "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"
        );
    }
}
