//! Keycloak as an OpenID Provider of the interop matrix: the server distribution installed by
//! `scripts/install-keycloak`, started in dev mode on `127.0.0.1` with the realm of
//! `keycloak/grantkit-realm.json` (a user, and a client per [`ClientRole`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::browser::{Browser, Landing, Page};
use crate::interop::{ClientRole, InteropError, InteropOp, OpClient, OpFuture, OpUser};

const NAME: &str = "Keycloak";
const SCRIPT: &str = "scripts/install-keycloak";
/// The version `scripts/install-keycloak` installs.
pub const KEYCLOAK_VERSION: &str = "26.7.3";
/// The realm the tests use.
pub const KEYCLOAK_REALM: &str = "grantkit";
/// The redirect URI every browser client of the realm registers (nothing listens on it).
pub const KEYCLOAK_REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";
const READY_WAIT: Duration = Duration::from_secs(420);

/// Runs Keycloak and stops it when stdin closes: when the test process exits, however it
/// exits, the pipe closes and Keycloak is stopped with it. Its instance folder goes too, but
/// with `GRANTKIT_KEEP_LOGS=1` its log is kept beside it (`<folder>.log`).
///
/// Keycloak ending by itself (bad config, port clash, JVM failure) ends the supervisor too,
/// with Keycloak's status and its log kept at `<folder>.log`: `wait_ready` then fails at once
/// instead of polling for [`READY_WAIT`]. Stdin is watched in a background job, which a
/// shell without job control starts on `/dev/null` (POSIX, "Asynchronous Lists"): it reads
/// a copy of stdin (fd 3) instead.
const SUPERVISOR: &str = r#"home="$1"; shift
exec 3<&0
"$home/bin/kc.sh" "$@" > "$home/keycloak.log" 2>&1 3<&- &
kc=$!
{ cat <&3 > /dev/null; : > "$home/stopping"; kill -TERM "$kc" 2>/dev/null; } &
watch=$!
exec 3<&-
wait "$kc"
status=$?
if [ ! -e "$home/stopping" ]; then
  kill "$watch" 2>/dev/null
  mv "$home/keycloak.log" "$home.log"
elif [ "${GRANTKIT_KEEP_LOGS:-}" = 1 ]; then
  mv "$home/keycloak.log" "$home.log"
fi
rm -rf "$home"
exit "$status""#;

/// A running Keycloak. Stopped when dropped, and when the test process exits.
#[derive(Debug)]
pub struct Keycloak {
    child: Child,
    stdin: Option<ChildStdin>,
    base: String,
    issuer: String,
    user: OpUser,
}

impl Keycloak {
    /// Where `scripts/install-keycloak` puts Keycloak: `GRANTKIT_KEYCLOAK_HOME`, else
    /// `${GRANTKIT_CACHE:-$HOME/.cache/grantkit}/keycloak-<version>`.
    pub fn install_dir() -> PathBuf {
        if let Some(home) = std::env::var_os("GRANTKIT_KEYCLOAK_HOME") {
            return PathBuf::from(home);
        }
        cache_dir().join(format!("keycloak-{KEYCLOAK_VERSION}"))
    }

