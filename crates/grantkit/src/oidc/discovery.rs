//! OpenID Connect Discovery 1.0 and RFC 8414 metadata, with the issuer check the specs demand
//! and an explicit override for providers that serve metadata from another host.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::ACCEPT;

use url::Url;

use crate::address::GuardedResolver;
use crate::error::{truncate, Endpoint, Error, Result};
use crate::http::{parse_json, trusting, Http, HttpOptions};
use crate::provider::{AuthMethod, Provider};
use crate::warm::{Fetch, Warm, WarmPolicy};

use super::metadata::{check_endpoints, check_endpoints_served, ProviderMetadata, ServedFrom};

impl ProviderMetadata {
    /// Turns the metadata into a [`Provider`] named `name`.
    ///
    /// The endpoints are treated as named by a remote document served from the issuer's host:
    /// when the client connects, the addresses their names resolve to are checked (loopback
    /// and private ones are refused unless the issuer is itself such a host; link-local and
    /// cloud metadata addresses always are).
    pub fn into_provider(self, name: impl Into<String>) -> Result<Provider> {
        let issuer = Url::parse(&self.issuer).ok();
        let served_from = self.served_from;
        let mut provider = self.into_unmarked_provider(name)?;
        provider.set_document_origin(issuer.as_ref(), served_from);
        Ok(provider)
    }

    fn into_unmarked_provider(self, name: impl Into<String>) -> Result<Provider> {
        let mut builder = Provider::builder(name).issuer(self.issuer.clone());
        let endpoints = [
            (&self.authorization_endpoint, Endpoint::Authorization),
            (&self.token_endpoint, Endpoint::Token),
            (&self.userinfo_endpoint, Endpoint::Userinfo),
            (&self.jwks_uri, Endpoint::Jwks),
            (&self.revocation_endpoint, Endpoint::Revocation),
            (&self.introspection_endpoint, Endpoint::Introspection),
            (
                &self.device_authorization_endpoint,
                Endpoint::DeviceAuthorization,
            ),
            (
                &self.pushed_authorization_request_endpoint,
                Endpoint::PushedAuthorization,
            ),
            (&self.end_session_endpoint, Endpoint::EndSession),
        ];
        for (url, endpoint) in endpoints {
            if let Some(url) = url {
                builder = builder.endpoint(endpoint, url);
            }
        }
        // `none` is not client authentication, and some providers (Keycloak) never list it
        // although they take public clients. Only a document that names `none` somewhere has
        // said where public clients are refused; from one that never does, `none` is implied.
        let silent_on_none = ![
            &self.token_endpoint_auth_methods_supported,
            &self.revocation_endpoint_auth_methods_supported,
            &self.introspection_endpoint_auth_methods_supported,
        ]
        .iter()
        .any(|names| names.iter().any(|m| m == "none"));
        let known = |names: &[String]| -> Vec<AuthMethod> {
            let mut methods: Vec<AuthMethod> = names
                .iter()
                .filter_map(|m| AuthMethod::from_name(m))
                .collect();
            if silent_on_none && !names.is_empty() {
                methods.push(AuthMethod::None);
            }
            methods
        };
        for (names, endpoint) in [
            (
                &self.revocation_endpoint_auth_methods_supported,
                Endpoint::Revocation,
            ),
            (
                &self.introspection_endpoint_auth_methods_supported,
                Endpoint::Introspection,
            ),
        ] {
            // An empty list declares nothing; a list of methods grantkit lacks still excludes
            // every method it has.
            if !names.is_empty() {
                builder = builder.endpoint_auth_methods(endpoint, known(names));
            }
        }
        for (member, url) in self.mtls_endpoint_aliases.iter().flatten() {
            // Members grantkit never calls are kept in the metadata only; the policy check
            // refused a non-string alias of one it calls before this point.
            if let (Some(endpoint), Some(url)) =
                (crate::mtls::aliased_endpoint(member), url.as_str())
            {
                builder = builder.mtls_endpoint_alias(endpoint, url);
            }
        }
        builder
            .auth_methods(known(&self.token_endpoint_auth_methods_supported))
            .iss_parameter_supported(self.authorization_response_iss_parameter_supported)
            .require_pushed_authorization_requests(self.require_pushed_authorization_requests)
            .id_token_signing_algs(self.id_token_signing_alg_values_supported.clone())
            .userinfo_signing_algs(self.userinfo_signing_alg_values_supported.clone())
            .introspection_signing_algs(self.introspection_signing_alg_values_supported.clone())
            .metadata(Arc::new(self))
            .build()
    }

