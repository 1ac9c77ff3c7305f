//! An app with routes of the test's own on the grantkit-axum layer, against the oidc-provider
//! peer (the shared `support` module's `TestApp`, built with other routes and settings).
#![allow(dead_code)]

use axum::Router;
use grantkit_axum::Grantkit;

pub use crate::support::Setup;
use crate::support::{layer_for, serve, TestApp, Upstream};

/// Starts `routes(&gk)` under the layer on 127.0.0.1:0; `None` when the peer is not installed.
pub async fn start(
    test: &str,
    setup: Setup<'_>,
    routes: impl FnOnce(&Grantkit) -> Router,
) -> Option<TestApp> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut env = vec![("PEER_WEB_APP_ORIGIN", origin.as_str())];
    env.extend(setup.peer_env.iter().copied());
    let (peer, gk) = layer_for(test, &origin, &env, setup).await?;
    serve(listener, gk.attach(routes(&gk)));
    Some(TestApp {
        origin,
        peer,
        gk,
        upstream: Upstream::default(),
        // These apps have no `idp` API; nothing is recorded there.
        idp: Upstream::default(),
    })
}
