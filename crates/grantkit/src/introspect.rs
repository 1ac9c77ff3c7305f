//! RFC 7662 token introspection.

use serde::Deserialize;
use serde_json::{Map, Value};

use reqwest::header::HeaderValue;

use crate::client::Client;
use crate::error::{Endpoint, Error, Result, SignedResponseError};
use crate::http::parse_json;
use crate::revoke::{BackChannelForm, TokenTypeHint};
use crate::secret::Secret;
use crate::signed_response::{has_media_type, verify, Kind, INTROSPECTION_JWT};

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

impl Introspection {
    /// The thumbprint of the certificate the token is bound to (`cnf.x5t#S256`, RFC 8705
    /// §3.2), when the answer names one: a resource server compares it with the client
    /// certificate the token came with.
    ///
    /// ```
    /// let info: grantkit::Introspection =
    ///     serde_json::from_str(r#"{"active":true,"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}"#)
    ///         .unwrap();
    /// assert_eq!(
    ///     info.certificate_thumbprint(),
    ///     Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2")
    /// );
    /// ```
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        crate::mtls::bound_thumbprint(&self.extra)
    }
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
        let mut request = self.introspection_request(token);
        request.hint = hint;
        request.send().await
    }

    /// [`introspect`](Client::introspect) as a request to add parameters to (a vendor's, or
    /// `resource`).
    pub fn introspection_request<'a>(&'a self, token: &'a Secret) -> IntrospectionRequest<'a> {
        IntrospectionRequest {
            form: BackChannelForm::new(self, token),
            hint: None,
            signed: false,
        }
    }
}

static ACCEPT_INTROSPECTION_JWT: HeaderValue = HeaderValue::from_static(INTROSPECTION_JWT);

/// An introspection request (RFC 7662) with extra parameters, made by
/// [`Client::introspection_request`].
#[derive(Debug)]
#[must_use = "an introspection does nothing until it is sent"]
pub struct IntrospectionRequest<'a> {
    form: BackChannelForm<'a>,
    hint: Option<TokenTypeHint>,
    signed: bool,
}

impl IntrospectionRequest<'_> {
    /// Asks for a signed answer (RFC 9701: `Accept: application/token-introspection+jwt`) and
    /// accepts no other: the answer must be a JWT signed with a key of the issuer's JWKS
    /// (`alg: none` and HMAC refused), typed `token-introspection+jwt`, with `iss` the issuer,
    /// `aud` this client, an `iat` not in the future and a `token_introspection` object, whose
    /// members become the [`Introspection`]. Anything else is
    /// [`Error::SignedResponse`]; a plain JSON answer is
    /// [`SignedResponseError::NotSigned`]. The client must be registered with
    /// `introspection_signed_response_alg` and the provider must have an issuer and a JWKS
    /// URI. Without this, a signed answer that comes anyway is verified all the same.
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client, token: grantkit::Secret) -> grantkit::Result<()> {
    /// let info = client.introspection_request(&token).signed().send().await?;
    /// if info.active {
    ///     println!("for {:?}, scope {:?}", info.sub, info.scope);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn signed(mut self) -> Self {
        self.signed = true;
        self
    }

    /// Which kind of token this is (`token_type_hint`).
    pub fn hint(mut self, hint: TokenTypeHint) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Adds a parameter; `token`, `token_type_hint` and client authentication are refused
    /// when sent ([`Refusal::ReservedParameter`](crate::error::Refusal::ReservedParameter)).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.form.param(name.into(), value.into());
        self
    }

    /// Sends the request and reads the answer.
    ///
    /// An answer about a token issued to this client (its `client_id` is ours) that binds the
    /// token to another certificate than the one this client presents (`cnf.x5t#S256`, RFC
    /// 8705 §3.2) is [`MtlsError::CertificateMismatch`](crate::error::MtlsError::CertificateMismatch)
    /// (or [`NoIdentity`](crate::error::MtlsError::NoIdentity) without a certificate). About
    /// another client's token it is returned as is: compare
    /// [`Introspection::certificate_thumbprint`] with the certificate that presented it.
    pub async fn send(self) -> Result<Introspection> {
        let client = self.form.client();
        let accept = self.signed.then_some(&ACCEPT_INTROSPECTION_JWT);
        let response = self
            .form
            .post_accepting(Endpoint::Introspection, self.hint, accept)
            .await?;
        let info = if has_media_type(&response, INTROSPECTION_JWT) {
            read_signed(client, response.body()).await?
        } else if self.signed {
            return Err(SignedResponseError::NotSigned {
                endpoint: Endpoint::Introspection,
            }
            .into());
        } else {
            parse_json(Endpoint::Introspection, response.body())?
        };
        if info.client_id.as_deref() == Some(client.client_id()) {
            crate::mtls::check_binding(client.tls_identity(), &info.extra)?;
        }
        Ok(info)
    }
}

/// The members of a verified JWT introspection answer's `token_introspection` claim.
async fn read_signed(client: &Client, body: &[u8]) -> Result<Introspection> {
    let mut claims = verify(client, Kind::Introspection, body).await?;
    let members = claims.remove("token_introspection").unwrap_or_default();
    // The serde message is not quoted: it could echo a member's value.
    serde_json::from_value(members).map_err(|_| Error::InvalidResponse {
        endpoint: Endpoint::Introspection,
        reason: "the `token_introspection` claim is not an RFC 7662 response".into(),
    })
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
