//! The login layer's routes: login, callback, logout, the logout return, back-channel logout.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grantkit::{Endpoint, TokenSet};
use serde_json::{json, Map, Value};

use crate::cookie;
use crate::session::{Session, SessionIndex, User};
use crate::settings::ResponseMode;
use crate::state::Grantkit;
use crate::step_up::{is_unmet_demand, StepUp};

impl Grantkit {
    /// The login layer's routes ([`Settings`](crate::Settings) paths), without the session
    /// layer: prefer [`Grantkit::attach`].
    pub fn routes(&self) -> Router {
        let s = self.settings();
        Router::new()
            .route(&s.login_path, get(login))
            .route(&s.callback_path, get(callback).post(callback_form))
            .route(&s.logout_path, post(logout))
            .route(&s.logged_out_path, get(logged_out))
            .route(&s.backchannel_logout_path, post(backchannel_logout))
            .with_state(self.clone())
    }
}

/// An HTML error page; `detail` is escaped.
pub(crate) fn page(status: StatusCode, title: &str, detail: &str) -> Response {
    let html = format!(
        "<!doctype html><title>{title}</title><h1>{title}</h1><p>{}</p>",
        escape(detail)
    );
    (status, no_store(), Html(html)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

fn store_failed(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "grantkit-axum: session store failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sessions unavailable",
        "try again later",
    )
}

/// A redirect that also sets (or clears) the session cookie.
fn redirect_with_cookie(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A local path to return to: `/…` but not `//…` or `/\…` (which browsers read as another
/// host), no control characters. Anything else is dropped: no open redirect.
fn local_path(candidate: &str) -> Option<String> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.chars().any(|c| c.is_control());
    ok.then(|| candidate.to_owned())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

impl Grantkit {
    fn session_cookie(&self, id: &str, session: &Session) -> Option<HeaderValue> {
        let s = self.settings();
        let lifetime = if session.user.is_some() {
            s.absolute_timeout
        } else {
            s.login_timeout
        };
        cookie::set(&s.cookie_name, id, lifetime.as_secs())
    }

    /// The cookie of a login in progress kept apart from the session (form_post, step-up):
    /// `SameSite=None` only for form_post, whose answer is a cross-site POST; in query mode the
    /// answer is a top-level GET, which carries a `Lax` cookie.
    fn login_cookie(&self, id: &str) -> Option<HeaderValue> {
        let s = self.settings();
        let lifetime = s.login_timeout.as_secs();
        match s.response_mode {
            ResponseMode::FormPost => cookie::set_cross_site(&s.login_cookie_name, id, lifetime),
            _ => cookie::set(&s.login_cookie_name, id, lifetime),
        }
    }

    /// Ends the request's login in progress and returns it: under the login cookie (a
    /// `form_post` or step-up login), else, in query mode, under the session cookie.
    async fn take_login(&self, headers: &HeaderMap, form_post: bool) -> Option<Session> {
        if let Some(login) = self.take_login_cookie(headers).await {
            return Some(login);
        }
        if form_post {
            return None;
        }
        self.take_current(headers, |s| s.pending_login.is_some())
            .await
    }

    async fn take_login_cookie(&self, headers: &HeaderMap) -> Option<Session> {
        let name = &self.settings().login_cookie_name;
        let current = self.current_of_cookie(headers, name).await.ok().flatten()?;
        current.session.pending_login.as_ref()?;
        if let Err(e) = self.inner.sessions.delete(&current.key).await {
            tracing::error!(error = %e, "grantkit-axum: could not delete a session");
        }
        Some(current.session)
    }

    pub(crate) fn clear_cookie(&self) -> Option<HeaderValue> {
        cookie::clear(&self.settings().cookie_name)
    }

    /// Ends the request's session if it is the kind `wanted` expects (a login in progress for
    /// the callback, say): deleted from the store. Another session is left alone, so that a
    /// link from another site to the callback or the logout return cannot log the user out.
    async fn take_current(
        &self,
        headers: &HeaderMap,
        wanted: impl Fn(&Session) -> bool,
    ) -> Option<Session> {
        let current = self.current(headers).await.ok().flatten()?;
        if !wanted(&current.session) {
            return None;
        }
        if let Err(e) = self.inner.sessions.delete(&current.key).await {
            tracing::error!(error = %e, "grantkit-axum: could not delete a session");
        }
        Some(current.session)
    }
}

async fn login(
    State(gk): State<Grantkit>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let return_to = query_param(query.as_deref(), "return_to").and_then(|p| local_path(&p));
    let step_up = match StepUp::from_login_query(query.as_deref()) {
        Ok(step_up) => step_up,
        Err(why) => return page(StatusCode::BAD_REQUEST, "Cannot start the login", why),
    };
    // A link on another site must not swap a signed-in user's session for a new login (a
    // logout by CSRF): the user is sent on instead. From the app's own pages a login always
    // starts afresh, replacing whatever session the browser had (session fixation).
    if is_cross_site(&headers) && signed_in(&gk, &headers).await {
        if step_up.is_some() {
            // Sending the user on would meet the step-up demand again: a redirect loop. A
            // click on this page is a same-site navigation, which starts the login.
            return confirm_step_up(query.as_deref().unwrap_or(""), &gk);
        }
        let target = return_to.unwrap_or_else(|| gk.settings().after_login.clone());
        return redirect_with_cookie(&target, None);
    }
    let mut request = gk
        .client()
        .authorize()
        .scopes(gk.settings().scopes.iter().cloned());
    if let Some(customize) = &gk.inner.customize {
        request = customize(request);
    }
    // After the customization, so that the route's demand is what the provider gets.
    if let Some(step_up) = &step_up {
        request = step_up.apply(request);
    }
    let form_post = gk.settings().response_mode == ResponseMode::FormPost;
    if form_post {
        request = request.form_post();
    }
    let built = request.build_async().await;
    let (url, pending) = match built {
        Ok(pair) => pair,
        Err(e) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Cannot start the login",
                &e.to_string(),
            )
        }
    };
    let session = Session {
        pending_login: Some(Box::new(pending)),
        return_to,
        ..Session::default()
    };
    let id = match gk.begin(session.clone()).await {
        Ok(id) => id,
        Err(e) => return store_failed(e),
    };
    // A form_post login keeps the session cookie (and the signed-in session, if any) as it
    // is: the login in progress is found by its own cookie, the one a cross-site POST carries.
    // So does a step-up login in either mode: a provider answer that falls short must leave
    // the user signed in as before, not signed out.
    let own_cookie = form_post || step_up.is_some();
    let cookie = if own_cookie {
        gk.login_cookie(&id)
    } else {
        gk.session_cookie(&id, &session)
    };
    let mut response = redirect_with_cookie(url.as_str(), cookie);
    if !own_cookie {
        // An abandoned step-up's cookie would otherwise be taken by this login's callback,
        // which looks at the login cookie first, and fail it on its `state`.
        if let Some(clear) = cookie::clear(&gk.settings().login_cookie_name) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    response
}

/// A page whose link starts the step-up login `query` describes.
fn confirm_step_up(query: &str, gk: &Grantkit) -> Response {
    let href = escape(&format!("{}?{query}", gk.settings().login_path));
    let html = format!(
        "<!doctype html><title>Sign in again</title><h1>Sign in again</h1>\
         <p>This page needs a more recent or stronger sign-in.</p><p><a href=\"{href}\">Continue</a></p>"
    );
    (StatusCode::OK, no_store(), Html(html)).into_response()
}

/// The browser says the request came from another site (Fetch Metadata).
fn is_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
}

async fn signed_in(gk: &Grantkit, headers: &HeaderMap) -> bool {
    matches!(gk.current(headers).await, Ok(Some(c)) if c.session.user.is_some())
}

/// The login's answer as it came: in the query of a `GET`, or in a POSTed form.
enum Answer {
    Query(String),
    Form(String),
}

async fn callback(
    State(gk): State<Grantkit>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    complete_login(&gk, &headers, Answer::Query(query.unwrap_or_default())).await
}

/// `response_mode=form_post`: the provider's page POSTs the answer here.
async fn callback_form(State(gk): State<Grantkit>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Login failed",
            "the form is not UTF-8",
        );
    };
    complete_login(&gk, &headers, Answer::Form(body)).await
}

