//! Signed authorization responses (JARM) against the real `oidc-provider` peer (feature
//! `jwtResponseModes`), and against a small loopback provider for the responses a real one
//! never sends: forged, expired, for another client, or no JWT at all.
//!
//! oidc-provider 9 signs the response as it signs ID tokens, with the client's
//! `authorization_signed_response_alg` (default `RS256`), `iss` = issuer, `aud` = client id,
//! `exp` two minutes ahead and no `iat` (`lib/models/id_token.js`, use `authorization`), and
//! puts `code`, `state` and `iss` (or `error`) in it (`lib/response_modes/jwt.js`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use grantkit::error::{JarmError, Refusal};
use grantkit::oidc::{Discovery, IdTokenError};
use grantkit::{CallbackError, Client, Error, JarmMode, OAuthErrorCode, PendingAuthorization};
use grantkit_testkit::{Browser, Landing, OidcPeer, PeerClient, PEER_REDIRECT_URI};
use serde_json::{json, Value};

mod support;
use support::fixture_keys::{self, now, sign};

fn response_of(callback: &str) -> bool {
    url::Url::parse(callback)
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .eq(["response".to_owned()])
}

async fn basic_client(peer: &OidcPeer) -> Client {
    PeerClient::BASIC
        .builder(peer.discover().await.unwrap())
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

/// `response_mode=query.jwt` and `jwt` (the query, for the code flow): the redirect carries
/// the `response` JWT alone, and the login completes through it.
#[tokio::test]
async fn jarm_query_jwt_login_completes() {
    let Some(peer) = OidcPeer::shared("jarm_query_jwt_login_completes") else {
        return;
    };
    let client = basic_client(peer).await;
    for mode in [JarmMode::Query, JarmMode::Jwt] {
        let (url, pending) = client.authorize().jarm(mode).build().unwrap();
        assert!(
            url.query_pairs()
                .any(|(k, v)| k == "response_mode" && v == mode.as_str()),
            "{url}"
        );
        let callback = Browser::new()
            .authorize(url.as_str(), PEER_REDIRECT_URI)
            .await
            .unwrap();
        assert!(response_of(&callback), "only the JWT: {callback}");
        // The plain verifiers refuse it: they cannot check a signature.
        let err = pending.verify_callback(&callback).unwrap_err();
        assert!(
            matches!(err, Error::Jarm(JarmError::MissingResponse { .. })),
            "{err}"
        );
        let code = pending
            .verify_jarm_callback(&client, &callback)
            .await
            .unwrap();
        let tokens = client.exchange_code(code).await.unwrap();
        assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");
    }
}

/// `response_mode=form_post.jwt`: the peer's auto-submitting page POSTs the JWT to the
/// redirect URI; that body logs in, and the same body is refused as a query callback.
#[tokio::test]
async fn jarm_form_post_jwt_login_completes() {
    let Some(peer) = OidcPeer::shared("jarm_form_post_jwt_login_completes") else {
        return;
    };
    let client = basic_client(peer).await;
    let (url, pending) = client.authorize().jarm(JarmMode::FormPost).build().unwrap();
    let landing = Browser::new()
        .navigate(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let Landing::Page(page) = landing else {
        panic!("form_post.jwt answers with a page that POSTs: {landing:?}");
    };
    let form = page.form("response").unwrap();
    assert!(
        form.action.as_str().starts_with(PEER_REDIRECT_URI) && form.method == "POST",
        "{form:?}"
    );
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form.fields)
        .finish();
    let err = pending
        .verify_jarm_callback(&client, &format!("{PEER_REDIRECT_URI}?{body}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Callback(CallbackError::ResponseModeMismatch { .. })
        ),
        "{err}"
    );
    let code = pending.verify_jarm_form_post(&client, &body).await.unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");
}

/// The algorithm is the registered one, not whatever the JWT names: `jarm-es256-client`'s
/// responses are signed ES256 and verify with the client set to ES256; a client expecting
/// the default RS256 refuses the same kind of response.
#[tokio::test]
async fn jarm_response_algorithm_is_the_registered_one() {
    let Some(peer) = OidcPeer::shared("jarm_response_algorithm_is_the_registered_one") else {
        return;
    };
    let provider = peer.discover().await.unwrap();
    let builder = || {
        Client::builder(provider.clone(), "jarm-es256-client")
            .client_secret("jarm-es256-secret")
            .redirect_uri(PEER_REDIRECT_URI)
            .scopes(["openid"])
    };
    for (client, accepted) in [
        (builder().authorization_signed_response_alg("ES256"), true),
        (builder(), false),
    ] {
        let client = client.build().unwrap();
        let (url, pending) = client.authorize().jarm(JarmMode::Query).build().unwrap();
        let callback = Browser::new()
            .authorize(url.as_str(), PEER_REDIRECT_URI)
            .await
            .unwrap();
        let result = pending.verify_jarm_callback(&client, &callback).await;
        match (accepted, result) {
            (true, Ok(code)) => {
                client.exchange_code(code).await.unwrap();
            }
            (
                false,
                Err(Error::Jarm(JarmError::Signature(IdTokenError::AlgorithmNotAllowed {
                    alg,
                    ..
                }))),
            ) => assert_eq!(alg, "ES256"),
            (_, other) => panic!("accepted {accepted}: {other:?}"),
        }
    }
    let err = builder()
        .authorization_signed_response_alg("HS256")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

/// An `error` inside the signed response (the user denied) is the provider's typed verdict.
#[tokio::test]
async fn jarm_error_inside_the_jwt_is_the_typed_oauth_error() {
    let Some(peer) = OidcPeer::shared("jarm_error_inside_the_jwt_is_the_typed_oauth_error") else {
        return;
    };
    let client = basic_client(peer).await;
    let (url, pending) = client
        .authorize()
        .login_hint("deny")
        .jarm(JarmMode::Query)
        .build()
        .unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    assert!(response_of(&callback), "{callback}");
    let err = pending
        .verify_jarm_callback(&client, &callback)
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::AccessDenied),
        "{err}"
    );
}

