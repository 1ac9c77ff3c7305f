//! OpenID Connect: discovery, the JWKS cache, ID-token validation.

mod discovery;
mod id_token;
mod jwks;

pub(crate) use discovery::{check_endpoints_served, ServedFrom};
pub use discovery::{Discovery, ProviderMetadata};
pub(crate) use id_token::{Expectations, IdTokenVerifier};
pub use id_token::{IdTokenClaims, IdTokenError};
pub(crate) use jwks::JwksCache;
pub use jwks::JwksOptions;
#[cfg(feature = "fuzzing")]
pub(crate) use {discovery::check_endpoints, jwks::parse_jwks};
