//! Protected resources (RFC 9728): from a resource server's URL, or its `401`, to the
//! authorization server that issues tokens for it, as an MCP client starts.
//!
//! ```no_run
//! # async fn run() -> grantkit::Result<()> {
//! // From the resource alone: its metadata at `/.well-known/oauth-protected-resource/mcp`.
//! let (resource, provider) = grantkit::resource::discover("https://mcp.example.com/mcp").await?;
//! # let _ = (resource, provider);
//! // From its `401` (`WWW-Authenticate: Bearer resource_metadata="..."`).
//! let challenge = r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;
//! let (resource, provider) =
//!     grantkit::resource::ResourceDiscovery::from_challenge("https://mcp.example.com/mcp", challenge)
//!         .discover()
//!         .await?;
//! println!("{} is protected by {}", resource.resource, provider.name());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::IpAddr;

use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::address::{host_class, AddressPolicy, GuardedResolver};
use crate::error::{truncate, Endpoint, Error, Result};
use crate::http::{challenge_param, parse_json, Http, HttpOptions};
use crate::oidc::metadata::{check_endpoint, Origin};
use crate::oidc::Discovery;
use crate::provider::Provider;

/// A protected resource's metadata (RFC 9728 §2). Only `resource` is required; unknown members
/// are kept in `extra`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResource {
    /// The resource identifier: checked to equal the URL it was discovered for.
    pub resource: String,
    /// Issuers of the authorization servers that issue tokens for it.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// The resource's own JWK Set (for signed responses).
    pub jwks_uri: Option<String>,
    /// Scopes used in authorization requests for it.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// How it takes a bearer token (`header`, `body`, `query`).
    #[serde(default)]
    pub bearer_methods_supported: Vec<String>,
    /// Its name for people.
    pub resource_name: Option<String>,
    /// Its documentation for developers.
    pub resource_documentation: Option<String>,
    /// RFC 8705: it takes only certificate-bound access tokens.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 9449: DPoP proof algorithms it accepts.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// RFC 9449: it takes only DPoP-bound access tokens.
    #[serde(default)]
    pub dpop_bound_access_tokens_required: bool,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ResourceDiscovery::new(resource).discover()`: the resource's metadata and the provider
/// of its first authorization server.
pub async fn discover(resource: &str) -> Result<(ProtectedResource, Provider)> {
    ResourceDiscovery::new(resource).discover().await
}

/// Fetches a protected resource's metadata (RFC 9728) and discovers its authorization server.
///
/// The metadata's `resource` must equal the URL it was looked up for (RFC 9728 §3.3): a
/// document describing another resource is [`Error::ResourceMismatch`], so a server cannot pass
/// off another resource's authorization server as its own, nor collect tokens meant for
/// another resource. With a challenge ([`from_challenge`](ResourceDiscovery::from_challenge)),
/// that URL is the one the request went to.
///
/// URLs the resource server names (a challenge's `resource_metadata`, `authorization_servers`)
/// get the policy discovery documents get: http(s) only, plain http only from a loopback
/// resource to an internal host, and no link-local, cloud metadata or (from a public resource)
/// internal hosts, by name and again by resolved address. The defaults of [`HttpOptions`]
/// apply (timeouts, 1 MiB body cap, no redirects).
#[derive(Clone, Debug)]
#[must_use]
pub struct ResourceDiscovery {
    resource: String,
    metadata_url: Option<String>,
    authorization_server: Option<String>,
    http_options: HttpOptions,
    resolve: HashMap<String, Vec<IpAddr>>,
}

impl ResourceDiscovery {
    /// Discovery for `resource`: its metadata is looked up at the RFC 9728 §3.1 well-known
    /// URL (`/.well-known/oauth-protected-resource` inserted before the path), then, if that
    /// is `404` and the resource has a path, at the host's root (as the MCP spec asks).
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            metadata_url: None,
            authorization_server: None,
            http_options: HttpOptions::default(),
            resolve: HashMap::new(),
        }
    }

    /// Discovery from a resource server's `WWW-Authenticate` value (RFC 9728 §5.1), for a
    /// request that went to `resource`: its `resource_metadata` URL is used when present,
    /// the well-known URL otherwise.
    pub fn from_challenge(resource: impl Into<String>, challenge: &str) -> Self {
        let mut discovery = Self::new(resource);
        discovery.metadata_url = challenge_param(challenge, "resource_metadata");
        discovery
    }

    /// Uses this authorization server (an issuer the metadata must list) instead of the first.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_server = Some(issuer.into());
        self
    }

    /// Timeouts and body cap for the metadata requests.
    pub fn http_options(mut self, options: HttpOptions) -> Self {
        self.http_options = options;
        self
    }

    /// Answers `host` with `ip` without asking DNS (tests, split-horizon setups), for this
    /// resource's metadata and its authorization server's.
    pub fn resolve(mut self, host: &str, ip: IpAddr) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.resolve.entry(host).or_default().push(ip);
        self
    }

    /// Fetches and checks the resource's metadata.
    pub async fn metadata(&self) -> Result<ProtectedResource> {
        let resource = resource_url(&self.resource)?;
        let (body, from) = match &self.metadata_url {
            Some(named) => {
                check_named_url(&resource, "resource_metadata", named)?;
                (self.get(&resource, named, true).await?, named.clone())
            }
            None => self.well_known(&resource).await?,
        };
        let metadata: ProtectedResource = parse_json(Endpoint::ResourceMetadata, &body)?;
        if Url::parse(&metadata.resource).ok().as_ref() != Some(&resource) {
            return Err(Error::ResourceMismatch {
                expected: resource.to_string(),
                found: truncate(&metadata.resource, 200),
            });
        }
        tracing::debug!(from = %truncate(&from, 200), "protected resource metadata checked");
        Ok(metadata)
    }

    /// Fetches the metadata and discovers the chosen authorization server (OpenID Connect
    /// Discovery, else RFC 8414, see [`Discovery`]).
    pub async fn discover(self) -> Result<(ProtectedResource, Provider)> {
        let metadata = self.metadata().await?;
        let issuer = self.pick_authorization_server(&metadata)?;
        check_named_url(
            &resource_url(&self.resource)?,
            "authorization_servers",
            &issuer,
        )?;
        let mut discovery = Discovery::new(issuer).http_options(self.http_options.clone());
        for (host, ips) in &self.resolve {
            for ip in ips {
                discovery = discovery.resolve(host, *ip);
            }
        }
        Ok((metadata, discovery.fetch().await?))
    }

    fn pick_authorization_server(&self, metadata: &ProtectedResource) -> Result<String> {
        let listed = &metadata.authorization_servers;
        let chosen = match &self.authorization_server {
            Some(wanted) => listed.iter().find(|s| *s == wanted),
            None => listed.first(),
        };
        chosen.cloned().ok_or_else(|| Error::InvalidResponse {
            endpoint: Endpoint::ResourceMetadata,
            reason: match &self.authorization_server {
                Some(wanted) => format!(
                    "`authorization_servers` does not list `{}`",
                    truncate(wanted, 200)
                ),
                None => "`authorization_servers` names no authorization server".to_owned(),
            },
        })
    }

    /// The path-inserted well-known URL, then the root one when the first is `404`.
    async fn well_known(&self, resource: &Url) -> Result<(Vec<u8>, String)> {
        let path = resource.path().trim_end_matches('/');
        let mut url = resource.clone();
        url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        let first = self.get(resource, url.as_str(), false).await;
        match first {
            Err(Error::Http { status: 404, .. }) if !path.is_empty() => {
                url.set_path("/.well-known/oauth-protected-resource");
                url.set_query(None);
                Ok((self.get(resource, url.as_str(), false).await?, url.into()))
            }
            other => Ok((other?, url.into())),
        }
    }

    /// `named`: the URL came from the resource server, so where it resolves to is checked.
    async fn get(&self, resource: &Url, url: &str, named: bool) -> Result<Vec<u8>> {
        let policy = named.then(|| AddressPolicy {
            allow_internal: resource.host().is_some_and(|h| !host_class(&h).is_public()),
        });
        let resolver = GuardedResolver::new(policy, self.resolve.clone());
        let http = Http::build(None, self.http_options.clone(), resolver)?;
        let request = http.client().get(url).header(ACCEPT, "application/json");
        Ok(http.send(Endpoint::ResourceMetadata, request).await?.body)
    }
}

/// The resource identifier: an http(s) URL without a fragment (RFC 9728 §1.2, RFC 8707 §2).
fn resource_url(resource: &str) -> Result<Url> {
    let url = Url::parse(resource)
        .map_err(|e| Error::Config(format!("the resource `{resource}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the resource `{resource}` must be an http(s) URL without a fragment"
        )));
    }
    Ok(url)
}