/// JAR and JARM together (`jar-client` must sign its requests): the request object carries
/// `response_mode=form_post.jwt`, and the signed answer arrives POSTed. Nothing readable
/// travels in either direction's URL.
#[tokio::test]
async fn jar_and_jarm_together_sign_both_directions() {
    let Some(peer) = OidcPeer::shared("jar_and_jarm_together_sign_both_directions") else {
        return;
    };
    let key =
        grantkit::jwt_auth::ClientKey::from_jwk(&OidcPeer::fixture("peer-client-ec.jwk.json"))
            .unwrap();
    let client = Client::builder(peer.discover().await.unwrap(), "jar-client")
        .private_key(key)
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid"])
        .build()
        .unwrap();
    let (url, pending) = client
        .authorize()
        .signed()
        .jarm(JarmMode::FormPost)
        .build()
        .unwrap();
    assert!(
        !url.as_str().contains("response_mode"),
        "inside the JWT: {url}"
    );
    let landing = Browser::new()
        .navigate(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let Landing::Page(page) = landing else {
        panic!("form_post.jwt answers with a page that POSTs: {landing:?}");
    };
    let form = page.form("response").unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form.fields)
        .finish();
    let code = pending.verify_jarm_form_post(&client, &body).await.unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");
}

// ---------------------------------------------------------------------------------------------
// A loopback provider whose JWKS holds the fixture key `rsa-1`; responses are crafted per test.
// ---------------------------------------------------------------------------------------------

const CLIENT_ID: &str = "rp-client";

async fn discovery(State(base): State<String>) -> Json<Value> {
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "query.jwt", "form_post.jwt", "jwt"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "authorization_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn fake_client(modes: Option<&[&str]>) -> (Client, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let restricted = modes.map(|m| m.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move |state: State<String>| async move {
                let Json(mut doc) = discovery(state).await;
                if let Some(modes) = restricted {
                    doc["response_modes_supported"] = json!(modes);
                }
                Json(doc)
            }),
        )
        .route(
            "/jwks",
            get(|| async { Json(fixture_keys::jwks(&["rsa-1", "ec-256"])) }),
        )
        .with_state(base.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let provider = Discovery::new(&base).fetch().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .client_secret("s")
        .redirect_uri("http://127.0.0.1/cb")
        .build()
        .unwrap();
    (client, base)
}

