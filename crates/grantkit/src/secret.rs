//! A string that must never be printed: client secrets, tokens, codes, verifiers.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (client secret, access or refresh token, authorization code, PKCE verifier).
///
/// `Debug` and `Display` print `[redacted]`, so a secret that ends up in a log line or an error
/// message leaks nothing. Reading the value is an explicit call to [`Secret::expose`].
/// It serializes as the plain string, because token stores must be able to persist it.
/// Its buffer is wiped (zeroized) when it is dropped; copies made by [`Secret::expose`] callers,
/// or left behind when a `String` grew before it was wrapped, are not.
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

    /// Takes the value out, for a request that consumes it (no copy). The caller owns the
    /// wiping from here on (form buffers wipe their values).
    pub(crate) fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
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

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

// Without this, every dropped token, code, verifier and client secret would stay readable in
// freed heap memory (core dumps, swap, a later over-read).
impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

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

    /// Item 14: secrets are wiped. A wipe empties the value; dropping wipes (the `Drop` impl is
    /// the one `ZeroizeOnDrop` promises, checked at compile time).
    #[test]
    fn secrets_are_wiped_on_zeroize_and_drop() {
        fn assert_zeroize_on_drop<T: ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<Secret>();
        let mut s = Secret::new("polar_rt_u_secret");
        s.zeroize();
        assert_eq!(s.expose(), "");
        assert!(!format!("{s:?}").contains("polar"));
        let taken = Secret::new("code-123").into_inner();
        assert_eq!(taken, "code-123", "into_inner still hands the value over");
    }

    #[test]
    fn serializes_as_plain_string() {
        let s = Secret::new("x");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"x\"");
    }
}
