//! A fake Polar AccessLink: Polar Flow's authorization with a consent step, the token endpoint
//! on `polarremote.com`, and the user-registration part of the AccessLink v3 API, reproducing
//! the wire format listed in `docs/providers/polar-accesslink.md`.
//!
//! | path | what it does |
//! |---|---|
//! | `GET /oauth2/authorization` | checks `client_id`, `response_type=code` and a registered `redirect_uri` ([`ACCESSLINK_REDIRECT_URI`], or one added with [`FakeAccessLink::add_redirect_uri`]), then redirects to the consent step |
//! | `GET /oauth2/consent` | approves or denies per [`FakeAccessLink::deny_consent`]; redirects to the redirect URI (the registered one when none was sent) with `code` + `state` or `error=access_denied` |
//! | `POST /v2/oauth2/token` | client credentials **only** as HTTP Basic (body credentials: 401 `invalid_client`); `redirect_uri` must be repeated exactly when it was sent; 10-minute single-use codes; answers `{"access_token","token_type":"bearer","expires_in":31535999,"x_user_id":...}` |
//! | `POST /v3/users` | registers the token's user: 200 user object (or 204 without a body, [`FakeAccessLink::register_answers_no_content`]), 409 already registered or duplicated member-id, 403 consents missing |
//! | `GET /v3/users/{id}` | 200 user object, 204 when not registered, 403 consents missing |
//! | `GET /v3/exercises` | the current non-transactional pull: 200 list ([`FakeAccessLink::add_exercise`]), 204 no data, 403 consents missing |
//! | `DELETE /v3/users/{id}` | 204, deregisters **and revokes the token**: later calls get 401 |
//!
//! API errors carry AccessLink's body `{timestamp, status, errorType, message, corrId}`.
//! [`FakeAccessLink::rate_limit`] makes API calls answer 429 with `RateLimit-*` headers.
//! [`FakeAccessLink::webhook_signature`] signs a webhook payload as AccessLink does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, RawForm, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use url::Url;

use crate::wire::{decode_basic, hmac_sha256, OAuthDialect};
use crate::TestServer;

/// The client id the fake has registered.
pub const ACCESSLINK_CLIENT_ID: &str = "3e5b7c1a-accesslink-test-client";
/// The secret of that client.
pub const ACCESSLINK_CLIENT_SECRET: &str = "9f1c2d3e-accesslink-test-secret";
/// The redirect URI registered for that client (used when an authorization request names none).
pub const ACCESSLINK_REDIRECT_URI: &str = "http://127.0.0.1:8976/accesslink/callback";

/// `expires_in` of AccessLink tokens: about a year.
const EXPIRES_IN: u64 = 31_535_999;
/// Authorization codes live 10 minutes.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A Polar Flow account the fake knows; the one set with [`FakeAccessLink::set_user`] is the
/// one who logs in and consents at the next authorization.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeUser {
    /// `polar-user-id`, also the token response's `x_user_id`.
    pub polar_user_id: u64,
    /// `first-name`.
    pub first_name: String,
    /// `last-name`.
    pub last_name: String,
    /// `birthdate`, `YYYY-MM-DD`.
    pub birthdate: String,
    /// `gender`: `MALE` or `FEMALE`.
    pub gender: String,
    /// `weight` in kg.
    pub weight: f64,
    /// `height` in cm.
    pub height: f64,
    /// Whether the user accepted Polar's mandatory consents; registration answers 403 when not.
    pub consents_accepted: bool,
}

impl FakeUser {
    /// A user with this id, plausible details, consents accepted.
    pub fn new(polar_user_id: u64) -> Self {
        Self {
            polar_user_id,
            first_name: "Eka".into(),
            last_name: "Toka".into(),
            birthdate: "1985-09-06".into(),
            gender: "MALE".into(),
            weight: 66.0,
            height: 170.0,
            consents_accepted: true,
        }
    }
}

