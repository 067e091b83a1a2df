//! EIP-712 hashing for EIP-3009 `TransferWithAuthorization`.

use std::cell::RefCell;

use sha3::{Digest, Keccak256};

use super::address::Address;
use super::authorization::Authorization;
use super::uint::U256;

/// The EIP-712 domain type used by EIP-3009 tokens (USDC, USDG, ...).
pub const EIP712_DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";

/// The EIP-3009 `TransferWithAuthorization` struct type.
pub const TRANSFER_WITH_AUTHORIZATION_TYPE: &str = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)";

/// `keccak256(EIP712_DOMAIN_TYPE)` (checked against the hash in the tests).
const EIP712_DOMAIN_TYPEHASH: [u8; 32] = [
    0x8b, 0x73, 0xc3, 0xc6, 0x9b, 0xb8, 0xfe, 0x3d, 0x51, 0x2e, 0xcc, 0x4c, 0xf7, 0x59, 0xcc, 0x79,
    0x23, 0x9f, 0x7b, 0x17, 0x9b, 0x0f, 0xfa, 0xca, 0xa9, 0xa7, 0x5d, 0x52, 0x2b, 0x39, 0x40, 0x0f,
];

/// `keccak256(TRANSFER_WITH_AUTHORIZATION_TYPE)`, EIP-3009's
/// `TRANSFER_WITH_AUTHORIZATION_TYPEHASH` (checked in the tests).
const TRANSFER_WITH_AUTHORIZATION_TYPEHASH: [u8; 32] = [
    0x7c, 0x7c, 0x6c, 0xdb, 0x67, 0xa1, 0x87, 0x43, 0xf4, 0x9e, 0xc6, 0xfa, 0x9b, 0x35, 0xf5, 0x0d,
    0x52, 0xed, 0x05, 0xcb, 0xed, 0x4c, 0xc5, 0x92, 0xe1, 0x3b, 0x44, 0x50, 0x1c, 0x1a, 0x22, 0x67,
];

/// Keccak-256 (the Ethereum hash, not NIST SHA3-256).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(data);
    hasher.finalize().into()
}

/// `hashStruct(EIP712Domain)` for
/// `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`.
///
/// `('Global Dollar', '1', 196, 0x4ae46a509f6b1d9056937ba4500cb143933d2dc8)`
/// gives `0x415f0706…bd3743`, USDG's on-chain `DOMAIN_SEPARATOR` on X Layer.
pub fn domain_separator(
    name: &str,
    version: &str,
    chain_id: U256,
    verifying_contract: [u8; 20],
) -> [u8; 32] {
    let mut enc = Vec::with_capacity(5 * 32);
    enc.extend_from_slice(&EIP712_DOMAIN_TYPEHASH);
    enc.extend_from_slice(&keccak256(name.as_bytes()));
    enc.extend_from_slice(&keccak256(version.as_bytes()));
    enc.extend_from_slice(&chain_id.to_be_bytes());
    enc.extend_from_slice(&Address::from_bytes(verifying_contract).to_word());
    keccak256(&enc)
}

/// `hashStruct(TransferWithAuthorization)` of an authorization.
pub fn transfer_with_authorization_hash(auth: &Authorization) -> [u8; 32] {
    let mut enc = Vec::with_capacity(7 * 32);
    enc.extend_from_slice(&TRANSFER_WITH_AUTHORIZATION_TYPEHASH);
    enc.extend_from_slice(&auth.from.to_word());
    enc.extend_from_slice(&auth.to.to_word());
    enc.extend_from_slice(&auth.value.to_be_bytes());
    enc.extend_from_slice(&auth.valid_after.to_be_bytes());
    enc.extend_from_slice(&auth.valid_before.to_be_bytes());
    enc.extend_from_slice(&auth.nonce);
    keccak256(&enc)
}