    /// The realm file imported at start.
    pub fn realm_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keycloak/grantkit-realm.json")
    }

    /// Starts Keycloak on a free loopback port with the test realm, and waits until it
    /// listens, which it does once the realm is imported (tens of seconds: start one per test
    /// binary).
    pub fn start() -> Result<Self, InteropError> {
        let dist = Self::install_dir();
        if !dist.join(".grantkit-ready").is_file() {
            return Err(InteropError::NotInstalled {
                name: NAME,
                detail: format!("no finished install in {}", dist.display()),
                script: SCRIPT,
            });
        }
        let instance =
            instance_dir(&dist).map_err(|source| InteropError::Spawn { name: NAME, source })?;
        let java_home = std::fs::read_to_string(dist.join(".grantkit-java-home"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let args = [
            "start-dev",
            // Port 0: the system picks a free one, which the log then names.
            "--http-host=127.0.0.1",
            "--http-port=0",
            "--hostname-strict=false",
            "--import-realm",
        ];
        let mut keycloak = Self::supervise(&instance, &args, &java_home)
            .map_err(|source| InteropError::Spawn { name: NAME, source })?;
        keycloak.base = keycloak.wait_ready(&instance, READY_WAIT)?;
        keycloak.issuer = format!("{}/realms/{KEYCLOAK_REALM}", keycloak.base);
        Ok(keycloak)
    }

    /// [`Keycloak::start`], or what a test does without it: under `CI=true` a provider that
    /// cannot start fails the test (panic); elsewhere the test is skipped with a message.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        crate::interop::start_or_skip(test, Self::start)
    }

    /// `http://127.0.0.1:PORT`, Keycloak's root.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Starts `instance`'s `bin/kc.sh` with `args` under [`SUPERVISOR`].
    fn supervise<S: AsRef<std::ffi::OsStr>>(
        instance: &Path,
        args: &[S],
        java_home: &str,
    ) -> std::io::Result<Self> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("keycloak-supervisor")
            .arg(instance)
            .args(args)
            .env("JAVA_HOME", java_home)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            base: String::new(),
            issuer: String::new(),
            user: test_user(),
        })
    }

    /// Waits up to `wait` for the log's `Listening on: http://127.0.0.1:PORT` and returns that
    /// URL; fails as soon as Keycloak exits, naming the log the supervisor kept.
    fn wait_ready(&mut self, instance: &Path, wait: Duration) -> Result<String, InteropError> {
        let log = instance.join("keycloak.log");
        let started = Instant::now();
        let listening = "Listening on: http://127.0.0.1:";
        while started.elapsed() < wait {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(at) = text.find(listening) {
                let url = &text[at + "Listening on: ".len()..];
                let end = url
                    .find(|c: char| !(c.is_ascii_alphanumeric() || ":/.".contains(c)))
                    .unwrap_or(url.len());
                return Ok(url[..end].to_owned());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let kept = kept_log(instance);
                let text = std::fs::read_to_string(&kept).unwrap_or(text);
                return Err(not_ready(format!("it exited ({status})"), &kept, &text));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Err(not_ready(
            format!("no `{listening}` within {wait:?}"),
            &log,
            &text,
        ))
    }
}

/// `${GRANTKIT_CACHE:-$HOME/.cache/grantkit}`, where the installers put the providers.
pub(crate) fn cache_dir() -> PathBuf {
    std::env::var_os("GRANTKIT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/grantkit")
        })
}

fn not_ready(what: String, path: &Path, log: &str) -> InteropError {
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    InteropError::NotReady {
        name: NAME,
        detail: format!(
            "{what}; the end of its log ({}):\n{}",
            path.display(),
            tail.join("\n")
        ),
    }
}

/// Where [`SUPERVISOR`] keeps the log of `instance` once the folder is gone: `<folder>.log`.
fn kept_log(instance: &Path) -> PathBuf {
    let mut path = instance.as_os_str().to_owned();
    path.push(".log");
    PathBuf::from(path)
}

/// A Keycloak home of its own (its dev database and realm import), sharing the installed
/// program: `bin/kc.sh` is copied (it finds its home from its own path) and the rest linked.
/// The dev database starts as a copy of the one the installer's first start created, so the
/// schema is not created again (half a minute saved per start).
fn instance_dir(dist: &Path) -> std::io::Result<PathBuf> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("grantkit-keycloak-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(dir.join("bin"))?;
    std::fs::create_dir_all(dir.join("data/import"))?;
    std::fs::copy(dist.join("bin/kc.sh"), dir.join("bin/kc.sh"))?;
    for linked in ["lib", "conf", "providers", "themes"] {
        std::os::unix::fs::symlink(dist.join(linked), dir.join(linked))?;
    }
    std::fs::create_dir_all(dir.join("data/h2"))?;
    for db in std::fs::read_dir(dist.join("data/h2"))? {
        let db = db?;
        if db.file_name().to_string_lossy().ends_with(".mv.db") {
            std::fs::copy(db.path(), dir.join("data/h2").join(db.file_name()))?;
        }
    }
    let realm = std::fs::read(Keycloak::realm_file())?;
    std::fs::File::create(dir.join("data/import/grantkit-realm.json"))?.write_all(&realm)?;
    Ok(dir)
}

/// Alice of the realm file; her `id` there is her `sub`.
fn test_user() -> OpUser {
    OpUser::alice("5d4b7a1e-9c3f-4b8e-a1f2-6e0c3b9d7a11")
}

