//! grantkit for axum web backends: login, server-side sessions, logout and extractors.
//!
//! ```no_run
//! use axum::routing::get;
//! use axum::{middleware, Router};
//! use grantkit_axum::{require_login, CurrentUser, Grantkit, Settings};
//!
//! # async fn app(client: grantkit::Client) -> Result<(), grantkit_axum::SettingsError> {
//! let gk = Grantkit::builder(client).settings(Settings::default()).build()?;
//! let private = Router::new()
//!     .route("/me", get(|CurrentUser(user): CurrentUser| async move { user.subject.clone() }))
//!     .route_layer(middleware::from_fn(require_login));
//! let app: Router = gk.attach(Router::new().merge(private));
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! - Sessions are kept server-side ([`SessionStore`]); the browser holds only a random 256-bit
//!   id in a `__Host-` cookie (`Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`),
//!   and the store holds only a digest of it. A login gets a new id at its start and again at
//!   its end (session fixation).
//! - Tokens are not in the session: they live in a token store keyed by
//!   [`StoreKey::for_client`](grantkit::store::StoreKey::for_client) and the user's subject,
//!   behind a [`grantkit::TokenSource`], so a refresh happens once per expiry.
//! - Logout revokes the tokens, then sends the browser to the provider's end-session endpoint
//!   when it has one (its return's `state` is checked), else logs out locally. Back-channel
//!   logout ends every session of the `sid` (or `sub`) the verified logout token names.
//! - Routes can demand a recent or stronger login ([`require_step_up`]); the callback can
//!   take the answer as a POST ([`ResponseMode::FormPost`]); with feature `dpop` and a
//!   client built with a DPoP key, the BFF proxy sends DPoP-bound tokens with a proof each.

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

mod bff;
mod cookie;
mod extract;
mod lookup;
mod routes;
mod session;
mod settings;
mod state;
mod step_up;

pub use bff::{BffApis, CSRF_HEADER};
pub use extract::{require_login, Authorized, CurrentUser, FreshToken, LoginRequired};
pub use session::{MemorySessionStore, Session, SessionError, SessionIndex, SessionStore, User};
pub use settings::{ResponseMode, Settings, SettingsError};
pub use state::{Grantkit, GrantkitBuilder, TokenStores};
pub use step_up::{require_step_up, StepUp};

/// `docs/web.md`'s samples, compiled as doctests so they cannot drift from the API.
#[cfg(doctest)]
mod doc_samples {
    #[doc = include_str!("../../../docs/web.md")]
    struct Web;
}
