//! "Connect with Polar" in an axum backend: the Rust counterpart of Polar's Flask example, on
//! grantkit-axum, which brings the login, the callback, the server-side session and the logout.
//!
//! - `/auth/login` starts an authorization (`sub_type=organization`); `/auth/callback` checks it.
//! - `/dashboard` calls Polar's API through an [`Authorized`] client, which refreshes as needed.
//! - `POST /auth/logout` revokes the tokens and ends the session.
//! - [`webhook_router`]: `POST /webhooks/polar` receives Polar's webhooks, verifying each
//!   delivery's signature on the raw body before reading it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use grantkit_axum::{Authorized, CurrentUser, Grantkit, LoginRequired};
use grantkit_polar_sh::{
    PolarAuthorizationExt, PolarSh, Scope, SubType, WebhookSecret, WebhookVerifier,
};

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
    let scopes = [Scope::OpenId, Scope::Email, Scope::ProductsRead];
    let login = grantkit_axum::Settings {
        after_login: "/dashboard".into(),
        scopes: scopes.into_iter().map(String::from).collect(),
        ..grantkit_axum::Settings::default()
    };
    let gk = Grantkit::builder(client)
        .settings(login)
        .authorize_with(|request| request.sub_type(SubType::Organization))
        .build()
        .map_err(|e| grantkit::Error::Config(e.to_string()))?;
    let pages = Router::new()
        .route("/", get(home))
        .route("/dashboard", get(dashboard))
        .with_state(Arc::new(settings.polar.api_base().to_owned()));
    Ok(gk.attach(pages))
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

async fn dashboard(
    State(api_base): State<Arc<String>>,
    user: Result<CurrentUser, LoginRequired>,
    api: Result<Authorized, Response>,
) -> Response {
    let (Ok(CurrentUser(user)), Ok(Authorized(api))) = (user, api) else {
        return Redirect::to("/").into_response();
    };
    // The authorized client adds the Bearer token, and on `invalid_token` refreshes once and retries.
    let response = api.get(format!("{api_base}/v1/products/")).send().await;
    let body = match response {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            let status = format!("HTTP {}", r.status());
            return page(StatusCode::BAD_GATEWAY, "Polar refused", &status);
        }
        Err(e) if e.is_reauthorization_required() => {
            return Redirect::to("/auth/login").into_response()
        }
        Err(e) => {
            let error = escape(&e.to_string());
            return page(StatusCode::BAD_GATEWAY, "Polar unreachable", &error);
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
    let who = escape(&user.subject);
    let logout = r#"<form method="post" action="/auth/logout"><button>Log out</button></form>"#;
    page(
        StatusCode::OK,
        "Dashboard",
        &format!(r#"<p>Connected as {who}</p><ul>{items}</ul>{logout}"#),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
