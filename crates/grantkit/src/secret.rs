//! A string that must never be printed: client secrets, tokens, codes, verifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string (client secret, access or refresh token, authorization code, PKCE verifier).
///
/// `Debug` and `Display` print `[redacted]`, so a secret that ends up in a log line or an error
/// message leaks nothing. Reading the value is an explicit call to [`Secret::expose`].
/// It serializes as the plain string, because token stores must be able to persist it.
///
/// ```
/// use grantkit::Secret;
/// let s = Secret::new("polar_at_u_abc");
/// assert_eq!(format!("{s:?}"), "Secret([redacted])");
/// assert_eq!(s.expose(), "polar_at_u_abc");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Takes the value out, for a request that consumes it (no copy).
    pub(crate) fn into_inner(self) -> String {
        self.0
    }

    /// The secret value. Every call site is a place where the secret leaves its box: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with another string in time independent of where they differ.
    pub fn constant_time_eq(&self, other: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Constant-time equality: an attacker timing `state` checks learns nothing about the prefix.
/// The length is not secret (states have a fixed length), so an early length check is fine.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?}").contains("super"));
        assert!(!format!("{s}").contains("super"));
        assert!(!format!("{:?}", Some(&s)).contains("super"));
    }

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn serializes_as_plain_string() {
        let s = Secret::new("x");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"x\"");
    }
}
