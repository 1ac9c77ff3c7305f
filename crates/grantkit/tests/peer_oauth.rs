//! The core OAuth 2.0 client against a real, independently written authorization server:
//! the npm package `oidc-provider` on loopback (see `crates/grantkit-testkit/oidc-peer`).
//! Each test names the behaviour it proves.

use grantkit::{
    AuthMethod, CallbackError, Client, Error, OAuthErrorCode, PendingAuthorization, TokenTypeHint,
};
use grantkit_testkit::{authorize, login, OidcPeer, PeerClient};

/// `client` of the peer on its written-out provider, with its registered method, asking for
/// `openid email profile`.
fn client(peer: &OidcPeer, client: PeerClient) -> Client {
    client
        .builder(peer.provider().unwrap())
        .auth_method(client.method())
        .scopes(["openid", "email", "profile"])
        .build()
        .unwrap()
}

#[tokio::test]
async fn public_client_code_flow_with_pkce_s256() {
    let Some(peer) = OidcPeer::shared("public_client_code_flow_with_pkce_s256") else {
        return;
    };
    let client = client(peer, PeerClient::PUBLIC);
    let (url, _) = client.authorize().build().unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("code_challenge").map(|c| c.len()), Some(43));
    assert!(
        get("nonce").is_some(),
        "openid requested, so a nonce is sent"
    );

    let tokens = login(&client, Some("alice")).await.unwrap();
    assert!(!tokens.access_token().expose().is_empty());
    assert!(
        tokens.refresh_token().is_some(),
        "peer issues refresh tokens to this client"
    );
    assert!(
        tokens.id_token().is_some(),
        "openid scope yields an ID token"
    );
    assert!(tokens.expires_at().is_some());
    assert!(tokens.scopes().any(|s| s == "openid"));

    let me = client.userinfo(&tokens).await.unwrap();
    assert_eq!(me.sub, "alice");
    assert_eq!(me.email.as_deref(), Some("alice@example.test"));
    assert_eq!(me.name.as_deref(), Some("Alice"));
}

#[tokio::test]
async fn confidential_client_secret_basic_with_urlencoded_credentials() {
    let Some(peer) =
        OidcPeer::shared("confidential_client_secret_basic_with_urlencoded_credentials")
    else {
        return;
    };
    let client = client(peer, PeerClient::BASIC);
    let tokens = login(&client, Some("bob")).await.unwrap();
    let info = client
        .introspect(tokens.access_token(), Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("basic-client"));
    assert_eq!(info.sub.as_deref(), Some("bob"));
}

#[tokio::test]
async fn confidential_client_secret_post() {
    let Some(peer) = OidcPeer::shared("confidential_client_secret_post") else {
        return;
    };
    let client = client(peer, PeerClient::POST);
    let tokens = login(&client, Some("carol")).await.unwrap();
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "carol");
    let info = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("post-client"));
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let Some(peer) = OidcPeer::shared("refresh_rotates_and_the_old_refresh_token_dies") else {
        return;
    };
    let client = client(peer, PeerClient::PUBLIC);
    let first = login(&client, Some("dave")).await.unwrap();
    let second = client.refresh(&first).await.unwrap();
    let (old_rt, new_rt) = (
        first.refresh_token().unwrap(),
        second.refresh_token().unwrap(),
    );
    assert_ne!(old_rt, new_rt, "the peer rotates refresh tokens");
    assert_ne!(first.access_token(), second.access_token());
    assert_eq!(second.scope(), first.scope(), "scope kept across refresh");
    assert_eq!(client.userinfo(&second).await.unwrap().sub, "dave");

    // Replaying the rotated-out refresh token is refused as a dead grant.
    let err = client.refresh(&first).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{err}"
    );
    assert!(err.is_reauthorization_required());
}

#[tokio::test]
async fn revocation_makes_userinfo_refuse_and_introspection_inactive() {
    let Some(peer) =
        OidcPeer::shared("revocation_makes_userinfo_refuse_and_introspection_inactive")
    else {
        return;
    };
    let client = client(peer, PeerClient::BASIC);
    let tokens = login(&client, Some("erin")).await.unwrap();
    assert!(
        client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap()
            .active
    );

    client
        .revoke(tokens.access_token(), Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();

    let err = client.userinfo(&tokens).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidToken),
        "{err}"
    );
    assert_eq!(err.oauth().unwrap().status, Some(401));
    let info = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert!(!info.active, "a revoked token introspects as inactive");
    // RFC 7009: revoking an already-invalid token still succeeds.
    client.revoke(tokens.access_token(), None).await.unwrap();
}

