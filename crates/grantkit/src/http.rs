//! The HTTP layer every back-channel call goes through: timeouts, a body cap, no redirects,
//! and one place that turns responses into typed errors.
//!
//! Applications need only [`HttpOptions`]. Provider crates use [`HttpClient`] and
//! [`HttpResponse`] for their own API calls (user registration, client registration...), so those
//! calls get the same limits and the same typed [`Error`]s as grantkit's, with
//! [`Endpoint::Api`], without a second HTTP layer:
//!
//! ```no_run
//! use grantkit::http::HttpClient;
//! use grantkit::Endpoint;
//! use grantkit::http::HttpOptions;
//!
//! # async fn run() -> grantkit::Result<()> {
//! let http = HttpClient::new(HttpOptions::default())?;
//! let request = http.reqwest().get("https://api.example.com/v1/me").bearer_auth("token");
//! let response = http.execute(Endpoint::Api, request).await?;
//! match response.status().as_u16() {
//!     200 => { let _me: serde_json::Value = response.json()?; }
//!     409 => { /* a status this provider uses for "already done" */ }
//!     _ => return Err(response.error()), // 429 -> RateLimited, JSON OAuth error, or status + excerpt
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;

use crate::address::{GuardedResolver, RefusedAddress};
use crate::error::{truncate, Endpoint, Error, OAuthError, OAuthErrorCode, Result};

/// Limits for the HTTP calls a [`Client`](crate::Client) makes.
///
/// The defaults suit a backend calling a provider over the internet: a 30 s total timeout,
/// 10 s to connect, bodies up to 1 MiB.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Total time for one call, from connecting until the body is read. It is enforced by
    /// grantkit itself (a shared watchdog thread, cheaper than a runtime timer per call), so it
    /// holds in any runtime, also with an application's own reqwest builder.
    pub timeout: Duration,
    /// Time to establish the connection.
    pub connect_timeout: Duration,
    /// Largest response body read; a larger one is an [`Error::BodyTooLarge`].
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// A successful (2xx) response, body read in full.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) body: Vec<u8>,
    /// The address the answer came from (the peer of the connection), when known.
    pub(crate) remote: Option<std::net::SocketAddr>,
}

/// The shared HTTP client and its limits.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    options: HttpOptions,
}

impl Http {
    pub(crate) fn new(options: HttpOptions) -> Result<Self> {
        Self::build(None, options, GuardedResolver::default())
    }

