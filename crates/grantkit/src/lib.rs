//! # grantkit
//!
//! The client side of OAuth 2.0 and OpenID Connect, for web backends, CLIs and SPAs' backends:
//! authorization requests with state and PKCE S256, strict callback checks, code exchange,
//! refresh, client credentials, revocation (RFC 7009), introspection (RFC 7662) and userinfo,
//! with typed errors that never print a secret.
//!
//! A [`Provider`] is plain data (endpoints, accepted client authentication, declared quirks);
//! a [`Client`] is one registered application at it. Neither has type parameters.
//!
//! ```no_run
//! use grantkit::{Client, Provider};
//!
//! # async fn run(callback_url: &str) -> Result<(), grantkit::Error> {
//! let provider = Provider::builder("example")
//!     .issuer("https://login.example.com")
//!     .authorization_endpoint("https://login.example.com/authorize")
//!     .token_endpoint("https://login.example.com/token")
//!     .build()?;
//! let client = Client::builder(provider, "my-client")
//!     .client_secret("my-secret")
//!     .redirect_uri("https://app.example.com/callback")
//!     .scopes(["openid", "email"])
//!     .build()?;
//!
//! // 1. Send the browser to `url`; keep `pending` in the session.
//! let (url, pending) = client.authorize().build()?;
//! # let _ = url;
//! // 2. On the callback: check state/iss/error, then exchange the code (PKCE verifier included).
//! let code = pending.verify_callback(callback_url)?;
//! let tokens = client.exchange_code(code).await?;
//! // 3. Later: refresh, and revoke on logout.
//! let tokens = client.refresh(&tokens).await?;
//! client.revoke_tokens(&tokens).await?;
//! # Ok(()) }
//! ```
//!
//! ## Layers
//!
//! The root holds the login flow, the names almost every program uses: [`Provider`],
//! [`Client`], [`AuthorizationRequest`], [`PendingAuthorization`], [`AuthorizationCode`],
//! [`TokenSet`], [`TokenSource`], [`AuthorizedClient`], [`Error`], [`Secret`], and the
//! requests around it ([`TokenRequest`], [`TokenExchange`], [`LogoutRequest`],
//! [`PendingLogout`], [`LogoutToken`]…). Everything else sits in a module named after its
//! concept:
//!
//! | module | holds |
//! |---|---|
//! | [`provider`] | the provider as data: [`Provider`], [`AuthMethod`], [`provider::Quirks`], token-response fields |
//! | [`store`] | where tokens live: the [`store::TokenStore`] contract, memory and file stores, [`store::StoreKey`] and [`store::TokenCodec`] for shared stores, [`store::ReplayGuard`] for one-time ids |
//! | [`oidc`] | OpenID Connect: [`oidc::Discovery`], [`oidc::ProviderMetadata`], ID-token claims and errors, JWKS options |
//! | [`device`] | the device authorization grant (RFC 8628): [`Client::device_authorization`], [`Client::poll_device`], [`device::DevicePoll`] |
//! | [`jwt_auth`] | JWT client authentication (RFC 7523): [`jwt_auth::ClientKey`] for `private_key_jwt`, [`jwt_auth::JwtAudience`] |
//! | `dpop` | DPoP (RFC 9449, feature `dpop`): `dpop::DpopKey` and `ClientBuilder::dpop`; proofs on token requests, DPoP-bound tokens in [`Client::userinfo`] and [`AuthorizedClient`], server nonces |
//! | [`mtls`] | mutual TLS (RFC 8705): [`mtls::TlsIdentity`] for `tls_client_auth`, `self_signed_tls_client_auth` and certificate-bound tokens |
//! | [`resource`] | protected resources (RFC 9728): [`resource::discover`] from a resource server's URL or its `401` to its authorization server |
//! | [`registration`] | dynamic client registration and management (RFC 7591, RFC 7592): [`registration::ClientRegistration`], [`registration::Registrar`], [`registration::RegisteredClient`] |
//! | [`http`] | the HTTP layer: [`http::HttpOptions`], and [`http::HttpClient`] for provider crates' own API calls |
//! | [`error`] | every error type: [`Error`], [`CallbackError`], [`OAuthError`], [`error::Refusal`]… |
//!
//! **Pushed authorization requests** (RFC 9126) need no module: [`AuthorizationRequest::push`],
//! and [`AuthorizationRequest::build_async`], which pushes whenever the provider or the client
//! requires it. `docs/advanced-grants.md` in the repository has an example for each grant, and
//! `docs/design.md` draws the layers.
//!
//! ## Cargo features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `dpop` | off | DPoP (RFC 9449): `DpopKey`, `ClientBuilder::dpop`, proofs. Depends on `aws-lc-rs` directly (already in the tree through `jsonwebtoken` and reqwest's `rustls`). |
//! | `sealing` | off | `SealingKeys`, `TokenCodec::sealed`: tokens at rest sealed with AES-256-GCM (`aes-gcm`). |
//!
//! Everything else (device flow, JWT client authentication, PAR included) is always available
//! and adds no dependency.

