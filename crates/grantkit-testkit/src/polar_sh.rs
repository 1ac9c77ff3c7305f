//! An in-process Polar.sh: the OAuth 2.0 / OpenID Connect server of the Polar.sh merchant
//! platform, reproducing the wire facts listed in `docs/providers/polar-sh.md` as Polar's server code
//! (polarsource/polar, `server/polar/oauth2/`, 2026-08-22) behaves; each rule cites its file.
//! Discovery is served from the API host with the foreign issuer `https://polar.sh`; RS256 ID
//! tokens have `aud` as an array and no `kid`; codes are single-use for 300 s; PKCE defaults to
//! `plain` and is checked at the token step; refresh rotation kills the old pair and turns a legacy
//! organization token into a user token; only user tokens are issued (`sub_type=organization`
//! is a one-organization down-scope picked on the consent page, which a remembered consent skips);
//! client authentication is fixed per client at the token endpoint; revoke always answers
//! `200 {}` and kills the pair; public clients are refused at revoke/introspect; registration
//! errors are FastAPI 422s; 429 comes with `Retry-After`. A test approves or denies the consent.

// Handlers return `Response` as their error: that is the axum idiom, and this is test code.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::server::TestServer;
use crate::wire::{decode_basic, hmac_sha256, pkce_ok, random, OAuthDialect};

/// The issuer Polar.sh names in its discovery document and ID tokens, whatever host serves them.
pub const POLAR_ISSUER: &str = "https://polar.sh";

const KEY_A: (&str, &str, &str) = (
    "fake-polar-a",
    include_str!("../fixtures/polar-sh-fake-rs256-a.pem"),
    include_str!("../fixtures/polar-sh-fake-rs256-a.jwk.json"),
);
const KEY_B: (&str, &str, &str) = (
    "fake-polar-b",
    include_str!("../fixtures/polar-sh-fake-rs256-b.pem"),
    include_str!("../fixtures/polar-sh-fake-rs256-b.jwk.json"),
);

/// How a registered client authenticates; Polar fixes it per client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeAuthMethod {
    /// `client_secret_post` (Polar's registration default).
    Post,
    /// `client_secret_basic`.
    Basic,
    /// `none`: a public client, PKCE required.
    None,
}

impl FakeAuthMethod {
    fn name(self) -> &'static str {
        match self {
            FakeAuthMethod::Post => "client_secret_post",
            FakeAuthMethod::Basic => "client_secret_basic",
            FakeAuthMethod::None => "none",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "client_secret_post" => Some(FakeAuthMethod::Post),
            "client_secret_basic" => Some(FakeAuthMethod::Basic),
            "none" => Some(FakeAuthMethod::None),
            _ => None,
        }
    }
}

/// A client registered at the fake.
#[derive(Clone, Debug)]
pub struct FakeClient {
    /// `polar_ci_…`
    pub client_id: String,
    /// `polar_cs_…`, absent for public clients.
    pub client_secret: Option<String>,
    /// The one method this client may use.
    pub auth_method: FakeAuthMethod,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// `user` or `organization`, used when the request names no `sub_type`. Always `user` for
    /// dynamically registered clients (Polar drops the field).
    pub default_sub_type: String,
    registration_access_token: Option<String>,
    metadata: Value,
}

/// What the consent screen answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// The user approves.
    Approve,
    /// The user denies (`error=access_denied`).
    Deny,
}

#[derive(Clone, Debug)]
struct PendingRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    challenge: Option<(String, String)>,
    /// Whether `sub_type=organization` asked for a single-organization down-scope.
    single_organization: bool,
}

#[derive(Clone, Debug)]
struct CodeGrant {
    request: PendingRequest,
    /// The down-scope picked on the consent page; empty means all of the user's organizations.
    organizations: Vec<String>,
    issued_at: u64,
    used: bool,
}

#[derive(Clone, Debug)]
struct TokenInfo {
    client_id: String,
    scope: String,
    sub_type: String,
    sub: String,
    iat: u64,
    exp: u64,
    paired: String,
    organizations: Vec<String>,
}

struct Inner {
    base: String,
    issuer: String,
    clients: HashMap<String, FakeClient>,
    consent: Consent,
    kid_in_header: bool,
    signing_key: (&'static str, &'static str, &'static str),
    clock_offset: u64,
    pending: HashMap<String, PendingRequest>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, TokenInfo>,
    refresh: HashMap<String, TokenInfo>,
    personal_tokens: HashMap<String, (String, String)>,
    /// Customer-portal session tokens and their expiry (Unix seconds).
    customer_sessions: HashMap<String, u64>,
    /// Scopes the user granted, per client (polar: service/oauth2_grant.py).
    consented: HashMap<String, HashSet<String>>,
    rate_limit: Option<(u32, u64)>,
    token_requests: u64,
    refresh_requests: u64,
    last_token_request: Option<HashMap<String, String>>,
    user: (String, String),
    /// The organization's id and slug; the user is its only member.
    organization: (String, String),
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Polar.sh on `127.0.0.1`. Everything (discovery, authorize, token, API) is on
/// one base URL; the real service splits them over `polar.sh` and `api.polar.sh`.
pub struct FakePolarSh {
    server: TestServer,
    inner: Shared,
}

impl std::fmt::Debug for FakePolarSh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePolarSh")
            .field("base_url", &self.server.base_url())
            .finish()
    }
}

