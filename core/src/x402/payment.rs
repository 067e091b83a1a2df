//! x402 payment payloads and requirements (v1 and v2), payer recovery and
//! facilitator-style verification of EVM payments: `exact` through EIP-3009
//! (here) and through Permit2, and `upto` (Permit2 only; `verify_permit2.rs`).
//!
//! Shapes accepted:
//!
//! * v2 payload: `{x402Version: 2, resource?, accepted: {requirements},
//!   payload: {signature, authorization}, extensions?}`;
//!   v2 requirements: `{scheme, network, amount, asset, payTo,
//!   maxTimeoutSeconds, extra: {name, version}}`.
//! * v1 payload: `{x402Version: 1, scheme, network?, payload: {signature,
//!   authorization}}` (`network` is optional: OKX's facilitator API omits it
//!   and sends the chain separately); v1 requirements: `{scheme, network,
//!   maxAmountRequired, resource, description, mimeType, payTo,
//!   maxTimeoutSeconds, asset, extra: {name, version}}`. A v1 requirements
//!   object that has `amount` instead of `maxAmountRequired` (as OKX's
//!   guide sends it) is accepted. As in the official x402 SDK, the
//!   authorization's value must equal the amount in both versions.
//! * `network` is CAIP-2 `eip155:<chainId>` or a legacy v1 name
//!   ([`LEGACY_NETWORKS`](super::LEGACY_NETWORKS)).
//! * uint256 fields are decimal strings (JSON integers are tolerated).
//! * Permit2 (`exact` with `payload.permit2Authorization`, and `upto`): x402
//!   v2 only; see [`super::permit2`] for the authorization's shape.

use std::fmt;

use serde_json::{json, Map, Value};

use super::address::Address;
use super::authorization::Authorization;
use super::authorized::{known_scheme, NonceKey, Scheme, TransferMethod};
use super::eip712::Eip712Domain;
use super::error::{ErrorKind, Result, X402Error};
use super::network::{caip2, parse_network};
use super::signature::{parse_signature, recover_signer};
use super::uint::U256;
use super::util::{
    as_obj, bytes_word, decode_hex, field, req_obj, req_str, show, strip_0x, to_array, type_name,
};
use super::verify_permit2::{recover_permit2_payer, verify_permit2};

/// The `exact` scheme (EIP-3009 `transferWithAuthorization`, or Permit2).
pub const SCHEME_EXACT: &str = "exact";

/// The `upto` scheme (Permit2 only).
pub const SCHEME_UPTO: &str = "upto";

pub(crate) const PAYLOAD: &str = "paymentPayload";
pub(crate) const INNER: &str = "paymentPayload.payload";
const AUTHORIZATION: &str = "paymentPayload.payload.authorization";
pub(crate) const REQUIREMENTS: &str = "paymentRequirements";
pub(crate) const ACCEPTED: &str = "paymentPayload.accepted";

/// Why [`verify_payment`] rejected a payment.
///
/// Wherever the official x402 SDK's facilitator (`ExactEvmScheme.verify`,
/// PyPI `x402` 2.25) reports a reason for the same fault, the code is the
/// SDK's (`network_mismatch`, `missing_eip712_domain`,
/// `invalid_exact_evm_payload_undeployed_smart_wallet`, ...). Structural
/// faults the SDK only raises on keep the x402 specification's codes
/// (`invalid_payload`, `invalid_x402_version`,
/// `invalid_payment_requirements`). Two codes are additions for what the SDK
/// learns only on chain: [`Eip712DomainMismatch`](Self::Eip712DomainMismatch)
/// and [`NonceAlreadyUsed`](Self::NonceAlreadyUsed).
///
/// Variants are listed in the order in which [`verify_payment`] checks them:
/// first those of EIP-3009 payments (`ExactEvmScheme.verify`), then those of
/// Permit2 payments, `exact` (`verify_permit2`) and `upto`
/// (`verify_upto_permit2`), which share the first five codes above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    /// `invalid_payload`: the payment payload is not a JSON object, or a
    /// payload field other than the signature is missing or malformed.
    InvalidPayload,
    /// `invalid_x402_version`: not 1 or 2, or payload and requirements of
    /// different versions.
    InvalidX402Version,
    /// `unsupported_scheme` (SDK): the payload's or the requirements' scheme
    /// is not `exact`.
    UnsupportedScheme,
    /// `network_mismatch` (SDK): the payload's network is not the same
    /// string as the requirements' network.
    NetworkMismatch,
    /// `invalid_exact_evm_failed_to_get_network_config` (SDK): the network
    /// names no EVM chain (not `eip155:<chainId>` nor a known legacy name).
    FailedToGetNetworkConfig,
    /// `invalid_payment_requirements`: missing, or a malformed field.
    InvalidPaymentRequirements,
    /// `missing_eip712_domain` (SDK): `extra.name`/`extra.version` absent.
    MissingEip712Domain,
    /// `invalid_exact_evm_payload_recipient_mismatch`: `to != payTo`.
    RecipientMismatch,
    /// `invalid_exact_evm_payload_authorization_value_mismatch`:
    /// `value != amount` (v2) or `value != maxAmountRequired` (v1).
    AuthorizationValueMismatch,
    /// `invalid_exact_evm_payload_authorization_valid_before`:
    /// `validBefore < at + margin` (6 s by default, as the SDK).
    AuthorizationValidBefore,
    /// `invalid_exact_evm_payload_authorization_valid_after`:
    /// `validAfter > at`.
    AuthorizationValidAfter,
    /// `invalid_exact_evm_payload_signature`: missing or empty, r or s out of
    /// range, high-s (the token contract refuses it), no key recovers, or it
    /// recovers to another address than `authorization.from`.
    InvalidSignature,
    /// `invalid_exact_evm_payload_undeployed_smart_wallet` (SDK): the
    /// signature is not 65 bytes, so not an EOA's; a smart-wallet signature
    /// needs the wallet's code on chain, which this check cannot see.
    UndeployedSmartWallet,
    /// `invalid_exact_evm_failed_to_verify_signature` (SDK): the signature is
    /// not a hex string, or its v byte is not 0, 1, 27 or 28.
    FailedToVerifySignature,
    /// `invalid_exact_evm_payload_eip712_domain_mismatch` (added): the
    /// requirements' `extra.name`/`extra.version` differ from the registered
    /// asset's, so the token contract would refuse the signature.
    Eip712DomainMismatch,
    /// `invalid_exact_evm_nonce_already_used` (added): the caller
    /// reports the nonce as already recorded for this payer and asset.
    NonceAlreadyUsed,
    /// `unsupported_payload_type` (SDK, upto): the payload is not an upto
    /// authorization (no `payload.permit2Authorization` whose `witness`
    /// names a `facilitator`).
    UnsupportedPayloadType,
    /// `invalid_upto_evm_scheme` (SDK): the requirements' scheme is not `upto`.
    UptoInvalidScheme,
    /// `invalid_upto_evm_network_mismatch` (SDK): as `network_mismatch`, for upto.
    UptoNetworkMismatch,
    /// `invalid_upto_evm_failed_to_get_network_config` (SDK): the requirements'
    /// network is not `eip155:<chainId>` (upto).
    UptoFailedToGetNetworkConfig,
    /// `invalid_permit2_spender` (SDK): `spender` is not the x402 proxy of
    /// the scheme (`exact` 0x4020…0001, `upto` 0x4020…0002).
    Permit2InvalidSpender,
    /// `invalid_permit2_recipient_mismatch` (SDK): `witness.to` is not `payTo`.
    Permit2RecipientMismatch,
    /// `upto_facilitator_mismatch` (SDK): `witness.facilitator` is not the
    /// facilitator (here: the requirements' `extra.facilitatorAddress`).
    UptoFacilitatorMismatch,
    /// `invalid_permit2_payload_format` (SDK): `deadline`,
    /// `witness.validAfter` or `permitted.amount` (upto: also the
    /// requirements' `amount`) is not an integer.
    Permit2PayloadFormat,
    /// `permit2_deadline_expired` (SDK): `deadline < at + margin` (6 s).
    Permit2DeadlineExpired,
    /// `permit2_not_yet_valid` (SDK): `witness.validAfter > at`.
    Permit2NotYetValid,
    /// `permit2_amount_mismatch` (SDK): `permitted.amount` is not exactly the
    /// requirements' `amount` (upto: the ceiling, at verify).
    Permit2AmountMismatch,
    /// `permit2_token_mismatch` (SDK): `permitted.token` is not `asset`.
    Permit2TokenMismatch,
    /// `invalid_permit2_signature` (SDK): missing, not hex, not 65 bytes, `v`
    /// not 0, 1, 27 or 28, a field the typed data cannot encode (a nonce that
    /// is not a decimal uint256, ...), no key recovers, or it recovers to
    /// another address than `from`.
    Permit2InvalidSignature,
    /// `invalid_upto_evm_transaction_failed` (SDK, upto): what the SDK's
    /// simulation of the settlement refuses and the payload shows: amount 0,
    /// `payTo` the zero address, `v` 0 or 1 (Permit2 calls `ecrecover`,
    /// which needs 27 or 28), and a nonce the caller reports as used.
    UptoTransactionFailed,
    /// `permit2_invalid_nonce` (added; the SDK's settle code for Permit2's
    /// `InvalidNonce`): the caller reports this payer's Permit2 nonce as used
    /// (`exact`; the SDK's exact verify does not look).
    Permit2InvalidNonce,
}

