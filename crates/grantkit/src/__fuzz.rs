//! Entry points for the fuzz targets in `crates/grantkit/fuzz`. Compiled only with the
//! `fuzzing` feature; not part of the public API.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::http::{Http, HttpOptions};
use crate::oidc::{
    check_endpoints, parse_jwks, Expectations, IdTokenVerifier, JwksCache, ProviderMetadata,
};
use crate::secret::Secret;

/// Parses a discovery document, applies the endpoint policy, and builds a provider.
pub fn discovery(data: &[u8]) {
    if let Ok(metadata) = serde_json::from_slice::<ProviderMetadata>(data) {
        let _ = check_endpoints("https://op.example", &metadata);
        let _ = check_endpoints("http://127.0.0.1:8080", &metadata);
        let _ = metadata.into_provider("fuzz");
    }
}

/// The issuer and client the fuzzed ID tokens are checked for.
pub const ISSUER: &str = "https://op.example";
/// The client id the fuzzed ID tokens are checked for.
pub const CLIENT_ID: &str = "fuzz-client";

fn verifier() -> &'static IdTokenVerifier {
    static V: OnceLock<IdTokenVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let http = Http::new(HttpOptions::default()).expect("http client");
        let jwks = JwksCache::new(
            "https://op.example/jwks".parse().unwrap(),
            http,
            &crate::oidc::JwksOptions::default(),
        );
        IdTokenVerifier::new(
            jwks,
            ISSUER.into(),
            CLIENT_ID.into(),
            &[],
            Duration::from_secs(60),
        )
    })
}

/// Runs every ID-token check of `token` against the keys of `jwks` (no network), with a
/// nonce and an access token to compare, at a fixed time.
pub fn id_token(jwks: &[u8], token: &str, nonce: &str, now: SystemTime) {
    let Ok(keys) = parse_jwks(jwks) else { return };
    let nonce = Secret::new(nonce);
    let access = Secret::new("fuzz-access-token");
    let acr = ["fuzz-acr".to_owned()];
    // The max_age and essential-acr checks run last, on claims that passed everything else.
    let expect = Expectations {
        nonce: Some(&nonce),
        access_token: Some(&access),
        previous: None,
        max_age: Some(300),
        acr_values: &acr,
    };
    let _ = verifier().verify_against(&keys, token, &expect, now);
}
