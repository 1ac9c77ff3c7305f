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

/// Why [`Settings`] cannot be used: found by [`GrantkitBuilder::build`](crate::GrantkitBuilder::build)
/// before any request, instead of a cookie the browser drops or a route axum refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A cookie name that is not an RFC 6265 token (empty, or with a space, control character
    /// or one of `()<>@,;:\"/[]?={}`): the browser would drop or split the cookie.
    #[error("Settings::{field} {name:?} is not a cookie name: use letters, digits and `-_.!#$%&'*+^|~` only")]
    InvalidCookieName {
        /// The field: `cookie_name` or `login_cookie_name`.
        field: &'static str,
        /// The name given.
        name: String,
    },
    /// The session cookie and the login cookie have one name: each would overwrite the other.
    #[error("Settings::cookie_name and Settings::login_cookie_name are both {0:?}: give them distinct names")]
    SameCookieName(String),
    /// A route path that does not start with `/`, or holds a query or fragment.
    #[error(
        "Settings::{field} {path:?} is not a route path: start it with `/`, without `?` or `#`"
    )]
    InvalidPath {
        /// The field, e.g. `login_path`.
        field: &'static str,
        /// The path given.
        path: String,
    },
    /// Two of the layer's routes on one path: axum would refuse the router.
    #[error(
        "Settings::{first} and Settings::{second} are both {path:?}: give each route its own path"
    )]
    SamePath {
        /// The first field.
        first: &'static str,
        /// The second field.
        second: &'static str,
        /// The path they share.
        path: String,
    },
    /// A lifetime of zero: every session (or login) would end at once.
    #[error("Settings::{0} is zero: a session would end as it begins")]
    ZeroLifetime(&'static str),
    /// The client's redirect URI does not point at the callback route: every login would come
    /// back to a route that is not there.
    #[error("the client's redirect URI {redirect_uri:?} does not end in Settings::callback_path {callback_path:?}")]
    CallbackMismatch {
        /// The client's redirect URI.
        redirect_uri: String,
        /// The callback path.
        callback_path: String,
    },
}

impl Settings {
    /// Checks the settings for `redirect_uri` (the client's, when it has one).
    pub(crate) fn check(&self, redirect_uri: Option<&str>) -> Result<(), SettingsError> {
        self.check_cookies()?;
        self.check_paths()?;
        for (field, value) in [
            ("idle_timeout", self.idle_timeout),
            ("absolute_timeout", self.absolute_timeout),
            ("login_timeout", self.login_timeout),
        ] {
            if value.is_zero() {
                return Err(SettingsError::ZeroLifetime(field));
            }
        }
        let Some(uri) = redirect_uri else {
            return Ok(());
        };
        // "Ends in", not "is": an app nested under a prefix has the prefix in its redirect URI.
        let path = url::Url::parse(uri).map(|u| u.path().to_owned());
        if !path.is_ok_and(|p| p.ends_with(self.callback_path.as_str())) {
            return Err(SettingsError::CallbackMismatch {
                redirect_uri: uri.to_owned(),
                callback_path: self.callback_path.clone(),
            });
        }
        Ok(())
    }

    fn check_cookies(&self) -> Result<(), SettingsError> {
        for (field, name) in [
            ("cookie_name", &self.cookie_name),
            ("login_cookie_name", &self.login_cookie_name),
        ] {
            if !is_token(name) {
                return Err(SettingsError::InvalidCookieName {
                    field,
                    name: name.clone(),
                });
            }
        }
        if self.cookie_name == self.login_cookie_name {
            return Err(SettingsError::SameCookieName(self.cookie_name.clone()));
        }
        Ok(())
    }

    fn check_paths(&self) -> Result<(), SettingsError> {
        let paths = [
            ("login_path", &self.login_path),
            ("callback_path", &self.callback_path),
            ("logout_path", &self.logout_path),
            ("logged_out_path", &self.logged_out_path),
            ("backchannel_logout_path", &self.backchannel_logout_path),
        ];
        for (field, path) in paths {
            // axum panics on a segment that starts with `:` or `*` (0.7 capture syntax), and
            // reads `{…}` as a capture: none is a fixed route.
            let capture = path
                .split('/')
                .any(|segment| segment.starts_with([':', '*']) || segment.contains(['{', '}']));
            if !path.starts_with('/') || path.contains(['?', '#']) || capture {
                return Err(SettingsError::InvalidPath {
                    field,
                    path: path.clone(),
                });
            }
        }
        for (i, (first, path)) in paths.iter().enumerate() {
            let later = paths.iter().skip(i + 1);
            if let Some((second, _)) = later.clone().find(|(_, other)| other == path) {
                return Err(SettingsError::SamePath {
                    first,
                    second,
                    path: (*path).clone(),
                });
            }
        }
        Ok(())
    }
}

/// An RFC 6265 §4.1.1 cookie name: an RFC 2616 token (visible ASCII, no separators).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: Option<&str> = Some("https://app.example/auth/callback");

    #[test]
    fn the_defaults_pass() {
        assert_eq!(Settings::default().check(URI), Ok(()));
        assert_eq!(Settings::default().check(None), Ok(()));
    }

    /// A name with `=`, `;` or a space made a `Set-Cookie` the browser splits or drops, or no
    /// header at all: the login then failed without a word.
    #[test]
    fn cookie_names_that_are_not_tokens_are_refused() {
        for bad in ["", "a=b", "a;b", "a b", "sess\u{7f}", "é"] {
            let settings = Settings {
                cookie_name: bad.into(),
                ..Settings::default()
            };
            assert!(
                matches!(
                    settings.check(URI),
                    Err(SettingsError::InvalidCookieName {
                        field: "cookie_name",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let same = Settings {
            login_cookie_name: "__Host-grantkit".into(),
            ..Settings::default()
        };
        assert!(matches!(
            same.check(URI),
            Err(SettingsError::SameCookieName(_))
        ));
    }

    /// axum panics on a route path without a leading `/` or on two routes of one path.
    #[test]
    fn route_paths_axum_would_refuse_are_refused_first() {
        let relative = Settings {
            logout_path: "auth/logout".into(),
            ..Settings::default()
        };
        assert!(matches!(
            relative.check(URI),
            Err(SettingsError::InvalidPath {
                field: "logout_path",
                ..
            })
        ));
        for capture in ["/auth/:step", "/auth/*rest", "/auth/{step}"] {
            let settings = Settings {
                login_path: capture.into(),
                ..Settings::default()
            };
            assert!(
                matches!(
                    settings.check(URI),
                    Err(SettingsError::InvalidPath {
                        field: "login_path",
                        ..
                    })
                ),
                "{capture}"
            );
        }
        let clash = Settings {
            logged_out_path: "/auth/logout".into(),
            ..Settings::default()
        };
        assert!(matches!(
            clash.check(URI),
            Err(SettingsError::SamePath {
                first: "logout_path",
                second: "logged_out_path",
                ..
            })
        ));
    }

    #[test]
    fn a_redirect_uri_elsewhere_than_the_callback_and_zero_lifetimes_are_refused() {
        let nested = Some("https://app.example/app/auth/callback");
        assert_eq!(Settings::default().check(nested), Ok(()));
        let other = Some("https://app.example/callback");
        assert!(matches!(
            Settings::default().check(other),
            Err(SettingsError::CallbackMismatch { .. })
        ));
        let zero = Settings {
            idle_timeout: std::time::Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(
            zero.check(URI),
            Err(SettingsError::ZeroLifetime("idle_timeout"))
        );
    }
}