/// What the client sent to the token endpoint, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequestRecord {
    /// Whether an `Authorization: Basic` header was sent.
    pub basic_auth: bool,
    /// Whether `client_id` or `client_secret` appeared in the form body.
    pub credentials_in_body: bool,
    /// The `Accept` header, as sent.
    pub accept: Option<String>,
    /// `grant_type`, as sent.
    pub grant_type: Option<String>,
    /// `redirect_uri`, if sent.
    pub redirect_uri: Option<String>,
    /// Names of every form parameter, in order.
    pub params: Vec<String>,
    /// The status the fake answered.
    pub status: u16,
}

/// What the client sent to the authorization endpoint, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRecord {
    /// Every query parameter, as sent.
    pub params: Vec<(String, String)>,
}

impl AuthorizationRecord {
    /// One parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One call to the API (`/v3/...`), for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRecord {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// The path, e.g. `/v3/users/10579`.
    pub path: String,
    /// The `Accept` header, as sent.
    pub accept: Option<String>,
    /// Whether an `Authorization: Bearer` header was sent.
    pub bearer: bool,
    /// The status the fake answered.
    pub status: u16,
}

/// The `RateLimit-*` headers the fake sends with 429 (see [`FakeAccessLink::rate_limit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRateLimit {
    /// `RateLimit-Usage`, e.g. `"501, 1200"` (15-minute window, 24-hour window).
    pub usage: String,
    /// `RateLimit-Limit`, e.g. `"500, 5000"`.
    pub limit: String,
    /// `RateLimit-Reset`, seconds until each window resets, e.g. `"420, 50000"`.
    pub reset: String,
    /// A `Retry-After` header too, when set.
    pub retry_after: Option<u64>,
}

impl Default for FakeRateLimit {
    fn default() -> Self {
        Self {
            usage: "501, 1200".into(),
            limit: "500, 5000".into(),
            reset: "420, 50000".into(),
            retry_after: None,
        }
    }
}

/// How the fake's token responses carry `x_user_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserIdFormat {
    /// A JSON number, as AccessLink sends it: `"x_user_id": 10579`.
    #[default]
    Number,
    /// A string: `"x_user_id": "10579"` (how some clients have stored it).
    String,
    /// Left out (a broken answer, for error paths).
    Omitted,
}

#[derive(Debug)]
struct Consent {
    redirect_uri: Option<String>,
    state: Option<String>,
    user: u64,
}

#[derive(Debug)]
struct Code {
    user: u64,
    redirect_uri: Option<String>,
    issued_at: SystemTime,
    used: bool,
}

#[derive(Debug)]
struct Registration {
    member_id: String,
    registration_date: String,
}

#[derive(Debug, Default)]
struct Inner {
    deny: bool,
    user_id_format: UserIdFormat,
    rate_limit: Option<FakeRateLimit>,
    clock_offset: Duration,
    current_user: u64,
    users: HashMap<u64, FakeUser>,
    consents: HashMap<String, Consent>,
    codes: HashMap<String, Code>,
    /// access token → user; removed tokens are revoked.
    tokens: HashMap<String, u64>,
    revoked: HashSet<String>,
    registrations: HashMap<u64, Registration>,
    authorizations: Vec<AuthorizationRecord>,
    token_requests: Vec<TokenRequestRecord>,
    api_requests: Vec<ApiRecord>,
    counter: u64,
    /// Redirect URIs registered besides [`ACCESSLINK_REDIRECT_URI`].
    extra_redirect_uris: HashSet<String>,
    /// Registration answers 204 without a body.
    register_no_content: bool,
    /// Exercises per user for `GET /v3/exercises`.
    exercises: HashMap<u64, Vec<Value>>,
}

impl Inner {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("{prefix}{:06}{nanos:09x}", self.counter)
    }
}

type Shared = Arc<Mutex<Inner>>;

/// A fake Polar AccessLink served on `127.0.0.1:0` until dropped. See the module documentation
/// for what each endpoint does.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use grantkit_testkit::{FakeAccessLink, FakeUser};
///
/// let fake = FakeAccessLink::start().await?;
/// fake.set_user(FakeUser::new(10579));
/// let authorize = fake.authorization_url(); // {base}/oauth2/authorization
/// let token = fake.token_url();             // {base}/v2/oauth2/token
/// let api = fake.api_url();                 // {base}/v3
/// # let _ = (authorize, token, api);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeAccessLink {
    server: TestServer,
    inner: Shared,
}

