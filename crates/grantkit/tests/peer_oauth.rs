//! The core OAuth 2.0 client against a real, independently written authorization server:
//! the npm package `oidc-provider` on loopback (see `crates/grantkit-testkit/oidc-peer`).
//! Each test names the behaviour it proves.

use std::sync::OnceLock;

use grantkit::{
    AuthMethod, CallbackError, Client, Error, OAuthErrorCode, PendingAuthorization, Provider,
    TokenSet, TokenTypeHint,
};
use grantkit_testkit::{Browser, OidcPeer};

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

/// One peer for the whole test binary; it exits with the process (its stdin closes).
fn peer(test: &str) -> Option<&'static OidcPeer> {
    static PEER: OnceLock<Option<OidcPeer>> = OnceLock::new();
    PEER.get_or_init(|| OidcPeer::start_or_skip(test)).as_ref()
}

fn provider(peer: &OidcPeer) -> Provider {
    Provider::builder("oidc-provider peer")
        .issuer(peer.issuer())
        .authorization_endpoint(&peer.url("/auth"))
        .token_endpoint(&peer.url("/token"))
        .revocation_endpoint(&peer.url("/token/revocation"))
        .introspection_endpoint(&peer.url("/token/introspection"))
        .userinfo_endpoint(&peer.url("/me"))
        .jwks_uri(&peer.url("/jwks"))
        .iss_parameter_supported(true)
        .build()
        .unwrap()
}

fn client(peer: &OidcPeer, id: &str, secret: Option<&str>, method: AuthMethod) -> Client {
    let mut builder = Client::builder(provider(peer), id)
        .auth_method(method)
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email", "profile"]);
    if let Some(secret) = secret {
        builder = builder.client_secret(secret);
    }
    builder.build().unwrap()
}

fn public_client(peer: &OidcPeer) -> Client {
    client(peer, "public-client", None, AuthMethod::None)
}

fn basic_client(peer: &OidcPeer) -> Client {
    // `+`, `%`, `:` and `/` prove the RFC 6749 §2.3.1 encoding of Basic credentials.
    client(
        peer,
        "basic-client",
        Some("basic+secret%with:odd/chars"),
        AuthMethod::ClientSecretBasic,
    )
}

/// Runs the browser part: authorization request → auto-approving peer → callback URL.
async fn authorize(client: &Client, login_hint: &str) -> (String, PendingAuthorization) {
    let (url, pending) = client
        .authorize()
        .param("login_hint", login_hint)
        .build()
        .unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    (callback, pending)
}

async fn login(client: &Client, user: &str) -> TokenSet {
    let (callback, pending) = authorize(client, user).await;
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code).await.unwrap()
}

#[tokio::test]
async fn public_client_code_flow_with_pkce_s256() {
    let Some(peer) = peer("public_client_code_flow_with_pkce_s256") else {
        return;
    };
    let client = public_client(peer);
    let (url, _) = client.authorize().build().unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("code_challenge").map(|c| c.len()), Some(43));
    assert!(
        get("nonce").is_some(),
        "openid requested, so a nonce is sent"
    );

    let tokens = login(&client, "alice").await;
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
    let Some(peer) = peer("confidential_client_secret_basic_with_urlencoded_credentials") else {
        return;
    };
    let client = basic_client(peer);
    let tokens = login(&client, "bob").await;
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
    let Some(peer) = peer("confidential_client_secret_post") else {
        return;
    };
    let client = client(
        peer,
        "post-client",
        Some("post-secret-123"),
        AuthMethod::ClientSecretPost,
    );
    let tokens = login(&client, "carol").await;
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
    let Some(peer) = peer("refresh_rotates_and_the_old_refresh_token_dies") else {
        return;
    };
    let client = public_client(peer);
    let first = login(&client, "dave").await;
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
    let Some(peer) = peer("revocation_makes_userinfo_refuse_and_introspection_inactive") else {
        return;
    };
    let client = basic_client(peer);
    let tokens = login(&client, "erin").await;
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
    let Some(peer) = peer("revoke_tokens_on_logout_ends_the_grant") else {
        return;
    };
    let client = basic_client(peer);
    let tokens = login(&client, "frank").await;
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
    let Some(peer) = peer("client_credentials_grant") else {
        return;
    };
    let client = basic_client(peer);
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
    let Some(peer) = peer("wrong_secret_is_typed_invalid_client") else {
        return;
    };
    let client = client(
        peer,
        "basic-client",
        Some("not-the-secret"),
        AuthMethod::ClientSecretBasic,
    );
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
    let Some(peer) = peer("wrong_code_verifier_is_invalid_grant") else {
        return;
    };
    let client = public_client(peer);
    let (callback, pending) = authorize(&client, "gina").await;
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
    let Some(peer) = peer("reused_code_is_invalid_grant") else {
        return;
    };
    let client = basic_client(peer);
    let (callback, pending) = authorize(&client, "hank").await;
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
    let Some(peer) = peer("state_mismatch_is_refused_before_any_exchange") else {
        return;
    };
    let client = public_client(peer);
    let (callback, _ours) = authorize(&client, "ivan").await;
    let (_, other_login) = client.authorize().build().unwrap();
    let err = other_login.verify_callback(&callback).unwrap_err();
    assert!(
        matches!(err, Error::Callback(CallbackError::StateMismatch)),
        "{err:?}"
    );
}

#[tokio::test]
async fn issuer_mismatch_on_callback_is_refused() {
    let Some(peer) = peer("issuer_mismatch_on_callback_is_refused") else {
        return;
    };
    let client = public_client(peer);
    let (callback, pending) = authorize(&client, "judy").await;
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
    let Some(peer) = peer("access_denied_on_the_callback_is_typed") else {
        return;
    };
    let client = public_client(peer);
    let (callback, pending) = authorize(&client, "deny").await;
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
