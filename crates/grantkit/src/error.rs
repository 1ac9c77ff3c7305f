//! Typed errors. Each variant says what went wrong and, where there is one, what to do about it.

use std::fmt;
use std::time::Duration;

/// Which endpoint a failed call was made to, so errors can say where things went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// The authorization endpoint (errors here arrive on the redirect back to the app).
    Authorization,
    /// The token endpoint (code exchange, refresh, client credentials).
    Token,
    /// The RFC 7009 revocation endpoint.
    Revocation,
    /// The RFC 7662 introspection endpoint.
    Introspection,
    /// The OpenID Connect userinfo endpoint.
    Userinfo,
    /// The discovery document (`/.well-known/...`).
    Discovery,
    /// The JSON Web Key Set of the provider.
    Jwks,
    /// The RFC 8628 device authorization endpoint.
    DeviceAuthorization,
    /// The RFC 9126 pushed authorization request (PAR) endpoint.
    PushedAuthorization,
    /// An endpoint a provider crate adds (user registration, client registration...).
    Api,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Authorization => "authorization",
            Endpoint::Token => "token",
            Endpoint::Revocation => "revocation",
            Endpoint::Introspection => "introspection",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Discovery => "discovery",
            Endpoint::Jwks => "JWKS",
            Endpoint::DeviceAuthorization => "device authorization",
            Endpoint::PushedAuthorization => "pushed authorization request",
            Endpoint::Api => "API",
        })
    }
}

/// Declares [`OAuthErrorCode`] from one table of variant ⇄ wire string, so the two directions
/// cannot drift apart.
macro_rules! oauth_error_codes {
    ($($variant:ident => $wire:literal,)*) => {
        /// The `error` code of an OAuth 2.0 error response (RFC 6749 §4.1.2.1 and §5.2, RFC 6750,
        /// OpenID Connect Core §3.1.2.6, RFC 8628, RFC 8707, RFC 9449, RFC 9126, RFC 9101). Codes
        /// this enum does not name arrive as [`OAuthErrorCode::Other`] with the server's text.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[allow(missing_docs)] // the variants are the RFC codes, named as the RFCs name them
        pub enum OAuthErrorCode {
            $($variant,)*
            /// A code outside the RFCs this crate knows; the server's text as sent.
            Other(String),
        }

        impl OAuthErrorCode {
            /// Maps the wire string to a code.
            pub fn from_wire(code: &str) -> Self {
                match code {
                    $($wire => Self::$variant,)*
                    other => Self::Other(truncate(other, 100)),
                }
            }

            /// The wire string of the code.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(s) => s,
                }
            }
        }
    };
}

oauth_error_codes! {
    InvalidRequest => "invalid_request",
    InvalidClient => "invalid_client",
    InvalidGrant => "invalid_grant",
    UnauthorizedClient => "unauthorized_client",
    UnsupportedGrantType => "unsupported_grant_type",
    UnsupportedResponseType => "unsupported_response_type",
    UnsupportedTokenType => "unsupported_token_type",
    InvalidScope => "invalid_scope",
    AccessDenied => "access_denied",
    ServerError => "server_error",
    TemporarilyUnavailable => "temporarily_unavailable",
    InteractionRequired => "interaction_required",
    LoginRequired => "login_required",
    ConsentRequired => "consent_required",
    AccountSelectionRequired => "account_selection_required",
    InvalidToken => "invalid_token",
    InsufficientScope => "insufficient_scope",
    AuthorizationPending => "authorization_pending",
    SlowDown => "slow_down",
    ExpiredToken => "expired_token",
    InvalidTarget => "invalid_target",
    InvalidDpopProof => "invalid_dpop_proof",
    UseDpopNonce => "use_dpop_nonce",
    InvalidRequestUri => "invalid_request_uri",
    InvalidRequestObject => "invalid_request_object",
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error the provider itself reported, in the RFC 6749 shape: on the redirect back to the app
/// (`error=access_denied`), in a JSON body (`{"error": "invalid_grant"}`), or in a
/// `WWW-Authenticate` header (`Bearer error="invalid_token"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// Which endpoint reported it.
    pub endpoint: Endpoint,
    /// The error code.
    pub code: OAuthErrorCode,
    /// The human-readable `error_description`, if the provider sent one (truncated to 300 chars).
    pub description: Option<String>,
    /// The `error_uri`, if the provider sent one.
    pub uri: Option<String>,
    /// The HTTP status it came with; `None` for errors on the authorization redirect.
    pub status: Option<u16>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} endpoint answered `{}`", self.endpoint, self.code)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        if let Some(hint) = hint_for(&self.code) {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

