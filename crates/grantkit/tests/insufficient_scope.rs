//! Step-up on `insufficient_scope`: `AuthorizedClient` against a small resource server that
//! demands a scope the token lacks, as RFC 6750 §3.1 words it ("The resource server SHOULD
//! respond with the HTTP 403 (Forbidden) status code and MAY include the "scope" attribute with
//! the scope necessary to access the protected resource"), and as the MCP authorization spec's
//! scope challenge sends it (with `resource_metadata`, RFC 9728 §5.1).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use grantkit::{AuthorizedClient, Client, Error, Provider, TokenSet, TokenSource};
use grantkit_testkit::token_endpoint::FakeTokenEndpoint;
use grantkit_testkit::TestServer;

const CHALLENGE: &str = r#"Bearer realm="files", error="insufficient_scope", scope="files:read files:write", error_description="writing needs files:write", resource_metadata="https://files.example/.well-known/oauth-protected-resource""#;

async fn resource_server(hits: Arc<AtomicUsize>) -> TestServer {
    let count = |hits: State<Arc<AtomicUsize>>| {
        hits.fetch_add(1, Ordering::SeqCst);
    };
    let app = Router::new()
        .route(
            "/write",
            get(move |hits: State<Arc<AtomicUsize>>| async move {
                count(hits);
                (
                    StatusCode::FORBIDDEN,
                    [(header::WWW_AUTHENTICATE, CHALLENGE)],
                )
            }),
        )
        .route(
            "/write-401",
            get(move |hits: State<Arc<AtomicUsize>>| async move {
                count(hits);
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, CHALLENGE)],
                )
            }),
        )
        .route(
            "/forbidden",
            get(move |hits: State<Arc<AtomicUsize>>| async move {
                count(hits);
                (StatusCode::FORBIDDEN, "not yours").into_response()
            }),
        )
        .route(
            "/other-scheme",
            get(move |hits: State<Arc<AtomicUsize>>| async move {
                count(hits);
                (
                    StatusCode::FORBIDDEN,
                    [(
                        header::WWW_AUTHENTICATE,
                        r#"Custom error="insufficient_scope", scope="admin""#,
                    )],
                )
            }),
        )
        .with_state(hits);
    TestServer::start(app).await.unwrap()
}

/// A refreshable source whose token was granted `openid files:read`.
async fn read_only_source(fake: &FakeTokenEndpoint) -> TokenSource {
    let tokens = TokenSet::from_response(
        br#"{"access_token":"at-read","token_type":"Bearer","refresh_token":"rt-0","expires_in":3600,"scope":"openid files:read"}"#,
        SystemTime::now(),
    )
    .unwrap();
    TokenSource::builder(fake.client())
        .tokens(tokens)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn insufficient_scope_is_a_typed_error_never_retried_nor_refreshed() {
    let fake = FakeTokenEndpoint::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let server = resource_server(hits.clone()).await;
    let api = AuthorizedClient::new(read_only_source(&fake).await).unwrap();

    for path in ["/write", "/write-401"] {
        let before = hits.load(Ordering::SeqCst);
        let e = api.get(server.url(path)).send().await.unwrap_err();
        let Error::InsufficientScope(step_up) = &e else {
            panic!("{path}: {e:?}")
        };
        assert_eq!(step_up.required(), ["files:read", "files:write"]);
        assert_eq!(step_up.granted(), ["openid", "files:read"]);
        assert_eq!(step_up.description(), Some("writing needs files:write"));
        assert_eq!(
            step_up.resource_metadata(),
            Some("https://files.example/.well-known/oauth-protected-resource")
        );
        assert!(e.to_string().contains("files:read files:write"), "{e}");
        assert!(!e.to_string().contains("at-read"), "{e}");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            before + 1,
            "{path}: sent once, not retried"
        );
    }
    assert_eq!(
        fake.token_requests(),
        0,
        "a refresh cannot widen a grant: none was tried"
    );
    assert_eq!(
        api.get(server.url("/write-401"))
            .send()
            .await
            .unwrap_err()
            .insufficient_scope()
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn insufficient_scope_step_up_asks_for_the_union_of_granted_and_needed_scopes() {
    let fake = FakeTokenEndpoint::start().await;
    let server = resource_server(Arc::default()).await;
    let source = read_only_source(&fake).await;
    let api = AuthorizedClient::new(source.clone()).unwrap();
    let e = api.get(server.url("/write")).send().await.unwrap_err();
    let step_up = e.insufficient_scope().unwrap();
    assert_eq!(
        step_up.scopes_for_step_up(),
        ["openid", "files:read", "files:write"]
    );
    // The same union from a stored token set.
    let stored = source.access_token().await.unwrap();
    assert_eq!(
        step_up.union_with(stored.token_set().scopes()),
        ["openid", "files:read", "files:write"]
    );

    let provider = Provider::builder("files-as")
        .authorization_endpoint(&format!("{}/authorize", fake.url))
        .token_endpoint(&format!("{}/token", fake.url))
        .build()
        .unwrap();
    let client = Client::builder(provider, "mcp-client")
        .redirect_uri("http://127.0.0.1/callback")
        .build()
        .unwrap();
    let (url, _pending) = client
        .authorize()
        .scopes(step_up.scopes_for_step_up())
        .build()
        .unwrap();
    let scope = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    assert_eq!(scope.as_deref(), Some("openid files:read files:write"));
}

#[tokio::test]
async fn insufficient_scope_other_refusals_stay_responses() {
    let fake = FakeTokenEndpoint::start().await;
    let server = resource_server(Arc::default()).await;
    let api = AuthorizedClient::new(read_only_source(&fake).await).unwrap();
    // A 403 without a challenge, and another scheme's `error`, are the caller's to judge.
    for path in ["/forbidden", "/other-scheme"] {
        let response = api.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
}
