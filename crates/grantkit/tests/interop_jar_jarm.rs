//! JAR (RFC 9101) and JARM on Keycloak, with the realm's existing clients: Keycloak takes a
//! `request` object from any client and verifies it with the client's registered keys
//! (`jwks.string` of `jwt-key-client`), and answers `response_mode=query.jwt` for any client,
//! signed with the realm key (`authorization.signed.response.alg`, RS256 by default). Skipped
//! (with a message) where Keycloak is not installed, as `interop_matrix.rs` is.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantkit::jwt_auth::ClientKey;
use grantkit::oidc::Discovery;
use grantkit::{Client, JarmMode};
use grantkit_testkit::{Browser, ClientRole, InteropOp, Keycloak, Landing, OidcPeer};
use url::Url;

fn keycloak(test: &str) -> Option<&'static Keycloak> {
    static OP: OnceLock<Option<Keycloak>> = OnceLock::new();
    OP.get_or_init(|| Keycloak::start_or_skip(test)).as_ref()
}

/// `url` with its request object's `state` claim changed and the signature kept.
fn tampered(url: &Url) -> Url {
    let jwt = url
        .query_pairs()
        .find(|(k, _)| k == "request")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["state"] = "attacker-chosen".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(url.query_pairs().map(|(k, v)| {
            let v = if k == "request" {
                forged.clone()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        }));
    out
}

/// A signed request by `jwt-key-client` (ES256, its P-256 key): Keycloak verifies it and the
/// login completes; the URL carries no plain `redirect_uri` or `state`; a tampered one is
/// refused.
#[tokio::test]
async fn keycloak_accepts_a_signed_request_object() {
    let Some(op) = keycloak("keycloak_accepts_a_signed_request_object") else {
        return;
    };
    let registered = op.client(ClientRole::PrivateKeyJwt).unwrap();
    let provider = Discovery::new(op.issuer()).fetch().await.unwrap();
    let client = Client::builder(provider, &registered.id)
        .private_key(
            ClientKey::from_pem(&OidcPeer::fixture("peer-client-ec.pem"))
                .unwrap()
                .with_kid("peer-client-ec"),
        )
        .redirect_uri(&registered.redirect_uri)
        .scopes(op.scopes())
        .build()
        .unwrap();
    let (url, pending) = client.authorize().signed().build().unwrap();
    assert!(
        !url.query_pairs()
            .any(|(k, _)| k == "redirect_uri" || k == "state"),
        "{url}"
    );
    // One claim changed, the signature kept: Keycloak refuses it (an error page, or an error
    // redirect), and no code is issued.
    let landing = Browser::new()
        .navigate(tampered(&url).as_str(), &registered.redirect_uri)
        .await
        .unwrap();
    match &landing {
        Landing::Callback(callback) => assert!(!callback.contains("code="), "{callback}"),
        // Not the login form (200): Keycloak's error page.
        Landing::Page(page) => {
            assert_eq!(page.status, 400, "{}", page.excerpt());
        }
    }
    let callback = op
        .login(&Browser::new(), url.as_str(), &registered.redirect_uri)
        .await
        .unwrap();
    let tokens = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, op.user().subject);
}

/// `response_mode=query.jwt`: Keycloak's signed response verifies (realm JWKS, RS256, `iss`,
/// `aud`, `exp`) and its code logs in.
#[tokio::test]
async fn keycloak_signed_authorization_response_verifies() {
    let Some(op) = keycloak("keycloak_signed_authorization_response_verifies") else {
        return;
    };
    let registered = op.client(ClientRole::SecretBasic).unwrap();
    let provider = Discovery::new(op.issuer()).fetch().await.unwrap();
    let client = Client::builder(provider, &registered.id)
        .client_secret(registered.secret.clone().unwrap())
        .redirect_uri(&registered.redirect_uri)
        .scopes(op.scopes())
        .build()
        .unwrap();
    let (url, pending) = client.authorize().jarm(JarmMode::Query).build().unwrap();
    let callback = op
        .login(&Browser::new(), url.as_str(), &registered.redirect_uri)
        .await
        .unwrap();
    assert!(callback.contains("response="), "{callback}");
    let code = pending
        .verify_jarm_callback(&client, &callback)
        .await
        .unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, op.user().subject);
}
