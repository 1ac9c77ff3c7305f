//! Typed Polar.sh API errors: `{"error": "<ExceptionName>", "detail": ...}`, kept whole.

use std::fmt;
use std::time::Duration;

use grantkit::http::{challenge_param, clean_text, HttpResponse};
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::Value;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem of a `RequestValidationError` (FastAPI's `detail` list).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationIssue {
    /// Where, `loc` joined with dots (`body.redirect_uris.0`).
    pub location: String,
    /// Why (`msg`), e.g. `Value error, An HTTPS URL is required.`
    pub message: String,
}

/// An error answer of Polar's API (not the OAuth token endpoint), read leniently.
///
/// Polar answers `{"error": "<ExceptionName>", "detail": ...}`: `detail` is a text, or for
/// `RequestValidationError` (422) a list of problems. A Bearer failure may instead carry an
/// RFC 6750 `error` with `error_description` and, for 403 `insufficient_scope`, the needed
/// `scope` in `WWW-Authenticate`. Every text is cleaned and cut to 300 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `error`: the exception name (`RequestValidationError`, `Unauthorized`...) or an RFC 6750
    /// code (`invalid_token`, `insufficient_scope`).
    pub error: Option<String>,
    /// `detail` when it is a text, else `error_description`.
    pub detail: Option<String>,
    /// The problems of a `RequestValidationError`.
    pub issues: Vec<ValidationIssue>,
    /// The scope a 403 `insufficient_scope` asks for (`WWW-Authenticate: ... scope="..."`).
    pub required_scope: Option<String>,
    /// The start of the body when it is not Polar's error JSON.
    pub body_excerpt: Option<String>,
}

impl ApiError {
    /// Reads the error answer `response` (any status).
    pub fn from_response(response: &HttpResponse) -> Self {
        let required_scope = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| challenge_param(v, "scope"))
            .map(|s| clean_text(&s, 300));
        let body = serde_json::from_slice::<Value>(response.body())
            .ok()
            .filter(|v| v.get("error").is_some() || v.get("detail").is_some());
        let mut error = Self {
            status: response.status().as_u16(),
            error: None,
            detail: None,
            issues: Vec::new(),
            required_scope,
            body_excerpt: None,
        };
        match body {
            Some(body) => error.read_body(&body),
            None if !response.body().is_empty() => {
                error.body_excerpt = Some(response.body_excerpt());
            }
            None => {}
        }
        error
    }

    fn read_body(&mut self, body: &Value) {
        let text = |v: &Value| v.as_str().map(|s| clean_text(s, 300));
        self.error = body.get("error").and_then(text);
        self.detail = body
            .get("detail")
            .and_then(text)
            .or_else(|| body.get("error_description").and_then(text));
        self.issues = body
            .get("detail")
            .and_then(Value::as_array)
            .map(|list| list.iter().take(20).map(issue).collect())
            .unwrap_or_default();
    }
}

fn issue(item: &Value) -> ValidationIssue {
    let location = item
        .get("loc")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default();
    let message = item.get("msg").and_then(Value::as_str).unwrap_or_default();
    ValidationIssue {
        location: clean_text(&location, 300),
        message: clean_text(message, 300),
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(e) = &self.error {
            write!(f, " {e}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        for (i, issue) in self.issues.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{} ({})", issue.message, issue.location)?;
        }
        if let Some(s) = &self.required_scope {
            write!(f, " (needs scope `{s}`)")?;
        }
        if let Some(b) = &self.body_excerpt {
            write!(f, ": {b}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in this crate's API calls (registration, and any API call you
/// check with [`error_for_status`]). Messages never contain tokens or secrets.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Polar's API answered with an error status.
    #[error("Polar.sh answered {0}")]
    Api(Box<ApiError>),
    /// 429 (with an empty body), or 503 with `Retry-After`: wait [`Error::retry_after`].
    #[error("Polar.sh is rate limiting this client; retry {}", grantkit::error::retry_words(*.retry_after))]
    RateLimited {
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// The OAuth side, transport, timeouts, unusable success bodies (grantkit's error).
    #[error(transparent)]
    Grantkit(#[from] grantkit::Error),
}

impl Error {
    /// The typed error for a failed (non-2xx) answer of Polar's API.
    pub fn from_response(response: &HttpResponse) -> Self {
        if response.is_rate_limited() {
            return Error::RateLimited {
                retry_after: response.retry_after(),
            };
        }
        Error::Api(Box::new(ApiError::from_response(response)))
    }

    /// The API's error body, when there was one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// `true` when the token is no longer accepted (401): sign the user in again.
    pub fn is_reauthorization_required(&self) -> bool {
        match self {
            Error::Api(e) => e.status == 401,
            Error::Grantkit(e) => e.is_reauthorization_required(),
            _ => false,
        }
    }

    /// How long to wait before the next call, when the server said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => *retry_after,
            Error::Grantkit(e) => e.retry_after(),
            Error::Api(_) => None,
        }
    }
}

/// Passes a successful answer through and turns an error answer into [`Error`], keeping Polar's
/// `detail`. For API calls made with grantkit's [`HttpClient`](grantkit::http::HttpClient).
pub fn error_for_status(response: HttpResponse) -> Result<HttpResponse> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(Error::from_response(&response))
    }
}