    /// Checks the endpoints with the policy [`Discovery`] applies to a fetched document, as if
    /// the document had come from `location`: for endpoints recorded earlier and read back from
    /// storage that someone else may have changed. An unsafe one is [`Error::UnsafeEndpoint`].
    pub fn check_endpoints(&self, location: &str) -> Result<()> {
        check_endpoints(location, self)
    }
}

/// Fetches a provider's metadata and builds a [`Provider`] from it.
///
/// The issuer in the document must equal the issuer the metadata was looked up for (OpenID
/// Connect Discovery §4.3, RFC 8414 §3.3): a document claiming another issuer is refused. For
/// providers that serve their metadata from another host than their issuer (Polar.sh serves it
/// from `api.polar.sh` with issuer `https://polar.sh`), name the issuer explicitly with
/// [`Discovery::expected_issuer`]: the check still runs, against that value.
///
/// Results are cached per process for an hour (see [`Discovery::cache_ttl`]), kept warm and
/// served through an outage of the discovery endpoint (see [`Discovery::metadata`]), unless
/// extra roots were given (see [`Discovery::root_certificate`]).
///
/// ```no_run
/// # async fn run() -> Result<(), grantkit::Error> {
/// use grantkit::oidc::Discovery;
/// let google = Discovery::new("https://accounts.google.com").fetch().await?;
/// let polar = Discovery::new("https://api.polar.sh")
///     .expected_issuer("https://polar.sh")
///     .fetch()
///     .await?;
/// # let _ = (google, polar); Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Discovery {
    location: String,
    expected_issuer: Option<String>,
    name: Option<String>,
    cache_ttl: Duration,
    max_stale: Duration,
    http_options: HttpOptions,
    resolve: HashMap<String, Vec<IpAddr>>,
    root_certificates: Vec<reqwest::Certificate>,
}

/// Keyed by location, expected issuer and every setting that changes how the document is
/// fetched or kept, so two configurations never share an entry.
type CacheMap = HashMap<(String, String, String), Arc<Warm<DiscoveryFetch>>>;

/// Fetches and checks one discovery document, for the process-wide cache.
struct DiscoveryFetch {
    discovery: Discovery,
    expected: String,
}

impl Fetch for DiscoveryFetch {
    type Value = Arc<ProviderMetadata>;

    async fn fetch(&self) -> Result<Arc<ProviderMetadata>> {
        Ok(Arc::new(
            self.discovery.fetch_checked(&self.expected).await?,
        ))
    }
}

