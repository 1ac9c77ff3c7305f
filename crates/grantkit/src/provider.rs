//! A provider is a value: its endpoints, how clients authenticate, and its declared quirks.

use std::sync::Arc;

use url::Url;

use crate::address::{host_class, AddressPolicy};
pub use crate::auth_method::AuthMethod;
use crate::error::{Endpoint, Error, Result};
use crate::oidc::metadata::ProviderMetadata;

/// Deviations from the RFCs that a provider declares, implemented once in the core.
///
/// A provider crate sets these; the core never asks *which* provider it talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quirks {
    /// Whether the provider accepts PKCE parameters. Default `true`; PKCE S256 is then sent on
    /// every authorization request, also by confidential clients.
    pub pkce: bool,
    /// Whether the provider issues refresh tokens at all. When `false`, an expired token means
    /// the user must authorize again, and no refresh is attempted.
    pub refresh_tokens: bool,
    /// Whether revocation and introspection accept public clients. Some providers (Polar.sh)
    /// require client authentication there; with `false`, a public client gets a typed
    /// configuration error instead of an HTTP 401.
    pub public_clients_can_revoke: bool,
    /// Members the provider adds to its token responses (`x_user_id`...), with their kind.
    /// Default: none, and unknown members are kept in [`TokenSet::extra`](crate::TokenSet::extra)
    /// unchecked. A declared member that is present must have its kind in every token response;
    /// a required one must be present in the response to a code exchange, or the exchange fails
    /// with [`Error::InvalidResponse`] instead of handing out tokens the application cannot use.
    pub token_fields: Vec<TokenField>,
}

impl Default for Quirks {
    fn default() -> Self {
        Self {
            pkce: true,
            refresh_tokens: true,
            public_clients_can_revoke: true,
            token_fields: Vec::new(),
        }
    }
}

/// The kind of value a declared token-response member holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenFieldKind {
    /// A non-negative integer, sent as a JSON number or as a string of digits (`10579` or
    /// `"10579"`); read it with [`TokenSet::extra_u64`](crate::TokenSet::extra_u64).
    Integer,
    /// A JSON string.
    String,
}

/// A member a provider adds to its token responses beyond RFC 6749's, declared in
/// [`Quirks::token_fields`] so the core checks it once for every application.
///
/// ```
/// use grantkit::provider::{Quirks, TokenField};
///
/// // `Quirks` is non-exhaustive: start from the defaults, change what differs.
/// let mut quirks = Quirks::default();
/// quirks.token_fields = vec![TokenField::integer("x_user_id")];
/// assert!(quirks.token_fields[0].is_required());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenField {
    name: String,
    kind: TokenFieldKind,
    required: bool,
}

impl TokenField {
    /// A required integer member (number or string of digits).
    pub fn integer(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: TokenFieldKind::Integer,
            required: true,
        }
    }

    /// A required string member.
    pub fn string(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: TokenFieldKind::String,
            required: true,
        }
    }

    /// Makes the member optional: checked only when present.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// The member's name in the JSON response.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind of value it holds.
    pub fn kind(&self) -> TokenFieldKind {
        self.kind
    }

    /// Whether a code exchange's response must carry it.
    pub fn is_required(&self) -> bool {
        self.required
    }
}

