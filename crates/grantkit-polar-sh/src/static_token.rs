//! Personal and organization access tokens: plain Bearer tokens, no OAuth flow, no refresh.

use grantkit::{Secret, TokenSet};

/// What kind of static Polar token a string looks like. Recognised by prefix only; the prefix
/// is a hint, never a validation (Polar may change its shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticTokenKind {
    /// `polar_pat_…`: acts for the user who created it.
    Personal,
    /// `polar_oat_…`: acts for one organization.
    Organization,
    /// Neither prefix; used as given.
    Unrecognised,
}

/// Wraps a personal or organization access token as a never-expiring, never-refreshed
/// [`TokenSet`], usable wherever an OAuth token set is.
///
/// ```
/// use grantkit_polar_sh::{static_token, StaticTokenKind};
/// let (tokens, kind) = static_token("polar_oat_abc123");
/// assert_eq!(kind, StaticTokenKind::Organization);
/// assert!(tokens.refresh_token().is_none() && tokens.expires_at().is_none());
/// ```
pub fn static_token(token: &str) -> (TokenSet, StaticTokenKind) {
    let kind = if token.starts_with("polar_pat_") {
        StaticTokenKind::Personal
    } else if token.starts_with("polar_oat_") {
        StaticTokenKind::Organization
    } else {
        StaticTokenKind::Unrecognised
    };
    (TokenSet::from_access_token(Secret::new(token.trim())), kind)
}
