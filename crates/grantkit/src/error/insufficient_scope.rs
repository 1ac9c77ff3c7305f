//! [`InsufficientScope`]: a resource server wants scopes the access token lacks (step-up).

use std::fmt;

/// A resource server refused the access token because it lacks scopes (RFC 6750 §3.1:
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`, normally on a `403`).
///
/// Refreshing cannot help (a refresh never widens a grant), so the request is not retried: the
/// user must authorize again, asking for [`scopes_for_step_up`](InsufficientScope::scopes_for_step_up),
/// the scopes already granted and those the server named. The Model Context Protocol's
/// authorization spec calls this the step-up authorization flow.
///
/// ```
/// use grantkit::error::InsufficientScope;
///
/// // What `AuthorizedClient` returns for `403` with
/// // `WWW-Authenticate: Bearer error="insufficient_scope", scope="files:read files:write"`
/// // to a token granted `openid files:read`:
/// let e = InsufficientScope::new(403, ["files:read", "files:write"], ["openid", "files:read"]);
/// assert_eq!(e.required(), ["files:read", "files:write"]);
/// assert_eq!(e.scopes_for_step_up(), ["openid", "files:read", "files:write"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientScope {
    status: u16,
    required: Vec<String>,
    granted: Vec<String>,
    description: Option<String>,
    resource_metadata: Option<String>,
}

impl InsufficientScope {
    /// The refusal of a token granted `granted`, by a server that named `required`.
    pub fn new<R, G>(status: u16, required: R, granted: G) -> Self
    where
        R: IntoIterator,
        R::Item: Into<String>,
        G: IntoIterator,
        G::Item: Into<String>,
    {
        Self {
            status,
            required: required.into_iter().map(Into::into).collect(),
            granted: granted.into_iter().map(Into::into).collect(),
            description: None,
            resource_metadata: None,
        }
    }

    /// Adds the challenge's `error_description` and `resource_metadata`, cleaned and cut.
    pub(crate) fn with_details(
        mut self,
        description: Option<String>,
        resource_metadata: Option<String>,
    ) -> Self {
        self.description = description.map(|d| super::truncate(&d, 300));
        self.resource_metadata = resource_metadata.map(|u| super::truncate(&u, 2000));
        self
    }

    /// The HTTP status it came with (`403`, or `401` from some servers).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The scopes the resource server named (`scope="..."`); empty when it named none, and
    /// then only the server's documentation says what to ask for.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// The scopes of the access token that was refused, as its token set recorded them.
    pub fn granted(&self) -> &[String] {
        &self.granted
    }

    /// The server's `error_description`, cleaned and cut.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The challenge's `resource_metadata` URL (RFC 9728 §5.1), when the server sent one.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    /// What a new authorization should ask for: the granted scopes, then the required ones
    /// not among them. Asking for the required scopes alone would lose what the user had
    /// granted (the MCP spec's step-up flow asks for the union too).
    pub fn scopes_for_step_up(&self) -> Vec<String> {
        self.union_with(self.granted.iter().map(String::as_str))
    }

    /// `granted` followed by the required scopes not among them, without duplicates: for
    /// scopes known elsewhere (a stored [`TokenSet`](crate::TokenSet)'s `scopes()`).
    pub fn union_with<'a>(&self, granted: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut union: Vec<String> = Vec::new();
        let granted = granted.into_iter().map(str::to_owned);
        for scope in granted.chain(self.required.iter().cloned()) {
            if !union.contains(&scope) {
                union.push(scope);
            }
        }
        union
    }
}

impl fmt::Display for InsufficientScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the resource server answered HTTP {} `insufficient_scope`",
            self.status
        )?;
        if !self.required.is_empty() {
            write!(f, ", needing `{}`", self.required.join(" "))?;
        }
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        f.write_str(" (refreshing cannot widen a grant: authorize the user again with `scopes_for_step_up()`)")
    }
}

impl std::error::Error for InsufficientScope {}
