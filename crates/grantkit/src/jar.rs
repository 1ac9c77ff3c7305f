//! Signed authorization requests (JAR, RFC 9101): every authorization parameter in one
//! `request` JWT signed with the client's [`ClientKey`], so that nothing the browser carries
//! can be read as plain parameters or changed on the way.
//!
//! What travels beside the JWT, and why (RFC 9101 §5 and OpenID Connect Core §6.1):
//! - `client_id`: RFC 9101 §5 requires it outside, so the server knows whose key to verify with.
//! - `response_type`, and `scope` when it holds `openid`: OpenID Connect Core §6.1 requires
//!   them "using the OAuth 2.0 request syntax" even when the request object holds them, so that
//!   the request stays a valid OAuth 2.0 and OpenID Connect request. RFC 9101 §6.3 has the server
//!   use only the request object's values, and oidc-provider refuses an outside `response_type`
//!   that differs from the inside one (`process_request_object.js`).
//! - Nothing else: `redirect_uri`, `state`, `nonce`, the PKCE challenge are only inside.
//!
//! Pushed (RFC 9126 §3), the body is `client_id` and `request` alone, with client
//! authentication: oidc-provider drops any other parameter next to a request object at its
//! PAR endpoint (`stripOutsideJarParams`).

use std::time::{SystemTime, UNIX_EPOCH};

use oauth2::CsrfToken;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{Endpoint, Error, Refusal, Result};
use crate::jwt_auth::{sign_with_key, ClientKey};

/// RFC 9101 §4 and §10.8: the explicit type keeps a request object from being taken for
/// another kind of JWT signed with the same key (a client assertion, say).
const TYP: &str = "oauth-authz-req+jwt";

/// How long a request object is valid: long enough for a slow browser redirect, short enough
/// that a leaked one is soon useless (FAPI 2.0 caps `exp - nbf` at 60 minutes).
const LIFETIME_SECS: u64 = 300;

/// The key a signed request is signed with, after checking the provider accepts it: a
/// provider whose metadata does not say `request_parameter_supported: true`, or whose
/// `request_object_signing_alg_values_supported` lacks the key's algorithm, is refused.
/// A provider described by hand (no metadata) is trusted to accept it.
pub(crate) fn signing_key(client: &Client) -> Result<&ClientKey> {
    let key = client.private_key().ok_or_else(|| {
        Error::Config(
            "a signed authorization request (JAR) is signed with the client's private key: load one with ClientKey and ClientBuilder::private_key".into(),
        )
    })?;
    let refuse = |reason| Error::Refused {
        endpoint: Endpoint::Authorization,
        reason,
    };
    let Some(metadata) = client.provider().metadata() else {
        return Ok(key);
    };
    // OpenID Connect Discovery §3: "If omitted, the default value is false."
    if metadata.extra.get("request_parameter_supported") != Some(&Value::Bool(true)) {
        return Err(refuse(Refusal::RequestObjectNotSupported));
    }
    let accepted: Vec<String> = metadata
        .extra
        .get("request_object_signing_alg_values_supported")
        .and_then(Value::as_array)
        .map(|algs| {
            algs.iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let alg = key.algorithm();
    if !accepted.is_empty() && !accepted.iter().any(|a| a == alg) {
        return Err(refuse(Refusal::RequestObjectAlgorithm {
            alg: alg.to_owned(),
            accepted,
        }));
    }
    Ok(key)
}

/// The request object holding every parameter of `params` (the list the plain URL would
/// carry), with `iss` = the client, `aud` = the issuer (RFC 9101 §4), a fresh `jti` and a short
/// lifetime.
pub(crate) fn request_object(
    client: &Client,
    key: &ClientKey,
    params: &[(String, String)],
) -> Result<String> {
    let issuer = client.provider().issuer().ok_or_else(|| {
        Error::Config(format!(
            "a signed authorization request is addressed to the provider's issuer, but provider `{}` has none",
            client.provider().name()
        ))
    })?;
    let mut claims: Map<String, Value> = params
        .iter()
        .map(|(name, value)| (name.clone(), claim_value(name, value)))
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let registered = [
        ("iss", Value::from(client.client_id())),
        ("aud", Value::from(issuer)),
        ("iat", Value::from(now)),
        ("nbf", Value::from(now)),
        ("exp", Value::from(now + LIFETIME_SECS)),
        (
            "jti",
            Value::from(CsrfToken::new_random_len(24).secret().as_str()),
        ),
    ];
    for (name, value) in registered {
        claims.insert(name.to_owned(), value);
    }
    sign_with_key(key, TYP, &claims)
}

/// A parameter as a request-object claim: `claims` as the JSON object it is and `max_age` as
/// a number (OpenID Connect Core §6.1 shows both so), everything else as the string sent.
fn claim_value(name: &str, value: &str) -> Value {
    let parsed = match name {
        "claims" => serde_json::from_str::<Value>(value)
            .ok()
            .filter(Value::is_object),
        "max_age" => value.parse::<u64>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::from(value))
}

/// The parameters sent beside the request object at the authorization endpoint (see the
/// module's notes for why these).
pub(crate) fn front_channel(params: &[(String, String)], jwt: String) -> Vec<(String, String)> {
    let mut outside: Vec<(String, String)> = params
        .iter()
        .filter(|(name, value)| match name.as_str() {
            "client_id" | "response_type" => true,
            "scope" => value.split(' ').any(|s| s == "openid"),
            _ => false,
        })
        .cloned()
        .collect();
    outside.push(("request".to_owned(), jwt));
    outside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_max_age_keep_their_json_types() {
        assert_eq!(claim_value("max_age", "90"), Value::from(90));
        assert_eq!(
            claim_value("claims", r#"{"id_token":{}}"#),
            serde_json::json!({"id_token": {}})
        );
        assert_eq!(claim_value("state", "90"), Value::from("90"));
        assert_eq!(claim_value("max_age", "soon"), Value::from("soon"));
    }

    #[test]
    fn only_client_id_response_type_openid_scope_and_the_jwt_travel_outside() {
        let params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", "c"),
            ("redirect_uri", "https://app/cb"),
            ("scope", "openid email"),
            ("state", "s"),
            ("nonce", "n"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let names: Vec<String> = front_channel(&params, "jwt".into())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["response_type", "client_id", "scope", "request"]);
        let plain_oauth = &params[..3];
        let names: Vec<String> = front_channel(plain_oauth, "jwt".into())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["response_type", "client_id", "request"]);
    }
}
