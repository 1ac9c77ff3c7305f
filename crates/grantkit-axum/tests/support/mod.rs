//! An app on the grantkit-axum layer, on 127.0.0.1:0, against the oidc-provider peer, and a
//! cookie-keeping browser stand-in that follows redirects by hand.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{middleware, Json, Router};
use grantkit::{Client, ClientBuilder};
use grantkit_axum::{
    require_login, BffApis, CurrentUser, FreshToken, Grantkit, GrantkitBuilder, Settings,
};
use grantkit_testkit::OidcPeer;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::Url;
use serde_json::json;

pub const CLIENT_ID: &str = "web-app-client";
pub const CLIENT_SECRET: &str = "web-app-secret";
pub const COOKIE: &str = "__Host-grantkit";
/// The example SPA, served at `/app`.
pub const SPA: &str = include_str!("../../../../examples/spa-bff/static/index.html");

/// The app under test and its peer.
pub struct TestApp {
    pub origin: String,
    pub peer: &'static OidcPeer,
    pub gk: Grantkit,
    /// What the upstream API behind the BFF proxy received.
    pub upstream: Upstream,
    /// What the BFF's `idp` API (the peer's endpoints, `/me` for the SPA) received.
    pub idp: Upstream,
}

/// One request upstream: path and query, `Authorization`, `Cookie`.
pub type Seen = (String, Option<String>, Option<String>);

/// The BFF's echo API: records each request's `Authorization` and `Cookie` headers.
#[derive(Clone, Default)]
pub struct Upstream {
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    async fn start(&self) -> String {
        let seen = self.seen.clone();
        let echo = move |uri: axum::http::Uri, headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let record = (uri.to_string(), header("authorization"), header("cookie"));
                seen.lock().unwrap().push(record);
                Json(
                    json!({"path": uri.to_string(), "bearer": header("authorization").is_some_and(|a| a.starts_with("Bearer "))}),
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let app = Router::new().route("/v1/{*rest}", get(echo));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// Like [`Upstream::start`], but each GET is answered by `target` (the peer, say), with
    /// the same path, query and `Authorization`: the real server judges the token.
    pub async fn forward_to(&self, target: &str) -> String {
        let seen = self.seen.clone();
        let target = target.trim_end_matches('/').to_owned();
        let http = reqwest::Client::new();
        let forward = move |uri: axum::http::Uri, headers: HeaderMap| {
            let (seen, target, http) = (seen.clone(), target.clone(), http.clone());
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                seen.lock()
                    .unwrap()
                    .push((uri.to_string(), auth.clone(), None));
                let mut request = http.get(format!("{target}{uri}"));
                if let Some(auth) = auth {
                    request = request.header("authorization", auth);
                }
                let answer = request.send().await.unwrap();
                let status = answer.status();
                let kind = answer.headers().get("content-type").cloned();
                let body = answer.bytes().await.unwrap();
                let mut response = (status, body).into_response();
                if let Some(kind) = kind {
                    response.headers_mut().insert("content-type", kind);
                }
                response
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let app = Router::new().fallback(forward);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// The access tokens the upstream received.
    pub fn tokens(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, auth, _)| auth.as_deref()?.strip_prefix("Bearer ").map(str::to_owned))
            .collect()
    }
}

impl TestApp {
    /// Starts the app with the peer's `web-app-client` registered for its origin; `None` when
    /// the peer is not installed (outside CI).
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[]).await
    }