/// Everything grantkit needs to know about an authorization server.
///
/// Build one with [`Provider::builder`], or get one from a provider crate's presets.
///
/// ```
/// use grantkit::{AuthMethod, Provider};
///
/// let provider = Provider::builder("example")
///     .issuer("https://login.example.com")
///     .authorization_endpoint("https://login.example.com/authorize")
///     .token_endpoint("https://login.example.com/token")
///     .revocation_endpoint("https://login.example.com/revoke")
///     .auth_methods([AuthMethod::ClientSecretBasic, AuthMethod::None])
///     .build()?;
/// assert_eq!(provider.name(), "example");
/// # Ok::<(), grantkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Provider {
    name: String,
    issuer: Option<String>,
    authorization_endpoint: Option<Url>,
    token_endpoint: Option<Url>,
    revocation_endpoint: Option<Url>,
    introspection_endpoint: Option<Url>,
    userinfo_endpoint: Option<Url>,
    jwks_uri: Option<Url>,
    device_authorization_endpoint: Option<Url>,
    pushed_authorization_request_endpoint: Option<Url>,
    require_pushed_authorization_requests: bool,
    auth_methods: Vec<AuthMethod>,
    revocation_auth_methods: Option<Vec<AuthMethod>>,
    introspection_auth_methods: Option<Vec<AuthMethod>>,
    default_auth_method: Option<AuthMethod>,
    iss_parameter_supported: bool,
    id_token_signing_algs: Vec<String>,
    metadata: Option<Arc<ProviderMetadata>>,
    /// Set when the endpoints came from a remote discovery document: the addresses they
    /// resolve to are checked at connect time.
    address_policy: Option<AddressPolicy>,
    quirks: Quirks,
}

impl Provider {
    /// Starts describing a provider; `name` appears in error messages.
    pub fn builder(name: impl Into<String>) -> ProviderBuilder {
        ProviderBuilder {
            provider: Provider {
                name: name.into(),
                issuer: None,
                authorization_endpoint: None,
                token_endpoint: None,
                revocation_endpoint: None,
                introspection_endpoint: None,
                userinfo_endpoint: None,
                jwks_uri: None,
                device_authorization_endpoint: None,
                pushed_authorization_request_endpoint: None,
                require_pushed_authorization_requests: false,
                auth_methods: Vec::new(),
                revocation_auth_methods: None,
                introspection_auth_methods: None,
                default_auth_method: None,
                iss_parameter_supported: false,
                id_token_signing_algs: Vec::new(),
                metadata: None,
                address_policy: None,
                quirks: Quirks::default(),
            },
            error: None,
        }
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The issuer identifier, when known (always for OpenID Connect providers).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The authentication methods the provider accepts; empty when it did not say.
    pub fn auth_methods(&self) -> &[AuthMethod] {
        &self.auth_methods
    }

    /// The authentication methods `endpoint` accepts, when the provider declared them for that
    /// endpoint (`revocation_endpoint_auth_methods_supported`,
    /// `introspection_endpoint_auth_methods_supported`); `None` when it did not (or for an
    /// endpoint without such a declaration). Revocation and introspection refuse, before
    /// sending, a client whose method is not listed ([`Error::Refused`] with [`Refusal::AuthMethod`](crate::error::Refusal::AuthMethod)).
    pub fn endpoint_auth_methods(&self, endpoint: Endpoint) -> Option<&[AuthMethod]> {
        match endpoint {
            Endpoint::Revocation => self.revocation_auth_methods.as_deref(),
            Endpoint::Introspection => self.introspection_auth_methods.as_deref(),
            _ => None,
        }
    }

    /// The method a client with a secret uses unless it says otherwise (the provider's
    /// registration default), if the provider declares one.
    pub fn default_auth_method(&self) -> Option<AuthMethod> {
        self.default_auth_method
    }

    /// The same provider with other quirks (for presets applied to a discovered provider).
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// The same provider with a default client-authentication method.
    pub fn with_default_auth_method(mut self, method: AuthMethod) -> Self {
        self.default_auth_method = Some(method);
        self
    }

    /// Whether callbacks carry the RFC 9207 `iss` parameter.
    pub fn iss_parameter_supported(&self) -> bool {
        self.iss_parameter_supported
    }

    /// The declared quirks.
    pub fn quirks(&self) -> &Quirks {
        &self.quirks
    }

    /// The algorithms the provider signs ID tokens with; empty when it did not say.
    pub fn id_token_signing_algs(&self) -> &[String] {
        &self.id_token_signing_algs
    }

    /// Whether every authorization request must be pushed (RFC 9126 §5:
    /// `require_pushed_authorization_requests`). [`AuthorizationRequest::build_async`] then
    /// pushes automatically, and the synchronous [`AuthorizationRequest::build`] refuses.
    ///
    /// [`AuthorizationRequest::build_async`]: crate::AuthorizationRequest::build_async
    /// [`AuthorizationRequest::build`]: crate::AuthorizationRequest::build
    pub fn requires_pushed_authorization_requests(&self) -> bool {
        self.require_pushed_authorization_requests
    }

    /// The discovery document this provider was built from, if any.
    pub fn metadata(&self) -> Option<&ProviderMetadata> {
        self.metadata.as_deref()
    }

    /// The resolved-address policy, when the endpoints came from a remote discovery document.
    pub(crate) fn address_policy(&self) -> Option<AddressPolicy> {
        self.address_policy
    }

    /// Marks the endpoints as named by a discovery document served from `origin`: the
    /// addresses they resolve to are checked when connecting, internal ones allowed only when
    /// the document itself came from an internal host.
    /// `served_internal`: the document came from a loopback or internal address, whatever
    /// the origin's name says (split-horizon DNS).
    pub(crate) fn set_document_origin(&mut self, origin: Option<&Url>, served_internal: bool) {
        let allow_internal = served_internal
            || origin
                .and_then(Url::host)
                .is_some_and(|h| !host_class(&h).is_public());
        self.address_policy = Some(AddressPolicy { allow_internal });
    }

    /// The URL of `endpoint`, or a typed error naming the missing endpoint.
    pub fn endpoint(&self, endpoint: Endpoint) -> Result<&Url> {
        let url = match endpoint {
            Endpoint::Authorization => &self.authorization_endpoint,
            Endpoint::Token => &self.token_endpoint,
            Endpoint::Revocation => &self.revocation_endpoint,
            Endpoint::Introspection => &self.introspection_endpoint,
            Endpoint::Userinfo => &self.userinfo_endpoint,
            Endpoint::Jwks => &self.jwks_uri,
            Endpoint::DeviceAuthorization => &self.device_authorization_endpoint,
            Endpoint::PushedAuthorization => &self.pushed_authorization_request_endpoint,
            Endpoint::Discovery | Endpoint::Api => &None,
        };
        url.as_ref().ok_or_else(|| Error::MissingEndpoint {
            provider: self.name.clone(),
            endpoint,
        })
    }
}

/// Builds a [`Provider`]; URL errors surface at [`ProviderBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct ProviderBuilder {
    provider: Provider,
    error: Option<Error>,
}

