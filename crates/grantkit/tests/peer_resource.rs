//! Resource indicators (RFC 8707) against the real `oidc-provider` peer: its `resource-client`
//! logs in for two resource servers whose access tokens are JWTs with the indicator as `aud`
//! (`RESOURCE_SERVERS` in `oidc-peer/server.mjs`); any other indicator is `invalid_target`.
//!
//! oidc-provider 9 (`lib/helpers/resolve_resource.js`): a token request names at most one
//! resource, which must be among those the grant covers, else `invalid_target`; with `openid` in
//! the scope and no `resource`, the access token is an opaque one for userinfo (the peer keeps
//! `useGrantedResource` off), so a JWT with the right `aud` proves grantkit sent the indicator.

use std::sync::Arc;

use base64::Engine;
use grantkit::error::Refusal;
use grantkit::store::{MemoryTokenStore, TokenStore};
use grantkit::{
    Client, Endpoint, Error, OAuthErrorCode, PendingAuthorization, Provider, TokenSet, TokenSource,
};
use grantkit_testkit::{Browser, OidcPeer, PEER_REDIRECT_URI};

const ORDERS: &str = "https://orders.grantkit.test/";
const REPORTS: &str = "https://reports.grantkit.test/";
const UNKNOWN: &str = "https://unknown.grantkit.test/";

fn client(provider: Provider) -> Client {
    Client::builder(provider, "resource-client")
        .client_secret("resource-secret")
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "offline_access", "api:read"])
        .build()
        .unwrap()
}

/// The `aud` of a JWT access token, read without checking it: the peer signed it, and the test
/// asks only which resource it is for. `None` for an opaque token.
fn audience(token: &TokenSet) -> Option<String> {
    let payload = token.access_token().expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["aud"].as_str().map(str::to_owned)
}

/// A login for `resources`, pushed or not; returns the pending authorization with the callback.
async fn authorize(
    client: &Client,
    resources: &[&str],
    push: bool,
) -> (String, PendingAuthorization) {
    let mut request = client.authorize();
    for resource in resources {
        request = request.resource(*resource);
    }
    let (url, pending) = if push {
        request.push().await.unwrap()
    } else {
        request.build().unwrap()
    };
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    (callback, pending)
}