impl InvalidReason {
    /// Every reason, in check order.
    pub const ALL: [InvalidReason; 31] = [
        InvalidReason::InvalidPayload,
        InvalidReason::InvalidX402Version,
        InvalidReason::UnsupportedScheme,
        InvalidReason::NetworkMismatch,
        InvalidReason::FailedToGetNetworkConfig,
        InvalidReason::InvalidPaymentRequirements,
        InvalidReason::MissingEip712Domain,
        InvalidReason::RecipientMismatch,
        InvalidReason::AuthorizationValueMismatch,
        InvalidReason::AuthorizationValidBefore,
        InvalidReason::AuthorizationValidAfter,
        InvalidReason::InvalidSignature,
        InvalidReason::UndeployedSmartWallet,
        InvalidReason::FailedToVerifySignature,
        InvalidReason::Eip712DomainMismatch,
        InvalidReason::NonceAlreadyUsed,
        InvalidReason::UnsupportedPayloadType,
        InvalidReason::UptoInvalidScheme,
        InvalidReason::UptoNetworkMismatch,
        InvalidReason::UptoFailedToGetNetworkConfig,
        InvalidReason::Permit2InvalidSpender,
        InvalidReason::Permit2RecipientMismatch,
        InvalidReason::UptoFacilitatorMismatch,
        InvalidReason::Permit2PayloadFormat,
        InvalidReason::Permit2DeadlineExpired,
        InvalidReason::Permit2NotYetValid,
        InvalidReason::Permit2AmountMismatch,
        InvalidReason::Permit2TokenMismatch,
        InvalidReason::Permit2InvalidSignature,
        InvalidReason::UptoTransactionFailed,
        InvalidReason::Permit2InvalidNonce,
    ];

