//! Verification of Permit2 payments, `exact` (the SDK's `verify_permit2`)
//! and `upto` (`verify_upto_permit2`), in the SDK's order and with its
//! reason codes, for every check that needs no chain state; and recovery of
//! their signer.
//!
//! What only the chain (or the facilitator itself) knows is not checked:
//! whether the token has code (`asset_not_deployed_contract`), the payer's
//! Permit2 allowance (`permit2_allowance_required`) and balance
//! (`invalid_exact_evm_insufficient_balance`, `permit2_insufficient_balance`),
//! a payer that is a smart wallet (EIP-1271: checked here as an externally
//! owned account), the facilitator's own signer set (upto: here the
//! requirements' `extra.facilitatorAddress` stands for it), a Permit2 nonce
//! used on chain but not recorded by the caller, and whether Permit2 and the
//! proxy are deployed (the SDK never checks that either).

use serde_json::{Map, Value};

use super::address::Address;
use super::authorized::{NonceKey, Scheme, TransferMethod};
use super::error::{Result, X402Error};
use super::network::{caip2, parse_network};
use super::payment::{
    failure, InvalidReason, PayloadView, Step, Tag, Window, ACCEPTED, INNER, REQUIREMENTS,
};
use super::permit2::{
    describe, sdk_address, sdk_int, sdk_signature_bytes, Permit2Authorization, SdkInt,
    PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY,
};
use super::signature::recover_signer_any_s;
use super::uint::U256;
use super::util::{field, req_str, show, to_array, type_name};

type Object = Map<String, Value>;

const AUTH: &str = "paymentPayload.payload.permit2Authorization";
const SIGNATURE: &str = "paymentPayload.payload.signature";

/// The fields of a `permit2Authorization` as the SDK's `from_dict` reads
/// them (a missing key is `""` there, here `None`); nothing converted yet.
struct Raw<'a> {
    from: Option<&'a Value>,
    token: Option<&'a Value>,
    amount: Option<&'a Value>,
    spender: Option<&'a Value>,
    nonce: Option<&'a Value>,
    deadline: Option<&'a Value>,
    to: Option<&'a Value>,
    facilitator: Option<&'a Value>,
    valid_after: Option<&'a Value>,
}

/// `obj[key]` as the SDK's `auth.get(key, {})` reads it: absent is an empty
/// object; present, it must be an object (the SDK raises on anything else,
/// null included).
fn nested<'a>(obj: &'a Object, path: &str, key: &str) -> Result<Option<&'a Object>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(X402Error::malformed(format!(
            "{path}.{key} must be an object, got {}",
            type_name(other)
        ))),
    }
}

fn get<'a>(m: Option<&'a Object>, key: &str) -> Option<&'a Value> {
    m.and_then(|m| m.get(key))
}

fn raw_authorization(auth: &Value) -> Result<Raw<'_>> {
    let obj = auth.as_object().ok_or_else(|| {
        X402Error::malformed(format!("{AUTH} must be an object, got {}", type_name(auth)))
    })?;
    let permitted = nested(obj, AUTH, "permitted")?;
    let witness = nested(obj, AUTH, "witness")?;
    Ok(Raw {
        from: obj.get("from"),
        token: get(permitted, "token"),
        amount: get(permitted, "amount"),
        spender: obj.get("spender"),
        nonce: obj.get("nonce"),
        deadline: obj.get("deadline"),
        to: get(witness, "to"),
        facilitator: get(witness, "facilitator"),
        valid_after: get(witness, "validAfter"),
    })
}

/// The SDK's `is_upto_permit2_payload`: `permit2Authorization` is an object
/// whose `witness` is an object with a `facilitator` key.
fn is_upto_payload(inner: &Object) -> bool {
    inner
        .get("permit2Authorization")
        .and_then(Value::as_object)
        .and_then(|a| a.get("witness"))
        .and_then(Value::as_object)
        .is_some_and(|w| w.contains_key("facilitator"))
}

/// A uint256 of the typed data: the SDK encodes `int(value)`, which must be
/// a uint256 (else the signature check fails).
fn encodable(v: &SdkInt, what: &str) -> Result<U256> {
    v.uint().ok_or_else(|| {
        X402Error::malformed(format!(
            "{AUTH}.{what} is {v}, which the typed data cannot encode as a uint256"
        ))
    })
}

