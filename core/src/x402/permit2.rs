//! Permit2 (`PermitWitnessTransferFrom` with the x402 witness): the
//! authorization of x402 `exact` payments settled through Permit2 and of
//! `upto` payments, its EIP-712 hashing, and its fields read the way the
//! official x402 SDK (PyPI `x402` 2.25) reads them.
//!
//! The payer signs, in Permit2's own EIP-712 domain `{name: "Permit2",
//! chainId, verifyingContract: Permit2}` (no `version`), a
//! `PermitWitnessTransferFrom` whose spender is one of the two x402 proxies
//! and whose witness is `Witness(address to,uint256 validAfter)` (`exact`:
//! the proxy moves exactly `permitted.amount`) or `Witness(address
//! to,address facilitator,uint256 validAfter)` (`upto`: `permitted.amount`
//! is a ceiling; the facilitator named in the witness settles any amount up
//! to it). Permit2, the proxies and their addresses are the same on every
//! EVM chain (CREATE2 deployments).
//!
//! Field syntax. The SDK reads the payload's numbers with Python's `int()`
//! and its addresses with its `normalize_address` (an optional `0x`, 40 hex
//! digits in any case, the checksum not checked); a payment the SDK can
//! settle must be one this module can read. So: uint256 fields are decimal
//! strings (leading and trailing whitespace, one leading `+`, leading zeros
//! and single `_` between digits are accepted, as `int()` accepts them) or
//! JSON numbers (integers; a fraction is cut off, `true`/`false` are 1/0);
//! `int()`'s non-ASCII digits are not accepted here. The signature is hex
//! (an optional lower-case `0x`; whitespace between bytes, as Python's
//! `bytes.fromhex`).

use std::cell::Cell;

use serde_json::{json, Map, Value};

use super::address::Address;
use super::eip712::{eip712_digest, keccak256};
use super::error::{Result, X402Error};
use super::uint::U256;
use super::util::{hex0x, show, type_name};

/// Permit2, `0x000000000022D473030F116dDEE9F6B43aC78BA3` on every EVM chain:
/// the verifying contract of the signatures, and the contract whose
/// `nonceBitmap[owner]` holds the nonces.
pub const PERMIT2_ADDRESS: Address = Address::from_bytes([
    0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0xd4, 0x73, 0x03, 0x0f, 0x11, 0x6d, 0xde, 0xe9, 0xf6, 0xb4,
    0x3a, 0xc7, 0x8b, 0xa3,
]);

/// x402ExactPermit2Proxy, `0x402085c248EeA27D92E8b30b2C58ed07f9E20001`: the
/// spender of an `exact` Permit2 authorization.
pub const X402_EXACT_PERMIT2_PROXY: Address = Address::from_bytes([
    0x40, 0x20, 0x85, 0xc2, 0x48, 0xee, 0xa2, 0x7d, 0x92, 0xe8, 0xb3, 0x0b, 0x2c, 0x58, 0xed, 0x07,
    0xf9, 0xe2, 0x00, 0x01,
]);

/// x402UptoPermit2Proxy, `0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002`: the
/// spender of an `upto` authorization.
pub const X402_UPTO_PERMIT2_PROXY: Address = Address::from_bytes([
    0x40, 0x20, 0xa4, 0xf3, 0xb7, 0xb9, 0x0c, 0xca, 0x42, 0x3b, 0x9f, 0xab, 0xcc, 0x0c, 0xe5, 0x7c,
    0x6c, 0x24, 0x00, 0x02,
]);

/// Permit2's EIP-712 domain type (no `version`).
pub const PERMIT2_DOMAIN_TYPE: &str =
    "EIP712Domain(string name,uint256 chainId,address verifyingContract)";

/// The `exact` primary type as hashed (referenced types appended, sorted).
pub const PERMIT2_EXACT_TYPE: &str = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)";

