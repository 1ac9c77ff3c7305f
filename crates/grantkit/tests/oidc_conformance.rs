//! OpenID Foundation RP conformance cases that need a misbehaving provider: a small OP served
//! on loopback that hands out ID tokens crafted per test, signed with the fixture keys in
//! `tests/fixtures` (test-only keys). Test names follow the certification suite's case names.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use grantkit::oidc::{Discovery, IdTokenError};
use grantkit::{Client, Error, TokenSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::Digest;

mod support;
use fixture_keys::{fixture_key, now, sign};
use support::fixture_keys;

const CLIENT_ID: &str = "rp-client";
const ACCESS_TOKEN: &str = "access-token-123";

#[derive(Default)]
struct Scenario {
    id_token: String,
    userinfo: Value,
    jwks_kids: Vec<&'static str>,
}

#[derive(Clone)]
struct Op {
    base: String,
    scenario: Arc<Mutex<Scenario>>,
    jwks_fetches: Arc<AtomicUsize>,
}

async fn start_op(jwks_kids: &[&'static str]) -> Op {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let op = Op {
        base: base.clone(),
        scenario: Arc::new(Mutex::new(Scenario {
            jwks_kids: jwks_kids.to_vec(),
            ..Scenario::default()
        })),
        jwks_fetches: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(op.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    op
}

async fn discovery(State(op): State<Op>) -> Json<Value> {
    let b = &op.base;
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "jwks_uri": format!("{b}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "ES384", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
    }))
}

async fn jwks(State(op): State<Op>) -> Json<Value> {
    op.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let kids = op.scenario.lock().unwrap().jwks_kids.clone();
    Json(fixture_keys::jwks(&kids))
}

async fn token(State(op): State<Op>) -> Json<Value> {
    let id_token = op.scenario.lock().unwrap().id_token.clone();
    Json(
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300, "id_token": id_token, "refresh_token": "rt"}),
    )
}

async fn userinfo(State(op): State<Op>) -> Json<Value> {
    Json(op.scenario.lock().unwrap().userinfo.clone())
}

fn at_hash(token: &str) -> String {
    let digest = sha2::Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// A client of `op` and a verified callback whose exchange will receive `make_token(nonce)`.
async fn login_with(
    op: &Op,
    make_token: impl FnOnce(&Op, &str) -> String,
) -> Result<TokenSet, Error> {
    let provider = Discovery::new(&op.base).fetch().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .redirect_uri("http://127.0.0.1/callback")
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let (_, pending) = client.authorize().build().unwrap();
    let nonce = pending.nonce().unwrap().expose().to_owned();
    op.scenario.lock().unwrap().id_token = make_token(op, &nonce);
    let callback = format!(
        "http://127.0.0.1/callback?code=c&state={}&iss={}",
        pending.state().expose(),
        op.base
    );
    let code = pending.verify_callback(&callback)?;
    let tokens = client.exchange_code(code).await?;
    if let Some(sub) = tokens.id_token_claims().map(|c| c.sub.clone()) {
        assert_eq!(sub, "user-1");
    }
    Ok(tokens)
}

fn good_claims(op: &Op, nonce: &str) -> Value {
    json!({
        "iss": op.base, "sub": "user-1", "aud": CLIENT_ID, "iat": now(), "exp": now() + 300,
        "nonce": nonce, "at_hash": at_hash(ACCESS_TOKEN), "email": "user-1@example.test",
    })
}

fn id_token_error(result: Result<TokenSet, Error>) -> IdTokenError {
    match result {
        Err(Error::IdToken(e)) => e,
        other => panic!("expected an ID-token error, got {other:?}"),
    }
}

#[tokio::test]
async fn rp_id_token_sig_rs256() {
    let op = start_op(&["rsa-1"]).await;
    let tokens = login_with(&op, |op, n| sign("rsa-1", true, &good_claims(op, n)))
        .await
        .unwrap();
    let claims = tokens.id_token_claims().unwrap();
    assert_eq!(claims.email.as_deref(), Some("user-1@example.test"));
}

#[tokio::test]
async fn rp_id_token_sig_es256() {
    let op = start_op(&["rsa-1", "ec-256"]).await;
    login_with(&op, |op, n| sign("ec-256", true, &good_claims(op, n)))
        .await
        .unwrap();
}

#[tokio::test]
async fn es384_and_eddsa_signatures_verify() {
    let op = start_op(&["ec-384", "ed-1"]).await;
    // at_hash uses the signing algorithm's hash; the helper computes SHA-256, so leave it out.
    let without_at_hash = |op: &Op, n: &str| {
        let mut c = good_claims(op, n);
        c.as_object_mut().unwrap().remove("at_hash");
        c
    };
    login_with(&op, |op, n| sign("ec-384", true, &without_at_hash(op, n)))
        .await
        .unwrap();
    login_with(&op, |op, n| sign("ed-1", false, &without_at_hash(op, n)))
        .await
        .unwrap();
}

#[tokio::test]
async fn rp_id_token_kid_absent_single_jwks() {
    let op = start_op(&["rsa-1"]).await;
    login_with(&op, |op, n| sign("rsa-1", false, &good_claims(op, n)))
        .await
        .unwrap();
}

#[tokio::test]
async fn rp_id_token_kid_absent_multiple_jwks() {
    let op = start_op(&["rsa-1", "rsa-2", "ec-256"]).await;
    login_with(&op, |op, n| sign("rsa-2", false, &good_claims(op, n)))
        .await
        .unwrap();
}

#[tokio::test]
async fn rp_id_token_sig_none() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&good_claims(op, n))
        )
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::Unsigned);
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        // The key-confusion attack: HS256 keyed with the provider's public key material.
        let public = include_str!("fixtures/jwks.json");
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good_claims(op, n),
            &EncodingKey::from_secret(public.as_bytes()).unwrap(),
        )
        .unwrap()
    })
    .await;
    assert_eq!(
        id_token_error(result),
        IdTokenError::Symmetric("HS256".into())
    );
}

