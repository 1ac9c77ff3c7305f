//! Dynamic client registration (RFC 7591) and management (RFC 7592) on Keycloak
//! (`scripts/install-keycloak`), anonymous: the realm's `Trusted Hosts` client-registration
//! policy trusts loopback (Keycloak's `TrustedHostClientRegistrationPolicy`; without a trusted
//! host, anonymous registration is refused). Keycloak's registration endpoint is
//! `/realms/<realm>/clients-registrations/openid-connect`, named by its discovery document.

use grantkit::oidc::Discovery;
use grantkit::registration::{ClientRegistration, Registrar};
use grantkit::{AuthMethod, OAuthErrorCode};
use grantkit_testkit::{InteropOp, Keycloak, KEYCLOAK_REDIRECT_URI};

#[tokio::test]
async fn keycloak_registration_register_use_read_update_delete_and_a_typed_refusal() {
    let Some(keycloak) = Keycloak::start_or_skip(
        "keycloak_registration_register_use_read_update_delete_and_a_typed_refusal",
    ) else {
        return;
    };
    let provider = Discovery::new(keycloak.issuer()).fetch().await.unwrap();
    let registrar = Registrar::new(&provider).unwrap();
    let registration = ClientRegistration::new()
        .client_name("grantkit registration test")
        .redirect_uri(KEYCLOAK_REDIRECT_URI)
        .auth_method(AuthMethod::ClientSecretBasic)
        .grant_types(["authorization_code", "refresh_token", "client_credentials"]);
    let registered = registrar.register(&registration).await.unwrap();
    assert!(registered.client_secret.is_some());

    // The new client gets a token (its service account, from `client_credentials`).
    let client = registered.client_builder(provider.clone()).build().unwrap();
    client.client_credentials(["profile"]).await.unwrap();

    let read = registrar.read(&registered).await.unwrap();
    assert_eq!(read.client_id, registered.client_id);
    let second = "http://127.0.0.1:8977/second";
    let updated = registrar
        .update(&read, &registration.clone().redirect_uri(second))
        .await
        .unwrap();
    let uris = updated.metadata["redirect_uris"].as_array().unwrap();
    assert!(uris.iter().any(|u| u == second), "{uris:?}");

    let bad = registration
        .clone()
        .redirect_uri("http://127.0.0.1/callback#fragment");
    let e = registrar.register(&bad).await.unwrap_err();
    // Keycloak: 400 `invalid_redirect_uri`, "A redirect URI must not contain an URL fragment".
    assert_eq!(
        e.oauth_code(),
        Some(&OAuthErrorCode::InvalidRedirectUri),
        "{e}"
    );

    registrar.delete(&updated).await.unwrap();
    let e = client.client_credentials(["profile"]).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidClient), "{e}");
}
