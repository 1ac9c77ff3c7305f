//! [`SignedResponseError`]: which check a signed introspection (RFC 9701) or userinfo (OpenID
//! Connect Core §5.3.2) response failed.

use super::endpoint::Endpoint;
use super::id_token::IdTokenError;

/// Why a signed response from the introspection or userinfo endpoint was refused. Nothing of
/// its content is used: a forged or misdirected answer must not pass for the provider's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedResponseError {
    /// The JWS itself failed, as it would for an ID token: not a JWS, `alg: none` or HMAC, an
    /// algorithm not allowed, a key the provider's JWKS does not hold, a bad signature.
    #[error("the signed {endpoint} response was refused: {source}")]
    Signature {
        /// Where the answer came from.
        endpoint: Endpoint,
        /// Which signature check failed.
        source: IdTokenError,
    },
    /// The JWT's `typ` names another kind of token (RFC 9701 §5 asks for
    /// `token-introspection+jwt`, so that no other JWT of the provider passes for one).
    #[error("the signed {endpoint} response is typed `{found}`, not `{expected}`")]
    WrongType {
        /// Where the answer came from.
        endpoint: Endpoint,
        /// The `typ` required.
        expected: &'static str,
        /// The `typ` found (`none` when absent).
        found: String,
    },
    /// A required claim is absent or not of its type.
    #[error("the signed {endpoint} response has no usable `{claim}` claim")]
    MissingClaim {
        /// Where the answer came from.
        endpoint: Endpoint,
        /// The claim.
        claim: &'static str,
    },
    /// `iss` is not this client's provider.
    #[error("the signed {endpoint} response comes from issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// Where the answer came from.
        endpoint: Endpoint,
        /// The issuer of this client's provider.
        expected: String,
        /// The JWT's `iss`.
        found: String,
    },
    /// `aud` does not name this client: an answer meant for another client.
    #[error("the signed {endpoint} response is not addressed to this client (`aud` does not name `{client_id}`)")]
    AudienceMismatch {
        /// Where the answer came from.
        endpoint: Endpoint,
        /// This client's id.
        client_id: String,
    },
    /// `iat` is in the future or `exp` past, beyond the clock leeway.
    #[error("the signed {endpoint} response is outside its validity (`iat` {iat:?}, `exp` {exp:?}, now {now})")]
    OutOfTime {
        /// Where the answer came from.
        endpoint: Endpoint,
        /// The JWT's `iat`.
        iat: Option<i64>,
        /// The JWT's `exp`.
        exp: Option<i64>,
        /// The time of the check.
        now: i64,
    },
    /// A signed answer was required and a plain JSON one came: a downgrade, or a client not
    /// registered for signed responses.
    #[error("the {endpoint} endpoint answered plain JSON where a signed JWT was required; register the client for signed responses")]
    NotSigned {
        /// Where the answer came from.
        endpoint: Endpoint,
    },
}
