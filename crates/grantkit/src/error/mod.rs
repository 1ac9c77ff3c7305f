//! Typed errors. Each variant says what went wrong and, where there is one, what to do about it.
//!
//! Every error type of the crate lives here, below everything else, so that any module can
//! return any of them without importing the module that raises it.

mod callback;
mod endpoint;
mod id_token;
mod insufficient_scope;
mod jarm;
mod logout_token;
mod mtls;
mod oauth;
mod refusal;
mod signed_response;
mod store;
mod text;

pub use callback::CallbackError;
pub use endpoint::Endpoint;
pub use id_token::IdTokenError;
pub use insufficient_scope::InsufficientScope;
pub use jarm::JarmError;
pub use logout_token::LogoutTokenError;
pub use mtls::MtlsError;
pub use oauth::{OAuthError, OAuthErrorCode};
pub use refusal::Refusal;
pub use signed_response::SignedResponseError;
pub use store::StoreError;
pub use text::retry_words;
pub(crate) use text::{scrub_text, truncate};

use std::time::Duration;

/// Everything that can go wrong in grantkit.
///
/// Messages never contain secrets: tokens, codes, verifiers and client secrets are held in
/// [`Secret`](crate::Secret), which prints as `[redacted]`.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider answered with an OAuth error (`invalid_grant`, `access_denied`...).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The callback could not be trusted or had no code.
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// A non-success HTTP status without an OAuth error body.
    #[error("the {endpoint} endpoint answered HTTP {status}: {body_excerpt}")]
    Http {
        /// Where the call went.
        endpoint: Endpoint,
        /// The HTTP status code.
        status: u16,
        /// The start of the body, control characters removed, at most 200 characters.
        body_excerpt: String,
    },
    /// HTTP 429 (or 503 with `Retry-After`): wait before trying again.
    #[error("the {endpoint} endpoint is rate limiting this client; retry {}", retry_words(*.retry_after))]
    RateLimited {
        /// Where the call went.
        endpoint: Endpoint,
        /// The HTTP status (429, or 503).
        status: u16,
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// No complete answer within the configured timeout.
    #[error(
        "the {endpoint} endpoint did not answer within {timeout:?}; it may be down or overloaded"
    )]
    Timeout {
        /// Where the call went.
        endpoint: Endpoint,
        /// The timeout in force.
        timeout: Duration,
    },
    /// Connection refused, reset, TLS failure, DNS failure...
    #[error("could not talk to the {endpoint} endpoint: {message}")]
    Transport {
        /// Where the call went.
        endpoint: Endpoint,
        /// What the HTTP stack said (URL removed).
        message: String,
    },
    /// The body exceeded the configured cap; it was not read further.
    #[error("the {endpoint} endpoint sent more than {limit} bytes; refusing to read further")]
    BodyTooLarge {
        /// Where the call went.
        endpoint: Endpoint,
        /// The cap in bytes.
        limit: usize,
    },
    /// The endpoint answered with a redirect; OAuth back-channel endpoints never should.
    #[error("the {endpoint} endpoint redirected (HTTP {status}) to {location}; redirects are not followed on OAuth calls, fix the endpoint URL")]
    UnexpectedRedirect {
        /// Where the call went.
        endpoint: Endpoint,
        /// The 3xx status.
        status: u16,
        /// The `Location` header (truncated).
        location: String,
    },
    /// A success status with a body grantkit cannot use (not JSON, missing fields...).
    #[error("the {endpoint} endpoint sent an unusable response: {reason}")]
    InvalidResponse {
        /// Where the call went.
        endpoint: Endpoint,
        /// What is wrong with it.
        reason: String,
    },
    /// The provider description lacks an endpoint this call needs.
    #[error("the provider `{provider}` has no {endpoint} endpoint configured")]
    MissingEndpoint {
        /// The provider's name.
        provider: String,
        /// The endpoint that is missing.
        endpoint: Endpoint,
    },
    /// An ID token failed validation.
    #[error(transparent)]
    IdToken(IdTokenError),
    /// A signed introspection (RFC 9701) or userinfo response was refused (see
    /// [`SignedResponseError`]).
    #[error(transparent)]
    SignedResponse(#[from] SignedResponseError),
    /// A signed authorization response (JARM) was refused (see [`JarmError`]).
    #[error(transparent)]
    Jarm(#[from] JarmError),
    /// A back-channel logout token was refused (see [`LogoutTokenError`]); answer `400`.
    #[error(transparent)]
    LogoutToken(#[from] LogoutTokenError),
    /// A discovery document names another issuer than the one it was fetched for.
    #[error("the discovery document names issuer `{found}` but `{expected}` was expected; if the provider serves metadata from another host, set the expected issuer explicitly")]
    IssuerMismatch {
        /// The issuer expected.
        expected: String,
        /// The issuer in the document.
        found: String,
    },
    /// A protected resource's metadata describes another resource than the one it was fetched
    /// for (RFC 9728 §3.3): its authorization servers are not trusted for this one.
    #[error("the protected resource metadata names resource `{found}` but `{expected}` was asked for; refusing it (RFC 9728 §3.3)")]
    ResourceMismatch {
        /// The resource asked for.
        expected: String,
        /// The resource in the document.
        found: String,
    },
    /// A discovery document names an endpoint grantkit refuses to call (SSRF defence).
    #[error("the discovery document's `{field}` is refused: {reason}")]
    UnsafeEndpoint {
        /// The metadata member.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// The userinfo `sub` differs from the ID token's `sub` (OpenID Connect Core §5.3.2).
    #[error("the userinfo response is for another subject than the ID token; refusing it")]
    UserinfoSubjectMismatch,
    /// A refresh was needed but the token set has no refresh token (or the provider issues none).
    #[error("the tokens cannot be refreshed (no refresh token); authorize the user again")]
    NoRefreshToken,
    /// A builder was given something it cannot use (a provider, client, key or request that
    /// is wrong before any call is made). Fix the configuration; retrying cannot help.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// grantkit refused a call before sending anything, because the provider (its metadata
    /// or its preset) or this client's setup shows it cannot succeed; retrying cannot help.
    /// [`Refusal`] says why and what to do.
    #[error("not sent to the {endpoint} endpoint: {reason}")]
    Refused {
        /// The endpoint the call was for.
        endpoint: Endpoint,
        /// Why it was not sent.
        reason: Refusal,
    },
    /// A background task was stopped before it finished: the Tokio runtime is shutting down,
    /// or the task panicked (a background refresh's panic reaches `on_refresh_error` as this).
    /// Nothing was lost; try again on a live runtime.
    #[error("{0} stopped before it finished (the Tokio runtime shutting down, or a panic in it); nothing was lost: try again")]
    Cancelled(&'static str),
    /// A token store failed, holds nothing, or refused an unsafe file (see [`StoreError`]).
    ///
    /// [`StoreError`]: crate::store::StoreError
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Mutual TLS (RFC 8705): an unusable client identity, or a certificate-bound access
    /// token this client cannot present (see [`MtlsError`]).
    #[error(transparent)]
    Mtls(#[from] MtlsError),
    /// A resource server refused the access token for lacking scopes (`insufficient_scope`,
    /// RFC 6750 §3.1): authorize the user again asking for
    /// [`InsufficientScope::scopes_for_step_up`]. Never retried by grantkit.
    #[error(transparent)]
    InsufficientScope(#[from] InsufficientScope),
}

impl Error {
    /// The OAuth error, if the provider reported one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Error::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// The scopes a resource server asked for, when this is a step-up demand.
    pub fn insufficient_scope(&self) -> Option<&InsufficientScope> {
        match self {
            Error::InsufficientScope(e) => Some(e),
            _ => None,
        }
    }

    /// The OAuth error code, if the provider reported one.
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        self.oauth().map(|e| &e.code)
    }

    /// `true` when the grant is dead (`invalid_grant`), there is nothing to refresh with, or the
    /// token store holds no tokens: the user must authorize again.
    pub fn is_reauthorization_required(&self) -> bool {
        matches!(self, Error::NoRefreshToken)
            || self.oauth_code() == Some(&OAuthErrorCode::InvalidGrant)
            || matches!(self, Error::Store(e) if e.is_reauthorization_required())
    }

    /// How long to wait before retrying, when the server said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Removes every occurrence of `secrets` (as sent, and form-urlencoded) from the text the
    /// server put into this error: body excerpts, descriptions, reasons, transport messages and
    /// redirect targets. Used on answers to requests that carried those secrets, because a
    /// server's error page may echo the request back. Values under 4 characters are left alone.
    pub(crate) fn scrub(mut self, secrets: &[&str]) -> Self {
        let clean = |text: &mut String| scrub_text(text, secrets);
        match &mut self {
            Error::OAuth(e) => {
                e.description.as_mut().map(clean);
                e.uri.as_mut().map(clean);
            }
            Error::Http {
                body_excerpt: t, ..
            }
            | Error::Transport { message: t, .. }
            | Error::UnexpectedRedirect { location: t, .. }
            | Error::InvalidResponse { reason: t, .. } => clean(t),
            _ => {}
        }
        self
    }

    /// `true` for failures worth retrying later unchanged (timeouts, transport, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Transport { .. } | Error::RateLimited { .. } => true,
            Error::Http { status, .. } => *status >= 500,
            Error::Store(e) => e.is_transient(),
            Error::OAuth(e) => matches!(
                e.code,
                OAuthErrorCode::ServerError | OAuthErrorCode::TemporarilyUnavailable
            ),
            _ => false,
        }
    }
}

/// `Result` with grantkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_cut_by_the_excerpt_leaves_no_prefix() {
        let secret = "s3cr3t-refresh-token-value";
        let page = format!("{}refresh_token={secret}&more", "x".repeat(180));
        let error = Error::Http {
            endpoint: Endpoint::Token,
            status: 400,
            body_excerpt: truncate(&page, 200),
        };
        let cut = error.to_string();
        assert!(
            cut.contains("refresh_token=s3cr3t"),
            "the test needs a cut secret: {cut}"
        );
        let scrubbed = error.scrub(&[secret]).to_string();
        assert!(scrubbed.contains("refresh_token=[redacted]…"), "{scrubbed}");
        assert!(!scrubbed.contains("s3c"), "{scrubbed}");
    }

    #[test]
    fn codes_round_trip() {
        for code in [
            "invalid_grant",
            "access_denied",
            "slow_down",
            "use_dpop_nonce",
        ] {
            assert_eq!(OAuthErrorCode::from_wire(code).as_str(), code);
        }
        assert_eq!(
            OAuthErrorCode::from_wire("weird_code"),
            OAuthErrorCode::Other("weird_code".into())
        );
    }

    #[test]
    fn display_says_what_to_do() {
        let e = Error::OAuth(OAuthError {
            endpoint: Endpoint::Token,
            code: OAuthErrorCode::InvalidGrant,
            description: Some("grant request is invalid".into()),
            uri: None,
            status: Some(400),
        });
        let text = e.to_string();
        assert!(text.contains("token endpoint"), "{text}");
        assert!(text.contains("invalid_grant"), "{text}");
        assert!(text.contains("authorize the user again"), "{text}");
        assert!(e.is_reauthorization_required());
    }

    #[test]
    fn truncate_strips_control_chars() {
        assert_eq!(truncate("a\nb\x1b[31m", 10), "ab[31m");
        assert_eq!(truncate("abcdef", 3), "abc…");
    }

    #[test]
    fn scrub_removes_raw_and_form_encoded_secrets() {
        let e = Error::Http {
            endpoint: Endpoint::Token,
            status: 400,
            body_excerpt: "bad request: refresh_token=rt%2Bsecret%3D&x=1 client=cs+secret".into(),
        };
        let text = e.scrub(&["rt+secret=", "cs+secret", "ab"]).to_string();
        assert!(
            !text.contains("rt%2Bsecret") && !text.contains("cs+secret"),
            "{text}"
        );
        assert_eq!(text.matches("[redacted]").count(), 2, "{text}");
    }

    #[test]
    fn rate_limit_message_names_delay() {
        let e = Error::RateLimited {
            endpoint: Endpoint::Token,
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(e.to_string().contains("after 7 s"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_transient());
    }
}
