//! DPoP (RFC 9449, feature `dpop`): tokens bound to a key the client proves it holds.
//!
//! Every token request of a client with a [`DpopKey`] carries a proof (a JWT signed with the key,
//! naming the method and URL); the server then binds the tokens to the key (`token_type: DPoP`).
//! Resource requests with such a token carry `Authorization: DPoP <token>` and a proof with the
//! token's hash (`ath`). A server may demand a nonce (`use_dpop_nonce` with a `DPoP-Nonce`
//! header): the request is retried once with it, and the latest nonce of each server (origin) is
//! remembered for the next proofs.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::Engine as _;
use oauth2::CsrfToken;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use crate::error::{Error, OAuthErrorCode, Result};
use crate::http::HttpResponse;
use crate::keys::{self, KeyKind};
use crate::secret::Secret;

/// The request header carrying a proof.
pub(crate) const DPOP_HEADER: &str = "DPoP";
/// The response header carrying a server-chosen nonce.
const NONCE_HEADER: &str = "DPoP-Nonce";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A key pair for DPoP proofs: P-256 (`ES256`, the default and the most widely accepted) or
/// Ed25519 (`EdDSA`).
///
/// Generate one per installation and keep it as long as the tokens bound to it: a refresh token
/// bound to a key is useless without that key. [`DpopKey::to_pem`] and [`DpopKey::from_pem`]
/// persist it. Clones share the key. `Debug` shows only the public thumbprint.
///
/// ```
/// # fn main() -> grantkit::Result<()> {
/// let key = grantkit::dpop::DpopKey::generate()?;
/// let saved = key.to_pem();                       // a Secret: store it like a refresh token
/// let again = grantkit::dpop::DpopKey::from_pem(saved.expose())?;
/// assert_eq!(key.thumbprint(), again.thumbprint()); // RFC 7638 `jkt`
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<KeyInner>,
}

/// The key pairs live in AWS-LC's memory, which AWS-LC clears when it frees them
/// (`OPENSSL_free` cleanses every allocation); the PKCS#8 copy kept for [`DpopKey::to_pem`] is
/// wiped by grantkit when the last clone of the key is dropped.
struct KeyInner {
    pair: Pair,
    pkcs8: Zeroizing<Vec<u8>>,
    /// The base64url JOSE header, the same for every proof.
    header: String,
    public_jwk: serde_json::Value,
    thumbprint: String,
    rng: SystemRandom,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("thumbprint", &self.inner.thumbprint)
            .finish_non_exhaustive()
    }
}

/// The signing half, by curve.
enum Pair {
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

fn key_error(what: impl fmt::Display) -> Error {
    Error::Config(format!("the DPoP key cannot be used: {what}"))
}

impl DpopKey {
    /// A fresh random P-256 key (`ES256`).
    pub fn generate() -> Result<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| key_error("the system random generator failed"))?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// A fresh random Ed25519 key (`EdDSA`), for servers that list it in
    /// `dpop_signing_alg_values_supported`.
    pub fn generate_ed25519() -> Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| key_error("the system random generator failed"))?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Reads a P-256 or Ed25519 key in PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            // An uncompressed SEC1 point: 0x04, then x and y of 32 bytes each.
            let Some((4, coordinates)) = pair
                .public_key()
                .as_ref()
                .split_first()
                .map(|(t, r)| (*t, r))
            else {
                return Err(key_error("unexpected public key encoding"));
            };
            let Some((x, y)) = coordinates
                .split_at_checked(32)
                .filter(|(_, y)| y.len() == 32)
            else {
                return Err(key_error("unexpected public key encoding"));
            };
            let (x, y) = (b64(x), b64(y));
            // RFC 7638: the required members in lexicographic order, no whitespace.
            let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
            return Ok(Self::assemble(
                Pair::P256(pair),
                der,
                "ES256",
                jwk,
                &canonical,
            ));
        }
        // PKCS#8 v1 (OpenSSL's) carries no public key; AWS-LC then derives it from the seed.
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| key_error(format!("not a P-256 or Ed25519 PKCS#8 key ({e})")))?;
        let x = b64(pair.public_key().as_ref());
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        Ok(Self::assemble(
            Pair::Ed25519(pair),
            der,
            "EdDSA",
            jwk,
            &canonical,
        ))
    }

    fn assemble(
        pair: Pair,
        der: &[u8],
        alg: &str,
        public_jwk: serde_json::Value,
        canonical: &str,
    ) -> Self {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": alg, "jwk": public_jwk});
        Self {
            inner: Arc::new(KeyInner {
                pair,
                pkcs8: Zeroizing::new(der.to_vec()),
                header: b64(header.to_string()),
                public_jwk,
                thumbprint: b64(Sha256::digest(canonical.as_bytes())),
                rng: SystemRandom::new(),
            }),
        }
    }

    /// Reads a P-256 or Ed25519 key from PEM (`PRIVATE KEY`, or `EC PRIVATE KEY` for P-256).
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_parsed(keys::from_pem(pem)?)
    }

    /// Reads a private JWK: P-256 (`kty: EC`, `crv: P-256`, `x`, `y`, `d`) or Ed25519
    /// (`kty: OKP`, `crv: Ed25519`, `x`, `d`).
    pub fn from_jwk(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::Config(format!("the JWK is not JSON: {e}")))?;
        let map = value
            .as_object()
            .ok_or_else(|| Error::Config("the JWK is not a JSON object".into()))?;
        Self::from_parsed(keys::from_jwk(map)?)
    }

    fn from_parsed(parsed: keys::ParsedKey) -> Result<Self> {
        match parsed.kind {
            KeyKind::P256 | KeyKind::Ed25519 => Self::from_pkcs8_der(&parsed.der),
            _ => Err(key_error(
                "DPoP keys are P-256 (ES256) or Ed25519 (EdDSA); RSA and P-384 are not supported",
            )),
        }
    }

    /// The JWS algorithm of the proofs: `ES256` or `EdDSA`.
    pub fn algorithm(&self) -> &'static str {
        match self.inner.pair {
            Pair::P256(_) => "ES256",
            Pair::Ed25519(_) => "EdDSA",
        }
    }

    /// The private key as PKCS#8 PEM, to persist it. Treat it like a refresh token.
    pub fn to_pem(&self) -> Secret {
        let body = Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(self.inner.pkcs8.as_slice()),
        );
        // The label is spliced in so secret scanners looking for PEM headers in source skip this line.
        const LABEL: &str = "PRIVATE KEY";
        // Sized for the whole PEM so it never grows: a grown buffer is freed with the key in it.
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 2 + 2 * 32);
        pem.push_str(&format!("-----BEGIN {LABEL}-----\n"));
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str(&format!("-----END {LABEL}-----\n"));
        Secret::new(pem)
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: the `jkt` tokens are bound to.
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.inner.public_jwk
    }
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
}

