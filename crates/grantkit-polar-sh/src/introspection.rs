//! Polar's introspection answer, typed.

use grantkit::Introspection;
use serde_json::Value;

use crate::authorize::SubType;

/// An introspection answer with Polar's members typed: `sub_type` and `organizations`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PolarIntrospection {
    /// The generic RFC 7662 fields (and any others in `extra`).
    pub inner: Introspection,
    /// Whether the token acts for a user or an organization.
    pub sub_type: Option<SubType>,
    /// The organizations the token is down-scoped to; empty means all of the user's (see
    /// [`PolarIntrospection::organization_access`]).
    pub organizations: Vec<String>,
}

/// Which organizations a Polar token reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrganizationAccess {
    /// All of the user's organizations (Polar's empty `organizations` list).
    All,
    /// Only these; one after `sub_type=organization`.
    Only(Vec<String>),
}

impl From<Introspection> for PolarIntrospection {
    fn from(inner: Introspection) -> Self {
        let sub_type = inner
            .extra
            .get("sub_type")
            .and_then(Value::as_str)
            .and_then(SubType::parse);
        let organizations = inner
            .extra
            .get("organizations")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.as_str().or_else(|| o.get("id").and_then(Value::as_str)))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            inner,
            sub_type,
            organizations,
        }
    }
}

impl PolarIntrospection {
    /// Whether the token is active.
    pub fn active(&self) -> bool {
        self.inner.active
    }

    /// Which organizations the token reaches, reading Polar's `[]` as "all of them".
    pub fn organization_access(&self) -> OrganizationAccess {
        if self.organizations.is_empty() {
            OrganizationAccess::All
        } else {
            OrganizationAccess::Only(self.organizations.clone())
        }
    }
}
