//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! - [`Input`]: a cursor that turns fuzz bytes into choices, integers and text.
//! - [`test_keys`]: the fixed JWT test keys of `core/tests/data/jwt_keys.json`
//!   (test fixtures only: never use them anywhere else), each with the key
//!   texts a user could configure for it (secret, PEM, JWK) and a signer.
//! - [`sign_jwt`]: compact JWS signing for every algorithm the core verifies
//!   (the core only verifies, so signing lives here).
//! - [`DetRng`]: a deterministic RNG for RSA blinding and PSS salts, so a
//!   crash input always reproduces.
//! - [`verify_in_pieces`]: `jwt::verify` the way the SQL shell runs it
//!   (signature, payload into a caller's document, claim checks), for the
//!   invariant that both give the same answer.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use insforge_core::jwt::{
    check_claims, parse_payload, verify_signature, Algorithm, JwtError, KeySet, ValueSink,
    VerifyOptions,
};
use serde_json::{json, Map, Value};

/// The `now` every JWT target verifies at: the test vectors' clock.
pub const NOW: i64 = 1_750_000_000;

/// The HMAC secret of the JWT test vectors (core/tests/data/jwt_gen_vectors.py).
pub const SECRET: &str = "insforge-test-jwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz!!";

const KEYS_JSON: &str = include_str!("../../core/tests/data/jwt_keys.json");

// ------------------------------------------------------------------ input

/// Reads fuzz bytes front to back; past the end every read gives zeros, so a
/// short input is still a valid (if boring) choice of everything.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// An index below `n` (n > 0).
    pub fn choose(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            *b = self.byte();
        }
        out
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array::<8>())
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A short string: a length byte, then that many bytes, lossy UTF-8.
    pub fn short_str(&mut self, max: usize) -> String {
        let n = usize::from(self.byte()) % (max + 1);
        String::from_utf8_lossy(self.take(n)).into_owned()
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Fuzz bytes as text: valid UTF-8 as is, otherwise lossily converted (so
/// invalid input still exercises the parser instead of being dropped).
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

// ------------------------------------------------------------------ rng

/// SplitMix64; deterministic so that crashes reproduce. Only used where an
/// algorithm needs randomness that does not affect verification (RSA
/// blinding, PSS salt).
pub struct DetRng(u64);

impl DetRng {
    pub fn new(seed: u64) -> Self {
        DetRng(seed)
    }
}

impl rand_core::RngCore for DetRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for DetRng {}

// ------------------------------------------------------------------ JWT keys

/// A private key able to sign the algorithms of its family.
pub enum Signer {
    Hmac(Vec<u8>),
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// One fixed test key.
pub struct TestKey {
    /// Also its `kid` in [`jwks`].
    pub name: &'static str,
    pub signer: Signer,
    /// The algorithms that fit this key.
    pub algs: Vec<Algorithm>,
    /// Key texts [`KeySet::parse`] accepts for it: secret / PEM / JWK forms.
    pub texts: Vec<String>,
    /// The JWK (public) of this key, without `kid`.
    pub jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem_of(name: &str) -> String {
    let all: Value = serde_json::from_str(KEYS_JSON).expect("jwt_keys.json is JSON");
    all[name]
        .as_str()
        .unwrap_or_else(|| panic!("jwt_keys.json has no {name}"))
        .to_string()
}

fn build_keys() -> Vec<TestKey> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    use p256::pkcs8::{EncodePublicKey as _, LineEnding};
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    use rsa::traits::PublicKeyParts as _;

    let mut keys = Vec::new();

    let secret = SECRET.as_bytes().to_vec();
    let jwk = json!({"kty": "oct", "k": b64(&secret)});
    keys.push(TestKey {
        name: "hs",
        signer: Signer::Hmac(secret),
        algs: vec![Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512],
        texts: vec![SECRET.to_string(), jwk.to_string()],
        jwk,
    });

    let rsa_key =
        rsa::RsaPrivateKey::from_pkcs8_pem(&pem_of("rsa2048_a")).expect("rsa2048_a parses");
    let public = rsa_key.to_public_key();
    let jwk = json!({"kty": "RSA", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())});
    keys.push(TestKey {
        name: "rsa",
        algs: vec![
            Algorithm::Rs256,
            Algorithm::Rs384,
            Algorithm::Rs512,
            Algorithm::Ps256,
            Algorithm::Ps384,
            Algorithm::Ps512,
        ],
        texts: vec![
            rsa::pkcs8::EncodePublicKey::to_public_key_pem(&public, LineEnding::LF)
                .expect("rsa spki pem"),
            public.to_pkcs1_pem(LineEnding::LF).expect("rsa pkcs1 pem"),
            jwk.to_string(),
        ],
        jwk,
        signer: Signer::Rsa(Box::new(rsa_key)),
    });

    let sk = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem_of("p256_a")).expect("p256_a parses");
    let pk = p256::PublicKey::from(sk.verifying_key());
    let jwk: Value = serde_json::from_str(&pk.to_jwk_string()).expect("p256 jwk");
    keys.push(TestKey {
        name: "p256",
        algs: vec![Algorithm::Es256],
        texts: vec![
            pk.to_public_key_pem(LineEnding::LF).expect("p256 pem"),
            jwk.to_string(),
        ],
        jwk,
        signer: Signer::P256(sk),
    });

    let sk = p384::ecdsa::SigningKey::from_pkcs8_pem(&pem_of("p384")).expect("p384 parses");
    let pk = p384::PublicKey::from(sk.verifying_key());
    let jwk: Value = serde_json::from_str(&pk.to_jwk_string()).expect("p384 jwk");
    keys.push(TestKey {
        name: "p384",
        algs: vec![Algorithm::Es384],
        texts: vec![
            pk.to_public_key_pem(LineEnding::LF).expect("p384 pem"),
            jwk.to_string(),
        ],
        jwk,
        signer: Signer::P384(sk),
    });

    let sk =
        ed25519_dalek::SigningKey::from_pkcs8_pem(&pem_of("ed25519_a")).expect("ed25519_a parses");
    let vk = sk.verifying_key();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(vk.as_bytes())});
    keys.push(TestKey {
        name: "ed",
        algs: vec![Algorithm::EdDsa],
        texts: vec![
            vk.to_public_key_pem(LineEnding::LF).expect("ed25519 pem"),
            jwk.to_string(),
        ],
        jwk,
        signer: Signer::Ed25519(sk),
    });

    for k in &keys {
        for t in &k.texts {
            KeySet::parse(t).unwrap_or_else(|e| panic!("test key text {} rejected: {e}", k.name));
        }
    }
    keys
}

