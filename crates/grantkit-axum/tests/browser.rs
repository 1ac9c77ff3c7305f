//! grantkit-axum's BFF in a real browser: headless Chromium driven through chromedriver
//! (`scripts/install-browser`), against the oidc-provider peer. Skipped when Chromium or
//! chromedriver is missing, except under `CI=true`, where that fails.

mod support;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::{TestApp, COOKIE};

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

    // The cookie as Chromium stored it (it accepts a __Host- cookie only with Secure, Path=/
    // and no Domain).
    let cookie = browser.get_named_cookie(COOKIE).await.unwrap();
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Lax)");
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), Some("127.0.0.1"));
    assert_eq!(cookie.value().len(), 43);
    // Scripts cannot read it.
    let visible = browser
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !visible.as_str().unwrap_or("").contains(COOKIE),
        "{visible}"
    );

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
