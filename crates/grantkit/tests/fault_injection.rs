//! A hostile token endpoint, one misbehaviour per test: every one must end in a typed error
//! within the configured timeout, with the stored tokens untouched and no secret in the message.

use std::time::{Duration, Instant};

use grantkit::http::HttpOptions;
use grantkit::oidc::Discovery;
use grantkit::store::{MemoryTokenStore, TokenStore};
use grantkit::{Client, Endpoint, Error, Provider, TokenSet, TokenSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(2);
const REFRESH_TOKEN: &str = "refresh-secret-DO-NOT-LEAK";

/// What the hostile server does after reading a request.
#[derive(Clone, Copy)]
enum Act {
    Status500,
    Html502,
    Html200,
    TruncatedJson,
    BodyShorterThanDeclared,
    DeclaredHuge,
    ChunkedHuge,
    NeverEnds,
    RedirectElsewhere,
    Reset,
    Stall,
    EchoRequest,
}

async fn serve(act: Act) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(respond(stream, act));
        }
    });
    url
}

async fn respond(mut s: TcpStream, act: Act) {
    let mut buf = vec![0u8; 16 * 1024];
    let _ = s.read(&mut buf).await;
    let head = |status: &str, extra: &str| format!("HTTP/1.1 {status}\r\n{extra}\r\n");
    let _ = match act {
        Act::Status500 => {
            s.write_all(head("500 Internal Server Error", "Content-Length: 0\r\n").as_bytes())
                .await
        }
        Act::Html502 => {
            let body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
            let h = head(
                "502 Bad Gateway",
                &format!(
                    "Content-Type: text/html\r\nContent-Length: {}\r\n",
                    body.len()
                ),
            );
            s.write_all(format!("{h}{body}").as_bytes()).await
        }
        Act::Html200 => {
            let body = "<!doctype html><title>Login</title><form>Sign in</form>";
            let h = head(
                "200 OK",
                &format!(
                    "Content-Type: text/html\r\nContent-Length: {}\r\n",
                    body.len()
                ),
            );
            s.write_all(format!("{h}{body}").as_bytes()).await
        }
        Act::TruncatedJson => {
            let body = r#"{"access_token":"abc","token_ty"#;
            let h = head(
                "200 OK",
                &format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                ),
            );
            s.write_all(format!("{h}{body}").as_bytes()).await
        }
        Act::BodyShorterThanDeclared => {
            let h = head(
                "200 OK",
                "Content-Type: application/json\r\nContent-Length: 500\r\n",
            );
            let _ = s
                .write_all(format!("{h}{{\"access_token\":\"a").as_bytes())
                .await;
            Ok(()) // and close: the body ends early
        }
        Act::DeclaredHuge => {
            let h = head(
                "200 OK",
                &format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    50 << 20
                ),
            );
            let _ = s.write_all(h.as_bytes()).await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..800 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            Ok(())
        }
        Act::ChunkedHuge => {
            let _ = s
                .write_all(
                    head(
                        "200 OK",
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
                    )
                    .as_bytes(),
                )
                .await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..800 {
                let frame = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk.clone(),
                    b"\r\n".to_vec(),
                ]
                .concat();
                if s.write_all(&frame).await.is_err() {
                    break;
                }
            }
            Ok(())
        }
        Act::NeverEnds => {
            let _ = s
                .write_all(
                    head(
                        "200 OK",
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
                    )
                    .as_bytes(),
                )
                .await;
            loop {
                if s.write_all(b"1\r\n \r\n").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
        Act::RedirectElsewhere => {
            s.write_all(
                head(
                    "302 Found",
                    "Location: https://attacker.example/steal\r\nContent-Length: 0\r\n",
                )
                .as_bytes(),
            )
            .await
        }
        Act::Reset => {
            // Linger 0 makes the close send RST; the blocking-on-drop caveat is the point here.
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
            Ok(()) // dropping with linger 0 sends RST
        }
        Act::EchoRequest => {
            // An error page that shows the request it got: headers (Basic credentials) and form.
            let received = String::from_utf8_lossy(&buf)
                .trim_end_matches('\0')
                .replace("\r\n", " ");
            let body = format!("<html>Bad request: {received}</html>");
            let h = head(
                "400 Bad Request",
                &format!(
                    "Content-Type: text/html\r\nContent-Length: {}\r\n",
                    body.len()
                ),
            );
            s.write_all(format!("{h}{body}").as_bytes()).await
        }
        Act::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    };
}