fn cache() -> &'static Mutex<CacheMap> {
    static CACHE: OnceLock<Mutex<CacheMap>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl Discovery {
    /// Discovery for `issuer` (its metadata is looked up under `/.well-known/` of that URL).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            location: issuer.into(),
            expected_issuer: None,
            name: None,
            cache_ttl: Duration::from_secs(3600),
            max_stale: Duration::from_secs(24 * 3600),
            http_options: HttpOptions::default(),
            resolve: HashMap::new(),
            root_certificates: Vec::new(),
        }
    }

    /// The issuer the document must name, when it differs from the URL the metadata is served
    /// from. This never disables the check; it says what the right answer is.
    pub fn expected_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.expected_issuer = Some(issuer.into());
        self
    }

    /// The provider's name in errors (default: the issuer).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long fetched metadata is reused in this process; `Duration::ZERO` disables caching.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long after the last good fetch a cached document is still served while the
    /// discovery endpoint fails (default 24 hours; never less than the cache TTL).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Answers `host` with `ip` without asking DNS, for the metadata request (split-horizon
    /// setups, tests). Give the client the same override with
    /// [`ClientBuilder::resolve`](crate::ClientBuilder::resolve).
    pub fn resolve(mut self, host: &str, ip: IpAddr) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.resolve.entry(host).or_default().push(ip);
        self
    }

    /// Trusts one more root certificate (a private CA, as for an internal Keycloak) for the
    /// metadata request, in addition to the system's roots: the same certificate type as
    /// [`ClientBuilder::root_certificate`](crate::ClientBuilder::root_certificate). The
    /// provider [`fetch`](Discovery::fetch) returns carries it, so a [`Client`](crate::Client)
    /// built from that provider trusts it for every call, its JWKS fetches included.
    ///
    /// Only trust is added: the issuer check and the endpoint policy are the same, and there
    /// is no switch to accept invalid certificates. A discovery given extra roots is not kept
    /// in the process-wide cache (certificates cannot be compared, and a document vouched for
    /// by one configuration's root must not reach one that does not trust it): fetch once and
    /// keep the [`Provider`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use grantkit::oidc::Discovery;
    /// let ca = reqwest::Certificate::from_pem(&std::fs::read("internal-ca.pem")?)?;
    /// let provider = Discovery::new("https://sso.corp.example/realms/main")
    ///     .root_certificate(ca)
    ///     .fetch()
    ///     .await?;
    /// # let _ = provider; Ok(()) }
    /// ```
    pub fn root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Timeouts and body cap for the metadata request.
    pub fn http_options(mut self, options: HttpOptions) -> Self {
        self.http_options = options;
        self
    }

    /// Fetches (or reuses) the metadata and returns the provider.
    pub async fn fetch(self) -> Result<Provider> {
        let metadata = self.metadata().await?;
        let name = self.name.unwrap_or_else(|| metadata.issuer.clone());
        let served_from = metadata.served_from;
        let mut provider = ProviderMetadata::clone(&metadata).into_provider(name)?;
        // The document's own location and the address it came from, not its issuer, say
        // whether internal hosts are fair.
        provider.set_document_origin(Url::parse(&self.location).ok().as_ref(), served_from);
        provider.set_root_certificates(self.root_certificates);
        Ok(provider)
    }

    /// Fetches (or reuses) the checked metadata document.
    ///
    /// The cached document is kept warm like the JWKS: one fetch for any number of concurrent
    /// callers, refreshed in the background in the last quarter of its lifetime, and served
    /// for up to [`max_stale`](Discovery::max_stale) (24 hours by default) while the discovery
    /// endpoint fails, which it is asked again no sooner than a doubling backoff (1 s to 60 s).
    /// Discoveries with the same location, expected issuer and settings share one cache entry.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>> {
        let expected = self
            .expected_issuer
            .clone()
            .unwrap_or_else(|| self.location.clone());
        // Extra roots cannot be compared, so a cache key could not keep two such discoveries
        // (or one with roots and one without) apart.
        if self.cache_ttl.is_zero() || !self.root_certificates.is_empty() {
            return Ok(Arc::new(self.fetch_checked(&expected).await?));
        }
        let key = (self.location.clone(), expected.clone(), self.settings_key());
        let warm = cache()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert_with(|| {
                let policy = WarmPolicy {
                    ttl: self.cache_ttl,
                    max_stale: self.max_stale.max(self.cache_ttl),
                    retry_min: Duration::from_secs(1),
                    retry_max: Duration::from_secs(60),
                };
                let fetch = DiscoveryFetch {
                    discovery: self.clone(),
                    expected,
                };
                Arc::new(Warm::new(fetch, policy))
            })
            .clone();
        warm.get().await
    }

    /// The settings that change the fetch or the cache policy, as one comparable string.
    fn settings_key(&self) -> String {
        let mut overrides: Vec<_> = self.resolve.iter().collect();
        overrides.sort();
        format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.http_options, overrides, self.cache_ttl, self.max_stale
        )
    }

    async fn fetch_checked(&self, expected: &str) -> Result<ProviderMetadata> {
        // The location is the application's choice: no address policy, only its overrides.
        let resolver = GuardedResolver::new(None, self.resolve.clone());
        let builder = trusting(None, &self.http_options, &self.root_certificates);
        let http = Http::build(builder, self.http_options.clone(), resolver)?;
        let (oidc, oauth) = well_known_urls(&self.location)?;
        let response = match self.get(&http, oidc).await {
            // RFC 8414 fallback for plain OAuth servers without an OpenID configuration.
            Err(Error::Http { status: 404, .. }) => self.get(&http, oauth).await?,
            other => other?,
        };
        let mut metadata: ProviderMetadata = parse_json(Endpoint::Discovery, &response.body)?;
        metadata.served_from = ServedFrom::of(
            response.remote.map(|a| a.ip()),
            crate::address::proxied_by_environment(),
        );
        check_endpoints_served(&self.location, metadata.served_from, &metadata)?;
        if metadata.issuer != expected {
            return Err(Error::IssuerMismatch {
                expected: expected.to_owned(),
                found: truncate(&metadata.issuer, 200),
            });
        }
        Ok(metadata)
    }

    async fn get(&self, http: &Http, url: Url) -> Result<crate::http::Response> {
        let request = http.client().get(url).header(ACCEPT, "application/json");
        http.send(Endpoint::Discovery, request).await
    }
}

