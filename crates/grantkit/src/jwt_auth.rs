//! JWT client authentication (RFC 7523 §2.2, OpenID Connect Core §9): `private_key_jwt` with a
//! [`ClientKey`], `client_secret_jwt` with the client secret. Each call gets a fresh assertion:
//! `iss` = `sub` = the client id, `aud` = the issuer (or, opted into, the token endpoint), a
//! random `jti`, `iat` now and `exp` 60 seconds later. See [`JwtAudience`] for why the issuer.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::CsrfToken;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::keys::{self, KeyKind, ParsedKey};

/// How long a client assertion is valid. Short: it is made for one request.
const ASSERTION_LIFETIME_SECS: u64 = 60;

/// The `client_assertion_type` of RFC 7523 §2.2.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's private key for `private_key_jwt`: RSA (RS256 by default; RS384/512, PS256/384/512
/// on request), EC P-256 (ES256), EC P-384 (ES384) or Ed25519 (EdDSA), read from PEM or a JWK.
///
/// The key is checked by signing once when it is loaded, so a broken key fails here and not
/// at the first token request. `Debug` shows the algorithm and `kid`, never the key; errors
/// never quote it.
///
/// ```
/// use grantkit::jwt_auth::ClientKey;
///
/// // RFC 7515 Appendix A.3's published example key: load yours from a secret store.
/// let jwk = include_str!("../tests/fixtures/rfc7515-a3-p256.jwk.json");
/// let key = ClientKey::from_jwk(jwk)?;
/// assert_eq!(key.algorithm(), "ES256");
/// assert_eq!(key.kid(), Some("k1"));
/// assert!(!format!("{key:?}").contains("jpsQ"));
/// # Ok::<(), grantkit::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientKey {
    encoding: EncodingKey,
    kind: KeyKind,
    alg: Algorithm,
    kid: Option<String>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// Reads a PEM private key: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
    /// `EC PRIVATE KEY` (SEC1). Encrypted keys are refused; decrypt them first.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_parsed(keys::from_pem(pem)?)
    }

    /// Reads a private JWK (JSON text): RSA with `n e d p q dp dq qi`, EC with `crv x y d`,
    /// OKP Ed25519 with `x d`. Its `kid` and `alg` are used when present.
    pub fn from_jwk(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::Config(format!("the JWK is not JSON: {e}")))?;
        let map = value
            .as_object()
            .ok_or_else(|| Error::Config("the JWK is not a JSON object".into()))?;
        Self::from_parsed(keys::from_jwk(map)?)
    }

    fn from_parsed(parsed: ParsedKey) -> Result<Self> {
        let encoding = match parsed.kind {
            KeyKind::Rsa => EncodingKey::from_rsa_der(&parsed.der),
            KeyKind::P256 | KeyKind::P384 => EncodingKey::from_ec_der(&parsed.der),
            KeyKind::Ed25519 => EncodingKey::from_ed_der(&parsed.der),
        };
        let default_alg = match parsed.kind {
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::P256 => Algorithm::ES256,
            KeyKind::P384 => Algorithm::ES384,
            KeyKind::Ed25519 => Algorithm::EdDSA,
        };
        let key = Self {
            encoding,
            kind: parsed.kind,
            alg: default_alg,
            kid: parsed.kid,
        };
        let key = match parsed.alg {
            Some(alg) => key.with_algorithm(&alg)?,
            None => key.checked()?,
        };
        Ok(key)
    }

    /// Sets the `kid` header (the key's id in the JWKS registered for the client). Set it when
    /// the client has several keys; a JWK's own `kid` is used by default.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Picks the signing algorithm: for RSA keys `RS256` (default), `RS384`, `RS512`, `PS256`,
    /// `PS384` or `PS512`; EC and Ed25519 keys have exactly one.
    pub fn with_algorithm(mut self, alg: &str) -> Result<Self> {
        let wanted = match (self.kind, alg) {
            (KeyKind::Rsa, "RS256") => Algorithm::RS256,
            (KeyKind::Rsa, "RS384") => Algorithm::RS384,
            (KeyKind::Rsa, "RS512") => Algorithm::RS512,
            (KeyKind::Rsa, "PS256") => Algorithm::PS256,
            (KeyKind::Rsa, "PS384") => Algorithm::PS384,
            (KeyKind::Rsa, "PS512") => Algorithm::PS512,
            (KeyKind::P256, "ES256") => Algorithm::ES256,
            (KeyKind::P384, "ES384") => Algorithm::ES384,
            (KeyKind::Ed25519, "EdDSA" | "Ed25519") => Algorithm::EdDSA,
            _ => {
                return Err(Error::Config(format!(
                    "a {:?} key cannot sign with `{}`",
                    self.kind,
                    crate::error::truncate(alg, 20)
                )))
            }
        };
        self.alg = wanted;
        self.checked()
    }

    /// Signs once, so a key `aws-lc-rs` refuses (inconsistent, missing its public part...) fails
    /// at load time.
    fn checked(self) -> Result<Self> {
        ensure_jwt_crypto();
        jsonwebtoken::crypto::sign(b"grantkit key check", &self.encoding, self.alg)
            .map_err(|e| key_error(&e))?;
        Ok(self)
    }

    /// The JWS algorithm (`RS256`, `ES256`, `EdDSA`...).
    pub fn algorithm(&self) -> &'static str {
        match self.alg {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => "HS",
            // `Algorithm` is non-exhaustive; grantkit never builds a key for an algorithm
            // it does not name above.
            _ => "unknown",
        }
    }

    /// The `kid` sent in the assertion header, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// Makes sure jsonwebtoken has a crypto backend before it signs or verifies. Since 10 it
