//! The EIP-3009 authorization carried in `payload.authorization`.

use serde_json::{json, Map, Value};

use super::address::Address;
use super::eip712::transfer_with_authorization_hash;
use super::error::Result;
use super::uint::U256;
use super::util::{as_obj, field, hex0x, parse_bytes32, req_str};
use super::X402Error;

/// A parsed, normalized EIP-3009 `TransferWithAuthorization` message.
///
/// `Display` of the field types gives the normalized text forms: addresses
/// EIP-55 checksummed, uint256 values in decimal; [`Authorization::nonce_hex`]
/// gives the nonce as lowercase `0x` hex, and [`Authorization::to_json`] all
/// of them as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The payer (who signs).
    pub from: Address,
    /// The recipient (must equal the requirements' `payTo`).
    pub to: Address,
    /// The amount in the token's smallest unit.
    pub value: U256,
    /// Unix seconds; valid when `now >= validAfter`.
    pub valid_after: U256,
    /// Unix seconds; valid when `now < validBefore`.
    pub valid_before: U256,
    /// The 32-byte EIP-3009 nonce (single use per payer and token).
    pub nonce: [u8; 32],
}

impl Authorization {
    /// Parses an authorization object `{from, to, value, validAfter,
    /// validBefore, nonce}`; `path` names it in error messages (e.g.
    /// `paymentPayload.payload.authorization`).
    ///
    /// uint256 fields are decimal strings (JSON integers are tolerated);
    /// the nonce is `0x` + 64 hex digits.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let obj = as_obj(value, path)?;
        Self::from_map(obj, path)
    }

    pub(crate) fn from_map(obj: &Map<String, Value>, path: &str) -> Result<Self> {
        let address = |key: &str| -> Result<Address> {
            Address::parse(req_str(obj, path, key)?)
                .map_err(|e| e.context(&format!("{path}.{key}")))
        };
        let uint = |key: &str| -> Result<U256> {
            let v = field(obj, key)
                .ok_or_else(|| X402Error::malformed(format!("{path}.{key} is missing")))?;
            U256::from_json(v).map_err(|e| e.context(&format!("{path}.{key}")))
        };
        Ok(Authorization {
            from: address("from")?,
            to: address("to")?,
            value: uint("value")?,
            valid_after: uint("validAfter")?,
            valid_before: uint("validBefore")?,
            nonce: parse_bytes32(req_str(obj, path, "nonce")?)
                .map_err(|e| e.context(&format!("{path}.nonce")))?,
        })
    }

    /// The nonce as `0x` + 64 lowercase hex digits.
    pub fn nonce_hex(&self) -> String {
        hex0x(&self.nonce)
    }

    /// `hashStruct(TransferWithAuthorization)` of this authorization.
    pub fn struct_hash(&self) -> [u8; 32] {
        transfer_with_authorization_hash(self)
    }

    /// The normalized JSON form: `{"from", "to"}` checksummed, `{"value",
    /// "validAfter", "validBefore"}` decimal strings, `"nonce"` lowercase hex.
    pub fn to_json(&self) -> Value {
        json!({
            "from": self.from.to_checksum(),
            "to": self.to.to_checksum(),
            "value": self.value.to_decimal_string(),
            "validAfter": self.valid_after.to_decimal_string(),
            "validBefore": self.valid_before.to_decimal_string(),
            "nonce": self.nonce_hex(),
        })
    }
}
