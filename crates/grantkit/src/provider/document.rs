//! The JSON form of a [`Provider`]: one plain object, read back through the same checks the
//! builder and discovery apply, so a hand-edited file cannot hold a provider grantkit would
//! have refused to build.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use url::Url;

use super::{AuthMethod, Provider, Quirks};
use crate::address::{host_class, AddressPolicy};
use crate::error::{Endpoint, Error, Result};
use crate::oidc::{check_endpoints_served, ProviderMetadata, ServedFrom};

/// Where a discovered provider's endpoints were read: the document's location and the kind
/// of address it came from. Saved with the provider, because the SSRF policy depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DocumentOrigin {
    /// The URL discovery started from (or the issuer); `None` when it was not a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<String>,
    /// The peer address the document came from (split-horizon DNS).
    pub(crate) served_from: ServedFrom,
}

impl DocumentOrigin {
    /// Internal addresses are callable only when the document itself came from such a host.
    pub(crate) fn address_policy(&self) -> AddressPolicy {
        let internal_location = self
            .location
            .as_deref()
            .and_then(|l| Url::parse(l).ok())
            .is_some_and(|u| u.host().is_some_and(|h| !host_class(&h).is_public()));
        AddressPolicy {
            allow_internal: internal_location || self.served_from != ServedFrom::Public,
        }
    }

    /// Re-runs the discovery policy on endpoints read back from storage.
    fn check(&self, provider: &Provider) -> Result<()> {
        let Some(location) = &self.location else {
            return provider.check_named_endpoints();
        };
        check_endpoints_served(location, self.served_from, &as_metadata(provider)?)
    }
}

/// The provider's endpoints as a discovery document, for the discovery policy's check.
fn as_metadata(provider: &Provider) -> Result<ProviderMetadata> {
    let mut document = Map::new();
    let issuer = provider.issuer.clone().unwrap_or_default();
    document.insert("issuer".into(), Value::String(issuer));
    for (member, url) in provider.endpoint_urls() {
        if let Some(url) = url {
            document.insert(member.into(), Value::String(url.to_string()));
        }
    }
    let aliases: Map<String, Value> = provider
        .mtls_alias_urls()
        .map(|(member, url)| (member.to_owned(), Value::String(url.to_string())))
        .collect();
    if !aliases.is_empty() {
        document.insert("mtls_endpoint_aliases".into(), Value::Object(aliases));
    }
    serde_json::from_value(Value::Object(document))
        .map_err(|e| Error::Config(format!("the provider's endpoints are not a document: {e}")))
}

/// The stored shape. Endpoints are strings so that a bad one fails with the builder's message.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderDocument {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    introspection_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    userinfo_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pushed_authorization_request_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    /// RFC 8705 §5, by metadata member name; a member grantkit does not call is an error.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    mtls_endpoint_aliases: BTreeMap<String, String>,
    #[serde(default)]
    auth_methods: Vec<AuthMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_auth_methods: Option<Vec<AuthMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    introspection_auth_methods: Option<Vec<AuthMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_auth_method: Option<AuthMethod>,
    #[serde(default)]
    iss_parameter_supported: bool,
    #[serde(default)]
    id_token_signing_algs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    userinfo_signing_algs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    introspection_signing_algs: Vec<String>,
    #[serde(default)]
    quirks: Quirks,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    discovered_from: Option<DocumentOrigin>,
}