    /// Builds the client from an application's reqwest builder (proxy, custom roots) or from
    /// grantkit's defaults, and forces what the OAuth calls rely on: no redirects, and the
    /// resolver that checks where endpoints named by a remote document resolve to.
    pub(crate) fn build(
        builder: Option<reqwest::ClientBuilder>,
        options: HttpOptions,
        resolver: GuardedResolver,
    ) -> Result<Self> {
        let builder = builder.unwrap_or_else(|| default_builder(&options));
        // Forced on an application's builder too: reqwest's default policy follows a 307/308
        // and re-posts the form (secret, code and verifier, refresh token) to its target.
        let mut builder = builder.redirect(reqwest::redirect::Policy::none());
        if resolver.policy.is_some() || !resolver.overrides.is_empty() {
            builder = builder.dns_resolver(Arc::new(resolver));
        }
        let client = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client, options })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request and returns the 2xx body, or the typed error for anything else.
    pub(crate) async fn send(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<Response> {
        let response = self.execute(endpoint, request).await?;
        if response.status.is_success() {
            return Ok(Response {
                body: response.body,
                remote: response.remote,
            });
        }
        Err(response.error())
    }

    /// Sends a request and reads the body of any answer but a redirect, which is an error; the
    /// whole exchange, body included, within the total timeout.
    pub(crate) async fn execute(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<HttpResponse> {
        let timeout = self.options.timeout;
        crate::deadline::within(timeout, self.round_trip(endpoint, request))
            .await
            .unwrap_or(Err(Error::Timeout { endpoint, timeout }))
    }

    async fn round_trip(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<HttpResponse> {
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport_error(endpoint, e))?;
        let status = response.status();
        let remote = response.remote_addr();
        let headers = std::mem::take(response.headers_mut());
        if status.is_redirection() {
            let location = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location header)");
            return Err(Error::UnexpectedRedirect {
                endpoint,
                status: status.as_u16(),
                location: truncate(location, 200),
            });
        }
        let body = self.read_body(endpoint, response).await?;
        Ok(HttpResponse {
            endpoint,
            status,
            headers,
            body,
            credentials: None,
            remote,
        })
    }

    async fn read_body(
        &self,
        endpoint: Endpoint,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>> {
        let limit = self.options.max_body_bytes;
        let too_large = || Error::BodyTooLarge { endpoint, limit };
        // The length hyper frames the body with, not the raw header: a `Content-Length` next to
        // `Transfer-Encoding` is overruled by the chunks (or by the connection's close).
        match response.content_length() {
            Some(len) if len > limit as u64 => return Err(too_large()),
            // Framing stops the body at this length, so it cannot outgrow the cap: read it in
            // one piece (no per-chunk copy). A shorter body is a transport error.
            Some(_) => {
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| self.transport_error(endpoint, e))?;
                return Ok(body.into());
            }
            None => {}
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(endpoint, e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, endpoint: Endpoint, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::Timeout {
                endpoint,
                timeout: self.options.timeout,
            };
        }
        transport_error(endpoint, e)
    }
}

/// grantkit's own reqwest settings, for a client the application gave no builder for. The
/// total timeout is grantkit's own (see `Http::execute`), not reqwest's.
pub(crate) fn default_builder(options: &HttpOptions) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .user_agent(concat!("grantkit/", env!("CARGO_PKG_VERSION")))
}

/// `builder` (grantkit's defaults when `None`) trusting `roots` too; unchanged without roots,
/// so an application's builder keeps whatever trust it was given.
pub(crate) fn trusting(
    builder: Option<reqwest::ClientBuilder>,
    options: &HttpOptions,
    roots: &[reqwest::Certificate],
) -> Option<reqwest::ClientBuilder> {
    if roots.is_empty() {
        return builder;
    }
    let builder = builder.unwrap_or_else(|| default_builder(options));
    Some(builder.tls_certs_merge(roots.iter().cloned()))
}