fn client(id: &str, secret: Option<&str>, auth_method: &'static str) -> OpClient {
    OpClient::new(id, secret, auth_method, KEYCLOAK_REDIRECT_URI)
}

impl InteropOp for Keycloak {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> &str {
        KEYCLOAK_VERSION
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The clients of `keycloak/grantkit-realm.json`.
    fn client(&self, role: ClientRole) -> Option<OpClient> {
        Some(match role {
            ClientRole::Public => client("public-client", None, "none"),
            // Not public-client: Keycloak applies a client's PKCE requirement to the device
            // authorization request too, which RFC 8628 gives no PKCE parameters.
            ClientRole::Device => client("device-client", None, "none"),
            ClientRole::SecretBasic => client(
                "basic-client",
                Some("kc basic+secret%with:odd/chars?&=#@!"),
                "client_secret_basic",
            ),
            ClientRole::SecretPost => client(
                "post-client",
                Some("kc post secret+with%reserved:/?"),
                "client_secret_post",
            ),
            ClientRole::PrivateKeyJwt => OpClient {
                keys: vec!["peer-client-rsa.pem", "peer-client-ec.pem"],
                ..client("jwt-key-client", None, "private_key_jwt")
            },
            ClientRole::Par => client("par-client", Some("kc par secret"), "client_secret_basic"),
            ClientRole::Dpop => client("dpop-client", None, "none"),
        })
    }

    fn user(&self) -> &OpUser {
        &self.user
    }

    fn login<'a>(
        &'a self,
        browser: &'a Browser,
        authorize_url: &'a str,
        redirect_prefix: &'a str,
    ) -> OpFuture<'a, String> {
        Box::pin(async move {
            let mut landing = browser.navigate(authorize_url, redirect_prefix).await?;
            // At most: the login form, then nothing else (the realm's clients need no consent).
            for _ in 0..3 {
                match landing {
                    Landing::Callback(url) => return Ok(url),
                    Landing::Page(page) => {
                        landing = self.answer(browser, &page, redirect_prefix).await?;
                    }
                }
            }
            Err(InteropError::UnexpectedPage {
                url: authorize_url.to_owned(),
                excerpt: "the login did not reach the redirect URI in three pages".into(),
            })
        })
    }

    fn approve_device<'a>(
        &'a self,
        browser: &'a Browser,
        verification_uri_complete: &'a str,
    ) -> OpFuture<'a, ()> {
        Box::pin(async move {
            // Nothing redirects to the app here: the flow ends on Keycloak's own page.
            let nowhere = "http://nowhere.invalid/";
            let mut landing = browser.navigate(verification_uri_complete, nowhere).await?;
            for _ in 0..4 {
                let Landing::Page(page) = landing else {
                    break;
                };
                if page.body.contains("Device Login Successful") {
                    return Ok(());
                }
                landing = self.answer(browser, &page, nowhere).await?;
            }
            Err(InteropError::UnexpectedPage {
                url: verification_uri_complete.to_owned(),
                excerpt: "the device approval did not end on Keycloak's success page".into(),
            })
        })
    }
}

impl Keycloak {
    /// Fills in whichever of Keycloak's pages `page` is: the login form, the device code
    /// form or the consent (grant access) page.
    async fn answer(
        &self,
        browser: &Browser,
        page: &Page,
        redirect_prefix: &str,
    ) -> Result<Landing, InteropError> {
        let forms = page.forms();
        let has = |id: &str| {
            forms
                .iter()
                .any(|f| f.id.as_deref() == Some(id) || f.fields.iter().any(|(n, _)| n == id))
        };
        let user = &self.user;
        let (form, fields): (_, Vec<(&str, &str)>) = if has("kc-form-login") {
            (
                page.form("kc-form-login")?,
                vec![("username", &user.username), ("password", &user.password)],
            )
        } else if page.body.contains("name=\"accept\"") {
            (
                page.forms()
                    .into_iter()
                    .next()
                    .ok_or_else(|| unexpected(page))?,
                vec![("accept", "Yes")],
            )
        } else {
            return Err(unexpected(page));
        };
        Ok(browser.submit(&form, &fields, redirect_prefix).await?)
    }
}

