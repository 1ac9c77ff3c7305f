//! `Client::resource_http_client`, the HTTP client of `AuthorizedClient::new` (and of
//! grantkit-axum): no redirect followed, the client certificate presented (RFC 8705 §3).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use grantkit::mtls::TlsIdentity;
use grantkit::{AuthorizedClient, Client, Provider, TokenSet, TokenSource};
use grantkit_testkit::tls::{MtlsServer, TestCa};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// A server counting the requests it gets, and one answering every request with a `302` to it.
async fn redirect_to_a_counting_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let target = serve(Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "stolen" }
    }))
    .await;
    let location = format!("{target}/steal");
    let redirect = move || {
        let location = location.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, location)]) }
    };
    (serve(Router::new().fallback(redirect)).await, hits)
}

fn client(configure: impl FnOnce(grantkit::ClientBuilder) -> grantkit::ClientBuilder) -> Client {
    let provider = Provider::builder("p")
        .token_endpoint("http://127.0.0.1:9/token")
        .build()
        .unwrap();
    configure(Client::builder(provider, "c")).build().unwrap()
}

async fn source(client: Client) -> TokenSource {
    let body = br#"{"access_token":"at-REDIRECTED","token_type":"Bearer","expires_in":3600}"#;
    let tokens = TokenSet::from_response(body, SystemTime::now()).unwrap();
    TokenSource::builder(client)
        .tokens(tokens)
        .build()
        .await
        .unwrap()
}

/// A resource server's `302` elsewhere is the answer, not followed: before, `AuthorizedClient`
/// used reqwest's default policy (up to 10 redirects, 307/308 re-sending the body), so the
/// request went on to wherever the resource server pointed.
#[tokio::test]
async fn authorized_client_follows_no_redirect_from_the_resource_server() {
    let (api_url, hits) = redirect_to_a_counting_server().await;
    for source in [
        source(client(|c| c)).await,
        TokenSource::static_token("static-REDIRECTED"),
    ] {
        let api = AuthorizedClient::new(source).unwrap();
        let answer = api.get(format!("{api_url}/v1/me")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND);
    }
    let plain = client(|c| c).resource_http_client();
    let answer = plain.get(format!("{api_url}/v1/me")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}

/// RFC 8705 §3: the resource server sees the client's certificate (its thumbprint, the
/// `x5t#S256` a bound token carries), over TLS trusting the client's extra root only.
#[tokio::test]
async fn resource_http_client_presents_the_tls_identity_and_trusts_the_extra_root() {
    let ca = TestCa::new().unwrap();
    let server_cert = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
    let app = Router::new().route("/v1/me", get(|| async { "ok" }));
    let server = MtlsServer::start(&server_cert, ca.cert_pem(), app)
        .await
        .unwrap();
    let identity = TlsIdentity::from_pem(ca.sign("c", &[]).unwrap().identity_pem()).unwrap();
    let root = reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap();
    let with_identity = identity.clone();
    let client = client(move |c| c.tls_identity(with_identity).root_certificate(root));

    let answer = client
        .resource_http_client()
        .get(server.url("/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let api = AuthorizedClient::new(source(client).await).unwrap();
    let answer = api.get(server.url("/v1/me")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    // One handshake: `AuthorizedClient::new` shares the client's connection pool.
    assert_eq!(server.client_thumbprints(), [identity.thumbprint()]);
}
