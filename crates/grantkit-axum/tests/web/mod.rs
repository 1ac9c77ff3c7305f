//! An app with routes of the test's own on the grantkit-axum layer, against the oidc-provider
//! peer (the shared `support` module's `TestApp`, built with other routes and settings).
#![allow(dead_code)]

use axum::Router;
use grantkit::{Client, ClientBuilder};
use grantkit_axum::{Grantkit, GrantkitBuilder, Settings};
use grantkit_testkit::OidcPeer;

use crate::support::{TestApp, Upstream, CLIENT_ID, CLIENT_SECRET};

/// How a test sets its app up; every hook defaults to nothing.
pub struct Setup<'a> {
    pub peer_env: Vec<(&'a str, &'a str)>,
    pub client: Box<dyn FnOnce(ClientBuilder) -> ClientBuilder>,
    pub layer: Box<dyn FnOnce(GrantkitBuilder) -> GrantkitBuilder>,
    pub settings: Settings,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            peer_env: Vec::new(),
            client: Box::new(|c| c),
            layer: Box::new(|b| b),
            settings: Settings {
                callback_path: "/callback".into(),
                ..Settings::default()
            },
        }
    }
}

/// Starts `routes(&gk)` under the layer on 127.0.0.1:0; `None` when the peer is not installed.
pub async fn start(
    test: &str,
    setup: Setup<'_>,
    routes: impl FnOnce(&Grantkit) -> Router,
) -> Option<TestApp> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut env = vec![("PEER_WEB_APP_ORIGIN", origin.as_str())];
    env.extend(setup.peer_env);
    let peer = OidcPeer::shared_with_env(test, &env)?;
    let provider = peer.discover().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .redirect_uri(format!("{origin}/callback"));
    let client = (setup.client)(client).build().unwrap();
    let builder = Grantkit::builder(client).settings(setup.settings);
    let gk = (setup.layer)(builder).build();
    let app = gk.attach(routes(&gk));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Some(TestApp {
        origin,
        peer,
        gk,
        upstream: Upstream::default(),
        // These apps have no `idp` API; nothing is recorded there.
        idp: Upstream::default(),
    })
}