#[tokio::test]
async fn rp_id_token_issuer_mismatch() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c["iss"] = json!("https://attacker.example");
        sign("rsa-1", true, &c)
    })
    .await;
    assert!(
        matches!(id_token_error(result), IdTokenError::IssuerMismatch { found, .. } if found == "https://attacker.example")
    );
}

#[tokio::test]
async fn rp_id_token_bad_sig_rs256() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        tamper(sign("rsa-1", true, &good_claims(op, n)))
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::BadSignature);
}

#[tokio::test]
async fn rp_id_token_bad_sig_es256() {
    let op = start_op(&["ec-256"]).await;
    let result = login_with(&op, |op, n| {
        tamper(sign("ec-256", true, &good_claims(op, n)))
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::BadSignature);
}

/// Signs with one key, then swaps in other claims: the signature no longer covers them.
fn tamper(token: String) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["email"] = json!("admin@example.test");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    parts.join(".")
}

#[tokio::test]
async fn rp_id_token_iat() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c.as_object_mut().unwrap().remove("iat");
        sign("rsa-1", true, &c)
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::MissingClaim("iat"));
}

#[tokio::test]
async fn rp_id_token_sub() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c.as_object_mut().unwrap().remove("sub");
        sign("rsa-1", true, &c)
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::MissingClaim("sub"));
}

#[tokio::test]
async fn rp_id_token_aud() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c["aud"] = json!("another-client");
        sign("rsa-1", true, &c)
    })
    .await;
    assert!(matches!(
        id_token_error(result),
        IdTokenError::AudienceMismatch { .. }
    ));
}

#[tokio::test]
async fn several_audiences_need_azp_naming_this_client() {
    let op = start_op(&["rsa-1"]).await;
    let with_aud = |azp: Option<&str>| {
        let azp = azp.map(str::to_owned);
        move |op: &Op, n: &str| {
            let mut c = good_claims(op, n);
            c["aud"] = json!([CLIENT_ID, "other"]);
            if let Some(azp) = azp {
                c["azp"] = json!(azp);
            }
            sign("rsa-1", true, &c)
        }
    };
    assert_eq!(
        id_token_error(login_with(&op, with_aud(None)).await),
        IdTokenError::MissingAzp
    );
    assert!(matches!(
        id_token_error(login_with(&op, with_aud(Some("other"))).await),
        IdTokenError::AzpMismatch(_)
    ));
    login_with(&op, with_aud(Some(CLIENT_ID))).await.unwrap();
}

#[tokio::test]
async fn expired_and_future_tokens_are_refused_beyond_the_leeway() {
    let op = start_op(&["rsa-1"]).await;
    let expired = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c["exp"] = json!(now() - 120);
        sign("rsa-1", true, &c)
    })
    .await;
    assert!(matches!(
        id_token_error(expired),
        IdTokenError::Expired { .. }
    ));
    let future = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c["iat"] = json!(now() + 600);
        sign("rsa-1", true, &c)
    })
    .await;
    assert!(matches!(
        id_token_error(future),
        IdTokenError::IssuedInFuture { .. }
    ));
    // Within the 60 s default leeway: accepted.
    login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c["exp"] = json!(now() - 10);
        sign("rsa-1", true, &c)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn rp_nonce_invalid() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, _| {
        sign("rsa-1", true, &good_claims(op, "not-the-nonce"))
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::NonceMismatch);
    let missing = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c.as_object_mut().unwrap().remove("nonce");
        sign("rsa-1", true, &c)
    })
    .await;
    assert_eq!(id_token_error(missing), IdTokenError::MissingNonce);
}