/// OpenID Connect appends `/.well-known/openid-configuration` to the issuer; RFC 8414 inserts
/// `/.well-known/oauth-authorization-server` between host and path.
fn well_known_urls(location: &str) -> Result<(Url, Url)> {
    let base = Url::parse(location)
        .map_err(|e| Error::Config(format!("the issuer `{location}` is not a valid URL: {e}")))?;
    if base.query().is_some() || base.fragment().is_some() {
        return Err(Error::Config(format!(
            "the issuer `{location}` must not have a query or fragment"
        )));
    }
    let path = base.path().trim_end_matches('/').to_owned();
    let mut oidc = base.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut oauth = base;
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok((oidc, oauth))
}

impl Provider {
    /// Shorthand for `Discovery::new(issuer).fetch()`.
    pub async fn discover(issuer: &str) -> Result<Provider> {
        Discovery::new(issuer).fetch().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_paths() {
        let (oidc, oauth) = well_known_urls("https://op.example/tenant/").unwrap();
        assert_eq!(
            oidc.as_str(),
            "https://op.example/tenant/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth.as_str(),
            "https://op.example/.well-known/oauth-authorization-server/tenant"
        );
        let (oidc, oauth) = well_known_urls("https://op.example").unwrap();
        assert_eq!(
            oidc.as_str(),
            "https://op.example/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth.as_str(),
            "https://op.example/.well-known/oauth-authorization-server"
        );
        assert!(well_known_urls("https://op.example/?x=1").is_err());
    }

    fn doc(token_endpoint: &str) -> ProviderMetadata {
        serde_json::from_value(
            serde_json::json!({"issuer": "https://op.example", "token_endpoint": token_endpoint}),
        )
        .unwrap()
    }

    /// Each signed response keeps its own list (OpenID Connect Discovery §3, RFC 9701 §7), and
    /// the saved JSON form keeps them too.
    #[test]
    fn discovered_userinfo_and_introspection_algorithms_are_kept_apart_from_id_tokens() {
        let meta: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://op.example", "token_endpoint": "https://op.example/token",
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["ES256"],
            "introspection_signing_alg_values_supported": ["PS256"],
        }))
        .unwrap();
        let provider = meta.into_provider("op").unwrap();
        let saved: Provider =
            serde_json::from_value(serde_json::to_value(&provider).unwrap()).unwrap();
        for p in [&provider, &saved] {
            assert_eq!(p.id_token_signing_algs(), ["RS256"]);
            assert_eq!(p.userinfo_signing_algs(), ["ES256"]);
            assert_eq!(p.introspection_signing_algs(), ["PS256"]);
        }
    }

    #[test]
    fn endpoint_policy_refuses_ssrf_targets() {
        let ok = |loc: &str, ep: &str| check_endpoints(loc, &doc(ep)).is_ok();
        assert!(
            ok("https://op.example", "https://api.op.example/token"),
            "another public host is fine (Polar does it)"
        );
        assert!(
            ok("http://127.0.0.1:8080", "http://127.0.0.1:8080/token"),
            "local development"
        );
        assert!(
            !ok("https://op.example", "http://op.example/token"),
            "no downgrade to http"
        );
        assert!(!ok("https://op.example", "file:///etc/passwd"));
        assert!(
            !ok(
                "http://127.0.0.1:8080",
                "http://169.254.169.254/latest/meta-data/"
            ),
            "link-local, always"
        );
        assert!(!ok("https://op.example", "https://[fe80::1]/token"));
        assert!(
            !ok("https://op.example", "https://127.0.0.1/token"),
            "public document, loopback target"
        );
        assert!(!ok("https://op.example", "https://10.0.0.5/token"));
        assert!(!ok("https://op.example", "https://localhost/token"));
        assert!(!ok(
            "https://op.example",
            "https://[::ffff:192.168.1.1]/token"
        ));
        let e = check_endpoints("https://op.example", &doc("https://192.168.0.1/t")).unwrap_err();
        assert!(
            matches!(e, Error::UnsafeEndpoint { ref field, .. } if field == "token_endpoint"),
            "{e}"
        );
    }

    #[test]
    fn ssrf_text_policy_refuses_cgnat_benchmarking_nat64_and_internal_names() {
        let refused = |loc: &str, ep: &str| check_endpoints(loc, &doc(ep)).is_err();
        for target in [
            "https://100.100.100.200/latest/meta-data/",
            "https://100.64.0.1/token",
            "https://198.18.0.1/token",
            "https://0.0.0.1/token",
            "https://224.0.0.1/token",
            "https://255.255.255.255/token",
            "https://[::a9fe:a9fe]/token",
            "https://[64:ff9b::a9fe:a9fe]/token",
            "https://[64:ff9b::a00:1]/token",
            "https://[fd00::1]/token",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://vault.internal/token",
            "https://localhost./token",
        ] {
            assert!(refused("https://op.example", target), "{target}");
        }
        // Metadata services stay refused for a local document too; internal hosts do not.
        assert!(refused(
            "http://127.0.0.1:8080",
            "http://100.100.100.200/latest/meta-data/"
        ));
        assert!(refused(
            "http://127.0.0.1:8080",
            "http://metadata.google.internal/"
        ));
        assert!(!refused("http://127.0.0.1:8080", "http://10.0.0.5/token"));
    }

    #[test]
    fn plain_http_endpoints_need_a_loopback_issuer() {
        let refused = |loc: &str, ep: &str| check_endpoints(loc, &doc(ep)).is_err();
        assert!(refused(
            "http://10.0.0.5:8080",
            "http://10.0.0.5:8080/token"
        ));
        assert!(refused("http://op.example", "http://op.example/token"));
        assert!(!refused(
            "http://localhost:3000",
            "http://localhost:3000/token"
        ));
        assert!(!refused("http://[::1]:3000", "http://[::1]:3000/token"));
        // A document from the machine itself never sends a secret in cleartext to a public host.
        assert!(refused(
            "http://localhost:3000",
            "http://op.example.com/token"
        ));
        assert!(refused("http://127.0.0.1:3000", "http://203.0.113.7/token"));
        assert!(!refused(
            "http://10.0.0.5:8080",
            "https://10.0.0.5:8443/token"
        ));
    }

    #[test]
    fn a_proxy_peer_never_makes_a_document_internal() {
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(ServedFrom::of(ip("127.0.0.1"), false), ServedFrom::Loopback);
        assert_eq!(
            ServedFrom::of(ip("::ffff:127.0.0.1"), false),
            ServedFrom::Loopback
        );
        assert_eq!(ServedFrom::of(ip("10.1.2.3"), false), ServedFrom::Internal);
        assert_eq!(ServedFrom::of(ip("203.0.113.7"), false), ServedFrom::Public);
        // Through a local or corporate proxy the peer is the proxy: the relaxed rules of an
        // internal document must not follow from it.
        assert_eq!(ServedFrom::of(ip("127.0.0.1"), true), ServedFrom::Public);
        assert_eq!(ServedFrom::of(ip("10.1.2.3"), true), ServedFrom::Public);
    }

    #[test]
    fn a_document_that_never_names_none_is_silent_on_public_clients() {
        let doc = |token: &[&str], revocation: &[&str]| -> Provider {
            let meta: ProviderMetadata = serde_json::from_value(serde_json::json!({
                "issuer": "https://op.example",
                "token_endpoint": "https://op.example/token",
                "revocation_endpoint": "https://op.example/revoke",
                "token_endpoint_auth_methods_supported": token,
                "revocation_endpoint_auth_methods_supported": revocation,
            }))
            .unwrap();
            meta.into_provider("op").unwrap()
        };
        // Keycloak's shape: confidential methods only, everywhere.
        let silent = doc(
            &["client_secret_basic", "private_key_jwt"],
            &["client_secret_basic"],
        );
        assert!(silent.auth_methods().contains(&AuthMethod::None));
        assert!(silent
            .endpoint_auth_methods(Endpoint::Revocation)
            .unwrap()
            .contains(&AuthMethod::None));
        // A document that names `none` has said where it is refused.
        let explicit = doc(&["client_secret_basic", "none"], &["client_secret_basic"]);
        assert!(explicit.auth_methods().contains(&AuthMethod::None));
        assert!(!explicit
            .endpoint_auth_methods(Endpoint::Revocation)
            .unwrap()
            .contains(&AuthMethod::None));
    }

    #[test]
    fn tolerant_metadata() {
        let doc: ProviderMetadata = serde_json::from_str(
            r#"{"issuer":"https://polar.sh","token_endpoint":"https://api.polar.sh/v1/oauth2/token",
                "token_endpoint_auth_methods_supported":["client_secret_basic","attest_jwt_client_auth"],
                "x_vendor":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(doc.extra["x_vendor"]["a"], 1);
        let provider = doc.into_provider("polar").unwrap();
        // The document never names `none`: public clients are implied.
        assert_eq!(
            provider.auth_methods(),
            [AuthMethod::ClientSecretBasic, AuthMethod::None]
        );
        let e = provider.endpoint(Endpoint::Authorization).unwrap_err();
        assert!(matches!(e, Error::MissingEndpoint { .. }));
        assert_eq!(provider.metadata().unwrap().issuer, "https://polar.sh");
    }

    #[test]
    fn device_and_par_metadata_reach_the_provider() {
        let doc: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://op.example",
            "device_authorization_endpoint": "https://op.example/device/auth",
            "pushed_authorization_request_endpoint": "https://op.example/par",
            "require_pushed_authorization_requests": true,
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_jwt"],
        }))
        .unwrap();
        let provider = doc.into_provider("op").unwrap();
        assert_eq!(
            provider
                .endpoint(Endpoint::DeviceAuthorization)
                .unwrap()
                .as_str(),
            "https://op.example/device/auth"
        );
        assert_eq!(
            provider
                .endpoint(Endpoint::PushedAuthorization)
                .unwrap()
                .as_str(),
            "https://op.example/par"
        );
        assert!(provider.requires_pushed_authorization_requests());
        assert_eq!(
            provider.auth_methods(),
            [
                AuthMethod::PrivateKeyJwt,
                AuthMethod::ClientSecretJwt,
                AuthMethod::None
            ]
        );
    }
}