/// A response JWT with these claims over a valid base (this provider, this client, two
/// minutes to live, the login's `state`, a code).
fn response(base: &str, pending: &PendingAuthorization, over: Value) -> Value {
    let mut claims = json!({
        "iss": base,
        "aud": CLIENT_ID,
        "exp": now() + 120,
        "code": "the-code",
        "state": pending.state().expose(),
    });
    for (name, value) in over.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

/// Whether an error is the one a case expects.
type Expectation = fn(&Error) -> bool;

fn callback(jwt: &str) -> String {
    format!("http://127.0.0.1/cb?response={jwt}")
}

/// Forged (signed with a key the provider does not publish, named as its own or not),
/// expired, and addressed to another client: each refused with its own error, while the
/// honest response verifies.
#[tokio::test]
async fn jarm_forged_expired_and_wrong_audience_responses_are_refused() {
    let (client, base) = fake_client(None).await;
    let (_, pending) = client.authorize().jarm(JarmMode::Query).build().unwrap();
    let good = sign("rsa-1", true, &response(&base, &pending, json!({})));
    let code = pending
        .verify_jarm_callback(&client, &callback(&good))
        .await
        .unwrap();
    assert!(format!("{code:?}").contains("redacted"));

    let valid = response(&base, &pending, json!({}));
    let cases: Vec<(&str, String, Expectation)> = vec![
        (
            "foreign key claiming the provider's kid",
            {
                let jwt = sign("rsa-2", false, &valid);
                let (_, payload_sig) = jwt.split_once('.').unwrap();
                let header = sign("rsa-1", true, &valid);
                format!("{}.{payload_sig}", header.split('.').next().unwrap())
            },
            |e| {
                matches!(
                    e,
                    Error::Jarm(JarmError::Signature(IdTokenError::BadSignature))
                )
            },
        ),
        (
            "foreign key under its own kid",
            sign("rsa-2", true, &valid),
            |e| {
                matches!(
                    e,
                    Error::Jarm(JarmError::Signature(IdTokenError::UnknownKey { .. }))
                )
            },
        ),
        (
            "a published key of another algorithm than registered",
            sign("ec-256", true, &valid),
            |e| {
                matches!(
                    e,
                    Error::Jarm(JarmError::Signature(
                        IdTokenError::AlgorithmNotAllowed { .. }
                    ))
                )
            },
        ),
        (
            "expired",
            sign(
                "rsa-1",
                true,
                &response(&base, &pending, json!({"exp": now() - 3600})),
            ),
            |e| matches!(e, Error::Jarm(JarmError::Expired { .. })),
        ),
        (
            "for another client",
            sign(
                "rsa-1",
                true,
                &response(&base, &pending, json!({"aud": "other-client"})),
            ),
            |e| matches!(e, Error::Jarm(JarmError::AudienceMismatch(_))),
        ),
        (
            "from another issuer",
            sign(
                "rsa-1",
                true,
                &response(&base, &pending, json!({"iss": "https://evil.example"})),
            ),
            |e| matches!(e, Error::Jarm(JarmError::IssuerMismatch { .. })),
        ),
        (
            "another login's state",
            sign(
                "rsa-1",
                true,
                &response(&base, &pending, json!({"state": "x"})),
            ),
            |e| matches!(e, Error::Callback(CallbackError::StateMismatch)),
        ),
    ];
    for (case, jwt, expected) in cases {
        let err = pending
            .verify_jarm_callback(&client, &callback(&jwt))
            .await
            .unwrap_err();
        assert!(expected(&err), "{case}: {err:?}");
        assert!(!err.to_string().contains("the-code"), "{case}: {err}");
    }
}

/// A plain `code`/`state` callback for a login that asked for a signed response is a
/// downgrade: refused by every verifier, even with the right `state`.
#[tokio::test]
async fn jarm_plain_code_callback_for_a_jarm_request_is_refused_as_a_downgrade() {
    let (client, _) = fake_client(None).await;
    let (_, pending) = client.authorize().jarm(JarmMode::Query).build().unwrap();
    let plain = format!(
        "http://127.0.0.1/cb?code=injected&state={}",
        pending.state().expose()
    );
    let downgrade = |e: &Error| {
        matches!(
            e,
            Error::Jarm(JarmError::MissingResponse { mode: "query.jwt" })
        )
    };
    let err = pending
        .verify_jarm_callback(&client, &plain)
        .await
        .unwrap_err();
    assert!(downgrade(&err), "{err:?}");
    let err = pending.verify_callback(&plain).unwrap_err();
    assert!(downgrade(&err), "{err:?}");
    let err = pending
        .verify(&grantkit::Callback::parse(&plain).unwrap())
        .unwrap_err();
    assert!(downgrade(&err), "{err:?}");
    // And a JWT callback for a login that did not ask for one is not taken either.
    let (_, plain_login) = client.authorize().build().unwrap();
    let err = plain_login
        .verify_jarm_callback(&client, "response=x.y.z")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Callback(CallbackError::ResponseModeMismatch { .. })
        ),
        "{err:?}"
    );
}

/// A provider that does not list the mode would answer unsigned (or with an error); the
/// request is refused before the browser goes anywhere.
#[tokio::test]
async fn jarm_refused_for_a_provider_without_the_response_mode() {
    let (client, _) = fake_client(Some(&["query", "fragment"])).await;
    let err = client
        .authorize()
        .jarm(JarmMode::FormPost)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                reason: Refusal::ResponseModeNotSupported {
                    mode: "form_post.jwt",
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    // `fragment.jwt` is no mode of grantkit's: a server never sees a fragment.
    let err = client
        .authorize()
        .param("response_mode", "fragment.jwt")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}