impl FakePolarSh {
    /// Starts the fake with three clients (see [`FakePolarSh::post_client`] and friends), a user
    /// and an organization.
    pub async fn start() -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            base: String::new(),
            issuer: POLAR_ISSUER.to_owned(),
            clients: HashMap::new(),
            consent: Consent::Approve,
            // polar: server/polar/oauth2/constants.py, JWT_CONFIG names no `kid`.
            kid_in_header: false,
            signing_key: KEY_A,
            clock_offset: 0,
            pending: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            personal_tokens: HashMap::new(),
            customer_sessions: HashMap::new(),
            consented: HashMap::new(),
            rate_limit: None,
            token_requests: 0,
            refresh_requests: 0,
            last_token_request: None,
            user: (
                format!("user-{}", random(8)),
                "merchant@example.test".to_owned(),
            ),
            organization: (format!("org-{}", random(8)), "acme-widgets".to_owned()),
        }));
        let server = TestServer::start(router(inner.clone())).await?;
        {
            let mut s = inner.lock().unwrap();
            s.base = server.base_url();
            for (id, secret, method) in [
                (
                    "polar_ci_post_client",
                    Some("polar_cs_post_secret"),
                    FakeAuthMethod::Post,
                ),
                (
                    "polar_ci_basic_client",
                    Some("polar_cs_basic+secret%:/"),
                    FakeAuthMethod::Basic,
                ),
                ("polar_ci_public_client", None, FakeAuthMethod::None),
            ] {
                s.clients.insert(
                    id.to_owned(),
                    FakeClient {
                        client_id: id.to_owned(),
                        client_secret: secret.map(str::to_owned),
                        auth_method: method,
                        redirect_uris: vec![
                            "http://127.0.0.1:8976/callback".to_owned(),
                            "http://127.0.0.1/callback".to_owned(),
                        ],
                        default_sub_type: "user".to_owned(),
                        registration_access_token: None,
                        metadata: json!({}),
                    },
                );
            }
        }
        Ok(Self { server, inner })
    }

    fn state(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// The API base URL (discovery, token, userinfo, API); plays `https://api.polar.sh`.
    pub fn api_base(&self) -> String {
        self.server.base_url()
    }

    /// The web base URL (authorize); plays `https://polar.sh`. Same server as the API here.
    pub fn web_base(&self) -> String {
        self.server.base_url()
    }

    /// A confidential `client_secret_post` client: `(client_id, secret)`.
    pub fn post_client(&self) -> (String, String) {
        ("polar_ci_post_client".into(), "polar_cs_post_secret".into())
    }

    /// A confidential `client_secret_basic` client whose secret needs RFC 6749 §2.3.1 encoding.
    pub fn basic_client(&self) -> (String, String) {
        (
            "polar_ci_basic_client".into(),
            "polar_cs_basic+secret%:/".into(),
        )
    }

    /// A public (`none`) client.
    pub fn public_client(&self) -> String {
        "polar_ci_public_client".into()
    }

    /// Sets what the consent screen answers from now on.
    pub fn set_consent(&self, consent: Consent) {
        self.state().consent = consent;
    }

    /// Whether ID-token headers carry a `kid`. Off by default, as on Polar; on, to show a
    /// client copes with either.
    pub fn set_kid_in_header(&self, on: bool) {
        self.state().kid_in_header = on;
    }

    /// Switches to the other signing key; the JWKS then publishes only the new one.
    pub fn rotate_signing_key(&self) {
        let mut s = self.state();
        s.signing_key = if s.signing_key.0 == KEY_A.0 {
            KEY_B
        } else {
            KEY_A
        };
    }

    /// Moves the fake's clock forward (expires codes and tokens).
    pub fn advance_clock(&self, by: Duration) {
        self.state().clock_offset += by.as_secs();
    }

    /// The next `count` requests get `429` with `Retry-After: retry_after_secs` and an empty body.
    pub fn rate_limit_next(&self, count: u32, retry_after_secs: u64) {
        self.state().rate_limit = Some((count, retry_after_secs));
    }

    /// Token endpoint requests so far (all grants).
    pub fn token_requests(&self) -> u64 {
        self.state().token_requests
    }

    /// Refresh-token grants so far.
    pub fn refresh_requests(&self) -> u64 {
        self.state().refresh_requests
    }

    /// The form fields of the last token request, with secrets replaced by `<present>`.
    pub fn last_token_request(&self) -> Option<HashMap<String, String>> {
        self.state().last_token_request.clone()
    }

    /// The subject id of the fake's user.
    pub fn user_id(&self) -> String {
        self.state().user.0.clone()
    }

    /// The subject id of the fake's organization.
    pub fn organization_id(&self) -> String {
        self.state().organization.0.clone()
    }

    /// Creates a personal (`user`) or organization access token with `scope`.
    pub fn create_static_token(&self, organization: bool, scope: &str) -> String {
        let mut s = self.state();
        let (prefix, sub) = if organization {
            ("polar_oat_", s.organization.0.clone())
        } else {
            ("polar_pat_", s.user.0.clone())
        };
        let token = format!("{prefix}{}", random(32));
        s.personal_tokens
            .insert(token.clone(), (sub, scope.to_owned()));
        token
    }

    /// A legacy organization token pair (`polar_at_o_…` / `polar_rt_o_…`) for `client_id`, as
    /// Polar issued before mid-2026, as the token endpoint's JSON body. It no longer issues them;
    /// refreshing one yields a user token (the organization's only member) down-scoped to it.
    pub fn legacy_organization_tokens(&self, client_id: &str, scope: &str) -> Value {
        let mut s = self.state();
        let client = s.clients.get(client_id).cloned().expect("a known client");
        let org = s.organization.0.clone();
        let subject = Subject {
            sub_type: "organization",
            sub: &org,
            organizations: vec![org.clone()],
        };
        let (access, refresh) = issue_pair(&mut s, &client, scope, subject, 864_000);
        json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 864_000,
            "refresh_token": refresh, "scope": scope,
        })
    }

    /// The headers Polar.sh sends with a webhook delivery of `body` to an endpoint whose secret is
    /// `secret` (`polar_whs_…`): Standard Webhooks, keyed with the secret's own bytes, because Polar
    /// base64-encodes the whole secret before signing (polar: server/polar/webhook/tasks.py).
    pub fn webhook_headers(&self, secret: &str, body: &[u8]) -> Vec<(String, String)> {
        let id = format!("msg_{}", random(16));
        let timestamp = (self.state().now()).to_string();
        let signed = format!("{id}.{timestamp}.");
        let mac = hmac_sha256(secret.as_bytes(), &[signed.as_bytes(), body]);
        let signature = format!("v1,{}", STANDARD.encode(mac));
        vec![
            ("webhook-id".into(), id),
            ("webhook-timestamp".into(), timestamp),
            ("webhook-signature".into(), signature),
        ]
    }

    /// The organization's slug (a legacy organization's userinfo `name`).
    pub fn organization_slug(&self) -> String {
        self.state().organization.1.clone()
    }

    /// How many access and refresh tokens are live (not expired, revoked or rotated away).
    pub fn live_tokens(&self) -> (usize, usize) {
        let s = self.state();
        let now = s.now();
        (
            s.access.values().filter(|t| t.exp > now).count(),
            s.refresh.len(),
        )
    }

    /// Whether an access token is currently live.
    pub fn is_access_token_live(&self, token: &str) -> bool {
        let s = self.state();
        let now = s.now();
        s.access.get(token).is_some_and(|t| t.exp > now)
    }
}

