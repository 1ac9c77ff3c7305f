//! One error type for the whole tool: a one-line message that says what to do, and an exit code.

use std::fmt;

use grantkit::{Endpoint, Error, OAuthErrorCode};

/// The documented exit codes (see `docs/cli.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Anything not covered below: the provider refused (bad client credentials, invalid ID
    /// token...), an unreadable token file, an I/O failure.
    Failure = 1,
    /// Bad or missing flags, an unknown provider, a missing client id or secret, a redirect
    /// port in use, something the provider cannot do for this client.
    Usage = 2,
    /// The user must log in (again): nothing stored, or the grant is gone (`invalid_grant`).
    Reauthorize = 3,
    /// The provider could not be reached or is failing for now (network, timeout, 5xx, 429).
    Unavailable = 4,
    /// The browser login did not complete: timeout, or the user or provider declined.
    LoginIncomplete = 5,
}

/// A failure of a command.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    message: String,
}

impl CliError {
    /// An error with `exit` and `message` (made one line).
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = message
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Self { exit, message }
    }

    /// Bad input: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// A failure: exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Exit::Failure, message)
    }

    /// Log in again: exit 3.
    pub fn reauthorize(message: impl Into<String>) -> Self {
        Self::new(Exit::Reauthorize, message)
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Maps a library error. `relogin` is the command that logs this profile in again,
    /// appended when that is what the user must do.
    pub fn from_grantkit(e: &Error, relogin: &str) -> Self {
        let text = e.to_string();
        if e.is_reauthorization_required() {
            return Self::reauthorize(format!("{text}; run `{relogin}`"));
        }
        if e.is_transient() {
            let what = match e {
                Error::RateLimited { .. } => "",
                _ => "; check the URL and your network, then retry",
            };
            return Self::new(Exit::Unavailable, format!("{text}{what}"));
        }
        match e {
            Error::Config(_) | Error::Refused { .. } => Self::usage(text),
            Error::Callback(_) => Self::new(
                Exit::LoginIncomplete,
                format!("{text}; run `{relogin}` again"),
            ),
            Error::OAuth(o) if o.endpoint == Endpoint::Authorization => {
                let again = match o.code {
                    OAuthErrorCode::AccessDenied => {
                        "; approve the request in the browser to log in"
                    }
                    _ => "",
                };
                Self::new(
                    Exit::LoginIncomplete,
                    format!("the login was not completed: {text}{again}"),
                )
            }
            _ => Self::failure(text),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `Result` with [`CliError`].
pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        let e = CliError::failure("a\nb\r\n  c\n");
        assert_eq!(e.message(), "a b c");
    }

    #[test]
    fn library_errors_map_to_exit_codes() {
        let no_refresh = CliError::from_grantkit(&Error::NoRefreshToken, "grantkit login");
        assert_eq!(no_refresh.exit, Exit::Reauthorize);
        assert!(no_refresh.message().ends_with("run `grantkit login`"));
        let down = CliError::from_grantkit(
            &Error::Transport {
                endpoint: Endpoint::Discovery,
                message: "connection refused".into(),
            },
            "x",
        );
        assert_eq!(down.exit, Exit::Unavailable);
        assert_eq!(
            CliError::from_grantkit(&Error::Config("nope".into()), "x").exit,
            Exit::Usage
        );
    }
}
