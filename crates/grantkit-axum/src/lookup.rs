//! The session of a request: looked up on the first extractor that asks, at most once.
//!
//! [`Grantkit::attach`] puts a [`RequestSession`] in every request (an `Extension`, no
//! middleware future). Routes that never ask for a user (static files, health checks) then
//! cost nothing and keep working while the session store is down; an authenticated request
//! pays one store lookup however many extractors it uses.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::extract::LoginRequired;
use crate::session::User;
use crate::state::Grantkit;

/// What [`Grantkit::attach`] adds to each request.
#[derive(Clone)]
pub(crate) struct RequestSession {
    gk: Grantkit,
    /// `None` until looked up.
    found: Option<Found>,
}

/// The outcome of the lookup, kept for the request's other extractors.
#[derive(Clone)]
enum Found {
    /// The signed-in user, or none (no cookie, an unknown or expired session, a login in
    /// progress).
    User(Option<Arc<User>>),
    /// The session store failed: every extractor of this request answers `503`.
    StoreFailed,
}

impl RequestSession {
    pub(crate) fn new(gk: Grantkit) -> Self {
        Self { gk, found: None }
    }
}

/// The layer of the request, if the app was mounted with [`Grantkit::attach`].
pub(crate) fn layer_of(parts: &Parts) -> Option<&Grantkit> {
    parts.extensions.get::<RequestSession>().map(|r| &r.gk)
}

/// Looks the request's session up in the store, unless an earlier extractor did; the answer
/// is kept in the request for [`signed_in`].
pub(crate) async fn look_up_once(parts: &mut Parts) {
    let Some(request) = parts.extensions.get::<RequestSession>() else {
        return;
    };
    if request.found.is_some() {
        return;
    }
    let found = look_up(&request.gk, &parts.headers).await;
    if let Some(request) = parts.extensions.get_mut::<RequestSession>() {
        request.found = Some(found);
    }
}

/// The layer and the signed-in user, as [`look_up_once`] found them. Borrowed from the
/// request: no reference count moves, which on a busy server is a cache line bouncing
/// between cores.
pub(crate) fn signed_in(parts: &Parts) -> Result<(&Grantkit, &Arc<User>), LoginRequired> {
    match parts.extensions.get::<RequestSession>() {
        Some(RequestSession {
            gk,
            found: Some(Found::User(Some(user))),
        }) => Ok((gk, user)),
        Some(RequestSession {
            found: Some(Found::StoreFailed),
            ..
        }) => Err(LoginRequired::unavailable()),
        Some(RequestSession { gk, .. }) => Err(LoginRequired::for_request(Some(gk), parts)),
        None => {
            tracing::error!(
                "grantkit-axum: the session layer is missing: mount the app with Grantkit::attach"
            );
            Err(LoginRequired::for_request(None, parts))
        }
    }
}

/// The signed-in user of the request, looked up in the session store on the first call and
/// kept in the request for the next.
pub(crate) async fn user_of(parts: &mut Parts) -> Result<Arc<User>, LoginRequired> {
    look_up_once(parts).await;
    signed_in(parts).map(|(_, user)| user.clone())
}

async fn look_up(gk: &Grantkit, headers: &HeaderMap) -> Found {
    match gk.current(headers).await {
        Ok(current) => Found::User(current.and_then(|c| c.session.user)),
        Err(e) => {
            tracing::error!(error = %e, "grantkit-axum: session store failed");
            Found::StoreFailed
        }
    }
}