/// The `upto` primary type as hashed.
pub const PERMIT2_UPTO_TYPE: &str = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)";

/// `TokenPermissions`.
pub const TOKEN_PERMISSIONS_TYPE: &str = "TokenPermissions(address token,uint256 amount)";

/// The `exact` witness.
pub const WITNESS_EXACT_TYPE: &str = "Witness(address to,uint256 validAfter)";

/// The `upto` witness.
pub const WITNESS_UPTO_TYPE: &str = "Witness(address to,address facilitator,uint256 validAfter)";

// keccak256 of the type strings above and of "Permit2" (checked in the tests).
const DOMAIN_TYPEHASH: [u8; 32] = [
    0x8c, 0xad, 0x95, 0x68, 0x7b, 0xa8, 0x2c, 0x2c, 0xe5, 0x0e, 0x74, 0xf7, 0xb7, 0x54, 0x64, 0x5e,
    0x51, 0x17, 0xc3, 0xa5, 0xbe, 0xc8, 0x15, 0x1c, 0x07, 0x26, 0xd5, 0x85, 0x79, 0x80, 0xa8, 0x66,
];
const NAME_HASH: [u8; 32] = [
    0x9a, 0xc9, 0x97, 0x41, 0x6e, 0x8f, 0xf9, 0xd2, 0xff, 0x6b, 0xeb, 0xeb, 0x71, 0x49, 0xf6, 0x5c,
    0xda, 0xe5, 0xe3, 0x2e, 0x2b, 0x90, 0x44, 0x0b, 0x56, 0x6b, 0xb3, 0x04, 0x40, 0x41, 0xd3, 0x6a,
];
const EXACT_TYPEHASH: [u8; 32] = [
    0xeb, 0xc1, 0x56, 0xcd, 0x23, 0x67, 0x8a, 0x74, 0xc9, 0x4d, 0xf1, 0x3d, 0x77, 0x2e, 0xf5, 0x47,
    0x84, 0x20, 0x63, 0x7f, 0x0c, 0x94, 0xbd, 0x10, 0xd5, 0x09, 0xe1, 0xdc, 0x98, 0xf5, 0x21, 0xc7,
];
const UPTO_TYPEHASH: [u8; 32] = [
    0x51, 0xdf, 0xf6, 0x97, 0x4a, 0xd4, 0x38, 0x8c, 0x49, 0x9e, 0x7f, 0xcf, 0xe8, 0x38, 0xd2, 0xbd,
    0x76, 0x71, 0x62, 0x55, 0x3a, 0x14, 0x40, 0x98, 0xce, 0x20, 0xea, 0x66, 0x1d, 0x70, 0xc2, 0xee,
];
const TOKEN_PERMISSIONS_TYPEHASH: [u8; 32] = [
    0x61, 0x83, 0x58, 0xac, 0x3d, 0xb8, 0xdc, 0x27, 0x4f, 0x0c, 0xd8, 0x82, 0x9d, 0xa7, 0xe2, 0x34,
    0xbd, 0x48, 0xcd, 0x73, 0xc4, 0xa7, 0x40, 0xae, 0xde, 0x1a, 0xde, 0xc9, 0x84, 0x6d, 0x06, 0xa1,
];
const WITNESS_EXACT_TYPEHASH: [u8; 32] = [
    0xd9, 0x7b, 0x32, 0x39, 0xa7, 0xf3, 0x22, 0x95, 0x51, 0x7b, 0xd1, 0x4c, 0xb0, 0x74, 0xed, 0xfd,
    0xd1, 0x88, 0xdf, 0xe5, 0xeb, 0x42, 0xf8, 0x02, 0xbb, 0x26, 0xd4, 0xfd, 0x1e, 0xb1, 0x2c, 0x37,
];
const WITNESS_UPTO_TYPEHASH: [u8; 32] = [
    0xd4, 0x17, 0x1c, 0x44, 0x5a, 0x74, 0x21, 0x8b, 0x01, 0xd4, 0xfd, 0x8a, 0xf3, 0x4f, 0xf1, 0x10,
    0x65, 0x80, 0xea, 0x1e, 0x36, 0xff, 0x83, 0x7e, 0x64, 0x48, 0x4b, 0xfa, 0xa2, 0x25, 0x3b, 0x75,
];

