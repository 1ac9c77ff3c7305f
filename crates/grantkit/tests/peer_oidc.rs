//! OpenID Connect against the real `oidc-provider` peer: discovery, RS256 and ES256 ID tokens
//! validated against its JWKS, userinfo, and a signing-key rotation on the provider's side.
//! Test names follow the OpenID Foundation's RP conformance cases.

use std::sync::OnceLock;

use base64::Engine as _;
use grantkit::oidc::Discovery;
use grantkit::{Client, Provider, TokenSet};
use grantkit_testkit::{Browser, OidcPeer};

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

fn shared_peer(test: &str) -> Option<&'static OidcPeer> {
    static PEER: OnceLock<Option<OidcPeer>> = OnceLock::new();
    PEER.get_or_init(|| OidcPeer::start_or_skip(test)).as_ref()
}

async fn discover(peer: &OidcPeer) -> Provider {
    Discovery::new(peer.issuer()).fetch().await.unwrap()
}

fn client(provider: Provider, id: &str, secret: Option<&str>) -> Client {
    let mut b = Client::builder(provider, id)
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email", "profile"]);
    if let Some(secret) = secret {
        b = b.client_secret(secret);
    }
    b.build().unwrap()
}

async fn login(client: &Client, user: &str) -> TokenSet {
    let (url, pending) = client
        .authorize()
        .param("login_hint", user)
        .build()
        .unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code).await.unwrap()
}

fn header_alg(tokens: &TokenSet) -> (String, Option<String>) {
    let raw = tokens.id_token().unwrap().expose();
    let header = raw.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    (
        v["alg"].as_str().unwrap().to_owned(),
        v["kid"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn rp_discovery_openid_configuration() {
    let Some(peer) = shared_peer("rp_discovery_openid_configuration") else {
        return;
    };
    let provider = discover(peer).await;
    assert_eq!(provider.issuer(), Some(peer.issuer()));
    let meta = provider.metadata().unwrap();
    assert_eq!(
        meta.token_endpoint.as_deref(),
        Some(peer.url("/token").as_str())
    );
    assert!(
        provider.iss_parameter_supported(),
        "the peer advertises RFC 9207"
    );
    assert!(
        !meta.extra.is_empty(),
        "members grantkit does not model are kept"
    );
    for m in ["none", "client_secret_basic", "client_secret_post"] {
        assert!(
            provider.auth_methods().iter().any(|a| a.as_str() == m),
            "{m}"
        );
    }
}

#[tokio::test]
async fn rp_response_type_code_and_rp_id_token_sig_rs256() {
    let Some(peer) = shared_peer("rp_response_type_code_and_rp_id_token_sig_rs256") else {
        return;
    };
    let client = client(discover(peer).await, "public-client", None);
    assert!(client.is_openid());
    let tokens = login(&client, "alice").await;
    assert_eq!(header_alg(&tokens).0, "RS256");
    let claims = tokens.id_token_claims().expect("validated claims");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, peer.issuer());
    assert_eq!(claims.aud, ["public-client"]);
}

#[tokio::test]
async fn rp_id_token_sig_es256() {
    let Some(peer) = shared_peer("rp_id_token_sig_es256") else {
        return;
    };
    let client = client(discover(peer).await, "es256-client", Some("es256-secret"));
    let tokens = login(&client, "bob").await;
    assert_eq!(header_alg(&tokens).0, "ES256");
    assert_eq!(tokens.id_token_claims().unwrap().sub, "bob");
}

#[tokio::test]
async fn rp_token_endpoint_client_secret_basic() {
    let Some(peer) = shared_peer("rp_token_endpoint_client_secret_basic") else {
        return;
    };
    let client = client(
        discover(peer).await,
        "basic-client",
        Some("basic+secret%with:odd/chars"),
    );
    assert_eq!(client.auth_method().as_str(), "client_secret_basic");
    let tokens = login(&client, "carol").await;
    assert_eq!(tokens.id_token_claims().unwrap().sub, "carol");
}

#[tokio::test]
async fn rp_scope_userinfo_claims_and_rp_userinfo_bearer_header() {
    let Some(peer) = shared_peer("rp_scope_userinfo_claims_and_rp_userinfo_bearer_header") else {
        return;
    };
    let client = client(discover(peer).await, "public-client", None);
    let tokens = login(&client, "dave").await;
    let info = client.userinfo(&tokens).await.unwrap();
    assert_eq!(info.sub, "dave");
    assert_eq!(
        info.email.as_deref(),
        Some("dave@example.test"),
        "email scope → email claim"
    );
    assert_eq!(info.email_verified, Some(true));
    assert_eq!(
        info.name.as_deref(),
        Some("Dave"),
        "profile scope → name claim"
    );
}

#[tokio::test]
async fn refresh_keeps_the_validated_identity() {
    let Some(peer) = shared_peer("refresh_keeps_the_validated_identity") else {
        return;
    };
    let client = client(discover(peer).await, "public-client", None);
    let tokens = login(&client, "erin").await;
    let refreshed = client.refresh(&tokens).await.unwrap();
    assert_eq!(refreshed.id_token_claims().unwrap().sub, "erin");
    assert_eq!(client.userinfo(&refreshed).await.unwrap().sub, "erin");
}

#[tokio::test]
async fn rp_discovery_jwks_uri_keys_and_rp_key_rotation_op_sign_key() {
    // Its own peer: the rotation must not disturb the other tests.
    let Some(peer) = OidcPeer::start_or_skip("rp_key_rotation_op_sign_key") else {
        return;
    };
    let client = client(discover(&peer).await, "public-client", None);

    let first = login(&client, "frank").await;
    let (_, old_kid) = header_alg(&first);
    assert_eq!(
        client.jwks_fetch_count(),
        1,
        "keys fetched once from jwks_uri"
    );
    login(&client, "frank").await;
    assert_eq!(
        client.jwks_fetch_count(),
        1,
        "a warm cache makes no request"
    );

    let kids = peer.rotate_keys().await.unwrap();
    assert!(
        !kids.contains(old_kid.as_ref().unwrap()),
        "old key withdrawn: {kids:?}"
    );

    let second = login(&client, "frank").await;
    let (_, new_kid) = header_alg(&second);
    assert_ne!(new_kid, old_kid, "the provider signs with the new key");
    assert_eq!(second.id_token_claims().unwrap().sub, "frank");
    assert_eq!(
        client.jwks_fetch_count(),
        2,
        "exactly one re-fetch for the unknown kid"
    );
}
