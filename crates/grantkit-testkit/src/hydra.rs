//! Ory Hydra v2 as an OpenID Provider of the interop matrix: the binary built by
//! `scripts/install-hydra`, started on `127.0.0.1` with an in-memory database (`DSN=memory`),
//! its clients created through its admin API, and its login and consent pages served by a small
//! handler of ours (axum, `127.0.0.1:0`) that accepts one fixed user through the admin API, as
//! Hydra expects of the application that owns the users.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::browser::{Browser, Landing};
use crate::interop::{ClientRole, InteropError, InteropOp, OpClient, OpFuture, OpUser};

const NAME: &str = "Ory Hydra";
const SCRIPT: &str = "scripts/install-hydra";
/// The version `scripts/install-hydra` builds.
pub const HYDRA_VERSION: &str = "v2.3.0";
/// The redirect URI the browser clients register (nothing listens on it).
pub const HYDRA_REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";
const READY_WAIT: Duration = Duration::from_secs(60);

/// Same supervision as Keycloak's: Hydra stops when the test process's pipe closes.
const SUPERVISOR: &str = r#"log="$1"; shift
"$@" > "$log" 2>&1 &
op=$!
cat > /dev/null
kill -TERM "$op" 2>/dev/null
wait "$op"
[ "${GRANTKIT_KEEP_LOGS:-}" = 1 ] || rm -f "$log""#;

/// A running Hydra with its login and consent handler. Stopped when dropped, and when the
/// test process exits.
#[derive(Debug)]
pub struct Hydra {
    child: Child,
    stdin: Option<ChildStdin>,
    issuer: String,
    admin: String,
    user: OpUser,
}

impl Hydra {
    /// Where `scripts/install-hydra` puts the binary: `GRANTKIT_HYDRA_BIN`, else
    /// `${GRANTKIT_CACHE:-$HOME/.cache/grantkit}/hydra-<version>/hydra`.
    pub fn binary() -> PathBuf {
        if let Some(bin) = std::env::var_os("GRANTKIT_HYDRA_BIN") {
            return PathBuf::from(bin);
        }
        crate::keycloak::cache_dir()
            .join(format!("hydra-{HYDRA_VERSION}"))
            .join("hydra")
    }