fn unexpected(page: &Page) -> InteropError {
    InteropError::UnexpectedPage {
        url: page.url.to_string(),
        excerpt: page.excerpt(),
    }
}

impl Drop for Keycloak {
    fn drop(&mut self) {
        // Closing stdin makes the supervisor stop Keycloak and remove the instance folder.
        self.stdin.take();
        let _ = self.child.wait();
    }
}

/// The realm's clients and admin access for the Keycloak-only scenarios
/// (`crates/grantkit/tests/interop_keycloak.rs`): logout, token exchange, `max_age` and `acr`.
impl Keycloak {
    /// The post-logout redirect URI `logout-client` registers (its `post.logout.redirect.uris`
    /// attribute, `OIDCAdvancedConfigWrapper` in Keycloak); nothing listens on it.
    pub const POST_LOGOUT_REDIRECT_URI: &'static str = "http://127.0.0.1:8976/logged-out";

    /// A client of the realm file registered for a Keycloak-only scenario, by client id:
    /// `logout-client` (RP-initiated logout), `backchannel-client` (back-channel logout, its
    /// URL set with [`Keycloak::set_client_attribute`]), `exchange-frontend` (a public client
    /// whose tokens name `exchange-requester` as audience), `exchange-requester` (standard
    /// token exchange enabled, may mint tokens for `exchange-target`), `exchange-target` (the
    /// resource server, introspecting), `stepup-client` (`acr.loa.map` of its own).
    pub fn realm_client(&self, id: &str) -> Option<OpClient> {
        let secret = match id {
            "logout-client" => Some("kc logout secret"),
            "backchannel-client" => Some("kc backchannel secret"),
            "exchange-requester" => Some("kc exchange secret"),
            "exchange-target" => Some("kc target secret"),
            "exchange-frontend" | "stepup-client" => None,
            _ => return None,
        };
        let method = if secret.is_some() {
            "client_secret_basic"
        } else {
            "none"
        };
        Some(client(id, secret, method))
    }

    /// Sets one attribute of a client of the realm through Keycloak's admin REST API, as the
    /// realm's `kc-admin-client` service account (`manage-clients`): for what only the test
    /// knows, such as the port of a back-channel logout receiver.
    pub async fn set_client_attribute(
        &self,
        client_id: &str,
        name: &str,
        value: &str,
    ) -> Result<(), InteropError> {
        let http = reqwest::Client::new();
        let token = self.admin_token(&http).await?;
        let clients = format!("{}/admin/realms/{KEYCLOAK_REALM}/clients", self.base);
        let found: Vec<serde_json::Value> = http
            .get(&clients)
            .query(&[("clientId", client_id)])
            .bearer_auth(&token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(setup)?
            .json()
            .await
            .map_err(setup)?;
        let mut rep = found
            .into_iter()
            .next()
            .ok_or_else(|| InteropError::Setup {
                name: NAME,
                detail: format!("no client {client_id} in the realm"),
            })?;
        let id = rep["id"].as_str().unwrap_or_default().to_owned();
        rep["attributes"][name] = value.into();
        http.put(format!("{clients}/{id}"))
            .bearer_auth(&token)
            .json(&rep)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(setup)?;
        Ok(())
    }

    async fn admin_token(&self, http: &reqwest::Client) -> Result<String, InteropError> {
        let answer: serde_json::Value = http
            .post(format!("{}/protocol/openid-connect/token", self.issuer))
            .basic_auth("kc-admin-client", Some("kc admin secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(setup)?
            .json()
            .await
            .map_err(setup)?;
        answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| InteropError::Setup {
                name: NAME,
                detail: "the admin client got no access token".into(),
            })
    }

    /// Confirms a logout on Keycloak's "Do you want to log out?" page, which it shows for a
    /// logout request without `id_token_hint` (`LogoutEndpoint` in Keycloak): submits the
    /// page's form (`session_code`) with its `confirmLogout` button.
    pub async fn confirm_logout(
        &self,
        browser: &Browser,
        page: &Page,
        redirect_prefix: &str,
    ) -> Result<Landing, InteropError> {
        let form = page.form("session_code")?;
        Ok(browser
            .submit(&form, &[("confirmLogout", "Logout")], redirect_prefix)
            .await?)
    }
}

fn setup(e: reqwest::Error) -> InteropError {
    InteropError::Setup {
        name: NAME,
        detail: e.to_string(),
    }
}

/// The realm of `keycloak/grantkit-mtls-realm.json`, imported only by [`Keycloak::start_tls`]:
/// alice and `mtls-client` (`tls_client_auth`, certificate-bound access tokens).
pub const KEYCLOAK_MTLS_REALM: &str = "grantkit-mtls";

/// The certificates of a Keycloak served over HTTPS that requests client certificates
/// (RFC 8705), all PEM: the server's for `127.0.0.1`, its key, and the CA Keycloak trusts for
/// client certificates. Made by the test (e.g. with `rcgen`), written into the instance's home.
#[derive(Clone)]
pub struct KeycloakTls {
    /// The server certificate, valid for `127.0.0.1`.
    pub server_cert_pem: String,
    /// The server certificate's private key.
    pub server_key_pem: String,
    /// The CA that client certificates must chain to (Keycloak's `--truststore-paths`).
    pub ca_pem: String,
}

impl std::fmt::Debug for KeycloakTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakTls").finish_non_exhaustive()
    }
}

