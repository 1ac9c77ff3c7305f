//! [`StoreKey`]: which user's tokens a shared store holds, and the refresh lock's name.

use std::fmt;

use crate::client::Client;
use crate::error::Endpoint;
use crate::provider::Provider;

/// Which tokens a shared store holds: the provider, the OAuth client at it, and the subject (the
/// application's user id, or the provider's `sub`). One engine serves many users; each
/// `(provider, client, subject)` has its own tokens and its own refresh lock.
///
/// None of the three is a secret; they appear in [`TokenStore::describe`](crate::store::TokenStore::describe)
/// and so in error messages.
///
/// ```
/// use grantkit::store::StoreKey;
/// let key = StoreKey::new("polar", "polar_ci_123", "user:42");
/// assert_eq!(key.canonical(), "polar:polar_ci_123:user%3A42"); // `:` and `%` escaped
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreKey {
    provider: String,
    client: String,
    subject: String,
}

impl StoreKey {
    /// The key of `subject`'s tokens for the client `client` at the provider `provider`.
    pub fn new(
        provider: impl Into<String>,
        client: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            client: client.into(),
            subject: subject.into(),
        }
    }

    /// The key of `subject`'s tokens for `client`: its provider's identity (below) and its
    /// client id.
    ///
    /// The provider's identity is `<issuer> <token endpoint>`, not its display name: two
    /// tenants' providers may share a name (or an issuer: Polar.sh production and sandbox are
    /// both `https://polar.sh`, with different token endpoints), and their `sub` values may
    /// collide. Each part has `%` and space percent-encoded, so the space always separates them;
    /// a provider without an issuer has an empty first part, and one without a token endpoint
    /// (it cannot refresh) `%` and its name instead — never a URL, which starts with a letter.
    ///
    /// Keys made by grantkit 0.1 used the provider's name: see the migration in
    /// `docs/scaling.md`.
    pub fn for_client(client: &Client, subject: impl Into<String>) -> Self {
        Self::new(
            provider_identity(client.provider()),
            client.client_id(),
            subject,
        )
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The client id.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The subject (user).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `provider:client:subject`, with `%` and `:` inside each part percent-encoded, so that
    /// two different keys never give the same string. Used as the Redis key suffix, as the
    /// additional authenticated data of sealed tokens, and to derive lock ids.
    pub fn canonical(&self) -> String {
        fn escape(part: &str, out: &mut String) {
            for c in part.chars() {
                match c {
                    '%' => out.push_str("%25"),
                    ':' => out.push_str("%3A"),
                    c => out.push(c),
                }
            }
        }
        let mut out =
            String::with_capacity(self.provider.len() + self.client.len() + self.subject.len() + 2);
        escape(&self.provider, &mut out);
        out.push(':');
        escape(&self.client, &mut out);
        out.push(':');
        escape(&self.subject, &mut out);
        out
    }
}

/// The provider part of [`StoreKey::for_client`].
fn provider_identity(provider: &Provider) -> String {
    let escape = |part: &str| part.replace('%', "%25").replace(' ', "%20");
    let issuer = escape(provider.issuer().unwrap_or(""));
    match provider.endpoint(Endpoint::Token) {
        Ok(token) => format!("{issuer} {}", escape(token.as_str())),
        Err(_) => format!("{issuer} %{}", escape(provider.name())),
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "provider `{}`, client `{}`, subject `{}`",
            self.provider, self.client, self.subject
        )
    }
}

#[cfg(test)]
pub(in crate::store) mod tests {
    use super::*;

    #[test]
    fn canonical_keys_are_unambiguous() {
        let a = StoreKey::new("p", "a:b", "c");
        let b = StoreKey::new("p", "a", "b:c");
        assert_ne!(a.canonical(), b.canonical());
        assert_eq!(StoreKey::new("p%", "", "x").canonical(), "p%25::x");
    }

    pub(in crate::store) fn client_at(
        name: &str,
        issuer: Option<&str>,
        token_endpoint: &str,
    ) -> Client {
        let mut provider = crate::Provider::builder(name).token_endpoint(token_endpoint);
        if let Some(issuer) = issuer {
            provider = provider.issuer(issuer);
        }
        Client::builder(provider.build().unwrap(), "client-1")
            .build()
            .unwrap()
    }

    #[test]
    fn providers_with_the_same_name_but_different_issuers_get_different_keys() {
        let a = client_at(
            "Acme",
            Some("https://a.example"),
            "https://op.example/token",
        );
        let b = client_at(
            "Acme",
            Some("https://b.example"),
            "https://op.example/token",
        );
        let (ka, kb) = (
            StoreKey::for_client(&a, "sub-1"),
            StoreKey::for_client(&b, "sub-1"),
        );
        assert_ne!(ka, kb);
        assert_ne!(ka.canonical(), kb.canonical());
        // Without an issuer, the token endpoint tells them apart.
        let c = client_at("Acme", None, "https://c.example/token");
        let d = client_at("Acme", None, "https://d.example/token");
        assert_ne!(
            StoreKey::for_client(&c, "s").canonical(),
            StoreKey::for_client(&d, "s").canonical()
        );
        // Renaming a provider does not orphan its users' rows.
        let renamed = client_at(
            "Acme Inc.",
            Some("https://a.example"),
            "https://op.example/token",
        );
        assert_eq!(StoreKey::for_client(&renamed, "sub-1"), ka);
    }

    #[test]
    fn polar_sh_production_and_sandbox_get_different_keys() {
        // As grantkit-polar-sh's presets build them: one name, one issuer (`https://polar.sh`),
        // two token endpoints.
        let production = client_at(
            "Polar.sh",
            Some("https://polar.sh"),
            "https://api.polar.sh/v1/oauth2/token",
        );
        let sandbox = client_at(
            "Polar.sh",
            Some("https://polar.sh"),
            "https://sandbox-api.polar.sh/v1/oauth2/token",
        );
        let (p, s) = (
            StoreKey::for_client(&production, "user-1"),
            StoreKey::for_client(&sandbox, "user-1"),
        );
        assert_ne!(p.canonical(), s.canonical());
        assert!(p.provider().contains("https://polar.sh"), "{p}");
        assert!(p.provider().contains("https://api.polar.sh/"), "{p}");
    }
}