impl Inner {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + self.clock_offset
    }
}

fn router(inner: Shared) -> Router {
    // Polar serves the same endpoints under /v1 and /api/v1 (older docs).
    let api = Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/register", post(register))
        .route(
            "/oauth2/register/{client_id}",
            get(read_client).put(update_client).delete(delete_client),
        )
        .route("/products/", get(products))
        .route("/customer-sessions/", post(create_customer_session))
        .route("/customer-portal/customers/me", get(portal_customer));
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/consent", get(consent))
        .nest("/v1", api.clone())
        .nest(
            "/api/v1",
            api.layer(axum::middleware::map_response(deprecation_notice)),
        )
        .layer(axum::middleware::from_fn_with_state(
            inner.clone(),
            rate_limit,
        ))
        .with_state(inner)
}

/// polar: server/polar/middlewares.py rewrites `/api/v1/...` to `/v1/...` and says so in a header.
async fn deprecation_notice(mut response: Response) -> Response {
    response.headers_mut().insert(
        "x-polar-deprecation-notice",
        "The API root has moved from /api/v1 to /v1. Please update your integration."
            .parse()
            .unwrap(),
    );
    response
}

async fn rate_limit(
    State(inner): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limited = {
        let mut s = inner.lock().unwrap();
        match s.rate_limit {
            Some((n, secs)) if n > 0 => {
                s.rate_limit = if n > 1 { Some((n - 1, secs)) } else { None };
                Some(secs)
            }
            _ => None,
        }
    };
    match limited {
        Some(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            "",
        )
            .into_response(),
        None => next.run(request).await,
    }
}

/// Polar's OAuth errors (Authlib's JSON answers; a Basic challenge on a 401).
const OAUTH: OAuthDialect = OAuthDialect {
    content_type: "application/json",
    basic_challenge: "Basic realm=\"polar\"",
};

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    OAUTH.error(status, code, description)
}

/// Authlib's RFC 6750 error for a presented token that is not valid
/// (polar: server/polar/auth/middlewares.py raises `InvalidTokenError`).
fn bearer_error(code: &str) -> Response {
    let description =
        "The access token provided is expired, revoked, malformed, or invalid for other reasons.";
    let challenge =
        format!("Bearer realm=\"polar\", error=\"{code}\", error_description=\"{description}\"");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
    response
}

