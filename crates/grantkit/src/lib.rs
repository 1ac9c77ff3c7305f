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
//! ## Beyond the basics
//!
//! - **Device authorization grant** (RFC 8628), for machines without a browser:
//!   [`Client::device_authorization`], then [`Client::poll_device`] (or
//!   [`Client::poll_device_once`] in your own loop, see [`DevicePoll`]).
//! - **JWT client authentication** (RFC 7523): [`AuthMethod::PrivateKeyJwt`] with a
//!   [`ClientKey`] read from PEM or a JWK ([`ClientBuilder::private_key`]), and
//!   [`AuthMethod::ClientSecretJwt`]; the audience is set by [`JwtAudience`].
//! - **Pushed authorization requests** (RFC 9126): [`AuthorizationRequest::push`], and
//!   [`AuthorizationRequest::build_async`], which pushes whenever the provider or the client
//!   requires it.
//! - **DPoP** (RFC 9449, feature `dpop`): `DpopKey` and `ClientBuilder::dpop`; proofs on token
//!   requests, DPoP-bound tokens in [`Client::userinfo`] and [`AuthorizedClient`], server nonces.
//!
//! `docs/advanced-grants.md` in the repository has an example for each.
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

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;
mod address;
mod authorize;
mod callback;
mod client;
mod deadline;
mod device;
#[cfg(feature = "dpop")]
mod dpop;
mod error;
mod grant;
pub mod http;
mod introspect;
mod jwt_auth;
mod keys;
mod lifecycle;
mod oidc;
mod par;
mod provider;
mod revoke;
mod secret;
mod token;
mod token_response;
mod userinfo;
mod warm;

pub use authorize::{AuthorizationRequest, PendingAuthorization};
pub use callback::{AuthorizationCode, Callback};
pub use client::{Client, ClientBuilder};
pub use device::{DeviceAuthorization, DevicePoll};
#[cfg(feature = "dpop")]
pub use dpop::DpopKey;
pub use error::{CallbackError, Endpoint, Error, OAuthError, OAuthErrorCode, Result};
pub use http::HttpOptions;
pub use introspect::Introspection;
pub use jwt_auth::{ClientKey, JwtAudience};
#[cfg(feature = "sealing")]
pub use lifecycle::SealingKeys;
pub use lifecycle::{
    read_private_file, AccessToken, AuthorizedClient, AuthorizedRequestBuilder, BoxFuture,
    FileTokenStore, MemoryTokenStore, StoreError, StoreKey, StoreLock, TokenCodec, TokenSource,
    TokenSourceBuilder, TokenStore,
};
pub use oidc::{Discovery, IdTokenClaims, IdTokenError, JwksOptions, ProviderMetadata};
pub use provider::{AuthMethod, Provider, ProviderBuilder, Quirks, TokenField, TokenFieldKind};
pub use revoke::TokenTypeHint;
pub use secret::Secret;
pub use token::{TokenSet, TokenType};
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
