//! Networks: CAIP-2 `eip155:<chainId>` and the legacy x402 v1 names.

use super::error::{Result, X402Error};
use super::util::show;

/// Legacy x402 v1 network names and their EVM chain ids.
///
/// Sources: the `EvmNetworkToChainId` table of the x402 reference
/// implementation (base, base-sepolia, avalanche, avalanche-fuji, iotex, sei,
/// sei-testnet, polygon, polygon-amoy, peaq, story, educhain, abstract,
/// abstract-testnet, arbitrum, arbitrum-sepolia, skale-base-sepolia), the v1
/// networks the official Python SDK (`x402` 2.25) registers for its
/// facilitator (adds megaeth, monad, monad-testnet, stable, stable-testnet,
/// celo; for story, educhain and skale-base-sepolia that SDK has 1513,
/// 656476 and 1444673419, the ids of retired or other testnets, where the
/// TypeScript reference and the chains themselves say 1514, 41923 and
/// 324705682, kept here), the
/// obvious Ethereum names (ethereum, mainnet, sepolia), and X Layer's own
/// documentation (xlayer = 196; xlayer-testnet = 1952, i.e. 0x7A0, the
/// current testnet; the retired testnet was 195). Names are matched
/// ASCII-case-insensitively. Anything else should be sent as CAIP-2
/// `eip155:<chainId>`.
pub const LEGACY_NETWORKS: &[(&str, u64)] = &[
    ("ethereum", 1),
    ("mainnet", 1),
    ("sepolia", 11_155_111),
    ("base", 8453),
    ("base-sepolia", 84532),
    ("polygon", 137),
    ("polygon-amoy", 80002),
    ("avalanche", 43114),
    ("avalanche-fuji", 43113),
    ("arbitrum", 42161),
    ("arbitrum-sepolia", 421_614),
    ("iotex", 4689),
    ("sei", 1329),
    ("sei-testnet", 1328),
    ("peaq", 3338),
    ("story", 1514),
    ("educhain", 41923),
    ("abstract", 2741),
    ("abstract-testnet", 11124),
    ("skale-base-sepolia", 324_705_682),
    ("megaeth", 4326),
    ("monad", 143),
    ("monad-testnet", 10143),
    ("stable", 988),
    ("stable-testnet", 2201),
    ("celo", 42220),
    ("xlayer", 196),
    ("xlayer-testnet", 1952),
];

/// Legacy v1 names of non-EVM networks, rejected with a clear message.
const NON_EVM_LEGACY: &[&str] = &["solana", "solana-devnet"];

/// Resolves a network to its EVM chain id.
///
/// Accepts CAIP-2 `eip155:<chainId>` (decimal, no sign, no leading zeros,
/// not 0, at most 2^64-1) and the legacy names of [`LEGACY_NETWORKS`].
/// Other CAIP-2 namespaces (`solana:…`) and unknown names are
/// [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported).
pub fn parse_network(network: &str) -> Result<u64> {
    if let Some(reference) = network.strip_prefix("eip155:") {
        return parse_eip155_reference(network, reference);
    }
    if let Some((namespace, _)) = network.split_once(':') {
        return Err(X402Error::unsupported(format!(
            "network {} is in the CAIP-2 namespace {}, expected eip155 (only EVM networks are supported)",
            show(network),
            show(namespace)
        )));
    }
    if let Some((_, id)) = LEGACY_NETWORKS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(network))
    {
        return Ok(*id);
    }
    if NON_EVM_LEGACY
        .iter()
        .any(|n| n.eq_ignore_ascii_case(network))
    {
        return Err(X402Error::unsupported(format!(
            "network {network} is not an EVM network; only EVM (eip155) networks are supported"
        )));
    }
    if network.is_empty() {
        return Err(X402Error::malformed("network is an empty string"));
    }
    Err(X402Error::unsupported(format!(
        "network {} is not a known x402 network name; use CAIP-2 eip155:<chainId>",
        show(network)
    )))
}

fn parse_eip155_reference(network: &str, reference: &str) -> Result<u64> {
    if reference.is_empty() || !reference.bytes().all(|b| b.is_ascii_digit()) {
        return Err(X402Error::malformed(format!(
            "network {} is not eip155:<chainId> with a decimal chain id",
            show(network)
        )));
    }
    if reference.starts_with('0') {
        return Err(X402Error::malformed(format!(
            "network {} has a chain id that is 0 or has leading zeros",
            show(network)
        )));
    }
    reference.parse::<u64>().map_err(|_| {
        X402Error::out_of_range(format!(
            "network {} has a chain id above 2^64-1",
            show(network)
        ))
    })
}

/// The CAIP-2 identifier `eip155:<chainId>`.
pub fn caip2(chain_id: u64) -> String {
    format!("eip155:{chain_id}")
}

/// The ledger's `chain` name of a chain: its legacy v1 name where it has one
/// (`xlayer`, the guide's default), else CAIP-2.
pub fn chain_name(chain_id: u64) -> String {
    LEGACY_NETWORKS
        .iter()
        .find(|(_, id)| *id == chain_id)
        .map_or_else(|| caip2(chain_id), |(name, _)| (*name).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x402::ErrorKind;

    #[test]
    fn caip2_and_legacy() {
        assert_eq!(parse_network("eip155:196").unwrap(), 196);
        assert_eq!(parse_network("eip155:84532").unwrap(), 84532);
        assert_eq!(parse_network("eip155:1").unwrap(), 1);
        assert_eq!(
            parse_network("eip155:18446744073709551615").unwrap(),
            u64::MAX
        );
        for (name, id) in [
            ("xlayer", 196),
            ("base", 8453),
            ("base-sepolia", 84532),
            ("Base-Sepolia", 84532),
            ("ethereum", 1),
            ("mainnet", 1),
            ("polygon", 137),
            ("avalanche", 43114),
            ("avalanche-fuji", 43113),
            ("xlayer-testnet", 1952),
            ("monad", 143),
            ("celo", 42220),
        ] {
            assert_eq!(parse_network(name).unwrap(), id, "{name}");
        }
        assert_eq!(caip2(196), "eip155:196");
    }

    #[test]
    fn rejects() {
        for (s, kind) in [
            ("", ErrorKind::Malformed),
            ("eip155:", ErrorKind::Malformed),
            ("eip155:0", ErrorKind::Malformed),
            ("eip155:0196", ErrorKind::Malformed),
            ("eip155:-1", ErrorKind::Malformed),
            ("eip155:1.5", ErrorKind::Malformed),
            ("eip155: 1", ErrorKind::Malformed),
            ("eip155:18446744073709551616", ErrorKind::OutOfRange),
            ("EIP155:1", ErrorKind::Unsupported),
            (
                "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
                ErrorKind::Unsupported,
            ),
            ("solana", ErrorKind::Unsupported),
            ("x-layer", ErrorKind::Unsupported),
            ("base ", ErrorKind::Unsupported),
        ] {
            assert_eq!(parse_network(s).unwrap_err().kind, kind, "{s:?}");
        }
    }
}
