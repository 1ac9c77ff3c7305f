//! Signed authorization requests (JAR, RFC 9101) against the real `oidc-provider` peer, whose
//! `jar-client` must send every authorization request as a request object signed ES256 with
//! its registered key (`require_signed_request_object`, `request_object_signing_alg`). The
//! peer checks the signature against the client's JWKS, `iss` = the client, `aud` = the issuer
//! and the lifetime (`lib/actions/authorization/process_request_object.js`, oidc-provider 9).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantkit::error::Refusal;
use grantkit::jwt_auth::ClientKey;
use grantkit::oidc::ProviderMetadata;
use grantkit::{Client, Error, OAuthErrorCode, Provider};
use grantkit_testkit::{Browser, Landing, OidcPeer, PEER_REDIRECT_URI};
use url::Url;

fn ec_key() -> ClientKey {
    ClientKey::from_jwk(&OidcPeer::fixture("peer-client-ec.jwk.json")).unwrap()
}

fn jar_client(provider: Provider) -> Client {
    Client::builder(provider, "jar-client")
        .private_key(ec_key())
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

fn names(url: &Url) -> Vec<String> {
    url.query_pairs().map(|(k, _)| k.into_owned()).collect()
}

fn request_object(url: &Url) -> String {
    url.query_pairs()
        .find(|(k, _)| k == "request")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn decode(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The front channel carries `client_id`, `response_type`, `scope` (OpenID Connect Core §6.1)
/// and the JWT; `redirect_uri`, `state`, `nonce` and the PKCE challenge only inside it. The
/// peer refuses this client's unsigned requests, so a login that completes was signed.
#[tokio::test]
async fn jar_signed_login_completes_and_the_url_carries_no_plain_redirect_uri_or_state() {
    let Some(peer) = OidcPeer::shared(
        "jar_signed_login_completes_and_the_url_carries_no_plain_redirect_uri_or_state",
    ) else {
        return;
    };
    let client = jar_client(peer.discover().await.unwrap());
    let (url, pending) = client.authorize().signed().build().unwrap();
    assert_eq!(
        names(&url),
        ["response_type", "client_id", "scope", "request"]
    );
    let jwt = request_object(&url);
    let parts: Vec<&str> = jwt.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(header["typ"], "oauth-authz-req+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["iss"], "jar-client");
    assert_eq!(claims["aud"], peer.issuer());
    assert_eq!(claims["state"], pending.state().expose());
    assert_eq!(claims["redirect_uri"], PEER_REDIRECT_URI);
    for claim in ["exp", "iat", "nbf", "jti", "nonce", "code_challenge"] {
        assert!(claims.get(claim).is_some(), "{claim} in {claims}");
    }

    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");

    // The same client unsigned: the peer answers `invalid_request` (it must use a request
    // object), so the login above was accepted because it was signed.
    let (url, pending) = client.authorize().build().unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let err = pending.verify_callback(&callback).unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidRequest),
        "{err}"
    );
}

/// Pushed (RFC 9126), the browser sees `client_id` and `request_uri` only, and the app's own
/// parameter (`login_hint`) reached the provider inside the pushed JWT.
#[tokio::test]
async fn jar_signed_request_pushed_through_par_logs_in() {
    let Some(peer) = OidcPeer::shared("jar_signed_request_pushed_through_par_logs_in") else {
        return;
    };
    let client = jar_client(peer.discover().await.unwrap());
    let (url, pending) = client
        .authorize()
        .param("login_hint", "carol")
        .signed()
        .push()
        .await
        .unwrap();
    assert_eq!(names(&url), ["client_id", "request_uri"]);
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let tokens = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, "carol");
}

/// The signature matters: the same request object with one claim changed (the user to log
/// in as), its signature kept, is refused by the peer and no code is issued.
#[tokio::test]
async fn jar_tampered_request_object_is_refused_by_the_peer() {
    let Some(peer) = OidcPeer::shared("jar_tampered_request_object_is_refused_by_the_peer") else {
        return;
    };
    let client = jar_client(peer.discover().await.unwrap());
    let (url, _pending) = client
        .authorize()
        .param("login_hint", "alice")
        .signed()
        .build()
        .unwrap();
    let jwt = request_object(&url);
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims = decode(parts[1]);
    claims["login_hint"] = "mallory".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    let mut tampered = url.clone();
    tampered
        .query_pairs_mut()
        .clear()
        .extend_pairs(url.query_pairs().map(|(k, v)| {
            let v = if k == "request" {
                forged.clone()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        }));

    let landing = Browser::new()
        .navigate(tampered.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    match landing {
        // oidc-provider renders an error page: the redirect URI inside the JWT is untrusted.
        Landing::Page(page) => {
            assert_eq!(page.status, 400, "{}", page.body);
            assert!(
                page.body.contains("invalid_request_object"),
                "{}",
                page.body
            );
        }
        Landing::Callback(callback) => {
            assert!(
                callback.contains("error=invalid_request_object"),
                "{callback}"
            );
            assert!(!callback.contains("code="), "{callback}");
        }
    }
    // The untouched one still logs in: the refusal was the tampering's.
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    assert!(callback.contains("code="), "{callback}");
}

fn metadata(extra: serde_json::Value) -> Provider {
    let mut doc = serde_json::json!({
        "issuer": "https://op.example",
        "authorization_endpoint": "https://op.example/authorize",
        "token_endpoint": "https://op.example/token",
        "jwks_uri": "https://op.example/jwks",
    });
    doc.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let metadata: ProviderMetadata = serde_json::from_value(doc).unwrap();
    metadata.into_provider("op").unwrap()
}

/// A provider whose metadata does not declare `request_parameter_supported: true` (OpenID
/// Connect Discovery §3: the default is `false`) would ignore or refuse the request object;
/// one that does not list the key's algorithm could not verify it. Neither is sent.
#[test]
fn jar_refused_for_a_provider_without_request_objects_or_the_keys_algorithm() {
    let client = jar_client(metadata(serde_json::json!({})));
    let err = client.authorize().signed().build().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                reason: Refusal::RequestObjectNotSupported,
                ..
            }
        ),
        "{err}"
    );
    let client = jar_client(metadata(serde_json::json!({
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["RS256", "PS256"],
    })));
    let err = client.authorize().signed().build().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Refused {
                reason: Refusal::RequestObjectAlgorithm { alg, .. },
                ..
            } if alg == "ES256"
        ),
        "{err}"
    );
    // Without a private key there is nothing to sign with.
    let public = Client::builder(
        metadata(serde_json::json!({"request_parameter_supported": true})),
        "p",
    )
    .build()
    .unwrap();
    let err = public.authorize().signed().build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