/// The EIP-712 digest `keccak256(0x19 0x01 || domainSeparator || structHash)`:
/// what the payer's key signs.
pub fn eip712_digest(domain_separator: &[u8; 32], struct_hash: &[u8; 32]) -> [u8; 32] {
    let mut enc = Vec::with_capacity(2 + 64);
    enc.extend_from_slice(&[0x19, 0x01]);
    enc.extend_from_slice(domain_separator);
    enc.extend_from_slice(struct_hash);
    keccak256(&enc)
}

/// An EIP-712 domain of the `EIP712Domain(string name,string version,uint256
/// chainId,address verifyingContract)` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eip712Domain {
    /// The token's EIP-712 `name` (x402: `extra.name`).
    pub name: String,
    /// The token's EIP-712 `version` (x402: `extra.version`).
    pub version: String,
    /// The chain id (x402: from `network`).
    pub chain_id: U256,
    /// The token contract (x402: `asset`).
    pub verifying_contract: Address,
}

impl Eip712Domain {
    /// This domain's separator, see [`domain_separator`]. The last few
    /// domains' separators are remembered per thread (a merchant's payments
    /// all use one domain), which saves four Keccak-256 permutations a payment.
    pub fn separator(&self) -> [u8; 32] {
        const REMEMBERED: usize = 4;
        thread_local! {
            static SEPARATORS: RefCell<Vec<(Eip712Domain, [u8; 32])>> =
                const { RefCell::new(Vec::new()) };
        }
        let compute = || {
            domain_separator(
                &self.name,
                &self.version,
                self.chain_id,
                self.verifying_contract.to_bytes(),
            )
        };
        SEPARATORS.with(|cell| {
            let Ok(mut known) = cell.try_borrow_mut() else {
                return compute();
            };
            if let Some((_, sep)) = known.iter().find(|(d, _)| d == self) {
                return *sep;
            }
            let sep = compute();
            if known.len() >= REMEMBERED {
                known.remove(0);
            }
            known.push((self.clone(), sep));
            sep
        })
    }

    /// The digest a payer signs for `auth` in this domain.
    pub fn transfer_with_authorization_digest(&self, auth: &Authorization) -> [u8; 32] {
        eip712_digest(&self.separator(), &transfer_with_authorization_hash(auth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak_known_values() {
        assert_eq!(
            hex::encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        // The well-known EIP712Domain type hash.
        assert_eq!(
            hex::encode(keccak256(EIP712_DOMAIN_TYPE.as_bytes())),
            "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f"
        );
        // EIP-3009's TRANSFER_WITH_AUTHORIZATION_TYPEHASH.
        assert_eq!(
            hex::encode(keccak256(TRANSFER_WITH_AUTHORIZATION_TYPE.as_bytes())),
            "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"
        );
        // The precomputed constants are those hashes.
        assert_eq!(
            EIP712_DOMAIN_TYPEHASH,
            keccak256(EIP712_DOMAIN_TYPE.as_bytes())
        );
        assert_eq!(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
            keccak256(TRANSFER_WITH_AUTHORIZATION_TYPE.as_bytes())
        );
    }

    #[test]
    fn usdg_x_layer_domain_separator() {
        let contract = Address::parse("0x4ae46a509f6b1d9056937ba4500cb143933d2dc8").unwrap();
        let ds = domain_separator(
            "Global Dollar",
            "1",
            U256::from(196u64),
            contract.to_bytes(),
        );
        assert_eq!(
            hex::encode(ds),
            "415f0706e345fcaf25d5be24c4fd7830d0054fc5742c51a0db9319c759bd3743"
        );
        let other = domain_separator("USDG", "2", U256::from(196u64), contract.to_bytes());
        assert_ne!(ds, other);
        // The remembered separators are the computed ones, for several domains.
        for round in 0..3 {
            for (i, name) in ["Global Dollar", "USDC", "A", "B", "C", "D"]
                .iter()
                .enumerate()
            {
                let domain = Eip712Domain {
                    name: name.to_string(),
                    version: "1".into(),
                    chain_id: U256::from(196u64 + i as u64 + round),
                    verifying_contract: contract,
                };
                assert_eq!(
                    domain.separator(),
                    domain_separator(name, "1", domain.chain_id, contract.to_bytes())
                );
            }
        }
    }
}
