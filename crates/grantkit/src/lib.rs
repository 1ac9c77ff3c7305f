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

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;
mod authorize;
mod callback;
mod client;
mod error;
mod grant;
pub mod http;
mod introspect;
mod lifecycle;
mod oidc;
mod provider;
mod revoke;
mod secret;
mod token;
mod userinfo;

pub use authorize::{AuthorizationRequest, PendingAuthorization};
pub use callback::{AuthorizationCode, Callback};
pub use client::{Client, ClientBuilder};
pub use error::{CallbackError, Endpoint, Error, OAuthError, OAuthErrorCode, Result};
pub use http::HttpOptions;
pub use introspect::Introspection;
#[cfg(feature = "sealing")]
pub use lifecycle::SealingKeys;
pub use lifecycle::{
    AccessToken, AuthorizedClient, AuthorizedRequestBuilder, BoxFuture, FileTokenStore,
    MemoryTokenStore, StoreError, StoreKey, StoreLock, TokenCodec, TokenSource, TokenSourceBuilder,
    TokenStore,
};
pub use oidc::{Discovery, IdTokenClaims, IdTokenError, ProviderMetadata};
pub use provider::{AuthMethod, Provider, ProviderBuilder, Quirks, TokenField, TokenFieldKind};
pub use revoke::TokenTypeHint;
pub use secret::Secret;
pub use token::{TokenSet, TokenType};
pub use userinfo::UserInfo;
