//! [`AuthorizedClient`]: reqwest with the access token added, and one refresh-and-retry when the
//! resource server says `invalid_token`.

use std::fmt;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use reqwest::{IntoUrl, Method, Request, RequestBuilder, Response, StatusCode};
use serde::Serialize;

use crate::client::Client;
use crate::dpop::{Dpop, DPOP_HEADER};
use crate::error::{Endpoint, Error, InsufficientScope, Refusal, Result};
use crate::http::{challenge_param, transport_error};
use crate::token::TokenType;

use crate::token_source::{AccessToken, TokenSource};

/// An HTTP client for a protected API: every request carries
/// `Authorization: <token type> <access token>` from a [`TokenSource`] (refreshed first when
/// needed).
///
/// **DPoP** (feature `dpop`): a DPoP-bound token (`token_type: DPoP`, from a client built with
/// [`ClientBuilder::dpop`](crate::ClientBuilder)) is sent as `Authorization: DPoP <token>` with
/// a fresh proof per request (method, URL, the token's hash). When the resource server answers
/// `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce`, the request is
/// sent once more with a proof carrying that nonce; the latest nonce of each server is reused.
///
/// When the API answers **401 with `WWW-Authenticate: ... error="invalid_token"`** (the token was
/// revoked or expired early), the client refreshes once — even if the token looked valid, and
/// only if no other task replaced it already — and sends the request **once** more. It retries
/// only requests whose body can be replayed ([`reqwest::Request::try_clone`]; a streaming body
/// cannot); others get the 401 response as it came. Any other answer, 401s without
/// `invalid_token` included, is returned as is: statuses are the caller's to judge. A refresh
/// that fails is returned as the error (re-authorization required, for a dead grant or a
/// static token).
///
/// **Step-up**: a `403` (or `401`) with `WWW-Authenticate: Bearer error="insufficient_scope"`
/// is [`Error::InsufficientScope`], carrying the scopes the server named and those the token
/// has. It is never retried nor refreshed (a refresh cannot widen a grant); authorize the user
/// again with [`InsufficientScope::scopes_for_step_up`].
///
/// Clones share the connection pool and the token source.
///
/// ```no_run
/// use grantkit::{AuthorizedClient, TokenSource};
///
/// # async fn run(source: TokenSource) -> grantkit::Result<()> {
/// let api = AuthorizedClient::new(source)?;
/// let me = api.get("https://api.example.com/v1/me").send().await?;
/// let created = api
///     .post("https://api.example.com/v1/items")
///     .json(&serde_json::json!({"name": "x"}))
///     .send()
///     .await?;
/// # let _ = (me, created);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthorizedClient {
    http: reqwest::Client,
    source: TokenSource,
}

