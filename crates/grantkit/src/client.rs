//! The `Client`: one registered application at one provider. No type parameters, cheap to clone.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::RequestBuilder;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::address::GuardedResolver;
use crate::dpop::Dpop;
use crate::error::{Endpoint, Error, IdTokenError, Result};
use crate::http::{trusting, Http, HttpOptions, HttpResponse};
use crate::jwt_auth::{client_assertion, ClientKey, JwtAudience, Signer, ASSERTION_TYPE};
use crate::mtls::{Mtls, TlsIdentity};
use crate::oidc::{IdTokenVerifier, JwksCache, JwksOptions};
use crate::provider::{AuthMethod, Provider};
use crate::redirect_uri::check_redirect_uri;
use crate::secret::Secret;
use jsonwebtoken::EncodingKey;

/// An OAuth 2.0 / OpenID Connect client: a provider plus this application's registration.
///
/// `Client` has no type parameters and clones cheaply (an `Arc` inside), so it fits in a
/// struct field, an axum `State` or a `static`.
///
/// ```
/// use grantkit::{AuthMethod, Client, Provider};
///
/// let provider = Provider::builder("example")
///     .authorization_endpoint("https://login.example.com/authorize")
///     .token_endpoint("https://login.example.com/token")
///     .build()?;
/// let client = Client::builder(provider, "my-client-id")
///     .client_secret("my-client-secret")
///     .auth_method(AuthMethod::ClientSecretBasic)
///     .redirect_uri("https://app.example.com/auth/callback")
///     .scopes(["openid", "email"])
///     .build()?;
/// assert!(!format!("{client:?}").contains("my-client-secret"));
/// # Ok::<(), grantkit::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Provider,
    client_id: String,
    client_secret: Option<Secret>,
    private_key: Option<ClientKey>,
    /// The HMAC key of `client_secret_jwt`, made once: a key per request would leave a copy
    /// of the secret in freed memory each time (jsonwebtoken's keys are not wiped).
    secret_jwt_key: Option<EncodingKey>,
    jwt_audience: JwtAudience,
    auth_method: AuthMethod,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    require_par: bool,
    /// The `Authorization` value of `client_secret_basic`, encoded once: it never changes.
    basic_header: Option<HeaderValue>,
    http: Http,
    id_tokens: Option<IdTokenVerifier>,
    dpop: Option<Dpop>,
    /// The client certificate and the HTTP client that presents it (RFC 8705).
    mtls: Option<Mtls>,
    /// The HTTP client for resource servers: no redirects, the certificate and extra roots.
    resource_http: reqwest::Client,
    /// JARM: the algorithm signed authorization responses must use.
    authorization_alg: String,
    /// The algorithms registered for signed userinfo and introspection, when told.
    signed_response_algs: RegisteredAlgs,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.inner.provider.name())
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .field("private_key", &self.inner.private_key)
            .field("auth_method", &self.inner.auth_method)
            .field("tls_identity", &self.tls_identity())
            .field("redirect_uri", &self.inner.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client of `provider` registered as `client_id`.
    pub fn builder(provider: Provider, client_id: impl Into<String>) -> ClientBuilder {
        // The roots a discovery trusted serve the same hosts: the JWKS and token calls need them.
        let root_certificates = provider.root_certificates().to_vec();
        ClientBuilder {
            provider,
            client_id: client_id.into(),
            client_secret: None,
            private_key: None,
            jwt_audience: JwtAudience::default(),
            auth_method: None,
            redirect_uri: None,
            scopes: Vec::new(),
            require_par: false,
            dpop: None,
            tls_identity: None,
            root_certificates,
            http_options: HttpOptions::default(),
            http_client_builder: None,
            resolve: HashMap::new(),
            leeway: crate::oidc::DEFAULT_ID_TOKEN_LEEWAY,
            jwks: JwksOptions::default(),
            authorization_alg: None,
            signed_response_algs: RegisteredAlgs::default(),
        }
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    /// The client identifier.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// How this client authenticates at the token endpoint.
    pub fn auth_method(&self) -> AuthMethod {
        self.inner.auth_method
    }

    /// The default redirect URI, if one was configured.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.inner.redirect_uri.as_deref()
    }

    /// The scopes requested when an authorization request names none.
    pub fn default_scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The HTTP client for calls to `endpoint`: the one presenting the client certificate for
    /// the endpoints mutual TLS applies to (RFC 8705 §5), the plain one for the rest.
    pub(crate) fn http_for(&self, endpoint: Endpoint) -> &Http {
        match &self.inner.mtls {
            Some(mtls) if crate::mtls::is_mtls_endpoint(endpoint) => &mtls.http,
            _ => self.http(),
        }
    }

    /// Where calls to `endpoint` go: its `mtls_endpoint_aliases` entry when this client uses
    /// mutual TLS and the provider has one (RFC 8705 §5), else the endpoint itself.
    pub(crate) fn endpoint_url(&self, endpoint: Endpoint) -> Result<&url::Url> {
        let alias = self
            .inner
            .mtls
            .as_ref()
            .and_then(|_| self.provider().mtls_endpoint_alias(endpoint));
        match alias {
            Some(url) => Ok(url),
            None => self.provider().endpoint(endpoint),
        }
    }

    /// The certificate this client presents in mutual TLS, if it has one.
    pub fn tls_identity(&self) -> Option<&TlsIdentity> {
        self.inner.mtls.as_ref().map(|m| &m.identity)
    }

    /// The HTTP client for calling resource servers on this client's behalf, the one
    /// [`AuthorizedClient::new`](crate::AuthorizedClient::new) uses: a 30 s timeout, 10 s to
    /// connect, grantkit's User-Agent, **no redirect followed** (a `3xx` comes back as the
    /// answer), and, when the client has them, its
    /// [`tls_identity`](ClientBuilder::tls_identity) presented (certificate-bound tokens, RFC
    /// 8705 §3) and its [`root_certificate`](ClientBuilder::root_certificate)s trusted.
    /// [`http_client_builder`](ClientBuilder::http_client_builder)'s settings (a proxy, say) do
    /// not apply to it.
    ///
    /// Built once with the client; clones share one connection pool. Give it to
    /// [`AuthorizedClient::with_client`](crate::AuthorizedClient::with_client) to share it
    /// between token sources.
    ///
    /// ```
    /// use grantkit::{Client, Provider};
    ///
    /// let provider = Provider::builder("p")
    ///     .token_endpoint("https://p.example/token")
    ///     .build()?;
    /// let client = Client::builder(provider, "my-client").build()?;
    /// let http: reqwest::Client = client.resource_http_client();
    /// # let _ = http;
    /// # Ok::<(), grantkit::Error>(())
    /// ```
    pub fn resource_http_client(&self) -> reqwest::Client {
        self.inner.resource_http.clone()
    }

    /// This client's HTTP client (same pool, timeouts and body cap), for a provider crate's API
    /// calls; see [`HttpClient`](crate::http::HttpClient).
    pub fn http_client(&self) -> crate::http::HttpClient {
        crate::http::HttpClient::from_http(self.inner.http.clone())
    }

    pub(crate) fn id_token_verifier(&self) -> Option<&IdTokenVerifier> {
        self.inner.id_tokens.as_ref()
    }

    /// The clock skew its ID-token checks tolerate, `auth_time` against `max_age` included
    /// ([`ClientBuilder::id_token_leeway`]; [`DEFAULT_ID_TOKEN_LEEWAY`](crate::oidc::DEFAULT_ID_TOKEN_LEEWAY)
    /// when unset or when the client validates no ID tokens).
    ///
    /// ```
    /// # fn run(client: grantkit::Client) {
    /// let leeway = client.id_token_leeway();
    /// # let _ = leeway; }
    /// ```
    pub fn id_token_leeway(&self) -> Duration {
        self.inner.id_tokens.as_ref().map_or(
            crate::oidc::DEFAULT_ID_TOKEN_LEEWAY,
            IdTokenVerifier::leeway,
        )
    }

    /// Whether this client validates ID tokens (the provider has an issuer and a JWKS URI).
    pub fn is_openid(&self) -> bool {
        self.inner.id_tokens.is_some()
    }

    /// How many times this client fetched the provider's JWKS. A warm cache makes no request
    /// per validation; a key rotation costs one.
    pub fn jwks_fetch_count(&self) -> u64 {
        self.inner
            .id_tokens
            .as_ref()
            .map_or(0, |v| v.jwks.fetches())
    }

    /// The ID-token verifier, or the typed error naming what the provider lacks for one.
    pub(crate) fn require_id_token_verifier(&self) -> Result<&IdTokenVerifier> {
        if let Some(verifier) = self.id_token_verifier() {
            return Ok(verifier);
        }
        let provider = self.provider();
        let missing = match (
            provider.issuer().is_some(),
            provider.endpoint(Endpoint::Jwks).is_ok(),
        ) {
            (false, false) => "issuer and no jwks_uri",
            (false, true) => "issuer",
            _ => "jwks_uri",
        };
        Err(IdTokenError::NoVerifier {
            provider: provider.name().to_owned(),
            missing,
        }
        .into())
    }

    /// Whether this client was registered to push every authorization request (RFC 9126 §6,
    /// `require_pushed_authorization_requests` in its registration).
    pub fn requires_pushed_authorization_requests(&self) -> bool {
        self.inner.require_par
    }

    /// The key that signs client assertions and request objects (JAR), if any.
    pub(crate) fn private_key(&self) -> Option<&ClientKey> {
        self.inner.private_key.as_ref()
    }

    /// The algorithm of signed authorization responses (JARM): the one the client registered as
    /// `authorization_signed_response_alg`, `RS256` by default as in the JARM specification.
    pub fn authorization_signed_response_alg(&self) -> &str {
        &self.inner.authorization_alg
    }

    /// The `userinfo_signed_response_alg` and `introspection_signed_response_alg` given to
    /// the builder.
    pub(crate) fn signed_response_algs(&self) -> &RegisteredAlgs {
        &self.inner.signed_response_algs
    }

    /// The DPoP state (key and server nonces), when the client has a DPoP key.
    pub(crate) fn dpop(&self) -> Option<&Dpop> {
        self.inner.dpop.as_ref()
    }

    /// The DPoP key this client proves possession of (feature `dpop`); persist it
    /// ([`DpopKey::to_pem`](crate::dpop::DpopKey::to_pem)) together with DPoP-bound refresh tokens.
    #[cfg(feature = "dpop")]
    pub fn dpop_key(&self) -> Option<&crate::dpop::DpopKey> {
        self.dpop().map(Dpop::key)
    }

    /// Adds client authentication to a back-channel request whose form is `form`: a Basic
    /// header, the secret in the form, a fresh JWT assertion, or just the client id.
    pub(crate) fn authenticate(
        &self,
        request: RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> Result<RequestBuilder> {
        let request = request.header(ACCEPT, ACCEPT_JSON.clone());
        if let Some(basic) = &self.inner.basic_header {
            // The id travels in the header only: some servers (Polar AccessLink) refuse a
            // `client_id` in the body next to Basic credentials.
            return Ok(request.header(AUTHORIZATION, basic.clone()));
        }
        let id = &self.inner.client_id;
        let secret = self.inner.client_secret.as_ref();
        if !form.iter().any(|(name, _)| *name == "client_id") {
            // A pushed authorization request carries the client id already.
            form.push(("client_id", id.clone()));
        }
        let signer = match (self.inner.auth_method, secret, &self.inner.private_key) {
            (AuthMethod::ClientSecretPost, Some(secret), _) => {
                form.push(("client_secret", secret.expose().to_owned()));
                return Ok(request);
            }
            (AuthMethod::PrivateKeyJwt, _, Some(key)) => Signer::Key(key),
            (AuthMethod::ClientSecretJwt, _, _) => match &self.inner.secret_jwt_key {
                Some(key) => Signer::Secret(key),
                None => return Ok(request),
            },
            _ => return Ok(request),
        };
        let (audience, typ) = (self.jwt_audience()?, self.inner.jwt_audience.typ());
        form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
        form.push((
            "client_assertion",
            client_assertion(id, audience, typ, signer)?,
        ));
        Ok(request)
    }

    /// The assertion's `aud`: the issuer by default, whichever endpoint the call goes to
    /// (draft-ietf-oauth-rfc7523bis; see [`JwtAudience`]).
    fn jwt_audience(&self) -> Result<&str> {
        let provider = self.provider();
        match self.inner.jwt_audience {
            JwtAudience::TokenEndpoint => Ok(provider.endpoint(Endpoint::Token)?.as_str()),
            JwtAudience::Issuer => provider.issuer().ok_or_else(|| {
                Error::Config(format!(
                    "the client assertion audience is the issuer, but provider `{}` has none",
                    provider.name()
                ))
            }),
        }
    }

    /// POSTs an authenticated form (`form`, then `extra`) to a back-channel endpoint and returns
    /// the 2xx answer, or the typed error. With `dpop` (token requests), a DPoP client adds a
    /// proof and retries once when the server demands a nonce (`use_dpop_nonce` + `DPoP-Nonce`).
    pub(crate) async fn post_form(
        &self,
        endpoint: Endpoint,
        form: Vec<(&'static str, String)>,
        extra: &[(String, String)],
        dpop: bool,
    ) -> Result<HttpResponse> {
        self.post_form_accepting(endpoint, form, extra, dpop, &ACCEPT_JSON)
            .await
    }

    /// [`post_form`](Client::post_form) asking for `accept` instead of JSON (a signed
    /// introspection response, RFC 9701).
    pub(crate) async fn post_form_accepting(
        &self,
        endpoint: Endpoint,
        form: Vec<(&'static str, String)>,
        extra: &[(String, String)],
        dpop: bool,
        accept: &HeaderValue,
    ) -> Result<HttpResponse> {
        let form = WipedForm(form);
        let url = self.endpoint_url(endpoint)?;
        // The retry needs the form as it was before authentication (a fresh assertion, a fresh
        // proof); keep a copy only when a retry can happen, not on every call.
        let dpop = self.dpop().filter(|_| dpop);
        let retry = dpop.map(|_| form.clone());
        let (mut response, mut sent) = self
            .send_form(endpoint, url, form, extra, dpop, accept)
            .await?;
        if let (Some(dpop), Some(form)) = (dpop, retry) {
            if dpop.nonce_demanded(url, &response) {
                tracing::debug!(%endpoint, "the server demands a DPoP nonce; retrying once");
                (response, sent) = self
                    .send_form(endpoint, url, form, extra, Some(dpop), accept)
                    .await?;
                // Remembers a nonce the second answer may carry.
                dpop.nonce_demanded(url, &response);
            }
        }
        // A server's error page may echo the request back: keep what it carried out of the error.
        response
            .error_for_status()
            .map_err(|e| self.scrub_sent(e, &sent.0))
    }

    /// Authenticates and sends one form; returns the answer and the form as sent (for scrubbing).
    async fn send_form(
        &self,
        endpoint: Endpoint,
        url: &url::Url,
        mut form: WipedForm,
        extra: &[(String, String)],
        dpop: Option<&Dpop>,
        accept: &HeaderValue,
    ) -> Result<(HttpResponse, WipedForm)> {
        let http = self.http_for(endpoint);
        let request = self.authenticate(http.client().post(url.clone()), &mut form.0)?;
        // `authenticate` asked for JSON; `headers` replaces that value rather than adding one.
        let request = if *accept == ACCEPT_JSON {
            request
        } else {
            request.headers([(ACCEPT, accept.clone())].into_iter().collect())
        };
        let request = match dpop {
            Some(dpop) => dpop.sign_token_request(request, url)?,
            None => request,
        };
        let extra = extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let pairs = form.0.iter().map(|(k, v)| (*k, v.as_str())).chain(extra);
        let body = WipedBody(encode_form(pairs));
        let request = request
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE.clone())
            .body(reqwest::Body::from(bytes::Bytes::from_owner(body)));
        let response = http.execute(endpoint, request).await?;
        Ok((response, form))
    }

    /// Scrubs the secrets a back-channel form carried (and the client's own credentials, also
    /// as the Basic header's base64) from an error about its answer.
    fn scrub_sent(&self, error: Error, form: &[(&'static str, String)]) -> Error {
        const SECRET_FIELDS: [&str; 11] = [
            "code",
            "code_verifier",
            "refresh_token",
            "client_secret",
            "client_assertion",
            "token",
            "device_code",
            "password",
            "subject_token",
            "actor_token",
            "assertion",
        ];
        let mut secrets: Vec<&str> = form
            .iter()
            .filter(|(name, _)| SECRET_FIELDS.contains(name))
            .map(|(_, value)| value.as_str())
            .collect();
        if let Some(secret) = &self.inner.client_secret {
            secrets.push(secret.expose());
        }
        // The Basic header as it was sent (encoded once, at build).
        if let Some(basic) = self
            .inner
            .basic_header
            .as_ref()
            .and_then(|v| v.to_str().ok())
        {
            secrets.push(basic.trim_start_matches("Basic "));
        }
        error.scrub(&secrets)
    }
}

/// The `scope` parameter's value: the scopes space-separated (RFC 6749 §3.3).
pub(crate) fn join_scopes<I, S>(scopes: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    scopes
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

static ACCEPT_JSON: HeaderValue = HeaderValue::from_static("application/json");
static FORM_CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("application/x-www-form-urlencoded");

/// A back-channel form (codes, verifiers, refresh tokens, client secrets, assertions) whose
/// values are wiped when it is dropped, on every path out of `post_form`, errors included.
#[derive(Clone)]
struct WipedForm(Vec<(&'static str, String)>);

impl Zeroize for WipedForm {
    fn zeroize(&mut self) {
        for (_, value) in &mut self.0 {
            value.zeroize();
        }
    }
}

impl Drop for WipedForm {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for WipedForm {}

/// The encoded form, owned by the request body (`Bytes::from_owner`, no copy): wiped when
/// reqwest drops its last reference, after the request was written.
struct WipedBody(String);

impl AsRef<[u8]> for WipedBody {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Drop for WipedBody {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for WipedBody {}

/// `application/x-www-form-urlencoded`, written straight into the body (no serde pass). The
/// buffer is sized for the worst case (every byte percent-encoded) so that it never grows: a
/// grown `String` frees its old buffer, secrets included, without wiping it.
fn encode_form<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> String {
    let capacity = pairs
        .clone()
        .map(|(name, value)| 3 * (name.len() + value.len()) + 2)
        .sum();
    let mut body = url::form_urlencoded::Serializer::new(String::with_capacity(capacity));
    for (name, value) in pairs {
        body.append_pair(name, value);
    }
    body.finish()
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded *before* base64, so `:`, `+` and `%` in a
/// secret survive. Many clients skip this step and fail with such secrets.
fn basic_credentials(client_id: &str, secret: &Secret) -> String {
    let pair = format!(
        "{}:{}",
        percent_encode_unreserved(client_id),
        percent_encode_unreserved(secret.expose())
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Percent-encodes every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`).
///
/// RFC 6749 §2.3.1 says to form-urlencode, which turns a space into `+`; servers that decode
/// Basic credentials with a plain percent-decoder then read a `+`. `%20` (and `%2B` for a plus)
/// reads the same to a form-decoder and to a plain percent-decoder.
fn percent_encode_unreserved(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Configures a [`Client`]. Made by [`Client::builder`].
#[must_use]
pub struct ClientBuilder {
    provider: Provider,
    client_id: String,
    client_secret: Option<Secret>,
    private_key: Option<ClientKey>,
    jwt_audience: JwtAudience,
    auth_method: Option<AuthMethod>,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    require_par: bool,
    dpop: Option<Dpop>,
    tls_identity: Option<TlsIdentity>,
    root_certificates: Vec<reqwest::Certificate>,
    http_options: HttpOptions,
    http_client_builder: Option<reqwest::ClientBuilder>,
    resolve: HashMap<String, Vec<IpAddr>>,
    leeway: Duration,
    jwks: JwksOptions,
    authorization_alg: Option<String>,
    signed_response_algs: RegisteredAlgs,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("provider", &self.provider.name())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The client secret of a confidential client.
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The private key of a `private_key_jwt` client (RFC 7523): each back-channel call then
    /// carries a fresh assertion signed with it. Makes `private_key_jwt` the default method.
    pub fn private_key(mut self, key: ClientKey) -> Self {
        self.private_key = Some(key);
        self
    }

    /// The audience of `private_key_jwt` / `client_secret_jwt` assertions: the issuer
    /// (default, per draft-ietf-oauth-rfc7523bis) or, as an explicit opt-in for providers that
    /// want it, the token endpoint; see [`JwtAudience`].
    pub fn jwt_audience(mut self, audience: JwtAudience) -> Self {
        self.jwt_audience = audience;
        self
    }

    /// The client is registered to use pushed authorization requests only (RFC 9126 §6):
    /// [`AuthorizationRequest::build_async`](crate::AuthorizationRequest::build_async) then
    /// always pushes, as it does when the provider requires PAR for everyone.
    pub fn require_pushed_authorization_requests(mut self, required: bool) -> Self {
        self.require_par = required;
        self
    }

    /// Binds tokens to this DPoP key (RFC 9449; feature `dpop`): token requests carry a proof,
    /// authorization requests carry `dpop_jkt`, and DPoP-bound tokens are sent with a proof by
    /// [`Client::userinfo`] and [`AuthorizedClient`](crate::AuthorizedClient).
    #[cfg(feature = "dpop")]
    pub fn dpop(mut self, key: crate::dpop::DpopKey) -> Self {
        self.dpop = Some(Dpop::new(key));
        self
    }

    /// The certificate chain and key this client presents in mutual TLS (RFC 8705): for
    /// `tls_client_auth` / `self_signed_tls_client_auth`, and for certificate-bound access
    /// tokens whatever the method. Only the token, revocation, introspection, userinfo, PAR and
    /// device authorization calls present it, at the provider's `mtls_endpoint_aliases` where
    /// it has them; [`AuthorizedClient::new`](crate::AuthorizedClient::new) presents it too,
    /// through [`Client::resource_http_client`].
    /// Those calls use a reqwest client grantkit builds (its defaults plus
    /// [`root_certificate`](ClientBuilder::root_certificate)), not
    /// [`http_client_builder`](ClientBuilder::http_client_builder)'s.
    ///
    /// ```no_run
    /// use grantkit::mtls::TlsIdentity;
    /// use grantkit::{AuthMethod, Client, Provider};
    ///
    /// # fn run(provider: Provider) -> Result<(), Box<dyn std::error::Error>> {
    /// let pem = std::fs::read("client-chain-and-key.pem")?;
    /// let client = Client::builder(provider, "my-client")
    ///     .auth_method(AuthMethod::SelfSignedTlsClientAuth)
    ///     .tls_identity(TlsIdentity::from_pem(pem)?)
    ///     .build()?;
    /// # let _ = client;
    /// # Ok(()) }
    /// ```
    pub fn tls_identity(mut self, identity: TlsIdentity) -> Self {
        self.tls_identity = Some(identity);
        self
    }

    /// Trusts one more root certificate (a private CA) for every call of this client, in
    /// addition to the system's roots. There is no switch to accept invalid certificates.
    /// A provider found by a [`Discovery`](crate::oidc::Discovery) given
    /// [`root_certificate`](crate::oidc::Discovery::root_certificate) brings its roots already.
    pub fn root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// How to authenticate. Default: `private_key_jwt` with a private key, else
    /// `client_secret_basic` with a secret (or `client_secret_post` when the provider accepts
    /// only that), `none` without either.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The default redirect URI registered for this client.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The default scopes of authorization requests.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Timeouts and the response body cap.
    pub fn http_options(mut self, options: HttpOptions) -> Self {
        self.http_options = options;
        self
    }

    /// Builds the HTTP client from an application's reqwest builder (proxy, custom roots, its
    /// own connect timeout); [`HttpOptions`] still sets the total timeout and the body cap.
    ///
    /// grantkit turns redirects off on it (reqwest's default policy re-posts the form, secrets
    /// included, on a 307/308) and, for a provider whose endpoints came from a remote discovery
    /// document, installs the resolver that refuses internal addresses. Name overrides made
    /// with reqwest's own `ClientBuilder::resolve` skip that resolver: use
    /// [`ClientBuilder::resolve`] instead. A built `reqwest::Client` is not accepted, because
    /// its redirect policy cannot be checked.
    pub fn http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http_client_builder = Some(builder);
        self
    }

    /// Connects to `ip` for `host` instead of asking DNS (split-horizon setups, tests). The
    /// address still goes through the check for endpoints named by a remote discovery
    /// document: a metadata-service or (from a public document) internal address is refused.
    /// Call it again to add more addresses for the same host.
    pub fn resolve(mut self, host: &str, ip: IpAddr) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.resolve.entry(host).or_default().push(ip);
        self
    }

    /// Clock skew tolerated on ID-token `exp`, `iat` and `auth_time` against `max_age`
    /// (default [`DEFAULT_ID_TOKEN_LEEWAY`](crate::oidc::DEFAULT_ID_TOKEN_LEEWAY), 60 s).
    pub fn id_token_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long JWKS keys are reused (default 5 minutes), and the least time between two
    /// re-fetches triggered by an unknown `kid` (default 30 s). Shorthand for
    /// [`jwks_options`](ClientBuilder::jwks_options) with the other settings at their defaults.
    pub fn jwks_cache(mut self, ttl: Duration, refetch_cooldown: Duration) -> Self {
        self.jwks.ttl = ttl;
        self.jwks.refetch_cooldown = refetch_cooldown;
        self
    }

    /// How the provider's signing keys are kept: lifetime, unknown-`kid` cooldown, how long
    /// they stay in use through a JWKS outage, and the retry backoff (see [`JwksOptions`]).
    pub fn jwks_options(mut self, options: JwksOptions) -> Self {
        self.jwks = options;
        self
    }

    /// The `authorization_signed_response_alg` the client was registered with (JARM): signed
    /// authorization responses signed with any other algorithm are refused. Without it, `RS256`,
    /// the JARM specification's default. Only asymmetric algorithms are accepted.
    pub fn authorization_signed_response_alg(mut self, alg: impl Into<String>) -> Self {
        self.authorization_alg = Some(alg.into());
        self
    }

    /// The `userinfo_signed_response_alg` the client was registered with (OpenID Connect
    /// Registration §2): signed userinfo signed with any other algorithm is refused. Without
    /// it, the provider's [`userinfo_signing_algs`](Provider::userinfo_signing_algs). Only
    /// asymmetric algorithms are accepted.
    ///
    /// ```
    /// # let provider = grantkit::Provider::builder("op")
    /// #     .token_endpoint("https://op.example/token")
    /// #     .build()?;
    /// let client = grantkit::Client::builder(provider, "rp")
    ///     .userinfo_signed_response_alg("ES256")
    ///     .introspection_signed_response_alg("PS256")
    ///     .build()?;
    /// # let _ = client; Ok::<(), grantkit::Error>(())
    /// ```
    pub fn userinfo_signed_response_alg(mut self, alg: impl Into<String>) -> Self {
        self.signed_response_algs.userinfo = Some(alg.into());
        self
    }

    /// The `introspection_signed_response_alg` the client was registered with (RFC 9701 §6):
    /// signed introspection answers signed with any other algorithm are refused. Without it,
    /// the provider's [`introspection_signing_algs`](Provider::introspection_signing_algs),
    /// `RS256` when it lists none. Only asymmetric algorithms are accepted.
    pub fn introspection_signed_response_alg(mut self, alg: impl Into<String>) -> Self {
        self.signed_response_algs.introspection = Some(alg.into());
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client> {
        let method = self.auth_method.unwrap_or_else(|| self.default_method());
        match (method, &self.client_secret, &self.private_key) {
            (AuthMethod::PrivateKeyJwt, _, None) => {
                return Err(Error::Config(
                    "`private_key_jwt` needs a private key: load one with ClientKey::from_pem or ClientKey::from_jwk".into(),
                ))
            }
            (AuthMethod::PrivateKeyJwt, _, Some(_)) => {}
            (_, _, Some(_)) => {
                return Err(Error::Config(format!(
                    "a private key was given but the client authenticates with `{}`; drop the key or use AuthMethod::PrivateKeyJwt",
                    method.as_str()
                )))
            }
            (
                AuthMethod::ClientSecretBasic
                | AuthMethod::ClientSecretPost
                | AuthMethod::ClientSecretJwt,
                None,
                _,
            ) => {
                return Err(Error::Config(format!(
                    "`{}` needs a client secret; set one, or use AuthMethod::None for a public client",
                    method.as_str()
                )))
            }
            (AuthMethod::None, Some(_), _) => {
                return Err(Error::Config(
                    "a client secret was given for a public client (`none`); drop the secret or pick a secret-based method".into(),
                ))
            }
            _ => {}
        }
        crate::mtls::check_method(
            method,
            self.client_secret.is_some(),
            self.tls_identity.is_some(),
        )?;
        let accepted = self.provider.auth_methods();
        if !accepted.is_empty() && !accepted.contains(&method) {
            let names: Vec<_> = accepted.iter().map(|m| m.as_str()).collect();
            return Err(Error::Config(format!(
                "provider `{}` does not accept `{}`; it accepts {}",
                self.provider.name(),
                method.as_str(),
                names.join(", ")
            )));
        }
        // Every grant ends at the token endpoint; a client without one could only fail later,
        // at its first exchange or refresh, far from the mistake.
        self.provider.endpoint(Endpoint::Token)?;
        if self.client_id.is_empty() {
            return Err(Error::Config("the client id is empty".into()));
        }
        if let Some(uri) = &self.redirect_uri {
            check_redirect_uri(uri)?;
        }
        let jwt = matches!(
            method,
            AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt
        );
        if jwt && self.jwt_audience == JwtAudience::Issuer && self.provider.issuer().is_none() {
            return Err(Error::Config(format!(
                "`{}` addresses its assertions to the provider's issuer, but provider `{}` has none: set it (ProviderBuilder::issuer, or use discovery), or opt in to the token endpoint as audience with ClientBuilder::jwt_audience(JwtAudience::TokenEndpoint)",
                method.as_str(),
                self.provider.name()
            )));
        }
        if let Some(alg) = self.authorization_alg.as_deref() {
            if !crate::oidc::is_supported_alg(alg) {
                return Err(Error::Config(format!(
                    "`{}` cannot sign authorization responses grantkit verifies: use an asymmetric algorithm (RS256, PS256, ES256, EdDSA...)",
                    crate::error::truncate(alg, 20)
                )));
            }
        }
        self.signed_response_algs.check()?;
        let resolver = GuardedResolver::new(self.provider.address_policy(), self.resolve);
        let roots = self.root_certificates;
        let builder = trusting(self.http_client_builder, &self.http_options, &roots);
        let identity = self
            .tls_identity
            .as_ref()
            .map(TlsIdentity::to_reqwest)
            .transpose()?;
        let resource_http = crate::http::resource_client(identity, &roots)?;
        let mtls = match self.tls_identity {
            Some(identity) => Some(Mtls::build(
                identity,
                roots,
                self.http_options.clone(),
                resolver.clone(),
            )?),
            None => None,
        };
        let http = Http::build(builder, self.http_options, resolver)?;
        let id_tokens = match (
            self.provider.issuer(),
            self.provider.endpoint(Endpoint::Jwks),
        ) {
            (Some(issuer), Ok(jwks_uri)) => Some(IdTokenVerifier::new(
                JwksCache::new(jwks_uri.clone(), http.clone(), &self.jwks),
                issuer.to_owned(),
                self.client_id.clone(),
                self.provider.id_token_signing_algs(),
                self.leeway,
            )),
            _ => None,
        };
        let secret_jwt_key = match (method, &self.client_secret) {
            (AuthMethod::ClientSecretJwt, Some(secret)) => Some(
                // jsonwebtoken refuses an empty HMAC key since 10.
                EncodingKey::from_secret(secret.expose().as_bytes()).map_err(|_| {
                    Error::Config("client_secret_jwt needs a non-empty client secret".into())
                })?,
            ),
            _ => None,
        };
        let basic_header = match (method, &self.client_secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => {
                let mut value = HeaderValue::try_from(basic_credentials(&self.client_id, secret))
                    .map_err(|_| {
                    Error::Config("the client credentials do not fit a header".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                provider: self.provider,
                client_id: self.client_id,
                client_secret: self.client_secret,
                private_key: self.private_key,
                secret_jwt_key,
                jwt_audience: self.jwt_audience,
                auth_method: method,
                redirect_uri: self.redirect_uri,
                scopes: self.scopes,
                require_par: self.require_par,
                basic_header,
                http,
                id_tokens,
                dpop: self.dpop,
                mtls,
                resource_http,
                authorization_alg: self.authorization_alg.unwrap_or_else(|| "RS256".into()),
                signed_response_algs: self.signed_response_algs,
            }),
        })
    }

    fn default_method(&self) -> AuthMethod {
        if self.private_key.is_some() {
            return AuthMethod::PrivateKeyJwt;
        }
        if self.client_secret.is_none() {
            return AuthMethod::None;
        }
        if let Some(method) = self.provider.default_auth_method() {
            return method;
        }
        let accepted = self.provider.auth_methods();
        if accepted.is_empty() || accepted.contains(&AuthMethod::ClientSecretBasic) {
            AuthMethod::ClientSecretBasic
        } else {
            AuthMethod::ClientSecretPost
        }
    }
}

/// The algorithms the client was registered with for signed responses, when the application
/// says: `userinfo_signed_response_alg` (OpenID Connect Registration §2) and
/// `introspection_signed_response_alg` (RFC 9701 §6).
#[derive(Clone, Debug, Default)]
pub(crate) struct RegisteredAlgs {
    pub(crate) userinfo: Option<String>,
    pub(crate) introspection: Option<String>,
}

impl RegisteredAlgs {
    /// Refuses, at build time, an algorithm grantkit would refuse on every answer.
    fn check(&self) -> Result<()> {
        let given = [&self.userinfo, &self.introspection];
        match given.into_iter().flatten().find(|alg| !crate::oidc::is_supported_alg(alg)) {
            Some(alg) => Err(Error::Config(format!(
                "`{}` cannot sign responses grantkit verifies: use an asymmetric algorithm (RS256, PS256, ES256, EdDSA...)",
                crate::error::truncate(alg, 20)
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_without_a_token_endpoint_is_refused_at_build() {
        let provider = Provider::builder("p")
            .authorization_endpoint("https://p.example/authorize")
            .build()
            .unwrap();
        let e = Client::builder(provider, "c").build().unwrap_err();
        assert!(
            matches!(
                e,
                Error::MissingEndpoint {
                    endpoint: Endpoint::Token,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    fn provider(methods: &[AuthMethod]) -> Provider {
        Provider::builder("p")
            .token_endpoint("https://p.example/token")
            .auth_methods(methods.iter().copied())
            .build()
            .unwrap()
    }

    #[test]
    fn basic_credentials_are_percent_encoded_outside_the_unreserved_set() {
        let header = basic_credentials("my client", &Secret::new("a+b%c:d ~-._Zz9é"));
        let b64 = header.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        // A space is %20, never `+`: plain percent-decoders and form-decoders read the same.
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my%20client:a%2Bb%25c%3Ad%20~-._Zz9%C3%A9"
        );
        let reserved = basic_credentials("c", &Secret::new(":/?#[]@!$&'()*+,;="));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(reserved.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "c:%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D"
        );
    }

    #[test]
    fn method_defaults_follow_secret_and_provider() {
        let public = Client::builder(provider(&[]), "c").build().unwrap();
        assert_eq!(public.auth_method(), AuthMethod::None);
        let basic = Client::builder(provider(&[]), "c")
            .client_secret("s")
            .build()
            .unwrap();
        assert_eq!(basic.auth_method(), AuthMethod::ClientSecretBasic);
        let post = Client::builder(provider(&[AuthMethod::ClientSecretPost]), "c")
            .client_secret("s")
            .build()
            .unwrap();
        assert_eq!(post.auth_method(), AuthMethod::ClientSecretPost);
    }

    #[test]
    fn inconsistent_configurations_are_refused() {
        let no_secret = Client::builder(provider(&[]), "c")
            .auth_method(AuthMethod::ClientSecretPost)
            .build()
            .unwrap_err();
        assert!(no_secret.to_string().contains("needs a client secret"));
        let refused = Client::builder(provider(&[AuthMethod::ClientSecretBasic]), "c")
            .client_secret("s")
            .auth_method(AuthMethod::ClientSecretPost)
            .build()
            .unwrap_err();
        assert!(refused.to_string().contains("does not accept"), "{refused}");
        for bad in [
            "not a url",
            "/relative/callback",
            "https://app.example/cb#frag",
        ] {
            let e = Client::builder(provider(&[]), "c")
                .redirect_uri(bad)
                .build()
                .unwrap_err();
            assert!(e.to_string().contains("redirect URI"), "{bad}: {e}");
        }
        let leaked = format!("{refused:?} {refused}");
        assert!(!leaked.contains("\"s\""));
    }

    /// An empty HMAC key signs assertions anyone can forge: refused when the client is built
    /// (jsonwebtoken 9 took it; 10 and later refuse it, and grantkit says why).
    #[test]
    fn client_secret_jwt_with_an_empty_secret_is_refused() {
        let e = Client::builder(provider(&[]), "c")
            .client_secret("")
            .auth_method(AuthMethod::ClientSecretJwt)
            .jwt_audience(JwtAudience::TokenEndpoint)
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        assert!(e.to_string().contains("non-empty client secret"), "{e}");
    }

    /// RFC 7515 Appendix A.3's published example key.
    const EC_JWK: &str = include_str!("../tests/fixtures/rfc7515-a3-p256.jwk.json");

    /// The assertion `authenticate` adds, as (header, claims).
    fn assertion_of(client: &Client) -> (serde_json::Value, serde_json::Value) {
        let mut form = Vec::new();
        let request = reqwest::Client::new().post("https://honest.example/token");
        let _request = client.authenticate(request, &mut form).unwrap();
        let (_, jwt) = form
            .iter()
            .find(|(name, _)| *name == "client_assertion")
            .unwrap();
        let part = |i: usize| -> serde_json::Value {
            let b64 = jwt.split('.').nth(i).unwrap();
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        };
        (part(0), part(1))
    }

    /// Item 14: form values are wiped on drop, and the body never grows (a grown buffer would
    /// leave an unwiped copy of the form behind).
    #[test]
    fn form_buffers_are_wiped_and_the_body_is_built_in_one_buffer() {
        fn assert_zeroize_on_drop<T: ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<WipedForm>();
        assert_zeroize_on_drop::<WipedBody>();
        let mut form = WipedForm(vec![
            ("code", "c0de".to_owned()),
            ("code_verifier", "v".repeat(128)),
        ]);
        form.zeroize();
        assert!(form.0.iter().all(|(_, value)| value.is_empty()));

        let long = "é%+ ".repeat(400);
        let pairs = [("client_assertion", long.as_str()), ("code", "abc")];
        let body = encode_form(pairs.iter().copied());
        let bound: usize = pairs.iter().map(|(k, v)| 3 * (k.len() + v.len()) + 2).sum();
        assert_eq!(body.capacity(), bound, "allocated once, never grown");
        assert!(body.len() <= bound);
        let mut wiped = WipedBody(body);
        wiped.0.zeroize();
        assert!(wiped.as_ref().is_empty());
    }

    /// Item 3 (audience injection, draft-ietf-oauth-rfc7523bis): a hostile AS whose metadata
    /// names an honest AS's token endpoint must not get assertions the honest AS accepts.
    #[test]
    fn assertion_audience_is_the_issuer_not_a_metadata_endpoint() {
        let hostile = Provider::builder("hostile")
            .issuer("https://hostile.example")
            .token_endpoint("https://honest.example/token")
            .revocation_endpoint("https://hostile.example/revoke")
            .build()
            .unwrap();
        let key = || crate::jwt_auth::ClientKey::from_jwk(EC_JWK).unwrap();
        let client = Client::builder(hostile.clone(), "c")
            .private_key(key())
            .build()
            .unwrap();
        let (header, claims) = assertion_of(&client);
        assert_eq!(claims["aud"], "https://hostile.example", "a single string");
        assert_eq!(header["typ"], "client-authentication+jwt");
        let secret_jwt = Client::builder(hostile.clone(), "c")
            .client_secret("a-secret-long-enough-for-hs256-0123456789")
            .auth_method(AuthMethod::ClientSecretJwt)
            .build()
            .unwrap();
        assert_eq!(
            assertion_of(&secret_jwt).1["aud"],
            "https://hostile.example"
        );

        // The old behaviour, only when asked for.
        let legacy = Client::builder(hostile, "c")
            .private_key(key())
            .jwt_audience(JwtAudience::TokenEndpoint)
            .build()
            .unwrap();
        let (header, claims) = assertion_of(&legacy);
        assert_eq!(claims["aud"], "https://honest.example/token");
        assert_eq!(header["typ"], "JWT");
    }

    fn tls_identity() -> TlsIdentity {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(Vec::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        TlsIdentity::from_pem(format!("{}{}", cert.pem(), key.serialize_pem())).unwrap()
    }

    /// RFC 8705 §2: the mTLS methods need a certificate, send `client_id` in the body and no
    /// secret; a secret next to them is a mistake, refused at build.
    #[test]
    fn mtls_methods_need_a_certificate_send_the_client_id_and_no_secret() {
        for method in [
            AuthMethod::TlsClientAuth,
            AuthMethod::SelfSignedTlsClientAuth,
        ] {
            let e = Client::builder(provider(&[]), "c")
                .auth_method(method)
                .build()
                .unwrap_err();
            assert!(e.to_string().contains("tls_identity"), "{e}");
            let e = Client::builder(provider(&[]), "c")
                .auth_method(method)
                .client_secret("s")
                .tls_identity(tls_identity())
                .build()
                .unwrap_err();
            assert!(e.to_string().contains("drop the secret"), "{e}");
            let client = Client::builder(provider(&[]), "c")
                .auth_method(method)
                .tls_identity(tls_identity())
                .build()
                .unwrap();
            let mut form = Vec::new();
            let request = reqwest::Client::new().post("https://p.example/token");
            let request = client
                .authenticate(request, &mut form)
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(form, [("client_id", "c".to_owned())]);
            assert!(request.headers().get(AUTHORIZATION).is_none());
        }
    }

    /// RFC 8705 §5: with a certificate, the aliased endpoints are called at their alias and
    /// through the certificate-presenting HTTP client; without one, at the endpoint itself.
    #[test]
    fn mtls_calls_go_to_the_aliases_only_with_a_certificate() {
        let provider = Provider::builder("p")
            .token_endpoint("https://p.example/token")
            .authorization_endpoint("https://p.example/authorize")
            .mtls_endpoint_alias(Endpoint::Token, "https://mtls.p.example/token")
            .mtls_endpoint_alias(Endpoint::Authorization, "https://mtls.p.example/authorize")
            .build()
            .unwrap();
        let plain = Client::builder(provider.clone(), "c").build().unwrap();
        let token = plain.endpoint_url(Endpoint::Token).unwrap();
        assert_eq!(token.as_str(), "https://p.example/token");
        let mtls = Client::builder(provider, "c")
            .auth_method(AuthMethod::TlsClientAuth)
            .tls_identity(tls_identity())
            .build()
            .unwrap();
        let token = mtls.endpoint_url(Endpoint::Token).unwrap();
        assert_eq!(token.as_str(), "https://mtls.p.example/token");
        // The authorization endpoint is front-channel: no alias is taken for it.
        let authorize = mtls.endpoint_url(Endpoint::Authorization).unwrap();
        assert_eq!(authorize.as_str(), "https://p.example/authorize");
        assert!(std::ptr::eq(mtls.http_for(Endpoint::Jwks), mtls.http()));
        assert!(!std::ptr::eq(mtls.http_for(Endpoint::Token), mtls.http()));
    }

    #[test]
    fn jwt_auth_without_an_issuer_is_refused_at_build_unless_the_token_endpoint_is_chosen() {
        let no_issuer = provider(&[]);
        let key = || crate::jwt_auth::ClientKey::from_jwk(EC_JWK).unwrap();
        let e = Client::builder(no_issuer.clone(), "c")
            .private_key(key())
            .build()
            .unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("JwtAudience::TokenEndpoint"),
            "{e}"
        );
        let e = Client::builder(no_issuer.clone(), "c")
            .client_secret("s")
            .auth_method(AuthMethod::ClientSecretJwt)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("issuer"), "{e}");
        let client = Client::builder(no_issuer, "c")
            .private_key(key())
            .jwt_audience(JwtAudience::TokenEndpoint)
            .build()
            .unwrap();
        assert_eq!(assertion_of(&client).1["aud"], "https://p.example/token");
    }
}
