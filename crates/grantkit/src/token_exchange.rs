//! OAuth 2.0 Token Exchange (RFC 8693): a token for a token, for delegation ("act as") and
//! impersonation, or to move a token to another audience.
//!
//! The token type identifiers of RFC 8693 §3 are here as constants.

use crate::client::Client;
use crate::error::Result;
use crate::secret::Secret;
use crate::token::TokenSet;
use crate::token_request::TokenRequest;

/// The `grant_type` of RFC 8693.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// An OAuth 2.0 access token (RFC 8693 §3).
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// An OAuth 2.0 refresh token.
pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// An OpenID Connect ID token.
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// A JWT (RFC 7519).
pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// A base64url-encoded SAML 1.1 assertion.
pub const SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
/// A base64url-encoded SAML 2.0 assertion.
pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";

/// A token exchange request (RFC 8693 §2.1), made by [`Client::token_exchange`].
///
/// The subject and actor tokens are secrets: they are wiped with the form after sending and
/// scrubbed from errors, and `Debug` redacts them. The answer's `issued_token_type` is kept
/// ([`TokenSet::issued_token_type`]).
///
/// ```no_run
/// use grantkit::token_exchange::{ACCESS_TOKEN, JWT};
/// # async fn run(client: grantkit::Client, user: grantkit::TokenSet) -> grantkit::Result<()> {
/// let downstream = client
///     .token_exchange(user.access_token(), ACCESS_TOKEN)
///     .requested_token_type(ACCESS_TOKEN)
///     .audience("orders-api")
///     .send()
///     .await?;
/// assert_eq!(downstream.issued_token_type(), Some(ACCESS_TOKEN));
/// # let _ = JWT; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a token exchange does nothing until it is sent"]
pub struct TokenExchange<'a> {
    client: &'a Client,
    subject: (Secret, String),
    actor: Option<(Secret, String)>,
    requested_token_type: Option<String>,
    params: Vec<(String, String)>,
}

impl Client {
    /// Starts a token exchange (RFC 8693) for `subject_token`, whose type is
    /// `subject_token_type` (one of the constants of [`token_exchange`](crate::token_exchange),
    /// or another URI the provider understands).
    pub fn token_exchange(
        &self,
        subject_token: &Secret,
        subject_token_type: impl Into<String>,
    ) -> TokenExchange<'_> {
        TokenExchange {
            client: self,
            subject: (subject_token.clone(), subject_token_type.into()),
            actor: None,
            requested_token_type: None,
            params: Vec::new(),
        }
    }
}

impl<'a> TokenExchange<'a> {
    /// The party acting for the subject (delegation, RFC 8693 §1.1): `actor_token` and
    /// `actor_token_type`.
    pub fn actor(mut self, actor_token: &Secret, actor_token_type: impl Into<String>) -> Self {
        self.actor = Some((actor_token.clone(), actor_token_type.into()));
        self
    }

    /// The type of token wanted (`requested_token_type`).
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// The logical name of the target service (`audience`); may be given more than once.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.param("audience", audience)
    }

    /// The URI of the target resource (`resource`); may be given more than once.
    pub fn resource(self, resource: impl Into<String>) -> Self {
        self.param("resource", resource)
    }

    /// The scopes wanted, space-joined (`scope`).
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scope: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.param("scope", scope.join(" "))
    }

    /// Any other parameter; the ones grantkit sets are refused as in [`TokenRequest`].
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The [`TokenRequest`] this exchange sends.
    pub fn into_request(self) -> TokenRequest<'a> {
        let TokenExchange {
            client,
            subject,
            actor,
            requested_token_type,
            params,
        } = self;
        let mut form = Vec::with_capacity(6);
        form.push(("subject_token", subject.0));
        form.push(("subject_token_type", Secret::new(subject.1)));
        if let Some((token, token_type)) = actor {
            form.push(("actor_token", token));
            form.push(("actor_token_type", Secret::new(token_type)));
        }
        if let Some(requested) = requested_token_type {
            form.push(("requested_token_type", Secret::new(requested)));
        }
        client
            .grant_with_form(GRANT_TYPE.to_owned(), form)
            .params(params)
    }

    /// Sends the exchange. The answer's `access_token` is the issued token, whatever its type
    /// (RFC 8693 §2.2.1); `token_type` may be `N_A` for a token that is not an access token.
    pub async fn send(self) -> Result<TokenSet> {
        self.into_request().send().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    /// The subject and actor tokens are secrets also before the request is sent.
    #[test]
    fn debug_of_a_token_exchange_redacts_subject_and_actor_tokens() {
        let provider = Provider::builder("p")
            .token_endpoint("https://p.example/token")
            .build()
            .unwrap();
        let client = Client::builder(provider, "c").build().unwrap();
        let (subject, actor) = (Secret::new("subject-s3cret"), Secret::new("actor-s3cret"));
        let exchange = client
            .token_exchange(&subject, ACCESS_TOKEN)
            .actor(&actor, ACCESS_TOKEN);
        let shown = format!("{exchange:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let shown = format!("{:?}", exchange.into_request());
        assert!(!shown.contains("s3cret"), "{shown}");
        let shown = format!("{:?}", client.jwt_bearer(&Secret::new("a.b.s3cret")));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
