//! [`LogoutTokenError`]: which check of OpenID Connect Back-Channel Logout 1.0 §2.6 a logout
//! token failed.

use super::id_token::IdTokenError;

/// Why a back-channel logout token was refused. Answer the provider `400` (§2.8) and end no
/// session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// The JWS itself failed: not a JWS, `alg: none` or HMAC, an algorithm not allowed, no
    /// key or a bad signature, as for ID tokens.
    #[error("the logout token's signature was refused: {0}")]
    Signature(IdTokenError),
    /// `typ` names another kind of JWT (§2.4 asks for `logout+jwt`; an ID token or an access
    /// token must not be accepted as a logout token).
    #[error("the logout token is typed `{0}`, not `logout+jwt`")]
    WrongType(String),
    /// A claim §2.4 requires is absent or not of its type.
    #[error("the logout token has no usable `{0}` claim")]
    MissingClaim(&'static str),
    /// `iss` is not this client's provider.
    #[error("the logout token comes from issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The issuer of this client's provider.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not name this client.
    #[error("the logout token is not addressed to this client (`aud` does not name `{0}`)")]
    AudienceMismatch(String),
    /// `exp` is past, or `iat` is in the future, beyond the leeway.
    #[error(
        "the logout token is expired or issued in the future (`iat` {iat}, `exp` {exp}, now {now})"
    )]
    OutOfTime {
        /// The token's `iat`.
        iat: i64,
        /// The token's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// `events` has no `http://schemas.openid.net/event/backchannel-logout` member whose value
    /// is a JSON object.
    #[error("the logout token has no back-channel logout event")]
    MissingEvent,
    /// Neither `sub` nor `sid`: there is nothing to log out.
    #[error("the logout token names neither a subject (`sub`) nor a session (`sid`)")]
    NoSubject,
    /// A `nonce` claim: §2.4 forbids it, so that an ID token cannot pass as a logout token.
    #[error("the logout token carries a `nonce` (an ID token passed off as a logout token?)")]
    Nonce,
    /// This `jti` was seen before (within the token's lifetime): a replay.
    #[error("the logout token was already used (`jti` seen before): a replay")]
    Replayed,
}