/// The reqwest client for calls to resource servers (see
/// [`Client::resource_http_client`](crate::Client::resource_http_client)): a 30 s timeout, 10 s
/// to connect, grantkit's User-Agent, no redirect followed, the client certificate (`identity`)
/// and the extra `roots` when the client has them. No SSRF resolver: the application names its
/// resource servers itself, no remote document does.
pub(crate) fn resource_client(
    identity: Option<reqwest::Identity>,
    roots: &[reqwest::Certificate],
) -> Result<reqwest::Client> {
    // Reqwest's default policy follows up to 10 redirects and re-sends the body (307/308); it
    // drops `Authorization` only when the host changes, so a bound token's request would go on
    // with the certificate to wherever the resource server points.
    // grantkit's defaults (connect timeout, User-Agent); reqwest's own total timeout, since
    // these calls do not go through `Http::execute`.
    let builder = default_builder(&HttpOptions::default())
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_merge(roots.iter().cloned());
    let builder = match identity {
        Some(identity) => builder.identity(identity),
        None => builder,
    };
    builder
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// The HTTP client grantkit's own calls go through, for a provider crate's API calls: timeouts,
/// the body cap of [`HttpOptions`], redirects refused ([`Error::UnexpectedRedirect`]), transport
/// failures as [`Error::Transport`] / [`Error::Timeout`] without the URL, and [`HttpResponse::error`]
/// for the typed error of a failed answer. Clones share one connection pool.
///
/// Get one from [`Client::http_client`](crate::Client::http_client) to share the client's
/// settings, or build one with [`HttpClient::new`].
#[derive(Clone, Debug)]
pub struct HttpClient {
    http: Http,
}

impl HttpClient {
    /// A client with its own connection pool and these limits.
    pub fn new(options: HttpOptions) -> Result<Self> {
        Ok(Self {
            http: Http::new(options)?,
        })
    }

    /// A client built from an application's reqwest builder (proxy, custom roots, its own
    /// connect timeout); `options` sets the total timeout and the body cap. grantkit turns
    /// redirects off on it: reqwest's default policy would re-send a 307/308 request, body and
    /// all, to wherever the answer points. A built `reqwest::Client` is not accepted, because
    /// its redirect policy cannot be checked.
    pub fn with_client_builder(
        builder: reqwest::ClientBuilder,
        options: HttpOptions,
    ) -> Result<Self> {
        Ok(Self {
            http: Http::build(Some(builder), options, GuardedResolver::default())?,
        })
    }

    pub(crate) fn from_http(http: Http) -> Self {
        Self { http }
    }

    /// The reqwest client, to build requests with (`.get(url)`, `.bearer_auth(...)`, `.json(...)`).
    pub fn reqwest(&self) -> &reqwest::Client {
        self.http.client()
    }

    /// Sends `request` and reads the answer, whatever its status, so the caller can give meaning
    /// to the statuses of its API (a 409 that means "already done", a 204 that means "none").
    /// Fails only for a redirect, a transport failure, a timeout or a body over the cap; errors
    /// name `endpoint` (use [`Endpoint::Api`] for a provider's API).
    pub async fn execute(
        &self,
        endpoint: Endpoint,
        request: RequestBuilder,
    ) -> Result<HttpResponse> {
        let request = request
            .build()
            .map_err(|e| self.http.transport_error(endpoint, e))?;
        // Kept (a reference-counted copy) so that an error page echoing it can be scrubbed.
        // grantkit's own calls scrub what they send themselves.
        let credentials = request.headers().get(AUTHORIZATION).cloned();
        let request = reqwest::RequestBuilder::from_parts(self.http.client().clone(), request);
        let mut response = self.http.execute(endpoint, request).await?;
        response.credentials = credentials;
        Ok(response)
    }
}

/// An answer read by [`HttpClient::execute`]: status, headers and the whole body (within the cap).
///
/// `Debug` shows the status and the body's length, never the body, which may hold tokens.
#[derive(Clone)]
pub struct HttpResponse {
    endpoint: Endpoint,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The request's `Authorization` header, scrubbed from [`HttpResponse::error`]; never shown.
    credentials: Option<HeaderValue>,
    /// The peer address the answer came from.
    remote: Option<std::net::SocketAddr>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    /// The endpoint the request went to, as given to [`HttpClient::execute`].
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Parses the body as JSON; an unexpected body is an [`Error::InvalidResponse`] that names
    /// the endpoint, the missing member or the position, and says so when it is HTML. It never
    /// quotes the body: a 2xx answer may carry fresh secrets.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        parse_json(self.endpoint, &self.body)
    }

    /// The `Retry-After` delay (seconds or an HTTP date), if the answer carries one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header(RETRY_AFTER.as_str())
            .and_then(parse_retry_after)
    }

    /// Whether this answer is a rate limit: HTTP 429, or 503 with `Retry-After`. Provider crates
    /// that read their own error bodies use it, so every crate agrees on what a rate limit is.
    pub fn is_rate_limited(&self) -> bool {
        is_rate_limit(self.status, self.retry_after())
    }

    /// The start of the body for a message: at most 200 characters, control characters removed.
    /// The request's credentials (the token or Basic value of its `Authorization` header) are
    /// scrubbed from it, should the answer echo the request.
    pub fn body_excerpt(&self) -> String {
        let mut text = excerpt(&self.body);
        if let Some(credential) = self.credential() {
            crate::error::scrub_text(&mut text, &[credential]);
        }
        text
    }

    /// The credential the request carried in its `Authorization` header, if any.
    fn credential(&self) -> Option<&str> {
        self.credentials
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .map(|(_scheme, credential)| credential.trim())
    }

    /// The typed error grantkit gives for this answer when it is not a success:
    /// [`Error::RateLimited`] for 429 (or 503 with `Retry-After`), [`Error::OAuth`] for an
    /// RFC 6749 JSON error body or a `WWW-Authenticate: Bearer error=...` header, else
    /// [`Error::Http`] with the status and a body excerpt. The request's credentials (the token
    /// or Basic value of its `Authorization` header) are scrubbed from it, should the answer
    /// echo the request.
    pub fn error(&self) -> Error {
        let error = error_from_response(self.endpoint, self.status, &self.headers, &self.body);
        match self.credential() {
            Some(credential) => error.scrub(&[credential]),
            None => error,
        }
    }

    /// `Ok(self)` for a 2xx answer, else [`HttpResponse::error`].
    pub fn error_for_status(self) -> Result<Self> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(self.error())
        }
    }
}

