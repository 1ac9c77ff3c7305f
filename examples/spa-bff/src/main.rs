//! A single-page app (one static HTML file, no build step) behind a grantkit-axum
//! backend-for-frontend, against the oidc-provider test peer (`scripts/install-peer` first):
//!
//! ```text
//! cargo run -p example-spa-bff        # then open the printed URL
//! ```
//!
//! The page never sees a token: it calls `/bff/user`, the proxy `/bff/api/idp/me` (the peer's
//! userinfo, called with the user's access token) and `/bff/logout`, with its session cookie
//! and the `X-Grantkit-CSRF` header.

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use grantkit::Client;
use grantkit_axum::{BffApis, Grantkit, Settings};
use grantkit_testkit::OidcPeer;

const SPA: &str = include_str!("../static/index.html");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let origin = format!("http://{}", listener.local_addr()?);
    // The peer registers `web-app-client` for this origin (redirect, post-logout and
    // back-channel logout URIs).
    let peer = OidcPeer::start_with_env(&[("PEER_WEB_APP_ORIGIN", &origin)])?;
    let client = Client::builder(peer.discover().await?, "web-app-client")
        .client_secret("web-app-secret")
        .redirect_uri(format!("{origin}/callback"))
        .build()?;
    let settings = Settings {
        callback_path: "/callback".into(),
        ..Settings::default()
    };
    let gk = Grantkit::builder(client).settings(settings).build();
    let apis = BffApis::new().api("idp", &peer.url("/"))?;
    let spa = Router::new().route("/", get(|| async { Html(SPA) }));
    let app = gk.attach(spa.merge(gk.bff(apis)));
    println!("SPA on {origin}/ (provider {})", peer.issuer());
    axum::serve(listener, app).await?;
    Ok(())
}