/// The SSRF policy of discovery documents for one URL the resource server named: its text; the
/// address it resolves to is checked on connecting.
fn check_named_url(resource: &Url, field: &str, value: &str) -> Result<()> {
    check_endpoint(field, value, &Origin::named(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_urls_follow_the_discovery_policy() {
        let public = Url::parse("https://mcp.example.com/mcp").unwrap();
        let local = Url::parse("http://127.0.0.1:8080/mcp").unwrap();
        let ok = |origin: &Url, v: &str| check_named_url(origin, "f", v).is_ok();
        assert!(ok(&public, "https://auth.example.com"));
        assert!(!ok(&public, "http://auth.example.com"), "no cleartext");
        assert!(!ok(&public, "https://169.254.169.254/latest/meta-data/"));
        assert!(!ok(&public, "https://10.0.0.5/"), "internal from public");
        assert!(!ok(&public, "file:///etc/passwd"));
        assert!(ok(&local, "http://127.0.0.1:9000"));
        assert!(!ok(&local, "http://169.254.169.254/"));
        assert!(
            !ok(&local, "http://auth.example.com"),
            "cleartext to public"
        );
    }

    #[test]
    fn resource_identifiers_have_no_fragment() {
        assert!(resource_url("https://mcp.example.com/mcp#x").is_err());
        assert!(resource_url("ftp://mcp.example.com/").is_err());
        assert!(resource_url("https://mcp.example.com/mcp?tenant=1").is_ok());
    }
}
