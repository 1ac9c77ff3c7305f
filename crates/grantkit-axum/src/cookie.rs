//! The session cookie: a random id in, a digest of it to the store.

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new session id: 256 bits from the OS generator, base64url.
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The store key of a cookie value: its SHA-256, so the store never holds a usable cookie.
pub(crate) fn store_key(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()))
}

/// The value of the cookie `name` in the request, if it appears exactly once (two cookies of
/// one name mean someone planted one: trust neither).
pub(crate) fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v);
    let value = found.next()?;
    if found.next().is_some() || value.is_empty() {
        return None;
    }
    Some(value)
}

/// `Set-Cookie` for a session id: host-only, HTTPS-only, hidden from scripts, not sent on
/// cross-site subrequests or POSTs.
pub(crate) fn set(name: &str, id: &str, max_age_secs: u64) -> Option<HeaderValue> {
    let text =
        format!("{name}={id}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}");
    HeaderValue::from_str(&text).ok()
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear(name: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .ok()
}

/// `Set-Cookie` for the id of a `form_post` login in progress: sent with the provider's
/// cross-site POST (`SameSite=None`, which browsers accept only with `Secure`), still
/// host-only and hidden from scripts.
pub(crate) fn set_cross_site(name: &str, id: &str, max_age_secs: u64) -> Option<HeaderValue> {
    let text =
        format!("{name}={id}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={max_age_secs}");
    HeaderValue::from_str(&text).ok()
}

/// `Set-Cookie` that removes a [`set_cross_site`] cookie.
pub(crate) fn clear_cross_site(name: &str) -> Option<HeaderValue> {
    set_cross_site(name, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_256_bit_and_distinct() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
        assert_ne!(store_key(&a), a);
    }

    #[test]
    fn a_cookie_sent_twice_is_trusted_neither_time() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("x=1; c=a; c=b"));
        assert_eq!(read(&headers, "c"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("x=1; c=a"));
        assert_eq!(read(&headers, "c"), Some("a"));
    }
}