/// Makes a provider-supplied string safe to put in an error or a log line: control characters
/// removed, cut to `max_chars` characters (with `…`). grantkit does this to every text a provider
/// sends it; provider crates should too.
pub fn clean_text(text: &str, max_chars: usize) -> String {
    truncate(text, max_chars)
}

/// A transport failure as a typed error: the whole cause chain, without the URL (it can carry
/// query parameters).
pub(crate) fn transport_error(endpoint: Endpoint, e: reqwest::Error) -> Error {
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<RefusedAddress>() {
            return Error::UnsafeEndpoint {
                field: metadata_member(endpoint).to_owned(),
                reason: refused.to_string(),
            };
        }
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Error::Transport {
        endpoint,
        message: truncate(&message, 300),
    }
}

/// The discovery-document member an endpoint comes from, to name it in an SSRF refusal.
fn metadata_member(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Authorization => "authorization_endpoint",
        Endpoint::Token => "token_endpoint",
        Endpoint::Revocation => "revocation_endpoint",
        Endpoint::Introspection => "introspection_endpoint",
        Endpoint::Userinfo => "userinfo_endpoint",
        Endpoint::Jwks => "jwks_uri",
        Endpoint::DeviceAuthorization => "device_authorization_endpoint",
        Endpoint::PushedAuthorization => "pushed_authorization_request_endpoint",
        Endpoint::EndSession => "end_session_endpoint",
        Endpoint::Discovery => "issuer",
        _ => "API endpoint",
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
    error_uri: Option<String>,
}

/// Turns a non-2xx answer into the most specific error it supports.
pub(crate) fn error_from_response(
    endpoint: Endpoint,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    if is_rate_limit(status, retry_after) {
        return Error::RateLimited {
            endpoint,
            status: status.as_u16(),
            retry_after,
        };
    }
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return Error::OAuth(OAuthError {
            endpoint,
            code: OAuthErrorCode::from_wire(&e.error),
            description: e.error_description.map(|d| truncate(&d, 300)),
            uri: e.error_uri.map(|u| truncate(&u, 300)),
            status: Some(status.as_u16()),
        });
    }
    if let Some(e) = headers
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| bearer_error(endpoint, status, v))
    {
        return Error::OAuth(e);
    }
    Error::Http {
        endpoint,
        status: status.as_u16(),
        body_excerpt: excerpt(body),
    }
}

/// `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Reads `error="..."` and `error_description="..."` from a `WWW-Authenticate` challenge (RFC 6750 §3).
fn bearer_error(endpoint: Endpoint, status: StatusCode, header: &str) -> Option<OAuthError> {
    let code = challenge_param(header, "error")?;
    Some(OAuthError {
        endpoint,
        code: OAuthErrorCode::from_wire(&code),
        description: challenge_param(header, "error_description").map(|d| truncate(&d, 300)),
        uri: challenge_param(header, "error_uri").map(|u| truncate(&u, 300)),
        status: Some(status.as_u16()),
    })
}

