//! What a payment authorizes: the facts of an x402 payment, derived once
//! from its payload and requirements, typed, for every kind the core knows
//! (`exact` through EIP-3009 `transferWithAuthorization`, `exact` through
//! Permit2, `upto` through Permit2). The journal keys, compares and records
//! these; [`verify_payment`](super::verify_payment) decides whether to
//! accept them.

use std::fmt;

use serde_json::{json, Map, Value};

use super::address::Address;
use super::error::{Result, X402Error};
use super::network::caip2;
use super::payment::{
    extract_authorization, payload_view, read_network, requirements_object, PaymentRequirements,
    ACCEPTED, PAYLOAD,
};
use super::permit2::{sdk_signature_bytes, Permit2Authorization, PERMIT2_ADDRESS};
use super::signature::{parse_signature, recover_signer, recover_signer_any_s};
use super::uint::U256;
use super::util::{field, hex0x, req_obj, req_str, show, to_array, type_name};

/// An x402 payment scheme the core implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `exact`: the signed amount is what moves.
    Exact,
    /// `upto` (Permit2 only): the signed amount is a ceiling; the settlement
    /// moves any amount up to it.
    Upto,
}

impl Scheme {
    /// `exact` / `upto`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Exact => "exact",
            Scheme::Upto => "upto",
        }
    }

    /// The scheme named `s`, or `None` for a scheme the core does not implement.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(Scheme::Exact),
            "upto" => Some(Scheme::Upto),
            _ => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the tokens move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferMethod {
    /// EIP-3009 `transferWithAuthorization` on the token itself (the nonce
    /// is the token's `authorizationState(payer, nonce)`).
    Eip3009,
    /// Permit2 `permitWitnessTransferFrom` through an x402 proxy (the nonce
    /// is Permit2's `nonceBitmap[payer]`, shared by every token and spender).
    Permit2,
}

impl TransferMethod {
    /// `eip3009` / `permit2` (the SDK's `assetTransferMethod` names).
    pub const fn as_str(self) -> &'static str {
        match self {
            TransferMethod::Eip3009 => "eip3009",
            TransferMethod::Permit2 => "permit2",
        }
    }
}

impl fmt::Display for TransferMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What identifies one authorization on chain, whatever it pays for: the
/// contract whose state marks the nonce used (`scope`), on its chain, the
/// payer and the 32-byte nonce. An authorization settles at most once per
/// key; two payments with the same key exclude each other.
///
/// * EIP-3009: `scope` is the token (`authorizationState(payer, nonce)`
///   lives in each token), so the key is (chain, token, payer, nonce).
/// * Permit2: `scope` is Permit2 itself (`nonceBitmap[payer]`, whatever the
///   token, spender or scheme), so the key is (chain, Permit2, payer, nonce):
///   an `exact` and an `upto` payment, or payments in two tokens, with the
///   same payer and nonce exclude each other.
///
/// The two nonce spaces never meet: no token is Permit2, so `scope` tells
/// them apart (`transfer_method` says so explicitly).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonceKey {
    /// Which nonce space.
    pub transfer_method: TransferMethod,
    /// The chain id.
    pub chain_id: u64,
    /// The contract holding the nonce state: the token (EIP-3009) or
    /// [`PERMIT2_ADDRESS`] (Permit2).
    pub scope: Address,
    /// The payer (EIP-3009 `authorization.from`, Permit2 `from`).
    pub payer: Address,
    /// The nonce: EIP-3009's bytes32, or Permit2's uint256 as 32 big-endian bytes.
    pub nonce: [u8; 32],
}

impl NonceKey {
    /// The nonce as `0x` + 64 lowercase hex digits.
    pub fn nonce_hex(&self) -> String {
        hex0x(&self.nonce)
    }

    /// The network as CAIP-2 (`eip155:<chain id>`).
    pub fn network(&self) -> String {
        caip2(self.chain_id)
    }
}