fn hint_for(code: &OAuthErrorCode) -> Option<&'static str> {
    Some(match code {
        OAuthErrorCode::InvalidClient => {
            "check the client id, the secret and the client authentication method registered for it"
        }
        OAuthErrorCode::InvalidGrant => {
            "the code or refresh token is expired, used or revoked: authorize the user again"
        }
        OAuthErrorCode::AccessDenied => "the user or the provider declined the authorization",
        OAuthErrorCode::InvalidScope => "ask only for scopes the client is registered for",
        OAuthErrorCode::InvalidToken => "the access token is expired or revoked: refresh it",
        OAuthErrorCode::ExpiredToken => {
            "the device code expired before the user approved it: start the device login again"
        }
        OAuthErrorCode::InvalidDpopProof => {
            "the DPoP proof was refused: a token bound to one key cannot be used with another"
        }
        OAuthErrorCode::InvalidRequestUri => {
            "the pushed request expired or was used already: start the authorization again"
        }
        _ => return None,
    })
}

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

/// Why grantkit refused to send a call ([`Error::Refused`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The provider's preset says it refuses public clients at this endpoint (Polar.sh's
    /// revocation endpoint, for one).
    #[error("provider `{provider}` does not let public clients call it; use a confidential client, or forget the tokens locally")]
    PublicClient {
        /// The provider's name.
        provider: String,
    },
    /// The provider's metadata (`revocation_endpoint_auth_methods_supported`,
    /// `introspection_endpoint_auth_methods_supported`) does not list this client's
    /// authentication method: the provider would answer `invalid_client`.
    #[error("{}", auth_method_words(*.method, .accepted))]
    AuthMethod {
        /// How this client authenticates.
        method: crate::provider::AuthMethod,
        /// What the endpoint accepts.
        accepted: Vec<crate::provider::AuthMethod>,
    },
    /// The provider or the client's registration requires pushed authorization requests
    /// (RFC 9126), and the request was built without pushing.
    #[error("pushed authorization requests (PAR) are required; use `AuthorizationRequest::build_async().await`, which pushes")]
    PushRequired,
    /// The access token is DPoP-bound (`token_type: DPoP`) and this client has no DPoP key to
    /// prove possession with.
    #[error("the access token is DPoP-bound but this client has no DPoP key; build it with `ClientBuilder::dpop` (feature `dpop`) and the key the token was bound to")]
    NoDpopKey,
}

fn auth_method_words(
    method: crate::provider::AuthMethod,
    accepted: &[crate::provider::AuthMethod],
) -> String {
    let names: Vec<&str> = accepted.iter().map(|m| m.as_str()).collect();
    let accepted = if names.is_empty() {
        "none of the methods grantkit implements".to_owned()
    } else {
        names.join(", ")
    };
    match method {
        crate::provider::AuthMethod::None => format!(
            "it accepts only confidential clients ({accepted}) and this client is public (`none`)"
        ),
        m => format!("it accepts {accepted}, not {}", m.as_str()),
    }
}

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
    IdToken(crate::oidc::IdTokenError),
    /// A discovery document names another issuer than the one it was fetched for.
    #[error("the discovery document names issuer `{found}` but `{expected}` was expected; if the provider serves metadata from another host, set the expected issuer explicitly")]
    IssuerMismatch {
        /// The issuer expected.
        expected: String,
        /// The issuer in the document.
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
    /// A background task this call waited for was stopped before it finished, most often
    /// because the Tokio runtime is shutting down. Nothing was lost; try again on a live runtime.
    #[error("{0} was cancelled before it finished (is the Tokio runtime shutting down?)")]
    Cancelled(&'static str),
    /// A token store failed, holds nothing, or refused an unsafe file (see [`StoreError`]).
    ///
    /// [`StoreError`]: crate::store::StoreError
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn retry_words(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("after {} s", d.as_secs_f64().ceil() as u64),
        None => "later".to_owned(),
    }
}

impl Error {
    /// The OAuth error, if the provider reported one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Error::OAuth(e) => Some(e),
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

/// An excerpt cut by [`truncate`] may end in the first characters of a secret: they go too. Three
/// characters or more count; fewer would match by chance and tell nothing.
fn redact_cut_start(text: &mut String, secret: &str) {
    let Some(kept) = text.strip_suffix('…') else {
        return;
    };
    let start = (3..secret.len())
        .rev()
        .filter(|&k| secret.is_char_boundary(k))
        .find(|&k| kept.ends_with(&secret[..k]));
    if let Some(k) = start {
        *text = format!("{}[redacted]…", &kept[..kept.len() - k]);
    }
}

/// Replaces every secret in `text` (raw and form-encoded; shorter than 4 characters is not a
/// secret worth a false positive), and the first characters of one cut at the end of `text`.
pub(crate) fn scrub_text(text: &mut String, secrets: &[&str]) {
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [*secret, encoded.as_str()] {
            if text.contains(form) {
                *text = text.replace(form, "[redacted]");
            }
            redact_cut_start(text, form);
        }
    }
}

/// Cuts a provider-supplied string to `max` characters and drops control characters, so a
/// hostile server cannot flood logs or forge log lines.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

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
