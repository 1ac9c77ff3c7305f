//! Protected resource metadata (RFC 9728) on a small resource server on loopback, as an MCP
//! server serves it: a `401` with `WWW-Authenticate: Bearer resource_metadata="..."` (§5.1),
//! the metadata at the path-inserted well-known URL (§3.1), and the authorization server it
//! names, discovered by OpenID Connect Discovery (the peer) or RFC 8414 (a plain OAuth
//! server with an issuer path: `/.well-known/oauth-authorization-server/as`).

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use grantkit::resource::{self, ResourceDiscovery};
use grantkit::{Endpoint, Error};
use grantkit_testkit::{OidcPeer, TestServer};
use serde_json::json;

/// The resource server's own base URL, known once it is bound; and the peer's issuer.
#[derive(Clone, Default)]
struct Urls {
    base: Arc<OnceLock<String>>,
    peer: Arc<OnceLock<String>>,
}

impl Urls {
    fn base(&self) -> &str {
        self.base.get().unwrap()
    }
}

fn metadata(resource: String, authorization_server: String) -> Response {
    Json(json!({
        "resource": resource,
        "authorization_servers": [authorization_server],
        "scopes_supported": ["files:read", "files:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "files",
    }))
    .into_response()
}

async fn resource_server() -> (TestServer, Urls) {
    let urls = Urls::default();
    let app = Router::new()
        // The MCP endpoint: 401 naming its metadata.
        .route(
            "/mcp",
            get(|State(u): State<Urls>| async move {
                let challenge = format!(
                    r#"Bearer realm="mcp", resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
                    u.base()
                );
                (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)])
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(|State(u): State<Urls>| async move {
                metadata(format!("{}/mcp", u.base()), u.peer.get().cloned().unwrap_or_default())
            }),
        )
        // A resource whose authorization server is a plain OAuth server (RFC 8414) here.
        .route(
            "/.well-known/oauth-protected-resource/files",
            get(|State(u): State<Urls>| async move {
                metadata(format!("{}/files", u.base()), format!("{}/as", u.base()))
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server/as",
            get(|State(u): State<Urls>| async move {
                let issuer = format!("{}/as", u.base());
                Json(json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "registration_endpoint": format!("{issuer}/register"),
                }))
            }),
        )
        // Metadata only at the root: the MCP spec's fallback.
        .route(
            "/.well-known/oauth-protected-resource",
            get(|State(u): State<Urls>| async move {
                metadata(format!("{}/root-only", u.base()), format!("{}/as", u.base()))
            }),
        )
        // A server passing off another resource's metadata as its own.
        .route(
            "/.well-known/oauth-protected-resource/impostor",
            get(|State(u): State<Urls>| async move {
                metadata("https://bank.example/api".into(), format!("{}/as", u.base()))
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/ssrf",
            get(|State(u): State<Urls>| async move {
                metadata(format!("{}/ssrf", u.base()), "http://169.254.169.254/latest".into())
            }),
        )
        .with_state(urls.clone());
    let server = TestServer::start(app).await.unwrap();
    urls.base.set(server.base_url()).unwrap();
    (server, urls)
}

#[tokio::test]
async fn protected_resource_discovery_from_a_401_reaches_the_peer() {
    let Some(peer) = OidcPeer::shared("protected_resource_discovery_from_a_401_reaches_the_peer")
    else {
        return;
    };
    let (server, urls) = resource_server().await;
    urls.peer.set(peer.issuer().to_owned()).unwrap();
    let mcp = server.url("/mcp");
    let answer = reqwest::get(&mcp).await.unwrap();
    assert_eq!(answer.status(), 401);
    let challenge = answer.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();

    let (resource, provider) = ResourceDiscovery::from_challenge(&mcp, challenge)
        .discover()
        .await
        .unwrap();
    assert_eq!(resource.resource, mcp);
    assert_eq!(resource.scopes_supported, ["files:read", "files:write"]);
    assert_eq!(provider.issuer(), Some(peer.issuer()));
    assert!(provider.endpoint(Endpoint::Token).is_ok());
}

#[tokio::test]
async fn protected_resource_well_known_path_insertion_and_rfc_8414_authorization_server() {
    let (server, _urls) = resource_server().await;
    let files = server.url("/files");
    let (resource, provider) = resource::discover(&files).await.unwrap();
    assert_eq!(resource.resource, files);
    // The issuer has a path: its OpenID configuration is 404, its RFC 8414 metadata is at
    // `/.well-known/oauth-authorization-server/as` (RFC 8414 §3.1).
    assert_eq!(provider.issuer(), Some(server.url("/as").as_str()));
    assert_eq!(
        provider
            .metadata()
            .unwrap()
            .registration_endpoint
            .as_deref(),
        Some(server.url("/as/register").as_str())
    );
}

#[tokio::test]
async fn protected_resource_metadata_at_the_root_when_the_path_has_none() {
    let (server, _urls) = resource_server().await;
    let root_only = server.url("/root-only");
    let resource = ResourceDiscovery::new(&root_only).metadata().await.unwrap();
    assert_eq!(resource.resource, root_only);
}

#[tokio::test]
async fn protected_resource_impersonation_another_resources_metadata_is_refused() {
    let (server, _urls) = resource_server().await;
    // RFC 9728 §3.3: the `resource` must be the URL the metadata was fetched for.
    let e = resource::discover(&server.url("/impostor"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::ResourceMismatch { found, .. } if found == "https://bank.example/api"),
        "{e:?}"
    );
    // The same through a challenge naming that document for another resource.
    let challenge = format!(
        r#"Bearer resource_metadata="{}""#,
        server.url("/.well-known/oauth-protected-resource/mcp")
    );
    let e = ResourceDiscovery::from_challenge(server.url("/files"), &challenge)
        .metadata()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ResourceMismatch { .. }), "{e:?}");
}

#[tokio::test]
async fn protected_resource_ssrf_targets_named_by_the_resource_server_are_refused() {
    let (server, _urls) = resource_server().await;
    let challenge = r#"Bearer resource_metadata="http://169.254.169.254/latest/meta-data/""#;
    let e = ResourceDiscovery::from_challenge(server.url("/mcp"), challenge)
        .metadata()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnsafeEndpoint { field, .. } if field == "resource_metadata"),
        "{e:?}"
    );
    let e = resource::discover(&server.url("/ssrf")).await.unwrap_err();
    assert!(
        matches!(&e, Error::UnsafeEndpoint { field, .. } if field == "authorization_servers"),
        "{e:?}"
    );
}
