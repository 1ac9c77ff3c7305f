//! [`ProviderMetadata`]: the discovery document as data (OpenID Connect Discovery 1.0,
//! RFC 8414), and the policy on what it may name (which hosts, which schemes, given where it
//! came from). Fetching it is `discovery.rs`'s job, and turning it into a
//! [`Provider`](crate::Provider) too.

use serde::Deserialize;
use serde_json::{Map, Value};

use url::Url;

use crate::address::{host_class, is_loopback, HostClass};
use crate::error::{truncate, Error, Result};

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
    /// Algorithms the provider signs userinfo with (OpenID Connect Discovery §3).
    #[serde(default)]
    pub userinfo_signing_alg_values_supported: Vec<String>,
    /// Algorithms the provider signs introspection answers with (RFC 9701 §7).
    #[serde(default)]
    pub introspection_signing_alg_values_supported: Vec<String>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: callbacks carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9126: PAR is mandatory.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 8705 §5: the endpoints a client using mutual TLS calls instead, by metadata member
    /// name (`token_endpoint`...). They pass the same policy as the endpoints themselves.
    #[serde(default)]
    pub mtls_endpoint_aliases: Option<Map<String, Value>>,
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
/// Saved with a discovered provider (`"public"`, `"internal"`, `"loopback"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// Refuses endpoints a hostile or compromised discovery document could use to turn the client
/// against its own network: a scheme other than http(s), plain http unless the document came
/// from a loopback host (local development), a link-local, cloud metadata, multicast or
/// reserved address or name (always), and loopback, private, shared (CGNAT) or internal hosts
/// when the document itself did not come from such a host.
///
/// This reads the URLs' text; the addresses a name resolves to are checked again when
/// connecting (see [`Provider`]'s document origin and `address::GuardedResolver`). The refusal
/// quotes the offending URL, never a response body.
pub(crate) fn check_endpoints(location: &str, metadata: &ProviderMetadata) -> Result<()> {
    check_endpoints_served(location, ServedFrom::Public, metadata)
}

/// [`check_endpoints`], knowing the kind of address the document came from: a document that
/// came from the machine itself or an internal network (a public-looking name on split-horizon
/// DNS) may name such hosts, as a document from an internal or loopback name may.
pub(crate) fn check_endpoints_served(
    location: &str,
    served_from: ServedFrom,
    metadata: &ProviderMetadata,
) -> Result<()> {
    let origin = Url::parse(location)
        .map_err(|e| Error::Config(format!("`{location}` is not a URL: {e}")))?;
    let origin_class = origin.host().map(|h| host_class(&h));
    let origin_internal =
        origin_class.is_some_and(|c| !c.is_public()) || served_from != ServedFrom::Public;
    let origin_loopback =
        origin.host().is_some_and(|h| is_loopback(&h)) || served_from == ServedFrom::Loopback;
    let fields = [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("userinfo_endpoint", &metadata.userinfo_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
        ("revocation_endpoint", &metadata.revocation_endpoint),
        ("introspection_endpoint", &metadata.introspection_endpoint),
        ("registration_endpoint", &metadata.registration_endpoint),
        ("end_session_endpoint", &metadata.end_session_endpoint),
        (
            "device_authorization_endpoint",
            &metadata.device_authorization_endpoint,
        ),
        (
            "pushed_authorization_request_endpoint",
            &metadata.pushed_authorization_request_endpoint,
        ),
    ];
    let origin = Origin {
        url: &origin,
        internal: origin_internal,
        loopback: origin_loopback,
    };
    for (field, value) in fields {
        if let Some(value) = value {
            check_endpoint(field, value, &origin)?;
        }
    }
    check_aliases(metadata, &origin)
}

/// The document's own location, and what it may name from there.
pub(crate) struct Origin<'a> {
    url: &'a Url,
    /// The document came from (or is named for) a loopback or internal host.
    internal: bool,
    /// The document came from (or is named for) the machine itself.
    loopback: bool,
}