async fn discovery(State(inner): State<Shared>) -> Json<Value> {
    let s = inner.lock().unwrap();
    let api = &s.base;
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{api}/oauth2/authorize"),
        "token_endpoint": format!("{api}/v1/oauth2/token"),
        "jwks_uri": format!("{api}/.well-known/jwks.json"),
        "userinfo_endpoint": format!("{api}/v1/oauth2/userinfo"),
        "registration_endpoint": format!("{api}/v1/oauth2/register"),
        "revocation_endpoint": format!("{api}/v1/oauth2/revoke"),
        "introspection_endpoint": format!("{api}/v1/oauth2/introspect"),
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "service_documentation": "https://docs.polar.sh/api-reference#authentication",
        "code_challenge_methods_supported": ["S256", "plain"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "name", "email", "email_verified"],
    }))
}

/// The server's whole list (polar: server/polar/auth/scope.py, `SCOPES_SUPPORTED`).
fn scopes_supported() -> Vec<String> {
    const RESOURCES: [&str; 25] = [
        "custom_fields",
        "discounts",
        "checkout_links",
        "checkouts",
        "transactions",
        "payouts",
        "products",
        "benefits",
        "events",
        "meters",
        "files",
        "subscriptions",
        "customers",
        "members",
        "wallets",
        "disputes",
        "orders",
        "refunds",
        "license_keys",
        "webhooks",
        "metrics",
        "customer_portal",
        "notifications",
        "notification_recipients",
        "customer_seats",
    ];
    let mut scopes: Vec<String> = [
        "openid",
        "profile",
        "email",
        "user:read",
        "user:write",
        "organizations:read",
        "organizations:write",
    ]
    .map(str::to_owned)
    .to_vec();
    for r in RESOURCES {
        scopes.push(format!("{r}:read"));
        scopes.push(format!("{r}:write"));
    }
    for extra in [
        "payments:read",
        "customer_meters:read",
        "customer_sessions:write",
        "member_sessions:write",
    ] {
        scopes.push(extra.to_owned());
    }
    scopes
}

async fn jwks(State(inner): State<Shared>) -> Json<Value> {
    let (kid, _, jwk) = inner.lock().unwrap().signing_key;
    let mut key: Value = serde_json::from_str(jwk).unwrap();
    key["kid"] = json!(kid);
    Json(json!({ "keys": [key] }))
}

fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    let mut url = url::Url::parse(uri).expect("registered redirect URIs are URLs");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    Redirect::to(url.as_str()).into_response()
}

async fn authorize(
    State(inner): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(client) = s.clients.get(&client_id).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    };
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        Some(_) => return (StatusCode::BAD_REQUEST, "redirect_uri not registered").into_response(),
        None => client.redirect_uris[0].clone(),
    };
    let state = q.get("state").cloned();
    let fail = |code: &str, description: &str| {
        redirect_with(
            &redirect_uri,
            &[
                ("error", Some(code)),
                ("error_description", Some(description)),
                ("state", state.as_deref()),
            ],
        )
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "only `code` is supported");
    }
    // Unknown `prompt` values are ignored (polar: server/polar/oauth2/grants/authorization_code.py
    // reads only "none"; server/polar/oauth2/endpoints/oauth2.py only "login" and "none").
    let prompt = q.get("prompt").cloned();
    let challenge = q.get("code_challenge").map(|c| {
        // Polar assumes `plain` when the method is omitted.
        let method = q
            .get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "plain".into());
        (c.clone(), method)
    });
    // Authlib's OpenIDCode.exists_nonce: a nonce is a replay while an unexchanged code holds it
    // (polar: server/polar/oauth2/grants/authorization_code.py, `_exists_nonce`).
    if let Some(nonce) = q.get("nonce") {
        let held = s.codes.values().any(|g| {
            !g.used && g.request.client_id == client_id && g.request.nonce.as_ref() == Some(nonce)
        });
        if held {
            return fail("invalid_request", "Replay attack");
        }
    }
    // The legacy `sub` parameter is never read; `sub_type=organization` only asks for a
    // one-organization down-scope of a user token (polar: authorization_code.py, `_validate_sub`).
    let sub_type = q
        .get("sub_type")
        .cloned()
        .unwrap_or(client.default_sub_type.clone());
    if !["user", "organization"].contains(&sub_type.as_str()) {
        return fail("invalid_request", "Invalid sub_type");
    }
    let request = PendingRequest {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scope: q.get("scope").cloned().unwrap_or_default(),
        state: state.clone(),
        nonce: q.get("nonce").cloned(),
        challenge,
        single_organization: sub_type == "organization",
    };
    let granted = s.consented.get(&request.client_id).is_some_and(|g| {
        request
            .scope
            .split(' ')
            .all(|x| x.is_empty() || g.contains(x))
    });
    match prompt.as_deref() {
        Some("none") if !granted => return fail("consent_required", "consent required"),
        // A granted scope and no prompt skip the consent page (`_validate_scope_consent`).
        Some("none") | None if granted => return skip_consent(&mut s, request),
        _ => {}
    }
    let id = random(16);
    s.pending.insert(id.clone(), request);
    Redirect::to(&format!("/oauth2/consent?request={id}")).into_response()
}

