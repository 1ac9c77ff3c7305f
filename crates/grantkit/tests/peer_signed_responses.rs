//! Signed responses: JWT introspection (RFC 9701) and signed userinfo (OpenID Connect Core
//! §5.3.2). Against the `oidc-provider` peer (features `jwtIntrospection`, `jwtUserinfo`; its
//! `signed-client` is registered with `introspection_signed_response_alg` and
//! `userinfo_signed_response_alg`), the verified claims; against a tiny fake provider that
//! serves the fixture JWKS, the forged answers RFC 9701 §5 and §7 tell a client to refuse.

use std::sync::{Arc, Mutex};

use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use axum::{Json, Router};
use grantkit::error::{IdTokenError, SignedResponseError};
use grantkit::{Client, Endpoint, Error, Provider, TokenSet};
use grantkit_testkit::{login, OidcPeer, PeerClient, PEER_REDIRECT_URI};
use jsonwebtoken::Header;
use serde_json::{json, Value};

mod support;
use support::fixture_keys::{fixture_key, jwks, now};

fn signed_client(provider: Provider) -> Client {
    Client::builder(provider, "signed-client")
        .client_secret("signed-secret")
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "email", "offline_access"])
        .build()
        .unwrap()
}

fn signed_error(result: grantkit::Result<impl std::fmt::Debug>) -> SignedResponseError {
    match result {
        Err(Error::SignedResponse(e)) => e,
        other => panic!("expected a refused signed response, got {other:?}"),
    }
}

#[tokio::test]
async fn signed_introspection_and_userinfo_from_the_peer_are_verified_and_read() {
    let Some(peer) =
        OidcPeer::shared("signed_introspection_and_userinfo_from_the_peer_are_verified_and_read")
    else {
        return;
    };
    let client = signed_client(peer.discover().await.unwrap());
    let tokens = login(&client, None).await.unwrap();

    let info = client
        .introspection_request(tokens.access_token())
        .signed()
        .send()
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("signed-client"));
    assert_eq!(info.sub.as_deref(), Some("alice"));
    // Without asking for a JWT the peer answers JSON, read as before.
    let plain = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert_eq!(plain.sub.as_deref(), Some("alice"));

    let me = client.signed_userinfo(&tokens).await.unwrap();
    assert_eq!(me.sub, "alice");
    assert_eq!(me.email.as_deref(), Some("alice@example.test"));
    assert_eq!(me.claim("aud"), Some(&json!("signed-client")));
    // The peer signs for this client whatever is asked (oidc-provider 9.x,
    // lib/actions/userinfo.js `respond`: a client with `userinfoSignedResponseAlg` gets
    // `application/jwt`, the Accept header is not read): `userinfo` verifies the JWT too.
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "alice");
}

#[tokio::test]
async fn plain_json_userinfo_is_refused_where_a_signed_one_is_required() {
    let Some(peer) =
        OidcPeer::shared("plain_json_userinfo_is_refused_where_a_signed_one_is_required")
    else {
        return;
    };
    // `basic-client` is not registered with `userinfo_signed_response_alg`: JSON userinfo.
    let client = PeerClient::BASIC
        .builder(peer.discover().await.unwrap())
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let tokens = login(&client, None).await.unwrap();
    let e = signed_error(client.signed_userinfo(&tokens).await);
    assert_eq!(
        e,
        SignedResponseError::NotSigned {
            endpoint: Endpoint::Userinfo
        }
    );
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "alice");
    // oidc-provider gives every client `introspection_signed_response_alg: RS256` by default
    // (lib/consts/client_attributes.js): asked for a JWT, it signs for this one too. A JSON
    // answer to `.signed()` is refused in
    // `forged_introspection_responses_are_refused_per_rfc_9701_section_5`.
    let info = client
        .introspection_request(tokens.access_token())
        .signed()
        .send()
        .await
        .unwrap();
    assert_eq!(info.client_id.as_deref(), Some("basic-client"));
}

/// What the fake provider answers at its introspection and userinfo endpoints.
type Answer = Arc<Mutex<(String, String)>>;

