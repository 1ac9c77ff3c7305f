//! Tokens without an OAuth flow: personal and organization access tokens (never expire, no
//! refresh), and customer / member sessions (expire, no refresh).

use std::time::{Duration, SystemTime};

use grantkit::{Endpoint, Secret, TokenSet};
use serde::Deserialize;

/// What kind of static Polar token a string looks like. Recognised by prefix only; the prefix
/// is a hint, never a validation (Polar may change its shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaticTokenKind {
    /// `polar_pat_…`: acts for the user who created it.
    Personal,
    /// `polar_oat_…`: acts for one organization.
    Organization,
    /// `polar_cst_…`: a customer session for `/v1/customer-portal/*`; it **expires** (use
    /// [`session_token`] or [`CustomerSession::token_set`] to keep the expiry).
    CustomerSession,
    /// `polar_mst_…`: a member session for the customer portal; it expires too.
    MemberSession,
    /// No known prefix; used as given.
    Unrecognised,
}

impl StaticTokenKind {
    /// The kind `token` looks like.
    pub fn of(token: &str) -> Self {
        let token = token.trim();
        [
            ("polar_pat_", StaticTokenKind::Personal),
            ("polar_oat_", StaticTokenKind::Organization),
            ("polar_cst_", StaticTokenKind::CustomerSession),
            ("polar_mst_", StaticTokenKind::MemberSession),
        ]
        .into_iter()
        .find(|(prefix, _)| token.starts_with(prefix))
        .map_or(StaticTokenKind::Unrecognised, |(_, kind)| kind)
    }
}

/// Wraps a personal or organization access token as a never-expiring, never-refreshed
/// [`TokenSet`], usable wherever an OAuth token set is. A customer or member session expires:
/// wrap it with [`session_token`] instead.
///
/// ```
/// use grantkit_polar_sh::{static_token, StaticTokenKind};
/// let (tokens, kind) = static_token("polar_oat_abc123");
/// assert_eq!(kind, StaticTokenKind::Organization);
/// assert!(tokens.refresh_token().is_none() && tokens.expires_at().is_none());
/// ```
pub fn static_token(token: &str) -> (TokenSet, StaticTokenKind) {
    (
        TokenSet::from_access_token(Secret::new(token.trim())),
        StaticTokenKind::of(token),
    )
}

/// Wraps a customer or member session token as a [`TokenSet`] that expires at `expires_at` and
/// has no refresh token: when it expires, create a new session.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let tokens = grantkit_polar_sh::session_token("polar_cst_x", SystemTime::now() + Duration::from_secs(600))?;
/// assert!(tokens.expires_within(Duration::from_secs(601)));
/// assert!(tokens.refresh_token().is_none());
/// assert!(grantkit_polar_sh::session_token(" ", SystemTime::now()).is_err());
/// # Ok::<(), grantkit::Error>(())
/// ```
///
/// An empty token is an error, never a token set that does not expire.
pub fn session_token(token: &str, expires_at: SystemTime) -> grantkit::Result<TokenSet> {
    let now = SystemTime::now();
    let expires_in = expires_at
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let body = serde_json::json!({
        "access_token": token.trim(), "token_type": "Bearer", "expires_in": expires_in,
    });
    TokenSet::from_response(body.to_string().as_bytes(), now).map_err(|reason| {
        grantkit::Error::InvalidResponse {
            endpoint: grantkit::Endpoint::Api,
            reason: format!("not a usable session token: {reason}"),
        }
    })
}

/// The answer of `POST /v1/customer-sessions/`: a customer-portal token that expires.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct CustomerSession {
    /// `polar_cst_…` (redacted in `Debug`).
    pub token: Secret,
    /// When it expires, RFC 3339 as sent.
    pub expires_at: String,
    /// The portal page that logs the customer in with this session. It carries the token in
    /// its query, so it is a secret too.
    #[serde(default)]
    pub customer_portal_url: Option<Secret>,
}

impl CustomerSession {
    /// The session as an expiring, non-refreshable [`TokenSet`] for `/v1/customer-portal/*`.
    pub fn token_set(&self) -> grantkit::Result<TokenSet> {
        let expires_at = chrono::DateTime::parse_from_rfc3339(self.expires_at.trim())
            .ok()
            .and_then(|t| u64::try_from(t.timestamp()).ok())
            .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .ok_or_else(|| grantkit::Error::InvalidResponse {
                endpoint: Endpoint::Api,
                reason: format!(
                    "the customer session's `expires_at` is not an RFC 3339 time: {}",
                    grantkit::http::clean_text(&self.expires_at, 60)
                ),
            })?;
        session_token(self.token.expose(), expires_at)
    }
}