impl FakeAccessLink {
    /// Starts the fake with one registered client ([`ACCESSLINK_CLIENT_ID`],
    /// [`ACCESSLINK_CLIENT_SECRET`], [`ACCESSLINK_REDIRECT_URI`]) and one Flow user, 10579.
    pub async fn start() -> std::io::Result<Self> {
        let inner: Shared = Arc::default();
        {
            let mut state = inner.lock().unwrap();
            state.current_user = 10579;
            state.users.insert(10579, FakeUser::new(10579));
        }
        let app = Router::new()
            .route("/oauth2/authorization", get(authorize))
            .route("/oauth2/consent", get(consent))
            .route("/v2/oauth2/token", post(token))
            .route("/v3/users", post(register))
            .route("/v3/users/{id}", get(get_user).delete(deregister))
            .route("/v3/exercises", get(exercises))
            .with_state(inner.clone());
        let server = TestServer::start(app).await?;
        Ok(Self { server, inner })
    }

    fn state(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The authorization endpoint.
    pub fn authorization_url(&self) -> String {
        self.server.url("/oauth2/authorization")
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        self.server.url("/v2/oauth2/token")
    }

    /// The API base (`.../v3`).
    pub fn api_url(&self) -> String {
        self.server.url("/v3")
    }

    /// Makes `user` the Flow user who logs in at the next authorizations (added or replaced).
    pub fn set_user(&self, user: FakeUser) {
        let mut state = self.state();
        state.current_user = user.polar_user_id;
        state.users.insert(user.polar_user_id, user);
    }

    /// Registers another redirect URI for the client, as an application does in AccessLink's
    /// admin pages (a CLI's `http://127.0.0.1:<port>/callback`). Compared exactly.
    pub fn add_redirect_uri(&self, uri: impl Into<String>) {
        self.state().extra_redirect_uris.insert(uri.into());
    }

    /// `true`: the user denies the consent, the callback carries `error=access_denied`.
    pub fn deny_consent(&self, deny: bool) {
        self.state().deny = deny;
    }

    /// How token responses carry `x_user_id` (default: a number).
    pub fn user_id_format(&self, format: UserIdFormat) {
        self.state().user_id_format = format;
    }

    /// `Some`: every API call answers 429 with these `RateLimit-*` headers; `None` lifts it.
    pub fn rate_limit(&self, limit: Option<FakeRateLimit>) {
        self.state().rate_limit = limit;
    }

    /// Moves the fake's clock forward (codes expire after 10 minutes).
    pub fn advance_clock(&self, by: Duration) {
        self.state().clock_offset += by;
    }

    /// Every authorization request received, oldest first.
    pub fn authorizations(&self) -> Vec<AuthorizationRecord> {
        self.state().authorizations.clone()
    }

    /// Every token request received, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequestRecord> {
        self.state().token_requests.clone()
    }

    /// Every API call received, oldest first.
    pub fn api_requests(&self) -> Vec<ApiRecord> {
        self.state().api_requests.clone()
    }

    /// Whether `user` is registered, and with which member-id.
    pub fn registered_member_id(&self, user: u64) -> Option<String> {
        self.state()
            .registrations
            .get(&user)
            .map(|r| r.member_id.clone())
    }

    /// `true`: a successful registration answers 204 with no body (AccessLink's OpenAPI spec
    /// lists 204 for `POST /v3/users`).
    pub fn register_answers_no_content(&self, on: bool) {
        self.state().register_no_content = on;
    }

    /// Adds an exercise (AccessLink's exercise JSON) for `user`, listed by `GET /v3/exercises`.
    pub fn add_exercise(&self, user: u64, exercise: Value) {
        self.state()
            .exercises
            .entry(user)
            .or_default()
            .push(exercise);
    }