    /// The wire reason code, e.g. `invalid_exact_evm_payload_signature`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvalidReason::InvalidPayload => "invalid_payload",
            InvalidReason::InvalidX402Version => "invalid_x402_version",
            InvalidReason::UnsupportedScheme => "unsupported_scheme",
            InvalidReason::NetworkMismatch => "network_mismatch",
            InvalidReason::FailedToGetNetworkConfig => {
                "invalid_exact_evm_failed_to_get_network_config"
            }
            InvalidReason::InvalidPaymentRequirements => "invalid_payment_requirements",
            InvalidReason::MissingEip712Domain => "missing_eip712_domain",
            InvalidReason::RecipientMismatch => "invalid_exact_evm_payload_recipient_mismatch",
            InvalidReason::AuthorizationValueMismatch => {
                "invalid_exact_evm_payload_authorization_value_mismatch"
            }
            InvalidReason::AuthorizationValidBefore => {
                "invalid_exact_evm_payload_authorization_valid_before"
            }
            InvalidReason::AuthorizationValidAfter => {
                "invalid_exact_evm_payload_authorization_valid_after"
            }
            InvalidReason::InvalidSignature => "invalid_exact_evm_payload_signature",
            InvalidReason::UndeployedSmartWallet => {
                "invalid_exact_evm_payload_undeployed_smart_wallet"
            }
            InvalidReason::FailedToVerifySignature => {
                "invalid_exact_evm_failed_to_verify_signature"
            }
            InvalidReason::Eip712DomainMismatch => {
                "invalid_exact_evm_payload_eip712_domain_mismatch"
            }
            InvalidReason::NonceAlreadyUsed => "invalid_exact_evm_nonce_already_used",
            InvalidReason::UnsupportedPayloadType => "unsupported_payload_type",
            InvalidReason::UptoInvalidScheme => "invalid_upto_evm_scheme",
            InvalidReason::UptoNetworkMismatch => "invalid_upto_evm_network_mismatch",
            InvalidReason::UptoFailedToGetNetworkConfig => {
                "invalid_upto_evm_failed_to_get_network_config"
            }
            InvalidReason::Permit2InvalidSpender => "invalid_permit2_spender",
            InvalidReason::Permit2RecipientMismatch => "invalid_permit2_recipient_mismatch",
            InvalidReason::UptoFacilitatorMismatch => "upto_facilitator_mismatch",
            InvalidReason::Permit2PayloadFormat => "invalid_permit2_payload_format",
            InvalidReason::Permit2DeadlineExpired => "permit2_deadline_expired",
            InvalidReason::Permit2NotYetValid => "permit2_not_yet_valid",
            InvalidReason::Permit2AmountMismatch => "permit2_amount_mismatch",
            InvalidReason::Permit2TokenMismatch => "permit2_token_mismatch",
            InvalidReason::Permit2InvalidSignature => "invalid_permit2_signature",
            InvalidReason::UptoTransactionFailed => "invalid_upto_evm_transaction_failed",
            InvalidReason::Permit2InvalidNonce => "permit2_invalid_nonce",
        }
    }
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registered EIP-712 domain of an asset (looked up by the caller for the
/// requirements' network and asset address, e.g. USDG on X Layer:
/// name `Global Dollar`, version `1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInfo {
    /// The token's EIP-712 domain name.
    pub name: String,
    /// The token's EIP-712 domain version.
    pub version: String,
}

impl AssetInfo {
    /// A new asset domain.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        AssetInfo {
            name: name.into(),
            version: version.into(),
        }
    }
}

/// The outcome of [`verify_payment`], like a facilitator's `/verify` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyResult {
    /// Whether every check passed.
    pub is_valid: bool,
    /// The first failed check, `None` when valid.
    pub invalid_reason: Option<InvalidReason>,
    /// What exactly failed, `None` when valid.
    pub invalid_message: Option<String>,
    /// The checksummed address the signature recovers to: set whenever the
    /// signature check ran and recovered a key (so for every outcome from
    /// the signature check on, including a signature that recovers to
    /// another address than `authorization.from`); `None` before that.
    pub payer: Option<String>,
}

impl VerifyResult {
    /// The reason code as text (`invalid_payload`, ...), `None` when valid.
    pub fn invalid_reason_str(&self) -> Option<&'static str> {
        self.invalid_reason.map(InvalidReason::as_str)
    }

    /// The facilitator-style JSON: `{"isValid", "invalidReason"?,
    /// "invalidMessage"?, "payer"?}` (absent fields omitted).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("isValid".to_owned(), Value::Bool(self.is_valid));
        if let Some(r) = self.invalid_reason {
            out.insert("invalidReason".to_owned(), json!(r.as_str()));
        }
        if let Some(m) = &self.invalid_message {
            out.insert("invalidMessage".to_owned(), json!(m));
        }
        if let Some(p) = &self.payer {
            out.insert("payer".to_owned(), json!(p));
        }
        Value::Object(out)
    }
}

/// Normalized payment requirements (one entry of `accepts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequirements {
    /// The scheme as sent (`exact` expected).
    pub scheme: String,
    /// The network as sent (`eip155:196`, `base-sepolia`, ...).
    pub network: String,
    /// The network's chain id.
    pub chain_id: u64,
    /// v2 `amount`; v1 `maxAmountRequired` (or `amount` when only that is
    /// present): the price, which the authorization's value must equal.
    pub amount: U256,
    /// The token contract (EIP-712 verifying contract).
    pub asset: Address,
    /// The recipient.
    pub pay_to: Address,
    /// `maxTimeoutSeconds`, when present.
    pub max_timeout_seconds: Option<u64>,
    /// `extra.name`: the token's EIP-712 domain name.
    pub eip712_name: String,
    /// `extra.version`: the token's EIP-712 domain version.
    pub eip712_version: String,
}

impl PaymentRequirements {
    /// Parses requirements for a payload of `x402_version` (1 or 2; decides
    /// between `amount` and `maxAmountRequired`). Does not check that the
    /// scheme is `exact`.
    pub fn parse(requirements: &Value, x402_version: u8) -> Result<Self> {
        let obj = as_obj(requirements, REQUIREMENTS)?;
        Self::from_map(obj, REQUIREMENTS, x402_version)
    }

    fn from_map(obj: &Map<String, Value>, path: &str, x402_version: u8) -> Result<Self> {
        let scheme = req_str(obj, path, "scheme")?.to_owned();
        let (network, chain_id) = read_network(obj, path)?;
        let f = read_requirement_fields(obj, path, x402_version)?;
        let (name, version) = read_domain_params(obj, path)?;
        Ok(PaymentRequirements {
            scheme,
            network: network.to_owned(),
            chain_id,
            amount: f.amount,
            asset: f.asset,
            pay_to: f.pay_to,
            max_timeout_seconds: f.max_timeout_seconds,
            eip712_name: name,
            eip712_version: version,
        })
    }

    /// The EIP-712 domain a payer signs in for these requirements.
    pub fn domain(&self) -> Eip712Domain {
        Eip712Domain {
            name: self.eip712_name.clone(),
            version: self.eip712_version.clone(),
            chain_id: U256::from(self.chain_id),
            verifying_contract: self.asset,
        }
    }
}

/// A parsed payment payload (v1 or v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPayload {
    /// 1 or 2.
    pub x402_version: u8,
    /// v1: `scheme`; v2: `accepted.scheme`.
    pub scheme: String,
    /// v1: `network` (optional); v2: `accepted.network`.
    pub network: Option<String>,
    /// The chain id of [`network`](Self::network).
    pub chain_id: Option<u64>,
    /// `payload.signature`, 65 bytes `r || s || v`.
    pub signature: [u8; 65],
    /// `payload.authorization`, normalized.
    pub authorization: Authorization,
}

