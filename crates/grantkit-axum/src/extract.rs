//! The session layer, the extractors and the require-login layer.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json, Router};
use grantkit::{AccessToken, AuthorizedClient};
use serde_json::json;

use crate::lookup::{look_up_once, signed_in, user_of, RequestSession};
use crate::session::User;
use crate::state::Grantkit;

/// The signed-in user of the request's session. Rejected with [`LoginRequired`] when there is
/// none.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Arc<User>);

/// A fresh access token of the signed-in user, refreshed first when it is about to expire.
/// Server-side only: never send it to the browser. Rejected with [`LoginRequired`] when there
/// is no user or the tokens cannot be refreshed.
#[derive(Clone, Debug)]
pub struct FreshToken(pub AccessToken);

/// An HTTP client that sends the signed-in user's access token, refreshing it when due and
/// once more when the API answers `invalid_token` ([`grantkit::AuthorizedClient`]).
/// Rejected with [`LoginRequired`] when there is no user or no tokens.
#[derive(Debug)]
pub struct Authorized(pub AuthorizedClient);

/// The answer when a route needs a signed-in user: a browser navigation goes to the login
/// page (and back afterwards), any other request gets `401`. When the session store failed,
/// every request gets `503` instead.
#[derive(Clone, Debug)]
pub struct LoginRequired {
    answer: Answer,
}

#[derive(Clone, Debug)]
enum Answer {
    /// `401`, or a redirect to this login URL (with `return_to`) for a navigation.
    Login(Option<String>),
    /// `503`: the session store failed, so whether there is a user is unknown.
    Unavailable,
}

impl LoginRequired {
    pub(crate) fn for_request(gk: Option<&Grantkit>, parts: &Parts) -> Self {
        let login = gk
            .filter(|_| is_navigation(&parts.method, &parts.headers))
            .map(|gk| {
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
                format!("{}?return_to={back}", gk.settings().login_path)
            });
        Self {
            answer: Answer::Login(login),
        }
    }

    pub(crate) fn unavailable() -> Self {
        Self {
            answer: Answer::Unavailable,
        }
    }

    /// Whether the session store failed (the answer is `503`): there may be a user, so a page
    /// that shows a login link instead would mislead.
    pub fn is_store_failure(&self) -> bool {
        matches!(self.answer, Answer::Unavailable)
    }
}

/// A top-level browser navigation: a `GET` that asks for HTML (or says it navigates).
pub(crate) fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    method == Method::GET
        && (header("sec-fetch-mode") == "navigate"
            || header(header::ACCEPT.as_str()).contains("text/html"))
}

impl IntoResponse for LoginRequired {
    fn into_response(self) -> Response {
        match self.answer {
            Answer::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Answer::Login(Some(login)) => Redirect::to(&login).into_response(),
            Answer::Login(None) => {
                let body = json!({"error": "login_required"});
                let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
        }
    }
}

impl Grantkit {
    /// `app` with the login routes merged in and the session layer around everything, so the
    /// extractors ([`CurrentUser`], [`FreshToken`]) and [`require_login`] work in its
    /// handlers. The layer adds no middleware: the session is looked up by the first extractor
    /// of a request that asks for it, once.
    pub fn attach(&self, app: Router) -> Router {
        app.merge(self.routes())
            .layer(Extension(RequestSession::new(self.clone())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = LoginRequired;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        user_of(parts).await.map(CurrentUser)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FreshToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        look_up_once(parts).await;
        let (gk, user) = signed_in(parts).map_err(IntoResponse::into_response)?;
        gk.fresh_token(user)
            .await
            .map(FreshToken)
            .map_err(|e| tokens_unavailable(&e, gk, parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        look_up_once(parts).await;
        let (gk, user) = signed_in(parts).map_err(IntoResponse::into_response)?;
        match gk.token_source(user).await {
            Ok(source) => Ok(Authorized(AuthorizedClient::with_client(
                gk.inner.http.clone(),
                source,
            ))),
            Err(e) => Err(tokens_unavailable(&e, gk, parts)),
        }
    }
}

/// The answer when the user's tokens cannot be had: a new login when the grant is gone
/// (revoked, expired), else `502` (the provider failed).
fn tokens_unavailable(e: &grantkit::Error, gk: &Grantkit, parts: &Parts) -> Response {
    if e.is_reauthorization_required() {
        LoginRequired::for_request(Some(gk), parts).into_response()
    } else {
        tracing::warn!(error = %e, "grantkit-axum: no fresh access token");
        StatusCode::BAD_GATEWAY.into_response()
    }
}

/// A layer for routes that need a signed-in user: `route_layer(middleware::from_fn(require_login))`
/// inside a router mounted with [`Grantkit::attach`]. Without a user, a browser navigation is
/// redirected to the login and an API call gets `401`.
pub async fn require_login(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Err(rejection) = user_of(&mut parts).await {
        return rejection.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
