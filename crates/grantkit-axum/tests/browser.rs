//! grantkit-axum's BFF in a real browser: headless Chromium driven through chromedriver
//! (`scripts/install-browser`), against the oidc-provider peer: login, the proxy, a refresh
//! past the access token's expiry, a back-channel logout seen by another replica process
//! (Redis, `GRANTKIT_TEST_REDIS_URL`), cross-site refusal, the cookie's attributes. Skipped
//! when Chromium, chromedriver, the peer or Redis is missing, except under `CI=true`, where
//! that fails. docs/web.md, "Tested in a browser", explains each test.

#[path = "support/replicas.rs"]
mod replicas;
#[path = "../../../examples/spa-bff/src/app.rs"]
mod spa_app;
mod support;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use grantkit_axum::GrantkitBuilder;
use grantkit_testkit::store_contract::{env_or_skip, unique_subject};
use grantkit_testkit::OidcPeer;
use hyper_util::client::legacy::connect::HttpConnector;
use replicas::{Front, Replica};
use serde_json::json;
use support::{TestApp, Upstream, COOKIE};

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts chromedriver, or decides what the test does without it (see the module doc).
async fn driver_or_skip(test: &str) -> Option<Driver> {
    if !installed("chromedriver") || !installed("chromium") {
        let why = "chromium and chromedriver are not installed: run scripts/install-browser";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: a browser is required under CI=true: {why}");
        }
        eprintln!("SKIPPED {test}: {why}");
        return None;
    }
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn chromium(driver: &Driver) -> Client {
    let mut options = json!({"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--window-size=1024,768"
    ]});
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Waits until the element's text contains `wanted`; returns the text.
async fn wait_for_text(browser: &Client, css: &str, wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if last.contains(wanted) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = browser.current_url().await.map(|u| u.to_string());
    panic!("{css} never showed {wanted:?}: last {last:?} on {url:?}");
}

/// The session cookie as Chromium stored it (it accepts a `__Host-` cookie only with Secure,
/// Path=/ and no Domain), out of scripts' reach.
async fn assert_session_cookie(browser: &Client) {
    let cookie = browser.get_named_cookie(COOKIE).await.unwrap();
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Lax)");
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), Some("127.0.0.1"));
    assert_eq!(cookie.value().len(), 43);
    let visible = browser
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !visible.as_str().unwrap_or("").contains(COOKIE),
        "{visible}"
    );
}

