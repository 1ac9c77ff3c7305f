//! A provider is a value: its endpoints, how clients authenticate, and its declared quirks.

use std::sync::Arc;

use url::Url;

use crate::address::{host_class, AddressPolicy, HostClass};
pub use crate::auth_method::AuthMethod;
use crate::error::{truncate, Endpoint, Error, Result};
use crate::oidc::metadata::{ProviderMetadata, ServedFrom};

mod document;

pub(crate) use document::DocumentOrigin;

/// Deviations from the RFCs that a provider declares, implemented once in the core.
///
/// A provider crate sets these; the core never asks *which* provider it talks to. Start from
/// the defaults and change what differs:
///
/// ```
/// use grantkit::provider::{Quirks, TokenField};
///
/// let quirks = Quirks::default()
///     .pkce(false)
///     .refresh_tokens(false)
///     .token_field(TokenField::integer("x_user_id"));
/// assert!(!quirks.pkce && quirks.public_clients_can_revoke);
/// ```
///
/// In JSON every member is optional (missing ones keep their default) and an unknown member is
/// an error, so a misspelt quirk cannot silently stay at its default:
/// `{"pkce": false, "refresh_tokens": false, "public_clients_can_revoke": true,
/// "token_fields": [{"name": "x_user_id", "kind": "integer", "required": true}]}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
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

impl Quirks {
    /// Sets [`Quirks::pkce`].
    #[must_use]
    pub fn pkce(mut self, accepted: bool) -> Self {
        self.pkce = accepted;
        self
    }

    /// Sets [`Quirks::refresh_tokens`].
    #[must_use]
    pub fn refresh_tokens(mut self, issued: bool) -> Self {
        self.refresh_tokens = issued;
        self
    }

    /// Sets [`Quirks::public_clients_can_revoke`].
    #[must_use]
    pub fn public_clients_can_revoke(mut self, allowed: bool) -> Self {
        self.public_clients_can_revoke = allowed;
        self
    }

    /// Replaces [`Quirks::token_fields`].
    #[must_use]
    pub fn token_fields(mut self, fields: impl IntoIterator<Item = TokenField>) -> Self {
        self.token_fields = fields.into_iter().collect();
        self
    }

    /// Adds one member to [`Quirks::token_fields`].
    #[must_use]
    pub fn token_field(mut self, field: TokenField) -> Self {
        self.token_fields.push(field);
        self
    }
}

/// The kind of value a declared token-response member holds; `"integer"` or `"string"` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
/// let quirks = Quirks::default().token_field(TokenField::integer("x_user_id"));
/// assert!(quirks.token_fields[0].is_required());
/// ```
///
/// In JSON: `{"name": "x_user_id", "kind": "integer", "required": true}` (`required` defaults
/// to `true`, as the constructors do; an unknown member is an error).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenField {
    name: String,
    kind: TokenFieldKind,
    #[serde(default = "required_by_default")]
    required: bool,
}