/// What a payment authorizes, derived from the signed message (the
/// requirements supply only what the signature does not carry itself: the
/// chain, and for EIP-3009 the token, which is its EIP-712 domain's
/// verifying contract).
///
/// Nothing here says the payment is valid ([`verify_payment`](super::verify_payment)
/// does): these are the facts a payment claims, for keying, comparing and
/// recording it. [`AuthorizedPayment::signer`] recovers who signed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedPayment {
    /// 1 or 2 (Permit2 and `upto` exist in x402 v2 only).
    pub x402_version: u8,
    /// `exact` or `upto` (the payload's: v2 `accepted.scheme`, v1 `scheme`).
    pub scheme: Scheme,
    /// EIP-3009 or Permit2, from the payload's shape (as the SDK routes it).
    pub transfer_method: TransferMethod,
    /// The chain id of the requirements' `network`.
    pub chain_id: u64,
    /// The token: EIP-3009 the requirements' `asset` (the domain's verifying
    /// contract); Permit2 the signed `permitted.token`.
    pub asset: Address,
    /// The recipient: EIP-3009 `authorization.to`; Permit2 `witness.to`.
    pub pay_to: Address,
    /// Who the payment says pays: EIP-3009 `authorization.from`; Permit2
    /// `from`. Not checked against the signature here (see [`Self::signer`]).
    pub payer: Address,
    /// The signed amount: for `exact` what moves, for `upto` the ceiling (the
    /// settlement moves at most this; see [`Self::exact_amount`],
    /// [`Self::ceiling`] and [`Self::admits`]).
    pub amount: U256,
    /// Unix seconds: EIP-3009 `validAfter`; Permit2 `witness.validAfter`.
    pub valid_after: U256,
    /// Unix seconds: EIP-3009 `validBefore` (the token accepts while `now <
    /// validBefore`); Permit2 `deadline` (Permit2 accepts while `now <=
    /// deadline`). [`Self::settleable_at`] applies the right comparison.
    pub valid_before: U256,
    /// The nonce: EIP-3009's bytes32, Permit2's uint256 as 32 big-endian bytes.
    pub nonce: [u8; 32],
    /// Permit2 `spender` (the x402 proxy it names); `None` for EIP-3009.
    pub spender: Option<Address>,
    /// `upto`'s `witness.facilitator`; `None` otherwise.
    pub facilitator: Option<Address>,
    /// The payload's `extensions["payment-identifier"].info.id`, when present
    /// (validated: 16 to 128 of `[A-Za-z0-9_-]`).
    pub payment_id: Option<String>,
    /// The EIP-712 digest the payer signed.
    pub digest: [u8; 32],
    signature: String,
}

impl AuthorizedPayment {
    /// The network as CAIP-2 (`eip155:<chain id>`).
    pub fn network(&self) -> String {
        caip2(self.chain_id)
    }

    /// The nonce as `0x` + 64 lowercase hex digits.
    pub fn nonce_hex(&self) -> String {
        hex0x(&self.nonce)
    }

    /// The contract whose state marks this nonce used: the token (EIP-3009)
    /// or Permit2.
    pub fn nonce_scope(&self) -> Address {
        match self.transfer_method {
            TransferMethod::Eip3009 => self.asset,
            TransferMethod::Permit2 => PERMIT2_ADDRESS,
        }
    }

    /// The authorization's key in its nonce space (see [`NonceKey`]).
    pub fn nonce_key(&self) -> NonceKey {
        NonceKey {
            transfer_method: self.transfer_method,
            chain_id: self.chain_id,
            scope: self.nonce_scope(),
            payer: self.payer,
            nonce: self.nonce,
        }
    }

    /// `exact`: the amount that moves; `None` for `upto`.
    pub fn exact_amount(&self) -> Option<U256> {
        (self.scheme == Scheme::Exact).then_some(self.amount)
    }

    /// `upto`: the most a settlement may move; `None` for `exact`.
    pub fn ceiling(&self) -> Option<U256> {
        (self.scheme == Scheme::Upto).then_some(self.amount)
    }

    /// Whether a settlement that moved `settled` is what this payment
    /// authorized: exactly the amount (`exact`), at most the ceiling (`upto`).
    pub fn admits(&self, settled: &U256) -> bool {
        match self.scheme {
            Scheme::Exact => *settled == self.amount,
            Scheme::Upto => *settled <= self.amount,
        }
    }