#[tokio::test]
async fn at_hash_mismatch_is_refused() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let mut c = good_claims(op, n);
        c["at_hash"] = json!(at_hash("some-other-token"));
        sign("rsa-1", true, &c)
    })
    .await;
    assert_eq!(id_token_error(result), IdTokenError::AtHashMismatch);
}

#[tokio::test]
async fn missing_id_token_with_openid_is_refused() {
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |_, _| String::new()).await;
    assert_eq!(id_token_error(result), IdTokenError::Missing);
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_fails_and_floods_are_throttled() {
    let op = start_op(&["rsa-1"]).await;
    // Signed by a key the provider does not publish, under a kid the JWKS does not hold.
    let result = login_with(&op, |op, n| {
        let (alg, key) = fixture_key("rsa-2");
        let mut header = Header::new(alg);
        header.kid = Some("rotated-away".into());
        jsonwebtoken::encode(&header, &good_claims(op, n), &key).unwrap()
    })
    .await;
    assert!(
        matches!(id_token_error(result), IdTokenError::UnknownKey { kid } if kid == "rotated-away")
    );
    // Discovery + first fetch + one forced re-fetch.
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 2);

    // A flood of tokens naming unknown kids through one client: the cooldown holds re-fetches.
    let provider = Discovery::new(&op.base).fetch().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .scopes(["openid"])
        .build()
        .unwrap();
    let before = op.jwks_fetches.load(Ordering::SeqCst);
    for i in 0..50 {
        let (_, pending) = client.authorize().build().unwrap();
        let nonce = pending.nonce().unwrap().expose().to_owned();
        let (alg, key) = fixture_key("rsa-2");
        let mut header = Header::new(alg);
        header.kid = Some(format!("forged-{i}"));
        op.scenario.lock().unwrap().id_token =
            jsonwebtoken::encode(&header, &good_claims(&op, &nonce), &key).unwrap();
        let cb = format!("?code=c&state={}&iss={}", pending.state().expose(), op.base);
        let code = pending.verify_callback(&cb).unwrap();
        assert!(client.exchange_code(code).await.is_err());
    }
    let fetched = op.jwks_fetches.load(Ordering::SeqCst) - before;
    assert!(fetched <= 2, "50 forged kids caused {fetched} JWKS fetches");
}

#[tokio::test]
async fn rp_userinfo_bad_sub_claim() {
    let op = start_op(&["rsa-1"]).await;
    op.scenario.lock().unwrap().userinfo =
        json!({"sub": "someone-else", "email": "x@example.test"});
    let provider = Discovery::new(&op.base).fetch().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = login_with(&op, |op, n| sign("rsa-1", true, &good_claims(op, n)))
        .await
        .unwrap();
    let err = client.userinfo(&tokens).await.unwrap_err();
    assert!(matches!(err, Error::UserinfoSubjectMismatch), "{err:?}");
    op.scenario.lock().unwrap().userinfo = json!({"sub": "user-1", "email": "user-1@example.test"});
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "user-1");
}

#[tokio::test]
async fn rp_discovery_issuer_not_matching_config() {
    let op = start_op(&["rsa-1"]).await;
    let err = Discovery::new(&op.base)
        .expected_issuer("https://polar.sh")
        .fetch()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::IssuerMismatch { expected, .. } if expected == "https://polar.sh"),
        "{err:?}"
    );
    // A trailing slash is another issuer string: the exact comparison refuses it too.
    let err = Discovery::new(format!("{}/", op.base))
        .fetch()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IssuerMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn an_id_token_not_valid_yet_is_refused() {
    // RFC 7519 §4.1.5 `nbf`: a token minted for later use is refused beyond the leeway.
    let op = start_op(&["rsa-1"]).await;
    let result = login_with(&op, |op, n| {
        let mut claims = good_claims(op, n);
        claims["nbf"] = json!(now() + 600);
        sign("rsa-1", true, &claims)
    })
    .await;
    assert!(matches!(
        id_token_error(result),
        IdTokenError::NotYetValid { .. }
    ));
    let ok = login_with(&op, |op, n| {
        let mut claims = good_claims(op, n);
        claims["nbf"] = json!(now() + 30); // within the 60 s leeway
        sign("rsa-1", true, &claims)
    })
    .await;
    assert!(ok.is_ok(), "{ok:?}");
}

