//! Errors the provider itself reported, in the RFC 6749 shape, and their codes.

use std::fmt;

use super::endpoint::Endpoint;
use super::text::truncate;

/// Declares [`OAuthErrorCode`] from one table of variant ⇄ wire string, so the two directions
/// cannot drift apart.
macro_rules! oauth_error_codes {
    ($($variant:ident => $wire:literal,)*) => {
        /// The `error` code of an OAuth 2.0 error response (RFC 6749 §4.1.2.1 and §5.2, RFC 6750,
        /// OpenID Connect Core §3.1.2.6, RFC 8628, RFC 8707, RFC 9449, RFC 9126, RFC 9101, RFC 7591). Codes
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
    InvalidRedirectUri => "invalid_redirect_uri",
    InvalidClientMetadata => "invalid_client_metadata",
    InvalidSoftwareStatement => "invalid_software_statement",
    UnapprovedSoftwareStatement => "unapproved_software_statement",
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
        OAuthErrorCode::InvalidRedirectUri => {
            "a redirect URI was refused: check its scheme and host against the provider's rules"
        }
        OAuthErrorCode::InvalidClientMetadata => {
            "a registration member was refused: the description names it"
        }
        _ => return None,
    })
}
