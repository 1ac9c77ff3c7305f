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

/// The store key of a session: the SHA-256 of its cookie value, base64url, so the store never
/// holds a usable cookie. Kept on the stack: every authenticated request makes one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionKey([u8; KEY_LEN]);

/// The base64url length of a SHA-256 digest, unpadded.
const KEY_LEN: usize = 43;

impl SessionKey {
    /// The key of the cookie value `id`; `None` only if the digest did not encode into
    /// [`KEY_LEN`] characters, which cannot happen (32 bytes always make 43): the caller
    /// then finds no session rather than a shared empty key.
    pub(crate) fn of(id: &str) -> Option<Self> {
        let mut key = [0u8; KEY_LEN];
        let written = URL_SAFE_NO_PAD
            .encode_slice(Sha256::digest(id.as_bytes()), &mut key)
            .ok()?;
        (written == KEY_LEN).then_some(Self(key))
    }

    pub(crate) fn as_str(&self) -> &str {
        // base64url is ASCII, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for SessionKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for SessionKey {
    // The key is not the cookie, but a log has no use for it either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// The value of the cookie `name` in the request, if it appears exactly once (two cookies of
/// one name mean someone planted one: trust neither). Spaces before a name and after a value
/// are dropped, as browsers send `a=1; b=2`. Read as bytes: another cookie's non-ASCII value
/// does not hide this one, and every authenticated request parses the header.
pub(crate) fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found: Option<&[u8]> = None;
    for header in headers.get_all(header::COOKIE) {
        for pair in header.as_bytes().split(|b| *b == b';') {
            let Some(at) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (pair_name, value) = pair.split_at(at);
            if pair_name.trim_ascii_start() != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return None;
            }
            // `value` starts with the `=` found above.
            found = value.get(1..).map(<[u8]>::trim_ascii_end);
        }
    }
    let value = std::str::from_utf8(found?).ok()?;
    (!value.is_empty()).then_some(value)
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
        assert_ne!(SessionKey::of(&a).unwrap().as_str(), a);
    }

    /// The key format is what the stores already hold: changing it would sign everyone out.
    #[test]
    fn the_store_key_is_the_base64url_sha256_of_the_cookie_value() {
        let key = SessionKey::of("abc").unwrap();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(b"abc"));
        assert_eq!(key.as_str(), expected);
        assert_eq!(format!("{key:?}"), "SessionKey(..)");
    }

    #[test]
    fn cookie_names_and_values_are_read_as_browsers_send_them() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1;  c=v ; b"));
        headers.append(header::COOKIE, HeaderValue::from_static("d=2"));
        assert_eq!(read(&headers, "c"), Some("v"));
        assert_eq!(read(&headers, "d"), Some("2"));
        assert_eq!(read(&headers, "b"), None, "no value");
        assert_eq!(read(&headers, "c "), None);
        let other = HeaderValue::from_bytes("x=é; e=3".as_bytes()).unwrap();
        headers.append(header::COOKIE, other);
        assert_eq!(
            read(&headers, "e"),
            Some("3"),
            "hidden by another's non-ASCII value"
        );
        headers.append(header::COOKIE, HeaderValue::from_static("c=w"));
        assert_eq!(read(&headers, "c"), None, "sent twice, over two headers");
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