#[tokio::test]
async fn revoke_tokens_on_logout_ends_the_grant() {
    let Some(peer) = OidcPeer::shared("revoke_tokens_on_logout_ends_the_grant") else {
        return;
    };
    let client = client(peer, PeerClient::BASIC);
    let tokens = login(&client, Some("frank")).await.unwrap();
    client.revoke_tokens(&tokens).await.unwrap();
    assert!(client
        .refresh(&tokens)
        .await
        .unwrap_err()
        .is_reauthorization_required());
    assert!(
        !client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn client_credentials_grant() {
    let Some(peer) = OidcPeer::shared("client_credentials_grant") else {
        return;
    };
    let client = client(peer, PeerClient::BASIC);
    let tokens = client.client_credentials(["api:read"]).await.unwrap();
    assert!(tokens.refresh_token().is_none());
    assert!(tokens.scopes().any(|s| s == "api:read"));
    let info = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("basic-client"));
}

#[tokio::test]
async fn wrong_secret_is_typed_invalid_client() {
    let Some(peer) = OidcPeer::shared("wrong_secret_is_typed_invalid_client") else {
        return;
    };
    let client = PeerClient::BASIC
        .builder(peer.provider().unwrap())
        .auth_method(AuthMethod::ClientSecretBasic)
        .client_secret("not-the-secret")
        .scopes(["openid", "email", "profile"])
        .build()
        .unwrap();
    let err = client.client_credentials(["api:read"]).await.unwrap_err();
    let oauth = err
        .oauth()
        .unwrap_or_else(|| panic!("expected an OAuth error, got {err:?}"));
    assert_eq!(oauth.code, OAuthErrorCode::InvalidClient);
    assert_eq!(oauth.status, Some(401));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("not-the-secret"), "secret leaked: {shown}");
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() {
    let Some(peer) = OidcPeer::shared("wrong_code_verifier_is_invalid_grant") else {
        return;
    };
    let client = client(peer, PeerClient::PUBLIC);
    let (callback, pending) = authorize(&client, Some("gina")).await.unwrap();
    // A session store that hands back a tampered pending authorization.
    let mut stored = serde_json::to_value(&pending).unwrap();
    stored["code_verifier"] = "x".repeat(43).into();
    let tampered: PendingAuthorization = serde_json::from_value(stored).unwrap();
    let code = tampered.verify_callback(&callback).unwrap();
    let err = client.exchange_code(code).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(&"x".repeat(43)), "verifier leaked: {shown}");
}

#[tokio::test]
async fn reused_code_is_invalid_grant() {
    let Some(peer) = OidcPeer::shared("reused_code_is_invalid_grant") else {
        return;
    };
    let client = client(peer, PeerClient::BASIC);
    let (callback, pending) = authorize(&client, Some("hank")).await.unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code.clone()).await.unwrap();
    let err = client.exchange_code(code).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{err}"
    );
    assert!(err.is_reauthorization_required());
}

#[tokio::test]
async fn state_mismatch_is_refused_before_any_exchange() {
    let Some(peer) = OidcPeer::shared("state_mismatch_is_refused_before_any_exchange") else {
        return;
    };
    let client = client(peer, PeerClient::PUBLIC);
    let (callback, _ours) = authorize(&client, Some("ivan")).await.unwrap();
    let (_, other_login) = client.authorize().build().unwrap();
    let err = other_login.verify_callback(&callback).unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::StateMismatch)),
        "{err:?}"
    );
}

#[tokio::test]
async fn issuer_mismatch_on_callback_is_refused() {
    let Some(peer) = OidcPeer::shared("issuer_mismatch_on_callback_is_refused") else {
        return;
    };
    let client = client(peer, PeerClient::PUBLIC);
    let (callback, pending) = authorize(&client, Some("judy")).await.unwrap();
    assert!(
        callback.contains("iss="),
        "the peer sends RFC 9207 iss: {callback}"
    );
    let forged = callback.replace("iss=http", "iss=https");
    let err = pending.verify_callback(&forged).unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::IssuerMismatch { .. })),
        "{err:?}"
    );
    let stripped: String = {
        let mut url = url::Url::parse(&callback).unwrap();
        let kept: Vec<_> = url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "iss")
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
        url.into()
    };
    let err = pending.verify_callback(&stripped).unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::MissingIssuer)),
        "{err:?}"
    );
}

#[tokio::test]
async fn access_denied_on_the_callback_is_typed() {
    let Some(peer) = OidcPeer::shared("access_denied_on_the_callback_is_typed") else {
        return;
    };
    let client = client(peer, PeerClient::PUBLIC);
    let (callback, pending) = authorize(&client, Some("deny")).await.unwrap();
    let err = pending.verify_callback(&callback).unwrap_err();
    let oauth = err
        .oauth()
        .unwrap_or_else(|| panic!("expected access_denied, got {err:?}"));
    assert_eq!(oauth.code, OAuthErrorCode::AccessDenied);
    assert_eq!(
        oauth.description.as_deref(),
        Some("the user denied the request")
    );
}
