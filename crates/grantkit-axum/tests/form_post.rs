//! `response_mode=form_post` in the login layer, against the oidc-provider peer: its
//! auto-submitting page POSTs the answer to the callback (oidc-provider 9,
//! lib/response_modes/form_post.js: hidden inputs, `htmlSafe` escaping), which finds the
//! login by its own `SameSite=None` cookie.

mod support;
mod web;

use axum::routing::get;
use axum::{Json, Router};
use grantkit_axum::{CurrentUser, Grantkit, ResponseMode, Settings};
use reqwest::header::LOCATION;
use serde_json::json;
use support::{Browser, TestApp, COOKIE};
use web::Setup;

const LOGIN_COOKIE: &str = "__Host-grantkit-login";

fn routes(_: &Grantkit) -> Router {
    Router::new().route("/", get(|| async { "home" })).route(
        "/me",
        get(|CurrentUser(user): CurrentUser| async move { Json(json!(user.claims)) }),
    )
}

fn setup(mode: ResponseMode) -> Setup<'static> {
    Setup {
        settings: Settings {
            callback_path: "/callback".into(),
            response_mode: mode,
            ..Settings::default()
        },
        ..Setup::default()
    }
}

/// The provider's auto-submitting form: its action and hidden inputs, unescaped.
fn form_of(page: &str) -> (String, Vec<(String, String)>) {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + tag[start..].find('"')?;
        Some(unescape(&tag[start..end]))
    };
    let form = page.split("<form").nth(1).expect("no form on the page");
    let action = attr(form, "action").expect("no action");
    let inputs = form
        .split("<input")
        .skip(1)
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect();
    (action, inputs)
}

/// Starts a login and stops on the provider's form_post page.
async fn to_the_form(browser: &Browser, app: &TestApp) -> (String, Vec<(String, String)>) {
    let page = browser.navigate(&app.url("/auth/login")).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.url.starts_with(&app.peer.url("/")), "{page:?}");
    let (action, inputs) = form_of(&page.body);
    assert_eq!(action, app.url("/callback"));
    (action, inputs)
}

fn pairs(inputs: &[(String, String)]) -> Vec<(&str, &str)> {
    inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

fn set_cookie_for<'a>(headers: &'a [String], name: &str) -> Vec<&'a String> {
    headers
        .iter()
        .filter(|h| h.starts_with(&format!("{name}=")))
        .collect()
}

#[tokio::test]
async fn form_post_login_completes_through_the_providers_posted_form() {
    let test = "form_post_login_completes_through_the_providers_posted_form";
    let Some(app) = web::start(test, setup(ResponseMode::FormPost), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let (action, inputs) = to_the_form(&browser, &app).await;
    assert!(inputs.iter().any(|(n, _)| n == "code"), "{inputs:?}");
    // While the login runs, the browser holds no session cookie: only the login's.
    assert_eq!(browser.session_cookie(), None);
    let landed = browser.post_form(&action, &pairs(&inputs)).await;
    assert_eq!(landed.url, app.url("/"), "{landed:?}");
    assert_eq!(landed.body, "home");
    let me = browser.api(&app.url("/me")).await;
    assert_eq!(me.status(), 200);
    let claims: serde_json::Value = me.json().await.unwrap();
    assert_eq!(claims["sub"], "alice");
}

#[tokio::test]
async fn form_post_cookie_attributes_login_cookie_samesite_none_session_cookie_lax() {
    let test = "form_post_cookie_attributes_login_cookie_samesite_none_session_cookie_lax";
    let Some(app) = web::start(test, setup(ResponseMode::FormPost), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let (action, inputs) = to_the_form(&browser, &app).await;
    browser.post_form(&action, &pairs(&inputs)).await;
    let headers = browser.set_cookie_headers();
    let attributes =
        |h: &str| -> Vec<String> { h.split(';').skip(1).map(|a| a.trim().to_owned()).collect() };
    let login = set_cookie_for(&headers, LOGIN_COOKIE);
    assert_eq!(login.len(), 2, "set, then cleared: {headers:?}");
    let id = login[0]
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    assert_eq!(id.len(), 43, "an opaque 256-bit id only: {id}");
    for (header, max_age) in [(login[0], "Max-Age=600"), (login[1], "Max-Age=0")] {
        let attributes = attributes(header);
        for wanted in ["Path=/", "Secure", "HttpOnly", "SameSite=None", max_age] {
            assert!(attributes.iter().any(|a| a == wanted), "{wanted}: {header}");
        }
        assert!(!header.to_ascii_lowercase().contains("domain="), "{header}");
    }
    let session = set_cookie_for(&headers, COOKIE);
    assert_eq!(session.len(), 1, "{headers:?}");
    let attributes = attributes(session[0]);
    for wanted in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted}: {}",
            session[0]
        );
    }
    assert_ne!(browser.session_cookie().as_deref(), Some(id));
}

#[tokio::test]
async fn form_post_answer_sent_as_a_get_query_is_refused() {
    let test = "form_post_answer_sent_as_a_get_query_is_refused";
    let Some(app) = web::start(test, setup(ResponseMode::FormPost), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let (action, inputs) = to_the_form(&browser, &app).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&inputs)
        .finish();
    let landed = browser.navigate(&format!("{action}?{query}")).await;
    assert_eq!(landed.status, 400, "{landed:?}");
    assert!(landed.body.contains("POST body"), "{}", landed.body);
    // The code may have leaked with the URL: the login is over, the form too is refused.
    let posted = browser.post_form(&action, &pairs(&inputs)).await;
    assert_eq!(posted.status, 400, "{posted:?}");
    assert_eq!(browser.api(&app.url("/me")).await.status(), 401);
}

#[tokio::test]
async fn form_post_answer_posted_to_a_query_mode_login_is_refused() {
    let test = "form_post_answer_posted_to_a_query_mode_login_is_refused";
    let Some(app) = web::start(test, setup(ResponseMode::Query), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    // Follows the redirects by hand up to the callback, then posts its query instead.
    let mut url = reqwest::Url::parse(&app.url("/auth/login")).unwrap();
    let callback = loop {
        let response = browser.http.get(url.clone()).send().await.unwrap();
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        url = url.join(&location).unwrap();
        if url.as_str().starts_with(&app.url("/callback?")) {
            break url;
        }
    };
    let query: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let posted = browser
        .post_form(&app.url("/callback"), &pairs(&query))
        .await;
    assert_eq!(posted.status, 400, "{posted:?}");
    assert!(posted.body.contains("query"), "{}", posted.body);
    assert_eq!(browser.api(&app.url("/me")).await.status(), 401);
}
