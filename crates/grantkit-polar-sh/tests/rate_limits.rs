//! Polar.sh's API errors read the way the core reads rate limits: a 429, or a 503 carrying
//! `Retry-After` (RFC 9110 §10.2.3, §15.6.4), is `Error::RateLimited` with the delay. Before the
//! shared rule, this crate took only 429 and turned the 503 into `Error::Api`.

use std::time::Duration;

use axum::http::{header::RETRY_AFTER, StatusCode};
use axum::routing::get;
use axum::Router;
use grantkit::http::{HttpClient, HttpOptions};
use grantkit::Endpoint;
use grantkit_polar_sh::{error_for_status, Error};
use grantkit_testkit::TestServer;

async fn answer(path: &str) -> Error {
    let app = Router::new()
        .route(
            "/busy",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "7")], "") }),
        )
        .route(
            "/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }),
        )
        .route(
            "/limited",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, "3")], "") }),
        );
    let server = TestServer::start(app).await.unwrap();
    let http = HttpClient::new(HttpOptions::default()).unwrap();
    let response = http
        .execute(Endpoint::Api, http.reqwest().get(server.url(path)))
        .await
        .unwrap();
    error_for_status(response).unwrap_err()
}

#[tokio::test]
async fn a_503_with_retry_after_is_a_rate_limit_as_in_the_core() {
    let e = answer("/busy").await;
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = answer("/limited").await;
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    // A 503 without a delay is an outage, not a rate limit.
    let e = answer("/down").await;
    assert!(matches!(&e, Error::Api(api) if api.status == 503), "{e:?}");
}
