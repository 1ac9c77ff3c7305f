//! OpenID Connect: discovery, the JWKS cache, ID-token validation.

mod discovery;
mod id_token;
mod jwks;
pub(crate) mod metadata;

pub use crate::error::IdTokenError;
pub use discovery::Discovery;
pub use id_token::IdTokenClaims;
pub(crate) use id_token::{Expectations, IdTokenVerifier};
pub(crate) use jwks::JwksCache;
pub use jwks::JwksOptions;
pub use metadata::ProviderMetadata;
#[cfg(feature = "fuzzing")]
pub(crate) use {discovery::check_endpoints, jwks::parse_jwks};
