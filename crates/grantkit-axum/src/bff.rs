//! Backend-for-frontend for single-page apps: the SPA talks to this backend with its session
//! cookie; the tokens stay here, and upstream APIs get them from the proxy.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use grantkit::AuthorizedClient;
use serde_json::json;
use url::Url;

use crate::extract::CurrentUser;
use crate::routes::{begin_rp_logout, end_local_session};
use crate::state::Grantkit;

/// The header every BFF call except `/bff/login` must carry (with any value; the SPA sends
/// `1`). A cross-site form or a simple cross-site `fetch` cannot set a custom header without
/// a CORS preflight, which this backend never answers: the browser-apps BCP's CSRF defence,
/// on top of `SameSite=Lax`.
pub const CSRF_HEADER: &str = "x-grantkit-csrf";

/// Upstream APIs the proxy may call, by name: `/bff/api/{name}/{path}` goes to `{base}{path}`.
/// Nothing outside the list is reachable.
#[derive(Clone, Debug, Default)]
pub struct BffApis {
    apis: HashMap<String, Url>,
}

impl BffApis {
    /// An empty allowlist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the API `name` at `base` (an absolute URL; a missing trailing `/` is added so
    /// that paths stay under it).
    pub fn api(mut self, name: impl Into<String>, base: &str) -> Result<Self, url::ParseError> {
        let mut base = Url::parse(base)?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        self.apis.insert(name.into(), base);
        Ok(self)
    }
}

#[derive(Clone)]
struct Bff {
    gk: Grantkit,
    apis: Arc<BffApis>,
}

impl Grantkit {
    /// The BFF routes, to mount with [`Grantkit::attach`]: `GET /bff/login` (a navigation,
    /// `return_to` allowed), `GET /bff/user` (the user's claims, never tokens; `401` without
    /// a session), `POST /bff/logout` (revokes the tokens and answers
    /// `{"logout_url": …}`, the provider's logout page to navigate to, or `null`), and
    /// `/bff/api/{name}/{*path}` (any method) proxied to the allowlisted API with the user's
    /// access token. Every route but the login needs the [`CSRF_HEADER`].
    pub fn bff(&self, apis: BffApis) -> Router {
        let state = Bff {
            gk: self.clone(),
            apis: Arc::new(apis),
        };
        let guarded = Router::new()
            .route("/bff/user", get(user))
            .route("/bff/logout", post(logout))
            .route("/bff/api/{name}/{*path}", any(proxy))
            .route_layer(middleware::from_fn(require_csrf_header))
            .with_state(state);
        let login_path = self.settings().login_path.clone();
        let login = Router::new().route(
            "/bff/login",
            get(move |RawQuery(q): RawQuery| async move {
                let to = match q {
                    Some(q) => format!("{login_path}?{q}"),
                    None => login_path,
                };
                axum::response::Redirect::to(&to)
            }),
        );
        guarded.merge(login)
    }
}

async fn require_csrf_header(request: Request, next: Next) -> Response {
    if request.headers().contains_key(CSRF_HEADER) {
        return next.run(request).await;
    }
    let body = json!({"error": "csrf_header_required", "error_description": format!("send the {CSRF_HEADER} header")});
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

async fn user(CurrentUser(user): CurrentUser) -> Response {
    let body = json!({"sub": user.subject, "claims": user.claims});
    (no_store(), Json(body)).into_response()
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

async fn logout(State(bff): State<Bff>, headers: HeaderMap) -> Response {
    let tokens = end_local_session(&bff.gk, &headers).await;
    let Some(tokens) = tokens else {
        return (no_store(), Json(json!({"logout_url": null}))).into_response();
    };
    match begin_rp_logout(&bff.gk, tokens.as_ref()).await {
        Some(Ok((url, cookie))) => {
            let mut response =
                (no_store(), Json(json!({"logout_url": url.as_str()}))).into_response();
            if let Some(cookie) = cookie {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Some(Err(response)) => response,
        None => {
            let mut response = (no_store(), Json(json!({"logout_url": null}))).into_response();
            if let Some(clear) = bff.gk.clear_cookie() {
                response.headers_mut().insert(header::SET_COOKIE, clear);
            }
            response
        }
    }
}

/// Request headers the proxy passes on; everything else (cookies above all) stays here.
const FORWARDED: [header::HeaderName; 4] = [
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::CONTENT_TYPE,
    header::IF_NONE_MATCH,
];

/// Response headers the proxy passes back.
const RETURNED: [header::HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
    header::ETAG,
    header::LAST_MODIFIED,
];

/// The upstream URL for `path` under the API `name`, if the API is allowlisted and the path
/// stays under its base (`..` and encoded slashes cannot climb out).
fn upstream_url(apis: &BffApis, name: &str, path: &str, query: Option<&str>) -> Option<Url> {
    let base = apis.apis.get(name)?;
    if path.starts_with('/') || path.contains('\\') {
        return None;
    }
    let mut url = base.join(path).ok()?;
    let inside = url.origin() == base.origin() && url.path().starts_with(base.path());
    if !inside {
        return None;
    }
    url.set_query(query);
    Some(url)
}

async fn proxy(
    State(bff): State<Bff>,
    CurrentUser(user): CurrentUser,
    Path((name, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(url) = upstream_url(&bff.apis, &name, &path, query.as_deref()) else {
        let body = json!({"error": "not_allowed", "error_description": "no such API or path"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let source = match bff.gk.token_source(&user).await {
        Ok(source) => source,
        Err(e) => return upstream_error(&e),
    };
    // The layer's resource-server client, as the `Authorized` extractor's: redirects off, so an
    // upstream redirect goes back to the SPA as it came instead of being followed out of the
    // allowlisted base (with the user's token); and the client's certificate, which a
    // certificate-bound token (RFC 8705 §3) is refused without.
    let client = AuthorizedClient::with_client(bff.gk.inner.http.clone(), source);
    let mut forwarded = HeaderMap::new();
    for name in FORWARDED {
        if let Some(value) = headers.get(&name) {
            forwarded.insert(name, value.clone());
        }
    }
    let sent = client
        .request(method, url)
        .headers(forwarded)
        .body(body)
        .send()
        .await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => return upstream_error(&e),
    };
    let status = upstream.status();
    let mut returned = HeaderMap::new();
    for name in RETURNED {
        if let Some(value) = upstream.headers().get(&name) {
            returned.insert(name, value.clone());
        }
    }
    match upstream.bytes().await {
        Ok(bytes) => (status, returned, Body::from(bytes)).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

fn upstream_error(e: &grantkit::Error) -> Response {
    if e.is_reauthorization_required() {
        let body = json!({"error": "login_required"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    tracing::warn!(error = %e, "grantkit-axum: BFF proxy call failed");
    let body = json!({"error": "upstream_unavailable"});
    (StatusCode::BAD_GATEWAY, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bff_proxy_paths_stay_under_the_allowlisted_base() {
        let apis = BffApis::new()
            .api("orders", "https://api.example/v1")
            .unwrap();
        let ok = upstream_url(&apis, "orders", "items/7", Some("a=1")).unwrap();
        assert_eq!(ok.as_str(), "https://api.example/v1/items/7?a=1");
        for escape in [
            "../admin",
            "items/../../admin",
            "/admin",
            "//evil.example/x",
            "a\\..\\..\\b",
            "%2e%2e/admin",
        ] {
            let url = upstream_url(&apis, "orders", escape, None);
            assert!(
                url.as_ref().is_none_or(|u| u.path().starts_with("/v1/")),
                "{escape} -> {url:?}"
            );
        }
        assert!(upstream_url(&apis, "other", "x", None).is_none());
    }
}
