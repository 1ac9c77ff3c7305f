//! grantkit on the `oidc-provider` peer: the shared peer of a test binary, a [`Provider`] for
//! it, its fixed test clients, and the user's side of a login through a [`Browser`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use grantkit::oidc::Discovery;
use grantkit::{AuthMethod, Client, ClientBuilder, PendingAuthorization, Provider, TokenSet};

use crate::{Browser, BrowserError, OidcPeer};

/// The redirect URI the tests use: registered for every peer client (any port on
/// `http://127.0.0.1` matches for the native ones, `oidc-peer/README.md`).
pub const PEER_REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";

/// Environments of the shared peers, and the peer started for each (`None`: skipped).
type SharedPeers = HashMap<Vec<(String, String)>, Option<&'static OidcPeer>>;

impl OidcPeer {
    /// The peer of this test binary, started by the first test that asks (`test` names it in
    /// the skip message; see [`OidcPeer::start_or_skip`]). It lives until the process exits,
    /// which closes its stdin and so stops it.
    pub fn shared(test: &str) -> Option<&'static OidcPeer> {
        Self::shared_with_env(test, &[])
    }

    /// [`OidcPeer::shared`] for a peer started with extra environment: one peer per distinct
    /// environment (e.g. `[("PEER_DPOP_NONCE", "1")]`).
    pub fn shared_with_env(test: &str, env: &[(&str, &str)]) -> Option<&'static OidcPeer> {
        static PEERS: OnceLock<Mutex<SharedPeers>> = OnceLock::new();
        let key: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        // Held while a peer starts, so that concurrent tests wait for one start.
        let mut peers = PEERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *peers.entry(key).or_insert_with(|| {
            OidcPeer::start_with_env_or_skip(test, env).map(|peer| &*Box::leak(Box::new(peer)))
        })
    }

    /// A grantkit [`Provider`] for the peer with its endpoints written out (authorization,
    /// token, revocation, introspection, userinfo, JWKS, RFC 9207 `iss`), no discovery.
    pub fn provider(&self) -> grantkit::Result<Provider> {
        Provider::builder("oidc-provider peer")
            .issuer(self.issuer())
            .authorization_endpoint(&self.url("/auth"))
            .token_endpoint(&self.url("/token"))
            .revocation_endpoint(&self.url("/token/revocation"))
            .introspection_endpoint(&self.url("/token/introspection"))
            .userinfo_endpoint(&self.url("/me"))
            .jwks_uri(&self.url("/jwks"))
            .iss_parameter_supported(true)
            .build()
    }

    /// The peer's [`Provider`] as discovery describes it (PAR, device and DPoP included).
    pub async fn discover(&self) -> grantkit::Result<Provider> {
        Discovery::new(self.issuer()).fetch().await
    }
}

/// One of the peer's fixed test clients (the table in `oidc-peer/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerClient {
    id: &'static str,
    secret: Option<&'static str>,
    method: AuthMethod,
}

impl PeerClient {
    /// `public-client`: no secret, PKCE S256.
    pub const PUBLIC: Self = Self::new("public-client", None, AuthMethod::None);
    /// `basic-client`: `+`, `%`, `:` and `/` in its secret prove the RFC 6749 §2.3.1 encoding
    /// of Basic credentials; may use client credentials.
    pub const BASIC: Self = Self::new(
        "basic-client",
        Some("basic+secret%with:odd/chars"),
        AuthMethod::ClientSecretBasic,
    );
    /// `post-client`: `client_secret_post`.
    pub const POST: Self = Self::new(
        "post-client",
        Some("post-secret-123"),
        AuthMethod::ClientSecretPost,
    );
    /// `es256-client`: ID tokens signed with ES256.
    pub const ES256: Self = Self::new(
        "es256-client",
        Some("es256-secret"),
        AuthMethod::ClientSecretBasic,
    );
    /// `device-client`: the device grant only.
    pub const DEVICE: Self = Self::new("device-client", None, AuthMethod::None);
    /// `jwt-key-client`: `private_key_jwt` with the keys of `fixtures/peer-client-*`.
    pub const JWT_KEY: Self = Self::new("jwt-key-client", None, AuthMethod::PrivateKeyJwt);
    /// `jwt-secret-client`: `client_secret_jwt` (HS256).
    pub const JWT_SECRET: Self = Self::new(
        "jwt-secret-client",
        Some("jwt-secret-client-hs256-key-0123456789abcdef"),
        AuthMethod::ClientSecretJwt,
    );
    /// `jwt-strict-key-client`: as [`PeerClient::JWT_KEY`], and assertions must have the
    /// issuer as `aud` and `typ: client-authentication+jwt`.
    pub const JWT_STRICT_KEY: Self =
        Self::new("jwt-strict-key-client", None, AuthMethod::PrivateKeyJwt);
    /// `jwt-strict-secret-client`: as [`PeerClient::JWT_SECRET`], with the strict rules.
    pub const JWT_STRICT_SECRET: Self = Self::new(
        "jwt-strict-secret-client",
        Some("jwt-secret-client-hs256-key-0123456789abcdef"),
        AuthMethod::ClientSecretJwt,
    );
    /// `par-client`: registered for pushed authorization requests only.
    pub const PAR: Self = Self::new(
        "par-client",
        Some("par-secret"),
        AuthMethod::ClientSecretBasic,
    );
    /// `dpop-client`: a public client whose tokens must be DPoP-bound.
    pub const DPOP: Self = Self::new("dpop-client", None, AuthMethod::None);
    /// `reserved-basic-client`: a space and every reserved character in its secret.
    pub const RESERVED_BASIC: Self = Self::new(
        "reserved-basic-client",
        Some("a secret :/?#[]@!$&'()*+,;=% end"),
        AuthMethod::ClientSecretBasic,
    );
    /// `reserved-post-client`: the same secret, `client_secret_post`.
    pub const RESERVED_POST: Self = Self::new(
        "reserved-post-client",
        Some("a secret :/?#[]@!$&'()*+,;=% end"),
        AuthMethod::ClientSecretPost,
    );

