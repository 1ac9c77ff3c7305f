//! The provider's signing keys: kept warm (one fetch for any number of callers, refreshed
//! ahead of expiry, the last good set served through an outage), and re-fetched on an unknown
//! `kid` at most once per cooldown so a flood of forged tokens cannot make us hammer the
//! provider.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::ACCEPT;
use serde_json::Value;
use url::Url;

use crate::error::{Endpoint, Error, Result};
use crate::http::{parse_json, Http};
use crate::warm::{Fetch, Warm, WarmPolicy};

/// The curve or key type, so a token's `alg` is only tried against keys that can verify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// One usable verification key.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    kind: KeyKind,
    alg: Option<String>,
    pub(crate) key: DecodingKey,
}

impl VerifyKey {
    /// Whether this key may verify a signature made with `alg`.
    pub(crate) fn accepts(&self, alg: Algorithm, alg_name: &str) -> bool {
        let kind_fits = match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => self.kind == KeyKind::Rsa,
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => self.kind == KeyKind::Rsa,
            Algorithm::ES256 => self.kind == KeyKind::P256,
            Algorithm::ES384 => self.kind == KeyKind::P384,
            Algorithm::EdDSA => self.kind == KeyKind::Ed25519,
            // Symmetric keys never verify ID tokens here; an algorithm added to
            // jsonwebtoken later is refused until grantkit names it.
            _ => false,
        };
        kind_fits && self.alg.as_deref().is_none_or(|a| a == alg_name)
    }
}

/// Reads a JWKS document, keeping the keys grantkit can verify with and skipping the rest
/// (encryption keys, unknown curves, symmetric keys, garbage) instead of failing the whole set.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyKey>> {
    let doc: Value = parse_json(Endpoint::Jwks, body)?;
    let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
        return Err(Error::InvalidResponse {
            endpoint: Endpoint::Jwks,
            reason: "the JWKS has no `keys` array".into(),
        });
    };
    Ok(entries.iter().filter_map(usable_key).collect())
}

fn usable_key(entry: &Value) -> Option<VerifyKey> {
    let text = |name: &str| entry.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let kind = match (text("kty")?, text("crv")) {
        ("RSA", _) => KeyKind::Rsa,
        ("EC", Some("P-256")) => KeyKind::P256,
        ("EC", Some("P-384")) => KeyKind::P384,
        ("OKP", Some("Ed25519")) => KeyKind::Ed25519,
        _ => return None,
    };
    // `alg` values jsonwebtoken's JWK type does not know (e.g. RSA-OAEP) would fail the parse;
    // the signing-relevant part is kept here and the rest parsed without it.
    let alg = text("alg").map(str::to_owned);
    let mut stripped = entry.clone();
    if let Some(map) = stripped.as_object_mut() {
        map.remove("alg");
        map.remove("key_ops");
    }
    let jwk: Jwk = serde_json::from_value(stripped).ok()?;
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(VerifyKey {
        kid: text("kid").map(str::to_owned),
        kind,
        alg,
        key,
    })
}

/// Fetches one `jwks_uri`: an answer without a usable key is a failed fetch, so the last good
/// key set stays in use.
pub(crate) struct JwksFetch {
    uri: Url,
    http: Http,
}

impl Fetch for JwksFetch {
    type Value = Arc<[VerifyKey]>;

    async fn fetch(&self) -> Result<Arc<[VerifyKey]>> {
        let request = self
            .http
            .client()
            .get(self.uri.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json");
        let response = self.http.send(Endpoint::Jwks, request).await?;
        let keys: Arc<[VerifyKey]> = Arc::from(parse_jwks(&response.body)?);
        if keys.is_empty() {
            return Err(Error::InvalidResponse {
                endpoint: Endpoint::Jwks,
                reason: "the JWKS holds no usable signing key (RSA, EC P-256/P-384, Ed25519)"
                    .into(),
            });
        }
        Ok(keys)
    }
}

/// The keys of one `jwks_uri`, kept warm (single flight, refresh-ahead, stale-if-error,
/// backoff: see `warm.rs`), plus the unknown-`kid` re-fetch with its cooldown.
pub(crate) struct JwksCache {
    keys: Arc<Warm<JwksFetch>>,
    cooldown: Duration,
    last_forced: Mutex<Option<Instant>>,
}

impl JwksCache {
    pub(crate) fn new(uri: Url, http: Http, options: &JwksOptions) -> Self {
        let policy = WarmPolicy {
            ttl: options.ttl,
            max_stale: options.max_stale.max(options.ttl),
            retry_min: options.retry_min,
            retry_max: options.retry_max.max(options.retry_min),
        };
        Self {
            keys: Arc::new(Warm::new(JwksFetch { uri, http }, policy)),
            cooldown: options.refetch_cooldown,
            last_forced: Mutex::new(None),
        }
    }

