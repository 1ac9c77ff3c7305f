//! Signing with the test-only fixture keys of `tests/fixtures` (their public halves are in
//! `tests/fixtures/jwks.json`), for tests that play an OpenID Provider.

#![allow(dead_code)] // each test binary uses a part

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

/// The fixture key `kid` and its algorithm.
pub fn fixture_key(kid: &str) -> (Algorithm, EncodingKey) {
    let pem = std::fs::read(format!(
        "{}/tests/fixtures/{kid}.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    match kid {
        "rsa-1" | "rsa-2" => (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap()),
        "ec-256" => (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).unwrap()),
        "ec-384" => (Algorithm::ES384, EncodingKey::from_ec_pem(&pem).unwrap()),
        "ed-1" => (Algorithm::EdDSA, EncodingKey::from_ed_pem(&pem).unwrap()),
        other => panic!("no fixture key {other}"),
    }
}

/// Signs `claims` with fixture key `kid`; `with_kid` decides whether the header names it.
pub fn sign(kid: &str, with_kid: bool, claims: &Value) -> String {
    let (alg, key) = fixture_key(kid);
    let mut header = Header::new(alg);
    header.kid = with_kid.then(|| kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// The public keys of `kids`, as a JWKS document.
pub fn jwks(kids: &[&str]) -> Value {
    let all: Value = serde_json::from_str(include_str!("../fixtures/jwks.json")).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
        .cloned()
        .collect();
    serde_json::json!({ "keys": keys })
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
