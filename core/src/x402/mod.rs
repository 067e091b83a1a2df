//! x402 core: header codec, EVM addresses, uint256, EIP-712 / EIP-3009 and
//! Permit2 hashing, secp256k1 signer recovery, and facilitator-style
//! verification of EVM payments: `exact` through EIP-3009 (x402 v1 and v2)
//! and through Permit2, and `upto` (Permit2, x402 v2).
//!
//! Pure Rust: no pgrx, no Postgres, no network. Every function returns a
//! value or a typed [`X402Error`] for any input; nothing panics (enforced by
//! the lints below for non-test code).
//!
//! # API overview
//!
//! | need | call |
//! | --- | --- |
//! | decode / encode a `PAYMENT-*` / `X-PAYMENT` header | [`decode_header`], [`decode_named_header`], [`encode_header`] |
//! | validate / checksum an address | [`checksum_address`], [`Address`] |
//! | uint256 from / to decimal | [`U256::parse_decimal`], [`U256::from_json`], [`U256::to_decimal_string`] |
//! | bytes32 (nonce) from hex | [`parse_bytes32`] |
//! | network to chain id | [`parse_network`], [`caip2`], [`chain_name`], [`LEGACY_NETWORKS`] |
//! | EIP-712 hashes | [`domain_separator`], [`transfer_with_authorization_hash`], [`eip712_digest`], [`Eip712Domain`] |
//! | signer of a digest | [`parse_signature`], [`recover_signer`], [`recover_address`] |
//! | who signed a payment | [`recover_payer`] |
//! | the settlement journal: terms, a facilitator's answer, what to write | [`terms`], [`settlement`], [`status_answer`], [`decide_begin`], [`decide_record`], [`decide_status`] |
//! | verify a payment (as the official x402 SDK's facilitator) | [`verify_payment`], [`verify_payment_with_margin`] → [`VerifyResult`] with an [`InvalidReason`] |
//! | what a payment authorizes (any kind: EIP-3009, Permit2 `exact`, `upto`) | [`authorized_payment`] → [`AuthorizedPayment`] ([`NonceKey`], [`AuthorizedPayment::signer`]), [`payment_kind`], [`payment_identifier`] |
//! | Permit2 hashing | [`Permit2Authorization`], [`permit2_domain_separator`], [`PERMIT2_ADDRESS`], [`X402_EXACT_PERMIT2_PROXY`], [`X402_UPTO_PERMIT2_PROXY`] |
//! | normalized parts | [`PaymentPayload::parse`], [`extract_authorization`], [`effective_requirements`], [`PaymentRequirements::parse`], [`select_requirements`], [`payload_version`] |
//!
//! Errors carry an [`ErrorKind`] whose [`ErrorKind::sqlstate`] is the
//! SQLSTATE to raise: `Malformed` and `InvalidSignature` 22023,
//! `OutOfRange` 22003, `Unsupported` 0A000.
//!
//! The check order of [`verify_payment`] (the official x402 SDK's, with its
//! reason codes) is documented on [`verify_payment_with_margin`].

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod address;
mod authorization;
mod authorized;
mod codec;
mod eip712;
mod error;
mod network;
mod payment;
mod permit2;
mod settlement;
mod signature;
mod uint;
mod util;
mod verify_permit2;

pub use address::{checksum_address, Address};
pub use authorization::Authorization;
pub use authorized::{
    authorized_payment, is_valid_payment_id, payment_identifier, payment_kind, AuthorizedPayment,
    NonceKey, PaymentKind, Scheme, TransferMethod, PAYMENT_IDENTIFIER,
};
pub use codec::{
    decode_header, decode_named_header, encode_header, PAYMENT_REQUIRED_HEADER,
    PAYMENT_RESPONSE_HEADER, PAYMENT_SIGNATURE_HEADER, X_PAYMENT_HEADER, X_PAYMENT_RESPONSE_HEADER,
};
pub use eip712::{
    domain_separator, eip712_digest, keccak256, transfer_with_authorization_hash, Eip712Domain,
    EIP712_DOMAIN_TYPE, TRANSFER_WITH_AUTHORIZATION_TYPE,
};
pub use error::{ErrorKind, Result, X402Error};
pub use network::{caip2, chain_name, parse_network, LEGACY_NETWORKS};
pub use payment::{
    effective_requirements, extract_authorization, payload_version, recover_payer,
    select_requirements, verify_payment, verify_payment_with_margin, AssetInfo, InvalidReason,
    PaymentPayload, PaymentRequirements, VerifyResult, DEFAULT_VALID_BEFORE_MARGIN, SCHEME_EXACT,
    SCHEME_UPTO,
};
pub use permit2::{
    permit2_domain_separator, permit2_nonce_hex, Permit2Authorization, PERMIT2_ADDRESS,
    PERMIT2_DOMAIN_TYPE, PERMIT2_EXACT_TYPE, PERMIT2_UPTO_TYPE, TOKEN_PERMISSIONS_TYPE,
    WITNESS_EXACT_TYPE, WITNESS_UPTO_TYPE, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY,
};
pub use settlement::{
    decide_begin, decide_record, decide_status, failure_reason, is_tx_hash, outcome, settlement,
    settlement_terms, settlement_with, status_answer, terms, Decision, Outcome, Row, Status, Terms,
};
pub use signature::{
    address_of_key, parse_signature, recover_address, recover_signer, recover_signer_any_s,
};
pub use uint::U256;
pub use util::parse_bytes32;
