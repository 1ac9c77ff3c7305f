//! grantkit-axum's backend-for-frontend against the oidc-provider peer: the SPA's calls.

mod support;
mod web;

use reqwest::Method;
use support::{Browser, TestApp};

async fn signed_in(test: &str) -> Option<(TestApp, Browser)> {
    let app = TestApp::start(test).await?;
    let browser = Browser::new(&app);
    let landed = browser
        .navigate(&app.url("/bff/login?return_to=%2Fapp"))
        .await;
    assert_eq!(landed.url, app.url("/app"), "{landed:?}");
    assert!(landed.body.contains("grantkit SPA"));
    Some((app, browser))
}

/// No access token the upstream got, and no JWT (ID token), in anything the app sent.
fn assert_no_token_reached_the_browser(app: &TestApp, browser: &Browser) {
    let seen = browser.everything_seen();
    assert!(!seen.is_empty());
    let tokens = app.upstream.tokens();
    assert!(!tokens.is_empty(), "the upstream saw no token");
    for token in tokens {
        assert!(
            !seen.contains(&token),
            "an access token reached the browser"
        );
    }
    assert!(!seen.contains("eyJ"), "a JWT reached the browser: {seen}");
    assert!(!seen.to_ascii_lowercase().contains("refresh_token"));
}

#[tokio::test]
async fn bff_user_gives_claims_and_no_token_ever_reaches_the_browser() {
    let Some((app, browser)) =
        signed_in("bff_user_gives_claims_and_no_token_ever_reaches_the_browser").await
    else {
        return;
    };
    let (status, body) = browser
        .spa_fetch(Method::GET, &app.url("/bff/user"), true)
        .await;
    assert_eq!(status, 200, "{body}");
    let user: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(user["sub"], "alice");
    assert_eq!(user["claims"]["email"], "alice@example.test");
    let (status, _) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/echo/orders?page=2"), true)
        .await;
    assert_eq!(status, 200);
    let (status, _) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/idp/me"), true)
        .await;
    assert_eq!(status, 200);
    assert_no_token_reached_the_browser(&app, &browser);
}

#[tokio::test]
async fn bff_proxy_attaches_the_access_token_and_forwards_no_cookie() {
    let Some((app, browser)) =
        signed_in("bff_proxy_attaches_the_access_token_and_forwards_no_cookie").await
    else {
        return;
    };
    let (status, body) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/echo/orders/7?page=2"), true)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""bearer":true"#), "{body}");
    let seen = app.upstream.seen.lock().unwrap().clone();
    let (path, auth, cookie) = seen.last().unwrap();
    assert_eq!(path, "/v1/orders/7?page=2");
    assert!(auth.as_deref().unwrap().starts_with("Bearer "));
    assert_eq!(cookie, &None, "the session cookie went upstream");
    // The peer's userinfo, called with the token the proxy attached, knows the user.
    let (status, body) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/idp/me"), true)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""sub":"alice""#), "{body}");
}