fn old_tokens() -> TokenSet {
    TokenSet::from_response(
        format!(
            r#"{{"access_token":"old-access","refresh_token":"{REFRESH_TOKEN}","expires_in":1}}"#
        )
        .as_bytes(),
        std::time::SystemTime::now(),
    )
    .unwrap()
}

/// Refreshes through a token source against the hostile endpoint; returns the error, checking
/// the timing bound, the untouched store and the absence of the refresh token in the message.
async fn refresh_against(act: Act) -> Error {
    let url = serve(act).await;
    let provider = Provider::builder("hostile")
        .token_endpoint(&url)
        .build()
        .unwrap();
    let options = HttpOptions {
        timeout: TIMEOUT,
        connect_timeout: Duration::from_secs(1),
        max_body_bytes: 1 << 20,
    };
    let client = Client::builder(provider, "c")
        .client_secret("s3cret")
        .http_options(options)
        .build()
        .unwrap();
    let old = old_tokens();
    let store = MemoryTokenStore::with_tokens(old.clone());
    let source = TokenSource::builder(client)
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let started = Instant::now();
    let err = source.force_refresh().await.unwrap_err();
    assert!(
        started.elapsed() < TIMEOUT + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        store.load().await.unwrap(),
        Some(old),
        "stored tokens untouched"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(REFRESH_TOKEN) && !shown.contains("s3cret"),
        "secret leaked: {shown}"
    );
    err
}

