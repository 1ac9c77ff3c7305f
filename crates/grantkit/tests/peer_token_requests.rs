//! Open token requests, token exchange (RFC 8693) and the JWT bearer grant (RFC 7523 §2.1)
//! against the `oidc-provider` peer (its extension grants are registered in `server.mjs`).
//! Requests tagged `x_trace` are recorded by the peer, whatever the endpoint reads of them.

use grantkit::error::Refusal;
use grantkit::jwt_auth::ClientKey;
use grantkit::token_exchange::{ACCESS_TOKEN, JWT};
use grantkit::{
    AuthMethod, Client, Endpoint, Error, OAuthErrorCode, Secret, TokenSet, TokenTypeHint,
};
use grantkit_testkit::{authorize, OidcPeer, PEER_REDIRECT_URI};
use serde_json::Value;

const ID: &str = "exchange-client";
const SECRET: &str = "exchange-secret";

fn client(peer: &OidcPeer) -> Client {
    Client::builder(peer.provider().unwrap(), ID)
        .client_secret(SECRET)
        .auth_method(AuthMethod::ClientSecretBasic)
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

/// A fresh trace tag.
fn trace(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{nanos}")
}

/// The form the peer received with `x_trace=trace`, and the path it went to.
async fn traced(peer: &OidcPeer, trace: &str) -> (String, Value) {
    let url = peer.url(&format!("/__control/form?x_trace={trace}"));
    let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    (
        body["path"].as_str().unwrap_or("").to_owned(),
        body["form"].clone(),
    )
}

/// A login of `user` through the browser, exchanged with extra parameters tagged `trace`.
async fn login(peer: &OidcPeer, client: &Client, user: &str, trace: &str) -> TokenSet {
    let (callback, pending) = authorize(client, Some(user)).await.unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let _ = peer;
    client
        .exchange_code_request(code)
        .audience("orders")
        .param("x_trace", trace)
        .param("x_vendor", "v1")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn extra_parameters_reach_the_token_endpoint_on_code_exchange_and_refresh() {
    let Some(peer) = OidcPeer::shared("extra_parameters_reach_the_token_endpoint") else {
        return;
    };
    let client = client(peer);
    let t1 = trace("code");
    let tokens = login(peer, &client, "alice", &t1).await;
    assert!(
        tokens.id_token_claims().is_some(),
        "the ID token is still validated"
    );
    let (path, form) = traced(peer, &t1).await;
    assert_eq!(path, "/token");
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["audience"], "orders");
    assert_eq!(form["x_vendor"], "v1");

    let t2 = trace("refresh");
    let fresh = client
        .refresh_request(&tokens)
        .param("x_trace", &t2)
        .audience("a1")
        .audience("a2")
        .send()
        .await
        .unwrap();
    assert!(fresh.refresh_token().is_some());
    let (_, form) = traced(peer, &t2).await;
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(
        form["audience"],
        serde_json::json!(["a1", "a2"]),
        "repeated, in order"
    );
}

#[tokio::test]
async fn extra_parameters_reach_revocation_introspection_client_credentials_and_par() {
    let Some(peer) = OidcPeer::shared("extra_parameters_reach_revocation_introspection") else {
        return;
    };
    let client = client(peer);
    let t = trace("cc");
    let tokens = client
        .client_credentials_request(["api:read"])
        .param("x_trace", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(traced(peer, &t).await.1["scope"], "api:read");

    let t = trace("introspect");
    let info = client
        .introspection_request(tokens.access_token())
        .hint(TokenTypeHint::AccessToken)
        .param("x_trace", &t)
        .send()
        .await
        .unwrap();
    assert!(info.active);
    let (path, form) = traced(peer, &t).await;
    assert_eq!(
        (path.as_str(), &form["token_type_hint"]),
        ("/token/introspection", &Value::from("access_token"))
    );

    let t = trace("revoke");
    client
        .revocation_request(tokens.access_token())
        .param("x_trace", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(traced(peer, &t).await.0, "/token/revocation");
    let after = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert!(!after.active, "revoked");

    let t = trace("par");
    let discovered = Client::builder(peer.discover().await.unwrap(), ID)
        .client_secret(SECRET)
        .redirect_uri(PEER_REDIRECT_URI)
        .build()
        .unwrap();
    let (url, _) = discovered
        .authorize()
        .param("x_trace", &t)
        .push()
        .await
        .unwrap();
    assert!(url.as_str().contains("request_uri="));
    let (path, form) = traced(peer, &t).await;
    assert_eq!(
        (path.as_str(), &form["response_type"]),
        ("/request", &Value::from("code"))
    );
}

#[tokio::test]
async fn a_grant_type_grantkit_does_not_know_is_sent_authenticated_and_parsed() {
    let Some(peer) = OidcPeer::shared("a_grant_type_grantkit_does_not_know") else {
        return;
    };
    let client = client(peer);
    let tokens = client
        .grant("urn:grantkit:test:echo")
        .param("audience", "orders")
        .param("x_vendor", "v1")
        .send()
        .await
        .unwrap();
    assert!(!tokens.access_token().expose().is_empty());
    assert_eq!(tokens.extra()["echo"]["x_vendor"], "v1");
    assert_eq!(tokens.extra()["echo"]["audience"], "orders");

    // Not registered for this client: the provider's OAuth error, typed.
    let e = client
        .grant("urn:grantkit:test:unknown")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth().unwrap().code,
        OAuthErrorCode::UnsupportedGrantType,
        "{e:?}"
    );
}

fn reserved(e: Error) -> (Endpoint, String) {
    match e {
        Error::Refused {
            endpoint,
            reason: Refusal::ReservedParameter { name },
        } => (endpoint, name),
        other => panic!("expected a reserved-parameter refusal, got {other:?}"),
    }
}

/// Parameters grantkit sets (the grant, the code's PKCE verifier, the refresh token, client
/// authentication, the token revoked) cannot be replaced or repeated by an extra parameter.
#[tokio::test]
async fn parameter_override_of_what_grantkit_sets_is_refused_before_sending() {
    let Some(peer) = OidcPeer::shared("parameter_override_of_what_grantkit_sets") else {
        return;
    };
    let client = client(peer);
    let tokens = TokenSet::from_access_token("at");
    let (callback, pending) = authorize(&client, Some("alice")).await.unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let e = client
        .exchange_code_request(code)
        .param("code_verifier", "attacker-chosen")
        .send()
        .await
        .unwrap_err();
    assert_eq!(reserved(e), (Endpoint::Token, "code_verifier".into()));
    let e = client
        .refresh_request(&tokens)
        .param("grant_type", "client_credentials")
        .send()
        .await;
    assert!(
        matches!(e, Err(Error::NoRefreshToken)),
        "no refresh token, nothing sent: {e:?}"
    );
    let e = client
        .grant("urn:x")
        .param("client_id", "other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(reserved(e), (Endpoint::Token, "client_id".into()));
    let e = client
        .client_credentials_request(["api:read"])
        .param("scope", "admin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(reserved(e).1, "scope");
    let e = client
        .token_exchange(tokens.access_token(), ACCESS_TOKEN)
        .param("actor_token", "smuggled")
        .send()
        .await
        .unwrap_err();
    assert_eq!(reserved(e).1, "actor_token");
    let e = client
        .jwt_bearer(&Secret::new("a.b.c"))
        .param("assertion", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(reserved(e).1, "assertion");
    let e = client
        .revocation_request(tokens.access_token())
        .param("token", "other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(reserved(e), (Endpoint::Revocation, "token".into()));
    let e = client
        .introspection_request(tokens.access_token())
        .param("token_type_hint", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        reserved(e),
        (Endpoint::Introspection, "token_type_hint".into())
    );
    assert!(e_text_is_clear());
}

fn e_text_is_clear() -> bool {
    let e = Error::Refused {
        endpoint: Endpoint::Token,
        reason: Refusal::ReservedParameter {
            name: "code".into(),
        },
    };
    e.to_string().contains("`code` is set by grantkit itself")
}

#[tokio::test]
async fn token_exchange_of_a_peer_access_token_keeps_the_issued_token_type() {
    let Some(peer) = OidcPeer::shared("token_exchange_of_a_peer_access_token") else {
        return;
    };
    let client = client(peer);
    let user = login(peer, &client, "alice", &trace("login")).await;
    let service = client.client_credentials(["api:read"]).await.unwrap();
    let t = trace("exchange");
    let exchanged = client
        .token_exchange(user.access_token(), ACCESS_TOKEN)
        .actor(service.access_token(), ACCESS_TOKEN)
        .requested_token_type(ACCESS_TOKEN)
        .audience("orders")
        .scopes(["openid"])
        .param("x_trace", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.issued_token_type(), Some(ACCESS_TOKEN));
    assert_eq!(exchanged.extra()["exchanged_for"], "alice");
    assert_eq!(exchanged.extra()["act"]["sub"], ID);
    assert_ne!(exchanged.access_token(), user.access_token());
    let (_, form) = traced(peer, &t).await;
    assert_eq!(form["subject_token_type"], ACCESS_TOKEN);
    assert_eq!(form["actor_token_type"], ACCESS_TOKEN);
    assert_eq!(form["audience"], "orders");
    let info = client
        .introspect(exchanged.access_token(), None)
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.sub.as_deref(), Some("alice"));
    // Kept when the set is stored.
    let stored: TokenSet =
        serde_json::from_str(&serde_json::to_string(&exchanged).unwrap()).unwrap();
    assert_eq!(stored.issued_token_type(), Some(ACCESS_TOKEN));
}

#[tokio::test]
async fn token_exchange_of_a_forged_subject_token_is_invalid_grant_and_not_echoed() {
    let Some(peer) = OidcPeer::shared("token_exchange_of_a_forged_subject_token") else {
        return;
    };
    let client = client(peer);
    let forged = Secret::new("forged-subject-token-0123456789");
    let e = client
        .token_exchange(&forged, ACCESS_TOKEN)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth().unwrap().code,
        OAuthErrorCode::InvalidGrant,
        "{e:?}"
    );
    let e = client
        .token_exchange(&forged, JWT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth().unwrap().code,
        OAuthErrorCode::InvalidRequest,
        "{e:?}"
    );
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains("forged-subject") && !shown.contains(SECRET),
        "{shown}"
    );
}

fn key(name: &str) -> ClientKey {
    ClientKey::from_jwk(&OidcPeer::fixture(name)).unwrap()
}

#[tokio::test]
async fn jwt_bearer_assertion_signed_with_a_registered_key_gets_tokens_for_its_subject() {
    let Some(peer) = OidcPeer::shared("jwt_bearer_assertion_signed_with_a_registered_key") else {
        return;
    };
    let client = client(peer);
    for fixture in ["peer-client-ec.jwk.json", "peer-client-rsa.jwk.json"] {
        let assertion = client.jwt_bearer_assertion(&key(fixture), "dave").unwrap();
        assert!(!format!("{assertion:?}").contains('.'), "redacted");
        let tokens = client
            .jwt_bearer(&assertion)
            .scopes(["openid"])
            .send()
            .await
            .unwrap();
        let info = client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap();
        assert_eq!(info.sub.as_deref(), Some("dave"), "{fixture}");
    }
}

#[tokio::test]
async fn jwt_bearer_assertion_signed_with_an_unregistered_key_is_invalid_grant() {
    let Some(peer) = OidcPeer::shared("jwt_bearer_assertion_signed_with_an_unregistered_key")
    else {
        return;
    };
    let client = client(peer);
    let stranger = ClientKey::from_pem(include_str!("fixtures/rsa-2.pem")).unwrap();
    let assertion = client.jwt_bearer_assertion(&stranger, "dave").unwrap();
    let e = client.jwt_bearer(&assertion).send().await.unwrap_err();
    assert_eq!(
        e.oauth().unwrap().code,
        OAuthErrorCode::InvalidGrant,
        "{e:?}"
    );
    assert!(
        !format!("{e} {e:?}").contains(assertion.expose()),
        "the assertion is scrubbed"
    );
}
