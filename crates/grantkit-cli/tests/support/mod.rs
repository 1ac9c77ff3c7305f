//! Running the real `grantkit` binary in a private HOME, and playing the user's browser.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use grantkit_testkit::Browser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_grantkit");

/// A private HOME / XDG_CONFIG_HOME for one test.
pub struct Home {
    pub dir: PathBuf,
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code(), 0, "expected success; stderr:\n{}", self.stderr);
        &self.stdout
    }

    /// Asserts exit code `code` and a one-line error message on stderr (the last line, the
    /// only one for commands that print nothing else), and returns the message.
    pub fn fails(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let last = self
            .stderr
            .trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .to_owned();
        assert!(
            last.starts_with("grantkit: error: "),
            "the last stderr line is not the error: {:?}",
            self.stderr
        );
        last
    }

    /// Like [`Run::fails`], and the error is the only line on stderr.
    pub fn fails_with_one_line(&self, code: i32) -> String {
        let line = self.fails(code);
        assert_eq!(
            self.stderr.trim_end().lines().count(),
            1,
            "more than one line on stderr: {:?}",
            self.stderr
        );
        line
    }
}

impl Home {
    pub fn new(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "grantkit-cli-{test}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    /// `<config>/grantkit`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config").join("grantkit")
    }

    pub fn token_file(&self, profile: &str) -> PathBuf {
        self.config().join(format!("{profile}.json"))
    }

    pub fn meta_file(&self, profile: &str) -> PathBuf {
        self.config().join(format!("{profile}.profile.json"))
    }

    /// Every file under the config directory, with its bytes.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.config()) {
            for e in entries.flatten() {
                files.push((e.path(), std::fs::read(e.path()).unwrap_or_default()));
            }
        }
        files.sort();
        files
    }

    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("HOME", &self.dir)
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("NO_COLOR", "1")
            .env_remove("BROWSER");
        for var in [
            "GRANTKIT_CLIENT_ID",
            "GRANTKIT_CLIENT_SECRET",
            "GRANTKIT_PROFILE",
            "GRANTKIT_TOKEN_FILE",
            "GRANTKIT_POLAR_API_BASE",
            "GRANTKIT_POLAR_WEB_BASE",
            "GRANTKIT_TLS_IDENTITY",
            "GRANTKIT_CA_CERT",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[]).await
    }

    pub async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output =
            tokio::time::timeout(Duration::from_secs(60), self.command(args, env).output())
                .await
                .expect("grantkit finished within 60 s")
                .expect("grantkit runs");
        Run {
            status: output.status,
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Starts `grantkit login ...` and reads stdout up to the authorization URL.
    pub async fn login(&self, args: &[&str], env: &[(&str, &str)]) -> Login {
        let mut all = vec!["login", "--no-browser"];
        all.extend_from_slice(args);
        let mut child = self.command(&all, env).spawn().expect("grantkit runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = stdout.next_line().await.unwrap() {
                if line.starts_with("http") {
                    return Some(line);
                }
            }
            None
        })
        .await
        .expect("the URL within 30 s");
        let Some(url) = url else {
            let done = Login::collect(child, stdout).await;
            panic!("grantkit login printed no URL: {done:?}");
        };
        Login { child, stdout, url }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `grantkit login`.
pub struct Login {
    pub child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    /// The authorization URL it printed.
    pub url: String,
}

impl Login {
    fn param(&self, name: &str) -> String {
        url::Url::parse(&self.url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {}", self.url))
    }

    /// The loopback redirect URI the login waits on.
    pub fn redirect_uri(&self) -> String {
        self.param("redirect_uri")
    }

    /// The state it sent.
    pub fn state(&self) -> String {
        self.param("state")
    }

    /// Plays the browser: follows the URL through the provider and returns the callback URL
    /// (not yet requested).
    pub async fn approve(&self) -> String {
        Browser::new()
            .authorize(&self.url, &self.redirect_uri())
            .await
            .expect("the provider redirects back")
    }

    /// Whether the process is still waiting.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    async fn collect(mut child: Child, mut stdout: Lines<BufReader<ChildStdout>>) -> Run {
        let mut rest = String::new();
        while let Ok(Some(line)) = stdout.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            e.read_to_string(&mut stderr).await.unwrap();
        }
        let status = child.wait().await.unwrap();
        Run {
            status,
            stdout: rest,
            stderr,
        }
    }

    /// Waits for the process to end.
    pub async fn finish(self) -> Run {
        tokio::time::timeout(
            Duration::from_secs(30),
            Self::collect(self.child, self.stdout),
        )
        .await
        .expect("grantkit login ended within 30 s")
    }
}

/// Requests a callback URL the way the browser would; returns the status and the page.
pub async fn deliver(callback: &str) -> (u16, String) {
    let response = reqwest::get(callback)
        .await
        .expect("the loopback listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(not(unix))]
pub fn mode(_: &Path) -> u32 {
    0o600
}

/// The stored token set, as JSON.
pub fn stored(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// GET `url` with a Bearer token; the status.
pub async fn bearer_status(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
