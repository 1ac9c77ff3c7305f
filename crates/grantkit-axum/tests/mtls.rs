//! grantkit-axum with a client certificate (RFC 8705): the `Authorized` extractor and the BFF
//! proxy call resource servers through `Client::resource_http_client`, so a resource server
//! that requires the certificate (for its certificate-bound tokens, §3) gets it, and a
//! resource server's redirect is not followed.
//!
//! The resource server is `grantkit_testkit::tls::MtlsServer` (rustls, a client certificate
//! chained to the test CA required in the handshake); the login runs against the oidc-provider
//! peer on plain HTTP, whose tokens are unbound: what is checked is the TLS handshake.

mod support;
mod web;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use grantkit::mtls::TlsIdentity;
use grantkit_axum::{Authorized, BffApis, Grantkit};
use grantkit_testkit::tls::{MtlsServer, TestCa};
use support::Browser;
use web::Setup;

/// A route calling `url` through the `Authorized` extractor, answering
/// `<upstream status> <upstream body>`, or `502` with the error.
fn call_through_authorized(url: String) -> Router {
    let call = move |Authorized(api): Authorized| {
        let url = url.clone();
        async move {
            match api.get(url).send().await {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let body = answer.text().await.unwrap_or_default();
                    (StatusCode::OK, format!("{status} {body}"))
                }
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
            }
        }
    };
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/call", get(call))
}

/// RFC 8705 §3: a certificate-bound access token is accepted only with the certificate it is
/// bound to. Before, the extractor used `reqwest::Client::new()` (no certificate, not the
/// client's extra root) and the BFF proxy the client's plain HTTP client (no certificate):
/// neither handshake with this resource server succeeded.
#[tokio::test]
async fn authorized_extractor_and_bff_proxy_present_the_client_certificate() {
    let test = "authorized_extractor_and_bff_proxy_present_the_client_certificate";
    let ca = TestCa::new().unwrap();
    let server_cert = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
    let api = Router::new().route("/v1/{*rest}", get(|| async { "resource ok" }));
    let server = MtlsServer::start(&server_cert, ca.cert_pem(), api)
        .await
        .unwrap();
    let identity = TlsIdentity::from_pem(ca.sign("web-app", &[]).unwrap().identity_pem()).unwrap();
    let root = reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap();
    let presented = identity.clone();
    let setup = Setup {
        client: Box::new(move |c| c.tls_identity(presented).root_certificate(root)),
        ..Setup::default()
    };
    let (me, base) = (server.url("/v1/me"), server.url("/v1"));
    let routes = move |gk: &Grantkit| {
        let apis = BffApis::new().api("rs", &base).unwrap();
        call_through_authorized(me).merge(gk.bff(apis))
    };
    let Some(app) = web::start(test, setup, routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let landed = browser.navigate(&app.url("/bff/login?return_to=%2F")).await;
    assert_eq!(landed.body, "home", "{landed:?}");

    let answer = browser.api(&app.url("/call")).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "200 resource ok");
    let url = app.url("/bff/api/rs/orders/7");
    let (status, body) = browser.spa_fetch(reqwest::Method::GET, &url, true).await;
    assert_eq!((status, body.as_str()), (200, "resource ok"));
    let seen = server.client_thumbprints();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|t| t == identity.thumbprint()), "{seen:?}");
}

/// A resource server's `302` to another server is handed to the route as it came: before, the
/// extractor's default reqwest client followed it (up to 10 hops, a 307/308 re-sending the
/// body), and the other server got the request.
#[tokio::test]
async fn authorized_extractor_follows_no_redirect_from_the_resource_server() {
    let test = "authorized_extractor_follows_no_redirect_from_the_resource_server";
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let elsewhere = serve(Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "followed" }
    }))
    .await;
    let location = format!("{elsewhere}/steal");
    let redirect = move || {
        let location = location.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, location)]) }
    };
    let api = serve(Router::new().fallback(redirect)).await;
    let routes = move |_: &Grantkit| call_through_authorized(format!("{api}/v1/me"));
    let Some(app) = web::start(test, Setup::default(), routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let landed = browser.navigate(&app.url("/auth/login")).await;
    assert_eq!(landed.body, "home", "{landed:?}");

    let answer = browser.api(&app.url("/call")).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "302 ");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    support::serve(listener, app);
    origin
}