/// The consent page is skipped: nobody picks an organization, so `sub_type=organization` fails
/// with a 400 page and no redirect (polar: authorization_code.py, `_resolve_organization_ids`;
/// server/tests/oauth2: `test_organization_sub_type_requires_an_organization`).
fn skip_consent(s: &mut Inner, request: PendingRequest) -> Response {
    if request.single_organization {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "invalid_request",
                "error_description": "sub_type=organization requires selecting an organization",
            })),
        )
            .into_response();
    }
    issue_code(s, request, Vec::new())
}

async fn consent(
    State(inner): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    let Some(request) = q.get("request").and_then(|id| s.pending.remove(id)) else {
        return (StatusCode::BAD_REQUEST, "unknown authorization request").into_response();
    };
    if s.consent == Consent::Deny {
        return redirect_with(
            &request.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("error_description", Some("The user denied the request")),
                ("state", request.state.as_deref()),
            ],
        );
    }
    let granted = s.consented.entry(request.client_id.clone()).or_default();
    granted.extend(request.scope.split(' ').map(str::to_owned));
    // The user picks one organization on the page when `sub_type=organization` asked for it.
    let organizations = if request.single_organization {
        vec![s.organization.0.clone()]
    } else {
        Vec::new()
    };
    issue_code(&mut s, request, organizations)
}

fn issue_code(s: &mut Inner, request: PendingRequest, organizations: Vec<String>) -> Response {
    let code = format!("polar_ac_{}", random(32));
    let (redirect_uri, state) = (request.redirect_uri.clone(), request.state.clone());
    let now = s.now();
    s.codes.insert(
        code.clone(),
        CodeGrant {
            request,
            organizations,
            issued_at: now,
            used: false,
        },
    );
    redirect_with(
        &redirect_uri,
        &[("code", Some(&code)), ("state", state.as_deref())],
    )
}

/// Client authentication at the token endpoint: the one method the client is registered for.
fn authenticate(
    s: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<FakeClient, Response> {
    authenticate_with(s, headers, form, true)
}

/// Client authentication at revocation and introspection: Basic or post from any confidential
/// client (Authlib's `check_endpoint_auth_method` binds the method only at the token endpoint).
fn authenticate_confidential(
    s: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<FakeClient, Response> {
    match authenticate_with(s, headers, form, false) {
        Ok(c) if c.auth_method != FakeAuthMethod::None => Ok(c),
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )),
    }
}

fn authenticate_with(
    s: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    fixed_method: bool,
) -> Result<FakeClient, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(decode_basic);
    let invalid = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
    let client_id = basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| form.get("client_id").cloned());
    let client = client_id
        .and_then(|id| s.clients.get(&id).cloned())
        .ok_or_else(invalid)?;
    let method = match (fixed_method, &basic) {
        (true, _) => client.auth_method,
        (false, Some(_)) => FakeAuthMethod::Basic,
        (false, None) => FakeAuthMethod::Post,
    };
    let ok = match method {
        FakeAuthMethod::Basic => {
            basic.is_some_and(|(_, secret)| Some(&secret) == client.client_secret.as_ref())
        }
        FakeAuthMethod::Post => {
            basic.is_none() && form.get("client_secret") == client.client_secret.as_ref()
        }
        FakeAuthMethod::None => basic.is_none() && !form.contains_key("client_secret"),
    };
    if ok {
        Ok(client)
    } else {
        Err(invalid())
    }
}

async fn token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    s.token_requests += 1;
    s.last_token_request = Some(
        form.iter()
            .map(|(k, v)| {
                let shown = if ["code", "client_secret", "refresh_token", "code_verifier"]
                    .contains(&k.as_str())
                {
                    "<present>".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect(),
    );
    let client = match authenticate(&s, &headers, &form) {
        Ok(c) => c,
        Err(response) => return response,
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&mut s, &client, &form),
        Some("refresh_token") => refresh_grant(&mut s, &client, &form),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant type",
        ),
    }
}

fn code_grant(s: &mut Inner, client: &FakeClient, form: &HashMap<String, String>) -> Response {
    let now = s.now();
    let invalid_grant = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(grant) = form.get("code").and_then(|c| s.codes.get_mut(c)) else {
        return invalid_grant("invalid authorization code");
    };
    if grant.used || now > grant.issued_at + 300 || grant.request.client_id != client.client_id {
        return invalid_grant("invalid authorization code");
    }
    if form.get("redirect_uri") != Some(&grant.request.redirect_uri) {
        return invalid_grant("redirect_uri does not match");
    }
    if client.auth_method == FakeAuthMethod::None && !form.contains_key("code_verifier") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing code_verifier",
        );
    }
    if grant.request.challenge.is_none() && form.contains_key("code_verifier") {
        // polar: Authlib's CodeChallenge refuses a verifier no challenge asked for.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unexpected \"code_verifier\"",
        );
    }
    if !pkce_ok(&grant.request.challenge, form.get("code_verifier")) {
        return invalid_grant("code_verifier does not match");
    }
    grant.used = true;
    let (request, organizations) = (grant.request.clone(), grant.organizations.clone());
    // Only user tokens are issued now (polar: grants/authorization_code.py, `_validate_sub`).
    let sub = s.user.0.clone();
    let subject = Subject {
        sub_type: "user",
        sub: &sub,
        organizations,
    };
    let (access, refresh) = issue_pair(s, client, &request.scope, subject, 864_000);
    let mut body = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 864_000,
        "refresh_token": refresh, "scope": request.scope,
    });
    if request.scope.split(' ').any(|x| x == "openid") {
        body["id_token"] = json!(id_token(s, client, &request, &sub, &access, now));
    }
    Json(body).into_response()
}