impl PaymentPayload {
    /// Parses a v1 or v2 payment payload (e.g. a decoded `PAYMENT-SIGNATURE`
    /// or `X-PAYMENT` header). Does not verify anything.
    pub fn parse(payload: &Value) -> Result<Self> {
        let view = payload_view(payload).map_err(|f| f.error)?;
        let (head, head_path) = view.head();
        let scheme = req_str(head, head_path, "scheme")?.to_owned();
        let (network, chain_id) = match (view.accepted, field(view.obj, "network")) {
            (None, None) => (None, None),
            _ => {
                let (n, id) = read_network(head, head_path)?;
                (Some(n.to_owned()), Some(id))
            }
        };
        let (signature, authorization) = read_inner(view.obj)?;
        Ok(PaymentPayload {
            x402_version: view.version,
            scheme,
            network,
            chain_id,
            signature,
            authorization,
        })
    }
}

/// The normalized `payload.authorization` of a v1 or v2 payment payload.
pub fn extract_authorization(payload: &Value) -> Result<Authorization> {
    let obj = as_obj(payload, PAYLOAD)?;
    let inner = req_obj(obj, PAYLOAD, "payload")?;
    Authorization::from_map(req_obj(inner, INNER, "authorization")?, AUTHORIZATION)
}

/// `x402Version` of a payment payload (1 or 2).
pub fn payload_version(payload: &Value) -> Result<u8> {
    read_version(as_obj(payload, PAYLOAD)?, PAYLOAD)
}

/// The requirements that apply to `payload`, parsed: `requirements` when
/// given, else the v2 payload's `accepted` (a v1 payload carries none).
pub fn effective_requirements(
    payload: &Value,
    requirements: Option<&Value>,
) -> Result<PaymentRequirements> {
    let view = payload_view(payload).map_err(|f| f.error)?;
    let (req, path) = pick_requirements(&view, requirements)?;
    PaymentRequirements::from_map(req, path, view.version)
}

/// Picks, from a `PAYMENT-REQUIRED` object `{x402Version, accepts: [...]}`,
/// the entry a payload answers: for v2 the entry equal to the payload's
/// `accepted`, otherwise the first entry with the payload's scheme and (when
/// the payload names one) the same chain id.
pub fn select_requirements<'a>(payment_required: &'a Value, payload: &Value) -> Result<&'a Value> {
    let accepts = match as_obj(payment_required, "PAYMENT-REQUIRED")?.get("accepts") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "PAYMENT-REQUIRED.accepts must be an array, got {}",
                type_name(other)
            )))
        }
        None => return Err(X402Error::malformed("PAYMENT-REQUIRED.accepts is missing")),
    };
    let view = payload_view(payload).map_err(|f| f.error)?;
    if let Some(accepted) = view.accepted {
        if let Some(hit) = accepts.iter().find(|e| e.as_object() == Some(accepted)) {
            return Ok(hit);
        }
    }
    let (head, head_path) = view.head();
    let scheme = req_str(head, head_path, "scheme")?;
    let chain = match (view.accepted, field(view.obj, "network")) {
        (None, None) => None,
        _ => Some(read_network(head, head_path)?.1),
    };
    accepts
        .iter()
        .find(|entry| {
            let Some(e) = entry.as_object() else {
                return false;
            };
            let same_scheme = field(e, "scheme").and_then(Value::as_str) == Some(scheme);
            let same_chain = match chain {
                None => true,
                Some(id) => read_network(e, "accepts[]").map(|(_, c)| c).ok() == Some(id),
            };
            same_scheme && same_chain
        })
        .ok_or_else(|| {
            X402Error::malformed(format!(
                "PAYMENT-REQUIRED.accepts has no entry for scheme {} on the payload's network",
                show(scheme)
            ))
        })
}

/// Recovers who signed a payment: the checksummed address the payload's
/// signature recovers to over the EIP-712 digest of its authorization.
///
/// EIP-3009: the domain comes from the requirements (`extra.name`,
/// `extra.version`, chain id of `network`, `asset` as verifying contract);
/// high-s signatures are refused (the token refuses them). Permit2 (a v2
/// payload whose `payload` has `permit2Authorization`; `upto` when
/// `accepted.scheme` is `upto`): Permit2's domain on the requirements'
/// chain; high `s` is accepted, as Permit2's `ecrecover` accepts it. With
/// `None`, the requirements are the v2 payload's `accepted` (a v1 payload
/// needs requirements). This does not compare with the payload's `from`:
/// [`verify_payment`] does.
pub fn recover_payer(payload: &Value, requirements: Option<&Value>) -> Result<String> {
    let view = payload_view(payload).map_err(|f| f.error)?;
    let (req, path) = pick_requirements(&view, requirements)?;
    if view.version == 2 {
        let inner = req_obj(view.obj, PAYLOAD, "payload")?;
        if inner.contains_key("permit2Authorization") {
            let (head, head_path) = view.head();
            let scheme = known_scheme(req_str(head, head_path, "scheme")?, head_path, 2)?;
            return recover_permit2_payer(inner, req, path, scheme == Scheme::Upto)
                .map(|a| a.to_checksum());
        }
    }
    let domain = requirements_domain(req, path)?;
    let (signature, authorization) = read_inner(view.obj)?;
    let digest = domain.transfer_with_authorization_digest(&authorization);
    recover_signer(&digest, &signature)
        .map(|a| a.to_checksum())
        .map_err(|e| e.context(&format!("{INNER}.signature")))
}

/// How many seconds `validBefore` must lie beyond "now" by default: the
/// official x402 SDK's facilitator refuses an authorization that would
/// expire within 6 seconds (before its settlement could land).
pub const DEFAULT_VALID_BEFORE_MARGIN: u64 = 6;

/// Verifies an x402 EVM payment like the official x402 SDK's facilitator,
/// without any network call, with the default `validBefore`/`deadline`
/// margin ([`DEFAULT_VALID_BEFORE_MARGIN`], 6 s). See
/// [`verify_payment_with_margin`].
pub fn verify_payment<F>(
    payload: &Value,
    requirements: &Value,
    at_unix_seconds: i64,
    known_asset: Option<&AssetInfo>,
    nonce_already_used: F,
) -> Result<VerifyResult>
where
    F: FnOnce(&NonceKey) -> bool,
{
    verify_payment_with_margin(
        payload,
        requirements,
        at_unix_seconds,
        DEFAULT_VALID_BEFORE_MARGIN,
        known_asset,
        nonce_already_used,
    )
}