async fn complete_login(gk: &Grantkit, headers: &HeaderMap, answer: Answer) -> Response {
    let form_post = gk.settings().response_mode == ResponseMode::FormPost;
    let mut response = verify_and_sign_in(gk, headers, answer, form_post).await;
    let name = &gk.settings().login_cookie_name;
    if form_post || cookie::read(headers, name).is_some() {
        // The login cookie has done its job, whatever the outcome.
        if let Some(clear) = cookie::clear_cross_site(&gk.settings().login_cookie_name) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    response
}

async fn verify_and_sign_in(
    gk: &Grantkit,
    headers: &HeaderMap,
    answer: Answer,
    form_post: bool,
) -> Response {
    // The login session is used once, whatever the outcome.
    let pending = gk
        .take_login(headers, form_post)
        .await
        .and_then(|s| s.pending_login.map(|p| (p, s.return_to)));
    let Some((pending, return_to)) = pending else {
        return page(
            StatusCode::BAD_REQUEST,
            "No login in progress",
            "start the login again",
        );
    };
    let step_up = pending.max_age().is_some() || !pending.essential_acr_values().is_empty();
    // grantkit refuses an answer in the other mode than the one the request asked for.
    let verified = match &answer {
        Answer::Query(query) => pending.verify_callback(query),
        Answer::Form(body) => pending.verify_form_post(body),
    };
    let tokens = match verified {
        Ok(code) => gk.client().exchange_code(code).await,
        Err(e) => Err(e),
    };
    let user = match tokens {
        Ok(tokens) => finish_login(gk, tokens).await,
        Err(e) => Err(e),
    };
    let user = match user {
        Ok(user) => user,
        // The provider answered a step-up with an old or weaker login: refused, and no new
        // redirect to the route that would demand the step-up again.
        Err(e) if step_up && is_unmet_demand(&e) => {
            let title = "Step-up authentication refused";
            return page(StatusCode::FORBIDDEN, title, &e.to_string());
        }
        Err(e) => return page(StatusCode::BAD_REQUEST, "Login failed", &e.to_string()),
    };
    let session = Session {
        user: Some(Arc::new(user)),
        ..Session::default()
    };
    let target = return_to.unwrap_or_else(|| gk.settings().after_login.clone());
    // A login kept under its own cookie (form_post, step-up) left the session it replaces in
    // the store: end it, or its cookie would stay a live session (session fixation).
    let _ = gk.take_current(headers, |_| true).await;
    match gk.begin(session.clone()).await {
        Ok(id) => redirect_with_cookie(&target, gk.session_cookie(&id, &session)),
        Err(e) => store_failed(e),
    }
}

/// Reads the user from the tokens and keeps the tokens under the user's subject.
async fn finish_login(gk: &Grantkit, tokens: TokenSet) -> grantkit::Result<User> {
    let mut user = user_of(gk, &tokens).await?;
    user.login_id = cookie::new_id();
    gk.keep_tokens(&user, tokens).await?;
    Ok(user)
}

/// The user of a fresh token set: the ID token's claims (with the userinfo claims it lacks:
/// providers put profile claims in userinfo only when an access token is issued, OpenID
/// Connect Core §5.4); else AccessLink's `x_user_id`; else the userinfo endpoint's answer.
async fn user_of(gk: &Grantkit, tokens: &TokenSet) -> grantkit::Result<User> {
    if let Some(id_claims) = tokens.id_token_claims() {
        let sid = id_claims
            .claims
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut claims = id_claims.claims.clone();
        if gk.client().provider().endpoint(Endpoint::Userinfo).is_ok() {
            // grantkit refuses a userinfo answer whose `sub` is not the ID token's.
            match gk.client().userinfo(tokens).await {
                Ok(info) => {
                    for (name, value) in info.claims {
                        claims.entry(name).or_insert(value);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "grantkit-axum: userinfo failed; ID token claims only")
                }
            }
        }
        return Ok(User {
            subject: id_claims.sub.clone(),
            sid,
            claims,
            login_id: String::new(),
        });
    }
    let user_id = match tokens.extra().get("x_user_id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if let Some(subject) = user_id {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(subject.clone()));
        return Ok(User {
            subject,
            sid: None,
            claims,
            login_id: String::new(),
        });
    }
    let info = gk.client().userinfo(tokens).await?;
    Ok(User {
        subject: info.sub.clone(),
        sid: None,
        claims: info.claims,
        login_id: String::new(),
    })
}

async fn logout(State(gk): State<Grantkit>, headers: HeaderMap) -> Response {
    let Some(tokens) = end_local_session(&gk, &headers).await else {
        return redirect_with_cookie(&gk.settings().after_logout, gk.clear_cookie());
    };
    match begin_rp_logout(&gk, tokens.as_ref()).await {
        Some(Ok((url, cookie))) => redirect_with_cookie(url.as_str(), cookie),
        Some(Err(response)) => response,
        None => redirect_with_cookie(&gk.settings().after_logout, gk.clear_cookie()),
    }
}

/// Ends the request's session and revokes and deletes its user's tokens. `None` when there
/// was no signed-in session; else the tokens, if any, for the `id_token_hint`.
pub(crate) async fn end_local_session(
    gk: &Grantkit,
    headers: &HeaderMap,
) -> Option<Option<TokenSet>> {
    let user = gk
        .take_current(headers, |s| s.user.is_some())
        .await
        .and_then(|s| s.user)?;
    Some(revoke_and_forget(gk, &user).await)
}

/// Revokes the user's tokens at the provider (best effort: the local logout goes on when the
/// provider is unreachable) and deletes them; returns them for the `id_token_hint`.
async fn revoke_and_forget(gk: &Grantkit, user: &User) -> Option<TokenSet> {
    let subject = user.subject.as_str();
    let tokens = match gk.token_source(user).await {
        Ok(source) => Some(source.current().token_set().clone()),
        Err(_) => None,
    };
    if let Some(tokens) = &tokens {
        if let Err(e) = gk.client().revoke_tokens(tokens).await {
            tracing::warn!(error = %e, "grantkit-axum: revocation at logout failed");
        }
    }
    if let Err(e) = gk.forget_tokens(subject).await {
        tracing::warn!(error = %e, "grantkit-axum: could not delete tokens at logout");
    }
    tokens
}

/// The provider's end-session URL and the cookie of a new short session holding the
/// request's `state` (to check the return); `None` when the provider has no end-session
/// endpoint (the logout stays local).
pub(crate) async fn begin_rp_logout(
    gk: &Grantkit,
    tokens: Option<&TokenSet>,
) -> Option<Result<(url::Url, Option<HeaderValue>), Response>> {
    gk.client().provider().endpoint(Endpoint::EndSession).ok()?;
    let redirect_uri = gk.client().redirect_uri().and_then(|uri| {
        url::Url::parse(uri)
            .ok()?
            .join(&gk.settings().logged_out_path)
            .ok()
    });
    let mut request = gk.client().logout();
    if let Some(tokens) = tokens {
        request = request.id_token_hint(tokens);
    }
    if let Some(uri) = redirect_uri {
        request = request.post_logout_redirect_uri(uri.as_str());
    }
    let (url, pending) = match request.build() {
        Ok(pair) => pair,
        Err(e) => {
            let title = "Logged out here; the provider's logout failed";
            return Some(Err(page(StatusCode::BAD_GATEWAY, title, &e.to_string())));
        }
    };
    let session = Session {
        pending_logout: Some(Box::new(pending)),
        ..Session::default()
    };
    Some(match gk.begin(session.clone()).await {
        Ok(id) => Ok((url, gk.session_cookie(&id, &session))),
        Err(e) => Err(store_failed(e)),
    })
}

async fn logged_out(
    State(gk): State<Grantkit>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pending = gk
        .take_current(&headers, |s| s.pending_logout.is_some())
        .await
        .and_then(|s| s.pending_logout);
    let verified = pending.map(|p| p.verify_return(query.as_deref().unwrap_or("")));
    match verified {
        Some(Ok(())) => redirect_with_cookie(&gk.settings().after_logout, gk.clear_cookie()),
        Some(Err(e)) => {
            let mut response = page(
                StatusCode::BAD_REQUEST,
                "Logout not confirmed",
                &e.to_string(),
            );
            if let Some(clear) = gk.clear_cookie() {
                response.headers_mut().insert(header::SET_COOKIE, clear);
            }
            response
        }
        None => page(StatusCode::BAD_REQUEST, "No logout in progress", ""),
    }
}

/// Back-Channel Logout 1.0 §2.8: 200 once the sessions ended, 400 for a token that fails a
/// check; never cached.
async fn backchannel_logout(State(gk): State<Grantkit>, body: Bytes) -> Response {
    let token = url::form_urlencoded::parse(&body)
        .filter(|(n, _)| n == "logout_token")
        .map(|(_, v)| v.into_owned())
        .collect::<Vec<_>>();
    let [token] = token.as_slice() else {
        return backchannel_error("exactly one logout_token is required");
    };
    let verified = gk
        .client()
        .verify_logout_token(token, gk.inner.replay.as_ref())
        .await;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return backchannel_error(&e.to_string()),
    };
    let ended = match (&verified.sid, &verified.sub) {
        (Some(sid), _) => end_sessions(&gk, &SessionIndex::Sid(sid.clone())).await,
        (None, Some(sub)) => end_sessions(&gk, &SessionIndex::Subject(sub.clone())).await,
        (None, None) => Ok(()),
    };
    match ended {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "grantkit-axum: back-channel logout could not end sessions");
            (StatusCode::SERVICE_UNAVAILABLE, no_store()).into_response()
        }
    }
}

fn backchannel_error(description: &str) -> Response {
    let body = json!({"error": "invalid_request", "error_description": description});
    (StatusCode::BAD_REQUEST, no_store(), Json(body)).into_response()
}

/// Deletes the sessions under `index`, and the tokens of each user left without a session.
async fn end_sessions(gk: &Grantkit, index: &SessionIndex) -> Result<(), crate::SessionError> {
    let store = &gk.inner.sessions;
    let mut subjects = Vec::new();
    for key in store.find(index).await? {
        if let Some(user) = store.load(&key).await?.and_then(|s| s.user) {
            subjects.push(user.subject.clone());
        }
        store.delete(&key).await?;
    }
    subjects.dedup();
    for subject in subjects {
        let others = store.find(&SessionIndex::Subject(subject.clone())).await?;
        if others.is_empty() {
            if let Err(e) = gk.forget_tokens(&subject).await {
                tracing::warn!(error = %e, "grantkit-axum: could not delete tokens at back-channel logout");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn return_to_is_a_local_path_only() {
        assert_eq!(local_path("/orders?x=1").as_deref(), Some("/orders?x=1"));
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "orders",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}