fn refresh_grant(s: &mut Inner, client: &FakeClient, form: &HashMap<String, String>) -> Response {
    s.refresh_requests += 1;
    let Some(old) = form
        .get("refresh_token")
        .and_then(|t| s.refresh.get(t))
        .cloned()
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid refresh token",
        );
    };
    if old.client_id != client.client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid refresh token",
        );
    }
    // Rotation: the old refresh token and the access token it was issued with die now.
    s.refresh.remove(form.get("refresh_token").unwrap());
    s.access.remove(&old.paired);
    // A legacy organization token of a one-member organization comes back as that member's user
    // token down-scoped to it (polar: grants/refresh_token.py, `authenticate_user`).
    let user = s.user.0.clone();
    let subject = if old.sub_type == "organization" {
        Subject {
            sub_type: "user",
            sub: &user,
            organizations: vec![old.sub.clone()],
        }
    } else {
        Subject {
            sub_type: "user",
            sub: &old.sub,
            organizations: old.organizations.clone(),
        }
    };
    let (access, refresh) = issue_pair(s, client, &old.scope, subject, 3600);
    Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": refresh, "scope": old.scope,
    }))
    .into_response()
}

struct Subject<'a> {
    sub_type: &'a str,
    sub: &'a str,
    organizations: Vec<String>,
}

fn issue_pair(
    s: &mut Inner,
    client: &FakeClient,
    scope: &str,
    subject: Subject<'_>,
    ttl: u64,
) -> (String, String) {
    let Subject {
        sub_type,
        sub,
        organizations,
    } = subject;
    let kind = if sub_type == "organization" { "o" } else { "u" };
    let access = format!("polar_at_{kind}_{}", random(32));
    let refresh = format!("polar_rt_{kind}_{}", random(32));
    let now = s.now();
    let info = |paired: &str, exp: u64| TokenInfo {
        client_id: client.client_id.clone(),
        scope: scope.to_owned(),
        sub_type: sub_type.to_owned(),
        sub: sub.to_owned(),
        iat: now,
        exp,
        paired: paired.to_owned(),
        organizations: organizations.clone(),
    };
    s.access.insert(access.clone(), info(&refresh, now + ttl));
    s.refresh.insert(refresh.clone(), info(&access, u64::MAX));
    (access, refresh)
}

fn id_token(
    s: &Inner,
    client: &FakeClient,
    request: &PendingRequest,
    sub: &str,
    access: &str,
    now: u64,
) -> String {
    let digest = Sha256::digest(access.as_bytes());
    let (kid, pem, _) = s.signing_key;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = s.kid_in_header.then(|| kid.to_owned());
    let mut claims = json!({
        "iss": s.issuer, "aud": [client.client_id], "iat": now, "exp": now + 3600, "auth_time": now,
        "nonce": request.nonce, "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]), "sub": sub,
    });
    if request.scope.split(' ').any(|x| x == "email") {
        claims["email"] = json!(s.user.1);
        claims["email_verified"] = json!(true);
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn revoke(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    // Revocation needs client authentication: public clients cannot revoke.
    let client = match authenticate_confidential(&s, &headers, &form) {
        Ok(c) => c,
        Err(response) => return response,
    };
    // Another client's token: Authlib's RevocationEndpoint raises `invalid_grant`.
    let owner = form.get("token").and_then(|t| {
        s.refresh
            .get(t)
            .or_else(|| s.access.get(t))
            .map(|i| i.client_id.clone())
    });
    if owner.is_some_and(|o| o != client.client_id) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "invalid token");
    }
    if let Some(token) = form.get("token") {
        if let Some(info) = s
            .refresh
            .get(token)
            .filter(|i| i.client_id == client.client_id)
            .cloned()
        {
            s.refresh.remove(token);
            s.access.remove(&info.paired);
        } else if let Some(info) = s
            .access
            .get(token)
            .filter(|i| i.client_id == client.client_id)
            .cloned()
        {
            // One row holds both tokens and a revoke marks both revoked
            // (polar: authorization_server.py, `RevocationEndpoint.revoke_token`).
            s.access.remove(token);
            s.refresh.remove(&info.paired);
        }
    }
    Json(json!({})).into_response()
}

