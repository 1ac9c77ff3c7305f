//! [`ProviderMetadata`]: the discovery document as data (OpenID Connect Discovery 1.0,
//! RFC 8414). Fetching and checking it is `discovery.rs`'s job; turning it into a
//! [`Provider`](crate::Provider) too.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::address::HostClass;

/// A provider's metadata document. Only `issuer` is required; every endpoint is optional
/// (using a missing one is an [`Error::MissingEndpoint`]) and unknown members are kept.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    pub token_endpoint: Option<String>,
    /// Userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// JWKS URI.
    pub jwks_uri: Option<String>,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    pub introspection_endpoint: Option<String>,
    /// RFC 7591 registration endpoint.
    pub registration_endpoint: Option<String>,
    /// RFC 8628 device authorization endpoint.
    pub device_authorization_endpoint: Option<String>,
    /// RFC 9126 pushed authorization request endpoint.
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RP-initiated logout endpoint.
    pub end_session_endpoint: Option<String>,
    /// Scopes the provider supports.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Client authentication methods at the revocation endpoint (RFC 8414); empty: not declared.
    #[serde(default)]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Client authentication methods at the introspection endpoint (RFC 8414); empty: not declared.
    #[serde(default)]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// Algorithms the provider signs ID tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: callbacks carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9126: PAR is mandatory.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Where the document was fetched from, when `Discovery` fetched it: its peer address was
    /// loopback, or internal (private, CGNAT...). An issuer with a public-looking name inside a
    /// private network (split-horizon DNS) then keeps its internal endpoints callable.
    #[serde(skip)]
    pub(crate) served_from: ServedFrom,
}

/// The kind of address a discovery document came from (by the connection's peer address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ServedFrom {
    /// Not known (the document did not come through `Discovery`), or a public address.
    #[default]
    Public,
    /// A private, shared or other internal address.
    Internal,
    /// The machine itself.
    Loopback,
}

impl ServedFrom {
    /// `proxied`: the request went through a proxy, so the peer is the proxy, which says
    /// nothing about where the document came from.
    pub(crate) fn of(peer: Option<std::net::IpAddr>, proxied: bool) -> Self {
        let Some(ip) = peer.filter(|_| !proxied) else {
            return Self::Public;
        };
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        if ip.is_loopback() {
            return Self::Loopback;
        }
        match crate::address::ip_class(ip) {
            HostClass::Internal(_) => Self::Internal,
            _ => Self::Public,
        }
    }
}