/// A login for both resources, the code exchanged for an orders token.
async fn orders_login(client: &Client) -> TokenSet {
    let (callback, pending) = authorize(client, &[ORDERS, REPORTS], false).await;
    assert_eq!(pending.resources(), [ORDERS, REPORTS]);
    let code = pending.verify_callback(&callback).unwrap();
    // The peer mints one audience per token: the exchange picks one of the two.
    client
        .exchange_code_request(code)
        .resource(ORDERS)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn resource_indicator_is_carried_through_par_the_code_exchange_and_every_refresh() {
    let Some(peer) = OidcPeer::shared(
        "resource_indicator_is_carried_through_par_the_code_exchange_and_every_refresh",
    ) else {
        return;
    };
    let client = client(peer.discover().await.unwrap());
    let (callback, pending) = authorize(&client, &[ORDERS], true).await;
    let code = pending.verify_callback(&callback).unwrap();
    // No `resource` named here: the login's is sent again.
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(audience(&tokens).as_deref(), Some(ORDERS));
    assert_eq!(tokens.resources(), [ORDERS]);
    assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");

    let refreshed = client.refresh(&tokens).await.unwrap();
    assert_eq!(audience(&refreshed).as_deref(), Some(ORDERS));
    assert_ne!(refreshed.refresh_token(), tokens.refresh_token(), "rotated");
    let again = client.refresh(&refreshed).await.unwrap();
    assert_eq!(audience(&again).as_deref(), Some(ORDERS));
}

#[tokio::test]
async fn one_refresh_token_mints_an_access_token_per_resource_each_with_its_audience() {
    let Some(peer) = OidcPeer::shared(
        "one_refresh_token_mints_an_access_token_per_resource_each_with_its_audience",
    ) else {
        return;
    };
    let client = client(peer.discover().await.unwrap());
    let orders = orders_login(&client).await;
    assert_eq!(audience(&orders).as_deref(), Some(ORDERS));

    let reports = client
        .refresh_request(&orders)
        .resource(REPORTS)
        .send()
        .await
        .unwrap();
    assert_eq!(audience(&reports).as_deref(), Some(REPORTS));
    assert_eq!(reports.resources(), [REPORTS]);
    // The rotated refresh token still covers the orders server.
    let orders_again = client
        .refresh_request(&reports)
        .resource(ORDERS)
        .send()
        .await
        .unwrap();
    assert_eq!(audience(&orders_again).as_deref(), Some(ORDERS));
}

#[tokio::test]
async fn token_source_holds_one_access_token_per_resource_and_one_rotating_refresh_token() {
    let Some(peer) = OidcPeer::shared(
        "token_source_holds_one_access_token_per_resource_and_one_rotating_refresh_token",
    ) else {
        return;
    };
    let client = client(peer.discover().await.unwrap());
    let orders = orders_login(&client).await;
    let store = Arc::new(MemoryTokenStore::new());
    let source = TokenSource::builder(client)
        .store(store.clone())
        .tokens(orders.clone())
        .build()
        .await
        .unwrap();

    let reports = source.access_token_for(REPORTS).await.unwrap();
    assert_eq!(audience(reports.token_set()).as_deref(), Some(REPORTS));
    let main = source.access_token_for(ORDERS).await.unwrap();
    assert_eq!(
        main.secret(),
        orders.access_token(),
        "the login's token is the orders one"
    );

    // The refresh for the reports server rotated the refresh token: the main refresh must use
    // the new one (the peer revokes the whole grant when a rotated one is used again).
    let refreshed = source.force_refresh().await.unwrap();
    assert_eq!(audience(refreshed.token_set()).as_deref(), Some(ORDERS));
    assert_ne!(refreshed.secret(), orders.access_token());

    // Each resource keeps its token, and the store keeps them all with the live refresh token.
    let again = source.access_token_for(REPORTS).await.unwrap();
    assert_eq!(
        again.secret(),
        reports.secret(),
        "still valid: not refreshed"
    );
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(
        stored.resource_token(REPORTS).unwrap().access_token(),
        reports.secret()
    );
    assert_eq!(
        stored.refresh_token(),
        source.current().token_set().refresh_token()
    );
    assert!(stored
        .resource_token(REPORTS)
        .unwrap()
        .refresh_token()
        .is_none());
}

#[tokio::test]
async fn a_resource_the_grant_does_not_cover_is_invalid_target() {
    let Some(peer) = OidcPeer::shared("a_resource_the_grant_does_not_cover_is_invalid_target")
    else {
        return;
    };
    let client = client(peer.discover().await.unwrap());
    let orders = orders_login(&client).await;
    let e = client
        .refresh_request(&orders)
        .resource(UNKNOWN)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OAuth(o) if o.code == OAuthErrorCode::InvalidTarget && o.endpoint == Endpoint::Token),
        "{e:?}"
    );
    // Unknown to the provider at all: refused when pushed, before any login.
    let e = client
        .authorize()
        .resource(UNKNOWN)
        .push()
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_code(),
        Some(&OAuthErrorCode::InvalidTarget),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_resource_that_is_not_an_absolute_uri_without_fragment_is_refused_unsent() {
    // Nothing listens here: a request sent would fail as a transport error, not a refusal.
    let provider = Provider::builder("nowhere")
        .authorization_endpoint("http://127.0.0.1:9/authorize")
        .token_endpoint("http://127.0.0.1:9/token")
        .build()
        .unwrap();
    let client = client(provider);
    let refused = |e: &Error, at: Endpoint| matches!(e, Error::Refused { endpoint, reason: Refusal::InvalidResource { .. } } if *endpoint == at);
    for bad in [
        "orders.grantkit.test",
        "https://orders.grantkit.test/#x",
        "/api",
    ] {
        let e = client.authorize().resource(bad).build().unwrap_err();
        assert!(refused(&e, Endpoint::Authorization), "{bad}: {e:?}");
        let tokens = TokenSet::from_response(
            br#"{"access_token":"a","refresh_token":"r"}"#,
            std::time::SystemTime::now(),
        )
        .unwrap();
        let e = client
            .refresh_request(&tokens)
            .resource(bad)
            .send()
            .await
            .unwrap_err();
        assert!(refused(&e, Endpoint::Token), "{bad}: {e:?}");
    }
    // `param` is the raw way, for vendors whose `resource` is no URI (Azure AD v1 takes an
    // application id): sent and carried as given.
    let app_id = "00000002-0000-0000-c000-000000000000";
    let (url, pending) = client
        .authorize()
        .param("resource", app_id)
        .build()
        .unwrap();
    assert!(url.as_str().contains(app_id));
    assert_eq!(pending.resources(), [app_id]);
}

#[test]
fn a_pending_authorization_saved_before_resource_indicators_still_reads() {
    // The 0.1 format: no `resources` member.
    let old = r#"{"state":"s-123","code_verifier":"v-456","nonce":"n-789",
        "redirect_uri":"http://127.0.0.1/callback","issuer":"https://op.example",
        "require_iss":true,"scope":"openid","created_at":1700000000}"#;
    let pending: PendingAuthorization = serde_json::from_str(old).unwrap();
    assert!(pending.resources().is_empty());
    assert_eq!(pending.state().expose(), "s-123");
    // And a token set saved before then: no resources, no per-resource tokens.
    let tokens: TokenSet =
        serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer","refresh_token":"r"}"#)
            .unwrap();
    assert!(tokens.resources().is_empty() && tokens.resource_token(ORDERS).is_none());
    // Written back, an old value stays what it was: the new members are left out when empty.
    let json = serde_json::to_value(&pending).unwrap();
    assert!(json.get("resources").is_none());
}
