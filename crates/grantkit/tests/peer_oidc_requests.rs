//! OpenID Connect requests a relying party can check (OpenID Connect Core §3.1.2.1, §5.5):
//! `max_age` and `auth_time`, essential `acr`, the `claims` parameter, `id_token_hint`,
//! `login_hint`, against the `oidc-provider` peer. The peer's `stale-login` user reports an
//! authentication an hour old (a provider that ignored `max_age`); `weak-acr` logs in with a
//! weak `acr` whatever was asked.

use std::time::Duration;

use grantkit::oidc::IdTokenError;
use grantkit::{AuthorizationRequest, Client, Error, Result, TokenSet};
use grantkit_testkit::{Browser, OidcPeer, PeerClient, PEER_REDIRECT_URI};
use serde_json::json;

const MFA: &str = "urn:grantkit:acr:mfa";

fn client(peer: &OidcPeer) -> Client {
    PeerClient::BASIC
        .builder(peer.provider().unwrap())
        .auth_method(PeerClient::BASIC.method())
        .scopes(["openid"])
        .build()
        .unwrap()
}

/// Sends `request` through a browser and exchanges the code.
async fn login(client: &Client, request: AuthorizationRequest<'_>) -> Result<TokenSet> {
    let (url, pending) = request.build()?;
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback)?;
    client.exchange_code(code).await
}

fn id_token_error(result: Result<TokenSet>) -> IdTokenError {
    match result {
        Err(Error::IdToken(e)) => e,
        other => panic!("expected an ID-token error, got {other:?}"),
    }
}

#[tokio::test]
async fn max_age_with_a_fresh_login_passes_the_auth_time_check() {
    let Some(peer) = OidcPeer::shared("max_age_with_a_fresh_login") else {
        return;
    };
    let client = client(peer);
    let request = client
        .authorize()
        .max_age(Duration::from_secs(300))
        .login_hint("alice");
    let tokens = login(&client, request).await.unwrap();
    let claims = tokens.id_token_claims().unwrap();
    assert_eq!(claims.sub, "alice", "login_hint reached the provider");
    assert!(claims.auth_time.is_some());
}

/// Written with `param("max_age", ..)`, which older versions already sent but never checked:
/// they accepted the hour-old login.
#[tokio::test]
async fn max_age_stale_authentication_is_refused() {
    let Some(peer) = OidcPeer::shared("max_age_stale_authentication") else {
        return;
    };
    let client = client(peer);
    let request = client
        .authorize()
        .param("max_age", "60")
        .param("login_hint", "stale-login");
    match id_token_error(login(&client, request).await) {
        IdTokenError::AuthenticationTooOld { max_age, .. } => assert_eq!(max_age, 60),
        other => panic!("{other:?}"),
    }
    let request = client
        .authorize()
        .max_age(Duration::from_secs(60))
        .login_hint("stale-login");
    assert!(matches!(
        id_token_error(login(&client, request).await),
        IdTokenError::AuthenticationTooOld { .. }
    ));
}

#[tokio::test]
async fn essential_acr_not_met_is_refused_and_met_is_accepted() {
    let Some(peer) = OidcPeer::shared("essential_acr_not_met") else {
        return;
    };
    let client = client(peer);
    let weak = client
        .authorize()
        .essential_acr_values([MFA])
        .login_hint("weak-acr");
    assert_eq!(
        id_token_error(login(&client, weak).await),
        IdTokenError::AcrNotSatisfied {
            requested: vec![MFA.into()],
            found: Some("urn:grantkit:acr:weak".into()),
        }
    );
    let strong = client
        .authorize()
        .essential_acr_values([MFA])
        .login_hint("alice");
    let tokens = login(&client, strong).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().claim("acr").unwrap(), MFA);
    // Voluntary: the provider's answer stands.
    let voluntary = client.authorize().acr_values([MFA]).login_hint("weak-acr");
    login(&client, voluntary).await.unwrap();
}

