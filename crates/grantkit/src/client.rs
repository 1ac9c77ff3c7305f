//! The `Client`: one registered application at one provider. No type parameters, cheap to clone.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::RequestBuilder;

use crate::authorize::AuthorizationRequest;
use crate::error::{Endpoint, Error, Result};
use crate::http::{Http, HttpOptions};
use crate::oidc::{IdTokenVerifier, JwksCache};
use crate::provider::{AuthMethod, Provider};
use crate::secret::Secret;

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
    auth_method: AuthMethod,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    http: Http,
    id_tokens: Option<IdTokenVerifier>,
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
            .field("auth_method", &self.inner.auth_method)
            .field("redirect_uri", &self.inner.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client of `provider` registered as `client_id`.
    pub fn builder(provider: Provider, client_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            provider,
            client_id: client_id.into(),
            client_secret: None,
            auth_method: None,
            redirect_uri: None,
            scopes: Vec::new(),
            http_options: HttpOptions::default(),
            http_client: None,
            leeway: Duration::from_secs(60),
            jwks_ttl: Duration::from_secs(300),
            jwks_cooldown: Duration::from_secs(30),
        }
    }

    /// Starts an authorization request (state, PKCE and nonce included).
    pub fn authorize(&self) -> AuthorizationRequest<'_> {
        AuthorizationRequest::new(self)
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

    /// This client's HTTP client (same pool, timeouts and body cap), for a provider crate's API
    /// calls; see [`HttpClient`](crate::http::HttpClient).
    pub fn http_client(&self) -> crate::http::HttpClient {
        crate::http::HttpClient::from_http(self.inner.http.clone())
    }

    pub(crate) fn id_token_verifier(&self) -> Option<&IdTokenVerifier> {
        self.inner.id_tokens.as_ref()
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

    /// Adds client authentication to a back-channel request whose form is `form`.
    pub(crate) fn authenticate(
        &self,
        request: RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> RequestBuilder {
        let request = request.header(ACCEPT, "application/json");
        let secret = self.inner.client_secret.as_ref();
        match (self.inner.auth_method, secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => request.header(
                AUTHORIZATION,
                basic_credentials(&self.inner.client_id, secret),
            ),
            (AuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", self.inner.client_id.clone()));
                form.push(("client_secret", secret.expose().to_owned()));
                request
            }
            _ => {
                form.push(("client_id", self.inner.client_id.clone()));
                request
            }
        }
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded *before* base64, so `:`, `+` and `%` in a
/// secret survive. Many clients skip this step and fail with such secrets.
fn basic_credentials(client_id: &str, secret: &Secret) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Configures a [`Client`]. Made by [`Client::builder`].
#[must_use]
pub struct ClientBuilder {
    provider: Provider,
    client_id: String,
    client_secret: Option<Secret>,
    auth_method: Option<AuthMethod>,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    http_options: HttpOptions,
    http_client: Option<reqwest::Client>,
    leeway: Duration,
    jwks_ttl: Duration,
    jwks_cooldown: Duration,
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

    /// How to authenticate. Default: `client_secret_basic` with a secret (or `client_secret_post`
    /// when the provider accepts only that), `none` without one.
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

    /// An application's own reqwest client (proxy, custom roots). Configure it not to follow
    /// redirects; grantkit refuses 3xx answers on OAuth calls either way. Its own timeout
    /// settings apply; [`HttpOptions`] still sets the body cap.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Clock skew tolerated on ID-token `exp` and `iat` (default 60 s).
    pub fn id_token_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long JWKS keys are reused (default 5 minutes), and the least time between two
    /// re-fetches triggered by an unknown `kid` (default 30 s).
    pub fn jwks_cache(mut self, ttl: Duration, refetch_cooldown: Duration) -> Self {
        self.jwks_ttl = ttl;
        self.jwks_cooldown = refetch_cooldown;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client> {
        let method = self.auth_method.unwrap_or_else(|| self.default_method());
        match (method, &self.client_secret) {
            (AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost, None) => {
                return Err(Error::Config(format!(
                    "`{}` needs a client secret; set one, or use AuthMethod::None for a public client",
                    method.as_str()
                )))
            }
            (AuthMethod::None, Some(_)) => {
                return Err(Error::Config(
                    "a client secret was given for a public client (`none`); drop the secret or pick a secret-based method".into(),
                ))
            }
            _ => {}
        }
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
        if self.client_id.is_empty() {
            return Err(Error::Config("the client id is empty".into()));
        }
        let http = match self.http_client {
            Some(client) => Http::with_client(client, self.http_options),
            None => Http::new(self.http_options)?,
        };
        let id_tokens = match (
            self.provider.issuer(),
            self.provider.endpoint(Endpoint::Jwks),
        ) {
            (Some(issuer), Ok(jwks_uri)) => Some(IdTokenVerifier::new(
                JwksCache::new(
                    jwks_uri.clone(),
                    http.clone(),
                    self.jwks_ttl,
                    self.jwks_cooldown,
                ),
                issuer.to_owned(),
                self.client_id.clone(),
                self.provider.id_token_signing_algs(),
                self.leeway,
            )),
            _ => None,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                provider: self.provider,
                client_id: self.client_id,
                client_secret: self.client_secret,
                auth_method: method,
                redirect_uri: self.redirect_uri,
                scopes: self.scopes,
                http,
                id_tokens,
            }),
        })
    }

    fn default_method(&self) -> AuthMethod {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(methods: &[AuthMethod]) -> Provider {
        Provider::builder("p")
            .token_endpoint("https://p.example/token")
            .auth_methods(methods.iter().copied())
            .build()
            .unwrap()
    }

    #[test]
    fn basic_credentials_are_urlencoded_first() {
        let header = basic_credentials("my client", &Secret::new("a+b%c:d"));
        let b64 = header.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my+client:a%2Bb%25c%3Ad"
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
        let leaked = format!("{refused:?} {refused}");
        assert!(!leaked.contains("\"s\""));
    }
}