    /// Starts Hydra on free loopback ports, its login handler, and creates the clients.
    pub fn start() -> Result<Self, InteropError> {
        let bin = Self::binary();
        if !bin.is_file() {
            return Err(InteropError::NotInstalled {
                name: NAME,
                detail: format!("no binary at {}", bin.display()),
                script: SCRIPT,
            });
        }
        let spawn = |source| InteropError::Spawn { name: NAME, source };
        let (public, admin) = (free_port().map_err(spawn)?, free_port().map_err(spawn)?);
        let issuer = format!("http://127.0.0.1:{public}");
        let admin = format!("http://127.0.0.1:{admin}");
        let user = test_user();
        let login = serve_login_app(admin.clone(), user.clone()).map_err(spawn)?;
        let log = std::env::temp_dir().join(format!(
            "grantkit-hydra-{}-{public}.log",
            std::process::id()
        ));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("hydra-supervisor")
            .arg(&log)
            .arg(&bin)
            .args(["serve", "all", "--dev"])
            .envs(hydra_env(&issuer, public, &admin, &login))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn)?;
        let hydra = Self {
            stdin: child.stdin.take(),
            child,
            issuer,
            admin,
            user,
        };
        on_own_runtime(hydra.set_up()).map_err(|detail| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            InteropError::NotReady {
                name: NAME,
                detail: format!("{detail}; the end of its log: {tail:?}"),
            }
        })?;
        Ok(hydra)
    }

    /// [`Hydra::start`], or what a test does without it: under `CI=true` a provider that
    /// cannot start fails the test (panic); elsewhere the test is skipped with a message.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        crate::interop::start_or_skip(test, Self::start)
    }

    /// The admin API's base URL.
    pub fn admin_url(&self) -> &str {
        &self.admin
    }

    async fn set_up(&self) -> Result<(), String> {
        let http = reqwest::Client::new();
        let ready = format!("{}/health/ready", self.admin);
        let started = Instant::now();
        loop {
            match http.get(&ready).send().await {
                Ok(r) if r.status().is_success() => break,
                _ if started.elapsed() > READY_WAIT => {
                    return Err(format!("{ready} did not answer 200 within {READY_WAIT:?}"))
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        for role in [
            ClientRole::Public,
            ClientRole::SecretBasic,
            ClientRole::SecretPost,
            ClientRole::PrivateKeyJwt,
        ] {
            let client = self.client(role).ok_or("no client")?;
            let response = http
                .post(format!("{}/admin/clients", self.admin))
                .json(&registration(&client))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                return Err(format!("creating {}: HTTP {status}: {body}", client.id));
            }
        }
        Ok(())
    }
}

fn hydra_env(issuer: &str, public: u16, admin: &str, login: &str) -> Vec<(String, String)> {
    let admin_port = admin.rsplit(':').next().unwrap_or_default();
    [
        ("DSN", "memory".to_owned()),
        ("URLS_SELF_ISSUER", issuer.to_owned()),
        ("URLS_LOGIN", format!("{login}/login")),
        ("URLS_CONSENT", format!("{login}/consent")),
        ("SERVE_PUBLIC_HOST", "127.0.0.1".to_owned()),
        ("SERVE_PUBLIC_PORT", public.to_string()),
        ("SERVE_ADMIN_HOST", "127.0.0.1".to_owned()),
        ("SERVE_ADMIN_PORT", admin_port.to_owned()),
        // Test-only: it signs nothing that leaves the test.
        (
            "SECRETS_SYSTEM",
            "grantkit-interop-test-system-secret".to_owned(),
        ),
        // No usage reports to Ory from a test (the machine has no route out anyway).
        ("SQA_OPT_OUT", "true".to_owned()),
        ("LOG_LEVEL", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What Hydra's admin API is given for `client`.
fn registration(client: &OpClient) -> Value {
    let mut body = json!({
        "client_id": client.id,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid offline_access email profile",
        "redirect_uris": [client.redirect_uri],
        "token_endpoint_auth_method": client.auth_method,
    });
    if let Some(secret) = &client.secret {
        body["client_secret"] = json!(secret);
    }
    if !client.keys.is_empty() {
        body["jwks"] = client_jwks();
        body["token_endpoint_auth_signing_alg"] = json!("RS256");
    }
    body
}

/// The public halves of the `private_key_jwt` client's RSA key (`fixtures/peer-client-jwks.json`).
fn client_jwks() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/peer-client-jwks.json");
    let all: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let rsa: Vec<Value> = all["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["kty"] == "RSA")
        .cloned()
        .collect();
    json!({ "keys": rsa })
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs `work` on a runtime of its own thread: the launcher is called from inside a test's
/// runtime, which must not be blocked on.
fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, String>> + Send,
) -> Result<T, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(work)
        })
        .join()
        .unwrap_or_else(|_| Err("the setup thread panicked".into()))
    })
}

/// The test user; Hydra has no users of its own, so the login handler decides the `sub`.
fn test_user() -> OpUser {
    OpUser::alice("alice-at-hydra")
}

fn client(id: &str, secret: Option<&str>, auth_method: &'static str) -> OpClient {
    OpClient::new(id, secret, auth_method, HYDRA_REDIRECT_URI)
}

impl InteropOp for Hydra {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> &str {
        HYDRA_VERSION
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The clients [`Hydra::start`] creates. Hydra 2.3 has no device grant, PAR or DPoP.
    fn client(&self, role: ClientRole) -> Option<OpClient> {
        Some(match role {
            ClientRole::Public => client("public-client", None, "none"),
            ClientRole::SecretBasic => client(
                "basic-client",
                Some("hy basic+secret%with:odd/chars?&=#@!"),
                "client_secret_basic",
            ),
            ClientRole::SecretPost => client(
                "post-client",
                Some("hy post secret+with%reserved:/?"),
                "client_secret_post",
            ),
            // One signing algorithm per client (`token_endpoint_auth_signing_alg`): RS256.
            ClientRole::PrivateKeyJwt => OpClient {
                keys: vec!["peer-client-rsa.pem"],
                ..client("jwt-key-client", None, "private_key_jwt")
            },
            _ => return None,
        })
    }

    fn user(&self) -> &OpUser {
        &self.user
    }

    /// Hydra issues refresh tokens only for `offline_access`.
    fn scopes(&self) -> Vec<&'static str> {
        vec!["openid", "offline_access", "email", "profile"]
    }

