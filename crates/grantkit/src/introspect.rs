//! RFC 7662 token introspection.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{Endpoint, Result};
use crate::http::parse_json;
use crate::revoke::TokenTypeHint;
use crate::secret::Secret;

/// The answer of an introspection endpoint. Only `active` is guaranteed; an inactive token
/// carries nothing else. Provider-specific members stay in [`Introspection::extra`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is currently valid.
    pub active: bool,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// A human-readable identifier of the resource owner.
    #[serde(default)]
    pub username: Option<String>,
    /// The token's type.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issue time, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: Option<i64>,
    /// The subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// The issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Audiences, from a string or an array.
    #[serde(default, deserialize_with = "string_or_array")]
    pub aud: Vec<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn string_or_array<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    })
}

impl Client {
    /// Asks the provider whether `token` is active, and what it grants.
    pub async fn introspect(
        &self,
        token: &Secret,
        hint: Option<TokenTypeHint>,
    ) -> Result<Introspection> {
        self.check_may_call(Endpoint::Introspection)?;
        let mut form = vec![("token", token.expose().to_owned())];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint.as_str().to_owned()));
        }
        let response = self
            .post_form(Endpoint::Introspection, form, &[], false)
            .await?;
        parse_json(Endpoint::Introspection, response.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aud_string_or_array_and_extras() {
        let a: Introspection = serde_json::from_str(
            r#"{"active":true,"aud":"x","sub_type":"user","organizations":["o1"]}"#,
        )
        .unwrap();
        assert_eq!(a.aud, ["x"]);
        assert_eq!(a.extra["sub_type"], "user");
        let b: Introspection = serde_json::from_str(r#"{"active":true,"aud":["x","y"]}"#).unwrap();
        assert_eq!(b.aud, ["x", "y"]);
        let c: Introspection = serde_json::from_str(r#"{"active":false}"#).unwrap();
        assert!(!c.active && c.aud.is_empty());
    }
}
