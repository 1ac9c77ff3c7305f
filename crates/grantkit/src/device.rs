//! The device authorization grant (RFC 8628): for machines without a browser (CLIs, TVs,
//! SSH sessions). The device shows a code and a URL; the user approves on another device;
//! the device polls the token endpoint until the user has decided.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{Endpoint, Error, OAuthError, OAuthErrorCode, Result};
use crate::http::parse_json;
use crate::oidc::Expectations;
use crate::secret::Secret;
use crate::token::TokenSet;

/// The device-code grant type (RFC 8628 §3.4).
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the interval when the provider names none.
const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 §3.5: `slow_down` adds 5 seconds to the interval, for this and every later poll.
const SLOW_DOWN_STEP: u64 = 5;

/// What [`Client::device_authorization`] answers: what to show the user, and what polling needs.
///
/// Show [`user_code`](Self::user_code) and [`verification_uri`](Self::verification_uri) (or
/// the [`verification_uri_complete`](Self::verification_uri_complete), which holds the code,
/// e.g. as a QR code), then call [`Client::poll_device`]. It is serializable, so a CLI can
/// keep it across restarts; it holds the device code, a secret (`Debug` redacts it).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    device_code: Secret,
    user_code: String,
    verification_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verification_uri_complete: Option<String>,
    /// Seconds since the Unix epoch.
    expires_at: u64,
    /// Seconds between polls; grows by 5 on every `slow_down`.
    interval: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    extra: Map<String, Value>,
}

// By hand: extra members may hold secrets (`device_secret`), so only their names are printed.
impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &self.device_code)
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("scope", &self.scope)
            .field("extra", &crate::token::ExtraNames(&self.extra))
            .finish()
    }
}

impl DeviceAuthorization {
    /// Reads a device authorization response (RFC 8628 §3.2) received at `received_at`.
    /// `verification_url` (Google's spelling) is accepted for `verification_uri`; `expires_in`
    /// and `interval` may be numbers or numeric strings; a missing `interval` means 5 s.
    fn from_response(body: &[u8], received_at: SystemTime, scope: Option<String>) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidResponse {
            endpoint: Endpoint::DeviceAuthorization,
            reason: reason.to_owned(),
        };
        let mut raw: Map<String, Value> = parse_json(Endpoint::DeviceAuthorization, body)?;
        let mut text = |name: &str| match raw.remove(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let device_code = text("device_code").ok_or_else(|| invalid("no `device_code`"))?;
        let user_code = text("user_code").ok_or_else(|| invalid("no `user_code`"))?;
        let verification_uri = text("verification_uri")
            .or_else(|| text("verification_url"))
            .ok_or_else(|| invalid("no `verification_uri`"))?;
        let verification_uri_complete =
            text("verification_uri_complete").or_else(|| text("verification_url_complete"));
        let seconds = |v: Option<Value>| match v {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let expires_in = seconds(raw.remove("expires_in"))
            .ok_or_else(|| invalid("no `expires_in` (the device code's lifetime)"))?;
        let interval = seconds(raw.remove("interval"))
            .unwrap_or(DEFAULT_INTERVAL)
            .max(1);
        Ok(Self {
            device_code: Secret::new(device_code),
            user_code: crate::error::truncate(&user_code, 100),
            verification_uri,
            verification_uri_complete,
            expires_at: unix(received_at).saturating_add(expires_in),
            interval,
            scope,
            extra: raw,
        })
    }

    /// The code the user types at the verification URI.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user goes to enter the code.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The verification URI with the code in it, if the provider sent one (for a QR code or a
    /// clickable link).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// The device code (sent when polling).
    pub fn device_code(&self) -> &Secret {
        &self.device_code
    }

    /// When the codes expire.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expires_at)
    }

    /// How long the codes remain valid from now.
    pub fn expires_in(&self) -> Duration {
        self.expires_at()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// The time to wait between polls: the provider's `interval` (5 s if it gave none), plus
    /// 5 s for every `slow_down` received.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval)
    }