    /// [`TestApp::start`] with more peer environment.
    pub async fn start_with(test: &str, env: &[(&str, &str)]) -> Option<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let mut peer_env = vec![("PEER_WEB_APP_ORIGIN", origin.as_str())];
        peer_env.extend_from_slice(env);
        Self::start_on(test, listener, &peer_env, |b| b).await
    }

    /// The app on `listener`, against the peer started with `peer_env`, its layer configured
    /// further by `configure` (stores, say).
    pub async fn start_on(
        test: &str,
        listener: tokio::net::TcpListener,
        peer_env: &[(&str, &str)],
        configure: impl FnOnce(GrantkitBuilder) -> GrantkitBuilder + 'static,
    ) -> Option<Self> {
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let setup = Setup {
            layer: Box::new(configure),
            ..Setup::default()
        };
        let (peer, gk) = layer_for(test, &origin, peer_env, setup).await?;
        let upstream = Upstream::default();
        let idp = Upstream::default();
        let apis = BffApis::new()
            .api("echo", &upstream.start().await)
            .unwrap()
            .api("idp", &idp.forward_to(peer.issuer()).await)
            .unwrap();
        serve(listener, gk.attach(routes().merge(gk.bff(apis))));
        Some(Self {
            origin,
            peer,
            gk,
            upstream,
            idp,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }
}

/// Two replicas of the app on one shared session and token store (the stores' tests): logins
/// through replica A, the provider's back-channel logouts posted to replica B. The same cookie
/// is one session on both, and the logout ends it on both. `replica` starts one on a listener
/// against the peer started with the environment given.
pub async fn backchannel_logout_on_one_replica_ends_the_other<F, Fut>(replica: F)
where
    F: Fn(tokio::net::TcpListener, Vec<(String, String)>) -> Fut,
    Fut: std::future::Future<Output = Option<TestApp>>,
{
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (a, b) = (bind().await.unwrap(), bind().await.unwrap());
    let origin_a = format!("http://{}", a.local_addr().unwrap());
    let backchannel_b = format!("http://{}/auth/backchannel-logout", b.local_addr().unwrap());
    let env = vec![
        ("PEER_WEB_APP_ORIGIN".to_owned(), origin_a),
        ("PEER_BACKCHANNEL_LOGOUT_URI".to_owned(), backchannel_b),
    ];
    let Some(app_a) = replica(a, env.clone()).await else {
        return;
    };
    let app_b = replica(b, env).await.unwrap();

    let browser = Browser::new(&app_a);
    browser.login(&app_a).await;
    let cookie = browser.session_cookie().unwrap();
    // The same cookie on replica B (one site behind a load balancer): one session.
    let on_b = Browser::new(&app_b);
    on_b.plant(COOKIE, &cookie);
    assert_eq!(on_b.api(&app_b.url("/me")).await.status(), 200);
    assert_eq!(on_b.api(&app_b.url("/api/token")).await.status(), 200);

    let end = format!("/session/end?client_id={CLIENT_ID}");
    let page = browser.navigate(&app_a.peer.url(&end)).await;
    let done = browser.confirm_peer_logout(&page, &app_a).await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(browser.api(&app_a.url("/me")).await.status(), 401);
    assert_eq!(on_b.api(&app_b.url("/me")).await.status(), 401);
}

/// How a test sets its app up; every hook defaults to nothing.
pub struct Setup<'a> {
    /// More peer environment (`web::start` only; the app's origin is always set).
    pub peer_env: Vec<(&'a str, &'a str)>,
    pub client: Box<dyn FnOnce(ClientBuilder) -> ClientBuilder>,
    pub layer: Box<dyn FnOnce(GrantkitBuilder) -> GrantkitBuilder>,
    pub settings: Settings,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            peer_env: Vec::new(),
            client: Box::new(|c| c),
            layer: Box::new(|b| b),
            settings: Settings {
                callback_path: "/callback".into(),
                ..Settings::default()
            },
        }
    }
}

/// The peer started with `peer_env` and the layer for the app at `origin`, its client and
/// layer built with `setup`'s hooks and settings (`setup.peer_env` is not read here); `None`
/// when the peer is not installed (outside CI).
pub async fn layer_for(
    test: &str,
    origin: &str,
    peer_env: &[(&str, &str)],
    setup: Setup<'_>,
) -> Option<(&'static OidcPeer, Grantkit)> {
    let peer = OidcPeer::shared_with_env(test, peer_env)?;
    let provider = peer.discover().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .redirect_uri(format!("{origin}/callback"));
    let client = (setup.client)(client).build().unwrap();
    let builder = Grantkit::builder(client).settings(setup.settings);
    Some((peer, (setup.layer)(builder).build().unwrap()))
}

/// Serves `app` on `listener` in the background.
pub fn serve(listener: tokio::net::TcpListener, app: Router) {
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

fn routes() -> Router {
    let private = Router::new()
        .route("/private", get(|| async { "private page" }))
        .route_layer(middleware::from_fn(require_login));
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/app", get(|| async { Html(SPA) }))
        .route(
            "/me",
            get(|CurrentUser(user): CurrentUser| async move { Json(json!(user.claims)) }),
        )
        .route(
            "/api/token",
            get(|FreshToken(token): FreshToken| async move {
                // The token stays server-side: only a fact about it goes out.
                Json(json!({"has_token": !token.expose().is_empty()}))
            }),
        )
        .merge(private)
}

/// A browser stand-in: the app's cookies in a jar of their own (the `__Host-`/`Secure`
/// cookie is kept on http://127.0.0.1, as browsers do on loopback), every `Set-Cookie` the
/// app sent recorded as received, and the peer's cookies in reqwest's jar.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<TestJar>,
}

struct TestJar {
    app_host: String,
    peer: Jar,
    app: Mutex<HashMap<String, String>>,
    set_cookies: Mutex<Vec<String>>,
    /// Every app response's headers and body, as the browser got them.
    seen: Mutex<Vec<String>>,
}

