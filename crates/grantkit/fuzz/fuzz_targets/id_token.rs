//! ID tokens: the raw input as a compact JWS, and the input as claims signed with a test key
//! (so the claim checks behind the signature are reached too).
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;

const JWKS: &[u8] = include_bytes!("../../tests/fixtures/jwks.json");
const ED_KEY: &[u8] = include_bytes!("../../tests/fixtures/ed-1.pem");

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if mode % 2 == 0 {
        grantkit::__fuzz::id_token(JWKS, &text, "n-0", now);
        return;
    }
    // Claims from the fuzzer, validly signed: exercises every claim check.
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice::<serde_json::Value>(rest)
    else {
        return;
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = (mode & 2 == 0).then(|| "ed-1".to_owned());
    let key = EncodingKey::from_ed_pem(ED_KEY).unwrap();
    if let Ok(token) = jsonwebtoken::encode(&header, &claims, &key) {
        grantkit::__fuzz::id_token(JWKS, &token, "n-0", now);
        let _ = SystemTime::now();
    }
});
