//! The JWT bearer authorization grant (RFC 7523 §2.1): a signed assertion about a subject is
//! the grant, e.g. a service acting for a user its key is trusted to speak for.

use std::time::{SystemTime, UNIX_EPOCH};

use oauth2::CsrfToken;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Endpoint, Result};
use crate::jwt_auth::{sign_with_key, ClientKey};
use crate::secret::Secret;
use crate::token_request::TokenRequest;

/// The `grant_type` of RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion made by [`Client::jwt_bearer_assertion`] is valid: it is made for one
/// request, sent at once.
const LIFETIME_SECS: u64 = 60;

/// RFC 7523 §3: who says it, about whom, to whom, until when, once.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl Client {
    /// The JWT bearer grant (RFC 7523 §2.1) with `assertion` as the grant; the client still
    /// authenticates as configured. Make the assertion with
    /// [`jwt_bearer_assertion`](Client::jwt_bearer_assertion), or bring one from elsewhere.
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client, key: grantkit::jwt_auth::ClientKey) -> grantkit::Result<()> {
    /// let assertion = client.jwt_bearer_assertion(&key, "alice")?;
    /// let tokens = client.jwt_bearer(&assertion).scopes(["api:read"]).send().await?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub fn jwt_bearer(&self, assertion: &Secret) -> TokenRequest<'_> {
        let form = vec![("assertion", assertion.clone())];
        self.grant_with_form(GRANT_TYPE.to_owned(), form)
    }

    /// Signs a fresh assertion for the JWT bearer grant with `key`: `iss` this client's id,
    /// `sub` the subject, `aud` the provider's issuer (its token endpoint when it has no
    /// issuer, as RFC 7523 §3 allows), a random `jti`, valid for 60 seconds.
    pub fn jwt_bearer_assertion(&self, key: &ClientKey, subject: &str) -> Result<Secret> {
        let provider = self.provider();
        let audience = match provider.issuer() {
            Some(issuer) => issuer,
            None => provider.endpoint(Endpoint::Token)?.as_str(),
        };
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            iss: self.client_id(),
            sub: subject,
            aud: audience,
            jti: CsrfToken::new_random_len(24).secret().clone(),
            iat,
            exp: iat + LIFETIME_SECS,
        };
        sign_with_key(key, "JWT", &claims).map(Secret::new)
    }
}