/// Reads the quoted parameter `name="value"` of a `WWW-Authenticate` challenge (RFC 9110
/// §11.2), matching the whole parameter name: `error` is not read out of `xerror="..."`.
/// The value is returned as sent; clean it ([`clean_text`]) before showing it.
///
/// ```
/// use grantkit::http::challenge_param;
/// let h = r#"Bearer realm="api", error="insufficient_scope", scope="products:read""#;
/// assert_eq!(challenge_param(h, "scope").as_deref(), Some("products:read"));
/// assert_eq!(challenge_param(r#"Bearer xscope="a""#, "scope"), None);
/// ```
pub fn challenge_param(header: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = header.match_indices(&key).map(|(i, _)| i).find(|&i| {
        header
            .get(..i)
            .is_some_and(|before| before.is_empty() || before.ends_with([' ', ',']))
    })? + key.len();
    let rest = header.get(start..)?;
    rest.get(..rest.find('"')?).map(str::to_owned)
}

/// Whether an answer is a rate limit: HTTP 429, or 503 with `Retry-After` (RFC 9110 §10.2.3).
pub(crate) fn is_rate_limit(status: StatusCode, retry_after: Option<Duration>) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some())
}

fn excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let head = body.get(..800).unwrap_or(body);
    truncate(&String::from_utf8_lossy(head), 200)
}

/// Parses a 2xx JSON body, naming the endpoint and the problem when it is not what was expected.
///
/// The reason never quotes the body: a 2xx answer (a registration, a device authorization, a
/// pushed request) carries fresh secrets, and one missing member must not put them in a log.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    endpoint: Endpoint,
    body: &[u8],
) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidResponse {
        endpoint,
        reason: json_reason(body, &e),
    })
}