/// The fixed test keys: an HMAC secret, RSA-2048, P-256, P-384, Ed25519.
pub fn test_keys() -> &'static [TestKey] {
    static KEYS: OnceLock<Vec<TestKey>> = OnceLock::new();
    KEYS.get_or_init(build_keys)
}

/// The text of a JWKS holding every test key, each with `kid` = its name.
pub fn jwks_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let keys: Vec<Value> = test_keys()
            .iter()
            .map(|k| {
                let mut jwk = k.jwk.clone();
                jwk["kid"] = json!(k.name);
                jwk
            })
            .collect();
        json!({ "keys": keys }).to_string()
    })
}

/// Every key text of every test key, plus the JWKS, parsed once.
pub fn fixed_keysets() -> &'static [(String, KeySet)] {
    static SETS: OnceLock<Vec<(String, KeySet)>> = OnceLock::new();
    SETS.get_or_init(|| {
        let mut out = Vec::new();
        for k in test_keys() {
            for (n, t) in k.texts.iter().enumerate() {
                out.push((format!("{}#{n}", k.name), KeySet::parse(t).expect("parses")));
            }
        }
        out.push((
            "jwks".to_string(),
            KeySet::parse(jwks_text()).expect("jwks parses"),
        ));
        out
    })
}

/// Signs `signing_input` (`header.payload`) with `alg` under `signer`.
/// Returns None when `alg` does not fit the signer's family.
pub fn sign_raw(
    signer: &Signer,
    alg: Algorithm,
    signing_input: &[u8],
    seed: u64,
) -> Option<Vec<u8>> {
    use hmac::{Hmac, Mac};
    use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
    use sha2::{Sha256, Sha384, Sha512};

    fn hmac_sign<M: Mac + hmac::digest::KeyInit>(secret: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("any key length");
        mac.update(msg);
        mac.finalize().into_bytes().to_vec()
    }
    let mut rng = DetRng::new(seed);
    let sig = match (signer, alg) {
        (Signer::Hmac(s), Algorithm::Hs256) => hmac_sign::<Hmac<Sha256>>(s, signing_input),
        (Signer::Hmac(s), Algorithm::Hs384) => hmac_sign::<Hmac<Sha384>>(s, signing_input),
        (Signer::Hmac(s), Algorithm::Hs512) => hmac_sign::<Hmac<Sha512>>(s, signing_input),
        (Signer::Rsa(k), Algorithm::Rs256) => {
            rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone())
                .sign(signing_input)
                .to_vec()
        }
        (Signer::Rsa(k), Algorithm::Rs384) => {
            rsa::pkcs1v15::SigningKey::<Sha384>::new((**k).clone())
                .sign(signing_input)
                .to_vec()
        }
        (Signer::Rsa(k), Algorithm::Rs512) => {
            rsa::pkcs1v15::SigningKey::<Sha512>::new((**k).clone())
                .sign(signing_input)
                .to_vec()
        }
        (Signer::Rsa(k), Algorithm::Ps256) => rsa::pss::SigningKey::<Sha256>::new((**k).clone())
            .sign_with_rng(&mut rng, signing_input)
            .to_vec(),
        (Signer::Rsa(k), Algorithm::Ps384) => rsa::pss::SigningKey::<Sha384>::new((**k).clone())
            .sign_with_rng(&mut rng, signing_input)
            .to_vec(),
        (Signer::Rsa(k), Algorithm::Ps512) => rsa::pss::SigningKey::<Sha512>::new((**k).clone())
            .sign_with_rng(&mut rng, signing_input)
            .to_vec(),
        (Signer::P256(k), Algorithm::Es256) => {
            let s: p256::ecdsa::Signature = k.sign(signing_input);
            s.to_bytes().to_vec()
        }
        (Signer::P384(k), Algorithm::Es384) => {
            let s: p384::ecdsa::Signature = k.sign(signing_input);
            s.to_bytes().to_vec()
        }
        (Signer::Ed25519(k), Algorithm::EdDsa) => ed25519_dalek::Signer::sign(k, signing_input)
            .to_bytes()
            .to_vec(),
        _ => return None,
    };
    Some(sig)
}

