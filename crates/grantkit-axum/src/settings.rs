//! Paths, cookie and lifetimes of the login layer.

use std::time::Duration;

/// How the login layer is set up. Build with struct update syntax from the defaults:
/// `Settings { callback_path: "/callback".into(), ..Settings::default() }`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Starts a login (`GET`, optional `return_to` path). Default `/auth/login`.
    pub login_path: String,
    /// The redirect URI's path: the client's redirect URI must point here. Default `/auth/callback`.
    pub callback_path: String,
    /// Ends the session (`POST`: a cross-site form cannot post with the SameSite=Lax cookie).
    /// Default `/auth/logout`.
    pub logout_path: String,
    /// Where the provider sends the browser back after an RP-initiated logout (on the redirect
    /// URI's origin; register it as a `post_logout_redirect_uri`). Default `/auth/logged-out`.
    pub logged_out_path: String,
    /// The back-channel logout URI's path (register it as `backchannel_logout_uri`).
    /// Default `/auth/backchannel-logout`.
    pub backchannel_logout_path: String,
    /// The session cookie's name. Default `__Host-grantkit`: browsers accept a `__Host-`
    /// cookie only with `Secure`, `Path=/` and no `Domain`, so no subdomain can plant or
    /// overwrite it.
    pub cookie_name: String,
    /// A session unused for this long ends. Default 30 minutes.
    pub idle_timeout: Duration,
    /// A session ends this long after the login, used or not. Default 12 hours.
    pub absolute_timeout: Duration,
    /// How long a started login may take before its callback is refused. Default 10 minutes.
    pub login_timeout: Duration,
    /// Where to go after a login without `return_to`. Default `/`.
    pub after_login: String,
    /// Where to go after a logout. Default `/`.
    pub after_logout: String,
    /// The scopes of the authorization request. Default `openid email profile`.
    pub scopes: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            login_path: "/auth/login".into(),
            callback_path: "/auth/callback".into(),
            logout_path: "/auth/logout".into(),
            logged_out_path: "/auth/logged-out".into(),
            backchannel_logout_path: "/auth/backchannel-logout".into(),
            cookie_name: "__Host-grantkit".into(),
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            login_timeout: Duration::from_secs(10 * 60),
            after_login: "/".into(),
            after_logout: "/".into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
        }
    }
}
