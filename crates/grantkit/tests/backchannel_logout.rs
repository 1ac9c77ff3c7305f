//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6) signed with the
//! test-only fixture keys, against a provider whose JWKS is served on loopback. The claim
//! checks one by one are unit tests in `src/backchannel_logout.rs`; here: the signature, the
//! type, and replays across two replicas sharing a guard.

use axum::routing::get;
use axum::{Json, Router};
use grantkit::error::{IdTokenError, LogoutTokenError};
use grantkit::store::MemoryReplayGuard;
use grantkit::{Client, Error, Provider};
use jsonwebtoken::Header;
use serde_json::{json, Value};

mod support;
use support::fixture_keys::{fixture_key, jwks, now};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

async fn provider() -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/jwks", get(|| async { Json(jwks(&["rsa-1", "ec-256"])) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider::builder("op")
        .issuer(&base)
        .token_endpoint(&format!("{base}/token"))
        .jwks_uri(&format!("{base}/jwks"))
        .build()
        .unwrap()
}

fn client(provider: &Provider) -> Client {
    Client::builder(provider.clone(), "rp").build().unwrap()
}

fn claims(provider: &Provider, jti: &str) -> Value {
    json!({
        "iss": provider.issuer().unwrap(), "aud": "rp", "iat": now(), "exp": now() + 120,
        "jti": jti, "sub": "user-1", "sid": "session-1", "events": {EVENT: {}},
    })
}

fn sign(kid: &str, typ: Option<&str>, claims: &Value) -> String {
    let (alg, key) = fixture_key(kid);
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn logout_error(result: grantkit::Result<grantkit::LogoutToken>) -> LogoutTokenError {
    match result {
        Err(Error::LogoutToken(e)) => e,
        other => panic!("expected a refused logout token, got {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_logout_token_is_accepted_once_even_across_replicas_sharing_a_guard() {
    let provider = provider().await;
    let (replica_a, replica_b) = (client(&provider), client(&provider));
    let guard = MemoryReplayGuard::new();
    let token = sign("rsa-1", Some("logout+jwt"), &claims(&provider, "jti-1"));
    let accepted = replica_a.verify_logout_token(&token, &guard).await.unwrap();
    assert_eq!(accepted.sid.as_deref(), Some("session-1"));
    assert_eq!(accepted.sub.as_deref(), Some("user-1"));
    // The same delivery again, at the other replica: a replay.
    let e = logout_error(replica_b.verify_logout_token(&token, &guard.clone()).await);
    assert_eq!(e, LogoutTokenError::Replayed);
    // A new token for the same session is a new delivery. Untyped tokens are accepted (§2.4
    // says SHOULD), with an EC key too.
    let other = sign("ec-256", None, &claims(&provider, "jti-2"));
    replica_b.verify_logout_token(&other, &guard).await.unwrap();
}

#[tokio::test]
async fn an_id_token_or_a_forged_token_is_not_a_logout_token() {
    let provider = provider().await;
    let client = client(&provider);
    let guard = MemoryReplayGuard::new();
    // An ID token of the same provider: typed `JWT`, with a nonce and no logout event.
    let mut id_token = claims(&provider, "jti-3");
    id_token["nonce"] = "n-1".into();
    id_token.as_object_mut().unwrap().remove("events");
    let e = logout_error(
        client
            .verify_logout_token(&sign("rsa-1", Some("JWT"), &id_token), &guard)
            .await,
    );
    assert!(matches!(e, LogoutTokenError::WrongType(_)), "{e:?}");
    let e = logout_error(
        client
            .verify_logout_token(&sign("rsa-1", None, &id_token), &guard)
            .await,
    );
    assert!(matches!(e, LogoutTokenError::MissingEvent), "{e:?}");
    // A changed payload under the provider's signature.
    let good = sign("rsa-1", Some("logout+jwt"), &claims(&provider, "jti-4"));
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_payload = {
        use base64::Engine as _;
        let mut c = claims(&provider, "jti-4");
        c["sub"] = "admin".into();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string())
    };
    parts[1] = &forged_payload;
    let e = logout_error(client.verify_logout_token(&parts.join("."), &guard).await);
    assert!(
        matches!(e, LogoutTokenError::Signature(IdTokenError::BadSignature)),
        "{e:?}"
    );
    // Signed with a key the provider does not publish (HMAC with a guessable secret).
    let hs = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&provider, "jti-5"),
        &jsonwebtoken::EncodingKey::from_secret(b"rp").unwrap(),
    )
    .unwrap();
    let e = logout_error(client.verify_logout_token(&hs, &guard).await);
    assert!(
        matches!(e, LogoutTokenError::Signature(IdTokenError::Symmetric(_))),
        "{e:?}"
    );
    // None of the refused tokens was remembered: the good one still passes once.
    client.verify_logout_token(&good, &guard).await.unwrap();
}
