//! What a test needs to know of one OpenID Provider of the interop matrix (Keycloak, Ory
//! Hydra): its issuer and version, the clients registered for each scenario, the test user,
//! and how that user logs in (the provider's own login pages, driven by a [`Browser`]).
//! Scenarios are written once against [`InteropOp`] and run for every provider.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::browser::{Browser, BrowserError};

/// A boxed future, so that [`InteropOp`] stays object safe.
pub type OpFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, InteropError>> + Send + 'a>>;

/// What a scenario needs a client for; each maps to one client registered at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientRole {
    /// A public client (`none`), authorization code with PKCE S256.
    Public,
    /// `client_secret_basic`, with a secret holding a space and reserved characters.
    SecretBasic,
    /// `client_secret_post`, with a secret holding a space and reserved characters.
    SecretPost,
    /// `private_key_jwt` with the test-only keys of `fixtures/peer-client-*`.
    PrivateKeyJwt,
    /// A confidential client registered to require pushed authorization requests (RFC 9126).
    Par,
    /// A public client whose tokens are DPoP-bound (RFC 9449).
    Dpop,
    /// A public client allowed the device authorization grant (RFC 8628).
    Device,
}

/// A client registered at the provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OpClient {
    /// The client id.
    pub id: String,
    /// The client secret, for the secret-based methods.
    pub secret: Option<String>,
    /// The registered method, as RFC 7591 names it (`none`, `client_secret_basic`...).
    pub auth_method: &'static str,
    /// A redirect URI registered for it (a loopback URI nothing listens on: the test's
    /// [`Browser`] stops at it).
    pub redirect_uri: String,
    /// For `private_key_jwt`: the test-only keys of `fixtures/` registered for it (their
    /// private halves, by file name: `peer-client-rsa.pem`...).
    pub keys: Vec<&'static str>,
}

impl OpClient {
    /// A client registered with `redirect_uri`, without keys.
    pub fn new(
        id: &str,
        secret: Option<&str>,
        auth_method: &'static str,
        redirect_uri: &str,
    ) -> Self {
        Self {
            id: id.into(),
            secret: secret.map(str::to_owned),
            auth_method,
            redirect_uri: redirect_uri.into(),
            keys: Vec::new(),
        }
    }
}

impl fmt::Debug for OpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("auth_method", &self.auth_method)
            .field("redirect_uri", &self.redirect_uri)
            .field("keys", &self.keys)
            .finish()
    }
}

/// The provider's test user.
#[derive(Clone, PartialEq, Eq)]
pub struct OpUser {
    /// The name typed into the login form.
    pub username: String,
    /// The password typed into the login form.
    pub password: String,
    /// The `sub` the provider issues for this user.
    pub subject: String,
    /// The user's e-mail address, as the `email` claim carries it.
    pub email: String,
}

impl OpUser {
    /// Alice, the matrix's test user, whom the provider knows as `subject`.
    pub fn alice(subject: &str) -> Self {
        Self {
            username: "alice".into(),
            password: "alice-password-1".into(),
            subject: subject.into(),
            email: "alice@example.test".into(),
        }
    }
}

impl fmt::Debug for OpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpUser")
            .field("username", &self.username)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Why a provider of the matrix could not start or a login could not finish.
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    /// The provider is not installed where the launcher looks.
    #[error("{name} is not installed ({detail}): run `{script}`")]
    NotInstalled {
        /// The provider.
        name: &'static str,
        /// What is missing.
        detail: String,
        /// The script that installs it.
        script: &'static str,
    },
    /// The process could not be started.
    #[error("could not start {name}: {source}")]
    Spawn {
        /// The provider.
        name: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The provider did not answer its discovery document in time, or exited.
    #[error("{name} did not become ready: {detail}")]
    NotReady {
        /// The provider.
        name: &'static str,
        /// What happened, with the end of its log.
        detail: String,
    },
    /// Setting the provider up (clients, users) failed.
    #[error("setting up {name} failed: {detail}")]
    Setup {
        /// The provider.
        name: &'static str,
        /// What failed.
        detail: String,
    },
    /// The browser part of a login failed.
    #[error("login at the provider failed: {0}")]
    Browser(#[from] BrowserError),
    /// The provider showed a page the login did not expect.
    #[error("unexpected page at {url}: {excerpt}")]
    UnexpectedPage {
        /// The page's URL.
        url: String,
        /// The start of the page.
        excerpt: String,
    },
}

/// One OpenID Provider of the interop matrix, running on loopback.
pub trait InteropOp: Send + Sync + fmt::Debug {
    /// The provider's product name (`Keycloak`, `Ory Hydra`).
    fn name(&self) -> &'static str;
    /// The version under test.
    fn version(&self) -> &str;
    /// The issuer URL, as its discovery document states it.
    fn issuer(&self) -> &str;
    /// The client registered for `role`, or `None` when the provider (or this setup) has none.
    fn client(&self, role: ClientRole) -> Option<OpClient>;
    /// The test user.
    fn user(&self) -> &OpUser;
    /// The scopes a scenario's login asks for: OpenID Connect's, plus whatever the provider
    /// needs before it issues a refresh token.
    fn scopes(&self) -> Vec<&'static str> {
        vec!["openid", "email", "profile"]
    }
    /// Plays the user through the provider's own pages: opens `authorize_url` in `browser`,
    /// logs in (and consents) as [`InteropOp::user`], and returns the callback URL that starts
    /// with `redirect_prefix`, without requesting it.
    fn login<'a>(
        &'a self,
        browser: &'a Browser,
        authorize_url: &'a str,
        redirect_prefix: &'a str,
    ) -> OpFuture<'a, String>;
    /// Plays the user of a device login (RFC 8628 §3.3): opens `verification_uri_complete`,
    /// logs in and approves. Providers without a device grant answer
    /// [`InteropError::Setup`].
    fn approve_device<'a>(
        &'a self,
        browser: &'a Browser,
        verification_uri_complete: &'a str,
    ) -> OpFuture<'a, ()>;
}

/// Starts a provider, or decides what a test does without it: under `CI=true` a provider that
/// cannot start is a failure (panic); elsewhere the test is skipped with a message.
pub(crate) fn start_or_skip<T>(
    test: &str,
    start: impl FnOnce() -> Result<T, InteropError>,
) -> Option<T> {
    match start() {
        Ok(op) => Some(op),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: the interop provider is required under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            None
        }
    }
}