#[tokio::test]
async fn status_500_is_a_transient_http_error() {
    let err = refresh_against(Act::Status500).await;
    assert!(
        matches!(
            err,
            Error::Http {
                status: 500,
                endpoint: Endpoint::Token,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn html_502_keeps_status_and_an_excerpt() {
    let err = refresh_against(Act::Html502).await;
    match &err {
        Error::Http {
            status: 502,
            body_excerpt,
            ..
        } => assert!(body_excerpt.contains("Bad Gateway")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn html_with_200_is_an_invalid_response() {
    let err = refresh_against(Act::Html200).await;
    assert!(
        matches!(&err, Error::InvalidResponse { reason, .. } if reason.contains("not JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn truncated_json_is_an_invalid_response() {
    let err = refresh_against(Act::TruncatedJson).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn a_body_shorter_than_declared_is_a_transport_error() {
    let err = refresh_against(Act::BodyShorterThanDeclared).await;
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn a_declared_50_mib_body_is_refused_without_reading_it() {
    let err = refresh_against(Act::DeclaredHuge).await;
    assert!(
        matches!(
            err,
            Error::BodyTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_chunked_50_mib_body_is_cut_at_the_cap() {
    let err = refresh_against(Act::ChunkedHuge).await;
    assert!(matches!(err, Error::BodyTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_body_that_never_ends_times_out() {
    let err = refresh_against(Act::NeverEnds).await;
    assert!(
        matches!(err, Error::Timeout { .. } | Error::BodyTooLarge { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let err = refresh_against(Act::RedirectElsewhere).await;
    assert!(
        matches!(&err, Error::UnexpectedRedirect { status: 302, location, .. } if location.contains("attacker.example")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_connection_reset_is_a_transport_error() {
    let err = refresh_against(Act::Reset).await;
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn an_error_page_echoing_the_request_leaks_no_secret() {
    let err = refresh_against(Act::EchoRequest).await;
    match &err {
        // The echo arrived (the test would prove nothing otherwise) and was scrubbed.
        Error::Http {
            status: 400,
            body_excerpt,
            ..
        } => {
            assert!(
                body_excerpt.contains("Bad request") && body_excerpt.contains("[redacted]"),
                "{body_excerpt}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_connection_times_out() {
    let err = refresh_against(Act::Stall).await;
    assert!(
        matches!(err, Error::Timeout { timeout, .. } if timeout == TIMEOUT),
        "{err:?}"
    );
}

#[tokio::test]
async fn discovery_naming_a_metadata_service_address_is_refused() {
    use axum::{routing::get, Json, Router};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": base,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    });
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(move || async move { Json(doc) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let err = Discovery::new(&base).fetch().await.unwrap_err();
    assert!(
        matches!(&err, Error::UnsafeEndpoint { field, .. } if field == "jwks_uri"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_jwks_of_garbage_keys_is_a_typed_error() {
    use axum::{routing::get, routing::post, Json, Router};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": base, "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks"),
    });
    let garbage = serde_json::json!({"keys": [
        {"kty": "RSA", "n": "!!!", "e": "AQAB", "kid": "a"},
        {"kty": "EC", "crv": "P-256", "x": "zz", "kid": "b"},
        {"kty": "wat"}, 42, "key"
    ]});
    let token = serde_json::json!({"access_token": "at", "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"});
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(doc) }),
        )
        .route("/jwks", get(move || async move { Json(garbage) }))
        .route("/token", post(move || async move { Json(token) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder(Discovery::new(&base).fetch().await.unwrap(), "c")
        .scopes(["openid"])
        .build()
        .unwrap();
    let (_, pending) = client.authorize().build().unwrap();
    let code = pending
        .verify_callback(&format!("?code=x&state={}", pending.state().expose()))
        .unwrap();
    let err = client.exchange_code(code).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidResponse {
                endpoint: Endpoint::Jwks,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Peak resident memory of this process (Linux), in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_concurrent_50_mib_bodies_keep_memory_bounded() {
    let before = peak_rss_kib();
    let tasks: Vec<_> = (0..5)
        .map(|_| tokio::spawn(refresh_against(Act::ChunkedHuge)))
        .collect();
    let mut errors = Vec::new();
    for task in tasks {
        errors.push(task.await.unwrap());
    }
    assert!(errors
        .iter()
        .all(|e| matches!(e, Error::BodyTooLarge { .. })));
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    // 250 MiB were offered; the 1 MiB cap per call keeps the peak far below that.
    assert!(grown_mib < 48, "peak RSS grew by {grown_mib} MiB");
}

#[tokio::test]
async fn a_provider_api_error_page_echoing_the_bearer_token_leaks_it_nowhere() {
    use axum::{http::HeaderMap, http::StatusCode, routing::post, Router};
    const TOKEN: &str = "api-bearer-token-DO-NOT-LEAK";
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // A broken API gateway that dumps the request headers into its error page.
    let app = Router::new().route(
        "/v3/users",
        post(|headers: HeaderMap| async move {
            let auth = headers["authorization"].to_str().unwrap().to_owned();
            (
                StatusCode::BAD_GATEWAY,
                format!("<html>upstream failed for request with Authorization: {auth}</html>"),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = grantkit::http::HttpClient::new(HttpOptions::default()).unwrap();
    let request = http
        .reqwest()
        .post(format!("{base}/v3/users"))
        .bearer_auth(TOKEN);
    let response = http.execute(Endpoint::Api, request).await.unwrap();
    assert!(
        String::from_utf8_lossy(response.body()).contains(TOKEN),
        "the echo arrived"
    );
    let err = response.error();
    assert!(
        matches!(&err, Error::Http { status: 502, body_excerpt, .. } if body_excerpt.contains("Bearer [redacted]")),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("DO-NOT-LEAK"), "{err}");
    // Provider crates read their own error bodies (AccessLink's and Polar.sh's `ApiError`) from
    // the excerpt: it is scrubbed the same way.
    let excerpt = response.body_excerpt();
    assert!(excerpt.contains("Bearer [redacted]"), "{excerpt}");
    assert!(!excerpt.contains("DO-NOT-LEAK"), "{excerpt}");
}

/// How a hostile server frames a huge body while declaring `Content-Length: 10`.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// `Transfer-Encoding: chunked` next to the length: HTTP/1.1 says the chunks win.
    Chunked,
    /// `Transfer-Encoding: identity` next to the length: the body runs until the connection closes.
    CloseDelimited,
}

const CONTRADICTED_BODY: usize = 128 << 20;

/// A raw-TCP server (hyper would not send contradictory framing) answering every request with
/// `Content-Length: 10` and a 128 MiB body framed otherwise.
async fn serve_contradictory(framing: Framing) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(send_contradictory(stream, framing));
        }
    });
    base
}

async fn send_contradictory(mut s: TcpStream, framing: Framing) {
    let mut buf = vec![0u8; 16 * 1024];
    let _ = s.read(&mut buf).await;
    let encoding = match framing {
        Framing::Chunked => "chunked",
        Framing::CloseDelimited => "identity",
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\nTransfer-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b' '; 256 * 1024];
    let frame = match framing {
        Framing::Chunked => [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk,
            b"\r\n".to_vec(),
        ]
        .concat(),
        Framing::CloseDelimited => chunk,
    };
    for _ in 0..CONTRADICTED_BODY / (256 * 1024) {
        if s.write_all(&frame).await.is_err() {
            return;
        }
    }
    if let Framing::Chunked = framing {
        let _ = s.write_all(b"0\r\n\r\n").await;
    }
}

/// Calls each endpoint family (token, discovery, JWKS, userinfo, provider API) against a server
/// that declares 10 bytes and sends 128 MiB; each must stop at the 1 MiB cap with a typed error
/// and the process's peak memory must stay far below what was offered.
#[cfg(target_os = "linux")]
async fn every_endpoint_is_capped(framing: Framing) {
    let base = serve_contradictory(framing).await;
    let options = HttpOptions {
        timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(1),
        max_body_bytes: 1 << 20,
    };
    let before = peak_rss_kib();
    let provider = Provider::builder("hostile")
        .issuer(&base)
        .token_endpoint(&format!("{base}/token"))
        .jwks_uri(&format!("{base}/jwks"))
        .userinfo_endpoint(&format!("{base}/userinfo"))
        .build()
        .unwrap();
    let client = Client::builder(provider, "c")
        .client_secret("s3cret")
        .http_options(options.clone())
        .build()
        .unwrap();
    let token = client.client_credentials(["s"]).await.unwrap_err();
    let discovery = Discovery::new(&base)
        .cache_ttl(Duration::ZERO)
        .http_options(options.clone())
        .fetch()
        .await
        .unwrap_err();
    let id_token = grantkit::Secret::new("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln");
    let jwks = client.verify_id_token(&id_token, None).await.unwrap_err();
    let tokens = TokenSet::from_response(
        br#"{"access_token":"at","token_type":"Bearer"}"#,
        std::time::SystemTime::now(),
    )
    .unwrap();
    let userinfo = client.userinfo(&tokens).await.unwrap_err();
    let http = grantkit::http::HttpClient::new(options).unwrap();
    let api = http
        .execute(Endpoint::Api, http.reqwest().get(format!("{base}/api")))
        .await
        .map(|r| r.body().len());
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    let wrong: Vec<String> = [
        (Endpoint::Token, Err(token)),
        (Endpoint::Discovery, Err(discovery)),
        (Endpoint::Jwks, Err(jwks)),
        (Endpoint::Userinfo, Err(userinfo)),
        (Endpoint::Api, api),
    ]
    .into_iter()
    .filter(|(endpoint, result)| !matches!(result, Err(Error::BodyTooLarge { endpoint: e, limit: 1_048_576 }) if e == endpoint))
    .map(|(endpoint, result)| format!("{endpoint}: {result:?}"))
    .collect();
    // 5 × 128 MiB were offered; the 1 MiB cap per call keeps the peak far below that.
    assert!(
        wrong.is_empty() && grown_mib < 48,
        "{framing:?}: peak RSS grew by {grown_mib} MiB; not capped: {wrong:#?}"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn content_length_with_a_chunked_body_cannot_bypass_the_cap() {
    every_endpoint_is_capped(Framing::Chunked).await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn content_length_with_a_close_delimited_body_cannot_bypass_the_cap() {
    every_endpoint_is_capped(Framing::CloseDelimited).await;
}

/// A second loopback server that records every byte it is sent: where a 307 points.
async fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/steal", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 16 * 1024];
            let n = s.read(&mut buf).await.unwrap_or(0);
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .await;
        }
    });
    (url, received)
}

/// A server answering every request with `307 Temporary Redirect` to `target`: a client that
/// follows it re-sends the same method and body (the form with its secrets) there.
async fn redirect_307_to(target: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answer = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
    );
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 16 * 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    base
}

#[tokio::test]
async fn a_307_cannot_replay_the_token_form_through_an_application_http_client() {
    let (target, received) = recording_server().await;
    let base = redirect_307_to(&target).await;
    let provider = Provider::builder("hostile")
        .token_endpoint(&format!("{base}/token"))
        .build()
        .unwrap();
    // reqwest's default policy follows up to 10 redirects, 307 re-posting the body.
    let client = Client::builder(provider, "c")
        .client_secret("s3cret-DO-NOT-LEAK")
        .auth_method(grantkit::AuthMethod::ClientSecretPost)
        .http_client_builder(reqwest::Client::builder())
        .build()
        .unwrap();
    let err = client.client_credentials(["s"]).await.unwrap_err();
    let seen = String::from_utf8_lossy(&received.lock().unwrap()).into_owned();
    assert!(seen.is_empty(), "the redirect target received: {seen}");
    assert!(
        matches!(&err, Error::UnexpectedRedirect { status: 307, endpoint: Endpoint::Token, location } if location.contains("/steal")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_307_cannot_replay_a_provider_api_call_through_an_application_http_client() {
    let (target, received) = recording_server().await;
    let base = redirect_307_to(&target).await;
    let http = grantkit::http::HttpClient::with_client_builder(
        reqwest::Client::builder(),
        HttpOptions::default(),
    )
    .unwrap();
    let request = http
        .reqwest()
        .post(format!("{base}/v3/users"))
        .bearer_auth("api-token-DO-NOT-LEAK")
        .body("member-id=42");
    let err = http.execute(Endpoint::Api, request).await.unwrap_err();
    let seen = String::from_utf8_lossy(&received.lock().unwrap()).into_owned();
    assert!(seen.is_empty(), "the redirect target received: {seen}");
    assert!(
        matches!(
            &err,
            Error::UnexpectedRedirect {
                status: 307,
                endpoint: Endpoint::Api,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A discovery document on loopback (local development) naming `op.example.com` endpoints.
async fn loopback_discovery_naming(host: &str) -> String {
    use axum::{routing::get, Json, Router};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": base,
        "token_endpoint": format!("http://{host}/token"),
        "userinfo_endpoint": format!("http://{host}/userinfo"),
    });
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(move || async move { Json(doc) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn a_discovered_endpoint_resolving_to_a_metadata_service_is_refused_before_connecting() {
    let (recorder, received) = recording_server().await;
    let port = url::Url::parse(&recorder).unwrap().port().unwrap();
    // An internal name: a loopback document may send plain http there (never to a public one).
    let base = loopback_discovery_naming(&format!("api.corp.internal:{port}")).await;
    let client_resolving = |ip: &str| {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        let base = base.clone();
        async move {
            let provider = Discovery::new(&base)
                .cache_ttl(Duration::ZERO)
                .fetch()
                .await
                .unwrap();
            Client::builder(provider, "c")
                .client_secret("s3cret")
                .resolve("api.corp.internal", ip)
                .build()
                .unwrap()
        }
    };
    // The control: a loopback document may name loopback hosts, and the override routes there.
    let local = client_resolving("127.0.0.1").await;
    let _ = local.client_credentials(["s"]).await;
    assert!(
        !received.lock().unwrap().is_empty(),
        "the override reaches the recorder"
    );
    received.lock().unwrap().clear();
    // Cloud metadata (AWS/GCP/Azure link-local, Alibaba in CGNAT): never, whatever the origin.
    for ip in ["169.254.169.254", "100.100.100.200"] {
        let client = client_resolving(ip).await;
        let err = client.client_credentials(["s"]).await.unwrap_err();
        assert!(
            matches!(&err, Error::UnsafeEndpoint { field, reason } if field == "token_endpoint" && reason.contains(ip) && reason.contains("api.corp.internal")),
            "{ip}: {err:?}"
        );
        assert!(!err.is_transient(), "a refusal is not retried");
        let tokens = TokenSet::from_response(
            br#"{"access_token":"at","token_type":"Bearer"}"#,
            std::time::SystemTime::now(),
        )
        .unwrap();
        let err = client.userinfo(&tokens).await.unwrap_err();
        assert!(
            matches!(&err, Error::UnsafeEndpoint { field, .. } if field == "userinfo_endpoint"),
            "{ip}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_public_document_naming_a_host_that_resolves_to_loopback_is_refused_before_connecting() {
    let (recorder, received) = recording_server().await;
    let port = url::Url::parse(&recorder).unwrap().port().unwrap();
    let token_endpoint = format!("https://op.example.com:{port}/token");
    let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    // The same endpoint configured by the application itself is called (the test's premise).
    let configured = Provider::builder("op")
        .token_endpoint(&token_endpoint)
        .build()
        .unwrap();
    let client = Client::builder(configured, "c")
        .client_secret("s3cret")
        .resolve("op.example.com", loopback)
        .build()
        .unwrap();
    let _ = client.client_credentials(["s"]).await;
    assert!(
        !received.lock().unwrap().is_empty(),
        "the override connects"
    );
    received.lock().unwrap().clear();
    // Named by a document whose issuer is public: the resolved loopback address is refused.
    let metadata: grantkit::oidc::ProviderMetadata = serde_json::from_value(serde_json::json!({
        "issuer": "https://op.example.com",
        "token_endpoint": token_endpoint,
    }))
    .unwrap();
    let client = Client::builder(metadata.into_provider("op").unwrap(), "c")
        .client_secret("s3cret")
        .resolve("op.example.com", loopback)
        .build()
        .unwrap();
    let err = client.client_credentials(["s"]).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnsafeEndpoint { field, reason } if field == "token_endpoint" && reason.contains("127.0.0.1")),
        "{err:?}"
    );
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached the loopback server"
    );
}

/// An issuer with a public-looking name inside a private network (split-horizon DNS, as many
/// company Keycloaks are): the discovery document came from an internal address, so the
/// endpoints it names on that network stay callable. The rebinding case (a document from a
/// public address naming a host that resolves internally) stays refused: see
/// `a_public_document_naming_a_host_that_resolves_to_loopback_is_refused_before_connecting`.
#[tokio::test]
async fn a_split_horizon_issuer_served_from_an_internal_address_keeps_its_endpoints() {
    use axum::{routing::get, routing::post, Json, Router};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = format!("http://idp.example.com:{port}");
    let tokens = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get({
                let issuer = issuer.clone();
                move || async move {
                    Json(serde_json::json!({
                        "issuer": issuer, "token_endpoint": format!("{issuer}/token"),
                    }))
                }
            }),
        )
        .route(
            "/token",
            post({
                let tokens = tokens.clone();
                move || async move {
                    tokens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Json(serde_json::json!({"access_token": "at", "token_type": "Bearer"}))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let internal: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let provider = grantkit::oidc::Discovery::new(issuer.clone())
        .resolve("idp.example.com", internal)
        .cache_ttl(Duration::ZERO)
        .fetch()
        .await
        .expect("a document from an internal address may name internal endpoints");
    let client = Client::builder(provider, "c")
        .client_secret("s3cret")
        .resolve("idp.example.com", internal)
        .build()
        .unwrap();
    client.client_credentials(["s"]).await.unwrap();
    assert_eq!(tokens.load(std::sync::atomic::Ordering::SeqCst), 1);
}