/// A requirements address as the SDK normalizes it.
fn required_address(req: &Object, key: &str) -> Result<Address> {
    let v = req.get(key);
    sdk_address(v).ok_or_else(|| {
        X402Error::malformed(format!(
            "{REQUIREMENTS}.{key} is {}, not an address",
            describe(v)
        ))
    })
}

/// The requirements' shape the SDK's model demands (it raises otherwise):
/// `asset` an address, `payTo` and `amount` present, `maxTimeoutSeconds` an
/// integer and `extra` an object when present.
fn check_requirements_shape(req: &Object) -> Result<Address> {
    let asset = required_address(req, "asset")?;
    for key in ["payTo", "amount"] {
        if field(req, key).is_none() {
            return Err(X402Error::malformed(format!(
                "{REQUIREMENTS}.{key} is missing"
            )));
        }
    }
    if let Some(v) = field(req, "maxTimeoutSeconds") {
        if v.as_u64().is_none() {
            return Err(X402Error::malformed(format!(
                "{REQUIREMENTS}.maxTimeoutSeconds is {}, not a whole number of seconds",
                describe(Some(v))
            )));
        }
    }
    if let Some(extra) = field(req, "extra") {
        if !extra.is_object() {
            return Err(X402Error::malformed(format!(
                "{REQUIREMENTS}.extra must be an object, got {}",
                type_name(extra)
            )));
        }
    }
    Ok(asset)
}

