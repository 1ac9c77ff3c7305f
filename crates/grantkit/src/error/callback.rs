//! [`CallbackError`]: a redirect back from the provider that cannot be trusted.

use super::oauth::OAuthErrorCode;

/// What went wrong in the redirect back from the provider, before any code could be exchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The redirect URL or query could not be read.
    #[error("the callback URL is malformed: {0}")]
    Malformed(String),
    /// A parameter appeared twice; a second copy may be an injection attempt.
    #[error("the callback carries `{0}` more than once; refusing an ambiguous response")]
    DuplicateParameter(String),
    /// No `state` came back.
    #[error("the callback has no `state`; it was not started by this app, start the login again")]
    MissingState,
    /// The `state` differs from the one this app sent: a forged or stale callback (CSRF).
    #[error("the callback's `state` does not match this login: start the login again (possible CSRF or a second tab)")]
    StateMismatch,
    /// The RFC 9207 `iss` parameter names another issuer: an authorization-server mix-up.
    #[error("the callback comes from issuer `{received}` but this login went to `{expected}` (mix-up attack?)")]
    IssuerMismatch {
        /// The issuer this login was sent to.
        expected: String,
        /// The issuer named in the callback.
        received: String,
    },
    /// The provider advertises RFC 9207 but the callback carries no `iss`.
    #[error("the provider promises an `iss` parameter on callbacks but this one has none")]
    MissingIssuer,
    /// The callback came back in another way than the request asked for: in the URL for a
    /// `response_mode=form_post` request, or in a POST body for a query-mode one.
    #[error("the callback must arrive {expected}; refusing it as it came (start the login again)")]
    ResponseModeMismatch {
        /// How this login asked for the callback.
        expected: &'static str,
    },
    /// Neither a `code` nor an `error` came back.
    #[error("the callback has no authorization `code`")]
    MissingCode,
    /// An `error` came back without a `state`: anyone can send a browser to the redirect URI
    /// with such a query, so it is not the provider's verdict. RFC 6749 §4.1.2.1 requires the
    /// provider to echo `state` in an error response to a request that had one. The message
    /// quotes neither the code nor the `error_description`, which are the sender's words;
    /// `code` is kept for logs only.
    #[error("the callback reports an error but has no `state`, so it cannot be tied to this login and is not trusted as the provider's answer: start the login again")]
    UnverifiedError {
        /// The `error` code the callback named (unverified: log it, do not show it as fact).
        code: OAuthErrorCode,
    },
}