    /// The `Polar-Webhook-Signature` AccessLink sends with a webhook delivery of `body`:
    /// HMAC-SHA256 of the body with the webhook's `signature_secret_key`, lowercase hex.
    pub fn webhook_signature(&self, secret: &str, body: &[u8]) -> String {
        hmac_sha256(secret.as_bytes(), &[body])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `access_token` was issued and is not revoked.
    pub fn is_token_active(&self, access_token: &str) -> bool {
        let state = self.state();
        state.tokens.contains_key(access_token) && !state.revoked.contains(access_token)
    }
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        format!("<html><body><h1>Polar Flow</h1><p>{text}</p></body></html>"),
    )
        .into_response()
}

async fn authorize(
    State(inner): State<Shared>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let mut state = inner.lock().unwrap();
    state.authorizations.push(AuthorizationRecord {
        params: params.clone(),
    });
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if get("client_id").as_deref() != Some(ACCESSLINK_CLIENT_ID) {
        return page(StatusCode::BAD_REQUEST, "Unknown client");
    }
    let redirect_uri = get("redirect_uri");
    if redirect_uri
        .as_deref()
        .is_some_and(|r| r != ACCESSLINK_REDIRECT_URI && !state.extra_redirect_uris.contains(r))
    {
        // Never redirect to an unregistered URI.
        return page(StatusCode::BAD_REQUEST, "Invalid redirect: not registered");
    }
    if get("response_type").as_deref() != Some("code") {
        return page(StatusCode::BAD_REQUEST, "Unsupported response type");
    }
    if let Some(scope) = get("scope") {
        if scope != "accesslink.read_all" {
            return page(StatusCode::BAD_REQUEST, "Invalid scope");
        }
    }
    let id = state.next_id("consent-");
    let user = state.current_user;
    state.consents.insert(
        id.clone(),
        Consent {
            redirect_uri,
            state: get("state"),
            user,
        },
    );
    Redirect::to(&format!("/oauth2/consent?id={id}")).into_response()
}

async fn consent(
    State(inner): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut state = inner.lock().unwrap();
    let Some(consent) = params.get("id").and_then(|id| state.consents.remove(id)) else {
        return page(StatusCode::BAD_REQUEST, "Unknown or used consent request");
    };
    let target = consent
        .redirect_uri
        .clone()
        .unwrap_or_else(|| ACCESSLINK_REDIRECT_URI.to_owned());
    let mut url = Url::parse(&target).expect("registered redirect URI");
    if state.deny {
        url.query_pairs_mut().append_pair("error", "access_denied");
    } else {
        let code = state.next_id("code-");
        let issued_at = state.now();
        state.codes.insert(
            code.clone(),
            Code {
                user: consent.user,
                redirect_uri: consent.redirect_uri.clone(),
                issued_at,
                used: false,
            },
        );
        url.query_pairs_mut().append_pair("code", &code);
    }
    if let Some(s) = &consent.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Redirect::to(url.as_str()).into_response()
}

/// AccessLink's OAuth errors: Spring's content type and Basic realm.
const OAUTH: OAuthDialect = OAuthDialect {
    content_type: "application/json;charset=UTF-8",
    basic_challenge: "Basic realm=\"oauth2/client\"",
};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    OAUTH.error(status, error, description)
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    decode_basic(value.strip_prefix("Basic ")?.trim())
}

async fn token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut record = TokenRequestRecord {
        basic_auth: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Basic ")),
        credentials_in_body: get("client_id").is_some() || get("client_secret").is_some(),
        accept: headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        grant_type: get("grant_type"),
        redirect_uri: get("redirect_uri"),
        params: form.iter().map(|(n, _)| n.clone()).collect(),
        status: 0,
    };
    let mut state = inner.lock().unwrap();
    let response = token_response(&mut state, &headers, &record, get("code"));
    record.status = response.status().as_u16();
    state.token_requests.push(record);
    response
}

