//! The provider's signing keys: fetched once, cached, re-fetched on an unknown `kid` at most
//! once per cooldown so a flood of forged tokens cannot make us hammer the provider.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::ACCEPT;
use serde_json::Value;
use url::Url;

use crate::error::{Endpoint, Error, Result};
use crate::http::{parse_json, Http};

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
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => false,
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

struct State {
    keys: Arc<[VerifyKey]>,
    fetched_at: Option<Instant>,
    last_forced: Option<Instant>,
}

/// Cached keys of one `jwks_uri`.
pub(crate) struct JwksCache {
    uri: Url,
    http: Http,
    ttl: Duration,
    cooldown: Duration,
    state: RwLock<State>,
    fetches: AtomicU64,
}

impl JwksCache {
    pub(crate) fn new(uri: Url, http: Http, ttl: Duration, cooldown: Duration) -> Self {
        Self {
            uri,
            http,
            ttl,
            cooldown,
            state: RwLock::new(State {
                keys: Arc::from(Vec::new()),
                fetched_at: None,
                last_forced: None,
            }),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the JWKS was fetched (diagnostics; a warm cache makes no requests).
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The cached keys, fetched first when the cache is empty or older than the TTL.
    pub(crate) async fn current(&self) -> Result<Arc<[VerifyKey]>> {
        {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if state.fetched_at.is_some_and(|at| at.elapsed() < self.ttl) {
                return Ok(state.keys.clone());
            }
        }
        self.fetch().await
    }

    /// Re-fetches because a token names a key we do not have (the provider may have rotated).
    /// Returns `None` when a forced fetch happened within the cooldown.
    pub(crate) async fn refetch_for_unknown_key(&self) -> Result<Option<Arc<[VerifyKey]>>> {
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            if state
                .last_forced
                .is_some_and(|at| at.elapsed() < self.cooldown)
            {
                return Ok(None);
            }
            state.last_forced = Some(Instant::now());
        }
        self.fetch().await.map(Some)
    }

    async fn fetch(&self) -> Result<Arc<[VerifyKey]>> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
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
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.keys = keys.clone();
        state.fetched_at = Some(Instant::now());
        Ok(keys)
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
