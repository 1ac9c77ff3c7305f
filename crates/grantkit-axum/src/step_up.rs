//! Step-up authentication: routes that demand a recent login (`max_age`) or a given
//! authentication context (`acr`), and the login that meets the demand.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use grantkit::oidc::DEFAULT_ID_TOKEN_LEEWAY;
use grantkit::AuthorizationRequest;
use serde_json::{json, Value};

use crate::extract::is_navigation;
use crate::lookup::{layer_of, user_of};
use crate::session::User;
use crate::state::now_secs;

/// What a route demands of the login behind the session: a login at most `max_age` old, and/or
/// an `acr` among the accepted values. Put it in front of routes with [`require_step_up`].
///
/// ```
/// use std::time::Duration;
/// use axum::routing::post;
/// use axum::{middleware, Router};
/// use grantkit_axum::{require_step_up, StepUp};
///
/// let step_up = StepUp::new()
///     .max_age(Duration::from_secs(300))
///     .acr("urn:grantkit:acr:mfa");
/// let payments: Router = Router::new()
///     .route("/pay", post(|| async { "paid" }))
///     .route_layer(middleware::from_fn_with_state(step_up, require_step_up));
/// # let _ = payments;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct StepUp {
    max_age: Option<Duration>,
    acr: Vec<String>,
}

/// Why the session's login does not meet a [`StepUp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unmet {
    /// `auth_time` is older than `max_age`, or unknown.
    TooOld,
    /// `acr` is none of the accepted values, or absent.
    Acr,
}

impl StepUp {
    /// No demand yet: add [`max_age`](Self::max_age) and/or [`acr`](Self::acr).
    pub fn new() -> Self {
        Self::default()
    }

    /// The user must have authenticated at most this long ago (the ID token's `auth_time`; a
    /// login whose `auth_time` is unknown counts as too old). Whole seconds.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Accepts the authentication context class `value` (the ID token's `acr`); call again to
    /// accept several, in order of preference.
    pub fn acr(mut self, value: impl Into<String>) -> Self {
        let value = value.into();
        if !self.acr.contains(&value) {
            self.acr.push(value);
        }
        self
    }

    /// What `user`'s login fails to meet at `now` (seconds since the epoch), first failure only.
    /// `leeway` is the clock skew allowed on `auth_time`: the callback's check allows the
    /// client's ID-token leeway, and a stricter route would send a user the provider (its
    /// clock a little behind) just logged in to log in again.
    fn unmet_by(&self, user: &User, now: u64, leeway: Duration) -> Option<Unmet> {
        if let Some(max_age) = self.max_age {
            let auth_time = user.claims.get("auth_time").and_then(Value::as_u64);
            let allowed = max_age.as_secs().saturating_add(leeway.as_secs());
            let fresh = auth_time.is_some_and(|t| now.saturating_sub(t) <= allowed);
            if !fresh {
                return Some(Unmet::TooOld);
            }
        }
        if !self.acr.is_empty() {
            let acr = user.claims.get("acr").and_then(Value::as_str);
            if !acr.is_some_and(|acr| self.acr.iter().any(|v| v == acr)) {
                return Some(Unmet::Acr);
            }
        }
        None
    }

    /// The login route's query for this demand (`max_age`, `acr_values`) and `return_to`.
    fn login_query(&self, return_to: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("return_to", return_to);
        if let Some(max_age) = self.max_age {
            query.append_pair("max_age", &max_age.as_secs().to_string());
        }
        if !self.acr.is_empty() {
            query.append_pair("acr_values", &self.acr.join(" "));
        }
        query.finish()
    }