impl Keycloak {
    /// The mTLS realm's file, imported by [`Keycloak::start_tls`] beside
    /// [`Keycloak::realm_file`].
    pub fn mtls_realm_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keycloak/grantkit-mtls-realm.json")
    }

    /// Starts a Keycloak served over HTTPS on a free loopback port, requesting (not requiring)
    /// client certificates and trusting `tls.ca_pem` for them, with both realm files imported.
    /// [`Keycloak::base_url`] is then `https://127.0.0.1:PORT` (plain HTTP listens on another
    /// free port, unused). `--https-client-auth` is a build option of Keycloak: this instance
    /// re-runs Quarkus' augmentation (about half a minute) into a `lib/quarkus` of its own, so
    /// the shared install stays as `scripts/install-keycloak` built it.
    pub fn start_tls(tls: &KeycloakTls) -> Result<Self, InteropError> {
        let dist = Self::install_dir();
        if !dist.join(".grantkit-ready").is_file() {
            return Err(InteropError::NotInstalled {
                name: NAME,
                detail: format!("no finished install in {}", dist.display()),
                script: SCRIPT,
            });
        }
        let spawn = |source| InteropError::Spawn { name: NAME, source };
        let instance = instance_dir(&dist).map_err(spawn)?;
        own_build(&dist, &instance).map_err(spawn)?;
        let pki = instance.join("pki");
        std::fs::create_dir_all(&pki).map_err(spawn)?;
        for (file, pem) in [
            ("server.pem", &tls.server_cert_pem),
            ("server.key", &tls.server_key_pem),
            ("ca.pem", &tls.ca_pem),
        ] {
            std::fs::write(pki.join(file), pem).map_err(spawn)?;
        }
        let realm = std::fs::read(Self::mtls_realm_file()).map_err(spawn)?;
        std::fs::write(instance.join("data/import/grantkit-mtls-realm.json"), realm)
            .map_err(spawn)?;
        let java_home = std::fs::read_to_string(dist.join(".grantkit-java-home"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let https_port = free_port().map_err(spawn)?;
        let file = |name: &str| pki.join(name).display().to_string();
        let args = [
            "start-dev".to_owned(),
            "--http-host=127.0.0.1".to_owned(),
            "--http-port=0".to_owned(),
            format!("--https-port={https_port}"),
            format!("--https-certificate-file={}", file("server.pem")),
            format!("--https-certificate-key-file={}", file("server.key")),
            // `request`: a request without a certificate still reaches Keycloak, which
            // then decides (the userinfo refusal of a bound token is Keycloak's, not TLS's).
            "--https-client-auth=request".to_owned(),
            format!("--truststore-paths={}", file("ca.pem")),
            "--hostname-strict=false".to_owned(),
            "--import-realm".to_owned(),
        ];
        let mut keycloak = Self::supervise(&instance, &args, &java_home).map_err(spawn)?;
        keycloak.wait_ready(&instance, READY_WAIT)?;
        keycloak.base = format!("https://127.0.0.1:{https_port}");
        keycloak.issuer = format!("{}/realms/{KEYCLOAK_REALM}", keycloak.base);
        Ok(keycloak)
    }

    /// [`Keycloak::start_tls`], or what a test does without it: under `CI=true` a provider
    /// that cannot start fails the test (panic); elsewhere the test is skipped with a message.
    pub fn start_tls_or_skip(test: &str, tls: &KeycloakTls) -> Option<Self> {
        crate::interop::start_or_skip(test, || Self::start_tls(tls))
    }

    /// The issuer of [`KEYCLOAK_MTLS_REALM`] on this Keycloak.
    pub fn mtls_issuer(&self) -> String {
        format!("{}/realms/{KEYCLOAK_MTLS_REALM}", self.base)
    }
}

/// Gives `instance` a `lib` of its own for a build with other build options: `lib/quarkus`
/// (what the augmentation rewrites) and `quarkus-run.jar` copied, the libraries linked. The
/// runner jar must be a copy: Quarkus writes the new build beside the jar's real path, which
/// through a link would be the shared install's.
fn own_build(dist: &Path, instance: &Path) -> std::io::Result<()> {
    let lib = instance.join("lib");
    std::fs::remove_file(&lib)?;
    std::fs::create_dir_all(lib.join("quarkus"))?;
    for linked in ["app", "lib"] {
        std::os::unix::fs::symlink(dist.join("lib").join(linked), lib.join(linked))?;
    }
    std::fs::copy(
        dist.join("lib/quarkus-run.jar"),
        lib.join("quarkus-run.jar"),
    )?;
    for file in std::fs::read_dir(dist.join("lib/quarkus"))? {
        let file = file?;
        std::fs::copy(file.path(), lib.join("quarkus").join(file.file_name()))?;
    }
    Ok(())
}

/// A loopback port free now, for HTTPS: the ready check reads only the HTTP URL from the log.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Keycloak that exits at once (bad config, port clash, JVM failure) fails the start
    /// within seconds, with its log's path and last lines, instead of polling for the whole
    /// ready wait while the supervisor waits on stdin. A stand-in `bin/kc.sh` exits 3.
    #[test]
    fn keycloak_early_exit_fails_fast_with_the_end_of_its_log() {
        let instance = std::env::temp_dir().join(format!(
            "grantkit-keycloak-early-exit-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&instance);
        std::fs::create_dir_all(instance.join("bin")).unwrap();
        let script = "#!/bin/sh\necho boom\necho 'port 8080 already in use' >&2\nexit 3\n";
        let kc = instance.join("bin/kc.sh");
        std::fs::write(&kc, script).unwrap();
        std::fs::set_permissions(&kc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let started = Instant::now();
        let mut keycloak = Keycloak::supervise(&instance, &["start-dev"], "").unwrap();
        let wait = Duration::from_secs(30);
        let error = keycloak
            .wait_ready(&instance, wait)
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(10), "{error}");
        let log = kept_log(&instance);
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(error.contains(&log.display().to_string()), "{error}");
        assert!(error.contains("boom"), "{error}");
        assert!(error.contains("port 8080 already in use"), "{error}");
        drop(keycloak);
        assert!(!instance.exists(), "the instance folder is removed");
        let _ = std::fs::remove_file(log);
    }

    /// Closing stdin (the test process exits, or the `Keycloak` is dropped) still stops a
    /// Keycloak that runs, and removes its folder without keeping its log.
    #[test]
    fn keycloak_is_stopped_when_stdin_closes() {
        let instance =
            std::env::temp_dir().join(format!("grantkit-keycloak-stdin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&instance);
        std::fs::create_dir_all(instance.join("bin")).unwrap();
        let script = "#!/bin/sh\necho 'Listening on: http://127.0.0.1:1234'\nexec sleep 300\n";
        let kc = instance.join("bin/kc.sh");
        std::fs::write(&kc, script).unwrap();
        std::fs::set_permissions(&kc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let started = Instant::now();
        let mut keycloak = Keycloak::supervise(&instance, &["start-dev"], "").unwrap();
        let url = keycloak
            .wait_ready(&instance, Duration::from_secs(30))
            .unwrap();
        assert_eq!(url, "http://127.0.0.1:1234");
        drop(keycloak);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!instance.exists(), "the instance folder is removed");
        if std::env::var_os("GRANTKIT_KEEP_LOGS").is_none_or(|v| v != "1") {
            assert!(
                !kept_log(&instance).exists(),
                "no log kept after a normal stop"
            );
        }
    }
}
