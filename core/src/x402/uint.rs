//! `uint256` amounts and timestamps: decimal strings in, 32 big-endian bytes
//! inside, exact comparisons, decimal strings out. Never through floats.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::error::{Result, X402Error};
use super::util::{show, type_name};

/// An unsigned 256-bit integer, stored as 32 big-endian bytes.
///
/// The derived ordering of the big-endian bytes is the numeric ordering.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct U256([u8; 32]);

impl U256 {
    /// 0.
    pub const ZERO: U256 = U256([0; 32]);
    /// 2^256 - 1.
    pub const MAX: U256 = U256([0xff; 32]);

    /// From 32 big-endian bytes (the ABI encoding of a `uint256`).
    pub const fn from_be_bytes(bytes: [u8; 32]) -> Self {
        U256(bytes)
    }

    /// The 32 big-endian bytes (the ABI encoding of a `uint256`).
    pub const fn to_be_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Whether this is 0.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The value as `u64`, or `None` when it is above 2^64 - 1.
    pub fn to_u64(&self) -> Option<u64> {
        let [lo, rest @ ..] = self.to_limbs();
        rest.iter().all(|&l| l == 0).then_some(lo)
    }

    /// Parses a decimal string: one or more ASCII digits, leading zeros
    /// allowed; no sign, whitespace, separators, exponent or fraction.
    ///
    /// Errors: [`ErrorKind::Malformed`](super::ErrorKind::Malformed) for
    /// anything but digits, [`ErrorKind::OutOfRange`](super::ErrorKind::OutOfRange)
    /// above 2^256 - 1.
    pub fn parse_decimal(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(X402Error::malformed(
                "uint256 is an empty string, expected decimal digits",
            ));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
            return Err(X402Error::malformed(format!(
                "uint256 \"{}\" is not a decimal integer: unexpected character {c:?} \
                 (only digits 0-9; no sign, spaces, fraction or exponent)",
                show(s)
            )));
        }
        let mut limbs = [0u64; 4];
        for digit in s.bytes() {
            let mut carry = u128::from(digit.wrapping_sub(b'0'));
            for limb in limbs.iter_mut() {
                // (2^64 - 1) * 10 + 9 < 2^128: cannot wrap.
                let t = u128::from(*limb).wrapping_mul(10).wrapping_add(carry);
                *limb = t as u64;
                carry = t >> 64;
            }
            if carry != 0 {
                return Err(X402Error::out_of_range(format!(
                    "uint256 \"{}\" exceeds 2^256-1",
                    show(s)
                )));
            }
        }
        Ok(Self::from_limbs(limbs))
    }

    /// Parses a JSON value: a decimal string (preferred), or a JSON number
    /// that is a non-negative integer written without fraction or exponent.
    pub fn from_json(value: &Value) -> Result<Self> {
        match value {
            Value::String(s) => Self::parse_decimal(s),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    return Ok(U256::from(u));
                }
                let text = n.to_string();
                if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                    // Only reachable with serde_json's arbitrary_precision.
                    return Self::parse_decimal(&text);
                }
                if text.starts_with('-') {
                    Err(X402Error::malformed(format!("uint256 {text} is negative")))
                } else {
                    Err(X402Error::malformed(format!(
                        "uint256 {text} is not an exact non-negative integer; \
                         send uint256 values as decimal strings"
                    )))
                }
            }
            other => Err(X402Error::malformed(format!(
                "uint256 must be a decimal string, got {}",
                type_name(other)
            ))),
        }
    }

    /// The decimal representation (no leading zeros; `0` for zero).
    pub fn to_decimal_string(&self) -> String {
        let mut limbs = self.to_limbs();
        let mut digits: Vec<char> = Vec::with_capacity(78);
        while limbs.iter().any(|&l| l != 0) {
            let mut rem: u128 = 0;
            for limb in limbs.iter_mut().rev() {
                // rem < 10, so cur < 10 * 2^64 and cur / 10 < 2^64.
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / 10) as u64;
                rem = cur % 10;
            }
            digits.push(char::from(b'0'.wrapping_add(rem as u8)));
        }
        if digits.is_empty() {
            return "0".to_owned();
        }
        digits.iter().rev().collect()
    }

    /// Little-endian 64-bit limbs.
    fn to_limbs(self) -> [u64; 4] {
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().zip(self.0.rchunks_exact(8)) {
            *limb = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        }
        limbs
    }

    /// From little-endian 64-bit limbs.
    fn from_limbs(limbs: [u64; 4]) -> Self {
        let mut out = [0u8; 32];
        for (chunk, limb) in out.rchunks_exact_mut(8).zip(limbs) {
            for (dst, src) in chunk.iter_mut().zip(limb.to_be_bytes()) {
                *dst = src;
            }
        }
        U256(out)
    }
}

