//! # grantkit-polar-accesslink
//!
//! [Polar AccessLink](https://www.polar.com/accesslink-api/) for grantkit: linking a Polar Flow
//! user to your application (plain OAuth 2.0 with a few quirks), then **registering** the user,
//! the step every AccessLink application must take before any data call.
//!
//! The provider is a value ([`provider`], or [`Endpoints::provider`] for other base URLs);
//! AccessLink's deviations are declared in [`quirks`] and implemented by the grantkit core:
//!
//! | AccessLink does | declared as | so grantkit |
//! |---|---|---|
//! | client credentials only as HTTP Basic | `auth_methods([ClientSecretBasic])` | authenticates with Basic; a client configured otherwise is refused at build |
//! | `token_type: "bearer"` (lowercase) | nothing: the core reads it in any case | `TokenType::Bearer` |
//! | `expires_in: 31535999` (a year) | nothing | `expires_at` a year ahead |
//! | `x_user_id` integer (some read it as a string) | `token_fields: [TokenField::integer("x_user_id")]` | refuses a code exchange without it; [`TokenSetExt::user_id`] reads either form |
//! | no refresh token | `refresh_tokens: false` | `Client::refresh` fails with `Error::NoRefreshToken` (`is_reauthorization_required()`): link the user again |
//! | PKCE not documented | `pkce: false` | sends no `code_challenge` |
//! | `redirect_uri` optional, repeated at the token step only when sent | nothing: the core repeats exactly what it sent | |
//!
//! ```no_run
//! use grantkit::Client;
//! use grantkit_polar_accesslink::{AccessLink, Endpoints, MemberId, Registration, TokenSetExt};
//!
//! # async fn run(callback_url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder(grantkit_polar_accesslink::provider(), "my-client-id")
//!     .client_secret(std::env::var("ACCESSLINK_CLIENT_SECRET")?)
//!     .redirect_uri("https://app.example.com/polar/callback") // as registered, or none
//!     .build()?;
//!
//! let (url, pending) = client.authorize().build()?; // send the browser to `url`
//! # let _ = url;
//! let code = pending.verify_callback(callback_url)?;
//! let tokens = client.exchange_code(code).await?; // valid for about a year, no refresh token
//! let user_id = tokens.user_id()?;                // x_user_id, typed
//!
//! let api = AccessLink::new(&Endpoints::production())?;
//! // Store the member-id with the user: it must be unique per user (never a constant).
//! let member_id = MemberId::generate();
//! match api.register(&tokens, &member_id).await? {
//!     Registration::Registered(user) => println!("registered {}", user.polar_user_id),
//!     Registration::AlreadyRegistered => println!("linked before"),
//!     _ => println!("registered (204: no user object; read it with get_user)"),
//! }
//! let user = api.get_user(&tokens, user_id).await?;
//! // When the user unlinks: deregistration also revokes the access token.
//! api.deregister(&tokens, user_id).await?;
//! # let _ = user; Ok(()) }
//! ```
//!
//! At expiry (a year after linking) or after deregistration there is nothing to refresh:
//! `Client::refresh` returns `grantkit::Error::NoRefreshToken`, and API calls answer 401
//! ([`Error::Unauthorized`]); both say `is_reauthorization_required()`: send the user through
//! the authorization again. The user guide is `docs/providers/polar-accesslink.md`.
//!
//! Data: the plain `GET` endpoints (`/exercises`, `/users/physical-info`...) are the current
//! way; the transaction-based pulls are deprecated. [`AccessLink::get_data`] calls one with the
//! user's token and reads 204 as "no data" (`None`).
//!
//! Client-level calls (pull notifications, webhooks), authenticated with HTTP Basic client
//! credentials instead of a user token, are not wrapped yet: [`AccessLink::request`] and
//! [`AccessLink::send`] are the seam for them, with the same typed [`Error`]s.

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

/// The code of `docs/providers/polar-accesslink.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/providers/polar-accesslink.md")]
struct ProviderGuide;

mod api;
mod error;
mod member_id;
mod preset;
mod user;
pub mod webhook;

pub use api::{AccessLink, BearerToken, Registration};
pub use error::{ApiError, Error, RateLimit, Result};
pub use member_id::MemberId;
pub use preset::{
    provider, quirks, Endpoints, TokenSetExt, API_URL, AUTHORIZATION_URL, SCOPE, TOKEN_URL,
    USER_ID_FIELD,
};
pub use user::{ExtraInfo, Gender, User, UserId};
