//! Dynamic client registration (RFC 7591) and management (RFC 7592) against the real
//! `oidc-provider` peer, started with `PEER_REGISTRATION=1` (its `registration` and
//! `registrationManagement` features; the latter rotates the registration access token on
//! every update, as `rotateRegistrationAccessToken: true` does in lib/actions/registration.js's
//! `put`: a read keeps it).

use grantkit::registration::{ClientRegistration, RegisteredClient, Registrar};
use grantkit::{AuthMethod, Endpoint, Error, OAuthErrorCode, Provider};
use grantkit_testkit::{login, OidcPeer, PEER_REDIRECT_URI};

const OPEN: &[(&str, &str)] = &[("PEER_REGISTRATION", "1")];
const IAT: &str = "grantkit-initial-access-token";
const WITH_IAT: &[(&str, &str)] = &[("PEER_REGISTRATION", "1"), ("PEER_REGISTRATION_IAT", IAT)];

/// A native client (RFC 8252: loopback redirect URIs, any port) using the code flow.
fn native(method: AuthMethod) -> ClientRegistration {
    ClientRegistration::new()
        .client_name("grantkit registration test")
        .redirect_uri(PEER_REDIRECT_URI)
        .auth_method(method)
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .scopes(["openid", "email"])
        .extra("application_type", "native")
}

async fn provider(peer: &OidcPeer) -> Provider {
    peer.discover().await.unwrap()
}

async fn log_in(provider: Provider, registered: &RegisteredClient) -> grantkit::TokenSet {
    let client = registered
        .client_builder(provider)
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    login(&client, None).await.unwrap()
}

#[tokio::test]
async fn registration_register_log_in_read_update_delete() {
    let Some(peer) =
        OidcPeer::shared_with_env("registration_register_log_in_read_update_delete", OPEN)
    else {
        return;
    };
    let provider = provider(peer).await;
    let registrar = Registrar::new(&provider).unwrap();
    let registration = native(AuthMethod::ClientSecretBasic);
    let registered = registrar.register(&registration).await.unwrap();
    let secret = registered
        .client_secret
        .clone()
        .expect("a confidential client gets a secret");
    let rat = registered.registration_access_token.clone().unwrap();
    assert_eq!(
        registered.auth_method(),
        Some(AuthMethod::ClientSecretBasic)
    );
    let debug = format!("{registered:?}");
    assert!(
        !debug.contains(secret.expose()) && !debug.contains(rat.expose()),
        "{debug}"
    );

    // The new client logs a user in, its secret sent the registered way.
    let tokens = log_in(provider.clone(), &registered).await;
    assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");

    // Read: the registration as the peer holds it, the same registration access token.
    let read = registrar.read(&registered).await.unwrap();
    assert_eq!(read.client_id, registered.client_id);
    assert_eq!(
        read.registration_access_token,
        registered.registration_access_token
    );

    // Update: the whole metadata again, with a second redirect URI. The peer rotates the
    // registration access token; the returned client holds the new one, the old one is dead.
    let second = "http://127.0.0.1:8977/second";
    let updated = registrar
        .update(&read, &registration.clone().redirect_uri(second))
        .await
        .unwrap();
    assert_eq!(
        updated.metadata["redirect_uris"],
        serde_json::json!([PEER_REDIRECT_URI, second])
    );
    assert_ne!(
        updated.registration_access_token,
        read.registration_access_token
    );
    let stale = registrar.read(&read).await.unwrap_err();
    assert_eq!(
        stale.oauth_code(),
        Some(&OAuthErrorCode::InvalidToken),
        "{stale}"
    );
    assert!(!stale.to_string().contains(rat.expose()));
    let secret_now = updated.client_secret.clone().unwrap_or(secret);

    // Delete: the client is refused from then on.
    registrar.delete(&updated).await.unwrap();
    let client = updated
        .client_builder(provider)
        .client_secret(secret_now)
        .redirect_uri(PEER_REDIRECT_URI)
        .build()
        .unwrap();
    let e = client.refresh(&tokens).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidClient), "{e}");
    assert!(registrar.read(&updated).await.is_err());
}

#[tokio::test]
async fn registration_of_a_public_client_gets_no_secret_and_logs_in_with_pkce() {
    let Some(peer) = OidcPeer::shared_with_env(
        "registration_of_a_public_client_gets_no_secret_and_logs_in_with_pkce",
        OPEN,
    ) else {
        return;
    };
    let provider = provider(peer).await;
    let registrar = Registrar::new(&provider).unwrap();
    let registered = registrar.register(&native(AuthMethod::None)).await.unwrap();
    assert!(registered.client_secret.is_none());
    let tokens = log_in(provider, &registered).await;
    assert!(tokens.refresh_token().is_some());
    registrar.delete(&registered).await.unwrap();
}

#[tokio::test]
async fn registration_invalid_redirect_uri_is_a_typed_error() {
    let Some(peer) =
        OidcPeer::shared_with_env("registration_invalid_redirect_uri_is_a_typed_error", OPEN)
    else {
        return;
    };
    let registrar = Registrar::new(&provider(peer).await).unwrap();
    // A fragment is forbidden in a redirect URI (RFC 6749 §3.1.2). oidc-provider's client schema
    // says so (lib/helpers/client_schema.js, `redirectUris`), and its `InvalidClientMetadata`
    // answers `invalid_redirect_uri` for a description about `redirect_uris`,
    // `invalid_client_metadata` for any other (lib/helpers/errors.js, oidc-provider 9).
    let bad = native(AuthMethod::None).redirect_uri("http://127.0.0.1/callback#fragment");
    let e = registrar.register(&bad).await.unwrap_err();
    let Error::OAuth(oauth) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(oauth.code, OAuthErrorCode::InvalidRedirectUri, "{e}");
    assert_eq!(oauth.endpoint, Endpoint::Registration);
    assert!(
        oauth
            .description
            .as_deref()
            .unwrap_or("")
            .contains("fragment"),
        "{e}"
    );
    assert!(e.to_string().contains("client registration"), "{e}");
}

#[tokio::test]
async fn registration_with_an_initial_access_token() {
    let Some(peer) =
        OidcPeer::shared_with_env("registration_with_an_initial_access_token", WITH_IAT)
    else {
        return;
    };
    let provider = provider(peer).await;
    let refused = Registrar::new(&provider)
        .unwrap()
        .register(&native(AuthMethod::None))
        .await
        .unwrap_err();
    assert!(refused.oauth().is_some(), "{refused:?}");
    let registrar = Registrar::new(&provider).unwrap().initial_access_token(IAT);
    let registered = registrar.register(&native(AuthMethod::None)).await.unwrap();
    assert!(!registered.client_id.is_empty());
}