#[tokio::test]
async fn bff_csrf_requests_without_the_custom_header_are_refused() {
    let Some((app, browser)) =
        signed_in("bff_csrf_requests_without_the_custom_header_are_refused").await
    else {
        return;
    };
    let calls = [
        (Method::GET, "/bff/user"),
        (Method::GET, "/bff/api/echo/orders"),
        (Method::POST, "/bff/api/echo/orders"),
        (Method::POST, "/bff/logout"),
    ];
    let before = app.upstream.seen.lock().unwrap().len();
    for (method, path) in calls {
        let (status, body) = browser.spa_fetch(method, &app.url(path), false).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("csrf_header_required"));
    }
    assert_eq!(app.upstream.seen.lock().unwrap().len(), before);
    // The header-less logout ended nothing.
    let (status, _) = browser
        .spa_fetch(Method::GET, &app.url("/bff/user"), true)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bff_proxy_refuses_an_api_not_in_the_allowlist() {
    let Some((app, browser)) = signed_in("bff_proxy_refuses_an_api_not_in_the_allowlist").await
    else {
        return;
    };
    let (status, _) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/elsewhere/x"), true)
        .await;
    assert_eq!(status, 404);
    let (status, _) = browser
        .spa_fetch(
            Method::GET,
            &app.url("/bff/api/echo/%2e%2e/%2e%2e/secret"),
            true,
        )
        .await;
    assert_eq!(status, 404);
    assert!(app.upstream.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bff_without_a_session_is_401() {
    let Some(app) = TestApp::start("bff_without_a_session_is_401").await else {
        return;
    };
    let browser = Browser::new(&app);
    for path in ["/bff/user", "/bff/api/echo/orders"] {
        let (status, body) = browser.spa_fetch(Method::GET, &app.url(path), true).await;
        assert_eq!(status, 401, "{path}: {body}");
    }
}

#[tokio::test]
async fn bff_logout_revokes_and_returns_the_provider_logout_url() {
    let Some((app, browser)) =
        signed_in("bff_logout_revokes_and_returns_the_provider_logout_url").await
    else {
        return;
    };
    let (status, body) = browser
        .spa_fetch(Method::POST, &app.url("/bff/logout"), true)
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let url = answer["logout_url"].as_str().unwrap();
    assert!(url.starts_with(&app.peer.url("/session/end?")), "{url}");
    for path in ["/bff/user", "/bff/api/echo/orders"] {
        let (status, _) = browser.spa_fetch(Method::GET, &app.url(path), true).await;
        assert_eq!(status, 401, "{path}");
    }
    let page = browser.navigate(url).await;
    let back = browser.confirm_peer_logout(&page, &app).await;
    assert_eq!(back.url, app.url("/"), "{back:?}");
    assert_eq!(browser.session_cookie(), None);
}

#[tokio::test]
async fn bff_proxy_refreshes_an_expired_access_token_transparently() {
    let test = "bff_proxy_refreshes_an_expired_access_token_transparently";
    let Some(app) = TestApp::start_with(test, &[("PEER_ACCESS_TOKEN_TTL", "2")]).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser
        .navigate(&app.url("/bff/login?return_to=%2Fapp"))
        .await;
    let url = app.url("/bff/api/echo/orders");
    let (status, _) = browser.spa_fetch(Method::GET, &url, true).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, body) = browser.spa_fetch(Method::GET, &url, true).await;
    assert_eq!(status, 200, "{body}");
    let tokens = app.upstream.tokens();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1], "the expired token was sent again");
    // The refreshed token is good at the provider too.
    let (status, body) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/idp/me"), true)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_no_token_reached_the_browser(&app, &browser);
}

/// An upstream redirect is answered to the SPA as it came, never followed by the proxy: a
/// redirect (the API's own, or an open redirect on it) out of the allowlisted base would
/// otherwise reach any URL server-side, with the user's token on the same origin.
#[tokio::test]
async fn bff_proxy_does_not_follow_an_upstream_redirect_out_of_the_allowlisted_base() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::http::header::LOCATION;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use grantkit_axum::BffApis;

    let test = "bff_proxy_does_not_follow_an_upstream_redirect_out_of_the_allowlisted_base";
    let outside = Arc::new(AtomicUsize::new(0));
    let hits = outside.clone();
    let api = Router::new()
        .route(
            "/v1/go",
            get(|| async { (StatusCode::FOUND, [(LOCATION, "/internal/secret")]) }),
        )
        .route(
            "/internal/secret",
            get(move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "internal only"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    support::serve(listener, api);
    let routes = |gk: &grantkit_axum::Grantkit| {
        let apis = BffApis::new().api("rs", &base).unwrap();
        Router::new()
            .route("/", get(|| async { "home" }))
            .merge(gk.bff(apis))
    };
    let Some(app) = web::start(test, web::Setup::default(), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let landed = browser.navigate(&app.url("/bff/login?return_to=%2F")).await;
    assert_eq!(landed.body, "home", "{landed:?}");
    let (status, body) = browser
        .spa_fetch(Method::GET, &app.url("/bff/api/rs/go"), true)
        .await;
    assert_eq!(
        outside.load(Ordering::SeqCst),
        0,
        "the proxy followed the redirect"
    );
    assert_eq!(status, 302, "{body}");
    assert!(!body.contains("internal only"), "{body}");
}