    fn login<'a>(
        &'a self,
        browser: &'a Browser,
        authorize_url: &'a str,
        redirect_prefix: &'a str,
    ) -> OpFuture<'a, String> {
        Box::pin(async move {
            let page = match browser.navigate(authorize_url, redirect_prefix).await? {
                Landing::Callback(url) => return Ok(url),
                Landing::Page(page) => page,
            };
            let form = page.form("grantkit-login")?;
            let fields = [
                ("username", self.user.username.as_str()),
                ("password", self.user.password.as_str()),
            ];
            match browser.submit(&form, &fields, redirect_prefix).await? {
                Landing::Callback(url) => Ok(url),
                Landing::Page(page) => Err(InteropError::UnexpectedPage {
                    url: page.url.to_string(),
                    excerpt: page.excerpt(),
                }),
            }
        })
    }

    fn approve_device<'a>(&'a self, _: &'a Browser, _: &'a str) -> OpFuture<'a, ()> {
        Box::pin(async {
            Err(InteropError::Setup {
                name: NAME,
                detail: "no device grant in this setup".into(),
            })
        })
    }
}

impl Drop for Hydra {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct LoginApp {
    admin: String,
    user: OpUser,
    http: reqwest::Client,
}

/// Serves the login and consent pages on `127.0.0.1:0` for the rest of the process, on a
/// thread of its own (test runtimes come and go); returns its base URL.
fn serve_login_app(admin: String, user: OpUser) -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = LoginApp {
        admin,
        user,
        http: reqwest::Client::new(),
    };
    let app = Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/consent", get(consent))
        .with_state(state);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, app).await;
            }
        })
    });
    Ok(base)
}

impl LoginApp {
    /// GETs or PUTs a login/consent request of the admin API; the JSON answer.
    async fn admin(
        &self,
        put: bool,
        path: &str,
        challenge: (&str, &str),
        body: Value,
    ) -> Result<Value, String> {
        let url = format!("{}/admin/oauth2/auth/requests/{path}", self.admin);
        let request = if put {
            self.http.put(url).json(&body)
        } else {
            self.http.get(url)
        };
        let response = request
            .query(&[challenge])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{path}: HTTP {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    fn redirect(answer: Result<Value, String>) -> Response {
        match answer {
            Ok(v) => match v["redirect_to"].as_str() {
                Some(to) => Redirect::to(to).into_response(),
                None => Html(format!("no redirect_to in {v}")).into_response(),
            },
            Err(e) => Html(format!("admin API error: {e}")).into_response(),
        }
    }
}

async fn login_page(
    State(app): State<LoginApp>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let challenge = q.get("login_challenge").cloned().unwrap_or_default();
    let request = app
        .admin(false, "login", ("login_challenge", &challenge), Value::Null)
        .await;
    match request {
        Ok(r) if r["skip"] == true => {
            let body = json!({ "subject": r["subject"] });
            LoginApp::redirect(
                app.admin(true, "login/accept", ("login_challenge", &challenge), body)
                    .await,
            )
        }
        Ok(_) => Html(format!(
            r#"<html><body><form id="grantkit-login" method="post" action="/login">
<input type="hidden" name="challenge" value="{challenge}">
<input name="username"><input type="password" name="password">
<input type="submit" value="Log in"></form></body></html>"#
        ))
        .into_response(),
        Err(e) => Html(format!("admin API error: {e}")).into_response(),
    }
}

async fn login_submit(
    State(app): State<LoginApp>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let challenge = ("login_challenge", field("challenge"));
    if field("username") == app.user.username && field("password") == app.user.password {
        let body = json!({ "subject": app.user.subject, "remember": false });
        LoginApp::redirect(app.admin(true, "login/accept", challenge, body).await)
    } else {
        let body =
            json!({ "error": "access_denied", "error_description": "wrong username or password" });
        LoginApp::redirect(app.admin(true, "login/reject", challenge, body).await)
    }
}

/// Grants what the client asked for, with the user's e-mail in the ID token (and so at
/// userinfo).
async fn consent(
    State(app): State<LoginApp>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let challenge = q.get("consent_challenge").cloned().unwrap_or_default();
    let challenge = ("consent_challenge", challenge.as_str());
    let request = match app.admin(false, "consent", challenge, Value::Null).await {
        Ok(r) => r,
        Err(e) => return Html(format!("admin API error: {e}")).into_response(),
    };
    let body = json!({
        "grant_scope": request["requested_scope"],
        "grant_access_token_audience": request["requested_access_token_audience"],
        "remember": false,
        "session": { "id_token": {
            "email": app.user.email,
            "email_verified": true,
            "name": "Alice Example",
        }},
    });
    LoginApp::redirect(app.admin(true, "consent/accept", challenge, body).await)
}