/// Permit2's domain separator on `chain_id`:
/// `hashStruct(EIP712Domain{name: "Permit2", chainId, verifyingContract:
/// PERMIT2_ADDRESS})`, the value Permit2's `DOMAIN_SEPARATOR()` returns there
/// (chain 1: `0x866a5aba…3f28`). The last chain's separator is remembered per
/// thread.
pub fn permit2_domain_separator(chain_id: u64) -> [u8; 32] {
    thread_local! {
        static LAST: Cell<Option<(u64, [u8; 32])>> = const { Cell::new(None) };
    }
    if let Some((id, sep)) = LAST.get() {
        if id == chain_id {
            return sep;
        }
    }
    let mut enc = Vec::with_capacity(4 * 32);
    enc.extend_from_slice(&DOMAIN_TYPEHASH);
    enc.extend_from_slice(&NAME_HASH);
    enc.extend_from_slice(&U256::from(chain_id).to_be_bytes());
    enc.extend_from_slice(&PERMIT2_ADDRESS.to_word());
    let sep = keccak256(&enc);
    LAST.set(Some((chain_id, sep)));
    sep
}

/// A Permit2 `PermitWitnessTransferFrom` with the x402 witness: the payload's
/// `permit2Authorization`, normalized. `facilitator` is `Some` for `upto`
/// (its witness names the facilitator), `None` for `exact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit2Authorization {
    /// `from`: the owner of the tokens, who signs.
    pub from: Address,
    /// `permitted.token`: the token.
    pub token: Address,
    /// `permitted.amount`: exact: what moves; upto: the most that may move.
    pub amount: U256,
    /// `spender`: the x402 proxy that may call Permit2 with this permit.
    pub spender: Address,
    /// `nonce`: Permit2's unordered nonce (word `nonce >> 8`, bit `nonce & 0xff`
    /// of `nonceBitmap[from]`).
    pub nonce: U256,
    /// `deadline`: unix seconds; Permit2 refuses the permit after it.
    pub deadline: U256,
    /// `witness.to`: the recipient.
    pub to: Address,
    /// `witness.facilitator` (upto only): who may settle.
    pub facilitator: Option<Address>,
    /// `witness.validAfter`: unix seconds; the proxy refuses the permit before it.
    pub valid_after: U256,
}

impl Permit2Authorization {
    /// Parses a `permit2Authorization` object (`path` names it in messages);
    /// `upto` reads the witness's `facilitator` (required), `exact` ignores
    /// it as the SDK does. Field syntax: see the module documentation.
    pub fn from_json(value: &Value, upto: bool, path: &str) -> Result<Self> {
        let obj = value.as_object().ok_or_else(|| {
            X402Error::malformed(format!(
                "{path} must be a JSON object, got {}",
                type_name(value)
            ))
        })?;
        let permitted = sub_object(obj, path, "permitted")?;
        let witness = sub_object(obj, path, "witness")?;
        let permitted_path = format!("{path}.permitted");
        let witness_path = format!("{path}.witness");
        let facilitator = if upto {
            Some(address_field(witness, &witness_path, "facilitator")?)
        } else {
            None
        };
        Ok(Permit2Authorization {
            from: address_field(obj, path, "from")?,
            token: address_field(permitted, &permitted_path, "token")?,
            amount: uint_field(permitted, &permitted_path, "amount")?,
            spender: address_field(obj, path, "spender")?,
            nonce: uint_field(obj, path, "nonce")?,
            deadline: uint_field(obj, path, "deadline")?,
            to: address_field(witness, &witness_path, "to")?,
            facilitator,
            valid_after: uint_field(witness, &witness_path, "validAfter")?,
        })
    }

