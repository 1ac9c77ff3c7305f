//! The device flow's wait survives a flaky token endpoint (RFC 8628 §3.5): a 503 or a 429 does
//! not end it; the next poll comes later (twice the wait, or `Retry-After`), and the tokens still
//! arrive. A local fake token endpoint scripts the answers and records when each poll came.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use grantkit::{Client, Error, OAuthErrorCode, Provider};
use serde_json::json;

/// How the fake token endpoint answers each poll, in order (the last one repeats).
#[derive(Clone, Copy)]
enum Answer {
    Unavailable,
    RateLimited { retry_after_secs: u64 },
    Denied,
    Tokens,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "<html>upstream unavailable</html>",
            )
                .into_response(),
            Answer::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string())],
                "",
            )
                .into_response(),
            Answer::Denied => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "access_denied"})),
            )
                .into_response(),
            Answer::Tokens => Json(json!({
                "access_token": "device-at", "token_type": "Bearer", "expires_in": 600
            }))
            .into_response(),
        }
    }
}

/// Serves the device authorization endpoint (`interval: 1`, codes valid `expires_in` seconds)
/// and the scripted token endpoint; returns the client and the times the token endpoint was polled.
async fn fake_expiring(script: Vec<Answer>, expires_in: u64) -> (Client, Arc<Mutex<Vec<Instant>>>) {
    let polls = Arc::new(Mutex::new(Vec::new()));
    let seen = polls.clone();
    let app = Router::new()
        .route(
            "/device",
            post(move || async move {
                Json(json!({
                    "device_code": "dc", "user_code": "ABCD-EFGH",
                    "verification_uri": "https://op.example/device",
                    "expires_in": expires_in, "interval": 1
                }))
            }),
        )
        .route(
            "/token",
            post(move || {
                let seen = seen.clone();
                let script = script.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Instant::now());
                    script[(seen.len() - 1).min(script.len() - 1)]
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let provider = Provider::builder("flaky")
        .device_authorization_endpoint(&format!("{base}/device"))
        .token_endpoint(&format!("{base}/token"))
        .build()
        .unwrap();
    (
        Client::builder(provider, "device-client").build().unwrap(),
        polls,
    )
}

async fn fake(script: Vec<Answer>) -> (Client, Arc<Mutex<Vec<Instant>>>) {
    fake_expiring(script, 60).await
}

fn gaps(polls: &[Instant]) -> Vec<Duration> {
    polls.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test]
async fn a_503_doubles_the_wait_and_the_tokens_still_arrive() {
    let (client, polls) = fake(vec![Answer::Unavailable, Answer::Tokens]).await;
    let auth = client.device_authorization(["profile"]).await.unwrap();
    let tokens = client.poll_device(&auth).await.unwrap();
    assert_eq!(tokens.access_token().expose(), "device-at");
    let polls = polls.lock().unwrap();
    assert_eq!(polls.len(), 2);
    // Interval 1 s; after the 503 the wait doubles to 2 s.
    assert!(
        gaps(&polls)[0] >= Duration::from_secs(2),
        "{:?}",
        gaps(&polls)
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let (client, polls) = fake(vec![
        Answer::RateLimited {
            retry_after_secs: 3,
        },
        Answer::Tokens,
    ])
    .await;
    let auth = client.device_authorization(["profile"]).await.unwrap();
    client.poll_device(&auth).await.unwrap();
    let polls = polls.lock().unwrap();
    assert_eq!(polls.len(), 2);
    assert!(
        gaps(&polls)[0] >= Duration::from_secs(3),
        "{:?}",
        gaps(&polls)
    );
}

#[tokio::test]
async fn a_denial_after_a_failure_still_ends_the_wait_at_once() {
    let (client, polls) = fake(vec![Answer::Unavailable, Answer::Denied, Answer::Tokens]).await;
    let auth = client.device_authorization(["profile"]).await.unwrap();
    let err = client.poll_device(&auth).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::AccessDenied),
        "{err:?}"
    );
    assert!(!matches!(err, Error::Http { .. }));
    assert_eq!(polls.lock().unwrap().len(), 2, "no poll after the denial");
}

#[tokio::test]
async fn a_long_retry_after_does_not_outlast_the_codes() {
    let (client, polls) = fake_expiring(
        vec![Answer::RateLimited {
            retry_after_secs: 3600,
        }],
        3,
    )
    .await;
    let auth = client.device_authorization(["profile"]).await.unwrap();
    let start = Instant::now();
    let err = client.poll_device(&auth).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::ExpiredToken),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(polls.lock().unwrap().len(), 1, "no poll after the expiry");
}
