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
//!
//! Replicas: with `SPA_BFF_ISSUER` (a running provider) the example starts no peer; with
//! `SPA_BFF_REDIS_URL` sessions, tokens and logout-token ids live in that Redis, so several
//! processes behind one load balancer (its origin in `SPA_BFF_ORIGIN`) serve one user.
//! `PORT` picks the port (`0`: any free one; default 8080); the process prints
//! `SPA_BFF_LISTENING=<address>` once it listens.

mod app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let own_origin = format!("http://{}", listener.local_addr()?);
    let mut config = app::Config::from_env("", &own_origin)?;
    // Kept alive (and so running) until the process ends.
    let mut _peer = None;
    if config.issuer.is_empty() {
        let env = [("PEER_WEB_APP_ORIGIN", config.origin.as_str())];
        let peer = grantkit_testkit::OidcPeer::start_with_env(&env)?;
        config.issuer = peer.issuer().to_owned();
        _peer = Some(peer);
    }
    if !config.apis.iter().any(|(name, _)| name == "idp") {
        config
            .apis
            .push(("idp".into(), format!("{}/", config.issuer)));
    }
    let app = app::app(&config).await?;
    println!("SPA_BFF_LISTENING={}", listener.local_addr()?);
    println!("SPA on {}/ (provider {})", config.origin, config.issuer);
    axum::serve(listener, app).await?;
    Ok(())
}
