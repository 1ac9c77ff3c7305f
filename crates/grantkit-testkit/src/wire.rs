//! What the fakes read and write on the wire the same way: Basic client credentials, the PKCE
//! check, OAuth error bodies, random ids and webhook MACs. Each fake keeps its own dialect
//! (content type, `WWW-Authenticate` realm, id formats) so its answers stay as they were.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::Mac as _;
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How one fake spells an OAuth error answer (RFC 6749 §5.2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OAuthDialect {
    /// The answer's `Content-Type`.
    pub content_type: &'static str,
    /// The `WWW-Authenticate` challenge of a 401.
    pub basic_challenge: &'static str,
}

impl OAuthDialect {
    /// `{"error": code, "error_description": description}` with `status`; a 401 carries the
    /// Basic challenge (RFC 6749 §5.2: a failed client authentication).
    pub fn error(&self, status: StatusCode, code: &str, description: &str) -> Response {
        let body = json!({"error": code, "error_description": description}).to_string();
        let mut response =
            (status, [(header::CONTENT_TYPE, self.content_type)], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(self.basic_challenge),
            );
        }
        response
    }
}

/// The client id and secret of Basic credentials (the part after `Basic `): base64 of
/// `id:secret`, each form-urlencoded first (RFC 6749 §2.3.1), so a `+` reads as a space as at
/// the servers the fakes play. `None` when it is not base64 of UTF-8 with a colon.
pub(crate) fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let pair = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = pair.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether `verifier` answers `challenge` (`(code_challenge, method)`, RFC 7636 §4.6): no
/// challenge wants no verifier, `S256` compares the verifier's SHA-256, any other method
/// compares it as is (`plain`).
pub(crate) fn pkce_ok(challenge: &Option<(String, String)>, verifier: Option<&String>) -> bool {
    match (challenge, verifier) {
        (None, None) => true,
        // A verifier without a challenge is refused (Authlib's CodeChallenge).
        (None, Some(_)) => false,
        (Some(_), None) => false,
        (Some((c, m)), Some(v)) if m == "S256" => {
            URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *c
        }
        (Some((c, _)), Some(v)) => c == v,
    }
}

/// About `len` random ASCII letters and digits (base64url of `len` random bytes, the two
/// symbols dropped), for tokens and ids.
pub(crate) fn random(len: usize) -> String {
    let bytes: Vec<u8> = (0..len).map(|_| rand::thread_rng().gen()).collect();
    URL_SAFE_NO_PAD
        .encode(bytes)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// HMAC-SHA256 with `key` over `parts` in order (webhook signatures).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}