    /// Whether this is an `upto` authorization (its witness names a facilitator).
    pub fn is_upto(&self) -> bool {
        self.facilitator.is_some()
    }

    /// The x402 proxy this kind of authorization must name as spender.
    pub fn expected_spender(&self) -> Address {
        if self.is_upto() {
            X402_UPTO_PERMIT2_PROXY
        } else {
            X402_EXACT_PERMIT2_PROXY
        }
    }

    /// `hashStruct(Witness)`.
    pub fn witness_hash(&self) -> [u8; 32] {
        let mut enc = Vec::with_capacity(4 * 32);
        match &self.facilitator {
            Some(f) => {
                enc.extend_from_slice(&WITNESS_UPTO_TYPEHASH);
                enc.extend_from_slice(&self.to.to_word());
                enc.extend_from_slice(&f.to_word());
            }
            None => {
                enc.extend_from_slice(&WITNESS_EXACT_TYPEHASH);
                enc.extend_from_slice(&self.to.to_word());
            }
        }
        enc.extend_from_slice(&self.valid_after.to_be_bytes());
        keccak256(&enc)
    }

    /// `hashStruct(PermitWitnessTransferFrom)`: what Permit2's
    /// `PermitHash.hashWithWitness` computes with the proxy's witness type.
    pub fn struct_hash(&self) -> [u8; 32] {
        let mut permitted = Vec::with_capacity(3 * 32);
        permitted.extend_from_slice(&TOKEN_PERMISSIONS_TYPEHASH);
        permitted.extend_from_slice(&self.token.to_word());
        permitted.extend_from_slice(&self.amount.to_be_bytes());
        let mut enc = Vec::with_capacity(6 * 32);
        enc.extend_from_slice(if self.is_upto() {
            &UPTO_TYPEHASH
        } else {
            &EXACT_TYPEHASH
        });
        enc.extend_from_slice(&keccak256(&permitted));
        enc.extend_from_slice(&self.spender.to_word());
        enc.extend_from_slice(&self.nonce.to_be_bytes());
        enc.extend_from_slice(&self.deadline.to_be_bytes());
        enc.extend_from_slice(&self.witness_hash());
        keccak256(&enc)
    }

    /// The EIP-712 digest the payer signs on `chain_id`.
    pub fn digest(&self, chain_id: u64) -> [u8; 32] {
        eip712_digest(&permit2_domain_separator(chain_id), &self.struct_hash())
    }

    /// The normalized JSON form (as the SDK's client writes it: addresses
    /// checksummed, numbers decimal strings).
    pub fn to_json(&self) -> Value {
        let mut witness = Map::new();
        witness.insert("to".into(), json!(self.to.to_checksum()));
        if let Some(f) = &self.facilitator {
            witness.insert("facilitator".into(), json!(f.to_checksum()));
        }
        witness.insert(
            "validAfter".into(),
            json!(self.valid_after.to_decimal_string()),
        );
        json!({
            "from": self.from.to_checksum(),
            "permitted": {"token": self.token.to_checksum(), "amount": self.amount.to_decimal_string()},
            "spender": self.spender.to_checksum(),
            "nonce": self.nonce.to_decimal_string(),
            "deadline": self.deadline.to_decimal_string(),
            "witness": witness,
        })
    }
}

fn sub_object<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a Map<String, Value>> {
    match obj.get(key) {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(X402Error::malformed(format!("{path}.{key} is missing"))),
        Some(other) => Err(X402Error::malformed(format!(
            "{path}.{key} must be an object, got {}",
            type_name(other)
        ))),
    }
}