/// Pushed, the body is `client_id`, the `request` JWT and the client authentication (RFC 9126
/// §3): none of the parameters the JWT holds travels beside it, not even the OpenID Connect
/// duplicates meant for the front channel. A loopback PAR endpoint records the form.
#[tokio::test]
async fn jar_pushed_body_is_the_jwt_alone() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/par",
        post(move |body: String| async move {
            let names = url::form_urlencoded::parse(body.as_bytes()).map(|(k, _)| k.into_owned());
            record.lock().unwrap().extend(names);
            (
                axum::http::StatusCode::CREATED,
                axum::Json(serde_json::json!({"request_uri": "urn:ietf:params:oauth:request_uri:x", "expires_in": 60})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let provider = Provider::builder("loopback")
        .issuer(&base)
        .authorization_endpoint(&format!("{base}/authorize"))
        .token_endpoint(&format!("{base}/token"))
        .pushed_authorization_request_endpoint(&format!("{base}/par"))
        .build()
        .unwrap();
    let (url, _) = jar_client(provider)
        .authorize()
        .login_hint("carol")
        .signed()
        .push()
        .await
        .unwrap();
    assert_eq!(names(&url), ["client_id", "request_uri"]);
    let mut sent = seen.lock().unwrap().clone();
    sent.sort();
    assert_eq!(
        sent,
        [
            "client_assertion",
            "client_assertion_type",
            "client_id",
            "request"
        ]
    );
}
