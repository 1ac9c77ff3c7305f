//! AccessLink webhook signatures: `Polar-Webhook-Signature`, the HMAC-SHA256 of the raw body
//! keyed with the webhook's `signature_secret_key`, in hex.
//!
//! AccessLink signs no timestamp, so a replayed delivery verifies: deduplicate on the payload's
//! `(event, user_id, entity_id)` if that matters. Its first delivery, a `PING` sent while the
//! webhook is being created, comes before you hold the secret: answer it 200 without verifying
//! and do nothing with it.
//!
//! ```
//! use grantkit_polar_accesslink::webhook::{verify_signature, WebhookError};
//! let body = br#"{"event":"EXERCISE","user_id":10579}"#;
//! assert_eq!(verify_signature("secret", body, "00"), Err(WebhookError::BadSignature));
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header AccessLink puts the signature in.
pub const SIGNATURE_HEADER: &str = "Polar-Webhook-Signature";

/// Why a delivery was refused. Never contains the secret or the signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signature is not hex of an HMAC-SHA256, or does not match the body.
    #[error("the `Polar-Webhook-Signature` does not match the body (altered, forged, or another secret)")]
    BadSignature,
    /// The secret is empty.
    #[error("the webhook secret is empty")]
    EmptySecret,
}

/// Checks `signature` (the `Polar-Webhook-Signature` value, hex in either case) against the
/// HMAC-SHA256 of the **raw** `body` keyed with `secret`, in constant time.
pub fn verify_signature(secret: &str, body: &[u8], signature: &str) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::EmptySecret);
    }
    let tag = decode_hex(signature.trim()).ok_or(WebhookError::BadSignature)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .map_err(|_| WebhookError::EmptySecret)?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&tag)
        .map_err(|_| WebhookError::BadSignature)
}

/// Hex to bytes; an odd length fails on its last, one-digit chunk.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? * 16 + digit(*lo)?) as u8),
            _ => None,
        })
        .collect()
}
