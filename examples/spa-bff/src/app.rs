//! The example's backend: the SPA and its BFF on grantkit-axum, with sessions and tokens in
//! memory, or in Redis shared by replicas. grantkit-axum's browser tests run this very module
//! as the two replica processes of their Redis test (`tests/browser.rs`), so what they prove
//! is what the example does.

use std::error::Error;
use std::sync::Arc;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use grantkit::store::TokenStore;
use grantkit::Client;
use grantkit_axum::{BffApis, Grantkit, Settings};
use grantkit_store_redis::{RedisSessionStore, RedisTokenStores};

/// The single-page app: one static file.
pub const SPA: &str = include_str!("../static/index.html");

/// How one replica is set up (see [`Config::from_env`]). `Debug` leaves out the Redis URL,
/// which may carry a password.
#[derive(Clone, Default)]
pub struct Config {
    /// The OpenID provider's issuer (discovered at start).
    pub issuer: String,
    /// The origin the browser sees: this process's, or a load balancer's in front of
    /// replicas. The redirect URI is `{origin}/callback`.
    pub origin: String,
    /// Sessions, tokens and logout-token ids in this Redis, shared by every replica; in this
    /// process's memory without it.
    pub redis_url: Option<String>,
    /// A key prefix in Redis (replicas of one app share it).
    pub redis_prefix: Option<String>,
    /// The proxy's allowlist: API name and base URL.
    pub apis: Vec<(String, String)>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("origin", &self.origin)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .field("redis_prefix", &self.redis_prefix)
            .field("apis", &self.apis)
            .finish()
    }
}

impl Config {
    /// The replica's settings from `SPA_BFF_ISSUER`, `SPA_BFF_ORIGIN`, `SPA_BFF_REDIS_URL`,
    /// `SPA_BFF_REDIS_PREFIX` and `SPA_BFF_APIS` (`name=url,name=url`); `origin` and
    /// `issuer` are the defaults of the first two.
    pub fn from_env(issuer: &str, origin: &str) -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let apis = parse_apis(&var("SPA_BFF_APIS").unwrap_or_default())?;
        Ok(Self {
            issuer: var("SPA_BFF_ISSUER").unwrap_or_else(|| issuer.to_owned()),
            origin: var("SPA_BFF_ORIGIN").unwrap_or_else(|| origin.to_owned()),
            redis_url: var("SPA_BFF_REDIS_URL"),
            redis_prefix: var("SPA_BFF_REDIS_PREFIX"),
            apis,
        })
    }
}

/// `SPA_BFF_APIS` (`name=url,name=url`; empty: none). A pair without `=` is an error, not
/// an API silently missing from the allowlist.
fn parse_apis(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, url)) if !name.is_empty() && !url.is_empty() => {
                Ok((name.to_owned(), url.to_owned()))
            }
            _ => Err(format!("SPA_BFF_APIS: `{pair}` is not name=url")),
        })
        .collect()
}

/// The app: the SPA at `/`, the login routes and the BFF (`/bff/...`).
pub async fn app(config: &Config) -> Result<Router, Box<dyn Error + Send + Sync>> {
    let provider = grantkit::oidc::Discovery::new(&config.issuer)
        .fetch()
        .await?;
    // The oidc-provider peer registers `web-app-client` for the origin (redirect, post-logout
    // and back-channel logout URIs).
    let client = Client::builder(provider, "web-app-client")
        .client_secret("web-app-secret")
        .redirect_uri(format!("{}/callback", config.origin))
        .build()?;
    let settings = Settings {
        callback_path: "/callback".into(),
        ..Settings::default()
    };
    let mut gk = Grantkit::builder(client).settings(settings);
    if let Some(url) = &config.redis_url {
        let prefix = config.redis_prefix.as_deref().unwrap_or("spa-bff");
        let tokens = RedisTokenStores::connect(url)
            .await?
            .prefix(format!("{prefix}:tokens"));
        let sessions = RedisSessionStore::connect(url)
            .await?
            .prefix(format!("{prefix}:sessions"));
        gk = gk
            .session_store(sessions)
            .replay_guard(tokens.clone())
            .token_stores(move |key| Arc::new(tokens.store(key.clone())) as Arc<dyn TokenStore>);
    }
    let gk = gk.build()?;
    let mut apis = BffApis::new();
    for (name, base) in &config.apis {
        apis = apis.api(name, base)?;
    }
    let spa = Router::new().route("/", get(|| async { Html(SPA) }));
    Ok(gk.attach(spa.merge(gk.bff(apis))))
}

#[cfg(test)]
mod tests {
    use super::{parse_apis, Config};

    #[test]
    fn config_debug_leaves_out_the_redis_password() {
        let config = Config {
            redis_url: Some("redis://:hunter2@127.0.0.1:6379/0".into()),
            ..Config::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn spa_bff_apis_without_a_name_and_url_is_an_error_not_a_missing_api() {
        let ok = parse_apis("rs=http://127.0.0.1:9/v1,idp=http://127.0.0.1:8/").unwrap();
        assert_eq!(ok.len(), 2);
        assert!(parse_apis("").unwrap().is_empty());
        for bad in ["rs", "rs=http://127.0.0.1:9/v1,idp", "=http://x/", "rs="] {
            assert!(parse_apis(bad).is_err(), "{bad} accepted");
        }
    }
}
