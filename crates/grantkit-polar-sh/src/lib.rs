//! # grantkit-polar-sh
//!
//! "Connect with Polar" for Rust: OAuth 2.0 / OpenID Connect with [Polar.sh](https://polar.sh),
//! the merchant platform, on top of [`grantkit`]. Polar's quirks are declared here once, as data:
//!
//! - Metadata is served from the API host, but the issuer is `https://polar.sh`. The presets
//!   expect that issuer explicitly, so the issuer check stays on.
//! - ID tokens are RS256 with `aud` as an array, maybe without a `kid`, and with a `null` nonce when
//!   none was sent. grantkit's validation accepts all of that.
//! - PKCE `S256` is always sent explicitly, because Polar assumes `plain` when the method is missing.
//! - `client_secret_post` is the default client authentication, because Polar registers clients
//!   that way. Public clients cannot revoke or introspect; calling those is a typed error here,
//!   not an HTTP 401.
//! - Refresh rotates both tokens and kills the old pair. Keep the new pair (grantkit's token
//!   lifecycle does). A refresh does not always keep the identity: a legacy organization token
//!   comes back as a user token.
//! - Only user tokens are issued: [`SubType::Organization`] asks for a user token limited to one
//!   organization the user picks (and sends `prompt=consent`, without which a returning user
//!   gets a 400 page). Read the pick with [`PolarIntrospection::organization_access`].
//! - API errors keep Polar's `detail` ([`ApiError`]); webhooks are verified by [`WebhookVerifier`].
//!
//! ```no_run
//! use grantkit_polar_sh::{PolarAuthorizationExt, PolarSh, Scope, SubType};
//!
//! # async fn run(callback_url: &str) -> Result<(), grantkit::Error> {
//! let polar = PolarSh::sandbox();
//! let client = polar
//!     .client_builder(polar.discover().await?, "polar_ci_…")
//!     .client_secret("polar_cs_…")
//!     .redirect_uri("https://app.example.com/auth/callback")
//!     .build()?;
//! let (url, pending) = client
//!     .authorize()
//!     .polar_scopes([Scope::OpenId, Scope::Email, Scope::ProductsRead])
//!     .sub_type(SubType::Organization)
//!     .build()?;
//! # let _ = url;
//! let tokens = client.exchange_code(pending.verify_callback(callback_url)?).await?;
//! let who = grantkit_polar_sh::userinfo(&client, &tokens).await?;
//! # let _ = who; Ok(()) }
//! ```

// Library code never panics on what it reads; CI's `clippy -D warnings` turns these into errors.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

/// The code of `docs/providers/polar-sh.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/providers/polar-sh.md")]
struct ProviderGuide;

mod authorize;
mod error;
mod introspection;
mod registration;
mod scope;
mod static_token;
mod subject;
pub mod webhook;

use grantkit::oidc::Discovery;
use grantkit::provider::Quirks;
use grantkit::{AuthMethod, Client, ClientBuilder, Provider};

pub use authorize::{PolarAuthorizationExt, Prompt, SubType};
pub use error::{error_for_status, ApiError, Error, Result, ValidationIssue};
pub use introspection::{OrganizationAccess, PolarIntrospection};
pub use registration::{ClientMetadata, RegisteredClient, Registrar};
pub use scope::{join as join_scopes, Scope};
pub use static_token::{session_token, static_token, CustomerSession, StaticTokenKind};
pub use subject::{userinfo, PolarSubject};
pub use webhook::{WebhookError, WebhookSecret, WebhookVerifier};

/// The issuer Polar.sh names in its metadata and ID tokens, in production and sandbox alike.
pub const ISSUER: &str = "https://polar.sh";

/// Where a Polar.sh environment lives: the API host (metadata, token, userinfo, API) and the
/// web host (the authorization page). A value, in golang.org/x/oauth2's `endpoints` style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolarSh {
    api_base: String,
    web_base: String,
}

impl PolarSh {
    /// Production: `https://api.polar.sh` and `https://polar.sh`.
    pub fn production() -> Self {
        Self::custom("https://api.polar.sh", "https://polar.sh")
    }

    /// Sandbox: `https://sandbox-api.polar.sh` and `https://sandbox.polar.sh`.
    pub fn sandbox() -> Self {
        Self::custom("https://sandbox-api.polar.sh", "https://sandbox.polar.sh")
    }

    /// Any other base URLs: a proxy, or the testkit's fake (`FakePolarSh::api_base()`). The API
    /// base may end in `/api` for the older `/api/v1/...` paths; discovery and the JWKS stay at
    /// the host's root then, because Polar does not alias `/.well-known` under `/api`.
    pub fn custom(api_base: impl Into<String>, web_base: impl Into<String>) -> Self {
        let trim = |s: String| s.trim_end_matches('/').to_owned();
        Self {
            api_base: trim(api_base.into()),
            web_base: trim(web_base.into()),
        }
    }

    /// The API base URL.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The quirks every Polar.sh provider carries.
    pub fn quirks() -> Quirks {
        Quirks::default().public_clients_can_revoke(false)
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base)
    }

    /// The API host's root, where `/.well-known/...` lives even for an `/api` base.
    fn well_known_base(&self) -> &str {
        self.api_base.strip_suffix("/api").unwrap_or(&self.api_base)
    }

    /// The provider from the documented endpoints, without a network round trip.
    pub fn provider(&self) -> grantkit::Result<Provider> {
        Provider::builder("Polar.sh")
            .issuer(ISSUER)
            .authorization_endpoint(&format!("{}/oauth2/authorize", self.web_base))
            .token_endpoint(&self.api("/v1/oauth2/token"))
            .userinfo_endpoint(&self.api("/v1/oauth2/userinfo"))
            .revocation_endpoint(&self.api("/v1/oauth2/revoke"))
            .introspection_endpoint(&self.api("/v1/oauth2/introspect"))
            .jwks_uri(&format!("{}/.well-known/jwks.json", self.well_known_base()))
            .auth_methods([
                AuthMethod::ClientSecretPost,
                AuthMethod::ClientSecretBasic,
                AuthMethod::None,
            ])
            .default_auth_method(AuthMethod::ClientSecretPost)
            .id_token_signing_algs(["RS256"])
            .quirks(Self::quirks())
            .build()
    }

    /// The provider from Polar's discovery document on the API host, whose issuer must be
    /// `https://polar.sh` (checked, not skipped).
    pub async fn discover(&self) -> grantkit::Result<Provider> {
        let provider = Discovery::new(self.well_known_base())
            .expected_issuer(ISSUER)
            .name("Polar.sh")
            .fetch()
            .await?;
        Ok(provider
            .with_quirks(Self::quirks())
            .with_default_auth_method(AuthMethod::ClientSecretPost))
    }

    /// A client builder for `provider` (from [`PolarSh::provider`] or [`PolarSh::discover`]).
    /// With a secret, the client uses `client_secret_post` unless told otherwise; without one, it
    /// is a public client (PKCE, no revoke/introspect).
    pub fn client_builder(
        &self,
        provider: Provider,
        client_id: impl Into<String>,
    ) -> ClientBuilder {
        Client::builder(provider, client_id)
    }

    /// Dynamic client registration (RFC 7591/7592) at `/v1/oauth2/register`.
    pub fn registrar(&self) -> Result<Registrar> {
        Ok(Registrar::new(self.api("/v1/oauth2/register"))?)
    }
}