fn address_field(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Address> {
    let v = obj.get(key);
    sdk_address(v).ok_or_else(|| {
        X402Error::malformed(format!(
            "{path}.{key} is {}, not an address (0x and 40 hex digits)",
            describe(v)
        ))
    })
}

fn uint_field(obj: &Map<String, Value>, path: &str, key: &str) -> Result<U256> {
    if matches!(obj.get(key), None | Some(Value::Null)) {
        return Err(X402Error::malformed(format!("{path}.{key} is missing")));
    }
    match sdk_int(obj.get(key)) {
        Ok(SdkInt::Uint(u)) => Ok(u),
        Ok(SdkInt::Negative(_)) => Err(X402Error::malformed(format!(
            "{path}.{key} is {}: negative, not a uint256",
            describe(obj.get(key))
        ))),
        Ok(SdkInt::TooBig(_)) => Err(X402Error::out_of_range(format!(
            "{path}.{key} is {}: above 2^256-1",
            describe(obj.get(key))
        ))),
        Err(e) => Err(e.context(&format!("{path}.{key}"))),
    }
}

/// A JSON value for a message: its text, cut short, or "missing".
pub(crate) fn describe(v: Option<&Value>) -> String {
    match v {
        None => "missing".to_owned(),
        Some(Value::String(s)) => format!("\"{}\"", show(s)),
        Some(other) => show(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------
// the SDK's field syntax

/// An address as the SDK's `normalize_address` reads it: a string, an
/// optional `0x`/`0X`, exactly 40 hex digits in any case (the EIP-55
/// checksum is not checked). `None` for anything else.
pub(crate) fn sdk_address(v: Option<&Value>) -> Option<Address> {
    let s = v?.as_str()?;
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes = hex::decode(digits).ok()?;
    <[u8; 20]>::try_from(bytes.as_slice())
        .ok()
        .map(Address::from_bytes)
}

/// What Python's `int()` makes of a JSON value, as far as the SDK's checks
/// tell the difference: a uint256, or a whole number outside it (its
/// canonical decimal text, so that equal numbers compare equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SdkInt {
    Uint(U256),
    /// Below zero; the text is the magnitude.
    Negative(String),
    /// Above 2^256 - 1; the text is the value.
    TooBig(String),
}

impl SdkInt {
    /// `self < t` for a non-negative `t`.
    pub(crate) fn below(&self, t: i128) -> bool {
        match self {
            SdkInt::Negative(_) => true,
            SdkInt::TooBig(_) => false,
            SdkInt::Uint(u) => u128::try_from(t).is_ok_and(|t| *u < U256::from(t)),
        }
    }

    /// `self > t`.
    pub(crate) fn above(&self, t: i128) -> bool {
        match self {
            SdkInt::Negative(_) => false,
            SdkInt::TooBig(_) => true,
            SdkInt::Uint(u) => u128::try_from(t).map_or(true, |t| *u > U256::from(t)),
        }
    }

    pub(crate) fn uint(&self) -> Option<U256> {
        match self {
            SdkInt::Uint(u) => Some(*u),
            _ => None,
        }
    }
}

impl std::fmt::Display for SdkInt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SdkInt::Uint(u) => write!(f, "{u}"),
            SdkInt::Negative(m) => write!(f, "-{m}"),
            SdkInt::TooBig(t) => f.write_str(t),
        }
    }
}

/// Python's `int()` of a JSON value (see the module documentation); an error
/// where `int()` raises (a missing field is `int("")`, null `int(None)`).
pub(crate) fn sdk_int(v: Option<&Value>) -> Result<SdkInt> {
    match v {
        None => Err(X402Error::malformed("is missing")),
        Some(Value::String(s)) => python_int(s),
        Some(Value::Bool(b)) => Ok(SdkInt::Uint(U256::from(u64::from(*b)))),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(SdkInt::Uint(U256::from(u)))
            } else if let Some(i) = n.as_i64() {
                Ok(SdkInt::Negative(i.unsigned_abs().to_string()))
            } else {
                n.as_f64().map_or_else(
                    || {
                        Err(X402Error::malformed(format!(
                            "number {n} is not a finite number"
                        )))
                    },
                    float_int,
                )
            }
        }
        Some(other) => Err(X402Error::malformed(format!(
            "must be a decimal string, got {}",
            type_name(other)
        ))),
    }
}