impl fmt::Debug for AuthorizedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedClient")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl AuthorizedClient {
    /// A client over the source's
    /// [`Client::resource_http_client`](crate::Client::resource_http_client) (one connection
    /// pool per [`Client`]): 30 s timeout, 10 s to connect, no redirect followed (a `3xx` is
    /// returned as the answer).
    ///
    /// When the source's [`Client`] has a TLS identity
    /// ([`ClientBuilder::tls_identity`](crate::ClientBuilder::tls_identity)), this client
    /// presents the same certificate and trusts the same extra roots, so certificate-bound
    /// access tokens (RFC 8705 §3) work. A source without a client (a static token) gets the
    /// same settings without certificate.
    pub fn new(source: TokenSource) -> Result<Self> {
        let http = match source.client() {
            Some(client) => client.resource_http_client(),
            None => crate::http::resource_client(None, &[])?,
        };
        Ok(Self::with_client(http, source))
    }

    /// Uses an application's own reqwest client (proxy, roots, timeouts).
    pub fn with_client(http: reqwest::Client, source: TokenSource) -> Self {
        Self { http, source }
    }

    /// The token source requests are authorized with.
    pub fn token_source(&self) -> &TokenSource {
        &self.source
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        AuthorizedRequestBuilder {
            client: self.clone(),
            builder: self.http.request(method, url),
            error: None,
        }
    }

    /// Starts a `GET`.
    pub fn get(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a `POST`.
    pub fn post(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a `PUT`.
    pub fn put(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a `PATCH`.
    pub fn patch(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// Starts a `DELETE`.
    pub fn delete(&self, url: impl IntoUrl) -> AuthorizedRequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Sends a built request with the access token, refreshing and retrying once on
    /// `invalid_token` (see the type's documentation). An `Authorization` header already on
    /// the request is replaced.
    pub async fn execute(&self, request: Request) -> Result<Response> {
        let token = self.source.access_token().await?;
        let replay = request.try_clone();
        let response = self.send_with(request, &token).await?;
        if let Some(e) = insufficient_scope(&response, &token) {
            return Err(e.into());
        }
        if !is_invalid_token(&response) {
            return Ok(response);
        }
        let Some(replay) = replay else {
            tracing::debug!(
                "invalid_token on a request whose body cannot be replayed; not retried"
            );
            return Ok(response);
        };
        tracing::debug!("the resource server rejected the access token; refreshing once");
        let fresh = self.source.refresh_if_current(&token).await?;
        let response = self.send_with(replay, &fresh).await?;
        match insufficient_scope(&response, &fresh) {
            Some(e) => Err(e.into()),
            None => Ok(response),
        }
    }

    /// Sends `request` with `token`. A DPoP-bound token gets a fresh proof, and one more try
    /// when the resource server answers with a nonce challenge.
    async fn send_with(&self, mut request: Request, token: &AccessToken) -> Result<Response> {
        let tokens = token.token_set();
        match self.source.client() {
            // A bound JWT access token (RFC 8705 §3.1) read as on arrival: a token put in the
            // source or its store skipped that check.
            Some(client) => crate::mtls::check_token_binding(
                client.tls_identity(),
                tokens.access_token().expose(),
                tokens.extra(),
            )?,
            // A static token sent through `with_client`: the application's own HTTP client may
            // present the certificate, which grantkit cannot see; only a token response's own
            // binding is checked, as before.
            None => crate::mtls::check_binding(None, tokens.extra())?,
        }
        let replay = self.dpop(token)?.and_then(|_| request.try_clone());
        self.authorize(&mut request, token)?;
        let response = self.send_raw(request).await?;
        if let Some(dpop) = self.dpop(token)? {
            let url = response.url().clone();
            let challenged =
                dpop.resource_nonce_demanded(&url, response.status(), response.headers());
            if let (true, Some(mut again)) = (challenged, replay) {
                tracing::debug!("the resource server demands a DPoP nonce; retrying once");
                self.authorize(&mut again, token)?;
                return self.send_raw(again).await;
            }
        }
        Ok(response)
    }

    async fn send_raw(&self, request: Request) -> Result<Response> {
        self.http
            .execute(request)
            .await
            .map_err(|e| transport_error(Endpoint::Api, e))
    }

    /// The DPoP state to prove possession with, for a DPoP-bound token.
    fn dpop(&self, token: &AccessToken) -> Result<Option<&Dpop>> {
        if *token.token_type() != TokenType::DPoP {
            return Ok(None);
        }
        self.source
            .client()
            .and_then(Client::dpop)
            .map(Some)
            .ok_or(Error::Refused {
                endpoint: Endpoint::Api,
                reason: Refusal::NoDpopKey,
            })
    }

    /// Sets `Authorization` (marked sensitive) and, for a DPoP-bound token, the `DPoP` proof.
    fn authorize(&self, request: &mut Request, token: &AccessToken) -> Result<()> {
        let mut value = HeaderValue::from_str(token.authorization().expose()).map_err(|_| {
            Error::InvalidResponse {
                endpoint: Endpoint::Token,
                reason: "the access token has characters an HTTP header cannot carry".into(),
            }
        })?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        if let Some(dpop) = self.dpop(token)? {
            let proof = dpop.proof(request.method(), request.url(), Some(token.expose()))?;
            let proof = HeaderValue::from_str(&proof)
                .map_err(|_| Error::Config("the DPoP proof is not a valid header value".into()))?;
            request.headers_mut().insert(DPOP_HEADER, proof);
        }
        Ok(())
    }
}

/// A request being built by an [`AuthorizedClient`]; [`send`](AuthorizedRequestBuilder::send)
/// it. The common reqwest builder methods are here; [`with`](AuthorizedRequestBuilder::with)
/// reaches all the others.
#[must_use = "a request does nothing until it is sent"]
pub struct AuthorizedRequestBuilder {
    client: AuthorizedClient,
    builder: RequestBuilder,
    error: Option<Error>,
}

impl fmt::Debug for AuthorizedRequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedRequestBuilder")
            .finish_non_exhaustive()
    }
}

impl AuthorizedRequestBuilder {
    /// Adds a header.
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.with(|b| b.header(key, value))
    }

    /// Adds headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.with(|b| b.headers(headers))
    }

    /// Appends query parameters (anything `serde_urlencoded` serializes).
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.with(|b| b.query(query))
    }

    /// Sends a form body (`application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.with(|b| b.form(form))
    }

    /// Sends a JSON body (`application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, json: &T) -> Self {
        match serde_json::to_vec(json) {
            Ok(body) => self.with(|b| b.header(CONTENT_TYPE, "application/json").body(body)),
            Err(e) => {
                self.error.get_or_insert(Error::Config(format!(
                    "the JSON body cannot be serialized: {e}"
                )));
                self
            }
        }
    }

    /// Sets the body. A streaming body cannot be replayed, so such a request is not retried.
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        self.with(|b| b.body(body))
    }

    /// A timeout for this request.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|b| b.timeout(timeout))
    }

    /// Applies any other reqwest builder method.
    ///
    /// ```no_run
    /// # async fn run(api: grantkit::AuthorizedClient) -> grantkit::Result<()> {
    /// let response = api
    ///     .get("https://api.example.com/v1/me")
    ///     .with(|b| b.version(reqwest::Version::HTTP_11))
    ///     .send()
    ///     .await?;
    /// # let _ = response; Ok(()) }
    /// ```
    pub fn with(mut self, f: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    /// Sends the request (see [`AuthorizedClient::execute`]).
    pub async fn send(self) -> Result<Response> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let request = self
            .builder
            .build()
            .map_err(|e| Error::Config(format!("invalid request: {}", e.without_url())))?;
        self.client.execute(request).await
    }
}