impl From<&Provider> for ProviderDocument {
    fn from(p: &Provider) -> Self {
        let url = |u: &Option<Url>| u.as_ref().map(Url::to_string);
        Self {
            name: p.name.clone(),
            issuer: p.issuer.clone(),
            authorization_endpoint: url(&p.authorization_endpoint),
            token_endpoint: url(&p.token_endpoint),
            revocation_endpoint: url(&p.revocation_endpoint),
            introspection_endpoint: url(&p.introspection_endpoint),
            userinfo_endpoint: url(&p.userinfo_endpoint),
            jwks_uri: url(&p.jwks_uri),
            device_authorization_endpoint: url(&p.device_authorization_endpoint),
            pushed_authorization_request_endpoint: url(&p.pushed_authorization_request_endpoint),
            end_session_endpoint: url(&p.end_session_endpoint),
            require_pushed_authorization_requests: p.require_pushed_authorization_requests,
            mtls_endpoint_aliases: p
                .mtls_alias_urls()
                .map(|(member, url)| (member.to_owned(), url.to_string()))
                .collect(),
            auth_methods: p.auth_methods.clone(),
            revocation_auth_methods: p.revocation_auth_methods.clone(),
            introspection_auth_methods: p.introspection_auth_methods.clone(),
            default_auth_method: p.default_auth_method,
            iss_parameter_supported: p.iss_parameter_supported,
            id_token_signing_algs: p.id_token_signing_algs.clone(),
            userinfo_signing_algs: p.userinfo_signing_algs.clone(),
            introspection_signing_algs: p.introspection_signing_algs.clone(),
            quirks: p.quirks.clone(),
            discovered_from: p.origin.clone(),
        }
    }
}

impl ProviderDocument {
    /// Through the builder, then the endpoint policy that fits where the endpoints came from.
    fn into_provider(self) -> Result<Provider> {
        let mut builder = Provider::builder(self.name)
            .require_pushed_authorization_requests(self.require_pushed_authorization_requests)
            .auth_methods(self.auth_methods)
            .iss_parameter_supported(self.iss_parameter_supported)
            .id_token_signing_algs(self.id_token_signing_algs)
            .userinfo_signing_algs(self.userinfo_signing_algs)
            .introspection_signing_algs(self.introspection_signing_algs)
            .quirks(self.quirks);
        if let Some(issuer) = self.issuer {
            builder = builder.issuer(issuer);
        }
        let endpoints = [
            (Endpoint::Authorization, self.authorization_endpoint),
            (Endpoint::Token, self.token_endpoint),
            (Endpoint::Revocation, self.revocation_endpoint),
            (Endpoint::Introspection, self.introspection_endpoint),
            (Endpoint::Userinfo, self.userinfo_endpoint),
            (Endpoint::Jwks, self.jwks_uri),
            (
                Endpoint::DeviceAuthorization,
                self.device_authorization_endpoint,
            ),
            (
                Endpoint::PushedAuthorization,
                self.pushed_authorization_request_endpoint,
            ),
            (Endpoint::EndSession, self.end_session_endpoint),
        ];
        for (endpoint, url) in endpoints {
            if let Some(url) = url {
                builder = builder.endpoint(endpoint, &url);
            }
        }
        for (endpoint, methods) in [
            (Endpoint::Revocation, self.revocation_auth_methods),
            (Endpoint::Introspection, self.introspection_auth_methods),
        ] {
            if let Some(methods) = methods {
                builder = builder.endpoint_auth_methods(endpoint, methods);
            }
        }
        if let Some(method) = self.default_auth_method {
            builder = builder.default_auth_method(method);
        }
        for (member, url) in &self.mtls_endpoint_aliases {
            let endpoint = crate::mtls::aliased_endpoint(member).ok_or_else(|| {
                Error::Config(format!(
                    "`mtls_endpoint_aliases` names `{}`, not an endpoint grantkit calls with mutual TLS",
                    crate::error::truncate(member, 100)
                ))
            })?;
            builder = builder.mtls_endpoint_alias(endpoint, url);
        }
        let mut provider = builder.build_unchecked()?;
        match self.discovered_from {
            Some(origin) => {
                origin.check(&provider)?;
                provider.origin = Some(origin);
            }
            None => provider.check_named_endpoints()?,
        }
        Ok(provider)
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        ProviderDocument::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        ProviderDocument::deserialize(deserializer)?
            .into_provider()
            .map_err(serde::de::Error::custom)
    }
}