/// Verifies a Permit2 payment (v2): `upto` when `upto`, else `exact` with
/// `payload.permit2Authorization`. The version, both schemes (known) and the
/// requirements' shape as an object were checked by the caller.
pub(crate) fn verify_permit2<F>(
    view: &PayloadView<'_>,
    req: &Object,
    required_scheme: Scheme,
    upto: bool,
    window: Window,
    nonce_already_used: F,
) -> Step<Address>
where
    F: FnOnce(&NonceKey) -> bool,
{
    use InvalidReason::*;
    let fail = |reason: InvalidReason, message: String| -> Step<Address> {
        Err(failure(reason, X402Error::malformed(message), None))
    };

    // The SDK's payload model: `payload` is an object; the scheme's routing.
    let inner = match field(view.obj, "payload") {
        Some(Value::Object(m)) => m,
        other => {
            return fail(
                InvalidPayload,
                format!("{INNER} must be an object, got {}", describe(other)),
            )
        }
    };
    if upto && !is_upto_payload(inner) {
        return fail(
            UnsupportedPayloadType,
            format!(
                "{ACCEPTED}.scheme is \"upto\", but {INNER} is not an upto authorization: \
                 upto is paid with a Permit2 permit, {AUTH}, whose witness names the facilitator"
            ),
        );
    }
    let raw = inner
        .get("permit2Authorization")
        .ok_or_else(|| X402Error::malformed(format!("{AUTH} is missing")))
        .and_then(raw_authorization)
        .tag(InvalidPayload)?;

    // 1. scheme (upto: the requirements' too; exact-Permit2 reads neither).
    if upto && required_scheme != Scheme::Upto {
        return fail(
            UptoInvalidScheme,
            format!("{REQUIREMENTS}.scheme is \"{required_scheme}\", but the payment is \"upto\""),
        );
    }

    // 2. network: the same string on both sides.
    let (head, head_path) = view.head();
    let network = req_str(head, head_path, "network").tag(InvalidPayload)?;
    let required_network = req_str(req, REQUIREMENTS, "network").tag(InvalidPaymentRequirements)?;
    if network != required_network {
        return fail(
            if upto {
                UptoNetworkMismatch
            } else {
                NetworkMismatch
            },
            format!(
                "{head_path}.network {} is not {REQUIREMENTS}.network {}",
                show(network),
                show(required_network)
            ),
        );
    }

    // 3. the chain: CAIP-2 eip155:<id> (Permit2 is x402 v2, which names no
    // network otherwise).
    let chain_id = match required_network.strip_prefix("eip155:") {
        Some(_) => parse_network(required_network),
        None => Err(X402Error::unsupported(format!(
            "network {} is not eip155:<chainId>",
            show(required_network)
        ))),
    }
    .map_err(|e| e.context(&format!("{REQUIREMENTS}.network")))
    .tag(if upto {
        UptoFailedToGetNetworkConfig
    } else {
        FailedToGetNetworkConfig
    })?;
    let asset = check_requirements_shape(req).tag(InvalidPaymentRequirements)?;

    // 4. spender: the scheme's x402 proxy.
    let proxy = if upto {
        X402_UPTO_PERMIT2_PROXY
    } else {
        X402_EXACT_PERMIT2_PROXY
    };
    let spender = sdk_address(raw.spender);
    if spender != Some(proxy) {
        let other = match spender {
            Some(a) if a == X402_EXACT_PERMIT2_PROXY => " (the exact proxy)",
            Some(a) if a == X402_UPTO_PERMIT2_PROXY => " (the upto proxy)",
            Some(a) if a == PERMIT2_ADDRESS => " (Permit2 itself)",
            _ => "",
        };
        return fail(
            Permit2InvalidSpender,
            format!(
                "{AUTH}.spender is {}{other}, not the x402 {} Permit2 proxy {proxy}",
                describe(raw.spender),
                if upto { "upto" } else { "exact" }
            ),
        );
    }

    // 5. recipient.
    let to = sdk_address(raw.to);
    let pay_to = sdk_address(req.get("payTo"));
    match (to, pay_to) {
        (Some(t), Some(p)) if t == p => {}
        _ => {
            return fail(
                Permit2RecipientMismatch,
                format!(
                    "{AUTH}.witness.to {} does not match {REQUIREMENTS}.payTo {}",
                    describe(raw.to),
                    describe(req.get("payTo"))
                ),
            )
        }
    }
    let pay_to = pay_to.unwrap_or(Address::ZERO);

    // 6. (upto) the facilitator named in the witness settles. The SDK compares
    // it with its own signers' addresses; offline, the requirements'
    // extra.facilitatorAddress (which the SDK's server copies from them).
    let facilitator = if upto {
        let Some(named) = sdk_address(raw.facilitator) else {
            return fail(
                UptoFacilitatorMismatch,
                format!(
                    "{AUTH}.witness.facilitator is {}, not an address",
                    describe(raw.facilitator)
                ),
            );
        };
        let declared = field(req, "extra").and_then(|e| e.get("facilitatorAddress"));
        let Some(expected) = sdk_address(declared) else {
            return fail(
                InvalidPaymentRequirements,
                format!(
                    "{REQUIREMENTS}.extra.facilitatorAddress is {}: upto requirements name the \
                     facilitator that settles (the address its witness must name)",
                    describe(declared)
                ),
            );
        };
        if named != expected {
            return fail(
                UptoFacilitatorMismatch,
                format!(
                    "{AUTH}.witness.facilitator {named} is not the facilitator \
                     {REQUIREMENTS}.extra.facilitatorAddress {expected}"
                ),
            );
        }
        Some(named)
    } else {
        None
    };

    // 7. the numbers, as Python's int() reads them.
    let number = |v: Option<&Value>, what: &str| {
        sdk_int(v)
            .map_err(|e| e.context(what))
            .tag(Permit2PayloadFormat)
    };
    let deadline = number(raw.deadline, &format!("{AUTH}.deadline"))?;
    let valid_after = number(raw.valid_after, &format!("{AUTH}.witness.validAfter"))?;
    let amount = number(raw.amount, &format!("{AUTH}.permitted.amount"))?;
    let required_amount = if upto {
        Some(number(
            req.get("amount"),
            &format!("{REQUIREMENTS}.amount"),
        )?)
    } else {
        None
    };

    // 8-9. the window: deadline at least the margin ahead, validAfter not ahead.
    let at = i128::from(window.at);
    let margin = window.valid_before_margin;
    if deadline.below(at + i128::from(margin)) {
        let message = if deadline.above(at) {
            format!(
                "permit expires too soon: deadline is {deadline}, now is {at}; it must be at \
                 least {margin} s ahead (valid_before_margin) so that a settlement can land \
                 before it expires"
            )
        } else {
            format!("permit has expired: deadline is {deadline}, now is {at}")
        };
        return fail(Permit2DeadlineExpired, message);
    }
    if valid_after.above(at) {
        return fail(
            Permit2NotYetValid,
            format!("permit is not valid yet: witness.validAfter is {valid_after}, now is {at}"),
        );
    }

    // 10. amount: exactly the requirements' (upto: the ceiling they ask for).
    let required_amount = match required_amount {
        Some(r) => r,
        None => sdk_int(req.get("amount"))
            .map_err(|e| e.context(&format!("{REQUIREMENTS}.amount")))
            .tag(InvalidPaymentRequirements)?,
    };
    if amount != required_amount {
        return fail(
            Permit2AmountMismatch,
            format!(
                "{AUTH}.permitted.amount {amount} does not equal {REQUIREMENTS}.amount \
                 {required_amount}{}",
                if upto {
                    " (at verify the requirements carry the ceiling)"
                } else {
                    ""
                }
            ),
        );
    }

    // 11. token.
    if sdk_address(raw.token) != Some(asset) {
        return fail(
            Permit2TokenMismatch,
            format!(
                "{AUTH}.permitted.token {} is not {REQUIREMENTS}.asset {asset}",
                describe(raw.token)
            ),
        );
    }

    // 12. signature, by an externally owned account (a smart wallet's needs
    // its code on chain).
    let (payer, v) = check_signature(
        inner,
        &raw,
        chain_id,
        &deadline,
        &valid_after,
        &amount,
        facilitator,
    )?;

    // What the SDK's upto verify learns from simulating the settlement and
    // the payload shows (its allowance and balance checks come before, and
    // need the chain): the proxy refuses amount 0 and the zero recipient,
    // Permit2's ecrecover refuses v 0/1.
    let nonce = sdk_int(raw.nonce)
        .ok()
        .and_then(|n| n.uint())
        .unwrap_or(U256::ZERO);
    if upto {
        let simulated = if amount.uint().is_some_and(|a| a.is_zero()) {
            Some("the upto proxy refuses amount 0 (InvalidAmount)".to_owned())
        } else if pay_to == Address::ZERO {
            Some("the upto proxy refuses the zero address as payTo (InvalidDestination)".to_owned())
        } else if v < 27 {
            Some(format!(
                "{SIGNATURE} has v = {v}: Permit2 checks the signature with ecrecover, which \
                 needs v 27 or 28 (InvalidSignature)"
            ))
        } else {
            None
        };
        if let Some(why) = simulated {
            return Err(failure(
                UptoTransactionFailed,
                X402Error::malformed(format!("the settlement would revert: {why}")),
                Some(payer),
            ));
        }
    }

    // 13. the nonce: Permit2's nonce space (per payer, across tokens,
    // spenders and schemes).
    let key = NonceKey {
        transfer_method: TransferMethod::Permit2,
        chain_id,
        scope: PERMIT2_ADDRESS,
        payer,
        nonce: nonce.to_be_bytes(),
    };
    if nonce_already_used(&key) {
        return Err(failure(
            if upto {
                UptoTransactionFailed
            } else {
                Permit2InvalidNonce
            },
            X402Error::malformed(format!(
                "{AUTH}.nonce {nonce} of {payer} was already used on {} (Permit2's nonces are \
                 one per payer, whatever the token, spender or scheme): Permit2 would revert \
                 with InvalidNonce",
                caip2(chain_id)
            )),
            Some(payer),
        ));
    }
    Ok(payer)
}

