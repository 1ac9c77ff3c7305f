//! DPoP (RFC 9449) against the real `oidc-provider` peer: token requests with proofs, tokens
//! bound to the key (`token_type: DPoP`), resource calls to the userinfo endpoint (`/me`) with a
//! proof per request, and server nonces (`PEER_DPOP_NONCE=1`) at both the token endpoint and
//! the resource server.

use grantkit::dpop::DpopKey;
use grantkit::{AuthorizedClient, Client, OAuthErrorCode, Provider, TokenSource, TokenType};
use grantkit_testkit::{login, OidcPeer, PeerClient};

/// `dpop-client` with `key` (or without one).
fn dpop_client(provider: Provider, key: Option<DpopKey>) -> Client {
    let builder = PeerClient::DPOP
        .builder(provider)
        .scopes(["openid", "email"]);
    match key {
        Some(key) => builder.dpop(key),
        None => builder,
    }
    .build()
    .unwrap()
}

#[tokio::test]
async fn dpop_bound_tokens_work_for_userinfo_the_authorized_client_and_refresh() {
    let Some(peer) =
        OidcPeer::shared("dpop_bound_tokens_work_for_userinfo_the_authorized_client_and_refresh")
    else {
        return;
    };
    let key = DpopKey::generate().unwrap();
    let client = dpop_client(peer.discover().await.unwrap(), Some(key.clone()));
    let (url, _) = client.authorize().build().unwrap();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "dpop_jkt" && v == key.thumbprint()),
        "the code is bound to the key"
    );
    let tokens = login(&client, None).await.unwrap();
    assert_eq!(tokens.token_type(), &TokenType::DPoP);
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "alice");

    let source = TokenSource::builder(client.clone())
        .tokens(tokens)
        .build()
        .await
        .unwrap();
    let api = AuthorizedClient::new(source.clone()).unwrap();
    for _ in 0..2 {
        let response = api.get(peer.url("/me")).send().await.unwrap();
        assert_eq!(response.status(), 200, "a fresh proof per request");
        let me: serde_json::Value = response.json().await.unwrap();
        assert_eq!(me["sub"], "alice");
    }
    // The refresh token is bound to the key too (a public client): refreshing needs a proof.
    let before = source.current();
    let after = source.force_refresh().await.unwrap();
    assert_ne!(before.expose(), after.expose());
    assert_eq!(after.token_type(), &TokenType::DPoP);
    let response = api.get(peer.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_ed25519_key_binds_tokens_and_signs_every_proof() {
    let Some(peer) = OidcPeer::shared("an_ed25519_key_binds_tokens_and_signs_every_proof") else {
        return;
    };
    let key = DpopKey::generate_ed25519().unwrap();
    assert_eq!(key.algorithm(), "EdDSA");
    let client = dpop_client(peer.discover().await.unwrap(), Some(key.clone()));
    let tokens = login(&client, None).await.unwrap();
    assert_eq!(tokens.token_type(), &TokenType::DPoP);
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "alice");
    let refreshed = client.refresh(&tokens).await.unwrap();
    assert_eq!(refreshed.token_type(), &TokenType::DPoP);
    // Bound to this key: the same token with a P-256 key's proofs is refused.
    let thief = dpop_client(
        peer.discover().await.unwrap(),
        Some(DpopKey::generate().unwrap()),
    );
    let err = thief.userinfo(&refreshed).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidToken),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bound_token_is_refused_as_bearer_and_with_another_key() {
    let Some(peer) = OidcPeer::shared("a_bound_token_is_refused_as_bearer_and_with_another_key")
    else {
        return;
    };
    let client = dpop_client(
        peer.discover().await.unwrap(),
        Some(DpopKey::generate().unwrap()),
    );
    let tokens = login(&client, None).await.unwrap();

    // As a Bearer token, without a proof.
    let response = reqwest::Client::new()
        .get(peer.url("/me"))
        .bearer_auth(tokens.access_token().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "a stolen DPoP token is no Bearer token"
    );

    // With a proof from another key (a thief with their own key).
    let thief = dpop_client(
        peer.discover().await.unwrap(),
        Some(DpopKey::generate().unwrap()),
    );
    let err = thief.userinfo(&tokens).await.unwrap_err();
    let code = err.oauth_code().unwrap_or_else(|| panic!("{err}"));
    assert!(
        matches!(
            code,
            OAuthErrorCode::InvalidToken | OAuthErrorCode::InvalidDpopProof
        ),
        "{err}"
    );
    // And the thief cannot refresh with it either.
    let err = thief.refresh(&tokens).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{err}"
    );
}

