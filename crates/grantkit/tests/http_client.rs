//! `grantkit::http::HttpClient`: the HTTP layer provider crates use for their own API calls.
//! Each test names the behaviour it proves.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use grantkit::http::HttpClient;
use grantkit::http::HttpOptions;
use grantkit::{Endpoint, Error};
use grantkit_testkit::TestServer;

async fn server() -> TestServer {
    let app = Router::new()
        .route(
            "/conflict",
            get(|| async { (StatusCode::CONFLICT, r#"{"message":"already"}"#) }),
        )
        .route(
            "/token-body",
            get(|| async { r#"{"access_token":"BODY-SECRET"}"# }),
        )
        .route(
            "/limited",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "9")],
                    "",
                )
            }),
        )
        .route(
            "/moved",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "https://elsewhere.example/")],
                )
                    .into_response()
            }),
        )
        .route("/big", get(|| async { "x".repeat(2048) }));
    TestServer::start(app).await.unwrap()
}

#[tokio::test]
async fn any_status_is_returned_for_the_caller_to_judge() {
    let server = server().await;
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let response = http
        .execute(Endpoint::Api, http.reqwest().get(server.url("/conflict")))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert_eq!(response.endpoint(), Endpoint::Api);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["message"], "already");
    let e = response.clone().error_for_status().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Http {
                status: 409,
                endpoint: Endpoint::Api,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn rate_limit_and_typed_errors_match_the_core() {
    let server = server().await;
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let limited = http
        .execute(Endpoint::Api, http.reqwest().get(server.url("/limited")))
        .await
        .unwrap();
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(9))
    );
    assert!(matches!(
        limited.error(),
        Error::RateLimited { status: 429, .. }
    ));
}

#[tokio::test]
async fn redirects_are_refused_and_the_body_cap_holds() {
    let server = server().await;
    let options = HttpOptions {
        max_body_bytes: 1024,
        ..HttpOptions::default()
    };
    let http = HttpClient::new(options).unwrap();
    let moved = http
        .execute(Endpoint::Api, http.reqwest().get(server.url("/moved")))
        .await
        .unwrap_err();
    assert!(
        matches!(moved, Error::UnexpectedRedirect { status: 302, .. }),
        "{moved:?}"
    );
    let big = http
        .execute(Endpoint::Api, http.reqwest().get(server.url("/big")))
        .await
        .unwrap_err();
    assert!(
        matches!(big, Error::BodyTooLarge { limit: 1024, .. }),
        "{big:?}"
    );
}

#[tokio::test]
async fn debug_never_shows_the_body() {
    let server = server().await;
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let response = http
        .execute(Endpoint::Api, http.reqwest().get(server.url("/token-body")))
        .await
        .unwrap();
    let debug = format!("{response:?}");
    assert!(!debug.contains("BODY-SECRET"), "{debug}");
    assert!(debug.contains("body_len"), "{debug}");
}

#[test]
fn clean_text_strips_control_characters_and_cuts() {
    assert_eq!(grantkit::http::clean_text("a\nb\x1b", 10), "ab");
    assert_eq!(grantkit::http::clean_text("abcdef", 4), "abcd…");
}