/// Python's `int(str)`: surrounding whitespace, one optional sign, ASCII
/// digits with single underscores between them.
fn python_int(s: &str) -> Result<SdkInt> {
    let bad = || {
        X402Error::malformed(format!(
            "\"{}\" is not a decimal integer (only digits, as Python's int() reads them)",
            show(s)
        ))
    };
    let t = s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let well_formed = body.starts_with(|c: char| c.is_ascii_digit())
        && body.ends_with(|c: char| c.is_ascii_digit())
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && !body.contains("__");
    if !well_formed {
        return Err(bad());
    }
    let digits: String = body.chars().filter(|c| *c != '_').collect();
    let canonical = match digits.trim_start_matches('0') {
        "" => "0".to_owned(),
        d => d.to_owned(),
    };
    match U256::parse_decimal(&canonical) {
        Ok(u) if u.is_zero() => Ok(SdkInt::Uint(u)),
        Ok(_) if negative => Ok(SdkInt::Negative(canonical)),
        Ok(u) => Ok(SdkInt::Uint(u)),
        Err(_) if negative => Ok(SdkInt::Negative(canonical)),
        Err(_) => Ok(SdkInt::TooBig(canonical)),
    }
}

/// Python's `int()` of a float: truncated toward zero, exactly.
fn float_int(f: f64) -> Result<SdkInt> {
    if !f.is_finite() {
        return Err(X402Error::malformed(format!("{f} is not a finite number")));
    }
    let t = f.trunc();
    if t == 0.0 {
        return Ok(SdkInt::Uint(U256::ZERO));
    }
    let magnitude = t.abs();
    if magnitude >= 2f64.powi(256) {
        let text = format!("{magnitude:e}");
        return Ok(if t < 0.0 {
            SdkInt::Negative(text)
        } else {
            SdkInt::TooBig(text)
        });
    }
    // magnitude = mantissa * 2^exp exactly (a normal number >= 1).
    let bits = magnitude.to_bits();
    let exp = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0) - 1075;
    let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let value = if exp <= 0 {
        U256::from(mantissa >> exp.unsigned_abs().min(63))
    } else {
        let shift = usize::try_from(exp).unwrap_or(0);
        let wide = u128::from(mantissa) << (shift % 8);
        let mut out = [0u8; 32];
        for (dst, src) in out.iter_mut().rev().skip(shift / 8).zip(wide.to_le_bytes()) {
            *dst = src;
        }
        U256::from_be_bytes(out)
    };
    Ok(if t < 0.0 {
        SdkInt::Negative(value.to_decimal_string())
    } else {
        SdkInt::Uint(value)
    })
}

/// A signature as the SDK decodes it: `bytes.fromhex(text.removeprefix("0x"))`
/// (hex digits in any case, ASCII whitespace allowed between bytes). Any
/// length; the caller checks it.
pub(crate) fn sdk_signature_bytes(text: &str) -> Result<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut out = Vec::with_capacity(digits.len() / 2);
    let mut pending: Option<u8> = None;
    for c in digits.chars() {
        let nibble = c.to_digit(16).and_then(|d| u8::try_from(d).ok());
        match (nibble, pending) {
            (Some(lo), Some(hi)) => {
                out.push((hi << 4) | lo);
                pending = None;
            }
            (Some(hi), None) => pending = Some(hi),
            (None, None) if matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c') => {}
            _ => {
                return Err(X402Error::malformed(format!(
                    "signature {} is not hex (character {c:?})",
                    show(text)
                )))
            }
        }
    }
    if pending.is_some() {
        return Err(X402Error::malformed(format!(
            "signature {} has an odd number of hex digits",
            show(text)
        )));
    }
    Ok(out)
}

