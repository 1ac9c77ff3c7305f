//! Signed authorization responses (JARM: OpenID Financial-grade API JWT Secured Authorization
//! Response Mode). The callback carries one `response` JWT; it is verified like an ID token
//! (the provider's JWKS, one asymmetric algorithm) and by JARM §4.4 (`iss`, `aud`, `exp`), and
//! only then are the `state`, `iss` and `code` inside it checked as for any callback.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::authorize::PendingAuthorization;
use crate::callback::{pairs, AuthorizationCode, Callback, JarmMode};
use crate::client::Client;
use crate::error::{CallbackError, Error, JarmError, Result};
use crate::signed_response::{check_addressing, Addressing};

/// The authorization response parameters a JARM JWT may carry (JARM §2.1, RFC 9207's `iss`).
const RESPONSE_PARAMS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

impl PendingAuthorization {
    /// Checks the callback of a login built with
    /// [`jarm(JarmMode::Jwt)`](crate::AuthorizationRequest::jarm) or `JarmMode::Query`: the
    /// redirect URL (or its query) carries a `response` JWT. Verified against the provider's
    /// JWKS with the client's
    /// [`authorization_signed_response_alg`](crate::ClientBuilder::authorization_signed_response_alg)
    /// (`RS256` by default), then `iss`, `aud` and `exp`, then the usual `state`, `iss` and
    /// `code` checks on its claims; an `error` inside it is the provider's
    /// [`Error::OAuth`]. A callback without `response` is refused
    /// ([`JarmError::MissingResponse`]): it is a downgrade to an unsigned answer.
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client, callback_url: &str) -> grantkit::Result<()> {
    /// use grantkit::JarmMode;
    ///
    /// let (url, pending) = client.authorize().jarm(JarmMode::Query).build()?;
    /// // ... the browser comes back to `callback_url` ...
    /// let code = pending.verify_jarm_callback(&client, callback_url).await?;
    /// let tokens = client.exchange_code(code).await?;
    /// # let _ = (url, tokens); Ok(()) }
    /// ```
    pub async fn verify_jarm_callback(
        &self,
        client: &Client,
        url_or_query: &str,
    ) -> Result<AuthorizationCode> {
        self.verify_jarm(client, url_or_query, false).await
    }

    /// [`verify_jarm_callback`](Self::verify_jarm_callback) for a login built with
    /// `jarm(JarmMode::FormPost)`: `body` is the POSTed form
    /// (`application/x-www-form-urlencoded`) with the `response` JWT.
    pub async fn verify_jarm_form_post(
        &self,
        client: &Client,
        body: &str,
    ) -> Result<AuthorizationCode> {
        self.verify_jarm(client, body, true).await
    }

    async fn verify_jarm(
        &self,
        client: &Client,
        input: &str,
        posted: bool,
    ) -> Result<AuthorizationCode> {
        let mode = self
            .jarm_mode()
            .ok_or(CallbackError::ResponseModeMismatch {
                expected:
                    "as plain parameters: this login did not ask for a signed response (JARM)",
            })?;
        match (mode, posted) {
            (JarmMode::FormPost, false) => {
                return Err(CallbackError::ResponseModeMismatch {
                    expected: "in a POST body (response_mode=form_post.jwt)",
                }
                .into())
            }
            (JarmMode::Jwt | JarmMode::Query, true) => {
                return Err(CallbackError::ResponseModeMismatch {
                    expected: "in the redirect URL's query (response_mode=query.jwt)",
                }
                .into())
            }
            _ => {}
        }
        let response = pairs(input)?
            .into_iter()
            .find(|(name, _)| name == "response")
            .map(|(_, value)| value)
            .ok_or(JarmError::MissingResponse {
                mode: mode.as_str(),
            })?;
        let claims = verified_claims(client, &response).await?;
        self.check(&Callback::from_pairs(claims)?)
    }
}

/// The response parameters of a verified JARM JWT.
async fn verified_claims(client: &Client, response: &str) -> Result<Vec<(String, String)>> {
    let verifier = client.require_id_token_verifier()?;
    let alg = [client.authorization_signed_response_alg().to_owned()];
    let payload = verifier
        .verified_payload_allowing(response, &alg)
        .await
        .map_err(|e| match e {
            Error::IdToken(e) => JarmError::Signature(e).into(),
            other => other,
        })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let expected = Expected {
        issuer: verifier.issuer(),
        client_id: verifier.client_id(),
        leeway: verifier.leeway().as_secs() as i64,
        now,
    };
    Ok(check_claims(&payload, &expected)?)
}

/// What a JARM JWT must match.
struct Expected<'a> {
    issuer: &'a str,
    client_id: &'a str,
    leeway: i64,
    now: i64,
}

/// JARM §4.4 items 2-4: the issuer, the audience, the expiry; then the response parameters.
fn check_claims(
    claims: &Map<String, Value>,
    expected: &Expected<'_>,
) -> Result<Vec<(String, String)>, JarmError> {
    check_addressing(claims, expected.issuer, expected.client_id).map_err(|e| match e {
        Addressing::Missing(claim) => JarmError::MissingClaim(claim),
        Addressing::Issuer(found) => JarmError::IssuerMismatch {
            expected: expected.issuer.to_owned(),
            found,
        },
        Addressing::Audience => JarmError::AudienceMismatch(expected.client_id.to_owned()),
    })?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(JarmError::MissingClaim("exp"))? as i64;
    if expected.now > exp.saturating_add(expected.leeway) {
        return Err(JarmError::Expired {
            exp,
            now: expected.now,
        });
    }
    response_params(claims)
}

fn response_params(claims: &Map<String, Value>) -> Result<Vec<(String, String)>, JarmError> {
    RESPONSE_PARAMS
        .iter()
        .filter_map(|name| claims.get(*name).map(|value| (*name, value)))
        .map(|(name, value)| match value.as_str() {
            Some(text) => Ok((name.to_owned(), text.to_owned())),
            None => Err(JarmError::Malformed(name)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://op",
            client_id: "c",
            leeway: 60,
            now: 1_000_000,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn jarm_claims_name_the_issuer_the_client_and_an_unexpired_time() {
        let good = claims(serde_json::json!({"iss": "https://op", "aud": "c",
            "exp": 1_000_100, "code": "k", "state": "s", "other": 1}));
        let params = check_claims(&good, &expected()).unwrap();
        assert_eq!(
            params,
            [
                ("code".to_owned(), "k".to_owned()),
                ("state".to_owned(), "s".to_owned()),
                ("iss".to_owned(), "https://op".to_owned())
            ]
        );
        let cases = [
            (serde_json::json!({"aud": "c", "exp": 1_000_100}), "iss"),
            (
                serde_json::json!({"iss": "https://evil", "aud": "c", "exp": 1_000_100}),
                "issuer",
            ),
            (
                serde_json::json!({"iss": "https://op", "aud": ["x", "y"], "exp": 1_000_100}),
                "addressed",
            ),
            (
                serde_json::json!({"iss": "https://op", "aud": "c", "exp": 999_000}),
                "expired",
            ),
            (serde_json::json!({"iss": "https://op", "aud": "c"}), "exp"),
            (
                serde_json::json!({"iss": "https://op", "aud": "c", "exp": 1_000_100, "code": 5}),
                "string",
            ),
        ];
        for (value, words) in cases {
            let e = check_claims(&claims(value.clone()), &expected()).unwrap_err();
            assert!(e.to_string().contains(words), "{value}: {e}");
        }
    }
}
