//! Pushed authorization requests (RFC 9126): the parameters go to the provider over the back
//! channel, with client authentication, and the browser gets a URL with only `client_id` and
//! the `request_uri` the provider answered. Nothing in the request can be read or changed on
//! its way through the browser, and it can be as large as needed.

use serde::Deserialize;
use url::Url;

use crate::authorize::{AuthorizationRequest, PendingAuthorization};
use crate::error::{Endpoint, Error, Result};
use crate::http::parse_json;

/// RFC 9126 §2.2. `expires_in` is not read: the provider enforces the lifetime, and the URL is
/// used at once.
#[derive(Deserialize)]
struct PushedResponse {
    request_uri: String,
}

impl AuthorizationRequest<'_> {
    /// Like [`build`](AuthorizationRequest::build), but pushes the request (RFC 9126) when the
    /// provider requires it (`require_pushed_authorization_requests` in its metadata, or
    /// [`ProviderBuilder::require_pushed_authorization_requests`]) or the client was registered
    /// for it ([`ClientBuilder::require_pushed_authorization_requests`]). Use it in code that
    /// should work with any provider.
    ///
    /// [`ProviderBuilder::require_pushed_authorization_requests`]: crate::ProviderBuilder::require_pushed_authorization_requests
    /// [`ClientBuilder::require_pushed_authorization_requests`]: crate::ClientBuilder::require_pushed_authorization_requests
    pub async fn build_async(self) -> Result<(Url, PendingAuthorization)> {
        if self.must_push() {
            self.push().await
        } else {
            self.build()
        }
    }

    /// Pushes the request to the provider's PAR endpoint (RFC 9126), with client
    /// authentication, and returns the URL to send the browser to — the authorization endpoint
    /// with only `client_id` and `request_uri` — and the [`PendingAuthorization`] to keep, the
    /// same as [`build`](AuthorizationRequest::build) gives.
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client) -> grantkit::Result<()> {
    /// let (url, pending) = client.authorize().scopes(["openid"]).push().await?;
    /// assert!(url.query().unwrap().contains("request_uri="));
    /// # let _ = pending; Ok(()) }
    /// ```
    pub async fn push(self) -> Result<(Url, PendingAuthorization)> {
        let client = self.client();
        let prepared = self.prepare()?;
        // `client_id` stays in the form (RFC 9126 §2.1); client authentication adds the rest.
        let form = vec![("client_id", client.client_id().to_owned())];
        // A signed request is pushed as the JWT alone (RFC 9126 §3): the OpenID Connect
        // duplicates beside it are for the front channel, which now carries `request_uri`.
        let params: Vec<(String, String)> = prepared
            .params
            .iter()
            .filter(|(name, _)| name != "client_id" && (!prepared.signed || name == "request"))
            .cloned()
            .collect();
        let response = client
            .post_form(Endpoint::PushedAuthorization, form, &params, false)
            .await?;
        let pushed: PushedResponse = parse_json(Endpoint::PushedAuthorization, response.body())?;
        if pushed.request_uri.is_empty() {
            return Err(Error::InvalidResponse {
                endpoint: Endpoint::PushedAuthorization,
                reason: "the `request_uri` is empty".into(),
            });
        }
        let mut url = prepared.endpoint;
        url.query_pairs_mut()
            .append_pair("client_id", client.client_id())
            .append_pair("request_uri", &pushed.request_uri);
        Ok((url, prepared.pending))
    }
}