/// RFC 6750 §3.1: "insufficient_scope ... The resource server SHOULD respond with the HTTP 403
/// (Forbidden) status code and MAY include the "scope" attribute with the scope necessary to
/// access the protected resource". Some servers send it with 401; both are read. Only the
/// `Bearer` and `DPoP` challenges are: another scheme's `error` is not an OAuth error.
fn insufficient_scope(response: &Response, token: &AccessToken) -> Option<InsufficientScope> {
    let status = response.status();
    if status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED {
        return None;
    }
    oauth_challenges(response)
        .find(|v| challenge_param(v, "error").as_deref() == Some("insufficient_scope"))
        .map(|challenge| {
            let required = challenge_param(challenge, "scope").unwrap_or_default();
            let required = required.split_ascii_whitespace().take(100);
            InsufficientScope::new(status.as_u16(), required, token.token_set().scopes())
                .with_details(
                    challenge_param(challenge, "error_description"),
                    challenge_param(challenge, "resource_metadata"),
                )
        })
}

/// RFC 6750 §3.1: `401` with `WWW-Authenticate: Bearer ... error="invalid_token"` (or DPoP's).
fn is_invalid_token(response: &Response) -> bool {
    response.status() == StatusCode::UNAUTHORIZED
        && oauth_challenges(response)
            .any(|v| challenge_param(v, "error").as_deref() == Some("invalid_token"))
}

/// The `Bearer` (RFC 6750) and `DPoP` (RFC 9449 §7.1) challenges of an answer: only their
/// `error` is an OAuth error; another scheme's parameters are not.
fn oauth_challenges(response: &Response) -> impl Iterator<Item = &str> {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| {
            let scheme = v.split_ascii_whitespace().next().unwrap_or("");
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, challenge: &str) -> Response {
        reqwest::Response::from(
            axum::http::Response::builder()
                .status(status)
                .header(WWW_AUTHENTICATE, challenge)
                .body(String::new())
                .unwrap(),
        )
    }

    /// RFC 6750 §3.1 names `invalid_token` as the `error` of a Bearer (or DPoP, RFC 9449 §7.1)
    /// challenge. The words elsewhere (another scheme's realm, a description) are no such error,
    /// and must not cost a refresh and a replayed request.
    #[test]
    fn invalid_token_is_read_as_the_error_of_a_bearer_or_dpop_challenge_only() {
        for (challenge, expected) in [
            (r#"Bearer realm="api", error="invalid_token""#, true),
            (r#"DPoP algs="ES256", error="invalid_token""#, true),
            (r#"Basic realm="invalid_token""#, false),
            (
                r#"Bearer error="invalid_request", error_description="not an invalid_token""#,
                false,
            ),
            (r#"Bearer xerror="invalid_token""#, false),
        ] {
            assert_eq!(
                is_invalid_token(&answer(401, challenge)),
                expected,
                "{challenge}"
            );
        }
        assert!(!is_invalid_token(&answer(
            403,
            r#"Bearer error="invalid_token""#
        )));
    }
}
