//! [`JarmError`]: a JWT-secured authorization response (JARM) that cannot be trusted.

use super::id_token::IdTokenError;

/// Why a JARM callback (`response_mode=jwt`, `query.jwt`, `form_post.jwt`) was refused. The
/// response JWT is checked like an ID token (the provider's JWKS, an asymmetric algorithm) and
/// then by the JARM rules (FAPI JARM §4.4): `iss` is the provider, `aud` names this client,
/// `exp` is not past. Only then are `state`, `iss` and `code` inside it checked as for any
/// callback.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JarmError {
    /// The callback has no `response` parameter: a plain `code`/`state` callback for a login
    /// that asked for a signed response is a downgrade (anyone can forge an unsigned one).
    #[error("the callback has no signed `response` JWT although this login asked for one (response_mode {mode}); refusing a plain callback (downgrade)")]
    MissingResponse {
        /// The response mode the login asked for.
        mode: &'static str,
    },
    /// The JWS itself failed: not a JWS, `alg: none` or HMAC, another algorithm than the
    /// expected one, no key or a bad signature, as for ID tokens.
    #[error("the signed authorization response was refused: {0}")]
    Signature(IdTokenError),
    /// A claim JARM requires (`iss`, `aud`, `exp`) is absent or not of its type.
    #[error("the signed authorization response has no usable `{0}` claim")]
    MissingClaim(&'static str),
    /// `iss` is not this client's provider: a response minted by another issuer.
    #[error("the signed authorization response comes from issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The issuer of this client's provider.
        expected: String,
        /// The response's `iss`.
        found: String,
    },
    /// `aud` does not name this client: a response meant for another client.
    #[error("the signed authorization response is not addressed to this client (`aud` does not name `{0}`)")]
    AudienceMismatch(String),
    /// `exp` is past (beyond the clock leeway): an old response replayed.
    #[error("the signed authorization response expired (`exp` {exp}, now {now})")]
    Expired {
        /// The response's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// A response parameter inside the JWT (`code`, `state`, `error`...) is not a string.
    #[error("the signed authorization response's `{0}` is not a string")]
    Malformed(&'static str),
}