impl From<u64> for U256 {
    fn from(v: u64) -> Self {
        U256::from_limbs([v, 0, 0, 0])
    }
}

impl From<u128> for U256 {
    fn from(v: u128) -> Self {
        U256::from_limbs([v as u64, (v >> 64) as u64, 0, 0])
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for U256 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl FromStr for U256 {
    type Err = X402Error;
    fn from_str(s: &str) -> Result<Self> {
        U256::parse_decimal(s)
    }
}

impl fmt::Display for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U256({})", self.to_decimal_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x402::ErrorKind;
    use serde_json::json;

    const MAX_DEC: &str =
        "115792089237316195423570985008687907853269984665640564039457584007913129639935";

    #[test]
    fn decimal_round_trip() {
        for s in [
            "0",
            "1",
            "9",
            "10",
            "10000",
            "18446744073709551615",
            "18446744073709551616",
            "340282366920938463463374607431768211455",
            "340282366920938463463374607431768211456",
            MAX_DEC,
        ] {
            let v = U256::parse_decimal(s).unwrap();
            assert_eq!(v.to_decimal_string(), s);
            assert_eq!(v.to_string(), s);
        }
        assert_eq!(U256::parse_decimal(MAX_DEC).unwrap(), U256::MAX);
        assert_eq!(U256::parse_decimal("000123").unwrap().to_string(), "123");
        assert_eq!(U256::parse_decimal("0000").unwrap(), U256::ZERO);
    }

    #[test]
    fn overflow_is_detected() {
        let e = U256::parse_decimal(
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutOfRange);
        assert!(e.message.contains("exceeds 2^256-1"), "{e}");
        let long = "9".repeat(500);
        assert_eq!(
            U256::parse_decimal(&long).unwrap_err().kind,
            ErrorKind::OutOfRange
        );
    }

    #[test]
    fn rejects_non_digits() {
        for s in [
            "", "-1", "+1", " 1", "1 ", "1.0", "1e6", "0x10", "１", "1_000",
        ] {
            let e = U256::parse_decimal(s).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Malformed, "{s:?}");
        }
    }

    #[test]
    fn ordering_is_numeric() {
        let a = U256::parse_decimal("9999").unwrap();
        let b = U256::parse_decimal("10000").unwrap();
        let c = U256::parse_decimal("18446744073709551616").unwrap();
        assert!(a < b && b < c && c < U256::MAX);
        assert!(U256::ZERO < a);
        assert_eq!(c.to_u64(), None);
        assert_eq!(b.to_u64(), Some(10000));
        assert_eq!(
            U256::from(u128::MAX).to_string(),
            "340282366920938463463374607431768211455"
        );
    }

    #[test]
    fn from_json_numbers_and_strings() {
        assert_eq!(
            U256::from_json(&json!("10000")).unwrap(),
            U256::from(10000u64)
        );
        assert_eq!(
            U256::from_json(&json!(10000)).unwrap(),
            U256::from(10000u64)
        );
        assert_eq!(U256::from_json(&json!(0)).unwrap(), U256::ZERO);
        for bad in [
            json!(-1),
            json!(1.5),
            json!(1e30),
            json!(null),
            json!(true),
            json!([1]),
            json!({}),
        ] {
            assert_eq!(
                U256::from_json(&bad).unwrap_err().kind,
                ErrorKind::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn be_bytes() {
        let v = U256::from(0x0102u64);
        let b = v.to_be_bytes();
        assert_eq!(b[30], 1);
        assert_eq!(b[31], 2);
        assert_eq!(U256::from_be_bytes(b), v);
    }
}
