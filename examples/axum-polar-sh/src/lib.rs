//! "Connect with Polar" in an axum backend: the Rust counterpart of Polar's Flask example.
//!
//! - `/auth/login` starts an authorization (state + PKCE kept in a server-side session,
//!   `sub_type=organization`).
//! - `/auth/callback` checks state and shows provider errors.
//! - `/dashboard` calls Polar's API through an [`AuthorizedClient`], which refreshes as needed.
//! - `/auth/logout` revokes the tokens.
//! - [`webhook_router`]: `POST /webhooks/polar` receives Polar's webhooks, verifying each
//!   delivery's signature on the raw body before reading it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use grantkit::store::MemoryTokenStore;
use grantkit::{AuthorizedClient, Client, PendingAuthorization, TokenSource};
use grantkit_polar_sh::{
    PolarAuthorizationExt, PolarSh, Scope, SubType, WebhookSecret, WebhookVerifier,
};
use rand::Rng;

/// What the app needs to know about its Polar registration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Which Polar (production, sandbox, or the fake).
    pub polar: PolarSh,
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret (`client_secret_post`).
    pub client_secret: String,
    /// This app's callback URL, exactly as registered: `http://HOST/auth/callback`.
    pub redirect_uri: String,
}

#[derive(Default)]
struct Session {
    pending: Option<PendingAuthorization>,
    tokens: Option<TokenSource>,
    who: Option<String>,
}

#[derive(Clone)]
struct App {
    client: Client,
    api_base: String,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

const COOKIE: &str = "polar_example_session";

/// `POST /webhooks/polar`: verifies the Standard Webhooks signature Polar sends (secret as shown
/// in Polar's webhook settings, `polar_whs_…`) on the raw body, then reads the event. 202 on success,
/// 403 for a bad signature or a stale timestamp (Polar retries non-2xx answers), 400 for a body
/// that is not an event.
pub fn webhook_router(secret: WebhookSecret) -> Router {
    Router::new()
        .route("/webhooks/polar", post(webhook))
        .with_state(Arc::new(WebhookVerifier::new(secret)))
}

async fn webhook(
    State(verifier): State<Arc<WebhookVerifier>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Verify the bytes as received: re-serialised JSON would not match the signature.
    if let Err(e) = verifier.verify(&headers, &body) {
        return (StatusCode::FORBIDDEN, e.to_string()).into_response();
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a JSON event").into_response();
    };
    let kind = event["type"].as_str().unwrap_or("unknown");
    // `webhook-id` is the idempotency key: a real app records it and skips repeats.
    (StatusCode::ACCEPTED, format!("accepted {kind}")).into_response()
}

/// Builds the app's router (discovery happens here, once).
pub async fn app(settings: Settings) -> grantkit::Result<Router> {
    let provider = settings.polar.discover().await?;
    let client = settings
        .polar
        .client_builder(provider, settings.client_id)
        .client_secret(settings.client_secret)
        .redirect_uri(settings.redirect_uri)
        .build()?;
    let state = App {
        client,
        api_base: settings.polar.api_base().to_owned(),
        sessions: Arc::default(),
    };
    Ok(Router::new()
        .route("/", get(home))
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/dashboard", get(dashboard))
        .route("/auth/logout", get(logout))
        .with_state(state))
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!("<!doctype html><title>{title}</title><h1>{title}</h1>{body}");
    (status, Html(html)).into_response()
}

async fn home() -> Response {
    page(
        StatusCode::OK,
        "Polar example",
        r#"<a href="/auth/login">Connect with Polar</a>"#,
    )
}

async fn login(State(app): State<App>) -> Response {
    let built = app
        .client
        .authorize()
        .polar_scopes([Scope::OpenId, Scope::Email, Scope::ProductsRead])
        .sub_type(SubType::Organization)
        .build();
    let (url, pending) = match built {
        Ok(pair) => pair,
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Cannot start the login",
                &escape(&e.to_string()),
            )
        }
    };
    let id: String = (0..32)
        .map(|_| rand::thread_rng().sample(rand::distributions::Alphanumeric) as char)
        .collect();
    app.sessions.lock().unwrap().insert(
        id.clone(),
        Session {
            pending: Some(pending),
            ..Session::default()
        },
    );
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/");
    ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response()
}