/// OpenID Connect Core §12.2: a refreshed ID token keeps `iss`, `sub`, `aud`, `azp`, and
/// `auth_time` and `nonce` when present, and is not older than the original.
#[tokio::test]
async fn a_refreshed_id_token_must_keep_the_claims_of_the_original_authentication() {
    let op = start_op(&["rsa-1"]).await;
    let original_nonce = std::sync::Arc::new(Mutex::new(String::new()));
    let kept = original_nonce.clone();
    let tokens = login_with(&op, move |op, n| {
        *kept.lock().unwrap() = n.to_owned();
        let mut claims = good_claims(op, n);
        claims["auth_time"] = json!(now() - 100);
        sign("rsa-1", true, &claims)
    })
    .await
    .unwrap();
    let original = tokens.id_token_claims().unwrap().clone();
    let provider = Discovery::new(&op.base).fetch().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .scopes(["openid"])
        .build()
        .unwrap();
    let refreshed = |change: &dyn Fn(&mut Value)| {
        let mut claims = json!({
            "iss": original.iss, "sub": original.sub, "aud": CLIENT_ID, "iat": now(),
            "exp": now() + 300, "auth_time": original.auth_time, "at_hash": at_hash(ACCESS_TOKEN),
        });
        change(&mut claims);
        sign("rsa-1", true, &claims)
    };
    type Change<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let cases: [(&str, Change); 6] = [
        (
            "aud",
            Box::new(|c| c["aud"] = json!([CLIENT_ID, "another-client"])),
        ),
        ("azp", Box::new(|c| c["azp"] = json!(CLIENT_ID))),
        ("auth_time", Box::new(|c| c["auth_time"] = json!(now()))),
        ("nonce", Box::new(|c| c["nonce"] = json!("a-new-nonce"))),
        ("iat", Box::new(|c| c["iat"] = json!(original.iat - 10))),
        ("sub", Box::new(|c| c["sub"] = json!("user-2"))),
    ];
    for (claim, change) in cases {
        op.scenario.lock().unwrap().id_token = refreshed(&*change);
        let err = client.refresh(&tokens).await.unwrap_err();
        let Error::IdToken(e) = err else {
            panic!("{claim}: {err:?}")
        };
        match claim {
            "sub" => assert_eq!(e, IdTokenError::SubjectChanged),
            // Two audiences without azp fails the ordinary check first; both are refusals.
            "aud" => assert!(
                matches!(
                    e,
                    IdTokenError::RefreshMismatch("aud") | IdTokenError::MissingAzp
                ),
                "{e:?}"
            ),
            claim => assert_eq!(e, IdTokenError::RefreshMismatch(claim), "{claim}"),
        }
    }
    // The same nonce, the same auth_time, a newer iat: accepted.
    let nonce = original_nonce.lock().unwrap().clone();
    op.scenario.lock().unwrap().id_token = refreshed(&|c| c["nonce"] = json!(nonce));
    let fresh = client.refresh(&tokens).await.unwrap();
    assert_eq!(fresh.id_token_claims().unwrap().sub, original.sub);
}

#[tokio::test]
async fn openid_without_a_jwks_uri_is_a_typed_error_not_a_silent_skip() {
    let op = start_op(&["rsa-1"]).await;
    // The same provider, but described by hand without its JWKS URI.
    let provider = grantkit::Provider::builder("hand-made")
        .issuer(op.base.clone())
        .authorization_endpoint(&format!("{}/authorize", op.base))
        .token_endpoint(&format!("{}/token", op.base))
        .build()
        .unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .redirect_uri("http://127.0.0.1/callback")
        .scopes(["openid"])
        .build()
        .unwrap();
    let (_, pending) = client.authorize().build().unwrap();
    let nonce = pending.nonce().unwrap().expose().to_owned();
    op.scenario.lock().unwrap().id_token = sign("rsa-1", true, &good_claims(&op, &nonce));
    let cb = format!("?code=c&state={}&iss={}", pending.state().expose(), op.base);
    let code = pending.verify_callback(&cb).unwrap();
    let err = client.exchange_code(code).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::IdToken(IdTokenError::NoVerifier {
                missing: "jwks_uri",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("hand-made"), "{err}");
    let err = client
        .verify_id_token(&grantkit::Secret::new("a.b.c"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::IdToken(IdTokenError::NoVerifier { .. })),
        "{err:?}"
    );
}
