//! # grantkit-testkit
//!
//! Test peers for grantkit and for applications built on it:
//!
//! - [`OidcPeer`]: a real, certified OpenID Provider (the npm package `oidc-provider`) started
//!   on `127.0.0.1` on a random port, with a fixed set of test clients (see `oidc-peer/README.md`).
//! - [`Browser`]: a cookie-holding HTTP client that follows the provider's redirects the way a
//!   browser would and stops at the app's redirect URI, so a test can drive the user's side.
//! - [`polar_sh::FakePolarSh`]: an in-process Polar.sh reproducing its documented wire behaviour.
//! - [`TestServer`]: serves an in-process fake (axum) on `127.0.0.1:0`; the Polar fakes use it.
//! - [`FakeAccessLink`]: a fake Polar AccessLink (Flow authorization with consent, the token
//!   endpoint's Basic-only client authentication and `x_user_id`, user registration).
//! - grantkit on the peer: [`OidcPeer::shared`] (one peer per test binary),
//!   [`OidcPeer::provider`], the peer's fixed clients ([`PeerClient`]) and a browser
//!   [`login`].
//! - The interop matrix's providers, each an [`InteropOp`]: [`Keycloak`] (installed by
//!   `scripts/install-keycloak`), started on loopback with its realm file, and [`Hydra`]
//!   (`scripts/install-hydra`), with its clients created through its admin API and a login
//!   and consent handler of ours.
//! - [`store_contract`]: the [`TokenStore`](grantkit::store::TokenStore) contract as tests, for the
//!   stores of grantkit and for your own.
//! - `session_contract` (feature `axum-sessions`): grantkit-axum's `SessionStore` contract as
//!   tests, for the memory, PostgreSQL and Redis session stores and for your own.
//! - [`token_endpoint`]: a counting, strictly rotating fake token endpoint and resource server.
//! - [`measure`]: helpers for benchmarks.
//! - [`tls`]: a test CA and certificates (rcgen) for the mutual-TLS tests.

mod accesslink;
mod browser;
mod hydra;
mod interop;
mod keycloak;
pub mod measure;
mod oidc_peer;
mod peer_clients;
pub mod polar_sh;
mod server;
#[cfg(feature = "axum-sessions")]
pub mod session_contract;
pub mod store_contract;
pub mod tls;
pub mod token_endpoint;
mod wire;

pub use accesslink::{
    ApiRecord, AuthorizationRecord, FakeAccessLink, FakeRateLimit, FakeUser, TokenRequestRecord,
    UserIdFormat, ACCESSLINK_CLIENT_ID, ACCESSLINK_CLIENT_SECRET, ACCESSLINK_REDIRECT_URI,
};
pub use browser::{Browser, BrowserError, Form, Landing, Page};
pub use hydra::{Hydra, HYDRA_REDIRECT_URI, HYDRA_VERSION};
pub use interop::{ClientRole, InteropError, InteropOp, OpClient, OpFuture, OpUser};
pub use keycloak::{
    Keycloak, KeycloakTls, KEYCLOAK_MTLS_REALM, KEYCLOAK_REALM, KEYCLOAK_REDIRECT_URI,
    KEYCLOAK_VERSION,
};
pub use oidc_peer::{OidcPeer, PeerError, PeerTls};
pub use peer_clients::{authorize, login, LoginError, PeerClient, PEER_REDIRECT_URI};
pub use server::TestServer;

/// `docs/interop.md`, the interop matrix's guide, compiled as doctests like every guide.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/interop.md")]
struct InteropGuide;