/// Verifies an x402 EVM payment like the official x402 SDK's facilitator
/// (`ExactEvmScheme.verify` for v2 `exact`, `ExactEvmSchemeV1.verify` for
/// v1, `UptoEvmScheme.verify` for `upto`), without any network call: same
/// verdict, same check order, and the SDK's reason code wherever it has one
/// for the fault.
///
/// * `payload`: the payment payload (decoded `PAYMENT-SIGNATURE`/`X-PAYMENT`).
/// * `requirements`: the requirements the server issued (one `accepts`
///   entry). They are authoritative: the payload's `accepted` only has to
///   agree on scheme and network (never pass the payload's own `accepted`:
///   it says whatever the client wants).
/// * `at_unix_seconds`: "now" for the validity window.
/// * `valid_before_margin`: `validBefore` (Permit2: `deadline`) must be at
///   least `at` plus this many seconds (the SDK: 6; 1 is the token
///   contract's own rule, `at < validBefore`).
/// * `known_asset`: the registered EIP-712 domain of the requirements'
///   asset on its network, if the caller knows it (EIP-3009 only: Permit2
///   signs in Permit2's own domain).
/// * `nonce_already_used`: called at most once, last, only when everything
///   else passed; returns whether the nonce is already recorded in its
///   nonce space ([`NonceKey`]).
///
/// Errors (no verdict): an `x402Version` other than 1 or 2, or a scheme
/// (the payload's or the requirements') other than `exact` and `upto` (or
/// `upto` in v1), are [`ErrorKind::Unsupported`] (SQLSTATE 0A000): the SDK
/// has no scheme for them and raises.
///
/// Permit2 payments (a v2 `exact` payload whose `payload` has
/// `permit2Authorization`, and every v2 `upto` payload) are checked in the
/// SDK's Permit2 order (`verify_permit2`, `verify_upto_permit2`; the checks
/// and codes are listed in docs/x402-permit2.md). EIP-3009 payments, in
/// this order (the first failure is reported):
///
/// 1. structure: payload is an object (`invalid_payload`); requirements are
///    an object and not a whole `PAYMENT-REQUIRED`
///    (`invalid_payment_requirements`);
/// 2. version: the payload's shape matches its `x402Version`, and the
///    requirements are not of the other version (`invalid_x402_version`);
/// 3. scheme: the requirements' scheme is `exact` too (`unsupported_scheme`;
///    a missing scheme is `invalid_payload` / `invalid_payment_requirements`);
/// 4. network: payload and requirements name the same network, compared as
///    strings like the SDK does (`network_mismatch`; a v1 payload may omit
///    it), and it names an EVM chain
///    (`invalid_exact_evm_failed_to_get_network_config`);
/// 5. requirements: present (v1 needs them), amount, `asset`, `payTo`,
///    `maxTimeoutSeconds` (`invalid_payment_requirements`), then
///    `extra.name`, `extra.version` (`missing_eip712_domain`);
/// 6. payload fields: `payload.authorization` and its fields
///    (`invalid_payload`);
/// 7. recipient: `authorization.to == payTo`
///    (`invalid_exact_evm_payload_recipient_mismatch`);
/// 8. value: `value == amount` (v2) or `== maxAmountRequired` (v1, as the
///    SDK; the v1 specification said "at least")
///    (`invalid_exact_evm_payload_authorization_value_mismatch`);
/// 9. `validBefore >= at + valid_before_margin`
///    (`invalid_exact_evm_payload_authorization_valid_before`);
/// 10. `validAfter <= at` (`invalid_exact_evm_payload_authorization_valid_after`);
/// 11. signature: present and non-empty (`invalid_exact_evm_payload_signature`),
///     hex (`invalid_exact_evm_failed_to_verify_signature`), 65 bytes
///     (`invalid_exact_evm_payload_undeployed_smart_wallet`), v in
///     {0, 1, 27, 28} (`invalid_exact_evm_failed_to_verify_signature`),
///     r and s in range, low s, recovers to `authorization.from`
///     (`invalid_exact_evm_payload_signature`);
/// 12. domain: `known_asset` name/version equal `extra`
///     (`invalid_exact_evm_payload_eip712_domain_mismatch`; on chain the
///     token contract would refuse the signature);
/// 13. nonce unused (`invalid_exact_evm_nonce_already_used`).
///
/// `payer` is set from the signature check on. Never panics; every input
/// gives a result.
pub fn verify_payment_with_margin<F>(
    payload: &Value,
    requirements: &Value,
    at_unix_seconds: i64,
    valid_before_margin: u64,
    known_asset: Option<&AssetInfo>,
    nonce_already_used: F,
) -> Result<VerifyResult>
where
    F: FnOnce(&NonceKey) -> bool,
{
    let window = Window {
        at: at_unix_seconds,
        valid_before_margin,
    };
    match verify_steps(
        payload,
        requirements,
        window,
        known_asset,
        nonce_already_used,
    ) {
        Ok(payer) => Ok(VerifyResult {
            is_valid: true,
            invalid_reason: None,
            invalid_message: None,
            payer: Some(payer.to_checksum()),
        }),
        Err(f) if f.raise => Err(f.error),
        Err(f) => Ok(VerifyResult {
            is_valid: false,
            invalid_reason: Some(f.reason),
            invalid_message: Some(f.error.message),
            payer: f.payer.map(|p| p.to_checksum()),
        }),
    }
}

// ---------------------------------------------------------------------------
// internals

/// Why verification stopped: a verdict (`reason`), or, with `raise`, an
/// error to report instead of any verdict (an unsupported version or scheme).
pub(crate) struct Failure {
    pub(crate) reason: InvalidReason,
    pub(crate) error: X402Error,
    pub(crate) payer: Option<Address>,
    pub(crate) raise: bool,
}

pub(crate) type Step<T> = std::result::Result<T, Failure>;

pub(crate) trait Tag<T> {
    /// A failure with the verdict `reason`.
    fn tag(self, reason: InvalidReason) -> Step<T>;
    /// A failure that is an error, not a verdict.
    fn raise(self) -> Step<T>;
}

impl<T> Tag<T> for Result<T> {
    fn tag(self, reason: InvalidReason) -> Step<T> {
        self.map_err(|error| Failure {
            reason,
            error,
            payer: None,
            raise: false,
        })
    }

    fn raise(self) -> Step<T> {
        self.map_err(|error| Failure {
            reason: InvalidReason::InvalidPayload,
            error,
            payer: None,
            raise: true,
        })
    }
}

pub(crate) fn failure(reason: InvalidReason, error: X402Error, payer: Option<Address>) -> Failure {
    Failure {
        reason,
        error,
        payer,
        raise: false,
    }
}

