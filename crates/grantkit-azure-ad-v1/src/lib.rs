//! # grantkit-azure-ad-v1
//!
//! Microsoft Entra ID (formerly Azure AD) through its **v1.0** endpoints,
//! `https://login.microsoftonline.com/{tenant}/oauth2/authorize` and `.../oauth2/token`: the
//! third preset, written by following `docs/adding-a-provider.md`.
//!
//! Its quirk: v1.0 token responses send their numbers as **strings**:
//!
//! ```json
//! {"token_type": "Bearer", "expires_in": "3599", "ext_expires_in": "3599",
//!  "expires_on": "1700000000", "not_before": "1699996100",
//!  "resource": "https://graph.microsoft.com", "access_token": "…", "refresh_token": "…"}
//! ```
//!
//! | quirk | where it goes |
//! |---|---|
//! | `expires_in` as a string | nowhere: the core already reads `3600`, `3600.0` and `"3600"` |
//! | `expires_on`, an absolute Unix time as a string | declared: `token_fields: [TokenField::integer("expires_on").optional()]`, read with [`TokenSetExt::expires_on`] |
//! | `resource` names the API the token is for | nothing to declare: `client.authorize().param("resource", ...)`, read back with [`TokenSetExt::resource`] |
//!
//! ```
//! use grantkit::Client;
//! use grantkit_azure_ad_v1::provider;
//!
//! let client = Client::builder(provider("contoso.onmicrosoft.com")?, "app-id")
//!     .client_secret("secret")
//!     .redirect_uri("https://app.example.com/callback")
//!     .build()?;
//! let (url, _pending) = client
//!     .authorize()
//!     .param("resource", "https://graph.microsoft.com")
//!     .build()?;
//! assert!(url.as_str().starts_with(
//!     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/authorize?"
//! ));
//! # Ok::<(), grantkit::Error>(())
//! ```
//!
//! New applications should prefer the v2.0 endpoints, which are OpenID Connect and send numbers
//! as numbers: `grantkit::oidc::Discovery::new("https://login.microsoftonline.com/{tenant}/v2.0")`.

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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The code of `docs/adding-a-provider.md`, the guide this crate follows, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/adding-a-provider.md")]
struct Guide;

use grantkit::provider::{Quirks, TokenField};
use grantkit::{AuthMethod, Provider, TokenSet};

/// Where Microsoft's v1.0 endpoints live.
pub const LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The token response member holding the absolute expiry (Unix seconds, as a string).
pub const EXPIRES_ON_FIELD: &str = "expires_on";

/// The v1.0 endpoints of `tenant` (a tenant id, a domain, `common` or `organizations`).
pub fn provider(tenant: &str) -> grantkit::Result<Provider> {
    provider_at(LOGIN_URL, tenant)
}

/// The same on another base URL (a fake in tests).
pub fn provider_at(base_url: &str, tenant: &str) -> grantkit::Result<Provider> {
    if tenant.is_empty() || tenant.contains(['/', '?', '#', ' ']) {
        return Err(grantkit::Error::Config(format!(
            "`{tenant}` is not a tenant: use a tenant id, a domain, `common` or `organizations`"
        )));
    }
    let base = format!("{}/{tenant}/oauth2", base_url.trim_end_matches('/'));
    Provider::builder("azure-ad-v1")
        .authorization_endpoint(&format!("{base}/authorize"))
        .token_endpoint(&format!("{base}/token"))
        .auth_methods([
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::None,
        ])
        .quirks(quirks())
        .build()
}

/// The declared quirk: `expires_on`, when present, is an integer (sent as a string).
pub fn quirks() -> Quirks {
    Quirks::default().token_field(TokenField::integer(EXPIRES_ON_FIELD).optional())
}

/// Reading the v1.0 members of a [`TokenSet`].
pub trait TokenSetExt {
    /// `expires_on`: when the access token expires, as the server computed it.
    fn expires_on(&self) -> Option<SystemTime>;
    /// `resource`: the API the token is for.
    fn resource(&self) -> Option<&str>;
}

impl TokenSetExt for TokenSet {
    fn expires_on(&self) -> Option<SystemTime> {
        self.extra_u64(EXPIRES_ON_FIELD)
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn resource(&self) -> Option<&str> {
        self.extra().get("resource").and_then(|v| v.as_str())
    }
}