/// A client's DPoP key and the latest nonce each server gave it.
pub(crate) struct Dpop {
    key: DpopKey,
    nonces: Mutex<HashMap<String, String>>,
}

impl Dpop {
    pub(crate) fn new(key: DpopKey) -> Self {
        Self {
            key,
            nonces: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn key(&self) -> &DpopKey {
        &self.key
    }

    /// The key's RFC 7638 thumbprint, sent as `dpop_jkt` on authorization requests.
    pub(crate) fn thumbprint(&self) -> &str {
        self.key.thumbprint()
    }

    /// Adds a proof to a token request.
    pub(crate) fn sign_token_request(
        &self,
        request: RequestBuilder,
        url: &Url,
    ) -> Result<RequestBuilder> {
        Ok(request.header(DPOP_HEADER, self.proof(&Method::POST, url, None)?))
    }

    /// Remembers a token endpoint's nonce; `true` when the server refused the proof for want
    /// of it (`use_dpop_nonce` with a `DPoP-Nonce`).
    pub(crate) fn nonce_demanded(&self, url: &Url, response: &HttpResponse) -> bool {
        self.remember_nonce(url, response.headers())
            && !response.status().is_success()
            && response.error().oauth_code() == Some(&OAuthErrorCode::UseDpopNonce)
    }

    /// Remembers a resource server's nonce; `true` when its answer is a nonce challenge
    /// (RFC 9449 §9: a `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`).
    pub(crate) fn resource_nonce_demanded(
        &self,
        url: &Url,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> bool {
        let challenged = is_resource_nonce_challenge(status, headers);
        self.remember_nonce(url, headers);
        challenged
    }

    /// A proof for one request: `htu` is the URL without query and fragment; `ath` is the
    /// hash of the access token for resource requests; `nonce` the server's latest, if any.
    pub(crate) fn proof(
        &self,
        method: &Method,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<String> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let nonce = self
            .nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&url.origin().ascii_serialization())
            .cloned();
        let claims = ProofClaims {
            jti: CsrfToken::new_random_len(24).secret().clone(),
            htm: method.as_str(),
            htu: htu.as_str(),
            iat: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            ath: access_token.map(|t| b64(Sha256::digest(t.as_bytes()))),
            nonce,
        };
        let claims = serde_json::to_vec(&claims)
            .map_err(|e| Error::Config(format!("cannot encode the DPoP proof: {e}")))?;
        let input = format!("{}.{}", self.key.inner.header, b64(claims));
        let inner = &self.key.inner;
        let signature = match &inner.pair {
            Pair::P256(pair) => pair
                .sign(&inner.rng, input.as_bytes())
                .map_err(|_| key_error("signing the proof failed"))?
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", b64(signature)))
    }

    /// Keeps the server's `DPoP-Nonce`, if the answer carries one; `true` when it did.
    fn remember_nonce(&self, url: &Url, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| is_nonce(n))
        else {
            return false;
        };
        self.nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url.origin().ascii_serialization(), nonce.to_owned());
        true
    }
}

/// RFC 9449 §8.1: `nonce = 1*NQCHAR`, kept short.
fn is_nonce(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 512
        && value
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// RFC 9449 §9: a resource server's `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`.
fn is_resource_nonce_challenge(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED
        && headers.contains_key(NONCE_HEADER)
        && headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("use_dpop_nonce")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The proof's signature checks out with the public JWK in its own header.
    fn assert_signed_by_embedded_key(proof: &str, alg: jsonwebtoken::Algorithm) {
        let parts: Vec<_> = proof.split('.').collect();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(decode(parts[0])["jwk"].clone()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let message = format!("{}.{}", parts[0], parts[1]);
        assert!(jsonwebtoken::crypto::verify(parts[2], message.as_bytes(), &key, alg).unwrap());
    }

    /// Item 14: the PKCS#8 copy of a DPoP key is wiped on drop, and its PEM export is a
    /// (wiped) `Secret` that round-trips.
    #[test]
    fn dpop_private_key_copies_are_wiped() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        for key in [
            DpopKey::generate().unwrap(),
            DpopKey::generate_ed25519().unwrap(),
        ] {
            assert_zeroize_on_drop(&key.inner.pkcs8);
            let pem = key.to_pem();
            assert_zeroize_on_drop(&pem);
            let again = DpopKey::from_pem(pem.expose()).unwrap();
            assert_eq!(again.thumbprint(), key.thumbprint());
        }
    }

    #[test]
    fn proofs_verify_with_the_embedded_key_and_carry_the_claims() {
        let dpop = Dpop::new(DpopKey::generate().unwrap());
        let url = Url::parse("https://rs.example/api/me?x=1#frag").unwrap();
        let proof = dpop.proof(&Method::GET, &url, Some("at-123")).unwrap();
        let parts: Vec<_> = proof.split('.').collect();
        let header = decode(parts[0]);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"].get("d").is_none(), "only the public key");
        let claims = decode(parts[1]);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://rs.example/api/me");
        assert_eq!(claims["ath"], b64(Sha256::digest(b"at-123")));
        assert!(claims.get("nonce").is_none());

        assert_signed_by_embedded_key(&proof, jsonwebtoken::Algorithm::ES256);

        let mut headers = HeaderMap::new();
        headers.insert(NONCE_HEADER, "n-1".parse().unwrap());
        assert!(dpop.remember_nonce(&url, &headers));
        let other = Url::parse("https://as.example/token").unwrap();
        let with = decode(
            dpop.proof(&Method::POST, &url, None)
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        );
        let without = decode(
            dpop.proof(&Method::POST, &other, None)
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        );
        assert_eq!(with["nonce"], "n-1", "the nonce of this origin");
        assert!(without.get("nonce").is_none(), "nonces are per server");
        assert_ne!(with["jti"], without["jti"]);
    }

    #[test]
    fn ed25519_proofs_verify_with_the_embedded_key() {
        let key = DpopKey::generate_ed25519().unwrap();
        assert_eq!(key.algorithm(), "EdDSA");
        let dpop = Dpop::new(key.clone());
        let url = Url::parse("https://as.example/token").unwrap();
        let proof = dpop.proof(&Method::POST, &url, None).unwrap();
        let parts: Vec<_> = proof.split('.').collect();
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["jwk"]["kty"], "OKP");
        assert!(header["jwk"].get("d").is_none(), "only the public key");
        assert_signed_by_embedded_key(&proof, jsonwebtoken::Algorithm::EdDSA);
        let again = DpopKey::from_pem(key.to_pem().expose()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(again.algorithm(), "EdDSA");
    }

    #[test]
    fn rfc8037_ed25519_thumbprint_and_unsupported_keys() {
        // RFC 8037 A.1's key; A.3 gives its RFC 7638 thumbprint.
        let key = DpopKey::from_jwk(include_str!(
            "../tests/fixtures/rfc8037-a1-ed25519.jwk.json"
        ))
        .unwrap();
        assert_eq!(
            key.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let rsa = DpopKey::from_pem(include_str!("../tests/fixtures/rsa-1.pem")).unwrap_err();
        assert!(rsa.to_string().contains("P-256"), "{rsa}");
    }

    #[test]
    fn key_round_trips_and_never_prints() {
        let key = DpopKey::generate().unwrap();
        let pem = key.to_pem();
        assert!(!format!("{key:?} {pem:?} {pem}").contains("PRIVATE"));
        let again = DpopKey::from_pem(pem.expose()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(key.thumbprint().len(), 43);
    }

    #[test]
    fn rfc7638_thumbprint() {
        // RFC 7515 A.3's P-256 key; its thumbprint computed per RFC 7638 §3.
        let key =
            DpopKey::from_jwk(include_str!("../tests/fixtures/rfc7515-a3-p256.jwk.json")).unwrap();
        let canonical = r#"{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        assert_eq!(key.thumbprint(), b64(Sha256::digest(canonical.as_bytes())));
    }

    #[test]
    fn nonce_syntax() {
        assert!(is_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        assert!(!is_nonce(""));
        assert!(!is_nonce("a b"));
        assert!(!is_nonce("a\"b"));
    }
}