fn token_response(
    state: &mut Inner,
    headers: &HeaderMap,
    record: &TokenRequestRecord,
    code: Option<String>,
) -> Response {
    // AccessLink reads client credentials from the Basic header only.
    if record.credentials_in_body {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client credentials must be sent with HTTP Basic authentication",
        );
    }
    match basic_credentials(headers) {
        Some((id, secret)) if id == ACCESSLINK_CLIENT_ID && secret == ACCESSLINK_CLIENT_SECRET => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Bad client credentials",
            )
        }
    }
    if let Some(accept) = &record.accept {
        if !accept.contains("application/json") && !accept.contains("*/*") {
            return (StatusCode::NOT_ACCEPTABLE, "").into_response();
        }
    }
    if record.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    let now = state.now();
    let Some(grant) = code.as_ref().and_then(|c| state.codes.get_mut(c)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid authorization code",
        );
    };
    let expired = now
        .duration_since(grant.issued_at)
        .is_ok_and(|age| age > CODE_LIFETIME);
    if grant.used || expired {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid authorization code",
        );
    }
    // Spring-style check: the redirect URI is repeated exactly when it was sent.
    if grant.redirect_uri != record.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Redirect URI mismatch.",
        );
    }
    grant.used = true;
    let user = grant.user;
    let access_token = state.next_id("al-at-");
    state.tokens.insert(access_token.clone(), user);
    let mut body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": EXPIRES_IN,
    });
    match state.user_id_format {
        UserIdFormat::Number => body["x_user_id"] = Value::from(user),
        UserIdFormat::String => body["x_user_id"] = Value::String(user.to_string()),
        UserIdFormat::Omitted => {}
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// AccessLink's error body.
fn api_error(state: &mut Inner, status: StatusCode, error_type: &str, message: &str) -> Response {
    let corr_id = state.next_id("corr-");
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        json!({
            "timestamp": iso8601(SystemTime::now()),
            "status": status.as_u16(),
            "errorType": error_type,
            "message": message,
            "corrId": corr_id,
        })
        .to_string(),
    )
        .into_response()
}

/// The checks every API call goes through: rate limit, then the Bearer token.
/// `Ok(user)` for a live token.
fn api_gate(state: &mut Inner, headers: &HeaderMap) -> Result<u64, Box<Response>> {
    if let Some(limit) = state.rate_limit.clone() {
        let mut response = api_error(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "Rate limit exceeded",
        );
        let h = response.headers_mut();
        for (name, value) in [
            ("ratelimit-usage", limit.usage),
            ("ratelimit-limit", limit.limit),
            ("ratelimit-reset", limit.reset),
        ] {
            h.insert(name, HeaderValue::from_str(&value).expect("header value"));
        }
        if let Some(secs) = limit.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return Err(Box::new(response));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    match token {
        Some(t) if !state.revoked.contains(&t) && state.tokens.contains_key(&t) => {
            Ok(state.tokens[&t])
        }
        _ => Err(Box::new(api_error(
            state,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid or revoked access token",
        ))),
    }
}

fn record_api(state: &mut Inner, method: &str, path: String, headers: &HeaderMap, status: u16) {
    state.api_requests.push(ApiRecord {
        method: method.into(),
        path,
        accept: headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        bearer: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ")),
        status,
    });
}

fn user_json(user: &FakeUser, registration: &Registration) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        json!({
            "polar-user-id": user.polar_user_id,
            "member-id": registration.member_id,
            "registration-date": registration.registration_date,
            "first-name": user.first_name,
            "last-name": user.last_name,
            "birthdate": user.birthdate,
            "gender": user.gender,
            "weight": user.weight,
            "height": user.height,
            "extra-info": [],
        })
        .to_string(),
    )
        .into_response()
}

async fn register(State(inner): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut state = inner.lock().unwrap();
    let response = register_response(&mut state, &headers, &body);
    record_api(
        &mut state,
        "POST",
        "/v3/users".into(),
        &headers,
        response.status().as_u16(),
    );
    response
}

