//! Webhook signatures: the published Standard Webhooks test vectors
//! (standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py) and deliveries
//! signed the way Polar.sh signs them (the testkit's fake, after server/polar/webhook/tasks.py).

use std::time::{Duration, SystemTime};

use grantkit_polar_sh::{WebhookError, WebhookSecret, WebhookVerifier};
use grantkit_testkit::polar_sh::FakePolarSh;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: &str = "1614265330";
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const WRONG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(WebhookSecret::standard(SECRET).unwrap())
}

#[test]
fn standard_webhooks_vector_signs_and_verifies() {
    let secret = WebhookSecret::standard(SECRET).unwrap();
    assert_eq!(secret.sign(MSG_ID, TIMESTAMP, BODY).unwrap(), SIGNATURE);
    verifier()
        .verify_at(MSG_ID, TIMESTAMP, SIGNATURE, BODY, at(1614265330))
        .unwrap();
    // The prefix is optional.
    WebhookVerifier::new(WebhookSecret::standard(&SECRET[6..]).unwrap())
        .verify_at(MSG_ID, TIMESTAMP, SIGNATURE, BODY, at(1614265330))
        .unwrap();
    assert!(!format!("{secret:?}").contains("MfKQ"));
}

#[test]
fn standard_webhooks_vector_one_bit_off_is_refused() {
    let err = verifier()
        .verify_at(MSG_ID, TIMESTAMP, WRONG, BODY, at(1614265330))
        .unwrap_err();
    assert_eq!(err, WebhookError::BadSignature);
    let altered = br#"{"test": 2432232315}"#;
    assert_eq!(
        verifier().verify_at(MSG_ID, TIMESTAMP, SIGNATURE, altered, at(1614265330)),
        Err(WebhookError::BadSignature)
    );
}

#[test]
fn standard_webhooks_multiple_signatures_one_valid_is_accepted() {
    let list = format!(
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SIGNATURE} v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    );
    verifier()
        .verify_at(MSG_ID, TIMESTAMP, &list, BODY, at(1614265330))
        .unwrap();
}

#[test]
fn standard_webhooks_timestamp_outside_five_minutes_is_a_replay() {
    let sent = 1614265330;
    for now in [sent + 301, sent - 301] {
        assert!(matches!(
            verifier().verify_at(MSG_ID, TIMESTAMP, SIGNATURE, BODY, at(now)),
            Err(WebhookError::Stale { skew_secs: 301 })
        ));
    }
    for now in [sent + 300, sent - 300] {
        verifier()
            .verify_at(MSG_ID, TIMESTAMP, SIGNATURE, BODY, at(now))
            .unwrap();
    }
    assert_eq!(
        verifier().verify_at(MSG_ID, "hello", SIGNATURE, BODY, at(sent)),
        Err(WebhookError::BadTimestamp)
    );
}

#[test]
fn standard_webhooks_secrets_padded_unpadded_and_invalid() {
    for secret in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=",
    ] {
        WebhookSecret::standard(secret).unwrap();
    }
    assert!(matches!(
        WebhookSecret::standard("whsec_"),
        Err(WebhookError::InvalidSecret(_))
    ));
    assert!(matches!(
        WebhookSecret::standard("whsec_not base64!"),
        Err(WebhookError::InvalidSecret(_))
    ));
    assert!(matches!(
        WebhookSecret::polar(" "),
        Err(WebhookError::InvalidSecret(_))
    ));
}

fn headers(pairs: Vec<(String, String)>) -> HeaderMap {
    pairs
        .into_iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(&v).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn polar_sh_delivery_is_keyed_with_the_whole_secret_and_verified_from_headers() {
    let fake = FakePolarSh::start().await.unwrap();
    let secret = "polar_whs_ovyN6cPrTv56AApvzCaJno08SSmGJmgbWilb33N2JuK";
    let body = br#"{"type":"order.paid","data":{"id":"ord_1"}}"#;
    let delivered = headers(fake.webhook_headers(secret, body));
    let polar = WebhookVerifier::new(WebhookSecret::polar(secret).unwrap());
    polar.verify(&delivered, body).unwrap();
    // The common misreading, stripping the prefix and base64-decoding the rest as a Standard
    // Webhooks secret, gives another key: the signature does not match.
    let stripped = secret.trim_start_matches("polar_whs_");
    let as_standard = WebhookVerifier::new(WebhookSecret::standard(stripped).unwrap());
    assert_eq!(
        as_standard.verify(&delivered, body),
        Err(WebhookError::BadSignature)
    );
    let mut missing = delivered.clone();
    missing.remove("webhook-signature");
    assert_eq!(
        polar.verify(&missing, body),
        Err(WebhookError::MissingHeader("webhook-signature"))
    );
    assert_eq!(
        polar.verify(&delivered, b"{}"),
        Err(WebhookError::BadSignature)
    );
    let other = WebhookVerifier::new(WebhookSecret::polar("polar_whs_other").unwrap());
    assert_eq!(
        other.verify(&delivered, body),
        Err(WebhookError::BadSignature)
    );
}