pub(crate) struct PayloadView<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) version: u8,
    /// v2 only.
    pub(crate) accepted: Option<&'a Map<String, Value>>,
}

impl<'a> PayloadView<'a> {
    /// Where scheme and network live: v2 `accepted`, v1 the payload itself.
    pub(crate) fn head(&self) -> (&'a Map<String, Value>, &'static str) {
        match self.accepted {
            Some(a) => (a, ACCEPTED),
            None => (self.obj, PAYLOAD),
        }
    }
}

fn read_version(obj: &Map<String, Value>, path: &str) -> Result<u8> {
    let v = field(obj, "x402Version")
        .ok_or_else(|| X402Error::malformed(format!("{path}.x402Version is missing")))?;
    match v.as_u64() {
        Some(1) => Ok(1),
        Some(2) => Ok(2),
        Some(n) => Err(X402Error::unsupported(format!(
            "{path}.x402Version is {n}; supported versions are 1 and 2"
        ))),
        None => Err(X402Error::malformed(format!(
            "{path}.x402Version must be the integer 1 or 2, got {}",
            show(&v.to_string())
        ))),
    }
}

pub(crate) fn payload_view(payload: &Value) -> Step<PayloadView<'_>> {
    use InvalidReason::{InvalidPayload, InvalidX402Version};
    let obj = as_obj(payload, PAYLOAD).tag(InvalidPayload)?;
    let version = match read_version(obj, PAYLOAD) {
        Err(e) if e.kind == ErrorKind::Unsupported => return Err(e).raise(),
        other => other.tag(InvalidX402Version)?,
    };
    let has_scheme = field(obj, "scheme").is_some();
    let accepted = match (version, field(obj, "accepted")) {
        (2, Some(Value::Object(a))) => Some(a),
        (2, Some(other)) => {
            return Err(X402Error::malformed(format!(
                "{ACCEPTED} must be an object, got {}",
                type_name(other)
            )))
            .tag(InvalidPayload)
        }
        (2, None) if has_scheme => {
            return Err(X402Error::malformed(format!(
                "{PAYLOAD} has x402Version 2 but the x402Version 1 shape \
                 (top-level scheme, no accepted)"
            )))
            .tag(InvalidX402Version)
        }
        (2, None) => {
            return Err(X402Error::malformed(format!(
                "{ACCEPTED} is missing (required for x402Version 2)"
            )))
            .tag(InvalidPayload)
        }
        (_, Some(_)) if !has_scheme => {
            return Err(X402Error::malformed(format!(
                "{PAYLOAD} has x402Version 1 but the x402Version 2 shape \
                 (accepted, no top-level scheme)"
            )))
            .tag(InvalidX402Version)
        }
        _ => None,
    };
    Ok(PayloadView {
        obj,
        version,
        accepted,
    })
}

pub(crate) fn requirements_object(requirements: &Value) -> Result<&Map<String, Value>> {
    let obj = as_obj(requirements, REQUIREMENTS)?;
    if field(obj, "accepts").is_some() && field(obj, "scheme").is_none() {
        return Err(X402Error::malformed(format!(
            "{REQUIREMENTS} is a whole PAYMENT-REQUIRED object; pass one entry of its accepts array"
        )));
    }
    Ok(obj)
}

fn pick_requirements<'a>(
    view: &PayloadView<'a>,
    requirements: Option<&'a Value>,
) -> Result<(&'a Map<String, Value>, &'static str)> {
    match (requirements, view.accepted) {
        (Some(r), _) => Ok((requirements_object(r)?, REQUIREMENTS)),
        (None, Some(a)) => Ok((a, ACCEPTED)),
        (None, None) => Err(X402Error::malformed(format!(
            "{REQUIREMENTS} are missing: an x402Version 1 payload carries none, so they must be given"
        ))),
    }
}

fn check_requirements_version(req: &Map<String, Value>, version: u8) -> Result<()> {
    if let Some(v) = field(req, "x402Version") {
        if v.as_u64() != Some(u64::from(version)) {
            return Err(X402Error::malformed(format!(
                "{REQUIREMENTS}.x402Version is {} but {PAYLOAD}.x402Version is {version}",
                show(&v.to_string())
            )));
        }
    }
    if version == 2 && field(req, "amount").is_none() && field(req, "maxAmountRequired").is_some() {
        return Err(X402Error::malformed(format!(
            "{REQUIREMENTS} has the x402Version 1 shape (maxAmountRequired, no amount) \
             but {PAYLOAD}.x402Version is 2"
        )));
    }
    Ok(())
}

pub(crate) fn read_network<'a>(obj: &'a Map<String, Value>, path: &str) -> Result<(&'a str, u64)> {
    let network = req_str(obj, path, "network")?;
    let id = parse_network(network).map_err(|e| e.context(&format!("{path}.network")))?;
    Ok((network, id))
}

struct RequirementFields {
    amount: U256,
    amount_key: &'static str,
    asset: Address,
    pay_to: Address,
    max_timeout_seconds: Option<u64>,
}

fn read_requirement_fields(
    req: &Map<String, Value>,
    path: &str,
    x402_version: u8,
) -> Result<RequirementFields> {
    // v1 falls back to `amount` when only that is present (OKX's v1 shape).
    let v1_uses_amount =
        field(req, "maxAmountRequired").is_none() && field(req, "amount").is_some();
    let amount_key = if x402_version == 2 || v1_uses_amount {
        "amount"
    } else {
        "maxAmountRequired"
    };
    let amount = field(req, amount_key)
        .ok_or_else(|| X402Error::malformed(format!("{path}.{amount_key} is missing")))
        .and_then(|v| U256::from_json(v).map_err(|e| e.context(&format!("{path}.{amount_key}"))))?;
    let address = |key: &str| -> Result<Address> {
        Address::parse(req_str(req, path, key)?).map_err(|e| e.context(&format!("{path}.{key}")))
    };
    let asset = address("asset")?;
    let pay_to = address("payTo")?;
    let max_timeout_seconds = match field(req, "maxTimeoutSeconds") {
        None => None,
        Some(v) => {
            let ctx = format!("{path}.maxTimeoutSeconds");
            let u = U256::from_json(v).map_err(|e| e.context(&ctx))?;
            Some(
                u.to_u64()
                    .ok_or_else(|| X402Error::out_of_range(format!("{ctx} {u} is above 2^64-1")))?,
            )
        }
    };
    Ok(RequirementFields {
        amount,
        amount_key,
        asset,
        pay_to,
        max_timeout_seconds,
    })
}

