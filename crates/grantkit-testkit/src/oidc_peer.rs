//! Starting and stopping the `oidc-provider` test peer.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Why the peer could not be started.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// `npm ci` has not been run in the peer's folder.
    #[error("the oidc-provider peer is not installed in {0}: run `scripts/install-peer` (or `npm ci` there)")]
    NotInstalled(PathBuf),
    /// `node` could not be started.
    #[error("could not start node: {0}; install Node.js 20 or newer")]
    Spawn(std::io::Error),
    /// The peer did not print its URL in time.
    #[error("the oidc-provider peer did not report its URL within {0:?}")]
    NoUrl(Duration),
    /// A control call failed.
    #[error("control call to the peer failed: {0}")]
    Control(String),
}

/// A running `oidc-provider` on `127.0.0.1`. Stopped when dropped (and when the test process
/// dies, because the peer exits when its stdin closes).
#[derive(Debug)]
pub struct OidcPeer {
    child: Child,
    _stdin: ChildStdin,
    issuer: String,
}

impl OidcPeer {
    /// The folder holding `server.mjs` and its `node_modules`.
    pub fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-peer")
    }

    /// Whether `npm ci` has been run for the peer.
    pub fn is_installed() -> bool {
        Self::dir()
            .join("node_modules/oidc-provider/package.json")
            .is_file()
    }

    /// Starts the peer with default settings.
    pub fn start() -> Result<Self, PeerError> {
        Self::start_with_env(&[])
    }

    /// Starts the peer with extra environment (`PEER_ACCESS_TOKEN_TTL`, ...).
    pub fn start_with_env(env: &[(&str, &str)]) -> Result<Self, PeerError> {
        let dir = Self::dir();
        if !Self::is_installed() {
            return Err(PeerError::NotInstalled(dir));
        }
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(PeerError::Spawn)?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("GRANTKIT_PEER_URL=") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let wait = Duration::from_secs(30);
        match rx.recv_timeout(wait) {
            Ok(issuer) => Ok(Self {
                child,
                _stdin: stdin,
                issuer,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(PeerError::NoUrl(wait))
            }
        }
    }

    /// Starts the peer, or decides what a test does without it: under `CI=true` a missing
    /// peer is a failure (panic); on a developer machine the test is skipped with a message.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        Self::start_with_env_or_skip(test, &[])
    }

    /// [`OidcPeer::start_or_skip`] with extra environment.
    pub fn start_with_env_or_skip(test: &str, env: &[(&str, &str)]) -> Option<Self> {
        match Self::start_with_env(env) {
            Ok(peer) => Some(peer),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("{test}: the oidc-provider peer is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: {e}");
                None
            }
        }
    }

    /// Starts a peer serving HTTPS with mutual TLS (server.mjs's `PEER_TLS_*` switches: its
    /// issuer is `https://127.0.0.1:PORT`, its `mtls_endpoint_aliases` under `/mtls/`, with the
    /// clients `mtls-client` and, given a self-signed certificate, `mtls-self-signed-client`),
    /// or decides like [`OidcPeer::start_or_skip`].
    pub fn start_tls_or_skip(test: &str, tls: &PeerTls) -> Option<Self> {
        let mut env = vec![
            ("PEER_TLS_CERT", tls.cert.as_str()),
            ("PEER_TLS_KEY", tls.key.as_str()),
            ("PEER_TLS_CA", tls.ca.as_str()),
        ];
        if let Some(cert) = &tls.self_signed_client {
            env.push(("PEER_MTLS_SELF_SIGNED_CERT", cert.as_str()));
        }
        Self::start_with_env_or_skip(test, &env)
    }

    /// The issuer URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A URL on the peer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Replaces the provider's RSA signing key (the old one disappears from the JWKS) and
    /// returns the key ids now published.
    pub async fn rotate_keys(&self) -> Result<Vec<String>, PeerError> {
        let text = reqwest::Client::new()
            .post(self.url("/__control/rotate-keys"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| PeerError::Control(e.to_string()))?
            .text()
            .await
            .map_err(|e| PeerError::Control(e.to_string()))?;
        let body: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| PeerError::Control(e.to_string()))?;
        Ok(body["kids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

impl OidcPeer {
    /// Plays the user who enters `user_code` at the device verification page and approves
    /// (RFC 8628 §3.3), through the peer's `POST /__control/device/approve`.
    pub async fn approve_device(&self, user_code: &str) -> Result<(), PeerError> {
        self.device_control(user_code, None).await
    }

    /// Plays the user who enters `user_code` and refuses: polling then gives `access_denied`.
    pub async fn deny_device(&self, user_code: &str) -> Result<(), PeerError> {
        self.device_control(user_code, Some("deny")).await
    }

    async fn device_control(&self, user_code: &str, action: Option<&str>) -> Result<(), PeerError> {
        let mut form = vec![("user_code", user_code)];
        if let Some(action) = action {
            form.push(("action", action));
        }
        let response = reqwest::Client::new()
            .post(self.url("/__control/device/approve"))
            .form(&form)
            .send()
            .await
            .map_err(|e| PeerError::Control(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(PeerError::Control(format!(
                "device {}: HTTP {status}: {}",
                action.unwrap_or("approve"),
                body.chars().take(300).collect::<String>()
            )))
        }
    }

    /// A test-only file of `crates/grantkit-testkit/fixtures` (the peer's client keys:
    /// `peer-client-rsa.pem`, `peer-client-ec.jwk.json`...), as text.
    pub fn fixture(name: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
    }
}

/// The certificates of a peer started with [`OidcPeer::start_tls_or_skip`], as PEM text.
#[derive(Clone)]
pub struct PeerTls {
    /// The server certificate (valid for `127.0.0.1`), signed by `ca`.
    pub cert: String,
    /// The server certificate's private key.
    pub key: String,
    /// The CA that `tls_client_auth` client certificates must chain to.
    pub ca: String,
    /// A self-signed client certificate, registered in `mtls-self-signed-client`'s JWKS.
    pub self_signed_client: Option<String>,
}

/// The server key is left out, like every secret the test kit holds.
impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("cert", &self.cert)
            .field("key", &"<redacted>")
            .field("ca", &self.ca)
            .field("self_signed_client", &self.self_signed_client)
            .finish()
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::PeerTls;

    #[test]
    fn peer_tls_debug_shows_no_private_key() {
        let tls = PeerTls {
            cert: "CERT".into(),
            key: "-----BEGIN PRIVATE KEY-----secret".into(),
            ca: "CA".into(),
            self_signed_client: None,
        };
        let debug = format!("{tls:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("CERT"), "{debug}");
    }
}
