//! Webhook deliveries as Polar.sh signs them (Standard Webhooks).

use super::*;

impl FakePolarSh {
    /// The headers Polar.sh sends with a webhook delivery of `body` to an endpoint whose secret is
    /// `secret` (`polar_whs_…`): Standard Webhooks, keyed with the secret's own bytes, because Polar
    /// base64-encodes the whole secret before signing (polar: server/polar/webhook/tasks.py).
    pub fn webhook_headers(&self, secret: &str, body: &[u8]) -> Vec<(String, String)> {
        let id = format!("msg_{}", random(16));
        let timestamp = (self.state().now()).to_string();
        let signed = format!("{id}.{timestamp}.");
        let mac = hmac_sha256(secret.as_bytes(), &[signed.as_bytes(), body]);
        let signature = format!("v1,{}", STANDARD.encode(mac));
        vec![
            ("webhook-id".into(), id),
            ("webhook-timestamp".into(), timestamp),
            ("webhook-signature".into(), signature),
        ]
    }
}