    /// The demand a login request carries in its query, if any; `Err` for a `max_age` that is
    /// not a whole number of seconds.
    pub(crate) fn from_login_query(query: Option<&str>) -> Result<Option<Self>, &'static str> {
        let mut step_up = StepUp::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*name {
                "max_age" => {
                    let secs = value
                        .parse()
                        .map_err(|_| "max_age must be a whole number of seconds")?;
                    step_up = step_up.max_age(Duration::from_secs(secs));
                }
                "acr_values" => {
                    for acr in value.split(' ').filter(|v| !v.is_empty()) {
                        step_up = step_up.acr(acr);
                    }
                }
                _ => {}
            }
        }
        Ok((step_up != StepUp::new()).then_some(step_up))
    }

    /// Adds the demand to a login's authorization request. The `acr` goes as an essential
    /// `acr` of the `claims` parameter (OpenID Connect Core §5.5.1.1): the provider has to
    /// re-authenticate a user whose session has another `acr` (oidc-provider's
    /// `essential_acrs` login check does), and grantkit refuses an ID token whose `acr` is
    /// none of them. Not as `acr_values` too: that one is a voluntary request (§3.1.2.1), and
    /// oidc-provider lets it replace the essential one (`assignClaims` in
    /// lib/actions/authorization/claims.js), so the session's old `acr` would be answered.
    /// `max_age` makes grantkit check `auth_time` likewise.
    pub(crate) fn apply<'c>(
        &self,
        mut request: AuthorizationRequest<'c>,
    ) -> AuthorizationRequest<'c> {
        if let Some(max_age) = self.max_age {
            request = request.max_age(max_age);
        }
        if !self.acr.is_empty() {
            let essential = json!({"id_token": {"acr": {"essential": true, "values": self.acr}}});
            request = request.claims(essential);
        }
        request
    }

    /// RFC 9470 §3's challenge for an API call.
    fn challenge(&self, unmet: Unmet) -> Response {
        let description = match unmet {
            Unmet::TooOld => "a more recent authentication is required",
            Unmet::Acr => "a different authentication level is required",
        };
        let mut value = format!(
            "Bearer error=\"insufficient_user_authentication\", error_description=\"{description}\""
        );
        let mut body = serde_json::Map::new();
        body.insert("error".into(), json!("insufficient_user_authentication"));
        body.insert("error_description".into(), json!(description));
        if let Some(max_age) = self.max_age {
            value.push_str(&format!(", max_age=\"{}\"", max_age.as_secs()));
            body.insert("max_age".into(), json!(max_age.as_secs()));
        }
        if !self.acr.is_empty() {
            // Registered acr values are URIs or tokens: no quote or backslash to escape.
            let acr: Vec<&str> = self.acr.iter().map(|a| a.as_str()).collect();
            value.push_str(&format!(
                ", acr_values=\"{}\"",
                acr.join(" ").replace(['"', '\\'], "")
            ));
            body.insert("acr_values".into(), json!(acr.join(" ")));
        }
        let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A layer for routes that demand a [`StepUp`]:
/// `route_layer(middleware::from_fn_with_state(step_up, require_step_up))` inside a router
/// mounted with [`Grantkit::attach`](crate::Grantkit::attach).
///
/// When the session's login is too old (or its `auth_time` unknown) or its `acr` is not
/// accepted, a browser navigation is sent to a new login carrying `max_age`, `acr_values`
/// and `return_to`; on return grantkit checks the new ID token's `auth_time` and `acr`
/// (a provider that answers with an old or weaker login gets a `403` page, not another
/// redirect), and the session's claims are the new login's. Any other request gets `401`
/// with `WWW-Authenticate: Bearer error="insufficient_user_authentication"` and the demand
/// (`max_age`, `acr_values`), as RFC 9470 §3 describes. Without a signed-in user, a
/// navigation goes to that same login and an API call gets `401` `login_required`.
pub async fn require_step_up(
    State(step_up): State<StepUp>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let navigation = is_navigation(&parts.method, &parts.headers);
    let unmet = match user_of(&mut parts).await {
        Ok(user) => {
            let leeway = layer_of(&parts)
                .map_or(DEFAULT_ID_TOKEN_LEEWAY, |gk| gk.client().id_token_leeway());
            step_up.unmet_by(&user, now_secs(), leeway)
        }
        Err(rejection) if !navigation || rejection.is_store_failure() => {
            return rejection.into_response()
        }
        Err(_) => Some(Unmet::TooOld),
    };
    let Some(unmet) = unmet else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    match layer_of(&parts).cloned().filter(|_| navigation) {
        Some(gk) => {
            let back = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let login = format!("{}?{}", gk.settings().login_path, step_up.login_query(back));
            Redirect::to(&login).into_response()
        }
        None => step_up.challenge(unmet),
    }
}

/// Whether `e`, from the callback of a step-up login, says the provider answered with a
/// login that does not meet the demand (too old, no `auth_time`, another `acr`).
pub(crate) fn is_unmet_demand(e: &grantkit::Error) -> bool {
    use grantkit::oidc::IdTokenError;
    matches!(
        e,
        grantkit::Error::IdToken(
            IdTokenError::AuthenticationTooOld { .. }
                | IdTokenError::MissingAuthTime
                | IdTokenError::AcrNotSatisfied { .. }
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(claims: Value) -> User {
        User {
            subject: "alice".into(),
            sid: None,
            claims: claims.as_object().cloned().unwrap_or_default(),
            login_id: String::new(),
        }
    }

    #[test]
    fn step_up_max_age_needs_a_known_recent_auth_time() {
        let demand = StepUp::new().max_age(Duration::from_secs(60));
        let unmet = |user: &User| demand.unmet_by(user, 1000, DEFAULT_ID_TOKEN_LEEWAY);
        assert_eq!(unmet(&user(json!({}))), Some(Unmet::TooOld));
        // Older than max_age plus the leeway.
        assert_eq!(unmet(&user(json!({"auth_time": 879}))), Some(Unmet::TooOld));
        assert_eq!(unmet(&user(json!({"auth_time": 940}))), None);
    }

    /// A provider whose clock is 30 s behind ours stamps a login made just now with an
    /// `auth_time` 30 s in our past: with `max_age` that login is `max_age + 30 s` old by our
    /// clock yet fresh. The callback's check (`check_max_age` in grantkit's ID-token
    /// validation) allows the client's ID-token leeway; the route must allow the same, or the
    /// user is sent to log in again right after logging in.
    #[test]
    fn step_up_max_age_allows_the_clock_leeway_of_the_callback_check() {
        let demand = StepUp::new().max_age(Duration::from_secs(300));
        let now = 10_000;
        let skewed = user(json!({"auth_time": now - 300 - 30}));
        assert_eq!(demand.unmet_by(&skewed, now, DEFAULT_ID_TOKEN_LEEWAY), None);
        let far_older = user(json!({"auth_time": now - 300 - 3600}));
        assert_eq!(
            demand.unmet_by(&far_older, now, DEFAULT_ID_TOKEN_LEEWAY),
            Some(Unmet::TooOld)
        );
    }

    #[test]
    fn step_up_acr_must_be_one_of_the_accepted_values() {
        let demand = StepUp::new().acr("mfa").acr("hwk");
        assert_eq!(
            demand.unmet_by(&user(json!({})), 0, Duration::ZERO),
            Some(Unmet::Acr)
        );
        let weak = user(json!({"acr": "weak"}));
        assert_eq!(demand.unmet_by(&weak, 0, Duration::ZERO), Some(Unmet::Acr));
        assert_eq!(
            demand.unmet_by(&user(json!({"acr": "hwk"})), 0, Duration::ZERO),
            None
        );
    }

    #[test]
    fn step_up_demand_round_trips_through_the_login_query() {
        let demand = StepUp::new()
            .max_age(Duration::from_secs(30))
            .acr("a:b")
            .acr("c");
        let query = demand.login_query("/pay?x=1");
        assert_eq!(
            query,
            "return_to=%2Fpay%3Fx%3D1&max_age=30&acr_values=a%3Ab+c"
        );
        assert_eq!(StepUp::from_login_query(Some(&query)), Ok(Some(demand)));
        assert_eq!(StepUp::from_login_query(Some("return_to=%2F")), Ok(None));
        assert!(StepUp::from_login_query(Some("max_age=-1")).is_err());
    }
}