/// Step 12: the signature (the SDK's `verify_typed_data_strict` for an
/// account without code). Returns the signer and the raw `v` byte.
#[allow(clippy::too_many_arguments)]
fn check_signature(
    inner: &Object,
    raw: &Raw<'_>,
    chain_id: u64,
    deadline: &SdkInt,
    valid_after: &SdkInt,
    amount: &SdkInt,
    facilitator: Option<Address>,
) -> Step<(Address, u8)> {
    use InvalidReason::Permit2InvalidSignature as Invalid;
    let text = match inner.get("signature") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(Value::String(_)) => {
            return Err(X402Error::malformed(format!("{SIGNATURE} is empty"))).tag(Invalid)
        }
        None | Some(Value::Null) => {
            return Err(X402Error::malformed(format!("{SIGNATURE} is missing"))).tag(Invalid)
        }
        Some(other) => {
            return Err(X402Error::malformed(format!(
                "{SIGNATURE} must be a hex string, got {}",
                type_name(other)
            )))
            .tag(Invalid)
        }
    };
    let bytes = sdk_signature_bytes(text)
        .map_err(|e| e.context(SIGNATURE))
        .tag(Invalid)?;
    // The typed data: every number a uint256, the addresses read before.
    let typed = || -> Result<Permit2Authorization> {
        let nonce = sdk_int(raw.nonce).map_err(|e| e.context(&format!("{AUTH}.nonce")))?;
        Ok(Permit2Authorization {
            from: Address::ZERO, // not part of the signed message
            token: sdk_address(raw.token).unwrap_or(Address::ZERO),
            amount: encodable(amount, "permitted.amount")?,
            spender: sdk_address(raw.spender).unwrap_or(Address::ZERO),
            nonce: encodable(&nonce, "nonce")?,
            deadline: encodable(deadline, "deadline")?,
            to: sdk_address(raw.to).unwrap_or(Address::ZERO),
            facilitator,
            valid_after: encodable(valid_after, "witness.validAfter")?,
        })
    };
    let message = typed().tag(Invalid)?;
    let Some(signature) = to_array::<65>(&bytes) else {
        return Err(X402Error::malformed(format!(
            "{SIGNATURE} has {} bytes, not the 65 (r || s || v) of an externally owned account; \
             a smart-wallet signature (ERC-1271/ERC-6492) can only be checked against the \
             wallet's code on chain",
            bytes.len()
        )))
        .tag(Invalid);
    };
    let [.., v] = signature;
    if !matches!(v, 0 | 1 | 27 | 28) {
        return Err(X402Error::invalid_signature(format!(
            "{SIGNATURE}: v is {v}, expected 27 or 28 (or 0 or 1)"
        )))
        .tag(Invalid);
    }
    let digest = message.digest(chain_id);
    let signer = recover_signer_any_s(&digest, &signature)
        .map_err(|e| e.context(SIGNATURE))
        .tag(Invalid)?;
    // The SDK compares lower-cased strings: `from` must be 0x + the signer's
    // 40 hex digits, in any case.
    let from_matches = raw
        .from
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case(&signer.to_lower_hex()));
    if !from_matches {
        return Err(failure(
            Invalid,
            X402Error::invalid_signature(format!(
                "{SIGNATURE} recovers to {signer}, not to {AUTH}.from {}: signed by another key, \
                 or over another permit or EIP-712 domain (Permit2 on chain {chain_id})",
                describe(raw.from)
            )),
            Some(signer),
        ));
    }
    Ok((signer, v))
}

/// Who signed a Permit2 payment (`recover_payer`): the permit read strictly
/// enough to hash it, on the chain of `req` (at `path`), any `s`.
pub(crate) fn recover_permit2_payer(
    inner: &Object,
    req: &Object,
    path: &str,
    upto: bool,
) -> Result<Address> {
    let (_, chain_id) = super::payment::read_network(req, path)?;
    let raw = inner
        .get("permit2Authorization")
        .ok_or_else(|| X402Error::malformed(format!("{AUTH} is missing")))?;
    let auth = Permit2Authorization::from_json(raw, upto, AUTH)?;
    let text = match field(inner, "signature") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            return Err(X402Error::malformed(format!(
                "{SIGNATURE} is missing or not a hex string"
            )))
        }
    };
    let bytes = sdk_signature_bytes(text).map_err(|e| e.context(SIGNATURE))?;
    let signature = to_array::<65>(&bytes).ok_or_else(|| {
        X402Error::malformed(format!(
            "{SIGNATURE} has {} bytes, expected 65 (r || s || v)",
            bytes.len()
        ))
    })?;
    recover_signer_any_s(&auth.digest(chain_id), &signature).map_err(|e| e.context(SIGNATURE))
}
