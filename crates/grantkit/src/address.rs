//! Which hosts and addresses grantkit calls when a discovery document names them: the text of
//! an endpoint URL is checked when the document is read, and the addresses a name resolves to
//! are checked again when the connection is made (a public-looking name can resolve to a cloud
//! metadata service, or be re-pointed after the document was checked).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Where an address or host name points, for the SSRF policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostClass {
    /// Anything routed on the internet.
    Public,
    /// The machine itself or its networks: callable only when the document came from such a host
    /// (local development, tests). The text says what kind.
    Internal(&'static str),
    /// Never called: cloud metadata services, link-local, multicast and reserved ranges.
    Forbidden(&'static str),
}

impl HostClass {
    pub(crate) fn is_public(self) -> bool {
        self == HostClass::Public
    }
}

/// Classifies a URL host by its text: an IP literal by its range, a name by the names that
/// are internal by convention (`localhost`, `*.internal`, cloud metadata names).
pub(crate) fn host_class(host: &url::Host<&str>) -> HostClass {
    match host {
        url::Host::Domain(name) => name_class(name),
        url::Host::Ipv4(v4) => ipv4_class(*v4),
        url::Host::Ipv6(v6) => ipv6_class(*v6),
    }
}

fn name_class(name: &str) -> HostClass {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let under = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
    if matches!(
        name.as_str(),
        "metadata.google.internal" | "metadata" | "metadata.goog" | "instance-data"
    ) {
        return HostClass::Forbidden("a cloud metadata service name");
    }
    if under("localhost") {
        return HostClass::Internal("a loopback name");
    }
    if under("internal") || under("local") || under("localdomain") || !name.contains('.') {
        return HostClass::Internal("an internal name");
    }
    HostClass::Public
}

/// Loopback by text: `localhost` names, 127/8, `::1` (and its v4-mapped form).
pub(crate) fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        url::Host::Ipv4(v4) => v4.is_loopback(),
        url::Host::Ipv6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Classifies one address by its range.
pub(crate) fn ip_class(ip: IpAddr) -> HostClass {
    match ip {
        IpAddr::V4(v4) => ipv4_class(v4),
        IpAddr::V6(v6) => ipv6_class(v6),
    }
}

fn ipv4_class(v4: Ipv4Addr) -> HostClass {
    let [a, b, c, d] = v4.octets();
    match (a, b, c, d) {
        // Alibaba Cloud's metadata service sits inside the shared (CGNAT) range.
        (100, 100, 100, 200) | (169, 254, ..) => {
            HostClass::Forbidden("a link-local or cloud metadata address")
        }
        // Azure's platform endpoint (wire server), reachable from every VM.
        (168, 63, 129, 16) => HostClass::Forbidden("a cloud metadata address"),
        (224..=255, ..) => HostClass::Forbidden("a multicast, reserved or broadcast address"),
        (127, ..) => HostClass::Internal("a loopback address"),
        (0, ..) => HostClass::Internal("a `this network` address (0.0.0.0/8)"),
        (10, ..) | (172, 16..=31, ..) | (192, 168, ..) => HostClass::Internal("a private address"),
        (100, 64..=127, ..) => HostClass::Internal("a shared (CGNAT) address (100.64.0.0/10)"),
        (198, 18..=19, ..) => HostClass::Internal("a benchmarking address (198.18.0.0/15)"),
        (192, 0, 0, _) => HostClass::Internal("an IETF protocol address (192.0.0.0/24)"),
        _ => HostClass::Public,
    }
}

fn ipv6_class(v6: Ipv6Addr) -> HostClass {
    if v6.is_loopback() {
        return HostClass::Internal("a loopback address");
    }
    if v6.is_unspecified() {
        return HostClass::Internal("the unspecified address");
    }
    if let Some(v4) = embedded_ipv4(v6) {
        // Mapped, compatible, NAT64 and 6to4 forms reach the IPv4 address they embed.
        return ipv4_class(v4);
    }
    let s = v6.segments();
    // AWS's IPv6 metadata service is a unique-local address.
    if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        return HostClass::Forbidden("a cloud metadata address");
    }
    match s[0] {
        0xfe80..=0xfebf => HostClass::Forbidden("a link-local address"),
        0xff00..=0xffff => HostClass::Forbidden("a multicast address"),
        0xfc00..=0xfdff => HostClass::Internal("a unique-local address (fc00::/7)"),
        0xfec0..=0xfeff => HostClass::Internal("a site-local address (fec0::/10)"),
        _ => HostClass::Public,
    }
}