fn register_response(state: &mut Inner, headers: &HeaderMap, body: &str) -> Response {
    let user_id = match api_gate(state, headers) {
        Ok(user) => user,
        Err(response) => return *response,
    };
    let member_id = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("member-id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|m| !m.trim().is_empty());
    let Some(member_id) = member_id else {
        return api_error(
            state,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "member-id is required",
        );
    };
    let user = state
        .users
        .get(&user_id)
        .cloned()
        .expect("token user exists");
    if !user.consents_accepted {
        return api_error(
            state,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "User has not accepted all mandatory consents",
        );
    }
    let duplicated = state
        .registrations
        .values()
        .any(|r| r.member_id == member_id);
    if state.registrations.contains_key(&user_id) || duplicated {
        return api_error(
            state,
            StatusCode::CONFLICT,
            "CONFLICT",
            "User already registered to partner or duplicated member-id",
        );
    }
    let registration = Registration {
        member_id,
        registration_date: iso8601(SystemTime::now()),
    };
    let response = if state.register_no_content {
        StatusCode::NO_CONTENT.into_response()
    } else {
        user_json(&user, &registration)
    };
    state.registrations.insert(user_id, registration);
    response
}

/// 403 when the token's user has not accepted the mandatory consents (AccessLink's OpenAPI
/// spec: `GET /v3/users/{user-id}` and the data endpoints).
fn consents_gate(state: &mut Inner, user: u64) -> Result<(), Box<Response>> {
    if state.users.get(&user).is_some_and(|u| u.consents_accepted) {
        return Ok(());
    }
    Err(Box::new(api_error(
        state,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "User has not accepted all mandatory consents",
    )))
}

/// `GET /v3/exercises`: the current, non-transactional pull; 204 means no data.
async fn exercises(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = inner.lock().unwrap();
    let gate = api_gate(&mut state, &headers)
        .and_then(|user| consents_gate(&mut state, user).map(|()| user));
    let response = match gate {
        Err(response) => *response,
        Ok(user) => match state.exercises.get(&user) {
            Some(list) if !list.is_empty() => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
                Value::from(list.clone()).to_string(),
            )
                .into_response(),
            _ => StatusCode::NO_CONTENT.into_response(),
        },
    };
    record_api(
        &mut state,
        "GET",
        "/v3/exercises".into(),
        &headers,
        response.status().as_u16(),
    );
    response
}

async fn get_user(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = inner.lock().unwrap();
    let gate = api_gate(&mut state, &headers)
        .and_then(|user| consents_gate(&mut state, user).map(|()| user));
    let response = match gate {
        Err(response) => *response,
        Ok(token_user) => match (id.parse::<u64>(), state.registrations.get(&token_user)) {
            (Ok(id), Some(registration)) if id == token_user => {
                user_json(&state.users[&token_user], registration)
            }
            _ => StatusCode::NO_CONTENT.into_response(),
        },
    };
    record_api(
        &mut state,
        "GET",
        format!("/v3/users/{id}"),
        &headers,
        response.status().as_u16(),
    );
    response
}

async fn deregister(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = inner.lock().unwrap();
    let response = match api_gate(&mut state, &headers) {
        Err(response) => *response,
        Ok(token_user)
            if id.parse::<u64>() == Ok(token_user)
                && state.registrations.contains_key(&token_user) =>
        {
            state.registrations.remove(&token_user);
            // Deregistration revokes the user's access tokens for this client.
            let tokens: Vec<String> = state
                .tokens
                .iter()
                .filter(|(_, u)| **u == token_user)
                .map(|(t, _)| t.clone())
                .collect();
            state.revoked.extend(tokens);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(_) => api_error(
            &mut state,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "User not found",
        ),
    };
    record_api(
        &mut state,
        "DELETE",
        format!("/v3/users/{id}"),
        &headers,
        response.status().as_u16(),
    );
    response
}

/// `2024-05-01T12:34:56.000Z` without a date crate (civil-from-days, H. Hinnant).
pub(crate) fn iso8601(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_known_instants() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_318_596_637)),
            "2011-10-14T12:50:37.000Z"
        );
    }
}