fn host_of(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl CookieStore for TestJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        if host_of(url) != self.app_host {
            return self.peer.set_cookies(headers, url);
        }
        for header in headers {
            let Ok(text) = header.to_str() else { continue };
            self.set_cookies.lock().unwrap().push(text.to_owned());
            let pair = text.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let mut app = self.app.lock().unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                app.remove(name.trim());
            } else {
                app.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        if host_of(url) != self.app_host {
            return self.peer.cookies(url);
        }
        let app = self.app.lock().unwrap();
        let text: Vec<String> = app.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (!text.is_empty()).then(|| HeaderValue::from_str(&text.join("; ")).unwrap())
    }
}

/// Where a navigation ended.
#[derive(Debug)]
pub struct Landed {
    pub url: String,
    pub status: u16,
    pub body: String,
    /// Every URL visited, first to last.
    pub trail: Vec<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let jar = Arc::new(TestJar {
            app_host: host_of(&Url::parse(&app.origin).unwrap()),
            peer: Jar::default(),
            app: Mutex::default(),
            set_cookies: Mutex::default(),
            seen: Mutex::default(),
        });
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http, jar }
    }

    /// The app's session cookie as the browser holds it.
    pub fn session_cookie(&self) -> Option<String> {
        self.jar.app.lock().unwrap().get(COOKIE).cloned()
    }

    /// Plants a cookie for the app (an attacker's, say).
    pub fn plant(&self, name: &str, value: &str) {
        self.jar
            .app
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
    }

    /// Every `Set-Cookie` the app sent.
    pub fn set_cookie_headers(&self) -> Vec<String> {
        self.jar.set_cookies.lock().unwrap().clone()
    }

    /// A navigation: GET asking for HTML, redirects followed.
    pub async fn navigate(&self, url: &str) -> Landed {
        let response = self
            .http
            .get(url)
            .header(ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        self.follow(url, response).await
    }

    /// A navigation from a link on another site (`Sec-Fetch-Site: cross-site`), GET asking
    /// for HTML, no redirects followed.
    pub async fn cross_site_navigate(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header(ACCEPT, "text/html")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap()
    }

    /// A form POST, redirects followed.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Landed {
        let response = self.http.post(url).form(form).send().await.unwrap();
        self.follow(url, response).await
    }

    /// Everything the app sent to this browser (headers and bodies).
    pub fn everything_seen(&self) -> String {
        self.jar.seen.lock().unwrap().join("\n")
    }

    async fn read(&self, response: reqwest::Response) -> (u16, String) {
        let status = response.status().as_u16();
        let from_app = host_of(response.url()) == self.jar.app_host;
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap_or_default();
        if from_app {
            self.jar
                .seen
                .lock()
                .unwrap()
                .push(format!("{headers}\n{body}"));
        }
        (status, body)
    }

    /// A `fetch` from the SPA: `method` on `url`, with the CSRF header when `csrf`.
    pub async fn spa_fetch(&self, method: reqwest::Method, url: &str, csrf: bool) -> (u16, String) {
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json");
        if csrf {
            request = request.header("x-grantkit-csrf", "1");
        }
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    async fn follow(&self, first: &str, mut response: reqwest::Response) -> Landed {
        let mut current = Url::parse(first).unwrap();
        let mut trail = vec![current.to_string()];
        for _ in 0..20 {
            let Some(location) = response.headers().get(LOCATION).cloned() else {
                let (status, body) = self.read(response).await;
                return Landed {
                    url: current.to_string(),
                    status,
                    body,
                    trail,
                };
            };
            self.read(response).await;
            current = current.join(location.to_str().unwrap()).unwrap();
            trail.push(current.to_string());
            response = self
                .http
                .get(current.clone())
                .header(ACCEPT, "text/html")
                .send()
                .await
                .unwrap();
        }
        panic!("too many redirects: {trail:?}");
    }

    /// Logs in through the peer (user `alice`) and lands on the app.
    pub async fn login(&self, app: &TestApp) -> Landed {
        let landed = self.navigate(&app.url("/auth/login")).await;
        assert_eq!(landed.status, 200, "login ended on {landed:?}");
        landed
    }

    /// Confirms the peer's logout page (`/session/end` asks before ending the session).
    pub async fn confirm_peer_logout(&self, page: &Landed, app: &TestApp) -> Landed {
        let xsrf = page
            .body
            .split("name=\"xsrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no xsrf on the logout page: {page:?}"));
        self.post_form(
            &app.peer.url("/session/end/confirm"),
            &[("xsrf", xsrf), ("logout", "yes")],
        )
        .await
    }

    /// GET asking for JSON (an API call), no redirects followed.
    pub async fn api(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .unwrap()
    }
}
