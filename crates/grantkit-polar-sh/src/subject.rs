//! Typed userinfo: a Polar token acts for a user or an organization.

use grantkit::{Client, TokenSet, UserInfo};

/// Who a Polar token acts for, from the userinfo endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolarSubject {
    /// A user: `{"sub", "email"?, "email_verified"?}` (Polar sends no name for users).
    User {
        /// The user id.
        id: String,
        /// The email address, with the `email` scope.
        email: Option<String>,
        /// Whether Polar verified it.
        email_verified: Option<bool>,
    },
    /// An organization: `{"sub", "name"}`.
    Organization {
        /// The organization id.
        id: String,
        /// The organization's name.
        name: String,
    },
}

impl PolarSubject {
    /// Classifies a userinfo answer. The access token's prefix (`polar_at_o_` / `polar_at_u_`)
    /// decides when known; otherwise a `name` without an email means an organization.
    pub fn from_userinfo(info: &UserInfo, access_token: Option<&str>) -> Self {
        let organization = match access_token {
            Some(t) if t.starts_with("polar_at_o_") => true,
            Some(t) if t.starts_with("polar_at_u_") => false,
            _ => info.name.is_some() && info.email.is_none(),
        };
        if organization {
            PolarSubject::Organization {
                id: info.sub.clone(),
                name: info.name.clone().unwrap_or_default(),
            }
        } else {
            PolarSubject::User {
                id: info.sub.clone(),
                email: info.email.clone(),
                email_verified: info.email_verified,
            }
        }
    }

    /// The subject id.
    pub fn id(&self) -> &str {
        match self {
            PolarSubject::User { id, .. } | PolarSubject::Organization { id, .. } => id,
        }
    }
}

/// Calls Polar's userinfo endpoint and types the answer.
pub async fn userinfo(client: &Client, tokens: &TokenSet) -> grantkit::Result<PolarSubject> {
    let info = client.userinfo(tokens).await?;
    Ok(PolarSubject::from_userinfo(
        &info,
        Some(tokens.access_token().expose()),
    ))
}