/// `0x` + 64 hex digits of a Permit2 nonce.
pub fn permit2_nonce_hex(nonce: &U256) -> String {
    hex0x(&nonce.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_hashes_and_addresses() {
        assert_eq!(DOMAIN_TYPEHASH, keccak256(PERMIT2_DOMAIN_TYPE.as_bytes()));
        assert_eq!(NAME_HASH, keccak256(b"Permit2"));
        assert_eq!(EXACT_TYPEHASH, keccak256(PERMIT2_EXACT_TYPE.as_bytes()));
        assert_eq!(UPTO_TYPEHASH, keccak256(PERMIT2_UPTO_TYPE.as_bytes()));
        assert_eq!(
            TOKEN_PERMISSIONS_TYPEHASH,
            keccak256(TOKEN_PERMISSIONS_TYPE.as_bytes())
        );
        assert_eq!(
            WITNESS_EXACT_TYPEHASH,
            keccak256(WITNESS_EXACT_TYPE.as_bytes())
        );
        assert_eq!(
            WITNESS_UPTO_TYPEHASH,
            keccak256(WITNESS_UPTO_TYPE.as_bytes())
        );
        // The primary types are their own string followed by the referenced ones, sorted.
        assert!(
            PERMIT2_EXACT_TYPE.ends_with(&format!("{TOKEN_PERMISSIONS_TYPE}{WITNESS_EXACT_TYPE}"))
        );
        assert!(
            PERMIT2_UPTO_TYPE.ends_with(&format!("{TOKEN_PERMISSIONS_TYPE}{WITNESS_UPTO_TYPE}"))
        );
        assert_eq!(
            PERMIT2_ADDRESS.to_checksum(),
            "0x000000000022D473030F116dDEE9F6B43aC78BA3"
        );
        assert_eq!(
            X402_EXACT_PERMIT2_PROXY.to_checksum(),
            "0x402085c248EeA27D92E8b30b2C58ed07f9E20001"
        );
        assert_eq!(
            X402_UPTO_PERMIT2_PROXY.to_checksum(),
            "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"
        );
    }

    #[test]
    fn domain_separators_are_permit2s() {
        // Chains 1 and 8453: the DOMAIN_SEPARATOR() of the deployed Permit2.
        for (chain, sep) in [
            (
                1u64,
                "866a5aba21966af95d6c7ab78eb2b2fc913915c28be3b9aa07cc04ff903e3f28",
            ),
            (
                8453,
                "3b6f35e4fce979ef8eac3bcdc8c3fc38fe7911bb0c69c8fe72bf1fd1a17e6f07",
            ),
            (
                84532,
                "010f27a92fb9a32622f44f001dc4d15706a85b33499cfc2ce9033113ab26592c",
            ),
            (
                1,
                "866a5aba21966af95d6c7ab78eb2b2fc913915c28be3b9aa07cc04ff903e3f28",
            ),
        ] {
            assert_eq!(hex::encode(permit2_domain_separator(chain)), sep);
        }
    }

    #[test]
    fn python_int_syntax() {
        let u = |s: &str| python_int(s).unwrap().uint().unwrap().to_decimal_string();
        assert_eq!(u("10000"), "10000");
        assert_eq!(u("10_000"), "10000");
        assert_eq!(u(" +0010000\n"), "10000");
        assert_eq!(u("-0"), "0");
        assert_eq!(u("\u{a0}7\u{1f}"), "7");
        for bad in [
            "", " ", "+", "-", "_1", "1_", "1__0", "0x10", "1e3", "1.0", "- 1", "++1", "１",
        ] {
            assert!(python_int(bad).is_err(), "{bad:?}");
        }
        assert_eq!(python_int("-5").unwrap(), SdkInt::Negative("5".into()));
        assert_eq!(python_int("-0005").unwrap(), python_int("-5").unwrap());
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert_eq!(python_int(big).unwrap(), SdkInt::TooBig(big.into()));
        assert_eq!(
            python_int(&format!("+0{big}")).unwrap(),
            python_int(big).unwrap()
        );
        assert!(python_int("-5").unwrap().below(0));
        assert!(python_int(big).unwrap().above(i128::MAX));
    }

    #[test]
    fn json_numbers_as_python_reads_them() {
        let i = |v: Value| sdk_int(Some(&v)).unwrap();
        assert_eq!(i(json!(10000)), SdkInt::Uint(U256::from(10000u64)));
        assert_eq!(i(json!(-3)), SdkInt::Negative("3".into()));
        assert_eq!(i(json!(true)), SdkInt::Uint(U256::from(1u64)));
        assert_eq!(i(json!(1.9)), SdkInt::Uint(U256::from(1u64)));
        assert_eq!(i(json!(-0.5)), SdkInt::Uint(U256::ZERO));
        assert_eq!(i(json!(-2.5)), SdkInt::Negative("2".into()));
        assert_eq!(
            i(json!(1763800300.0)),
            SdkInt::Uint(U256::from(1763800300u64))
        );
        // 2^70 and 1.5e30 exactly, as Python's int(float) gives them.
        assert_eq!(
            i(json!(1180591620717411303424.0))
                .uint()
                .unwrap()
                .to_decimal_string(),
            "1180591620717411303424"
        );
        assert_eq!(
            i(json!(1.5e30)).uint().unwrap().to_decimal_string(),
            "1499999999999999889089448902656"
        );
        assert!(matches!(i(json!(1e300)), SdkInt::TooBig(_)));
        assert!(sdk_int(None).is_err());
        assert!(sdk_int(Some(&Value::Null)).is_err());
        assert!(sdk_int(Some(&json!([1]))).is_err());
    }

    #[test]
    fn addresses_and_signatures_as_the_sdk_reads_them() {
        let a = |s: &str| sdk_address(Some(&json!(s)));
        let want = Some(X402_EXACT_PERMIT2_PROXY);
        assert_eq!(a("0x402085c248EeA27D92E8b30b2C58ed07f9E20001"), want);
        assert_eq!(a("0x402085c248eea27d92e8b30b2c58ed07f9e20001"), want);
        assert_eq!(a("0X402085C248EEA27D92E8B30B2C58ED07F9E20001"), want);
        assert_eq!(a("402085c248EeA27D92E8b30b2C58ed07f9E20001"), want);
        // a wrong checksum is not checked
        assert_eq!(a("0x402085C248EeA27D92E8b30b2C58ed07f9E20001"), want);
        for bad in [
            "",
            "0x",
            "0x402085c248EeA27D92E8b30b2C58ed07f9E2000",
            "0x402085c248EeA27D92E8b30b2C58ed07f9E200011",
            "0x402085c248EeA27D92E8b30b2C58ed07f9E2000g",
            "0x0x02085c248EeA27D92E8b30b2C58ed07f9E20001",
        ] {
            assert_eq!(a(bad), None, "{bad}");
        }
        assert_eq!(sdk_address(Some(&json!(5))), None);
        assert_eq!(sdk_address(None), None);

        assert_eq!(sdk_signature_bytes("0x0aBc").unwrap(), vec![0x0a, 0xbc]);
        assert_eq!(sdk_signature_bytes("0abc").unwrap(), vec![0x0a, 0xbc]);
        assert_eq!(sdk_signature_bytes("0x0a bc\n").unwrap(), vec![0x0a, 0xbc]);
        assert_eq!(sdk_signature_bytes("").unwrap(), Vec::<u8>::new());
        for bad in ["0X0abc", "0x0a b", "0x0 abc", "0xzz", "0x0ab"] {
            assert!(sdk_signature_bytes(bad).is_err(), "{bad}");
        }
    }
}
