//! Typed AccessLink errors: the error body, consents, 401, rate limits.

use std::fmt;
use std::time::Duration;

use grantkit::http::{clean_text, HttpResponse};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// AccessLink's error body, `{timestamp, status, errorType, message, corrId}`, read leniently.
///
/// Every text is cleaned (control characters removed) and cut to 300 characters. Quote
/// `corr_id` to Polar's support: it identifies the request in their logs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: u16,
    /// `errorType`.
    pub error_type: Option<String>,
    /// `message`, human readable.
    pub message: Option<String>,
    /// `corrId`, the correlation id.
    pub corr_id: Option<String>,
    /// `timestamp`, as sent.
    pub timestamp: Option<String>,
    /// The start of the body when it is not AccessLink's error JSON (an HTML page from a proxy...).
    pub body_excerpt: Option<String>,
}

impl ApiError {
    /// Reads the error body of an answer (any status).
    pub fn from_response(response: &HttpResponse) -> Self {
        let status = response.status().as_u16();
        let parsed = serde_json::from_slice::<Value>(response.body())
            .ok()
            .filter(|v| {
                ["errorType", "message", "corrId"]
                    .iter()
                    .any(|k| v.get(k).is_some())
            });
        let Some(body) = parsed else {
            return Self {
                status,
                error_type: None,
                message: None,
                corr_id: None,
                timestamp: None,
                body_excerpt: (!response.body().is_empty()).then(|| response.body_excerpt()),
            };
        };
        let text = |name: &str| match body.get(name)? {
            Value::String(s) => Some(clean_text(s, 300)),
            Value::Null => None,
            other => Some(clean_text(&other.to_string(), 300)),
        };
        Self {
            status,
            error_type: text("errorType"),
            message: text("message"),
            corr_id: text("corrId"),
            timestamp: text("timestamp"),
            body_excerpt: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(t) = &self.error_type {
            write!(f, " {t}")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(e) = &self.body_excerpt {
            write!(f, ": {e}")?;
        }
        if let Some(c) = &self.corr_id {
            write!(f, " (corrId {c})")?;
        }
        Ok(())
    }
}

/// AccessLink's rate-limit headers, each a comma-separated list with one value per window
/// (15 minutes, then 24 hours). The format is read defensively: values that are not integers
/// are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// `RateLimit-Usage`: requests counted in each window.
    pub usage: Vec<u64>,
    /// `RateLimit-Limit`: requests allowed in each window.
    pub limit: Vec<u64>,
    /// `RateLimit-Reset`: time until each window resets.
    pub reset: Vec<Duration>,
}

impl RateLimit {
    /// Reads the `RateLimit-*` headers (absent ones stay empty).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let list = |name: &str| -> Vec<u64> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').filter_map(|p| p.trim().parse().ok()).collect())
                .unwrap_or_default()
        };
        Self {
            usage: list("ratelimit-usage"),
            limit: list("ratelimit-limit"),
            reset: list("ratelimit-reset")
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        }
    }

    /// `true` when the answer carried none of the headers.
    pub fn is_empty(&self) -> bool {
        self.usage.is_empty() && self.limit.is_empty() && self.reset.is_empty()
    }

    /// How long to wait according to the headers: the reset of the first window whose usage
    /// reached its limit, else the longest reset; `None` without `RateLimit-Reset`.
    pub fn delay(&self) -> Option<Duration> {
        let exhausted = self
            .usage
            .iter()
            .zip(&self.limit)
            .position(|(usage, limit)| usage >= limit);
        exhausted
            .and_then(|i| self.reset.get(i).copied())
            .or_else(|| self.reset.iter().max().copied())
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.usage.is_empty() && self.limit.is_empty() {
            return f.write_str("no RateLimit headers");
        }
        let windows = self.usage.len().max(self.limit.len());
        let show = |v: Option<&u64>| v.map_or("?".to_owned(), u64::to_string);
        let parts: Vec<String> = (0..windows)
            .map(|i| format!("{}/{}", show(self.usage.get(i)), show(self.limit.get(i))))
            .collect();
        write!(f, "usage {}", parts.join(", "))
    }
}