    /// Whether the chain would accept the authorization at unix time `now`
    /// (window only): EIP-3009 `validAfter < now < validBefore` (the token's
    /// rule); Permit2 `validAfter <= now <= deadline` (the proxy's and
    /// Permit2's rules).
    pub fn settleable_at(&self, now: u64) -> bool {
        let now = U256::from(now);
        match self.transfer_method {
            TransferMethod::Eip3009 => self.valid_after < now && now < self.valid_before,
            TransferMethod::Permit2 => self.valid_after <= now && now <= self.valid_before,
        }
    }

    /// Who signed [`Self::digest`]: the address the payload's signature
    /// recovers to. EIP-3009: 65 bytes of hex, `v` 27/28 or 0/1, low `s` (the
    /// token refuses high `s`). Permit2: the same, but a high `s` is accepted
    /// (Permit2 calls `ecrecover`, which accepts it). Errors
    /// ([`ErrorKind::Malformed`](super::ErrorKind::Malformed) or
    /// [`ErrorKind::InvalidSignature`](super::ErrorKind::InvalidSignature), 22023)
    /// name what is wrong. Compare with [`Self::payer`].
    pub fn signer(&self) -> Result<Address> {
        const PATH: &str = "paymentPayload.payload.signature";
        if self.signature.is_empty() {
            return Err(X402Error::malformed(format!("{PATH} is missing or empty")));
        }
        match self.transfer_method {
            TransferMethod::Eip3009 => {
                let sig = parse_signature(&self.signature).map_err(|e| e.context(PATH))?;
                recover_signer(&self.digest, &sig).map_err(|e| e.context(PATH))
            }
            TransferMethod::Permit2 => {
                let bytes = sdk_signature_bytes(&self.signature).map_err(|e| e.context(PATH))?;
                let sig = to_array::<65>(&bytes).ok_or_else(|| {
                    X402Error::malformed(format!(
                        "{PATH} has {} bytes, expected 65 (r || s || v)",
                        bytes.len()
                    ))
                })?;
                recover_signer_any_s(&self.digest, &sig).map_err(|e| e.context(PATH))
            }
        }
    }

    /// The facts as one JSON object (what `x402._authorization()` returns):
    /// `x402_version`, `scheme`, `transfer_method`, `network` (CAIP-2),
    /// `chain_id`, `asset`, `pay_to`, `payer` (checksummed), `amount` (exact)
    /// or `ceiling` (upto) as a decimal string and the other null,
    /// `valid_after`, `valid_before` (decimal strings), `nonce` (`0x` + 64
    /// hex), `nonce_scope` (the contract holding the nonce), `spender`,
    /// `facilitator` (checksummed or null), `payment_id` (or null), `digest`
    /// (`0x` + 64 hex).
    pub fn to_json(&self) -> Value {
        let address = |a: &Option<Address>| a.map(|a| a.to_checksum());
        json!({
            "x402_version": self.x402_version,
            "scheme": self.scheme.as_str(),
            "transfer_method": self.transfer_method.as_str(),
            "network": self.network(),
            "chain_id": self.chain_id,
            "asset": self.asset.to_checksum(),
            "pay_to": self.pay_to.to_checksum(),
            "payer": self.payer.to_checksum(),
            "amount": self.exact_amount().map(|a| a.to_decimal_string()),
            "ceiling": self.ceiling().map(|a| a.to_decimal_string()),
            "valid_after": self.valid_after.to_decimal_string(),
            "valid_before": self.valid_before.to_decimal_string(),
            "nonce": self.nonce_hex(),
            "nonce_scope": self.nonce_scope().to_checksum(),
            "spender": address(&self.spender),
            "facilitator": address(&self.facilitator),
            "payment_id": self.payment_id,
            "digest": hex0x(&self.digest),
        })
    }
}

/// The kind of a payment payload, as the official SDK's facilitator routes
/// it: version, scheme and transfer method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentKind {
    /// 1 or 2.
    pub x402_version: u8,
    /// v2 `accepted.scheme`, v1 `scheme`.
    pub scheme: Scheme,
    /// Permit2 when a v2 payload's `payload` has `permit2Authorization` (and
    /// always for `upto`), else EIP-3009.
    pub transfer_method: TransferMethod,
}