/// `extra.name` and `extra.version` of requirements: the token's EIP-712
/// domain name and version.
fn read_domain_params(req: &Map<String, Value>, path: &str) -> Result<(String, String)> {
    let extra = match field(req, "extra") {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "{path}.extra must be an object, got {}",
                type_name(other)
            )))
        }
        None => {
            return Err(X402Error::malformed(format!(
                "{path}.extra is missing; it must carry the token's EIP-712 domain \
                 as {{\"name\": ..., \"version\": ...}}"
            )))
        }
    };
    let extra_path = format!("{path}.extra");
    let name = req_str(extra, &extra_path, "name")?.to_owned();
    let version = req_str(extra, &extra_path, "version")?.to_owned();
    Ok((name, version))
}

fn requirements_domain(req: &Map<String, Value>, path: &str) -> Result<Eip712Domain> {
    let (_, chain_id) = read_network(req, path)?;
    let asset = Address::parse(req_str(req, path, "asset")?)
        .map_err(|e| e.context(&format!("{path}.asset")))?;
    let extra_path = format!("{path}.extra");
    let extra = req_obj(req, path, "extra")?;
    Ok(Eip712Domain {
        name: req_str(extra, &extra_path, "name")?.to_owned(),
        version: req_str(extra, &extra_path, "version")?.to_owned(),
        chain_id: U256::from(chain_id),
        verifying_contract: asset,
    })
}

fn read_inner(obj: &Map<String, Value>) -> Result<([u8; 65], Authorization)> {
    let inner = req_obj(obj, PAYLOAD, "payload")?;
    let sig_hex = req_str(inner, INNER, "signature")?;
    let signature =
        parse_signature(sig_hex).map_err(|e| e.context(&format!("{INNER}.signature")))?;
    let authorization =
        Authorization::from_map(req_obj(inner, INNER, "authorization")?, AUTHORIZATION)?;
    Ok((signature, authorization))
}

/// "Now" and the `validBefore` margin of one verification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) at: i64,
    pub(crate) valid_before_margin: u64,
}

/// Whether `u < t`.
fn uint_below(u: &U256, t: i128) -> bool {
    u128::try_from(t).is_ok_and(|t| *u < U256::from(t))
}

/// Whether `u > t`.
fn uint_above(u: &U256, t: i128) -> bool {
    u128::try_from(t).map_or(true, |t| *u > U256::from(t))
}

/// Steps 9-10: `validBefore` at least the margin ahead of `at`, then
/// `validAfter` not after `at` (the SDK's order and comparisons).
fn check_window(auth: &Authorization, window: Window) -> Step<()> {
    let at = i128::from(window.at);
    let margin = window.valid_before_margin;
    let fail = |reason: InvalidReason, message: String| {
        Err(failure(reason, X402Error::malformed(message), None))
    };
    if uint_below(&auth.valid_before, at + i128::from(margin)) {
        let message = if uint_above(&auth.valid_before, at) {
            format!(
                "authorization expires too soon: validBefore is {}, now is {at}; it must be \
                 at least {margin} s ahead (valid_before_margin) so that a settlement can land \
                 before it expires",
                auth.valid_before
            )
        } else {
            format!(
                "authorization has expired: validBefore is {}, now is {at}",
                auth.valid_before
            )
        };
        return fail(InvalidReason::AuthorizationValidBefore, message);
    }
    if uint_above(&auth.valid_after, at) {
        return fail(
            InvalidReason::AuthorizationValidAfter,
            format!(
                "authorization is not valid yet: validAfter is {}, now is {at}",
                auth.valid_after
            ),
        );
    }
    Ok(())
}

/// Step 11: the signature, classified as the SDK does for an externally
/// owned account (the only kind a check without chain access can verify).
fn check_signature(
    inner: &Map<String, Value>,
    domain: &Eip712Domain,
    auth: &Authorization,
    known_asset: Option<&AssetInfo>,
) -> Step<Address> {
    use InvalidReason::{FailedToVerifySignature, InvalidSignature, UndeployedSmartWallet};
    const PATH: &str = "paymentPayload.payload.signature";
    let text = match field(inner, "signature") {
        None => {
            return Err(X402Error::malformed(format!("{PATH} is missing"))).tag(InvalidSignature)
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(X402Error::malformed(format!("{PATH} is empty"))).tag(InvalidSignature)
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "{PATH} must be a hex string, got {}",
                type_name(other)
            )))
            .tag(FailedToVerifySignature)
        }
    };
    let digits = strip_0x(text).unwrap_or(text);
    let bytes = decode_hex("signature", text, digits)
        .map_err(|e| e.context(PATH))
        .tag(FailedToVerifySignature)?;
    let Some(signature) = to_array::<65>(&bytes) else {
        return Err(X402Error::malformed(format!(
            "{PATH} has {}, not the 65 (r || s || v) of an externally owned account; a \
             smart-wallet signature (ERC-1271/ERC-6492) can only be checked against the \
             wallet's code on chain",
            bytes_word(bytes.len())
        )))
        .tag(UndeployedSmartWallet);
    };
    let [.., v] = signature;
    if !matches!(v, 0 | 1 | 27 | 28) {
        return Err(X402Error::invalid_signature(format!(
            "{PATH}: v is {v}, expected 27 or 28 (or 0 or 1)"
        )))
        .tag(FailedToVerifySignature);
    }
    let digest = domain.transfer_with_authorization_digest(auth);
    let payer = recover_signer(&digest, &signature)
        .map_err(|e| e.context(PATH))
        .tag(InvalidSignature)?;
    if payer != auth.from {
        let hint = match known_asset {
            Some(k) if k.name != domain.name || k.version != domain.version => format!(
                "; the asset is registered with name \"{}\" version \"{}\"",
                show(&k.name),
                show(&k.version)
            ),
            _ => String::new(),
        };
        return Err(failure(
            InvalidSignature,
            X402Error::invalid_signature(format!(
                "{PATH} recovers to {payer}, not to authorization.from {}: signed by another \
                 key, or over another message or EIP-712 domain (name \"{}\", version \"{}\", \
                 chain {}, contract {}){hint}",
                auth.from,
                show(&domain.name),
                show(&domain.version),
                domain.chain_id,
                domain.verifying_contract
            )),
            Some(payer),
        ));
    }
    Ok(payer)
}

