//! grantkit-axum against the oidc-provider peer: login, sessions, logout.

mod support;

use support::{Browser, TestApp, COOKIE};

#[tokio::test]
async fn login_through_the_peer_gives_the_user_claims() {
    let Some(app) = TestApp::start("login_through_the_peer_gives_the_user_claims").await else {
        return;
    };
    let browser = Browser::new(&app);
    let landed = browser.login(&app).await;
    assert_eq!(landed.url, app.url("/"));
    assert_eq!(landed.body, "home");
    let me = browser.api(&app.url("/me")).await;
    assert_eq!(me.status(), 200);
    let claims: serde_json::Value = me.json().await.unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.test");
    let token = browser.api(&app.url("/api/token")).await;
    assert_eq!(token.status(), 200);
    assert_eq!(token.text().await.unwrap(), r#"{"has_token":true}"#);
}

#[tokio::test]
async fn require_login_redirects_a_navigation_and_answers_401_to_an_api_call() {
    let test = "require_login_redirects_a_navigation_and_answers_401_to_an_api_call";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    let navigation = browser
        .http
        .get(app.url("/private?x=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(navigation.status(), 303);
    assert_eq!(
        navigation.headers()["location"],
        "/auth/login?return_to=%2Fprivate%3Fx%3D1"
    );
    let api = browser.api(&app.url("/private")).await;
    assert_eq!(api.status(), 401);
    assert_eq!(browser.api(&app.url("/me")).await.status(), 401);
    assert_eq!(browser.api(&app.url("/api/token")).await.status(), 401);
    // After the login, the navigation comes back to where it started.
    let landed = browser.navigate(&app.url("/private?x=1")).await;
    assert_eq!(landed.url, app.url("/private?x=1"));
    assert_eq!(landed.body, "private page");
}

#[tokio::test]
async fn session_fixation_a_planted_cookie_is_replaced_at_login() {
    let test = "session_fixation_a_planted_cookie_is_replaced_at_login";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let victim = Browser::new(&app);
    victim.plant(COOKIE, "planted-by-the-attacker");
    victim.login(&app).await;
    let after = victim.session_cookie().unwrap();
    assert_ne!(after, "planted-by-the-attacker");
    // The id that carried the login in progress is not the signed-in session's id either.
    let ids: Vec<String> = victim
        .set_cookie_headers()
        .iter()
        .filter_map(|h| {
            h.split(';')
                .next()?
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(ids[0], ids[1]);
    let attacker = Browser::new(&app);
    attacker.plant(COOKIE, &ids[0]);
    assert_eq!(attacker.api(&app.url("/me")).await.status(), 401);
    assert_eq!(victim.api(&app.url("/me")).await.status(), 200);
}

#[tokio::test]
async fn session_cookie_is_host_only_secure_httponly_lax() {
    let test = "session_cookie_is_host_only_secure_httponly_lax";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let id = browser.session_cookie().unwrap();
    let header = browser
        .set_cookie_headers()
        .into_iter()
        .find(|h| h.starts_with(&format!("{COOKIE}={id};")))
        .unwrap();
    let attributes: Vec<&str> = header.split(';').map(str::trim).skip(1).collect();
    for wanted in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {header}");
    }
    assert!(!header.to_ascii_lowercase().contains("domain="), "{header}");
    // 256 bits, base64url.
    assert_eq!(id.len(), 43, "{id}");
}

#[tokio::test]
async fn logout_revokes_and_ends_the_session_at_the_provider() {
    let test = "logout_revokes_and_ends_the_session_at_the_provider";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let logout = browser.post_form(&app.url("/auth/logout"), &[]).await;
    assert!(
        logout.url.starts_with(&app.peer.url("/session/end")),
        "{logout:?}"
    );
    let back = browser.confirm_peer_logout(&logout, &app).await;
    assert!(
        back.trail
            .iter()
            .any(|u| u.starts_with(&app.url("/auth/logged-out?"))),
        "{back:?}"
    );
    assert_eq!(back.url, app.url("/"));
    assert_eq!(back.status, 200);
    assert_eq!(browser.session_cookie(), None);
    assert_eq!(browser.api(&app.url("/me")).await.status(), 401);
    // The provider's session ended too: a new login asks the provider again.
    let again = browser.navigate(&app.url("/auth/login")).await;
    assert!(
        again.trail.iter().any(|u| u.contains("/interaction/")),
        "{again:?}"
    );
}

#[tokio::test]
async fn logout_return_with_a_forged_state_is_refused() {
    let test = "logout_return_with_a_forged_state_is_refused";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let logout = browser.post_form(&app.url("/auth/logout"), &[]).await;
    assert!(logout.url.starts_with(&app.peer.url("/session/end")));
    let forged = browser
        .navigate(&app.url("/auth/logged-out?state=forged"))
        .await;
    assert_eq!(forged.status, 400, "{forged:?}");
    assert!(
        forged.body.contains("Logout not confirmed"),
        "{}",
        forged.body
    );
    // A return with no logout in progress is refused as well.
    let none = browser.navigate(&app.url("/auth/logged-out?state=x")).await;
    assert_eq!(none.status, 400);
}

#[tokio::test]
async fn backchannel_logout_from_the_provider_ends_the_session() {
    let test = "backchannel_logout_from_the_provider_ends_the_session";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let other_user_session = Browser::new(&app);
    other_user_session.login(&app).await;
    assert_eq!(browser.api(&app.url("/me")).await.status(), 200);
    // The user logs out at the provider (not through the app): the provider tells the app.
    let end = format!("/session/end?client_id={}", support::CLIENT_ID);
    let page = browser.navigate(&app.peer.url(&end)).await;
    let done = browser.confirm_peer_logout(&page, &app).await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(browser.api(&app.url("/me")).await.status(), 401);
    // A session begun in another provider session (another sid) goes on.
    assert_eq!(other_user_session.api(&app.url("/me")).await.status(), 200);
}

#[tokio::test]
async fn backchannel_logout_with_a_bad_token_is_400_and_ends_nothing() {
    let test = "backchannel_logout_with_a_bad_token_is_400_and_ends_nothing";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let http = reqwest::Client::new();
    let url = app.url("/auth/backchannel-logout");
    for form in [
        vec![("logout_token", "not.a.jwt")],
        vec![],
        vec![("logout_token", "a"), ("logout_token", "b")],
    ] {
        let response = http.post(&url).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 400, "{form:?}");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    assert_eq!(browser.api(&app.url("/me")).await.status(), 200);
}

#[tokio::test]
async fn logout_csrf_a_cross_site_get_to_the_callback_or_the_logout_return_keeps_the_session() {
    let test =
        "logout_csrf_a_cross_site_get_to_the_callback_or_the_logout_return_keeps_the_session";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    // Links on another site: top-level GETs, which carry the SameSite=Lax cookie.
    for path in ["/callback?code=x&state=y", "/auth/logged-out?state=y"] {
        let landed = browser.navigate(&app.url(path)).await;
        assert_eq!(landed.status, 400, "{path}: {landed:?}");
        assert_eq!(
            browser.api(&app.url("/me")).await.status(),
            200,
            "{path} ended the session"
        );
    }
}

#[tokio::test]
async fn logout_csrf_a_cross_site_link_to_the_login_keeps_the_signed_in_session() {
    let test = "logout_csrf_a_cross_site_link_to_the_login_keeps_the_signed_in_session";
    let Some(app) = TestApp::start(test).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let before = browser.session_cookie().unwrap();
    let response = browser
        .cross_site_navigate(&app.url("/auth/login?return_to=%2Fprivate"))
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/private");
    assert_eq!(browser.session_cookie().unwrap(), before);
    assert_eq!(browser.api(&app.url("/me")).await.status(), 200);
    // From the app's own pages, a login while signed in starts afresh (a new id).
    let landed = browser.navigate(&app.url("/auth/login")).await;
    assert_eq!(landed.status, 200);
    assert_ne!(browser.session_cookie().unwrap(), before);
}
