//! Step-up authentication (`require_step_up`) against the oidc-provider peer: a stale login
//! logged in again, an `acr` demand, the API's RFC 9470 challenge, and no redirect loop when
//! the provider answers with an old login.
//!
//! The peer is oidc-provider 9: its login prompt re-authenticates when the session is older
//! than `max_age` (unless the interaction just logged in: `max_age` check in
//! lib/helpers/interaction_policy/prompts/login.js) and when an essential `acr` of the
//! `claims` parameter is not the session's (`essential_acrs`); its interaction handler
//! (oidc-peer/server.mjs) reports the first `acr_values` entry, else the first essential
//! `acr` value of the `claims` parameter, as the login's `acr`, and for the login hint
//! `stale-login` an authentication an hour old.

mod support;
mod web;

use std::time::Duration;

use axum::routing::get;
use axum::{middleware, Json, Router};
use grantkit_axum::{require_step_up, CurrentUser, Grantkit, StepUp};
use serde_json::{json, Value};
use support::{Browser, TestApp};
use web::Setup;

const MFA: &str = "urn:grantkit:acr:mfa";

fn routes(_: &Grantkit) -> Router {
    let recent = Router::new()
        .route("/recent", get(|| async { "recent page" }))
        .route_layer(middleware::from_fn_with_state(
            StepUp::new().max_age(Duration::from_secs(3)),
            require_step_up,
        ));
    let strict = Router::new()
        .route("/strict", get(|| async { "strict page" }))
        .route_layer(middleware::from_fn_with_state(
            StepUp::new().max_age(Duration::from_secs(60)),
            require_step_up,
        ));
    let mfa = Router::new()
        .route("/mfa", get(|| async { "mfa page" }))
        .route_layer(middleware::from_fn_with_state(
            StepUp::new().acr(MFA),
            require_step_up,
        ));
    Router::new()
        .route("/", get(|| async { "home" }))
        .route(
            "/me",
            get(|CurrentUser(user): CurrentUser| async move { Json(json!(user.claims)) }),
        )
        .merge(recent)
        .merge(strict)
        .merge(mfa)
}

async fn claims(browser: &Browser, app: &TestApp) -> Value {
    let me = browser.api(&app.url("/me")).await;
    assert_eq!(me.status(), 200);
    me.json().await.unwrap()
}