    /// The scope requested.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Members of the response grantkit does not model.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    fn expired_error() -> Error {
        Error::OAuth(OAuthError {
            endpoint: Endpoint::Token,
            code: OAuthErrorCode::ExpiredToken,
            description: Some("the device code expired before the user approved it".into()),
            uri: None,
            status: None,
        })
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The outcome of one poll of the token endpoint ([`Client::poll_device_once`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // returned once per poll, never stored in bulk
pub enum DevicePoll {
    /// `authorization_pending`: the user has not decided yet; poll again after the interval.
    Pending,
    /// `slow_down`: the interval has grown by 5 s ([`DeviceAuthorization::interval`]); poll
    /// again after it.
    SlowDown,
    /// The user approved: the tokens (the ID token validated when `openid` was asked for).
    Complete(TokenSet),
}

impl Client {
    /// Starts a device login (RFC 8628 §3.1): asks the provider's device authorization endpoint
    /// for a device code and a user code for `scopes` (the client's default scopes when empty).
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client) -> grantkit::Result<()> {
    /// let auth = client.device_authorization(["openid", "offline_access"]).await?;
    /// println!("Open {} and enter {}", auth.verification_uri(), auth.user_code());
    /// let tokens = client.poll_device(&auth).await?; // until approved, denied or expired
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub async fn device_authorization<I, S>(&self, scopes: I) -> Result<DeviceAuthorization>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut scopes: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        if scopes.is_empty() {
            scopes = self.default_scopes().to_vec();
        }
        let scope = (!scopes.is_empty()).then(|| scopes.join(" "));
        let mut form = Vec::new();
        if let Some(scope) = &scope {
            form.push(("scope", scope.clone()));
        }
        let response = self
            .post_form(Endpoint::DeviceAuthorization, form, &[], false)
            .await?;
        DeviceAuthorization::from_response(response.body(), SystemTime::now(), scope)
    }

    /// Polls the token endpoint once with the device code (RFC 8628 §3.4), for applications
    /// that run their own loop: [`DevicePoll::Pending`] and [`DevicePoll::SlowDown`] mean
    /// "wait [`auth.interval()`](DeviceAuthorization::interval) and poll again" (`slow_down`
    /// has already added 5 s to it).
    ///
    /// Errors: `expired_token` (also when the codes expired locally, without a request) and
    /// `access_denied` are [`Error::OAuth`] with [`OAuthErrorCode::ExpiredToken`] and
    /// [`OAuthErrorCode::AccessDenied`]: start again. Transient failures
    /// ([`Error::is_transient`]) leave `auth` usable: poll again later.
    pub async fn poll_device_once(&self, auth: &mut DeviceAuthorization) -> Result<DevicePoll> {
        if SystemTime::now() >= auth.expires_at() {
            return Err(DeviceAuthorization::expired_error());
        }
        let form = vec![
            ("grant_type", GRANT_TYPE.to_owned()),
            ("device_code", auth.device_code.expose().to_owned()),
        ];
        let mut tokens = match self.token_request("device_code", form).await {
            Ok(tokens) => tokens,
            Err(e) => {
                return match e.oauth_code() {
                    Some(OAuthErrorCode::AuthorizationPending) => Ok(DevicePoll::Pending),
                    Some(OAuthErrorCode::SlowDown) => {
                        auth.interval = auth.interval.saturating_add(SLOW_DOWN_STEP);
                        Ok(DevicePoll::SlowDown)
                    }
                    _ => Err(e),
                }
            }
        };
        let openid = auth
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
        self.validate_id_token(&mut tokens, Expectations::default(), openid)
            .await?;
        Ok(DevicePoll::Complete(
            tokens.with_default_scope(auth.scope.clone()),
        ))
    }

    /// Polls until the user approves (the tokens), denies (`access_denied`) or the codes
    /// expire (`expired_token`), waiting [`DeviceAuthorization::interval`] before each poll
    /// and 5 s more after every `slow_down`. Never polls after the codes' expiry.
    ///
    /// A transient failure ([`Error::is_transient`]: network, timeout, 5xx, 429) does not end
    /// the wait, since the user may be approving right now: the next poll comes after twice the
    /// previous wait (up to a minute), or after the server's `Retry-After` (RFC 8628 §3.5). Each
    /// such failure is logged (`tracing`, warn); when they last until the codes expire, the
    /// result is `expired_token`.
    ///
    /// Needs a Tokio runtime (it sleeps with `tokio::time`). To give up earlier or on Ctrl-C,
    /// drop the future: wrap it in `tokio::time::timeout` or a `tokio::select!`. `auth` is
    /// unchanged, so calling `poll_device` again resumes.
    pub async fn poll_device(&self, auth: &DeviceAuthorization) -> Result<TokenSet> {
        let mut auth = auth.clone();
        let mut wait = auth.interval();
        loop {
            if auth.expires_in().is_zero() {
                return Err(DeviceAuthorization::expired_error());
            }
            // A long `Retry-After` must not keep the caller waiting past the codes' expiry.
            tokio::time::sleep(wait.min(auth.expires_in())).await;
            // Past the expiry, this answers `expired_token` without a request.
            match self.poll_device_once(&mut auth).await {
                Ok(DevicePoll::Complete(tokens)) => return Ok(tokens),
                Ok(DevicePoll::Pending) => tracing::debug!("device authorization pending"),
                Ok(DevicePoll::SlowDown) => {
                    tracing::debug!(interval = ?auth.interval(), "slow_down: polling less often")
                }
                Err(e) if e.is_transient() => {
                    wait = backoff(wait, &e).max(auth.interval());
                    tracing::warn!(error = %e, next_poll_in = ?wait, "device poll failed; backing off");
                    continue;
                }
                Err(e) => return Err(e),
            }
            wait = auth.interval();
        }
    }
}

/// The wait before the poll after a transient failure: the server's `Retry-After`, else twice
/// the last wait, at most a minute.
fn backoff(last: Duration, error: &Error) -> Duration {
    const MAX: Duration = Duration::from_secs(60);
    error
        .retry_after()
        .unwrap_or_else(|| last.saturating_mul(2).min(MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_double_the_wait_up_to_a_minute_or_follow_retry_after() {
        let down = Error::Http {
            endpoint: Endpoint::Token,
            status: 503,
            body_excerpt: String::new(),
        };
        assert_eq!(
            backoff(Duration::from_secs(5), &down),
            Duration::from_secs(10)
        );
        assert_eq!(
            backoff(Duration::from_secs(40), &down),
            Duration::from_secs(60)
        );
        let limited = Error::RateLimited {
            endpoint: Endpoint::Token,
            status: 429,
            retry_after: Some(Duration::from_secs(17)),
        };
        assert_eq!(
            backoff(Duration::from_secs(5), &limited),
            Duration::from_secs(17)
        );
    }

    #[test]
    fn response_is_read_leniently() {
        let now = SystemTime::now();
        let auth = DeviceAuthorization::from_response(
            br#"{"device_code":"dc","user_code":"ABCD-EFGH","verification_url":"https://op/device",
                "expires_in":"600","x_vendor":1}"#,
            now,
            Some("openid".into()),
        )
        .unwrap();
        assert_eq!(auth.verification_uri(), "https://op/device");
        assert_eq!(auth.interval(), Duration::from_secs(5), "RFC 8628 default");
        assert_eq!(
            auth.expires_at(),
            UNIX_EPOCH + Duration::from_secs(unix(now) + 600)
        );
        assert_eq!(auth.extra()["x_vendor"], 1);
        assert!(!format!("{auth:?}").contains("\"dc\""));

        let zero = DeviceAuthorization::from_response(
            br#"{"device_code":"dc","user_code":"u","verification_uri":"v","expires_in":60,"interval":0}"#,
            now,
            None,
        )
        .unwrap();
        assert_eq!(zero.interval(), Duration::from_secs(1), "never a busy loop");

        let missing = DeviceAuthorization::from_response(
            br#"{"user_code":"u","verification_uri":"v","expires_in":60}"#,
            now,
            None,
        )
        .unwrap_err();
        assert!(missing.to_string().contains("device_code"), "{missing}");
    }

    #[tokio::test]
    async fn expired_codes_are_not_polled() {
        let provider = crate::Provider::builder("p")
            .token_endpoint("http://127.0.0.1:9/token")
            .build()
            .unwrap();
        let client = Client::builder(provider, "c").build().unwrap();
        let mut auth = DeviceAuthorization::from_response(
            br#"{"device_code":"dc","user_code":"u","verification_uri":"v","expires_in":0}"#,
            SystemTime::now() - Duration::from_secs(5),
            None,
        )
        .unwrap();
        let e = client.poll_device_once(&mut auth).await.unwrap_err();
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::ExpiredToken));
        let e = client.poll_device(&auth).await.unwrap_err();
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::ExpiredToken));
    }

    #[test]
    fn debug_of_extra_members_shows_names_not_values() {
        let auth = DeviceAuthorization::from_response(
            br#"{"device_code":"dc","user_code":"ABCD","verification_uri":"https://op/device",
                "expires_in":600,"device_secret":"DS-SECRET"}"#,
            SystemTime::now(),
            None,
        )
        .unwrap();
        let debug = format!("{auth:?}");
        assert!(!debug.contains("DS-SECRET"), "{debug}");
        assert!(debug.contains("device_secret"), "{debug}");
    }
}
