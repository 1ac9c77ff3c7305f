//! AccessLink's `Polar-Webhook-Signature` against deliveries the testkit's fake signs.

mod common;

use grantkit_polar_accesslink::webhook::{verify_signature, WebhookError, SIGNATURE_HEADER};

#[tokio::test]
async fn polar_webhook_signature_is_an_hmac_sha256_of_the_raw_body() {
    let fake = common::fake().await;
    let secret = "a1b2c3-signature-secret-key";
    let body = br#"{"event":"EXERCISE","user_id":10579,"entity_id":"aQlC83","timestamp":"2018-05-15T14:22:24Z","url":"https://www.polaraccesslink.com/v3/exercises/aQlC83"}"#;
    let signature = fake.webhook_signature(secret, body);
    assert_eq!(SIGNATURE_HEADER, "Polar-Webhook-Signature");
    verify_signature(secret, body, &signature).unwrap();
    verify_signature(secret, body, &signature.to_uppercase()).unwrap();
    // Re-serialised JSON is another body: verify the raw bytes.
    let reparsed =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(body).unwrap()).unwrap();
    assert_ne!(reparsed.as_slice(), body.as_slice());
    assert_eq!(
        verify_signature(secret, &reparsed, &signature),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        verify_signature("another", body, &signature),
        Err(WebhookError::BadSignature)
    );
    for bad in ["", "zz", &signature[1..], "sha256=00"] {
        assert_eq!(
            verify_signature(secret, body, bad),
            Err(WebhookError::BadSignature)
        );
    }
    assert_eq!(
        verify_signature("", body, &signature),
        Err(WebhookError::EmptySecret)
    );
}
