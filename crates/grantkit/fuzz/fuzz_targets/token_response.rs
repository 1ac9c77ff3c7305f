//! Token endpoint responses: lenient parsing, and the storage round trip of what was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tokens) = grantkit::TokenSet::from_response(data, std::time::SystemTime::now()) {
        let stored = serde_json::to_vec(&tokens).unwrap();
        let back: grantkit::TokenSet = serde_json::from_slice(&stored).unwrap();
        assert_eq!(back, tokens, "what is stored must load back the same");
        let _ = tokens.expires_within(std::time::Duration::from_secs(60));
        let _ = tokens.scopes().count();
    }
});
