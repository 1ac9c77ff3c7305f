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
//!
//! The parts, by concern: `state` (what the fake remembers), `discovery`, `authorize` (the
//! browser's side), `token` (client authentication, grants, revocation, introspection,
//! userinfo), `api` (the merchant API and middleware), `registration` (RFC 7591/7592) and
//! `webhooks`; this file holds the public API and the routes.

// Handlers return `Response` as their error: that is the axum idiom, and this is test code.
#![allow(clippy::result_large_err)]

// Every part speaks the fake's vocabulary (its types, state and wire helpers) through
// `use super::*`, and the routes below reach every handler through these globs.
mod api;
mod authorize;
mod discovery;
mod registration;
mod state;
mod token;
mod webhooks;

use crate::server::TestServer;
use crate::wire::{decode_basic, hmac_sha256, pkce_ok, random, OAuthDialect};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use self::api::*;
use self::authorize::*;
use self::discovery::*;
use self::registration::*;
use self::state::*;
use self::token::*;

/// The issuer Polar.sh names in its discovery document and ID tokens, whatever host serves them.
pub const POLAR_ISSUER: &str = "https://polar.sh";

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
        self.state().rate_limit = Some((count, retry_after_secs, None));
    }

    /// The next `count` requests to a path ending in `path` (`/oauth2/introspect`...) get `429`
    /// the same way; other requests pass. Polar rate-limits every endpoint under `/v1`, the
    /// OAuth ones included (polar: server/polar/rate_limit.py, the catch-all `"^/v1"` rule of
    /// `_PRODUCTION_RULES` / `_SANDBOX_RULES`, in the `ratelimit` middleware that answers 429
    /// with `Retry-After`); this picks which one a test sees limited.
    pub fn rate_limit_next_at(&self, path: &str, count: u32, retry_after_secs: u64) {
        self.state().rate_limit = Some((count, retry_after_secs, Some(path.to_owned())));
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
