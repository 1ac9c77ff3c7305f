//! Typed userinfo: a Polar token acts for a user (or, legacy, an organization).

use grantkit::{Client, Error, TokenSet, UserInfo};

use crate::introspection::{OrganizationAccess, PolarIntrospection};

/// Who a Polar token acts for, from the userinfo endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolarSubject {
    /// A user: `{"sub", "email"?, "email_verified"?}` (Polar sends no name for users). Every
    /// token Polar issues now is a user token, also after `sub_type=organization`.
    User {
        /// The user id.
        id: String,
        /// The email address, with the `email` scope.
        email: Option<String>,
        /// Whether Polar verified it.
        email_verified: Option<bool>,
    },
    /// A legacy organization token (`polar_at_o_…`, issued before mid-2026): `{"sub", "name"}`.
    /// Its next refresh may turn it into a [`PolarSubject::User`] token.
    Organization {
        /// The organization id.
        id: String,
        /// The organization's slug (Polar's `name`), sent only with the `openid` scope.
        name: Option<String>,
    },
}

impl PolarSubject {
    /// Classifies a userinfo answer. The access token's prefix (`polar_at_o_` / `polar_at_u_`)
    /// decides when known; otherwise a `name` without an email means a legacy organization.
    pub fn from_userinfo(info: &UserInfo, access_token: Option<&str>) -> Self {
        let organization = match access_token {
            Some(t) if t.starts_with("polar_at_o_") => true,
            Some(t) if t.starts_with("polar_at_u_") => false,
            _ => info.name.is_some() && info.email.is_none(),
        };
        if organization {
            PolarSubject::Organization {
                id: info.sub.clone(),
                name: info.name.clone(),
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
///
/// A legacy organization token refreshes into a user token, while grantkit keeps the earlier ID
/// token (Polar sends none on refresh), whose `sub` is the organization's: userinfo's `sub` then
/// differs. That difference is accepted only when introspection proves the new token is a user
/// token down-scoped to exactly that organization (confidential clients; a public client, which
/// cannot introspect, gets [`Error::UserinfoSubjectMismatch`]).
pub async fn userinfo(client: &Client, tokens: &TokenSet) -> grantkit::Result<PolarSubject> {
    let info = match client.userinfo(tokens).await {
        Err(Error::UserinfoSubjectMismatch) => {
            if !migrated_from_legacy(client, tokens).await? {
                return Err(Error::UserinfoSubjectMismatch);
            }
            // The stale ID token is the only thing in the way; the access token alone is enough.
            let access_only = TokenSet::from_access_token(tokens.access_token().clone());
            client.userinfo(&access_only).await?
        }
        other => other?,
    };
    Ok(PolarSubject::from_userinfo(
        &info,
        Some(tokens.access_token().expose()),
    ))
}

/// Whether `tokens` is a user token that a refresh made out of the legacy organization token
/// the kept ID token was issued for. Only introspection can prove it: a client that may not
/// introspect (a public one) gets `false`, so the mismatch stands; an introspection that failed
/// (rate limit, 5xx, transport) is that error, not a mismatch the caller would act on wrongly.
async fn migrated_from_legacy(client: &Client, tokens: &TokenSet) -> grantkit::Result<bool> {
    let Some(old_sub) = tokens.id_token_claims().map(|c| c.sub.clone()) else {
        return Ok(false);
    };
    if !tokens.access_token().expose().starts_with("polar_at_u_") {
        return Ok(false);
    }
    let answer = match client.introspect(tokens.access_token(), None).await {
        Ok(answer) => answer,
        Err(Error::Refused { .. } | Error::MissingEndpoint { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let answer = PolarIntrospection::from(answer);
    Ok(answer.active()
        && answer.inner.client_id.as_deref() == Some(client.client_id())
        && answer.sub_type == Some(crate::SubType::User)
        && answer.organization_access() == OrganizationAccess::Only(vec![old_sub]))
}