async fn introspect(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    let client = match authenticate_confidential(&s, &headers, &form) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let token = form.get("token").cloned().unwrap_or_default();
    let now = s.now();
    let found = s
        .access
        .get(&token)
        .filter(|i| i.exp > now)
        .map(|i| (i, "access_token"))
        .or_else(|| s.refresh.get(&token).map(|i| (i, "refresh_token")));
    match found.filter(|(i, _)| i.client_id == client.client_id) {
        Some((info, kind)) => {
            let organizations = &info.organizations;
            Json(json!({
                "active": true, "client_id": info.client_id, "token_type": kind, "scope": info.scope,
                "sub_type": info.sub_type, "sub": info.sub, "organizations": organizations,
                "aud": info.client_id, "iss": s.issuer, "exp": info.exp, "iat": info.iat,
            }))
            .into_response()
        }
        None => Json(json!({"active": false})).into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

async fn userinfo(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let s = inner.lock().unwrap();
    let now = s.now();
    // Personal and organization access tokens are refused here, as on Polar.
    let Some(info) = bearer(&headers)
        .and_then(|t| s.access.get(&t).cloned())
        .filter(|i| i.exp > now)
    else {
        return bearer_error("invalid_token");
    };
    // A legacy organization: its slug as `name`, only with `openid` (polar: userinfo.py).
    if info.sub_type == "organization" {
        let mut body = json!({"sub": info.sub});
        if info.scope.split(' ').any(|x| x == "openid") {
            body["name"] = json!(s.organization.1);
        }
        return Json(body).into_response();
    }
    let mut body = json!({"sub": info.sub});
    if info.scope.split(' ').any(|x| x == "email") {
        body["email"] = json!(s.user.1);
        body["email_verified"] = json!(true);
    }
    Json(body).into_response()
}

/// `POST /v1/customer-sessions/` with `customer_sessions:write`: a `polar_cst_` token for the
/// customer portal that expires in an hour and cannot be refreshed (polar:
/// server/polar/customer_session/service.py).
async fn create_customer_session(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut s = inner.lock().unwrap();
    let now = s.now();
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let scope = match (s.access.get(&token), s.personal_tokens.get(&token)) {
        (Some(info), _) if info.exp > now => info.scope.clone(),
        (_, Some((_, scope))) => scope.clone(),
        _ => return bearer_error("invalid_token"),
    };
    if !scope.split(' ').any(|x| x == "customer_sessions:write") {
        return insufficient_scope("customer_sessions:write");
    }
    let Some(customer) = body.get("customer_id").and_then(Value::as_str) else {
        return validation_error(&["body", "customer_id"], "Field required", "missing");
    };
    let session = format!("polar_cst_{}", random(32));
    let expires = now + 3600;
    s.customer_sessions.insert(session.clone(), expires);
    let when = crate::accesslink::iso8601(UNIX_EPOCH + Duration::from_secs(expires));
    (
        StatusCode::CREATED,
        Json(json!({
            "token": session, "expires_at": when, "customer_id": customer,
            "customer_portal_url": format!("{}/portal?customer_session_token={session}", s.base),
        })),
    )
        .into_response()
}

/// `GET /v1/customer-portal/customers/me` with a live customer session.
async fn portal_customer(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let s = inner.lock().unwrap();
    let now = s.now();
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let live = s
        .customer_sessions
        .get(&token)
        .is_some_and(|exp| *exp > now);
    if !live {
        return bearer_error("invalid_token");
    }
    Json(json!({"id": "cus_1", "email": "customer@example.test"})).into_response()
}

/// A `PolarError`: `{"error": "Unauthorized", "detail": ...}` with a Bearer realm, when no
/// token came (polar: server/polar/exceptions.py, server/polar/auth/dependencies.py).
fn unauthorized() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "Unauthorized", "detail": "Unauthorized"})),
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        "Bearer realm=\"polar\"".parse().unwrap(),
    );
    r
}

/// 403 with the needed scope (polar: server/polar/oauth2/exceptions.py, `InsufficientScopeError`).
fn insufficient_scope(scope: &str) -> Response {
    let description = "The request requires higher privileges than provided by the access token.";
    let challenge = format!(
        "Bearer realm=\"polar\", error=\"insufficient_scope\", error_description=\"{description}\", scope=\"{scope}\""
    );
    let mut r = (
        StatusCode::FORBIDDEN,
        Json(json!({"error": "insufficient_scope", "error_description": description})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
    r
}

async fn products(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let s = inner.lock().unwrap();
    let now = s.now();
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let scope = match (s.access.get(&token), s.personal_tokens.get(&token)) {
        (Some(info), _) if info.exp > now => info.scope.clone(),
        (_, Some((_, scope))) => scope.clone(),
        _ => return bearer_error("invalid_token"),
    };
    if !scope
        .split(' ')
        .any(|x| x == "products:read" || x == "products:write")
    {
        return insufficient_scope("products:read products:write");
    }
    Json(json!({
        "items": [{"id": "prod_1", "name": "Pro plan"}, {"id": "prod_2", "name": "Sticker pack"}],
        "pagination": {"total_count": 2, "max_page": 1},
    }))
    .into_response()
}

/// FastAPI's 422 body (polar: server/polar/oauth2/schemas.py validates; FastAPI shapes it).
fn validation_error(loc: &[&str], msg: &str, kind: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "error": "RequestValidationError",
            "detail": [{"loc": loc, "msg": msg, "type": kind}],
        })),
    )
        .into_response()
}