impl<'a> Origin<'a> {
    /// A document (or a resource server) at `url`, judged by its name alone.
    pub(crate) fn named(url: &'a Url) -> Self {
        Self {
            url,
            internal: url.host().is_some_and(|h| !host_class(&h).is_public()),
            loopback: url.host().is_some_and(|h| is_loopback(&h)),
        }
    }
}

/// The aliases grantkit calls (RFC 8705 §5), each under the same policy as the endpoint it
/// stands for: an alias is where the same secrets go. Members grantkit never calls are ignored.
fn check_aliases(metadata: &ProviderMetadata, origin: &Origin<'_>) -> Result<()> {
    let Some(aliases) = &metadata.mtls_endpoint_aliases else {
        return Ok(());
    };
    for (member, value) in aliases {
        if crate::mtls::aliased_endpoint(member).is_none() {
            continue;
        }
        let field = format!("mtls_endpoint_aliases.{member}");
        let Some(value) = value.as_str() else {
            return Err(Error::UnsafeEndpoint {
                field,
                reason: "not a URL string".into(),
            });
        };
        check_endpoint(&field, value, origin)?;
    }
    Ok(())
}

/// One endpoint named by the document, under the policy of [`check_endpoints_served`].
pub(crate) fn check_endpoint(field: &str, value: &str, origin: &Origin<'_>) -> Result<()> {
    let (origin_internal, origin_loopback) = (origin.internal, origin.loopback);
    let origin = origin.url;
    let refuse = |reason: &str| Error::UnsafeEndpoint {
        field: field.to_owned(),
        reason: format!("{reason} (`{}`)", truncate(value, 200)),
    };
    let url = Url::parse(value).map_err(|_| refuse("not a URL"))?;
    let host = url.host().ok_or_else(|| refuse("no host"))?;
    // Plain http only between the machine and its own networks: a document from a
    // loopback host must not send secrets in cleartext to a public one. Its own host is
    // the one the application named (and the document came from the machine itself).
    let same_host = host
        .to_string()
        .eq_ignore_ascii_case(origin.host_str().unwrap_or(""));
    let internal_host = same_host || !host_class(&host).is_public();
    match url.scheme() {
        "https" => {}
        "http" if origin_loopback && internal_host => {}
        "http" => {
            return Err(refuse(
                "plain http, allowed only from a loopback origin to an internal host",
            ))
        }
        _ => return Err(refuse("only http(s) endpoints are called")),
    }
    match host_class(&host) {
        HostClass::Forbidden(what) => return Err(refuse(what)),
        HostClass::Internal(what) if !origin_internal => {
            return Err(refuse(&format!(
                "{what} named by a document from a public host"
            )))
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(aliases: Value) -> ProviderMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://op.example",
            "token_endpoint": "https://op.example/token",
            "mtls_endpoint_aliases": aliases,
        }))
        .unwrap()
    }

    /// RFC 8705 §5 aliases receive the same secrets as the endpoints: a hostile document must
    /// not reach the metadata service, an internal host or plain http through one.
    #[test]
    fn an_mtls_alias_passes_the_same_endpoint_policy() {
        let refused = [
            ("token_endpoint", "https://169.254.169.254/token"),
            ("userinfo_endpoint", "https://10.0.0.5/me"),
            ("revocation_endpoint", "http://mtls.op.example/revoke"),
            ("introspection_endpoint", "not a url"),
        ];
        for (member, url) in refused {
            let e = check_endpoints(
                "https://op.example",
                &document(serde_json::json!({ member: url })),
            )
            .unwrap_err();
            let Error::UnsafeEndpoint { field, .. } = &e else {
                panic!("{member}: {e:?}")
            };
            assert_eq!(field, &format!("mtls_endpoint_aliases.{member}"));
        }
        let e = check_endpoints(
            "https://op.example",
            &document(serde_json::json!({"token_endpoint": 7})),
        )
        .unwrap_err();
        assert!(matches!(e, Error::UnsafeEndpoint { .. }), "{e:?}");
        let fine = document(serde_json::json!({
            "token_endpoint": "https://mtls.op.example/token",
            "some_vendor_endpoint": 7,
        }));
        check_endpoints("https://op.example", &fine).unwrap();
    }
}