/// Reads a payload's [`PaymentKind`] without validating the rest.
///
/// Errors: an `x402Version` other than 1 or 2, or a scheme the core does not
/// implement (anything but `exact` and `upto`; `upto` in x402 v1, which has
/// none) are [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported)
/// (0A000); a payload without a readable version or scheme is
/// [`ErrorKind::Malformed`](super::ErrorKind::Malformed).
pub fn payment_kind(payload: &Value) -> Result<PaymentKind> {
    let view = payload_view(payload).map_err(|f| f.error)?;
    let (head, head_path) = view.head();
    let scheme = known_scheme(req_str(head, head_path, "scheme")?, head_path, view.version)?;
    let has_permit2 = field(view.obj, "payload")
        .and_then(Value::as_object)
        .is_some_and(|inner| inner.contains_key("permit2Authorization"));
    let transfer_method = if view.version == 2 && (scheme == Scheme::Upto || has_permit2) {
        TransferMethod::Permit2
    } else {
        TransferMethod::Eip3009
    };
    Ok(PaymentKind {
        x402_version: view.version,
        scheme,
        transfer_method,
    })
}

/// `scheme` (at `path`) as a [`Scheme`] for a payload of `version`:
/// unimplemented schemes (and `upto` in v1) are
/// [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported).
pub(crate) fn known_scheme(scheme: &str, path: &str, version: u8) -> Result<Scheme> {
    match Scheme::from_name(scheme) {
        Some(Scheme::Upto) if version == 1 => Err(X402Error::unsupported(format!(
            "{path}.scheme is \"upto\" in an x402Version 1 payment; upto exists in x402 v2 only"
        ))),
        Some(s) => Ok(s),
        None => Err(X402Error::unsupported(format!(
            "{path}.scheme is \"{}\"; the schemes implemented are \"exact\" and \"upto\"",
            show(scheme)
        ))),
    }
}

/// Key of the payment-identifier extension in a payload's `extensions`.
pub const PAYMENT_IDENTIFIER: &str = "payment-identifier";

/// Whether `id` is a valid payment identifier: 16 to 128 characters, each an
/// ASCII letter, digit, `_` or `-` (the SDK's rule, read strictly: nothing
/// else, not even a trailing newline).
pub fn is_valid_payment_id(id: &str) -> bool {
    (16..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The payload's payment identifier, `extensions["payment-identifier"].info.id`
/// (top-level `extensions`, where the SDK's client puts it): `None` when the
/// payload carries none (no `extensions`, no such extension, no `info` or
/// no `id`: a server's declaration the client did not fill in). An id that
/// is not a string or not a valid identifier ([`is_valid_payment_id`]), or
/// `extensions`, the extension or `info` that are not objects, are
/// [`ErrorKind::Malformed`](super::ErrorKind::Malformed) errors.
pub fn payment_identifier(payload: &Value) -> Result<Option<String>> {
    let obj = payload.as_object().ok_or_else(|| {
        X402Error::malformed(format!(
            "{PAYLOAD} must be a JSON object, got {}",
            type_name(payload)
        ))
    })?;
    let Some(ext) = optional_object(obj, PAYLOAD, "extensions")? else {
        return Ok(None);
    };
    let path = format!("{PAYLOAD}.extensions");
    let Some(pi) = optional_object(ext, &path, PAYMENT_IDENTIFIER)? else {
        return Ok(None);
    };
    let path = format!("{path}.{PAYMENT_IDENTIFIER}");
    let Some(info) = optional_object(pi, &path, "info")? else {
        return Ok(None);
    };
    match info.get("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if is_valid_payment_id(id) => Ok(Some(id.clone())),
        Some(Value::String(id)) => Err(X402Error::malformed(format!(
            "{path}.info.id \"{}\" is not a payment identifier: 16 to 128 characters, each a \
             letter, a digit, _ or - (it has {} characters)",
            show(id),
            id.chars().count()
        ))),
        Some(other) => Err(X402Error::malformed(format!(
            "{path}.info.id must be a string, got {}",
            type_name(other)
        ))),
    }
}

/// `obj[key]`: `None` when absent or null, else it must be an object.
fn optional_object<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(X402Error::malformed(format!(
            "{path}.{key} must be an object, got {}",
            type_name(other)
        ))),
    }
}