// Library code never panics on what it reads; CI's `clippy -D warnings` turns these into errors.
// Tests may unwrap.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
// Fuzz set-up with fixed, valid inputs: a failure there is a broken harness, not bad input.
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod __fuzz;
mod address;
mod auth_method;
mod authorize;
mod authorized_client;
mod backchannel_logout;
mod callback;
mod client;
mod deadline;
pub mod device;
#[cfg(feature = "dpop")]
pub mod dpop;
// Without the feature, a twin with no values stands in, so no other file needs a `cfg`.
#[cfg(not(feature = "dpop"))]
#[path = "dpop_off.rs"]
mod dpop;
pub mod error;
mod grant;
pub mod http;
mod introspect;
mod jar;
mod jarm;
pub mod jwt_auth;
pub mod jwt_bearer;
mod keys;
mod logout;
pub mod mtls;
pub mod oidc;
mod par;
pub mod provider;
mod redirect_uri;
pub mod registration;
pub mod resource;
mod resource_indicator;
mod revoke;
mod secret;
mod signed_response;
pub mod store;
mod token;
pub mod token_exchange;
mod token_request;
mod token_response;
mod token_source;
mod userinfo;
mod warm;

pub use authorize::{AuthorizationRequest, PendingAuthorization};
pub use authorized_client::{AuthorizedClient, AuthorizedRequestBuilder};
pub use backchannel_logout::LogoutToken;
pub use callback::{AuthorizationCode, Callback, JarmMode};
pub use client::{Client, ClientBuilder};
pub use error::{CallbackError, Endpoint, Error, OAuthError, OAuthErrorCode, Result};
pub use introspect::{Introspection, IntrospectionRequest};
pub use logout::{LogoutRequest, PendingLogout};
pub use provider::{AuthMethod, Provider, ProviderBuilder};
pub use revoke::{RevocationRequest, TokenTypeHint};
pub use secret::Secret;
pub use token::{TokenSet, TokenType};
pub use token_exchange::TokenExchange;
pub use token_request::TokenRequest;
pub use token_source::{AccessToken, TokenSource, TokenSourceBuilder};
pub use userinfo::UserInfo;

/// The README's and the guides' code, compiled (and, where it needs no network, run) as doctests,
/// so a sample cannot drift from the API. Guides that need another crate are compiled by that
/// crate (`scripts/check-docs` checks that every doc is included somewhere).
#[cfg(doctest)]
mod doc_samples {
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/advanced-grants.md")]
    struct AdvancedGrants;
    #[doc = include_str!("../../../docs/cli.md")]
    struct Cli;
    #[doc = include_str!("../../../docs/design.md")]
    struct Design;
    #[doc = include_str!("../../../docs/oidc.md")]
    struct Oidc;
    #[doc = include_str!("../../../docs/performance.md")]
    struct Performance;
    #[doc = include_str!("../../../docs/security.md")]
    struct Security;
    #[doc = include_str!("../../../docs/token-lifecycle.md")]
    struct TokenLifecycle;
}
