//! Shared steps: a client of the fake, and linking a user through the consent step.
#![allow(dead_code)] // each test binary uses a part

use grantkit::{Client, PendingAuthorization, TokenSet};
use grantkit_polar_accesslink::Endpoints;
use grantkit_testkit::{
    Browser, FakeAccessLink, ACCESSLINK_CLIENT_ID, ACCESSLINK_CLIENT_SECRET,
    ACCESSLINK_REDIRECT_URI,
};

pub async fn fake() -> FakeAccessLink {
    FakeAccessLink::start().await.expect("fake AccessLink")
}

pub fn endpoints(fake: &FakeAccessLink) -> Endpoints {
    Endpoints::at(&fake.base_url())
}

/// A client with the registered redirect URI (sent on authorization, so repeated at the token step).
pub fn client(fake: &FakeAccessLink) -> Client {
    Client::builder(endpoints(fake).provider().unwrap(), ACCESSLINK_CLIENT_ID)
        .client_secret(ACCESSLINK_CLIENT_SECRET)
        .redirect_uri(ACCESSLINK_REDIRECT_URI)
        .build()
        .unwrap()
}

/// A client that sends no redirect URI (AccessLink then uses the registered one).
pub fn client_without_redirect(fake: &FakeAccessLink) -> Client {
    Client::builder(endpoints(fake).provider().unwrap(), ACCESSLINK_CLIENT_ID)
        .client_secret(ACCESSLINK_CLIENT_SECRET)
        .build()
        .unwrap()
}

/// The browser part: authorization → consent → the callback URL.
pub async fn consent(client: &Client) -> (String, PendingAuthorization) {
    let (url, pending) = client.authorize().build().unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), ACCESSLINK_REDIRECT_URI)
        .await
        .unwrap();
    (callback, pending)
}

/// Links the fake's current user: consent, callback check, code exchange.
pub async fn link(client: &Client) -> TokenSet {
    let (callback, pending) = consent(client).await;
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code).await.unwrap()
}
