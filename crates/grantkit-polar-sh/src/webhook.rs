//! Webhook signatures: Polar.sh signs deliveries the Standard Webhooks way.
//!
//! Three headers: `webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature`
//! (space-separated `v1,<base64 HMAC-SHA256>`), over `{id}.{timestamp}.{body}`. The key:
//! - for a Polar.sh endpoint secret (`polar_whs_…` as shown in Polar's settings), the secret's own
//!   bytes, prefix included: Polar base64-encodes the whole secret before handing it to its
//!   Standard Webhooks signer (polar: server/polar/webhook/tasks.py). Use [`WebhookSecret::polar`].
//! - for a Standard Webhooks secret (`whsec_` + base64 of the key), the decoded key: use
//!   [`WebhookSecret::standard`].
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use grantkit_polar_sh::{WebhookSecret, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new(WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
//! let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1614265330);
//! verifier.verify_at(
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     "1614265330",
//!     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
//!     br#"{"test": 2432232314}"#,
//!     at,
//! )?;
//! # Ok::<(), grantkit_polar_sh::WebhookError>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Standard Webhooks libraries decode secrets leniently (padding optional, loose trailing bits).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why a webhook delivery was refused. Never contains the secret or the signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent or not text.
    #[error("the webhook lacks the `{0}` header")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not Unix seconds.
    #[error("the webhook's `webhook-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is further from now than the tolerance: a replay, or a clock far off.
    #[error("the webhook's timestamp is {skew_secs} s away from now, beyond the tolerance")]
    Stale {
        /// How far, in seconds.
        skew_secs: u64,
    },
    /// No `v1` signature matches the body: forged, altered, or signed with another secret.
    #[error("no webhook signature matches the body (altered, forged, or another secret)")]
    BadSignature,
    /// The secret cannot be used (empty, or not base64 for a Standard Webhooks secret).
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(&'static str),
}

/// The HMAC key of a webhook endpoint. `Debug` redacts it.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// A Polar.sh endpoint secret, exactly as Polar shows it (`polar_whs_…`): its bytes are the key.
    pub fn polar(secret: &str) -> Result<Self, WebhookError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(WebhookError::InvalidSecret("empty"));
        }
        Ok(Self(secret.as_bytes().to_vec()))
    }

    /// A Standard Webhooks secret: base64 of the key, optionally prefixed with `whsec_`,
    /// padded or not.
    pub fn standard(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let key = LENIENT
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret("not base64"))?;
        if key.is_empty() {
            return Err(WebhookError::InvalidSecret("empty"));
        }
        Ok(Self(key))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Result<HmacSha256, WebhookError> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .map_err(|_| WebhookError::InvalidSecret("unusable as an HMAC key"))?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(mac)
    }

    /// The `webhook-signature` value for a delivery (`v1,<base64>`): for tests and fakes.
    pub fn sign(&self, id: &str, timestamp: &str, body: &[u8]) -> Result<String, WebhookError> {
        let tag = self.mac(id, timestamp, body)?.finalize().into_bytes();
        Ok(format!("v1,{}", STANDARD.encode(tag)))
    }
}

/// Checks Standard Webhooks signatures and timestamps.
#[derive(Clone, Debug)]
pub struct WebhookVerifier {
    secret: WebhookSecret,
    tolerance: Duration,
}

impl WebhookVerifier {
    /// A verifier with the Standard Webhooks tolerance of 5 minutes.
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secret,
            tolerance: Duration::from_secs(300),
        }
    }

    /// How far a delivery's timestamp may be from now, either way.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery from its HTTP headers and **raw** body (before any JSON parsing).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::MissingHeader(name))
        };
        self.verify_at(
            header("webhook-id")?,
            header("webhook-timestamp")?,
            header("webhook-signature")?,
            body,
            SystemTime::now(),
        )
    }

    /// Verifies a delivery's parts at a given time.
    pub fn verify_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        self.check_time(timestamp, now)?;
        let expected = self.secret.mac(id, timestamp, body)?;
        let matches = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| STANDARD.decode(s).ok())
            // `verify_slice` compares in constant time.
            .any(|tag| expected.clone().verify_slice(&tag).is_ok());
        if matches {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    fn check_time(&self, timestamp: &str, now: SystemTime) -> Result<(), WebhookError> {
        let sent = timestamp
            .trim()
            .parse::<u64>()
            .map_err(|_| WebhookError::BadTimestamp)?;
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let skew_secs = now.abs_diff(sent);
        if skew_secs > self.tolerance.as_secs() {
            return Err(WebhookError::Stale { skew_secs });
        }
        Ok(())
    }
}
