//! OpenID Connect against the real `oidc-provider` peer: discovery, RS256 and ES256 ID tokens
//! validated against its JWKS, userinfo, and a signing-key rotation on the provider's side.
//! Test names follow the OpenID Foundation's RP conformance cases.

use base64::Engine as _;
use grantkit::{Client, Provider, TokenSet};
use grantkit_testkit::{login, OidcPeer, PeerClient};

/// `client` of the peer on `provider`, asking for `openid email profile`; grantkit picks the
/// auth method from discovery.
fn client(provider: Provider, client: PeerClient) -> Client {
    client
        .builder(provider)
        .scopes(["openid", "email", "profile"])
        .build()
        .unwrap()
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
    let Some(peer) = OidcPeer::shared("rp_discovery_openid_configuration") else {
        return;
    };
    let provider = peer.discover().await.unwrap();
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
    let Some(peer) = OidcPeer::shared("rp_response_type_code_and_rp_id_token_sig_rs256") else {
        return;
    };
    let client = client(peer.discover().await.unwrap(), PeerClient::PUBLIC);
    assert!(client.is_openid());
    let tokens = login(&client, Some("alice")).await.unwrap();
    assert_eq!(header_alg(&tokens).0, "RS256");
    let claims = tokens.id_token_claims().expect("validated claims");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, peer.issuer());
    assert_eq!(claims.aud, ["public-client"]);
}

#[tokio::test]
async fn rp_id_token_sig_es256() {
    let Some(peer) = OidcPeer::shared("rp_id_token_sig_es256") else {
        return;
    };
    let client = client(peer.discover().await.unwrap(), PeerClient::ES256);
    let tokens = login(&client, Some("bob")).await.unwrap();
    assert_eq!(header_alg(&tokens).0, "ES256");
    assert_eq!(tokens.id_token_claims().unwrap().sub, "bob");
}

#[tokio::test]
async fn rp_token_endpoint_client_secret_basic() {
    let Some(peer) = OidcPeer::shared("rp_token_endpoint_client_secret_basic") else {
        return;
    };
    let client = client(peer.discover().await.unwrap(), PeerClient::BASIC);
    assert_eq!(client.auth_method().as_str(), "client_secret_basic");
    let tokens = login(&client, Some("carol")).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, "carol");
}

#[tokio::test]
async fn rp_scope_userinfo_claims_and_rp_userinfo_bearer_header() {
    let Some(peer) = OidcPeer::shared("rp_scope_userinfo_claims_and_rp_userinfo_bearer_header")
    else {
        return;
    };
    let client = client(peer.discover().await.unwrap(), PeerClient::PUBLIC);
    let tokens = login(&client, Some("dave")).await.unwrap();
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
    let Some(peer) = OidcPeer::shared("refresh_keeps_the_validated_identity") else {
        return;
    };
    let client = client(peer.discover().await.unwrap(), PeerClient::PUBLIC);
    let tokens = login(&client, Some("erin")).await.unwrap();
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
    let client = client(peer.discover().await.unwrap(), PeerClient::PUBLIC);

    let first = login(&client, Some("frank")).await.unwrap();
    let (_, old_kid) = header_alg(&first);
    assert_eq!(
        client.jwks_fetch_count(),
        1,
        "keys fetched once from jwks_uri"
    );
    login(&client, Some("frank")).await.unwrap();
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

    let second = login(&client, Some("frank")).await.unwrap();
    let (_, new_kid) = header_alg(&second);
    assert_ne!(new_kid, old_kid, "the provider signs with the new key");
    assert_eq!(second.id_token_claims().unwrap().sub, "frank");
    assert_eq!(
        client.jwks_fetch_count(),
        2,
        "exactly one re-fetch for the unknown kid"
    );
}