/// What is wrong with a JSON body, from the error's category and position only: serde's
/// messages for data errors quote the offending value (`invalid type: string "..."`).
fn json_reason(body: &[u8], e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("at line {} column {}", e.line(), e.column());
    if body.first().is_some_and(|b| *b == b'<') {
        return "expected JSON but got HTML".to_owned();
    }
    match e.classify() {
        Category::Io | Category::Syntax | Category::Eof => format!("not JSON ({e})"),
        Category::Data => {
            let message = e.to_string();
            // "missing field `name`" names a member of our own type, never a value.
            if let Some(field) = message
                .strip_prefix("missing field ")
                .and_then(|rest| rest.split(' ').next())
            {
                return format!("not the expected JSON: missing field {field} {at}");
            }
            // What follows the last ", expected " comes from our type's description; the value
            // before it (quoted by serde) may itself contain that text.
            match message.rsplit_once(", expected ") {
                Some((_, expected)) => {
                    let expected = expected.strip_suffix(&format!(" {at}")).unwrap_or(expected);
                    format!(
                        "not the expected JSON: a member has an unexpected value {at} (expected {})",
                        truncate(expected, 100)
                    )
                }
                None => format!("not the expected JSON: a member has an unexpected value {at}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_parameter_is_read_by_its_whole_name() {
        // Before the shared reader, `error="` was found inside `xerror="`, so an extension
        // parameter could forge the OAuth error of a 401.
        let forged = "Bearer realm=\"api\", xerror=\"invalid_token\"";
        assert!(bearer_error(Endpoint::Api, StatusCode::UNAUTHORIZED, forged).is_none());
        let real = "Bearer realm=\"api\",error=\"invalid_token\", error_description=\"expired\"";
        let e = bearer_error(Endpoint::Api, StatusCode::UNAUTHORIZED, real).unwrap();
        assert_eq!(e.code, OAuthErrorCode::InvalidToken);
        assert_eq!(e.description.as_deref(), Some("expired"));
        assert_eq!(
            challenge_param("Bearer scope=\"open", "scope"),
            None,
            "unterminated"
        );
    }

    #[test]
    fn a_503_is_a_rate_limit_only_with_retry_after() {
        let wait = Some(Duration::from_secs(5));
        assert!(is_rate_limit(StatusCode::TOO_MANY_REQUESTS, None));
        assert!(is_rate_limit(StatusCode::SERVICE_UNAVAILABLE, wait));
        assert!(!is_rate_limit(StatusCode::SERVICE_UNAVAILABLE, None));
        assert_eq!(crate::error::retry_words(wait), "after 5 s");
        assert_eq!(crate::error::retry_words(None), "later");
    }
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn json_error_body_becomes_oauth_error() {
        let e = error_from_response(
            Endpoint::Token,
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        );
        let oauth = e.oauth().expect("oauth error");
        assert_eq!(oauth.code, OAuthErrorCode::InvalidGrant);
        assert_eq!(oauth.status, Some(400));
        assert_eq!(
            oauth.description.as_deref(),
            Some("grant request is invalid")
        );
    }

    #[test]
    fn html_error_keeps_status_and_excerpt() {
        let e = error_from_response(
            Endpoint::Token,
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html><body>Bad gateway</body></html>",
        );
        match e {
            Error::Http {
                status,
                body_excerpt,
                ..
            } => {
                assert_eq!(status, 502);
                assert!(body_excerpt.contains("Bad gateway"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rate_limit_reads_retry_after_seconds_and_dates() {
        let e = error_from_response(
            Endpoint::Token,
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[(RETRY_AFTER, "12")]),
            b"",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
        let future = std::time::SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(future)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn www_authenticate_error_is_read() {
        let e = error_from_response(
            Endpoint::Userinfo,
            StatusCode::UNAUTHORIZED,
            &headers(&[(
                WWW_AUTHENTICATE,
                r#"Bearer realm="op", error="invalid_token", error_description="invalid token provided""#,
            )]),
            b"",
        );
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidToken));
    }

    /// A registration-like 201 body missing a member: the error names the member and the
    /// position, and quotes nothing of the body (it carries a fresh client secret).
    #[test]
    fn a_2xx_body_missing_a_member_quotes_no_secret() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Registered {
            client_id: String,
            client_secret: String,
            registration_access_token: String,
        }
        const SECRET: &str = "fresh-client-secret-DO-NOT-LEAK";
        let response = HttpResponse {
            endpoint: Endpoint::Api,
            status: StatusCode::CREATED,
            headers: HeaderMap::new(),
            body: format!(r#"{{"client_id":"c1","client_secret":"{SECRET}"}}"#).into_bytes(),
            credentials: None,
            remote: None,
        };
        let e = response.json::<Registered>().unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("DO-NOT-LEAK"), "{shown}");
        assert!(shown.contains("registration_access_token"), "{shown}");
        assert!(shown.contains("line 1"), "{shown}");
        // A member of the wrong type: serde would quote the value; the error must not.
        let wrong: Result<Registered> = parse_json(
            Endpoint::Api,
            format!(
                r#"{{"client_id":"c1","client_secret":"{SECRET}","registration_access_token":7}}"#
            )
            .as_bytes(),
        );
        let wrong = wrong.unwrap_err().to_string();
        assert!(!wrong.contains("DO-NOT-LEAK"), "{wrong}");
        let typed: Result<u64> = parse_json(Endpoint::Api, format!("\"{SECRET}\"").as_bytes());
        let typed = typed.unwrap_err().to_string();
        assert!(!typed.contains("DO-NOT-LEAK"), "{typed}");
        assert!(typed.contains("expected"), "{typed}");
        // A value that itself holds ", expected " must not split the message inside the quote.
        let tricky: Result<u64> = parse_json(
            Endpoint::Api,
            b"\"rt-SECRET-HEAD, expected rt-SECRET-TAIL\"",
        );
        let tricky = tricky.unwrap_err().to_string();
        assert!(!tricky.contains("SECRET"), "{tricky}");
    }

    #[test]
    fn html_2xx_is_named_but_not_quoted() {
        let e = parse_json::<serde_json::Value>(
            Endpoint::PushedAuthorization,
            b"<html>request_uri=urn:secret-DO-NOT-LEAK</html>",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("HTML") && !e.contains("DO-NOT-LEAK"), "{e}");
    }

    #[test]
    fn parse_json_names_html() {
        let e = parse_json::<serde_json::Value>(Endpoint::Token, b"<html>oops</html>").unwrap_err();
        assert!(e.to_string().contains("HTML"), "{e}");
    }
}