/// chooses one at run time, by itself only when exactly one of its backend features is on: an
/// application whose other dependencies also turn on `rust_crypto` leaves it none, and
/// jsonwebtoken then panics at the first signature. grantkit then installs aws-lc-rs, the
/// backend it is built with (a process-wide choice, which that application would have to make
/// anyway).
pub(crate) fn ensure_jwt_crypto() {
    use jsonwebtoken::crypto::{aws_lc, CryptoProvider};
    if CryptoProvider::try_get_default().is_none() {
        // Another thread may install one first; either way one is installed after this.
        let _ = aws_lc::DEFAULT_PROVIDER.install_default();
    }
}

fn key_error(e: &jsonwebtoken::errors::Error) -> Error {
    // jsonwebtoken's errors name the failure kind (aws-lc-rs's "InvalidEncoding", ...), never the key.
    Error::Config(format!("the private key cannot sign: {e}"))
}

/// Which audience a client assertion names, and how it is typed.
///
/// The 2025 OpenID Foundation disclosure on audience injection: an assertion whose `aud` is
/// an endpoint URL taken from a provider's metadata can be replayed by a hostile provider
/// whose metadata names an honest provider's token endpoint (the same assertion kind also
/// goes to PAR, revocation, introspection and device endpoints). draft-ietf-oauth-rfc7523bis
/// (§4, updating RFC 7523 §3) answers it: the `aud` of a client authentication JWT is the
/// authorization server's issuer identifier (RFC 8414) as its single value, and the JWT is
/// explicitly typed `typ: client-authentication+jwt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtAudience {
    /// The provider's issuer identifier, as a single string, with the header
    /// `typ: client-authentication+jwt` (draft-ietf-oauth-rfc7523bis). Default. The client
    /// refuses to build when the provider has no issuer.
    #[default]
    Issuer,
    /// Opt-in, the behaviour before grantkit followed draft-ietf-oauth-rfc7523bis: the token
    /// endpoint URL from the metadata (OpenID Connect Core §9) for calls to every endpoint,
    /// with `typ: JWT`. Only for a provider that refuses its own issuer as audience or has
    /// none; it is open to audience injection when the metadata is not trusted.
    TokenEndpoint,
}

impl JwtAudience {
    /// The `typ` header of assertions for this audience: the draft's explicit type with the
    /// issuer; the old plain `JWT` with the opt-in, for servers that predate the draft.
    pub(crate) fn typ(&self) -> &'static str {
        match self {
            JwtAudience::Issuer => CLIENT_AUTH_TYP,
            JwtAudience::TokenEndpoint => "JWT",
        }
    }
}