async fn click(browser: &Client, id: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks the SPA's "load" button and waits for the profile the proxy fetched.
async fn load_profile(browser: &Client) -> String {
    browser
        .execute(
            "document.getElementById('profile').textContent = ''",
            vec![],
        )
        .await
        .unwrap();
    click(browser, "load").await;
    wait_for_text(browser, "#profile", "alice@example.test").await
}

/// A page on another site (`localhost` is not the same site as `127.0.0.1`) that tries the
/// BFF's proxy and logout with the user's browser.
async fn cross_site_page(app: &TestApp) -> String {
    let target = app.origin.clone();
    let page = format!(
        r#"<!doctype html><p id="result">pending</p><script>
const out = [];
const attempt = async (name, url, init) => {{
  try {{ const r = await fetch(url, init); out.push(name + ':' + r.status); }}
  catch (e) {{ out.push(name + ':blocked'); }}
}};
(async () => {{
  await attempt('proxy-with-header', '{target}/bff/api/echo/steal', {{ credentials: 'include', headers: {{ 'X-Grantkit-CSRF': '1' }} }});
  await attempt('proxy-no-cors', '{target}/bff/api/echo/steal', {{ credentials: 'include', mode: 'no-cors' }});
  await attempt('user-with-header', '{target}/bff/user', {{ credentials: 'include', headers: {{ 'X-Grantkit-CSRF': '1' }} }});
  await attempt('logout-no-cors', '{target}/bff/logout', {{ method: 'POST', credentials: 'include', mode: 'no-cors' }});
  document.getElementById('result').textContent = 'done ' + out.join(' ');
}})();
</script>"#
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let evil = Router::new().route("/", get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, evil).await.unwrap() });
    format!("http://localhost:{port}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_spa_login_user_proxy_cross_site_refusal_cookie_attributes_and_logout() {
    let test = "browser_spa_login_user_proxy_cross_site_refusal_cookie_attributes_and_logout";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = chromium(&driver).await;
    let outcome = run(&browser, &app).await;
    browser.close().await.unwrap();
    outcome
}

async fn run(browser: &Client, app: &TestApp) {
    // Signed out: the SPA offers the login; the login goes through the peer's pages.
    browser.goto(&app.url("/app")).await.unwrap();
    wait_for_text(browser, "#status", "Signed out").await;
    browser
        .find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = wait_for_text(browser, "#status", "Signed in as").await;
    assert_eq!(status, "Signed in as Alice (alice)");
    assert_eq!(
        browser.current_url().await.unwrap().as_str(),
        app.url("/app")
    );

    assert_session_cookie(browser).await;

    // The user's data through the proxy, with the access token the page never sees.
    browser
        .find(Locator::Id("load"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let profile = wait_for_text(browser, "#profile", "alice@example.test").await;
    assert!(!profile.contains("access_token"), "{profile}");

    // Another site tries the proxy and the logout with the user's browser: refused.
    browser.goto(&cross_site_page(app).await).await.unwrap();
    let result = wait_for_text(browser, "#result", "done").await;
    for refused in [
        "proxy-with-header:blocked",
        "user-with-header:blocked",
        // `no-cors` answers are opaque (status 0) to the page, whatever happened.
        "proxy-no-cors:0",
        "logout-no-cors:0",
    ] {
        assert!(result.contains(refused), "{refused} missing in {result}");
    }
    assert!(
        app.upstream.seen.lock().unwrap().is_empty(),
        "a cross-site request reached the upstream API"
    );

    // Still signed in; then sign out, confirming on the provider's page.
    browser.goto(&app.url("/app")).await.unwrap();
    wait_for_text(browser, "#status", "Signed in as").await;
    browser
        .find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let confirm = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("button[name=logout][value=yes]"))
        .await
        .unwrap();
    confirm.click().await.unwrap();
    wait_for_text(browser, "body", "home").await;
    assert_eq!(browser.current_url().await.unwrap().as_str(), app.url("/"));
    assert!(browser.get_named_cookie(COOKIE).await.is_err());
    browser.goto(&app.url("/app")).await.unwrap();
    wait_for_text(browser, "#status", "Signed out").await;
}

/// The peer's access-token lifetime in the expiry test: long enough for the first click,
/// short enough to wait out.
const SHORT_TTL: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_past_the_access_token_expiry_the_proxy_refreshes_once() {
    let test = "browser_past_the_access_token_expiry_the_proxy_refreshes_once";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counter = refreshes.clone();
    // A 1 s margin and no refresh-ahead: the refresh happens only once the token is past its
    // expiry, as the test wants to show (the defaults, 60 s + 60 s, would refresh a 10 s token
    // at its first use).
    let configure = move |b: GrantkitBuilder| {
        b.token_source(move |source| {
            let counter = counter.clone();
            source
                .margin(Duration::from_secs(1))
                .refresh_ahead(Duration::ZERO)
                .on_refresh(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                })
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let ttl = SHORT_TTL.as_secs().to_string();
    let env = [
        ("PEER_WEB_APP_ORIGIN", origin.as_str()),
        ("PEER_ACCESS_TOKEN_TTL", ttl.as_str()),
    ];
    let Some(app) = TestApp::start_on(test, listener, &env, configure).await else {
        return;
    };
    let browser = chromium(&driver).await;
    let outcome = past_expiry(&browser, &app, &refreshes).await;
    browser.close().await.unwrap();
    outcome
}

async fn past_expiry(browser: &Client, app: &TestApp, refreshes: &AtomicUsize) {
    browser.goto(&app.url("/app")).await.unwrap();
    wait_for_text(browser, "#status", "Signed out").await;
    click(browser, "login").await;
    wait_for_text(browser, "#status", "Signed in as Alice").await;
    // The token was issued before this instant: it has expired SHORT_TTL after it.
    let signed_in = tokio::time::Instant::now();
    load_profile(browser).await;
    let first = app.idp.tokens();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(refreshes.load(Ordering::SeqCst), 0);

    tokio::time::sleep_until(signed_in + SHORT_TTL + Duration::from_secs(1)).await;
    // The peer itself refuses the first token now: it has really expired.
    let refused = reqwest::Client::new()
        .get(app.peer.url("/me"))
        .bearer_auth(&first[0])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // The same click still shows the data: the proxy refreshed first, once, and the
    // upstream saw only the new token (no failed call with the old one).
    load_profile(browser).await;
    let tokens = app.idp.tokens();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_ne!(tokens[1], tokens[0]);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    load_profile(browser).await;
    let tokens = app.idp.tokens();
    assert_eq!(tokens.len(), 3);
    assert_eq!(
        tokens[2], tokens[1],
        "the new token is used again, not refreshed"
    );
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    // The refresh changed nothing in the browser's cookie.
    assert_session_cookie(browser).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_backchannel_logout_on_one_replica_ends_the_session_on_the_other() {
    let test = "browser_backchannel_logout_on_one_replica_ends_the_session_on_the_other";
    let Some(driver) = driver_or_skip(test).await else {
        return;
    };
    let Some(redis) = env_or_skip(test, "Redis", "GRANTKIT_TEST_REDIS_URL") else {
        return;
    };
    let front = Front::start().await;
    let Some(peer) =
        OidcPeer::shared_with_env(test, &[("PEER_WEB_APP_ORIGIN", front.origin.as_str())])
    else {
        return;
    };
    let idp = Upstream::default();
    let apis = format!("idp={}", idp.forward_to(peer.issuer()).await);
    let prefix = unique_subject(test);
    let env = [
        ("SPA_BFF_ISSUER", peer.issuer()),
        ("SPA_BFF_ORIGIN", front.origin.as_str()),
        ("SPA_BFF_REDIS_URL", redis.as_str()),
        ("SPA_BFF_REDIS_PREFIX", prefix.as_str()),
        ("SPA_BFF_APIS", apis.as_str()),
    ];
    let (one, two) = tokio::join!(Replica::start(&env), Replica::start(&env));
    assert_ne!(one.pid, two.pid);
    front.set_replicas(vec![one.address.clone(), two.address.clone()]);
    let browser = chromium(&driver).await;
    let outcome = two_replicas(&browser, &front, peer, &idp).await;
    browser.close().await.unwrap();
    outcome
}

async fn two_replicas(browser: &Client, front: &Front, peer: &OidcPeer, idp: &Upstream) {
    // Signed in through replica 1 (the callback included).
    front.route_to(0);
    browser.goto(&front.url("/")).await.unwrap();
    wait_for_text(browser, "#status", "Signed out").await;
    click(browser, "login").await;
    let status = wait_for_text(browser, "#status", "Signed in as").await;
    assert_eq!(status, "Signed in as Alice (alice)");
    let served = front.served_since(0);
    assert!(served.iter().all(|s| s.replica == 0), "{served:?}");
    assert!(served.iter().any(|s| s.path.starts_with("/callback?")));
    assert_session_cookie(browser).await;

    // Replica 2 knows the session and the user's tokens (both in Redis).
    front.route_to(1);
    let mark = front.served_since(0).len();
    browser.goto(&front.url("/")).await.unwrap();
    wait_for_text(browser, "#status", "Signed in as Alice").await;
    load_profile(browser).await;
    assert_eq!(idp.tokens().len(), 1);
    let served = front.served_since(mark);
    assert!(served.iter().all(|s| s.replica == 1), "{served:?}");
    assert!(
        served.iter().any(|s| s.is(1, "GET /bff/user", 200)),
        "{served:?}"
    );
    assert!(served.iter().any(|s| s.is(1, "GET /bff/api/idp/me", 200)));

    // The user logs out at the provider; its back-channel call reaches replica 1.
    front.route_to(0);
    let mark = front.served_since(0).len();
    let end = format!("/session/end?client_id={}", support::CLIENT_ID);
    browser.goto(&peer.url(&end)).await.unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("button[name=logout][value=yes]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut backchannel = Vec::new();
    for _ in 0..100 {
        backchannel = front.served_since(mark);
        backchannel.retain(|s| s.path == "/auth/backchannel-logout");
        if !backchannel.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        backchannel
            .iter()
            .any(|s| s.is(0, "POST /auth/backchannel-logout", 200)),
        "{backchannel:?}"
    );

    // The browser's next request, through replica 2: the session is gone there too.
    front.route_to(1);
    let mark = front.served_since(0).len();
    browser.goto(&front.url("/")).await.unwrap();
    wait_for_text(browser, "#status", "Signed out").await;
    let served = front.served_since(mark);
    assert!(
        served.iter().any(|s| s.is(1, "GET /bff/user", 401)),
        "{served:?}"
    );
}

/// The replica role: this test binary re-run as an app process by [`Replica::start`].
const REPLICA_ROLE: &str = "GRANTKIT_BROWSER_REPLICA";

/// In a child process started by [`Replica::start`]: runs `examples/spa-bff`'s app
/// (configured by the `SPA_BFF_*` environment) until the parent closes stdin. Without the
/// role variable, does nothing.
#[test]
fn child_replica() {
    if std::env::var(REPLICA_ROLE).is_err() {
        return;
    }
    // The parent's end: stdin closes when the parent's test ends, even by a panic or a kill.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = spa_app::app(&spa_app::Config::from_env("", "").unwrap())
            .await
            .unwrap();
        println!("SPA_BFF_LISTENING={}", listener.local_addr().unwrap());
        axum::serve(listener, app).await.unwrap();
    });
}