/// A compact JWS of `header` (a JSON value, serialized as is) and the raw
/// `payload` bytes, signed with `alg`. None when `alg` does not fit.
pub fn sign_jwt(
    signer: &Signer,
    alg: Algorithm,
    header: &Value,
    payload: &[u8],
    seed: u64,
) -> Option<String> {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let sig = sign_raw(signer, alg, input.as_bytes(), seed)?;
    Some(format!("{input}.{}", b64(&sig)))
}

/// One valid token per test key and algorithm (claims with `sub`, no `exp`),
/// signed once: what the key-parsing target verifies against arbitrary keys.
pub fn sample_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut out = Vec::new();
        for k in test_keys() {
            for &alg in &k.algs {
                for kid in [None, Some(k.name)] {
                    let mut header = json!({"alg": alg.as_str(), "typ": "JWT"});
                    if let Some(kid) = kid {
                        header["kid"] = json!(kid);
                    }
                    let payload =
                        br#"{"sub":"user_1","role":"authenticated","aud":"insforge-api"}"#;
                    out.push(sign_jwt(&k.signer, alg, &header, payload, 7).expect("fits"));
                }
            }
        }
        out
    })
}

// ------------------------------------------------------------------ x402

/// n - x for secp256k1's group order n (x < n), big-endian: turns a low-s
/// signature into its malleable high-s twin.
pub fn secp256k1_n_minus(x: &[u8; 32]) -> [u8; 32] {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(N[i]) - i16::from(x[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

// ------------------------------------------------------------------ verify in pieces

/// `jwt::verify` as the SQL shell's `verify_jwt` runs it: `verify_signature`,
/// `payload_bytes_into`, `parse_payload`, `check_claims`.
pub fn verify_in_pieces(
    token: &str,
    keys: &KeySet,
    opts: &VerifyOptions,
) -> Result<Map<String, Value>, JwtError> {
    let mut payload = Vec::new();
    verify_signature(token, keys)?.payload_bytes_into(&mut payload)?;
    let (claims, checked) = parse_payload(&payload, &mut ValueSink)?;
    check_claims(&checked, opts)?;
    match claims {
        Value::Object(map) => Ok(map),
        _ => unreachable!("parse_payload returns objects only"),
    }
}