async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(id) = session_id(&headers) else {
        return page(
            StatusCode::BAD_REQUEST,
            "No login in progress",
            r#"<a href="/auth/login">Start again</a>"#,
        );
    };
    let pending = app
        .sessions
        .lock()
        .unwrap()
        .get_mut(&id)
        .and_then(|s| s.pending.take());
    let Some(pending) = pending else {
        return page(
            StatusCode::BAD_REQUEST,
            "No login in progress",
            r#"<a href="/auth/login">Start again</a>"#,
        );
    };
    // The raw query goes to grantkit as is: it checks state, iss, error= and duplicates.
    let tokens = match pending.verify_callback(query.as_deref().unwrap_or("")) {
        Ok(code) => app.client.exchange_code(code).await,
        Err(e) => Err(e),
    };
    let tokens = match tokens {
        Ok(t) => t,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Login failed",
                &format!("<p>{}</p>", escape(&e.to_string())),
            )
        }
    };
    let who = tokens.id_token_claims().map(|c| c.sub.clone());
    let source = TokenSource::builder(app.client.clone())
        .store(MemoryTokenStore::new())
        .tokens(tokens)
        .build()
        .await;
    match source {
        Ok(source) => {
            let mut sessions = app.sessions.lock().unwrap();
            let session = sessions.entry(id).or_default();
            session.tokens = Some(source);
            session.who = who;
            Redirect::to("/dashboard").into_response()
        }
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login failed",
            &escape(&e.to_string()),
        ),
    }
}

async fn dashboard(State(app): State<App>, headers: HeaderMap) -> Response {
    let session = session_id(&headers).and_then(|id| {
        let sessions = app.sessions.lock().unwrap();
        let s = sessions.get(&id)?;
        Some((s.tokens.clone()?, s.who.clone()))
    });
    let Some((source, who)) = session else {
        return Redirect::to("/").into_response();
    };
    let api = match AuthorizedClient::new(source) {
        Ok(api) => api,
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                &escape(&e.to_string()),
            )
        }
    };
    // The authorized client adds the Bearer token, and on `invalid_token` refreshes once and retries.
    let response = api
        .get(format!("{}/v1/products/", app.api_base))
        .send()
        .await;
    let body = match response {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Polar refused",
                &format!("HTTP {}", r.status()),
            )
        }
        Err(e) if e.is_reauthorization_required() => {
            return Redirect::to("/auth/login").into_response()
        }
        Err(e) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Polar unreachable",
                &escape(&e.to_string()),
            )
        }
    };
    let products: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let items: String = products["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .map(|name| format!("<li>{}</li>", escape(name)))
        .collect();
    let who = escape(who.as_deref().unwrap_or("?"));
    page(
        StatusCode::OK,
        "Dashboard",
        &format!(r#"<p>Connected as {who}</p><ul>{items}</ul><a href="/auth/logout">Log out</a>"#),
    )
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    let removed = session_id(&headers).and_then(|id| app.sessions.lock().unwrap().remove(&id));
    if let Some(source) = removed.and_then(|s| s.tokens) {
        let tokens = source.current();
        if let Err(e) = app.client.revoke_tokens(tokens.token_set()).await {
            return page(
                StatusCode::BAD_GATEWAY,
                "Logged out locally; revocation failed",
                &escape(&e.to_string()),
            );
        }
    }
    let expired = format!("{COOKIE}=; Max-Age=0; Path=/");
    ([(header::SET_COOKIE, expired)], Redirect::to("/")).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