/// `http://` only for localhost and private addresses (polar: schemas.py, `_is_https_or_localhost`).
fn redirect_uri_ok(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_private() || ip.is_loopback(),
        _ => false,
    };
    url.scheme() != "http" || local
}

fn checked_redirect_uris(body: &Value) -> Result<Vec<String>, Response> {
    let Some(list) = body.get("redirect_uris").and_then(Value::as_array) else {
        return Err(validation_error(
            &["body", "redirect_uris"],
            "Field required",
            "missing",
        ));
    };
    let uris: Vec<String> = list
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for (i, uri) in uris.iter().enumerate() {
        if !redirect_uri_ok(uri) {
            let index = i.to_string();
            return Err(validation_error(
                &["body", "redirect_uris", &index],
                "Value error, An HTTPS URL is required.",
                "value_error",
            ));
        }
    }
    // unverified: an empty list; refused here so the fake never holds a client it cannot serve.
    if uris.is_empty() {
        return Err(validation_error(
            &["body", "redirect_uris"],
            "List should have at least 1 item after validation, not 0",
            "too_short",
        ));
    }
    Ok(uris)
}

async fn register(State(inner): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let redirect_uris = match checked_redirect_uris(&body) {
        Ok(uris) => uris,
        Err(response) => return response,
    };
    let method_name = body["token_endpoint_auth_method"]
        .as_str()
        .unwrap_or("client_secret_post");
    let Some(method) = FakeAuthMethod::from_name(method_name) else {
        return validation_error(
            &["body", "token_endpoint_auth_method"],
            "Input should be 'client_secret_basic', 'client_secret_post' or 'none'",
            "literal_error",
        );
    };
    let client_id = format!("polar_ci_{}", random(22));
    let secret = (method != FakeAuthMethod::None).then(|| format!("polar_cs_{}", random(40)));
    let rat = format!("polar_crt_{}", random(32));
    let client = FakeClient {
        client_id: client_id.clone(),
        client_secret: secret,
        auth_method: method,
        redirect_uris,
        // Dropped: not among Authlib's RFC 7591 claims (polar: server/tests/oauth2,
        // `test_dynamically_registered_client_defaults_to_user`).
        default_sub_type: "user".to_owned(),
        registration_access_token: Some(rat),
        metadata: body,
    };
    let response = client_json(&s.base, &client, true);
    s.clients.insert(client_id, client);
    (StatusCode::CREATED, Json(response)).into_response()
}

fn client_json(base: &str, c: &FakeClient, with_secrets: bool) -> Value {
    let mut v = c.metadata.clone();
    if !v.is_object() {
        v = json!({});
    }
    v["client_id"] = json!(c.client_id);
    v["client_id_issued_at"] = json!(0);
    v["token_endpoint_auth_method"] = json!(c.auth_method.name());
    v["redirect_uris"] = json!(c.redirect_uris);
    v["default_sub_type"] = json!(c.default_sub_type);
    v["registration_client_uri"] = json!(format!("{base}/v1/oauth2/register/{}", c.client_id));
    if with_secrets {
        if let Some(secret) = &c.client_secret {
            v["client_secret"] = json!(secret);
            v["client_secret_expires_at"] = json!(0);
        }
        v["registration_access_token"] = json!(c.registration_access_token);
    }
    v
}

fn registered<'a>(
    s: &'a Inner,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<&'a FakeClient, Response> {
    let client = s
        .clients
        .get(client_id)
        .ok_or_else(|| bearer_error("invalid_token"))?;
    match (bearer(headers), &client.registration_access_token) {
        (Some(t), Some(rat)) if t == *rat => Ok(client),
        _ => Err(bearer_error("invalid_token")),
    }
}

async fn read_client(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = inner.lock().unwrap();
    match registered(&s, &headers, &id) {
        Ok(c) => Json(client_json(&s.base, c, true)).into_response(),
        Err(r) => r,
    }
}

async fn update_client(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut s = inner.lock().unwrap();
    if let Err(r) = registered(&s, &headers, &id) {
        return r;
    }
    // polar: schemas.py, `OAuth2ClientConfigurationUpdate` requires `client_id`.
    if body.get("client_id").and_then(Value::as_str).is_none() {
        return validation_error(&["body", "client_id"], "Field required", "missing");
    }
    let redirect_uris = match checked_redirect_uris(&body) {
        Ok(uris) => uris,
        Err(response) => return response,
    };
    let base = s.base.clone();
    let client = s.clients.get_mut(&id).unwrap();
    client.redirect_uris = redirect_uris;
    client.metadata = body;
    Json(client_json(&base, client, true)).into_response()
}

async fn delete_client(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = inner.lock().unwrap();
    if let Err(r) = registered(&s, &headers, &id) {
        return r;
    }
    // A soft delete: the client is gone for authentication (refresh → `invalid_client`), its
    // access tokens stay valid (polar: authorization_server.py, `delete_client`).
    s.clients.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}