/// What `payload` authorizes under `requirements` (one entry of `accepts`,
/// the server's own), for every kind the core implements; see
/// [`AuthorizedPayment`].
///
/// Errors, and nothing else checked (verification is
/// [`verify_payment`](super::verify_payment)'s):
/// * [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported) (0A000): an
///   `x402Version` other than 1 or 2; a scheme, in the payload or the
///   requirements, other than `exact` and `upto` (or `upto` in v1);
/// * [`ErrorKind::Malformed`](super::ErrorKind::Malformed) (22023): anything
///   missing or unreadable: the authorization's fields, the requirements'
///   `network` (and for EIP-3009 their `asset`, amount, `payTo`,
///   `extra.name`/`extra.version`), an `upto` payload that is not a Permit2
///   authorization with a `witness.facilitator`, a malformed payment
///   identifier;
/// * [`ErrorKind::OutOfRange`](super::ErrorKind::OutOfRange) (22003): a
///   number above 2^256 - 1, a chain id above 2^64 - 1.
pub fn authorized_payment(payload: &Value, requirements: &Value) -> Result<AuthorizedPayment> {
    let kind = payment_kind(payload)?;
    let req = requirements_object(requirements)?;
    let req_path = "paymentRequirements";
    known_scheme(
        req_str(req, req_path, "scheme")?,
        req_path,
        kind.x402_version,
    )?;
    let payment_id = payment_identifier(payload)?;
    let view = payload_view(payload).map_err(|f| f.error)?;
    let inner = req_obj(view.obj, PAYLOAD, "payload")?;
    let signature = match field(inner, "signature") {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    match kind.transfer_method {
        TransferMethod::Permit2 => {
            const PATH: &str = "paymentPayload.payload.permit2Authorization";
            let upto = kind.scheme == Scheme::Upto;
            let raw = inner.get("permit2Authorization");
            let has_facilitator = raw
                .and_then(Value::as_object)
                .and_then(|a| a.get("witness"))
                .and_then(Value::as_object)
                .is_some_and(|w| w.contains_key("facilitator"));
            let raw = match raw {
                Some(r) if !upto || has_facilitator => r,
                _ => {
                    return Err(X402Error::malformed(format!(
                        "{ACCEPTED}.scheme is \"upto\", but {PATH} is not an upto authorization \
                         (a Permit2 permit whose witness names the facilitator); upto is settled \
                         through Permit2 only"
                    )))
                }
            };
            let (_, chain_id) = read_network(req, req_path)?;
            let auth = Permit2Authorization::from_json(raw, upto, PATH)?;
            Ok(AuthorizedPayment {
                x402_version: kind.x402_version,
                scheme: kind.scheme,
                transfer_method: TransferMethod::Permit2,
                chain_id,
                asset: auth.token,
                pay_to: auth.to,
                payer: auth.from,
                amount: auth.amount,
                valid_after: auth.valid_after,
                valid_before: auth.deadline,
                nonce: auth.nonce.to_be_bytes(),
                spender: Some(auth.spender),
                facilitator: auth.facilitator,
                payment_id,
                digest: auth.digest(chain_id),
                signature,
            })
        }
        TransferMethod::Eip3009 => {
            let r = PaymentRequirements::parse(requirements, kind.x402_version)?;
            let auth = extract_authorization(payload)?;
            Ok(AuthorizedPayment {
                x402_version: kind.x402_version,
                scheme: kind.scheme,
                transfer_method: TransferMethod::Eip3009,
                chain_id: r.chain_id,
                asset: r.asset,
                pay_to: auth.to,
                payer: auth.from,
                amount: auth.value,
                valid_after: auth.valid_after,
                valid_before: auth.valid_before,
                nonce: auth.nonce,
                spender: None,
                facilitator: None,
                payment_id,
                digest: r.domain().transfer_with_authorization_digest(&auth),
                signature,
            })
        }
    }
}