/// Everything that can go wrong talking to AccessLink.
///
/// Messages never contain tokens or client secrets.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 403 (registration, reading the user, data calls): the user has not accepted Polar's
    /// mandatory consents, or withdrew one.
    #[error("AccessLink refused the call: the user has not accepted Polar's mandatory consents ({0}); ask them to accept them in Polar Flow, then try again")]
    ConsentsMissing(Box<ApiError>),
    /// 401: the access token expired (a year after linking) or was revoked (deregistration
    /// revokes it). There is no refresh token: link the user again.
    #[error("AccessLink refused the access token ({0}): it expired or was revoked (deregistration revokes it); link the user again")]
    Unauthorized(Box<ApiError>),
    /// 429 (or 503 with `Retry-After`): wait [`Error::retry_after`] before the next call.
    #[error("AccessLink is rate limiting this client ({rate_limit}); retry {}", grantkit::error::retry_words(*.retry_after))]
    RateLimited {
        /// `Retry-After` when sent, else the delay the `RateLimit-Reset` header implies.
        retry_after: Option<Duration>,
        /// The `RateLimit-*` headers.
        rate_limit: RateLimit,
        /// The error body.
        error: Box<ApiError>,
    },
    /// Registration answered 409 but the user is not registered: the member-id belongs to
    /// another of your users. Member-ids must be unique per user.
    #[error("AccessLink answered 409 but this user is not registered: the member-id `{member_id}` is taken by another user; give every user their own member-id")]
    MemberIdTaken {
        /// The member-id sent.
        member_id: String,
    },
    /// Any other error answer from the API.
    #[error("AccessLink answered {0}")]
    Api(Box<ApiError>),
    /// The token set has no usable `x_user_id`.
    #[error("the token set has no usable `x_user_id` (an integer, or a string of digits); it does not come from an AccessLink code exchange")]
    MissingUserId,
    /// The member-id cannot be used.
    #[error("invalid member-id: {0}")]
    InvalidMemberId(String),
    /// The OAuth side, transport, timeouts, body cap, unusable success bodies (grantkit's error).
    #[error(transparent)]
    Grantkit(#[from] grantkit::Error),
}

impl Error {
    /// The typed error for a failed (non-2xx) AccessLink answer: 401 →
    /// [`Error::Unauthorized`], 429 → [`Error::RateLimited`], anything else → [`Error::Api`].
    /// Use it with [`AccessLink::send`](crate::AccessLink::send) for calls this crate does not wrap.
    pub fn from_response(response: &HttpResponse) -> Self {
        let error = Box::new(ApiError::from_response(response));
        let status = response.status();
        if response.is_rate_limited() {
            let retry_after = response.retry_after();
            let rate_limit = RateLimit::from_headers(response.headers());
            return Error::RateLimited {
                retry_after: retry_after.or_else(|| rate_limit.delay()),
                rate_limit,
                error,
            };
        }
        if status == StatusCode::UNAUTHORIZED {
            return Error::Unauthorized(error);
        }
        Error::Api(error)
    }

    /// AccessLink's error body, when the API answered with an error status.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::ConsentsMissing(e) | Error::Unauthorized(e) | Error::Api(e) => Some(e),
            Error::RateLimited { error, .. } => Some(error),
            _ => None,
        }
    }

    /// `true` when the user must link again: the token expired or was revoked, or the grant
    /// cannot be refreshed (AccessLink issues no refresh tokens).
    pub fn is_reauthorization_required(&self) -> bool {
        match self {
            Error::Unauthorized(_) => true,
            Error::Grantkit(e) => e.is_reauthorization_required(),
            _ => false,
        }
    }

    /// How long to wait before the next call, when the server said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            Error::Grantkit(e) => e.retry_after(),
            _ => None,
        }
    }

    /// `true` for failures worth retrying later unchanged (rate limits, 5xx, timeouts, transport).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::RateLimited { .. } => true,
            Error::Api(e) => e.status >= 500,
            Error::Grantkit(e) => e.is_transient(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_headers_are_read_per_window() {
        let rl = RateLimit::from_headers(&headers(&[
            ("RateLimit-Usage", "120, 5001"),
            ("RateLimit-Limit", "500, 5000"),
            ("RateLimit-Reset", "300, 40000"),
        ]));
        assert_eq!(rl.usage, [120, 5001]);
        assert_eq!(rl.limit, [500, 5000]);
        assert_eq!(
            rl.delay(),
            Some(Duration::from_secs(40000)),
            "24-hour window exhausted"
        );
        assert_eq!(rl.to_string(), "usage 120/500, 5001/5000");
    }

    #[test]
    fn rate_limit_is_defensive_about_odd_values() {
        let rl = RateLimit::from_headers(&headers(&[
            ("RateLimit-Usage", "lots"),
            ("RateLimit-Reset", "10, x, 30"),
        ]));
        assert!(rl.usage.is_empty());
        assert_eq!(
            rl.delay(),
            Some(Duration::from_secs(30)),
            "longest reset when unsure"
        );
        assert!(RateLimit::from_headers(&HeaderMap::new()).is_empty());
        assert_eq!(RateLimit::default().delay(), None);
    }
}