#[tokio::test]
async fn step_up_a_stale_login_is_sent_to_log_in_again_and_auth_time_moves() {
    let test = "step_up_a_stale_login_is_sent_to_log_in_again_and_auth_time_moves";
    // The route allows the client's ID-token leeway on `auth_time`, as the callback does
    // (60 s by default): with none, a 3 s `max_age` is out of date after 4 s.
    let setup = Setup {
        client: Box::new(|c| c.id_token_leeway(Duration::ZERO)),
        ..Setup::default()
    };
    let Some(app) = web::start(test, setup, routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    // The first login asked for no max_age: its auth_time is unknown, so it is too old.
    let landed = browser.navigate(&app.url("/recent")).await;
    assert_eq!(landed.body, "recent page", "{landed:?}");
    let login = app.url("/auth/login?return_to=%2Frecent&max_age=3");
    assert!(landed.trail.contains(&login), "{landed:?}");
    let first = claims(&browser, &app).await["auth_time"].as_u64().unwrap();
    let before = browser.session_cookie().expect("a session cookie");
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let again = browser.navigate(&app.url("/recent")).await;
    assert_eq!(again.body, "recent page", "{again:?}");
    assert!(again.trail.contains(&login), "{again:?}");
    // The peer asked the user again (an interaction), and the session has the new login.
    assert!(
        again.trail.iter().any(|u| u.contains("/interaction/")),
        "{again:?}"
    );
    let second = claims(&browser, &app).await["auth_time"].as_u64().unwrap();
    assert!(second >= first + 4, "auth_time {first} -> {second}");
    // The step-up login ran under its own cookie; its success ended the session it replaced:
    // the old cookie is worth nothing now (session fixation).
    let after = browser.session_cookie().expect("a session cookie");
    assert_ne!(after, before, "a new session id");
    browser.plant("__Host-grantkit", &before);
    assert_eq!(
        browser.api(&app.url("/me")).await.status(),
        401,
        "the old session lives on"
    );
    browser.plant("__Host-grantkit", &after);
    // Fresh now: no new login.
    let fresh = browser.navigate(&app.url("/recent")).await;
    assert_eq!(fresh.trail.len(), 1, "{fresh:?}");
}

#[tokio::test]
async fn step_up_acr_demand_logs_in_again_and_the_claims_carry_the_acr() {
    let test = "step_up_acr_demand_logs_in_again_and_the_claims_carry_the_acr";
    let Some(app) = web::start(test, Setup::default(), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    assert_eq!(claims(&browser, &app).await.get("acr"), None);
    let landed = browser.navigate(&app.url("/mfa")).await;
    assert_eq!(landed.body, "mfa page", "{landed:?}");
    let authorize = landed
        .trail
        .iter()
        .find(|u| u.starts_with(&app.peer.url("/auth?")))
        .unwrap_or_else(|| panic!("no authorization request: {landed:?}"));
    let params: Vec<(String, String)> = reqwest::Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    // Essential in `claims` only: oidc-provider turns an `acr_values` into a voluntary request.
    assert_eq!(param("acr_values"), None);
    let asked: Value = serde_json::from_str(&param("claims").unwrap()).unwrap();
    assert_eq!(
        asked,
        json!({"id_token": {"acr": {"essential": true, "values": [MFA]}}})
    );
    assert!(
        landed.trail.iter().any(|u| u.contains("/interaction/")),
        "{landed:?}"
    );
    let after = claims(&browser, &app).await;
    assert_eq!(after["acr"], MFA);
    assert_eq!(after["sub"], "alice");
}

#[tokio::test]
async fn step_up_api_call_gets_401_insufficient_user_authentication() {
    let test = "step_up_api_call_gets_401_insufficient_user_authentication";
    let Some(app) = web::start(test, Setup::default(), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let anonymous = browser.api(&app.url("/recent")).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.text().await.unwrap(),
        r#"{"error":"login_required"}"#
    );
    browser.login(&app).await;
    let cases = [
        (
            "/recent",
            r#"Bearer error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age="3""#,
        ),
        (
            "/mfa",
            r#"Bearer error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="urn:grantkit:acr:mfa""#,
        ),
    ];
    for (path, challenge) in cases {
        let response = browser.api(&app.url(path)).await;
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], challenge, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_user_authentication");
    }
    // The session is untouched by a refused API call.
    assert_eq!(browser.api(&app.url("/me")).await.status(), 200);
}

#[tokio::test]
async fn step_up_provider_answering_an_old_auth_time_gets_403_not_a_redirect_loop() {
    let test = "step_up_provider_answering_an_old_auth_time_gets_403_not_a_redirect_loop";
    let setup = Setup {
        // The peer reports every login of this account as an hour old, as a provider that
        // ignores max_age would.
        layer: Box::new(|b| b.authorize_with(|r| r.login_hint("stale-login"))),
        ..Setup::default()
    };
    let Some(app) = web::start(test, setup, routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let landed = browser.navigate(&app.url("/strict")).await;
    assert_eq!(landed.status, 403, "{landed:?}");
    assert!(
        landed.body.contains("Step-up authentication refused"),
        "{}",
        landed.body
    );
    assert!(landed.body.contains("authenticated at"), "{}", landed.body);
    let logins = landed
        .trail
        .iter()
        .filter(|u| u.contains("/auth/login"))
        .count();
    assert_eq!(logins, 1, "{landed:?}");
    assert!(landed.url.starts_with(&app.url("/callback?")), "{landed:?}");
    // The refused step-up left the earlier login in place: the user is still signed in (the
    // step-up login kept its own cookie; before, it replaced the session cookie).
    let me = browser.api(&app.url("/me")).await;
    assert_eq!(me.status(), 200, "signed out by a refused step-up");
}

#[tokio::test]
async fn step_up_cross_site_link_gets_a_page_not_a_redirect_loop_or_a_logout() {
    let test = "step_up_cross_site_link_gets_a_page_not_a_redirect_loop_or_a_logout";
    let Some(app) = web::start(test, Setup::default(), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    browser.login(&app).await;
    let before = browser.session_cookie().unwrap();
    // A link from another site to a step-up route: the redirect to the login keeps the
    // navigation cross-site (Fetch Metadata counts the whole redirect chain).
    let response = browser
        .cross_site_navigate(&app.url("/auth/login?return_to=%2Frecent&max_age=3"))
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(r#"href="/auth/login?return_to=%2Frecent&amp;max_age=3""#),
        "{body}"
    );
    assert_eq!(browser.session_cookie().unwrap(), before);
    assert_eq!(browser.api(&app.url("/me")).await.status(), 200);
}

/// A step-up login abandoned at the provider leaves its own cookie behind. A plain login
/// started next must not have its callback meet that stale login (and fail on its `state`):
/// the plain login clears the login cookie. In query mode that cookie is `SameSite=Lax` (the
/// provider comes back by a top-level GET); only form_post needs `None`.
#[tokio::test]
async fn step_up_abandoned_does_not_break_the_next_login() {
    let test = "step_up_abandoned_does_not_break_the_next_login";
    let Some(app) = web::start(test, Setup::default(), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let started = browser
        .api(&app.url("/auth/login?return_to=%2Fstrict&max_age=60"))
        .await;
    assert!(started.status().is_redirection(), "{started:?}");
    let step_up_cookie = browser
        .set_cookie_headers()
        .into_iter()
        .find(|h| h.starts_with("__Host-grantkit-login=") && !h.contains("Max-Age=0"))
        .expect("the step-up login's own cookie");
    assert!(step_up_cookie.contains("SameSite=Lax"), "{step_up_cookie}");
    // Abandoned: the user never finishes at the provider, and logs in plainly instead.
    let landed = browser.login(&app).await;
    assert_eq!(landed.body, "home", "{landed:?}");
    assert_eq!(browser.api(&app.url("/me")).await.status(), 200);
}
