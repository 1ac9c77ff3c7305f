//! Polar's authorization parameters: `sub_type`, `sub`, `prompt`, typed scopes.

use grantkit::AuthorizationRequest;

use crate::scope::Scope;

/// Who the token acts for: the user, or one of their organizations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubType {
    /// A user.
    User,
    /// An organization (the merchant account).
    Organization,
}

impl SubType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubType::User => "user",
            SubType::Organization => "organization",
        }
    }

    /// Reads the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(SubType::User),
            "organization" => Some(SubType::Organization),
            _ => None,
        }
    }
}

/// The `prompt` values Polar accepts. `login` is refused by Polar, so it is not offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// No interaction; fails with `login_required`/`consent_required` if needed.
    None,
    /// Ask for consent again.
    Consent,
    /// Let the user pick the account or organization.
    SelectAccount,
}

impl Prompt {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::None => "none",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
        }
    }
}

/// Polar-specific parameters on grantkit's authorization request builder.
///
/// ```
/// use grantkit_polar_sh::{PolarAuthorizationExt, PolarSh, Prompt, Scope};
/// let polar = PolarSh::production();
/// let client = polar.client_builder(polar.provider()?, "polar_ci_x").build()?;
/// let (url, _) = client
///     .authorize()
///     .polar_scopes([Scope::OpenId, Scope::ProductsRead])
///     .organization("org-123")
///     .polar_prompt(Prompt::SelectAccount)
///     .build()?;
/// let q = url.query().unwrap();
/// assert!(q.contains("sub_type=organization") && q.contains("sub=org-123"));
/// assert!(q.contains("scope=openid+products%3Aread"));
/// # Ok::<(), grantkit::Error>(())
/// ```
pub trait PolarAuthorizationExt: Sized {
    /// Requests a token for a user or an organization (`sub_type`).
    fn sub_type(self, sub_type: SubType) -> Self;
    /// Requests a token for one organization (`sub_type=organization&sub=<id>`).
    fn organization(self, organization_id: &str) -> Self;
    /// The `prompt` parameter, restricted to what Polar accepts.
    fn polar_prompt(self, prompt: Prompt) -> Self;
    /// Replaces the requested scopes with typed ones.
    fn polar_scopes<I: IntoIterator<Item = Scope>>(self, scopes: I) -> Self;
}

impl PolarAuthorizationExt for AuthorizationRequest<'_> {
    fn sub_type(self, sub_type: SubType) -> Self {
        self.param("sub_type", sub_type.as_str())
    }

    fn organization(self, organization_id: &str) -> Self {
        self.sub_type(SubType::Organization)
            .param("sub", organization_id)
    }

    fn polar_prompt(self, prompt: Prompt) -> Self {
        self.prompt(prompt.as_str())
    }

    fn polar_scopes<I: IntoIterator<Item = Scope>>(self, scopes: I) -> Self {
        self.scopes(scopes.into_iter().map(String::from))
    }
}