fn verify_steps<F>(
    payload: &Value,
    requirements: &Value,
    window: Window,
    known_asset: Option<&AssetInfo>,
    nonce_already_used: F,
) -> Step<Address>
where
    F: FnOnce(&NonceKey) -> bool,
{
    use InvalidReason::*;

    // 1-2. structure and version (an x402Version other than 1 and 2 raises).
    as_obj(payload, PAYLOAD).tag(InvalidPayload)?;
    let view = payload_view(payload)?;
    let req = requirements_object(requirements).tag(InvalidPaymentRequirements)?;
    check_requirements_version(req, view.version).tag(InvalidX402Version)?;

    // 3. scheme: one the core implements on both sides (else it raises, as
    // the SDK, which has no scheme to route the payment to).
    let (head, head_path) = view.head();
    let scheme = req_str(head, head_path, "scheme").tag(InvalidPayload)?;
    let scheme = known_scheme(scheme, head_path, view.version).raise()?;
    let required_scheme = req_str(req, REQUIREMENTS, "scheme").tag(InvalidPaymentRequirements)?;
    let required_scheme = known_scheme(required_scheme, REQUIREMENTS, view.version).raise()?;

    // Permit2 payments (x402 v2 only), routed as the SDK routes them: every
    // upto payment, and an exact one whose payload has permit2Authorization.
    if view.version == 2 {
        let inner = field(view.obj, "payload").and_then(Value::as_object);
        let permit2 = inner.is_some_and(|i| i.contains_key("permit2Authorization"));
        if scheme == Scheme::Upto || permit2 {
            return verify_permit2(
                &view,
                req,
                required_scheme,
                scheme == Scheme::Upto,
                window,
                nonce_already_used,
            );
        }
    }
    if required_scheme != Scheme::Exact {
        return Err(X402Error::malformed(format!(
            "{REQUIREMENTS}.scheme is \"{required_scheme}\", but the payment is an \"exact\" \
             EIP-3009 authorization ({head_path}.scheme \"exact\")"
        )))
        .tag(UnsupportedScheme);
    }

    // 4. network: the same string on both sides (as the SDK compares them),
    // then an EVM chain.
    let payload_network = match (view.accepted, field(view.obj, "network")) {
        (None, None) => None, // a v1 payload may omit it (OKX's facilitator API)
        _ => Some(req_str(head, head_path, "network").tag(InvalidPayload)?),
    };
    let required_network =
        Some(req_str(req, REQUIREMENTS, "network").tag(InvalidPaymentRequirements)?);
    if let (Some(pn), Some(rn)) = (payload_network, required_network) {
        if pn != rn {
            let same_chain = match (parse_network(pn), parse_network(rn)) {
                (Ok(a), Ok(b)) if a == b => format!(
                    " (both name chain {a}, but facilitators compare the network strings: \
                     send the requirements' network unchanged)"
                ),
                _ => String::new(),
            };
            return Err(X402Error::malformed(format!(
                "{head_path}.network {} is not {REQUIREMENTS}.network {}{same_chain}",
                show(pn),
                show(rn)
            )))
            .tag(NetworkMismatch);
        }
    }
    let req_path = REQUIREMENTS;
    let network = required_network
        .or(payload_network)
        .ok_or_else(|| X402Error::malformed(format!("{req_path}.network is missing")))
        .tag(InvalidPaymentRequirements)?;
    let chain_id = parse_network(network)
        .map_err(|e| e.context(&format!("{req_path}.network")))
        .tag(FailedToGetNetworkConfig)?;

    // 5. requirements.
    let fields =
        read_requirement_fields(req, req_path, view.version).tag(InvalidPaymentRequirements)?;
    let (name, version) = read_domain_params(req, req_path).tag(MissingEip712Domain)?;

    // 6. payload fields (the signature has its own step, as in the SDK).
    let inner = req_obj(view.obj, PAYLOAD, "payload").tag(InvalidPayload)?;
    let auth = req_obj(inner, INNER, "authorization")
        .and_then(|a| Authorization::from_map(a, AUTHORIZATION))
        .tag(InvalidPayload)?;
    let fail = |reason: InvalidReason, message: String| {
        Err(failure(reason, X402Error::malformed(message), None))
    };

    // 7. recipient.
    if auth.to != fields.pay_to {
        return fail(
            RecipientMismatch,
            format!(
                "{AUTHORIZATION}.to {} does not match {req_path}.payTo {}",
                auth.to, fields.pay_to
            ),
        );
    }

    // 8. value: exactly the price, in v1 too (as the SDK).
    if auth.value != fields.amount {
        return fail(
            AuthorizationValueMismatch,
            format!(
                "{AUTHORIZATION}.value {} does not equal {req_path}.{} {}",
                auth.value, fields.amount_key, fields.amount
            ),
        );
    }

    // 9-10. validity window.
    check_window(&auth, window)?;

    // 11. signature.
    let domain = Eip712Domain {
        name,
        version,
        chain_id: U256::from(chain_id),
        verifying_contract: fields.asset,
    };
    let payer = check_signature(inner, &domain, &auth, known_asset)?;

    // 12. EIP-712 domain against the registered asset (on chain, the token
    // contract would refuse the signature).
    if let Some(known) = known_asset {
        if known.name != domain.name || known.version != domain.version {
            return Err(failure(
                Eip712DomainMismatch,
                X402Error::malformed(format!(
                    "{req_path}.extra declares the EIP-712 domain name \"{}\" version \"{}\", \
                     but asset {} on {} is registered with name \"{}\" version \"{}\"; \
                     a signature over the declared domain cannot be settled",
                    show(&domain.name),
                    show(&domain.version),
                    fields.asset,
                    caip2(chain_id),
                    show(&known.name),
                    show(&known.version)
                )),
                Some(payer),
            ));
        }
    }

    // 13. nonce (the token's nonce space).
    let key = NonceKey {
        transfer_method: TransferMethod::Eip3009,
        chain_id,
        scope: fields.asset,
        payer: auth.from,
        nonce: auth.nonce,
    };
    if nonce_already_used(&key) {
        return Err(failure(
            NonceAlreadyUsed,
            X402Error::malformed(format!(
                "{AUTHORIZATION}.nonce {} was already used by {} for asset {} on {}",
                key.nonce_hex(),
                key.payer,
                key.scope,
                caip2(chain_id)
            )),
            Some(payer),
        ));
    }
    Ok(payer)
}