fn required_by_default() -> bool {
    true
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
///
/// # JSON form
///
/// A provider is plain data: it serializes (serde) to one JSON object and reads back without a
/// network call, e.g. to keep a discovered provider in a configuration file. The members are
/// those of a discovery document where one exists (RFC 8414, OpenID Connect Discovery):
///
/// | member | value | default when missing |
/// |---|---|---|
/// | `name` | string, required | |
/// | `issuer` | string | none |
/// | `authorization_endpoint`, `token_endpoint`, `revocation_endpoint`, `introspection_endpoint`, `userinfo_endpoint`, `jwks_uri`, `device_authorization_endpoint`, `pushed_authorization_request_endpoint`, `end_session_endpoint` | URL string | none |
/// | `mtls_endpoint_aliases` | `{"token_endpoint": URL, ...}` (RFC 8705 §5; token, revocation, introspection, userinfo, PAR, device authorization) | none |
/// | `require_pushed_authorization_requests`, `iss_parameter_supported` | boolean | `false` |
/// | `auth_methods` | [`AuthMethod`] names (`"client_secret_basic"`...) | `[]` (not declared) |
/// | `revocation_auth_methods`, `introspection_auth_methods` | [`AuthMethod`] names | not declared |
/// | `default_auth_method` | an [`AuthMethod`] name | none |
/// | `id_token_signing_algs` | strings (`"RS256"`...) | `[]` |
/// | `userinfo_signing_algs`, `introspection_signing_algs` | strings (`"ES256"`...) | `[]` |
/// | `quirks` | a [`Quirks`] object | [`Quirks::default`] |
/// | `discovered_from` | `{"location": URL, "served_from": "public" \| "internal" \| "loopback"}`: set for a discovered provider | none |
///
/// An unknown member, a misspelt authentication method or quirk is an error, never a default.
/// Reading re-runs the checks the provider was first built under: the builder's (valid URLs;
/// https, or plain http only to a host that is not public; never a link-local or cloud
/// metadata address) or, with `discovered_from`, the discovery document policy against that
/// location, whose resolved-address (SSRF) policy then applies again when connecting. The
/// discovery document itself ([`Provider::metadata`]) is not saved.
///
/// ```
/// use grantkit::{AuthMethod, Provider};
/// use grantkit::provider::Quirks;
///
/// let provider = Provider::builder("example")
///     .token_endpoint("https://login.example.com/token")
///     .auth_methods([AuthMethod::ClientSecretBasic])
///     .quirks(Quirks::default().pkce(false))
///     .build()?;
/// let json = serde_json::to_value(&provider).unwrap();
/// assert_eq!(json["auth_methods"], serde_json::json!(["client_secret_basic"]));
/// assert_eq!(json["quirks"]["pkce"], false);
/// let again: Provider = serde_json::from_value(json).unwrap();
/// assert_eq!(again.auth_methods(), [AuthMethod::ClientSecretBasic]);
///
/// // A typo is an error, not a public client; plain http to a public host is refused.
/// let typo = r#"{"name": "x", "auth_methods": ["client_secret_basci"]}"#;
/// assert!(serde_json::from_str::<Provider>(typo).is_err());
/// let clear = r#"{"name": "x", "token_endpoint": "http://login.example.com/token"}"#;
/// let e = serde_json::from_str::<Provider>(clear).unwrap_err();
/// assert!(e.to_string().contains("token_endpoint"), "{e}");
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
    end_session_endpoint: Option<Url>,
    pushed_authorization_request_endpoint: Option<Url>,
    require_pushed_authorization_requests: bool,
    auth_methods: Vec<AuthMethod>,
    revocation_auth_methods: Option<Vec<AuthMethod>>,
    introspection_auth_methods: Option<Vec<AuthMethod>>,
    default_auth_method: Option<AuthMethod>,
    iss_parameter_supported: bool,
    id_token_signing_algs: Vec<String>,
    userinfo_signing_algs: Vec<String>,
    introspection_signing_algs: Vec<String>,
    metadata: Option<Arc<ProviderMetadata>>,
    /// Set when the endpoints came from a remote discovery document: the addresses they
    /// resolve to are checked at connect time, and a saved provider read back is checked
    /// against the same document policy.
    origin: Option<DocumentOrigin>,
    quirks: Quirks,
    /// RFC 8705 §5 `mtls_endpoint_aliases`: where a mutual-TLS client calls these endpoints.
    mtls_aliases: Vec<(Endpoint, Url)>,
    /// The extra roots the discovery that found this provider trusted; never serialized, as a
    /// saved provider's trust is the reading application's to give.
    root_certificates: Vec<reqwest::Certificate>,
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
                end_session_endpoint: None,
                pushed_authorization_request_endpoint: None,
                require_pushed_authorization_requests: false,
                auth_methods: Vec::new(),
                revocation_auth_methods: None,
                introspection_auth_methods: None,
                default_auth_method: None,
                iss_parameter_supported: false,
                id_token_signing_algs: Vec::new(),
                userinfo_signing_algs: Vec::new(),
                introspection_signing_algs: Vec::new(),
                metadata: None,
                origin: None,
                quirks: Quirks::default(),
                mtls_aliases: Vec::new(),
                root_certificates: Vec::new(),
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

    /// The algorithms the provider signs userinfo with (`userinfo_signing_alg_values_supported`,
    /// OpenID Connect Discovery §3); empty when it did not say.
    pub fn userinfo_signing_algs(&self) -> &[String] {
        &self.userinfo_signing_algs
    }

    /// The algorithms the provider signs introspection answers with
    /// (`introspection_signing_alg_values_supported`, RFC 9701 §7); empty when it did not say.
    pub fn introspection_signing_algs(&self) -> &[String] {
        &self.introspection_signing_algs
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
        self.origin.as_ref().map(DocumentOrigin::address_policy)
    }

    /// Marks the endpoints as named by a discovery document served from `origin`: the
    /// addresses they resolve to are checked when connecting, internal ones allowed only when
    /// the document itself came from an internal host.
    /// `served_from`: the kind of address the document came from, whatever the origin's name
    /// says (split-horizon DNS).
    pub(crate) fn set_document_origin(&mut self, origin: Option<&Url>, served_from: ServedFrom) {
        self.origin = Some(DocumentOrigin {
            location: origin.map(Url::to_string),
            served_from,
        });
    }

    /// The extra roots a [`Discovery`](crate::oidc::Discovery) trusted to fetch this
    /// provider's document, which clients of it trust too.
    pub(crate) fn root_certificates(&self) -> &[reqwest::Certificate] {
        &self.root_certificates
    }

    pub(crate) fn set_root_certificates(&mut self, roots: Vec<reqwest::Certificate>) {
        self.root_certificates = roots;
    }

    /// Every endpoint that is set, with its member name in the JSON form.
    fn endpoint_urls(&self) -> [(&'static str, Option<&Url>); 9] {
        [
            (
                "authorization_endpoint",
                self.authorization_endpoint.as_ref(),
            ),
            ("token_endpoint", self.token_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            (
                "introspection_endpoint",
                self.introspection_endpoint.as_ref(),
            ),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
            ("jwks_uri", self.jwks_uri.as_ref()),
            (
                "device_authorization_endpoint",
                self.device_authorization_endpoint.as_ref(),
            ),
            (
                "pushed_authorization_request_endpoint",
                self.pushed_authorization_request_endpoint.as_ref(),
            ),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
        ]
    }

    /// The transport rule for endpoints the application named itself (no discovery document):
    /// https, or plain http to a host that is not public by its text (this machine, a private
    /// network, an internal name); never a link-local or cloud metadata address. Tokens and
    /// secrets must not cross the internet in clear (RFC 6749 §3.1, §3.2), and a hand-edited
    /// configuration must not turn a refresh into a request to the metadata service.
    fn check_named_endpoints(&self) -> Result<()> {
        let aliases = self
            .mtls_alias_urls()
            .map(|(member, url)| (format!("mtls_endpoint_aliases.{member}"), Some(url)));
        let endpoints = self.endpoint_urls().into_iter();
        let endpoints = endpoints.map(|(member, url)| (member.to_owned(), url));
        for (member, url) in endpoints.chain(aliases) {
            let Some(url) = url else { continue };
            let refuse = |reason: &str| {
                Error::Config(format!(
                    "the {member} `{}` is refused: {reason}",
                    truncate(url.as_str(), 200)
                ))
            };
            let host = url.host().ok_or_else(|| refuse("it has no host"))?;
            let class = host_class(&host);
            if let HostClass::Forbidden(what) = class {
                return Err(refuse(&format!("it is {what}")));
            }
            match url.scheme() {
                "https" => {}
                "http" if !class.is_public() => {}
                "http" => return Err(refuse(
                    "plain http to a public host would send tokens and secrets in clear; use https",
                )),
                _ => return Err(refuse("only http(s) endpoints are called")),
            }
        }
        Ok(())
    }

    /// The `mtls_endpoint_aliases` entry for `endpoint` (RFC 8705 §5): where a client that
    /// uses mutual TLS calls it instead. Only the token, revocation, introspection, userinfo,
    /// PAR and device authorization endpoints have one.
    pub fn mtls_endpoint_alias(&self, endpoint: Endpoint) -> Option<&Url> {
        self.mtls_aliases
            .iter()
            .find(|(e, _)| *e == endpoint)
            .map(|(_, url)| url)
    }

    /// Every alias with its `mtls_endpoint_aliases` member name.
    fn mtls_alias_urls(&self) -> impl Iterator<Item = (&'static str, &Url)> + '_ {
        self.mtls_aliases.iter().filter_map(|(endpoint, url)| {
            crate::mtls::ALIASED
                .iter()
                .find(|(e, _)| e == endpoint)
                .map(|(_, member)| (*member, url))
        })
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
            Endpoint::EndSession => &self.end_session_endpoint,
            Endpoint::PushedAuthorization => &self.pushed_authorization_request_endpoint,
            Endpoint::Discovery | Endpoint::Api => &None,
            Endpoint::ResourceMetadata | Endpoint::Registration => &None,
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
            Endpoint::EndSession => &mut self.provider.end_session_endpoint,
            Endpoint::PushedAuthorization => {
                &mut self.provider.pushed_authorization_request_endpoint
            }
            Endpoint::Discovery | Endpoint::Api => return self,
            Endpoint::ResourceMetadata | Endpoint::Registration => return self,
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

    /// The algorithms signed userinfo may be signed with (OpenID Connect Core §5.3.2), the
    /// provider's `userinfo_signing_alg_values_supported`. Default: every asymmetric algorithm
    /// grantkit supports (no specification names a default). `none` and HMAC are refused
    /// whatever is listed; a client's
    /// [`userinfo_signed_response_alg`](crate::ClientBuilder::userinfo_signed_response_alg)
    /// takes precedence.
    pub fn userinfo_signing_algs<I, S>(mut self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.provider.userinfo_signing_algs = algs.into_iter().map(Into::into).collect();
        self
    }

    /// The algorithms signed introspection answers (RFC 9701) may be signed with, the
    /// provider's `introspection_signing_alg_values_supported`. Default: `RS256`, the default
    /// of the client's `introspection_signed_response_alg` (RFC 9701 §6). `none` and HMAC are
    /// refused whatever is listed; a client's
    /// [`introspection_signed_response_alg`](crate::ClientBuilder::introspection_signed_response_alg)
    /// takes precedence.
    pub fn introspection_signing_algs<I, S>(mut self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.provider.introspection_signing_algs = algs.into_iter().map(Into::into).collect();
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

    /// The OpenID Connect RP-initiated logout endpoint (`end_session_endpoint`).
    pub fn end_session_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::EndSession, url)
    }

    /// The RFC 9126 pushed authorization request (PAR) endpoint.
    pub fn pushed_authorization_request_endpoint(self, url: &str) -> Self {
        self.endpoint(Endpoint::PushedAuthorization, url)
    }

    /// The endpoint a client using mutual TLS calls instead of `endpoint` (RFC 8705 §5
    /// `mtls_endpoint_aliases`): token, revocation, introspection, userinfo, PAR and device
    /// authorization; others are ignored. Checked like the endpoints themselves.
    pub fn mtls_endpoint_alias(mut self, endpoint: Endpoint, url: &str) -> Self {
        if !crate::mtls::is_mtls_endpoint(endpoint) {
            return self;
        }
        if let Some(parsed) = self.url(&format!("mTLS alias of the {endpoint} endpoint"), url) {
            self.provider.mtls_aliases.retain(|(e, _)| *e != endpoint);
            self.provider.mtls_aliases.push((endpoint, parsed));
        }
        self
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

    /// Finishes the description; fails on the first invalid URL given, and on an endpoint
    /// grantkit refuses to call: a scheme other than http(s), plain http to a public host, or
    /// a link-local or cloud metadata address ([`Error::Config`], naming the endpoint).
    /// Endpoints named by a discovery document get the discovery policy instead.
    pub fn build(self) -> Result<Provider> {
        let provider = self.build_unchecked()?;
        if provider.metadata.is_none() {
            provider.check_named_endpoints()?;
        }
        Ok(provider)
    }

    /// The provider with its URLs parsed, before the endpoint policy: for callers that apply
    /// the policy that fits where the endpoints came from.
    fn build_unchecked(self) -> Result<Provider> {
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
    fn plain_http_to_a_public_host_is_refused_at_build() {
        for url in [
            "https://op.example/token",
            "http://127.0.0.1:8080/token",
            "http://localhost:8080/token",
            "http://[::1]:8080/token",
            "http://keycloak:8080/token",
            "http://10.0.0.5/token",
        ] {
            let built = Provider::builder("p").token_endpoint(url).build();
            assert!(built.is_ok(), "{url}: {built:?}");
        }
        for url in [
            "http://op.example/token",
            "http://169.254.169.254/latest/meta-data/",
            "https://metadata.google.internal/token",
            "file:///etc/passwd",
            "ftp://op.example/token",
        ] {
            let e = Provider::builder("p")
                .token_endpoint(url)
                .build()
                .unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{url}: {e:?}");
            assert!(e.to_string().contains("token_endpoint"), "{url}: {e}");
        }
    }

    fn read(document: serde_json::Value) -> std::result::Result<Provider, String> {
        serde_json::from_value(document).map_err(|e| e.to_string())
    }

    #[test]
    fn a_mistyped_auth_method_in_json_is_an_error_never_none() {
        for document in [
            serde_json::json!({"name": "p", "auth_methods": ["client_secret_basci"]}),
            serde_json::json!({"name": "p", "default_auth_method": "basic"}),
            serde_json::json!({"name": "p", "revocation_auth_methods": ["None"]}),
        ] {
            let e = read(document.clone()).unwrap_err();
            assert!(e.contains("unknown variant"), "{document}: {e}");
        }
    }

    #[test]
    fn a_misspelt_member_or_quirk_in_json_is_an_error_not_a_default() {
        for document in [
            serde_json::json!({"name": "p", "token_endpont": "https://op.example/token"}),
            serde_json::json!({"name": "p", "quirks": {"pcke": false}}),
            serde_json::json!({"name": "p", "quirks": {"token_fields": [
                {"name": "x_user_id", "kind": "integer", "requried": false}
            ]}}),
            serde_json::json!({"name": "p", "quirks": {"token_fields": [
                {"name": "x_user_id", "kind": "int"}
            ]}}),
            serde_json::json!({"name": "p", "discovered_from": {"served_from": "nearby"}}),
        ] {
            assert!(read(document.clone()).is_err(), "{document}");
        }
    }

    #[test]
    fn a_saved_provider_is_refused_where_the_builder_refuses() {
        for (member, url) in [
            ("token_endpoint", "http://op.example/token"),
            ("revocation_endpoint", "http://169.254.169.254/latest"),
            ("userinfo_endpoint", "not a url"),
            ("jwks_uri", "file:///etc/passwd"),
        ] {
            let mut document = serde_json::json!({"name": "p"});
            document[member] = url.into();
            let e = read(document).unwrap_err();
            let named = member
                .replace("_endpoint", " endpoint")
                .replace("jwks_uri", "JWKS");
            assert!(e.contains(member) || e.contains(&named), "{member}: {e}");
        }
    }

    #[test]
    fn every_setting_round_trips_through_json() {
        let provider = Provider::builder("full")
            .issuer("https://op.example")
            .authorization_endpoint("https://op.example/authorize")
            .token_endpoint("https://op.example/token")
            .revocation_endpoint("https://op.example/revoke")
            .introspection_endpoint("https://op.example/introspect")
            .userinfo_endpoint("https://op.example/userinfo")
            .jwks_uri("https://op.example/jwks")
            .device_authorization_endpoint("https://op.example/device")
            .pushed_authorization_request_endpoint("https://op.example/par")
            .require_pushed_authorization_requests(true)
            .auth_methods([AuthMethod::PrivateKeyJwt, AuthMethod::ClientSecretJwt])
            .endpoint_auth_methods(Endpoint::Revocation, [AuthMethod::ClientSecretPost])
            .endpoint_auth_methods(Endpoint::Introspection, [])
            .default_auth_method(AuthMethod::ClientSecretBasic)
            .iss_parameter_supported(true)
            .id_token_signing_algs(["ES256"])
            .quirks(
                Quirks::default()
                    .pkce(false)
                    .refresh_tokens(false)
                    .public_clients_can_revoke(false)
                    .token_field(TokenField::integer("x_user_id"))
                    .token_field(TokenField::string("tenant").optional()),
            )
            .build()
            .unwrap();
        let json = serde_json::to_value(&provider).unwrap();
        let again = read(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), json);
        assert_eq!(again.quirks(), provider.quirks());
        assert_eq!(
            again.default_auth_method(),
            Some(AuthMethod::ClientSecretBasic)
        );
        assert_eq!(
            again.endpoint_auth_methods(Endpoint::Introspection),
            Some(&[][..])
        );
        assert!(again.requires_pushed_authorization_requests());
        assert_eq!(
            again
                .endpoint(Endpoint::PushedAuthorization)
                .unwrap()
                .as_str(),
            "https://op.example/par"
        );
        assert_eq!(again.address_policy(), None);
    }

    #[test]
    fn a_discovered_provider_keeps_its_document_policy_through_json() {
        let metadata: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://op.example",
            "authorization_endpoint": "https://op.example/authorize",
            "token_endpoint": "https://op.example/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "tls_client_auth"],
        }))
        .unwrap();
        let provider = metadata.into_provider("op").unwrap();
        let json = serde_json::to_value(&provider).unwrap();
        assert_eq!(json["discovered_from"]["served_from"], "public");
        let again = read(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), json);
        assert_eq!(
            again.address_policy(),
            Some(AddressPolicy {
                allow_internal: false
            })
        );
        // An internal host slipped into a public document's provider is refused on reading,
        // as discovery would have refused it.
        let mut edited = json.clone();
        edited["token_endpoint"] = "https://10.0.0.1/token".into();
        let e = read(edited).unwrap_err();
        assert!(e.contains("token_endpoint"), "{e}");
    }

    #[test]
    fn a_split_horizon_provider_keeps_its_served_from_through_json_and_it_decides() {
        // A public-looking issuer whose document came from this machine (as in
        // `fault_injection.rs::a_split_horizon_issuer_served_from_an_internal_address_keeps_its_endpoints`).
        let mut metadata: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "http://idp.example.com:8080",
            "token_endpoint": "http://idp.example.com:8080/token",
        }))
        .unwrap();
        metadata.served_from = ServedFrom::Loopback;
        let provider = metadata.into_provider("idp").unwrap();
        let json = serde_json::to_value(&provider).unwrap();
        assert_eq!(json["discovered_from"]["served_from"], "loopback");
        let again = read(json.clone()).unwrap();
        assert_eq!(
            again.address_policy(),
            Some(AddressPolicy {
                allow_internal: true
            })
        );
        // Claimed as served from a public address, plain http is what discovery refuses.
        let mut edited = json;
        edited["discovered_from"]["served_from"] = "public".into();
        let e = read(edited).unwrap_err();
        assert!(
            e.contains("token_endpoint") && e.contains("plain http"),
            "{e}"
        );
    }

    /// RFC 8705: the two mTLS methods have their registered names in JSON, strictly.
    #[test]
    fn mtls_auth_methods_have_strict_json_names() {
        let p = read(serde_json::json!({"name": "x",
            "auth_methods": ["tls_client_auth", "self_signed_tls_client_auth"]}))
        .unwrap();
        assert_eq!(
            p.auth_methods(),
            [
                AuthMethod::TlsClientAuth,
                AuthMethod::SelfSignedTlsClientAuth
            ]
        );
        for typo in ["tls-client-auth", "TlsClientAuth", "self_signed_tls"] {
            assert!(read(serde_json::json!({"name": "x", "auth_methods": [typo]})).is_err());
        }
        assert_eq!(
            AuthMethod::from_name("self_signed_tls_client_auth"),
            Some(AuthMethod::SelfSignedTlsClientAuth)
        );
    }

    /// RFC 8705 §5 aliases survive a save and are checked on reading like the endpoints.
    #[test]
    fn mtls_endpoint_aliases_round_trip_and_are_checked() {
        let p = Provider::builder("x")
            .token_endpoint("https://op.example/token")
            .mtls_endpoint_alias(Endpoint::Token, "https://mtls.op.example/token")
            .build()
            .unwrap();
        let json = serde_json::to_value(&p).unwrap();
        let again: Provider = serde_json::from_value(json).unwrap();
        assert_eq!(
            again.mtls_endpoint_alias(Endpoint::Token).unwrap().as_str(),
            "https://mtls.op.example/token"
        );
        let clear = read(serde_json::json!({"name": "x",
            "mtls_endpoint_aliases": {"token_endpoint": "http://mtls.op.example/token"}}))
        .unwrap_err();
        assert!(
            clear.contains("mtls_endpoint_aliases.token_endpoint"),
            "{clear}"
        );
        let unknown = read(serde_json::json!({"name": "x",
            "mtls_endpoint_aliases": {"authorization_endpoint": "https://op.example/a"}}))
        .unwrap_err();
        assert!(unknown.contains("authorization_endpoint"), "{unknown}");
        let e = Provider::builder("x")
            .mtls_endpoint_alias(Endpoint::Token, "https://169.254.169.254/token")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("mtls_endpoint_aliases"), "{e}");
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
