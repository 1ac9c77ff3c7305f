//! The session layer, the extractors and the require-login layer.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Json, Router};
use grantkit::{AccessToken, AuthorizedClient};
use serde_json::json;

use crate::session::User;
use crate::state::Grantkit;

/// The signed-in user of the request's session. Rejected with [`LoginRequired`] when there is
/// none.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub User);

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
/// page (and back afterwards), any other request gets `401`.
#[derive(Clone, Debug)]
pub struct LoginRequired {
    /// Where the login starts, with `return_to` when the request was a navigation.
    login: Option<String>,
}

impl LoginRequired {
    fn for_request(
        gk: Option<&Grantkit>,
        method: &Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
    ) -> Self {
        let login = gk.filter(|_| is_navigation(method, headers)).map(|gk| {
            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
            format!("{}?return_to={back}", gk.settings().login_path)
        });
        Self { login }
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
        match self.login {
            Some(login) => Redirect::to(&login).into_response(),
            None => {
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

/// What the session layer found for the request. Shared, so that an extractor needing only
/// the subject ([`FreshToken`], [`Authorized`]) does not copy the claims.
#[derive(Clone, Debug)]
struct Found(Option<Arc<User>>);

impl Grantkit {
    /// `app` with the login routes merged in and the session layer around everything, so the
    /// extractors ([`CurrentUser`], [`FreshToken`]) and [`require_login`] work in its
    /// handlers.
    pub fn attach(&self, app: Router) -> Router {
        app.merge(self.routes())
            .layer(middleware::from_fn_with_state(self.clone(), session_layer))
    }
}

async fn session_layer(
    axum::extract::State(gk): axum::extract::State<Grantkit>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match gk.current(request.headers()).await {
        Ok(current) => current.and_then(|c| c.session.user).map(Arc::new),
        Err(e) => {
            tracing::error!(error = %e, "grantkit-axum: session store failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    request.extensions_mut().insert(Found(user));
    request.extensions_mut().insert(gk);
    next.run(request).await
}

pub(crate) fn user_of(parts: &Parts) -> Result<Arc<User>, LoginRequired> {
    let gk = parts.extensions.get::<Grantkit>();
    if gk.is_none() {
        tracing::error!(
            "grantkit-axum: the session layer is missing: mount the app with Grantkit::attach"
        );
    }
    parts
        .extensions
        .get::<Found>()
        .and_then(|found| found.0.clone())
        .ok_or_else(|| LoginRequired::for_request(gk, &parts.method, &parts.uri, &parts.headers))
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = LoginRequired;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        user_of(parts).map(|user| CurrentUser(Arc::unwrap_or_clone(user)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FreshToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user = user_of(parts).map_err(IntoResponse::into_response)?;
        let gk = parts.extensions.get::<Grantkit>().cloned();
        let rejected = || {
            LoginRequired::for_request(gk.as_ref(), &parts.method, &parts.uri, &parts.headers)
                .into_response()
        };
        let Some(gk) = gk.clone() else {
            return Err(rejected());
        };
        let token = match gk.token_source(&user).await {
            Ok(source) => source.access_token().await,
            Err(e) => Err(e),
        };
        token.map(FreshToken).map_err(|e| {
            if e.is_reauthorization_required() {
                rejected()
            } else {
                tracing::warn!(error = %e, "grantkit-axum: no fresh access token");
                StatusCode::BAD_GATEWAY.into_response()
            }
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user = user_of(parts).map_err(IntoResponse::into_response)?;
        let gk = parts.extensions.get::<Grantkit>().cloned();
        let rejected =
            LoginRequired::for_request(gk.as_ref(), &parts.method, &parts.uri, &parts.headers);
        let Some(gk) = gk else {
            return Err(rejected.into_response());
        };
        match gk.token_source(&user).await {
            Ok(source) => Ok(Authorized(AuthorizedClient::with_client(
                gk.inner.http.clone(),
                source,
            ))),
            Err(e) if e.is_reauthorization_required() => Err(rejected.into_response()),
            Err(e) => {
                tracing::warn!(error = %e, "grantkit-axum: the user's tokens are unavailable");
                Err(StatusCode::BAD_GATEWAY.into_response())
            }
        }
    }
}

/// A layer for routes that need a signed-in user: `route_layer(middleware::from_fn(require_login))`
/// inside a router mounted with [`Grantkit::attach`]. Without a user, a browser navigation is
/// redirected to the login and an API call gets `401`.
pub async fn require_login(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(rejection) = user_of(&parts) {
        return rejection.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