/// An essential `acr` in a `claims` request (OpenID Connect Core §5.5.1.1), also one given
/// with `param`, becomes a check on the ID token. (The peer enforces an essential `acr` of a
/// claims request itself, looping back to the login, so a weak answer cannot be provoked there;
/// the refusal is proven with `essential_acr_values` above.)
#[test]
fn essential_acr_in_a_claims_request_is_carried_to_the_check() {
    let provider = grantkit::Provider::builder("p")
        .authorization_endpoint("https://p.example/authorize")
        .token_endpoint("https://p.example/token")
        .build()
        .unwrap();
    let client = Client::builder(provider, "c").build().unwrap();
    let essential = json!({"id_token": {"acr": {"essential": true, "values": [MFA]}}});
    let (_, pending) = client
        .authorize()
        .param("claims", essential.to_string())
        .build()
        .unwrap();
    assert_eq!(pending.essential_acr_values(), [MFA]);
    let one = json!({"id_token": {"acr": {"essential": true, "value": MFA}}, "userinfo": {}});
    let (_, pending) = client.authorize().claims(one).build().unwrap();
    assert_eq!(pending.essential_acr_values(), [MFA]);
    let voluntary = json!({"id_token": {"acr": {"values": [MFA]}}});
    let (_, pending) = client.authorize().claims(voluntary).build().unwrap();
    assert!(pending.essential_acr_values().is_empty());
}

#[tokio::test]
async fn claims_request_parameter_puts_the_claim_in_the_id_token() {
    let Some(peer) = OidcPeer::shared("claims_request_parameter") else {
        return;
    };
    let client = client(peer);
    let plain = login(&client, client.authorize().login_hint("erin"))
        .await
        .unwrap();
    assert!(plain.id_token_claims().unwrap().email.is_none());
    let request = client
        .authorize()
        .claims(json!({"id_token": {"email": {"essential": true}}}))
        .login_hint("erin");
    let tokens = login(&client, request).await.unwrap();
    assert_eq!(
        tokens.id_token_claims().unwrap().email.as_deref(),
        Some("erin@example.test")
    );
    for bad in [
        json!("email"),
        json!({"id_token": "email"}),
        json!({"other": {}}),
    ] {
        let e = client.authorize().claims(bad).build().unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("claims"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn id_token_hint_from_an_earlier_login_is_accepted_and_a_forged_one_refused() {
    let Some(peer) = OidcPeer::shared("id_token_hint_from_an_earlier_login") else {
        return;
    };
    let client = client(peer);
    let first = login(&client, client.authorize().login_hint("frank"))
        .await
        .unwrap();
    let hint = first.id_token().unwrap().clone();
    let request = client.authorize().id_token_hint(&hint).login_hint("frank");
    let (url, _) = client.authorize().id_token_hint(&hint).build().unwrap();
    assert!(url.query().unwrap().contains("id_token_hint="));
    let again = login(&client, request).await.unwrap();
    assert_eq!(again.id_token_claims().unwrap().sub, "frank");
    let forged = grantkit::Secret::new("e30.e30.forged");
    let e = login(&client, client.authorize().id_token_hint(&forged))
        .await
        .unwrap_err();
    assert!(e.oauth().is_some(), "the provider refused the hint: {e:?}");
}

/// Pending authorizations saved before these checks existed still load, with no checks.
#[test]
fn pending_authorization_saved_before_the_oidc_checks_still_reads() {
    let old = r#"{"state":"s","nonce":"n","redirect_uri":"http://127.0.0.1/cb","require_iss":false,"created_at":1}"#;
    let pending: grantkit::PendingAuthorization = serde_json::from_str(old).unwrap();
    assert_eq!(pending.max_age(), None);
    assert!(pending.essential_acr_values().is_empty());
    let round: grantkit::PendingAuthorization =
        serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
    assert_eq!(round, pending);
}
