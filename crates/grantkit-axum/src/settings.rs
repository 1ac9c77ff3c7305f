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
    /// How the provider returns the login's answer. Default [`ResponseMode::Query`].
    pub response_mode: ResponseMode,
    /// With [`ResponseMode::FormPost`], the cookie that finds the login in progress when the
    /// provider's page POSTs the answer back (`SameSite=None`, because a cross-site POST does
    /// not carry the `SameSite=Lax` session cookie; it holds an opaque id only and lives
    /// [`login_timeout`](Self::login_timeout)). Default `__Host-grantkit-login`.
    pub login_cookie_name: String,
}

/// How the provider returns the login's answer to the callback route.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// In the redirect URI's query, by a redirect (`GET`): OAuth's default.
    #[default]
    Query,
    /// As a form the provider's page POSTs to the redirect URI (`response_mode=form_post`,
    /// OAuth 2.0 Form Post Response Mode): the code never appears in a URL, so not in the
    /// browser history, server logs or a `Referer`. The callback then refuses a `GET`.
    FormPost,
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
            response_mode: ResponseMode::Query,
            login_cookie_name: "__Host-grantkit-login".into(),
        }
    }
}