/// The explicit type of draft-ietf-oauth-rfc7523bis §4 (registered as the media type
/// `application/client-authentication+jwt`).
const CLIENT_AUTH_TYP: &str = "client-authentication+jwt";

/// What signs the assertion.
pub(crate) enum Signer<'a> {
    Key(&'a ClientKey),
    /// The client secret as an HS256 key, made once per client (see `Client`).
    Secret(&'a EncodingKey),
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

/// A fresh client assertion for one request, typed `typ` (see [`JwtAudience::typ`]).
pub(crate) fn client_assertion(
    client_id: &str,
    audience: &str,
    typ: &'static str,
    signer: Signer<'_>,
) -> Result<String> {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        iss: client_id,
        sub: client_id,
        aud: audience,
        jti: CsrfToken::new_random_len(24).secret().clone(),
        iat,
        exp: iat + ASSERTION_LIFETIME_SECS,
    };
    // Borrowed, never cloned: each clone of a jsonwebtoken key is a copy of the private key
    // that is freed without being wiped.
    let (alg, kid, key) = match signer {
        Signer::Key(key) => (key.alg, key.kid.clone(), &key.encoding),
        Signer::Secret(key) => (Algorithm::HS256, None, key),
    };
    let header = Header {
        typ: Some(typ.into()),
        kid,
        ..Header::new(alg)
    };
    ensure_jwt_crypto();
    jsonwebtoken::encode(&header, &claims, key).map_err(|e| key_error(&e))
}

/// Signs `claims` with `key` as a JWT typed `typ`: for assertions other than client
/// authentication (the JWT bearer grant, RFC 7523 §2.1).
pub(crate) fn sign_with_key(
    key: &ClientKey,
    typ: &'static str,
    claims: &impl Serialize,
) -> Result<String> {
    let header = Header {
        typ: Some(typ.into()),
        kid: key.kid.clone(),
        ..Header::new(key.alg)
    };
    jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| key_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// RFC 7515 Appendix A.3's published example key.
    const EC_JWK: &str = include_str!("../tests/fixtures/rfc7515-a3-p256.jwk.json");

    fn decode(part: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn assertion_claims_are_fresh_and_short_lived() {
        let key = ClientKey::from_jwk(EC_JWK).unwrap();
        let a = client_assertion("c1", "https://op/token", "JWT", Signer::Key(&key)).unwrap();
        let b = client_assertion("c1", "https://op/token", "JWT", Signer::Key(&key)).unwrap();
        let parts: Vec<_> = a.split('.').collect();
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        assert_eq!(header["typ"], "JWT");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "c1");
        assert_eq!(claims["sub"], "c1");
        assert_eq!(claims["aud"], "https://op/token");
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, 60);
        let jti_b = decode(b.split('.').nth(1).unwrap())["jti"].clone();
        assert_ne!(claims["jti"], jti_b, "a fresh jti per assertion");
        assert!(claims["jti"].as_str().unwrap().len() >= 32);
    }

    /// The private key of a `ClientKey` and the `client_secret_jwt` HMAC key live in
    /// jsonwebtoken's `EncodingKey`, which wipes them on drop since jsonwebtoken 10 (9 could
    /// not; docs/security.md listed them as not wiped).
    #[test]
    fn jsonwebtoken_keys_are_wiped_on_drop() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<EncodingKey>();
        assert_zeroize_on_drop::<jsonwebtoken::DecodingKey>();
    }

    #[test]
    fn hs256_with_the_secret_verifies() {
        let secret = EncodingKey::from_secret(b"s3cret").unwrap();
        let jwt =
            client_assertion("c1", "https://op", CLIENT_AUTH_TYP, Signer::Secret(&secret)).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.set_audience(&["https://op"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_secret(b"s3cret").unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "c1");
    }

    #[test]
    fn algorithm_must_fit_the_key() {
        let key = ClientKey::from_jwk(EC_JWK).unwrap();
        assert!(key.clone().with_algorithm("RS256").is_err());
        assert!(key.with_algorithm("ES256").is_ok());
    }
}
