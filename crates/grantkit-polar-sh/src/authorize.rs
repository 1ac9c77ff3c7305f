//! Polar's authorization parameters: `sub_type`, `prompt`, typed scopes.

use grantkit::AuthorizationRequest;

use crate::scope::Scope;

/// What a token is asked for. Since mid-2026 Polar issues only *user* tokens: `Organization`
/// asks for a user token down-scoped to the **one** organization the user picks on the consent
/// page (read it back from [`PolarIntrospection::organization_access`](crate::PolarIntrospection::organization_access)).
/// Legacy organization tokens (`polar_at_o_…`) issued earlier still carry `Organization`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubType {
    /// A user token reaching all of the user's organizations.
    User,
    /// On a request: a user token limited to one organization picked by the user. On a legacy
    /// token: an organization token.
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

/// The `prompt` values Polar acts on. `login` makes Polar's consent page loop, so it is not
/// offered; other values are ignored by Polar. Any explicit prompt shows the consent page.
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
/// use grantkit_polar_sh::{PolarAuthorizationExt, PolarSh, Scope, SubType};
/// let polar = PolarSh::production();
/// let client = polar.client_builder(polar.provider()?, "polar_ci_x").build()?;
/// let (url, _) = client
///     .authorize()
///     .polar_scopes([Scope::OpenId, Scope::ProductsRead])
///     .sub_type(SubType::Organization)
///     .build()?;
/// let q = url.query().unwrap();
/// assert!(q.contains("sub_type=organization") && q.contains("prompt=consent"));
/// assert!(!q.contains("&sub="));
/// assert!(q.contains("scope=openid+products%3Aread"));
/// # Ok::<(), grantkit::Error>(())
/// ```
pub trait PolarAuthorizationExt: Sized {
    /// Sends `sub_type`. [`SubType::Organization`] also needs the consent page: without it nobody
    /// picks the organization, and Polar answers a user who consented before with a 400 page
    /// instead of a redirect. So it sends `prompt=consent` unless a prompt that shows the page
    /// (`consent`, `select_account`: Polar compares the prompt only with `none` and `login`) was
    /// set before; `none` and `login` are replaced, since with them Polar could only fail. A later
    /// [`polar_prompt`](Self::polar_prompt) replaces the prompt.
    fn sub_type(self, sub_type: SubType) -> Self;
    /// Asks for a user token limited to one organization: the same as
    /// `sub_type(SubType::Organization)`. The id is not sent: Polar never reads the legacy `sub`
    /// parameter, and the user picks the organization on the consent page (check which one with
    /// [`PolarIntrospection::organization_access`](crate::PolarIntrospection::organization_access)).
    #[deprecated(
        note = "Polar ignores the organization id; use `sub_type(SubType::Organization)` and check the picked organization by introspection"
    )]
    fn organization(self, organization_id: &str) -> Self;
    /// The `prompt` parameter, restricted to what Polar accepts.
    fn polar_prompt(self, prompt: Prompt) -> Self;
    /// Replaces the requested scopes with typed ones.
    fn polar_scopes<I: IntoIterator<Item = Scope>>(self, scopes: I) -> Self;
}

impl PolarAuthorizationExt for AuthorizationRequest<'_> {
    fn sub_type(self, sub_type: SubType) -> Self {
        let request = self.param("sub_type", sub_type.as_str());
        match sub_type {
            SubType::Organization => match request.prompt_value() {
                // `login` makes Polar's page loop and `none` can only fail here.
                None | Some("none" | "login") => request.prompt(Prompt::Consent.as_str()),
                Some(_) => request,
            },
            SubType::User => request,
        }
    }

    fn organization(self, _organization_id: &str) -> Self {
        self.sub_type(SubType::Organization)
    }

    fn polar_prompt(self, prompt: Prompt) -> Self {
        self.prompt(prompt.as_str())
    }

    fn polar_scopes<I: IntoIterator<Item = Scope>>(self, scopes: I) -> Self {
        self.scopes(scopes.into_iter().map(String::from))
    }
}