    /// How many times the JWKS was fetched (diagnostics; a warm cache makes no requests).
    pub(crate) fn fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// The keys: cached, or fetched once for all concurrent callers.
    pub(crate) async fn current(&self) -> Result<Arc<[VerifyKey]>> {
        self.keys.get().await
    }

    /// Starts fetching the keys in the background when none are held yet, so that a login's
    /// code exchange and the key fetch run side by side.
    pub(crate) fn prefetch(&self) {
        self.keys.prefetch();
    }

    /// Re-fetches because a token names a key we do not have (the provider may have rotated).
    /// Returns `None` when a forced fetch happened within the cooldown, or the endpoint is
    /// failing and its backoff is not over.
    pub(crate) async fn refetch_for_unknown_key(&self) -> Result<Option<Arc<[VerifyKey]>>> {
        {
            let mut last = self.last_forced.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.cooldown) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        self.keys.refetch().await.transpose()
    }
}

/// How a client keeps the provider's signing keys (its JWKS): see
/// [`ClientBuilder::jwks_options`](crate::ClientBuilder::jwks_options).
///
/// The keys are fetched once for any number of concurrent validations, refreshed in the
/// background during the last quarter of `ttl` (so no validation waits on a fetch under steady
/// use), and kept in use while the JWKS endpoint fails, up to `max_stale` after the last good
/// fetch: a provider's JWKS outage does not log anyone out. While it fails, it is asked again
/// no sooner than a backoff that doubles from `retry_min` up to `retry_max`.
///
/// ```
/// use std::time::Duration;
/// use grantkit::oidc::JwksOptions;
///
/// let options = JwksOptions {
///     max_stale: Duration::from_secs(6 * 3600), // trust keys six hours into an outage at most
///     ..JwksOptions::default()
/// };
/// assert_eq!(options.ttl, Duration::from_secs(300));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwksOptions {
    /// How long fetched keys are used before they are refreshed (default 5 minutes).
    pub ttl: Duration,
    /// The least time between two re-fetches caused by tokens naming an unknown `kid`
    /// (default 30 s): a flood of forged tokens cannot make the client hammer the provider.
    pub refetch_cooldown: Duration,
    /// How long after the last good fetch its keys are still used while the JWKS endpoint
    /// fails (default 24 hours). Never less than `ttl`.
    pub max_stale: Duration,
    /// The first wait before asking a failing JWKS endpoint again (default 1 s).
    pub retry_min: Duration,
    /// The longest wait between two attempts at a failing JWKS endpoint (default 60 s).
    pub retry_max: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            refetch_cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_signing_keys_and_skips_the_rest() {
        let fixture = include_str!("../../tests/fixtures/jwks.json");
        let mut doc: Value = serde_json::from_str(fixture).unwrap();
        let keys = doc["keys"].as_array_mut().unwrap();
        keys.push(
            serde_json::json!({"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"}),
        );
        keys.push(serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}));
        keys.push(
            serde_json::json!({"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"}),
        );
        keys.push(serde_json::json!("garbage"));
        keys.push(serde_json::json!({"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "use": "sig", "n": "sXch", "e": "AQAB"}));
        let parsed = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = parsed.iter().filter_map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, ["rsa-1", "rsa-2", "ec-256", "ec-384", "ed-1", "oaep"]);
        let oaep = parsed
            .iter()
            .find(|k| k.kid.as_deref() == Some("oaep"))
            .unwrap();
        assert!(
            !oaep.accepts(Algorithm::RS256, "RS256"),
            "a key's own alg restricts it"
        );
        let ec = parsed
            .iter()
            .find(|k| k.kid.as_deref() == Some("ec-256"))
            .unwrap();
        assert!(ec.accepts(Algorithm::ES256, "ES256"));
        assert!(!ec.accepts(Algorithm::ES384, "ES384"));
        assert!(!ec.accepts(Algorithm::HS256, "HS256"));
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
