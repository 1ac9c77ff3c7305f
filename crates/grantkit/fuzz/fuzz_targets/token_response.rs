//! Token endpoint responses: lenient parsing, the storage round trip of what was accepted, and
//! agreement with a plain reference reading (a whole JSON map, then the RFC 6749 members lifted
//! out), which the one-pass parser replaced.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const KNOWN: [&str; 6] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "id_token",
];

/// What a token response means, read the simple way: `None` when it is not accepted.
struct Reference {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
    extra: Map<String, Value>,
}

fn reference(data: &[u8]) -> Option<Reference> {
    let Ok(Value::Object(mut raw)) = serde_json::from_slice::<Value>(data) else {
        return None;
    };
    let string = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let access_token = string(raw.get("access_token"))?;
    let token_type = match string(raw.get("token_type")) {
        Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
        Some(t) if t.eq_ignore_ascii_case("dpop") => "DPoP".to_owned(),
        Some(t) => t,
        None => "Bearer".to_owned(),
    };
    let expires_in = raw.get("expires_in").and_then(|v| {
        let secs = match v {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        secs.is_finite()
            .then(|| secs.clamp(0.0, 3_153_600_000.0) as u64)
    });
    let keep_expires_in = expires_in.is_none() && raw.contains_key("expires_in");
    let (refresh_token, scope, id_token) = (
        string(raw.get("refresh_token")),
        string(raw.get("scope")),
        string(raw.get("id_token")),
    );
    raw.retain(|k, _| !KNOWN.contains(&k.as_str()) || (keep_expires_in && k == "expires_in"));
    Some(Reference {
        access_token,
        token_type,
        expires_in,
        refresh_token,
        scope,
        id_token,
        extra: raw,
    })
}

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let parsed = grantkit::TokenSet::from_response(data, now);
    let expected = reference(data);
    assert_eq!(
        parsed.is_ok(),
        expected.is_some(),
        "accepted by one reading only"
    );
    let (Ok(tokens), Some(expected)) = (parsed, expected) else {
        return;
    };
    assert_eq!(tokens.access_token().expose(), expected.access_token);
    assert_eq!(tokens.token_type().as_str(), expected.token_type);
    assert_eq!(
        tokens.expires_at(),
        expected.expires_in.map(|s| now + Duration::from_secs(s))
    );
    assert_eq!(
        tokens.refresh_token().map(|s| s.expose()),
        expected.refresh_token.as_deref()
    );
    assert_eq!(tokens.scope(), expected.scope.as_deref());
    assert_eq!(
        tokens.id_token().map(|s| s.expose()),
        expected.id_token.as_deref()
    );
    assert_eq!(tokens.extra(), &expected.extra);

    let stored = serde_json::to_vec(&tokens).unwrap();
    let back: grantkit::TokenSet = serde_json::from_slice(&stored).unwrap();
    assert_eq!(back, tokens, "what is stored must load back the same");
    let _ = tokens.expires_within(Duration::from_secs(60));
    let _ = tokens.scopes().count();
});