/// A provider whose JWKS holds the fixture keys `rsa-1` and `ec-256`, and whose introspection
/// and userinfo endpoints answer whatever `answer` holds (content type, body).
async fn fake_provider() -> (Provider, Answer) {
    fake_provider_with(|builder| builder).await
}

/// [`fake_provider`], its builder finished by `publish` (the algorithm lists it declares).
async fn fake_provider_with(
    publish: impl FnOnce(grantkit::ProviderBuilder) -> grantkit::ProviderBuilder,
) -> (Provider, Answer) {
    let answer: Answer = Arc::new(Mutex::new((String::new(), String::new())));
    let reply = |answer: Answer| {
        move || {
            let answer = answer.clone();
            async move {
                let (content_type, body) = answer.lock().unwrap().clone();
                ([(CONTENT_TYPE, content_type)], body)
            }
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/jwks", get(|| async { Json(jwks(&["rsa-1", "ec-256"])) }))
        .route("/introspect", post(reply(answer.clone())))
        .route("/userinfo", get(reply(answer.clone())));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let provider = publish(Provider::builder("op"))
        .issuer(&base)
        .token_endpoint(&format!("{base}/token"))
        .introspection_endpoint(&format!("{base}/introspect"))
        .userinfo_endpoint(&format!("{base}/userinfo"))
        .jwks_uri(&format!("{base}/jwks"))
        .build()
        .unwrap();
    (provider, answer)
}

/// Signs `claims` with the fixture key `key`, naming `kid` and `typ` in the header.
fn sign(key: &str, kid: &str, typ: Option<&str>, claims: &Value) -> String {
    let (alg, key) = fixture_key(key);
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// An unsigned JWT (`alg: none`, empty signature) of `claims`.
fn unsigned(typ: &str, claims: &Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": typ})),
        b64(claims)
    )
}

/// RFC 9701 §5: the client checks the signature with the issuer's key, that `iss` is the
/// issuer, that `aud` names it, and the `typ` header `token-introspection+jwt` (which §7 asks
/// for so that no other JWT of the provider can be passed off as an introspection answer).
#[tokio::test]
async fn forged_introspection_responses_are_refused_per_rfc_9701_section_5() {
    let (provider, answer) = fake_provider().await;
    let issuer = provider.issuer().unwrap().to_owned();
    let client = Client::builder(provider, "rp")
        .client_secret("s")
        .build()
        .unwrap();
    let claims = |aud: &str| {
        json!({"iss": issuer, "aud": aud, "iat": now(),
               "token_introspection": {"active": true, "sub": "user-1", "scope": "admin"}})
    };
    const TYP: &str = "token-introspection+jwt";
    let token = grantkit::Secret::new("tok");
    let introspect = |body: String| {
        *answer.lock().unwrap() = ("application/token-introspection+jwt".into(), body);
        client.introspection_request(&token).signed().send()
    };

    let good = introspect(sign("rsa-1", "rsa-1", Some(TYP), &claims("rp")))
        .await
        .unwrap();
    assert!(good.active && good.sub.as_deref() == Some("user-1"));

    // Signed by a key the issuer's JWKS does not hold, under a kid it does.
    let e = signed_error(introspect(sign("rsa-2", "rsa-1", Some(TYP), &claims("rp"))).await);
    assert!(
        matches!(
            e,
            SignedResponseError::Signature {
                source: IdTokenError::BadSignature,
                ..
            }
        ),
        "{e:?}"
    );
    // For another client.
    let e = signed_error(introspect(sign("rsa-1", "rsa-1", Some(TYP), &claims("other"))).await);
    assert!(
        matches!(e, SignedResponseError::AudienceMismatch { ref client_id, .. } if client_id == "rp"),
        "{e:?}"
    );
    // Another JWT of the provider (an ID token's `typ`), passed off as an introspection answer.
    let e = signed_error(introspect(sign("rsa-1", "rsa-1", Some("JWT"), &claims("rp"))).await);
    assert!(
        matches!(e, SignedResponseError::WrongType { ref found, .. } if found == "JWT"),
        "{e:?}"
    );
    // Unsigned.
    let e = signed_error(introspect(unsigned(TYP, &claims("rp"))).await);
    assert!(
        matches!(
            e,
            SignedResponseError::Signature {
                source: IdTokenError::Unsigned,
                ..
            }
        ),
        "{e:?}"
    );
    // A plain JSON answer where a JWT was asked for: a downgrade.
    *answer.lock().unwrap() = ("application/json".into(), r#"{"active":true}"#.into());
    let e = signed_error(client.introspection_request(&token).signed().send().await);
    assert!(matches!(e, SignedResponseError::NotSigned { .. }), "{e:?}");
}

/// OpenID Connect Core §5.3.2: signed userinfo is verified like an ID token — signature with
/// the issuer's key, `iss`, `aud` — and its `sub` must still be the ID token's.
#[tokio::test]
async fn forged_signed_userinfo_is_refused() {
    let (provider, answer) = fake_provider().await;
    let issuer = provider.issuer().unwrap().to_owned();
    let client = Client::builder(provider, "rp")
        .client_secret("s")
        .build()
        .unwrap();
    let tokens = TokenSet::from_access_token("at");
    let claims =
        |aud: &str| json!({"iss": issuer, "aud": aud, "sub": "user-1", "email": "u@example.test"});
    let userinfo = |body: String| {
        *answer.lock().unwrap() = ("application/jwt; charset=utf-8".into(), body);
        client.signed_userinfo(&tokens)
    };

    let good = userinfo(sign("ec-256", "ec-256", Some("JWT"), &claims("rp")))
        .await
        .unwrap();
    assert_eq!(good.email.as_deref(), Some("u@example.test"));

    let e = signed_error(userinfo(sign("rsa-2", "rsa-1", None, &claims("rp"))).await);
    assert!(
        matches!(
            e,
            SignedResponseError::Signature {
                source: IdTokenError::BadSignature,
                ..
            }
        ),
        "{e:?}"
    );
    let e = signed_error(userinfo(sign("rsa-1", "rsa-1", None, &claims("other"))).await);
    assert!(
        matches!(e, SignedResponseError::AudienceMismatch { .. }),
        "{e:?}"
    );
    let e = signed_error(userinfo(unsigned("JWT", &claims("rp"))).await);
    assert!(
        matches!(
            e,
            SignedResponseError::Signature {
                source: IdTokenError::Unsigned,
                ..
            }
        ),
        "{e:?}"
    );
    // Before this change `userinfo` refused every signed answer; now it verifies it, forged
    // ones included.
    *answer.lock().unwrap() = (
        "application/jwt".into(),
        sign("rsa-1", "rsa-1", None, &claims("other")),
    );
    let e = signed_error(client.userinfo(&tokens).await);
    assert!(
        matches!(e, SignedResponseError::AudienceMismatch { .. }),
        "{e:?}"
    );
}

/// The refusal of a JWS signed with an algorithm outside the allowed list.
fn algorithm_refused(e: SignedResponseError, refused: &str) -> bool {
    matches!(
        e,
        SignedResponseError::Signature {
            source: IdTokenError::AlgorithmNotAllowed { ref alg, .. },
            ..
        } if alg == refused
    )
}

/// OpenID Connect Discovery §3: `userinfo_signing_alg_values_supported` is the userinfo
/// endpoint's own list, apart from `id_token_signing_alg_values_supported`. A provider signing
/// ID tokens with RS256 and userinfo with ES256: the ES256 answer passes, an RS256 one (an
/// algorithm the provider never uses at this endpoint) is refused.
#[tokio::test]
async fn signed_userinfo_is_checked_against_the_userinfo_algorithms_not_the_id_tokens() {
    let (provider, answer) = fake_provider_with(|b| {
        b.id_token_signing_algs(["RS256"])
            .userinfo_signing_algs(["ES256"])
    })
    .await;
    let issuer = provider.issuer().unwrap().to_owned();
    let client = Client::builder(provider, "rp")
        .client_secret("s")
        .build()
        .unwrap();
    let tokens = TokenSet::from_access_token("at");
    let claims = json!({"iss": issuer, "aud": "rp", "sub": "user-1"});
    let userinfo = |key: &str| {
        *answer.lock().unwrap() = ("application/jwt".into(), sign(key, key, None, &claims));
        client.signed_userinfo(&tokens)
    };
    assert_eq!(userinfo("ec-256").await.unwrap().sub, "user-1");
    let e = signed_error(userinfo("rsa-1").await);
    assert!(algorithm_refused(e.clone(), "RS256"), "{e:?}");
}

/// RFC 9701 §7: `introspection_signing_alg_values_supported` is the introspection endpoint's
/// own list; as for userinfo, the ID-token list does not stand in for it.
#[tokio::test]
async fn signed_introspection_is_checked_against_the_introspection_algorithms_not_the_id_tokens() {
    let (provider, answer) = fake_provider_with(|b| {
        b.id_token_signing_algs(["RS256"])
            .introspection_signing_algs(["ES256"])
    })
    .await;
    let issuer = provider.issuer().unwrap().to_owned();
    let client = Client::builder(provider, "rp")
        .client_secret("s")
        .build()
        .unwrap();
    let token = grantkit::Secret::new("tok");
    let claims = json!({"iss": issuer, "aud": "rp", "iat": now(),
                        "token_introspection": {"active": true}});
    let introspect = |key: &str| {
        let jwt = sign(key, key, Some("token-introspection+jwt"), &claims);
        *answer.lock().unwrap() = ("application/token-introspection+jwt".into(), jwt);
        client.introspection_request(&token).signed().send()
    };
    assert!(introspect("ec-256").await.unwrap().active);
    let e = signed_error(introspect("rsa-1").await);
    assert!(algorithm_refused(e.clone(), "RS256"), "{e:?}");
}

/// The client's registered algorithm wins over the provider's lists; with neither, signed
/// introspection falls back to RS256, the default of `introspection_signed_response_alg`
/// (RFC 9701 §6; oidc-provider's lib/consts/client_attributes.js defaults it the same way),
/// while signed userinfo, for which no specification names a default, takes any supported
/// asymmetric algorithm. `none` and HMAC stay refused either way.
#[tokio::test]
async fn registered_signed_response_algorithms_win_and_introspection_defaults_to_rs256() {
    let (provider, answer) =
        fake_provider_with(|b| b.userinfo_signing_algs(["RS256", "ES256"])).await;
    let issuer = provider.issuer().unwrap().to_owned();
    let build = |provider: Provider, registered: bool| {
        let builder = Client::builder(provider, "rp").client_secret("s");
        let builder = match registered {
            true => builder
                .userinfo_signed_response_alg("ES256")
                .introspection_signed_response_alg("ES256"),
            false => builder,
        };
        builder.build().unwrap()
    };
    let registered = build(provider.clone(), true);
    let unregistered = build(provider, false);
    let tokens = TokenSet::from_access_token("at");
    let info = json!({"iss": issuer, "aud": "rp", "sub": "user-1"});
    let introspection = json!({"iss": issuer, "aud": "rp", "iat": now(),
                               "token_introspection": {"active": true}});
    let answer_with = |content_type: &str, jwt: String| {
        *answer.lock().unwrap() = (content_type.into(), jwt);
    };
    let token = grantkit::Secret::new("tok");
    for (client, key, ok) in [
        (&registered, "ec-256", true),
        (&registered, "rsa-1", false),
        (&unregistered, "rsa-1", true),
        (&unregistered, "ec-256", true),
    ] {
        answer_with("application/jwt", sign(key, key, None, &info));
        assert_eq!(
            client.signed_userinfo(&tokens).await.is_ok(),
            ok,
            "userinfo {key}"
        );
    }
    for (client, key, ok) in [
        (&registered, "ec-256", true),
        (&registered, "rsa-1", false),
        (&unregistered, "rsa-1", true),
        (&unregistered, "ec-256", false),
    ] {
        let jwt = sign(key, key, Some("token-introspection+jwt"), &introspection);
        answer_with("application/token-introspection+jwt", jwt);
        let result = client.introspection_request(&token).signed().send().await;
        assert_eq!(result.is_ok(), ok, "introspection {key}: {result:?}");
    }
    let provider = Provider::builder("op")
        .token_endpoint("https://op.example/token")
        .build()
        .unwrap();
    let e = Client::builder(provider, "rp")
        .introspection_signed_response_alg("HS256")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
}