    /// `exact-redirect-client`: a public web client whose one redirect URI
    /// ([`PEER_REDIRECT_URI`]) is compared exactly, port included.
    pub const EXACT_REDIRECT: Self = Self::new("exact-redirect-client", None, AuthMethod::None);

    const fn new(id: &'static str, secret: Option<&'static str>, method: AuthMethod) -> Self {
        Self { id, secret, method }
    }

    /// The `client_id`.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The registered secret, if the client has one.
    pub fn secret(&self) -> Option<&'static str> {
        self.secret
    }

    /// The registered `token_endpoint_auth_method`.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// A client builder on `provider` with this client's id, its secret (if any) and
    /// [`PEER_REDIRECT_URI`]. The auth method is left to grantkit's default (`none` without a
    /// secret, `private_key_jwt` with a key, else the provider's default): add
    /// `.auth_method(client.method())` to pin the registered one. Scopes and keys are the
    /// test's to choose.
    pub fn builder(&self, provider: Provider) -> ClientBuilder {
        let builder = Client::builder(provider, self.id).redirect_uri(PEER_REDIRECT_URI);
        match self.secret {
            Some(secret) => builder.client_secret(secret),
            None => builder,
        }
    }
}

/// Why a browser login did not end in tokens.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The authorization request could not be built.
    #[error("building the authorization request failed: {0}")]
    Request(#[source] grantkit::Error),
    /// The browser did not reach the redirect URI.
    #[error("the browser did not reach the redirect URI: {0}")]
    Browser(#[from] BrowserError),
    /// The callback was refused.
    #[error("the callback was refused: {0}")]
    Callback(#[source] grantkit::Error),
    /// The code exchange failed.
    #[error("the code exchange failed: {0}")]
    Exchange(#[source] grantkit::Error),
}

impl LoginError {
    /// The grantkit error of the exchange, if that is what failed.
    pub fn exchange(&self) -> Option<&grantkit::Error> {
        match self {
            LoginError::Exchange(e) => Some(e),
            _ => None,
        }
    }
}

/// The user's side of a login: builds `client`'s authorization request (with `login_hint`
/// when given: the peer logs that user in, `deny` refuses), lets a fresh [`Browser`] follow
/// it to the client's redirect URI ([`PEER_REDIRECT_URI`] when it has none), and returns the
/// callback URL with the pending authorization, unverified.
pub async fn authorize(
    client: &Client,
    login_hint: Option<&str>,
) -> Result<(String, PendingAuthorization), LoginError> {
    let mut request = client.authorize();
    if let Some(hint) = login_hint {
        request = request.param("login_hint", hint);
    }
    let (url, pending) = request.build().map_err(LoginError::Request)?;
    let redirect = client.redirect_uri().unwrap_or(PEER_REDIRECT_URI);
    let callback = Browser::new().authorize(url.as_str(), redirect).await?;
    Ok((callback, pending))
}

/// A whole login: [`authorize`], the callback verified, the code exchanged.
pub async fn login(client: &Client, login_hint: Option<&str>) -> Result<TokenSet, LoginError> {
    let (callback, pending) = authorize(client, login_hint).await?;
    let code = pending
        .verify_callback(&callback)
        .map_err(LoginError::Callback)?;
    client
        .exchange_code(code)
        .await
        .map_err(LoginError::Exchange)
}