#[tokio::test]
async fn a_client_registered_for_dpop_needs_a_key() {
    let Some(peer) = OidcPeer::shared("a_client_registered_for_dpop_needs_a_key") else {
        return;
    };
    let client = dpop_client(peer.discover().await.unwrap(), None);
    let err = login(&client, None).await.unwrap_err();
    let err = err.exchange().unwrap_or_else(|| panic!("{err}"));
    // oidc-provider hides the reason ("DPoP proof JWT not provided") behind `invalid_grant`.
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{err}"
    );
}

#[tokio::test]
async fn server_nonces_are_retried_once_at_the_token_endpoint_and_the_resource_server() {
    // A peer that demands a DPoP nonce on every proof.
    let Some(peer) = OidcPeer::shared_with_env(
        "server_nonces_are_retried_once_at_the_token_endpoint_and_the_resource_server",
        &[("PEER_DPOP_NONCE", "1")],
    ) else {
        return;
    };
    let key = DpopKey::generate().unwrap();
    // Token endpoint: a new client knows no nonce, so its first proof has none; the peer
    // (which requires one on every proof) answers `use_dpop_nonce` with a `DPoP-Nonce`, and the
    // exchange can only succeed through the one retry with it.
    let client = dpop_client(peer.discover().await.unwrap(), Some(key.clone()));
    let tokens = login(&client, None).await.unwrap();
    assert_eq!(tokens.token_type(), &TokenType::DPoP);

    // Resource server: the same key after a restart (a new client, no nonce known yet) meets the
    // `WWW-Authenticate: DPoP error="use_dpop_nonce"` challenge at /me and retries once, both
    // through `Client::userinfo` and through `AuthorizedClient`.
    let restarted = dpop_client(peer.discover().await.unwrap(), Some(key.clone()));
    assert_eq!(restarted.userinfo(&tokens).await.unwrap().sub, "alice");
    let restarted = dpop_client(peer.discover().await.unwrap(), Some(key));
    let source = TokenSource::builder(restarted)
        .tokens(tokens.clone())
        .build()
        .await
        .unwrap();
    let api = AuthorizedClient::new(source).unwrap();
    let response = api.get(peer.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // Another key still fails after the nonce retry: the binding, not the nonce, refuses it.
    let other = dpop_client(
        peer.discover().await.unwrap(),
        Some(DpopKey::generate().unwrap()),
    );
    let err = other.userinfo(&tokens).await.unwrap_err();
    assert_ne!(
        err.oauth_code(),
        Some(&OAuthErrorCode::UseDpopNonce),
        "{err}"
    );
    assert!(err.oauth_code().is_some(), "{err}");
}

#[tokio::test]
async fn confidential_clients_get_dpop_tokens_for_client_credentials() {
    let Some(peer) =
        OidcPeer::shared("confidential_clients_get_dpop_tokens_for_client_credentials")
    else {
        return;
    };
    let key = DpopKey::generate().unwrap();
    let client = PeerClient::BASIC
        .builder(peer.discover().await.unwrap())
        .dpop(key)
        .build()
        .unwrap();
    let tokens = client.client_credentials(["api:read"]).await.unwrap();
    assert_eq!(tokens.token_type(), &TokenType::DPoP);
    let info = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.token_type.as_deref(), Some("DPoP"));
    assert!(
        info.extra.get("cnf").and_then(|c| c.get("jkt")).is_some(),
        "bound to the key's thumbprint: {:?}",
        info.extra
    );
}
