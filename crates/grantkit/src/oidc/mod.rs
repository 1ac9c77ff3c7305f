//! OpenID Connect: discovery, the JWKS cache, ID-token validation.

mod discovery;
mod id_token;
mod jwks;
pub(crate) mod metadata;

pub use crate::error::IdTokenError;
pub use discovery::Discovery;
pub(crate) use id_token::{
    is_supported as is_supported_alg, jws_header, Expectations, IdTokenVerifier,
};
pub use id_token::{IdTokenClaims, DEFAULT_ID_TOKEN_LEEWAY};
pub(crate) use jwks::JwksCache;
pub use jwks::JwksOptions;
pub use metadata::ProviderMetadata;
pub(crate) use metadata::{check_endpoints_served, ServedFrom};
#[cfg(feature = "fuzzing")]
pub(crate) use {jwks::parse_jwks, metadata::check_endpoints};