impl ProviderBuilder {
    fn url(&mut self, what: &str, value: &str) -> Option<Url> {
        match Url::parse(value) {
            Ok(url) => Some(url),
            Err(e) => {
                self.error.get_or_insert(Error::Config(format!(
                    "the {what} `{value}` is not a valid URL: {e}"
                )));
                None
            }
        }
    }

    /// The issuer identifier (checked against callbacks' `iss` and ID tokens' `iss`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.provider.issuer = Some(issuer.into());
        self
    }

    /// Sets any endpoint by kind (`Discovery` and `Api` are ignored).
    pub fn endpoint(mut self, endpoint: Endpoint, url: &str) -> Self {
        let parsed = self.url(&format!("{endpoint} endpoint"), url);
        let slot = match endpoint {
            Endpoint::Authorization => &mut self.provider.authorization_endpoint,
            Endpoint::Token => &mut self.provider.token_endpoint,
            Endpoint::Revocation => &mut self.provider.revocation_endpoint,
            Endpoint::Introspection => &mut self.provider.introspection_endpoint,
            Endpoint::Userinfo => &mut self.provider.userinfo_endpoint,
            Endpoint::Jwks => &mut self.provider.jwks_uri,
            Endpoint::DeviceAuthorization => &mut self.provider.device_authorization_endpoint,
            Endpoint::PushedAuthorization => {
                &mut self.provider.pushed_authorization_request_endpoint
            }
            Endpoint::Discovery | Endpoint::Api => return self,
        };
        *slot = parsed;
        self
    }

    /// The algorithms ID tokens may be signed with (`RS256`, `ES256`...). Default: every
    /// asymmetric algorithm grantkit supports. `none` and HMAC are refused whatever is listed.
    pub fn id_token_signing_algs<I, S>(mut self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.provider.id_token_signing_algs = algs.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn metadata(mut self, metadata: Arc<ProviderMetadata>) -> Self {
        self.provider.metadata = Some(metadata);
        self
    }

    /// Where the user's browser is sent to authorize.
    pub fn authorization_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::Authorization, url)
    }

    /// Where codes and refresh tokens are exchanged.
    pub fn token_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::Token, url)
    }

    /// The RFC 7009 revocation endpoint.
    pub fn revocation_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::Revocation, url)
    }

    /// The RFC 7662 introspection endpoint.
    pub fn introspection_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::Introspection, url)
    }

    /// The OpenID Connect userinfo endpoint.
    pub fn userinfo_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::Userinfo, url)
    }

    /// The JSON Web Key Set URL (OpenID Connect).
    pub fn jwks_uri(self, url: &str) -> Self {
        self.endpoint(Endpoint::Jwks, url)
    }

    /// The RFC 8628 device authorization endpoint.
    pub fn device_authorization_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::DeviceAuthorization, url)
    }

    /// The RFC 9126 pushed authorization request (PAR) endpoint.
    pub fn pushed_authorization_request_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::PushedAuthorization, url)
    }

    /// Declares that the provider accepts only pushed authorization requests (RFC 9126 §5).
    pub fn require_pushed_authorization_requests(mut self, required: bool) -> Self {
        self.provider.require_pushed_authorization_requests = required;
        self
    }

    /// The client authentication methods the provider accepts. A client configured with
    /// another method is refused at [`ClientBuilder::build`](crate::ClientBuilder::build).
    pub fn auth_methods(mut self, methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        self.provider.auth_methods = methods.into_iter().collect();
        self
    }

    /// The client authentication methods the revocation or introspection endpoint accepts, when
    /// they differ from the token endpoint's (RFC 8414 `revocation_endpoint_auth_methods_supported`,
    /// `introspection_endpoint_auth_methods_supported`). Other endpoints are ignored.
    pub fn endpoint_auth_methods(
        mut self,
        endpoint: Endpoint,
        methods: impl IntoIterator<Item = AuthMethod>,
    ) -> Self {
        let methods = Some(methods.into_iter().collect());
        match endpoint {
            Endpoint::Revocation => self.provider.revocation_auth_methods = methods,
            Endpoint::Introspection => self.provider.introspection_auth_methods = methods,
            _ => {}
        }
        self
    }

    /// The method clients with a secret use unless configured otherwise (e.g. the method the
    /// provider assigns at registration when none is asked for).
    pub fn default_auth_method(mut self, method: AuthMethod) -> Self {
        self.provider.default_auth_method = Some(method);
        self
    }

    /// Declares that callbacks carry the RFC 9207 `iss` parameter; a callback without it is then refused.
    pub fn iss_parameter_supported(mut self, supported: bool) -> Self {
        self.provider.iss_parameter_supported = supported;
        self
    }

    /// Declares the provider's quirks.
    pub fn quirks(mut self, quirks: Quirks) -> Self {
        self.provider.quirks = quirks;
        self
    }

    /// Finishes the description; fails on the first invalid URL given.
    pub fn build(self) -> Result<Provider> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.provider),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_endpoint_is_typed() {
        let p = Provider::builder("p")
            .token_endpoint("https://x/token")
            .build()
            .unwrap();
        assert!(p.endpoint(Endpoint::Token).is_ok());
        let e = p.endpoint(Endpoint::Revocation).unwrap_err();
        assert!(matches!(
            e,
            Error::MissingEndpoint {
                endpoint: Endpoint::Revocation,
                ..
            }
        ));
        assert!(e.to_string().contains("revocation"));
    }

    #[test]
    fn bad_url_is_reported_at_build() {
        let e = Provider::builder("p")
            .token_endpoint("not a url")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("token endpoint"), "{e}");
    }
}