/// The IPv4 address an IPv6 address stands for: v4-mapped `::ffff:a.b.c.d`, v4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` (and the local-use `64:ff9b:1::/48`), 6to4 `2002:ab:cd::`.
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Some(low(s[6], s[7])),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// The resolved-address policy for endpoints named by a remote discovery document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AddressPolicy {
    /// The document came from a loopback or internal host (local development, tests): internal
    /// addresses stay callable. Forbidden ones never are.
    pub(crate) allow_internal: bool,
}

impl AddressPolicy {
    /// Why `ip` may not be called, if it may not.
    pub(crate) fn refuses(self, ip: IpAddr) -> Option<&'static str> {
        match ip_class(ip) {
            HostClass::Public => None,
            HostClass::Internal(_) if self.allow_internal => None,
            HostClass::Internal(why) | HostClass::Forbidden(why) => Some(why),
        }
    }
}

/// A name resolved to an address the policy refuses; the connection is never attempted.
#[derive(Debug)]
pub(crate) struct RefusedAddress {
    pub(crate) host: String,
    pub(crate) ip: IpAddr,
    pub(crate) why: &'static str,
}

impl fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` resolves to {}, {}; refused before connecting",
            crate::error::truncate(&self.host, 100),
            self.ip,
            self.why
        )
    }
}

impl std::error::Error for RefusedAddress {}

/// A DNS resolver that checks every address a name resolves to against an [`AddressPolicy`]
/// before reqwest may connect, so DNS cannot turn a checked endpoint into an internal one.
#[derive(Clone, Debug, Default)]
pub(crate) struct GuardedResolver {
    /// `None`: no check (the endpoints did not come from a remote document); overrides only.
    pub(crate) policy: Option<AddressPolicy>,
    /// Names answered without DNS (tests, split-horizon setups); still checked by the policy.
    pub(crate) overrides: Arc<HashMap<String, Vec<IpAddr>>>,
    /// Proxy hosts from the environment: reqwest resolves the proxy, not the endpoint, when
    /// one is set, and a corporate proxy is internal by nature.
    pub(crate) exempt: Arc<Vec<String>>,
}

impl GuardedResolver {
    /// The resolver for a client: `policy` when its endpoints came from a remote document.
    pub(crate) fn new(
        policy: Option<AddressPolicy>,
        overrides: HashMap<String, Vec<IpAddr>>,
    ) -> Self {
        let exempt = if policy.is_some() {
            env_proxy_hosts()
        } else {
            Vec::new()
        };
        Self {
            policy,
            overrides: Arc::new(overrides),
            exempt: Arc::new(exempt),
        }
    }

    fn check(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), RefusedAddress> {
        let Some(policy) = self.policy else {
            return Ok(());
        };
        if self.exempt.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Ok(());
        }
        // One refused address refuses the name: a mixed answer is how rebinding attacks start.
        match addrs
            .iter()
            .find_map(|a| Some((a.ip(), policy.refuses(a.ip())?)))
        {
            Some((ip, why)) => Err(RefusedAddress {
                host: host.to_owned(),
                ip,
                why,
            }),
            None => Ok(()),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match this
                .overrides
                .get(&host.trim_end_matches('.').to_ascii_lowercase())
            {
                Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
                None => lookup(host.clone()).await?,
            };
            this.check(&host, &addrs)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The system resolver (getaddrinfo), off the async threads as reqwest's own does it.
async fn lookup(host: String) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    use std::net::ToSocketAddrs;
    let addrs = tokio::task::spawn_blocking(move || (host.as_str(), 0).to_socket_addrs()).await??;
    Ok(addrs.collect())
}

/// Whether reqwest sends requests through a proxy taken from the environment: then a
/// response's peer address is the proxy's.
pub(crate) fn proxied_by_environment() -> bool {
    !env_proxy_hosts().is_empty()
}

/// The hosts of the proxies reqwest takes from the environment (`HTTPS_PROXY`...).
fn env_proxy_hosts() -> Vec<String> {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .filter_map(|var| std::env::var(var).ok())
    .filter_map(|value| proxy_host(&value))
    .collect()
}

/// The host of a proxy setting, which may omit the scheme as reqwest allows.
fn proxy_host(value: &str) -> Option<String> {
    let value = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let url = url::Url::parse(&value).ok()?;
    Some(url.host_str()?.trim_matches(['[', ']']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(host: &str) -> HostClass {
        host_class(
            &url::Url::parse(&format!("https://{host}/"))
                .unwrap()
                .host()
                .unwrap(),
        )
    }

    fn forbidden(host: &str) -> bool {
        matches!(class(host), HostClass::Forbidden(_))
    }

    fn internal(host: &str) -> bool {
        matches!(class(host), HostClass::Internal(_))
    }

    #[test]
    fn metadata_link_local_multicast_and_reserved_are_never_called() {
        for host in [
            "169.254.169.254",
            "100.100.100.200",
            "168.63.129.16",
            "[fe80::1]",
            "[fd00:ec2::254]",
            "[::a9fe:a9fe]",
            "[::ffff:169.254.169.254]",
            "[64:ff9b::a9fe:a9fe]",
            "[64:ff9b::100.100.100.200]",
            "[2002:a9fe:a9fe::1]",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "[ff02::1]",
            "metadata.google.internal",
            "METADATA.GOOGLE.INTERNAL.",
            "metadata",
        ] {
            assert!(forbidden(host), "{host}: {:?}", class(host));
        }
    }

    #[test]
    fn internal_ranges_and_names_are_internal() {
        for host in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "198.18.0.1",
            "198.19.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "[::1]",
            "[::]",
            "[fc00::1]",
            "[fd12:3456::1]",
            "[::ffff:10.0.0.1]",
            "[::ffff:127.0.0.1]",
            "[::7f00:1]",
            "[64:ff9b::10.0.0.1]",
            "[64:ff9b:1::a00:1]",
            "[2002:c0a8:101::]",
            "localhost",
            "api.localhost",
            "vault.internal",
            "db.corp.internal.",
            "printer.local",
            "keycloak",
        ] {
            assert!(internal(host), "{host}: {:?}", class(host));
        }
    }

    #[test]
    fn public_hosts_stay_public() {
        for host in [
            "op.example.com",
            "accounts.google.com",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "[2001:4860:4860::8888]",
            "[64:ff9b::8.8.8.8]",
            "internal.example.com",
        ] {
            assert_eq!(class(host), HostClass::Public, "{host}");
        }
    }

    #[test]
    fn proxy_settings_name_their_host() {
        assert_eq!(
            proxy_host("http://proxy.corp:3128").as_deref(),
            Some("proxy.corp")
        );
        assert_eq!(proxy_host("proxy.corp:3128").as_deref(), Some("proxy.corp"));
        assert_eq!(
            proxy_host("socks5://user:pw@[fd00::1]:1080").as_deref(),
            Some("fd00::1")
        );
        assert_eq!(proxy_host(""), None);
    }

    #[test]
    fn a_proxy_from_the_environment_is_not_refused_but_endpoints_are() {
        let mut resolver = GuardedResolver::new(
            Some(AddressPolicy {
                allow_internal: false,
            }),
            HashMap::new(),
        );
        resolver.exempt = Arc::new(vec!["proxy.corp".to_owned()]);
        let internal = [SocketAddr::new("10.0.0.8".parse().unwrap(), 0)];
        assert!(resolver.check("PROXY.corp", &internal).is_ok());
        let refused = resolver.check("op.example.com", &internal).unwrap_err();
        assert!(refused.to_string().contains("op.example.com"), "{refused}");
    }

    #[test]
    fn the_policy_allows_internal_addresses_only_for_an_internal_origin() {
        let public = AddressPolicy {
            allow_internal: false,
        };
        let local = AddressPolicy {
            allow_internal: true,
        };
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let cgnat: IpAddr = "100.64.1.1".parse().unwrap();
        assert!(public.refuses(loopback).is_some());
        assert!(public.refuses(cgnat).is_some());
        assert!(local.refuses(loopback).is_none());
        assert!(local.refuses(metadata).is_some());
        assert!(public.refuses("93.184.216.34".parse().unwrap()).is_none());
    }
}
