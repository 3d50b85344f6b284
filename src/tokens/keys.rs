//! The Ed25519 keys that sign queue and admission tokens, and the key set
//! that verifies them.
//!
//! Why Ed25519 (JWS `EdDSA`): 32-byte keys and 64-byte signatures, fast to
//! verify, and deterministic signing, so no nonce can be reused or leaked the
//! way a bad ECDSA random number leaks its key. Every JWT library of note
//! verifies it (PyJWT, `jose`, jsonwebtoken, Go's `jwx`).
//!
//! A key is a PKCS#8 PEM file (`lineup keys generate`, or `openssl genpkey
//! -algorithm ed25519`). A deployment lists several: the first signs, every one
//! verifies and is published at `/.well-known/jwks.json`. Each key's `kid` is
//! its RFC 7638 JWK thumbprint, so every server names a key alike with nothing
//! to agree on.

use anyhow::{Context, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const PEM_LABEL: &str = "PRIVATE KEY";

/// One Ed25519 key: its private half (PKCS#8 v2 DER, which the signer reads)
/// and its public half with its `kid`.
#[derive(Clone)]
pub struct SigningKey {
    pkcs8: Arc<[u8]>,
    public: [u8; 32],
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private half.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from a PKCS#8 PEM file's text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let der = pem_body(pem)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| anyhow!("not an Ed25519 PKCS#8 private key: {e}"))?;
        Self::from_pair(&pair)
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> anyhow::Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| anyhow!("cannot generate an Ed25519 key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| anyhow!("cannot read the generated key: {e}"))?;
        Self::from_pair(&pair)
    }

    /// The key derived from a public seed: only `--demo` and tests use it,
    /// and a real deployment refuses it (anyone can sign with it).
    pub fn from_public_seed(seed: &str) -> Self {
        let seed = Sha256::digest(seed.as_bytes());
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are an Ed25519 seed");
        Self::from_pair(&pair).expect("a seeded key serialises")
    }

    fn from_pair(pair: &Ed25519KeyPair) -> anyhow::Result<Self> {
        let pkcs8 = pair
            .to_pkcs8()
            .map_err(|_| anyhow!("cannot serialise the Ed25519 key"))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .context("an Ed25519 public key is 32 bytes")?;
        Ok(Self {
            pkcs8: Arc::from(pkcs8.as_ref()),
            kid: thumbprint(&public),
            public,
        })
    }

    /// The RFC 7638 thumbprint that names this key in a token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw public key, base64url: a JWK's `x`.
    pub fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public)
    }

    /// The private key as PKCS#8 v2 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The private key as a PEM file's text, what `lineup keys generate` writes:
    /// PKCS#8 v1 (RFC 8410), as `openssl genpkey` writes it and every library
    /// reads it (OpenSSL 3 refuses the v2 document aws-lc produces).
    pub fn to_pem(&self) -> String {
        let v1 = Ed25519KeyPair::from_pkcs8(&self.pkcs8)
            .ok()
            .and_then(|pair| pair.to_pkcs8v1().ok())
            .expect("a checked key serialises as PKCS#8 v1");
        let body = STANDARD.encode(v1.as_ref());
        let mut pem = format!("-----BEGIN {PEM_LABEL}-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str(&format!("-----END {PEM_LABEL}-----\n"));
        pem
    }

    /// The public half as a JWK (RFC 8037): what `/.well-known/jwks.json` lists.
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x(),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        })
    }

    /// The same key's public half only (for comparing keys in tests and logs).
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no
/// whitespace, base64url without padding.
pub fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The DER inside a PEM block labelled `PRIVATE KEY` (PKCS#8).
fn pem_body(pem: &str) -> anyhow::Result<Vec<u8>> {
    let begin = format!("-----BEGIN {PEM_LABEL}-----");
    let end = format!("-----END {PEM_LABEL}-----");
    let Some(start) = pem.find(&begin) else {
        if pem.contains("-----BEGIN") {
            bail!("not a PKCS#8 key: the PEM block must read BEGIN {PEM_LABEL}");
        }
        bail!("not a PEM file: no -----BEGIN {PEM_LABEL}----- line");
    };
    let rest = &pem[start + begin.len()..];
    let stop = rest
        .find(&end)
        .with_context(|| format!("the PEM block has no {end} line"))?;
    let body: String = rest[..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(body).context("the PEM block is not base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 appendix A.1 and A.3: the example key and its thumbprint.
    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        assert_eq!(
            thumbprint(&x.try_into().unwrap()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn a_generated_key_reads_back_from_its_pem() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        // RFC 8410's PKCS#8 v1: version 0, id-Ed25519, the 32-byte seed.
        let der = pem_body(&pem).unwrap();
        assert_eq!(hex::encode(&der[..16]), "302e020100300506032b657004220420");
        assert_eq!(der.len(), 48);
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.public_key(), key.public_key());
        assert_ne!(SigningKey::generate().unwrap().kid(), key.kid());
    }

    /// What `openssl genpkey -algorithm ed25519` writes: PKCS#8 v1 (RFC 8410's example).
    #[test]
    fn an_openssl_pkcs8_v1_key_reads() {
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                   -----END PRIVATE KEY-----\n";
        let key = SigningKey::from_pem(pem).unwrap();
        assert_eq!(key.x(), "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE");
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        for (text, reason) in [
            ("hello", "not a PEM file"),
            (
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
                "PKCS#8",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
                "base64",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "Ed25519",
            ),
        ] {
            let err = SigningKey::from_pem(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = SigningKey::from_public_seed("x");
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()) && !shown.contains(&STANDARD.encode(key.pkcs8_der())));
    }
}
