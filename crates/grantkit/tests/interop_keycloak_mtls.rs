//! Mutual TLS (RFC 8705) at Keycloak 26.7.3 (issue 19, item 5): a second Keycloak served over
//! HTTPS on loopback (`Keycloak::start_tls`: `--https-client-auth=request`, the test CA as
//! `--truststore-paths`), with certificates made here at test time. Its realm
//! `grantkit-mtls` (crates/grantkit-testkit/keycloak/grantkit-mtls-realm.json) registers
//! `mtls-client` with Keycloak's `client-x509` authenticator (`X509ClientAuthenticator`):
//! `x509.subjectdn` compared exactly (`x509.allow.regex.pattern.comparison` false, the regex
//! form is deprecated there), `x509.casubjectdn` naming our CA (the chain is validated against
//! the truststore), and `tls.client.certificate.bound.access.tokens`
//! (`OIDCConfigAttributes.USE_MTLS_HOK_TOKEN`). One Keycloak per test binary; without it the
//! tests are skipped, and under `CI=true` they fail. docs/interop.md has the table and the
//! deviations (K-mTLS rows).

use std::sync::OnceLock;

use base64::Engine;
use grantkit::error::MtlsError;
use grantkit::mtls::TlsIdentity;
use grantkit::oidc::Discovery;
use grantkit::{
    AuthMethod, AuthorizedClient, Client, Endpoint, Error, OAuthErrorCode, Provider, TokenSet,
    TokenSource,
};
use grantkit_testkit::tls::{TestCa, TestCert};
use grantkit_testkit::{Browser, InteropOp, Keycloak, KeycloakTls, KEYCLOAK_REDIRECT_URI};

/// The certificates of one test run.
struct Pki {
    ca_pem: String,
    server: KeycloakTls,
    /// `CN=grantkit-mtls-client`, signed by the CA: `mtls-client`'s registered subject.
    client: String,
    /// Signed by the same CA, another subject.
    intruder: String,
    /// Self-signed, with the registered subject (`self_signed_tls_client_auth`'s shape).
    self_signed: String,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        // The realm's `x509.casubjectdn` is this CA's subject.
        let ca = TestCa::new().unwrap();
        let signed = |cn: &str| ca.sign(cn, &[]).unwrap().identity_pem();
        let server = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
        Pki {
            ca_pem: ca.cert_pem().to_owned(),
            server: KeycloakTls {
                server_cert_pem: server.cert_pem,
                server_key_pem: server.key_pem,
                ca_pem: ca.cert_pem().to_owned(),
            },
            client: signed("grantkit-mtls-client"),
            intruder: signed("grantkit-mtls-intruder"),
            self_signed: TestCert::self_signed("grantkit-mtls-client")
                .unwrap()
                .identity_pem(),
        }
    })
}

fn ca() -> reqwest::Certificate {
    reqwest::Certificate::from_pem(pki().ca_pem.as_bytes()).unwrap()
}

fn keycloak(test: &str) -> Option<&'static Keycloak> {
    static OP: OnceLock<Option<Keycloak>> = OnceLock::new();
    OP.get_or_init(|| Keycloak::start_tls_or_skip(test, &pki().server))
        .as_ref()
}

/// The mTLS realm's provider, discovered over HTTPS trusting the test CA.
async fn provider(op: &Keycloak) -> Provider {
    Discovery::new(op.mtls_issuer())
        .name("keycloak-mtls")
        .root_certificate(ca())
        .fetch()
        .await
        .unwrap()
}

fn mtls_client(provider: Provider, method: AuthMethod, pem: &str) -> Client {
    Client::builder(provider, "mtls-client")
        .auth_method(method)
        .tls_identity(TlsIdentity::from_pem(pem).unwrap())
        .root_certificate(ca())
        .redirect_uri(KEYCLOAK_REDIRECT_URI)
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

/// `cnf.x5t#S256` of a Keycloak access token (a JWT; Keycloak puts no `cnf` in the token
/// response, and its introspection needs the caller in the audience, docs/interop.md K2).
fn access_token_thumbprint(tokens: &TokenSet) -> String {
    let payload = tokens.access_token().expose().split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["cnf"]["x5t#S256"].as_str().unwrap().to_owned()
}

fn assert_oauth_error(e: &Error, code: OAuthErrorCode) {
    assert_eq!(e.oauth_code(), Some(&code), "{e:?}");
}

/// RFC 8705 §2.1.1 and §5: Keycloak's discovery names `tls_client_auth` and
/// `mtls_endpoint_aliases` (`OIDCWellKnownProvider`), which pass grantkit's endpoint policy and
/// survive a save; Keycloak's aliases are its plain endpoints (one listener asks every caller
/// for a certificate). `self_signed_tls_client_auth` is not listed: `X509ClientAuthenticator`
/// answers only `tls_client_auth` in `getProtocolAuthenticatorMethods` (K8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_mtls_discovery_lists_tls_client_auth_and_endpoint_aliases() {
    let Some(op) = keycloak("keycloak_mtls_discovery_lists_tls_client_auth_and_endpoint_aliases")
    else {
        return;
    };
    let provider = provider(op).await;
    let methods: Vec<&str> = provider.auth_methods().iter().map(|m| m.as_str()).collect();
    assert!(methods.contains(&"tls_client_auth"), "{methods:?}");
    assert!(
        !methods.contains(&"self_signed_tls_client_auth"),
        "{methods:?}"
    );
    for endpoint in [Endpoint::Token, Endpoint::Userinfo, Endpoint::Revocation] {
        let alias = provider.mtls_endpoint_alias(endpoint).unwrap();
        assert_eq!(alias, provider.endpoint(endpoint).unwrap(), "{endpoint:?}");
        assert!(alias.as_str().starts_with(&op.mtls_issuer()), "{alias}");
    }
    let json = serde_json::to_value(&provider).unwrap();
    let again: Provider = serde_json::from_value(json).unwrap();
    assert_eq!(
        again.mtls_endpoint_alias(Endpoint::Token),
        provider.mtls_endpoint_alias(Endpoint::Token)
    );
}

/// RFC 8705 §2.1 and §3: `tls_client_auth` gets a client-credentials token with no secret;
/// the token is bound to our certificate (`cnf.x5t#S256` equals our thumbprint); userinfo
/// answers it with the certificate (grantkit's call and `AuthorizedClient`) and refuses it
/// without (Keycloak's `UserInfoEndpoint`: `invalid_token`, "Client certificate missing, or
/// its thumbprint and one in the token did NOT match").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_mtls_client_credentials_token_is_bound_and_userinfo_needs_the_certificate() {
    let Some(op) = keycloak("keycloak_mtls_client_credentials_token_is_bound") else {
        return;
    };
    let provider = provider(op).await;
    let client = mtls_client(provider.clone(), AuthMethod::TlsClientAuth, &pki().client);
    // `openid`: Keycloak's userinfo refuses (403) a token without it.
    let tokens = client.client_credentials(["openid"]).await.unwrap();
    let ours = client.tls_identity().unwrap().thumbprint();
    assert_eq!(access_token_thumbprint(&tokens), ours);
    let info = client.userinfo(&tokens).await.unwrap();
    assert!(!info.sub.is_empty());

    let source = TokenSource::builder(client.clone())
        .tokens(tokens.clone())
        .build()
        .await
        .unwrap();
    let api = AuthorizedClient::new(source).unwrap();
    let userinfo = provider.mtls_endpoint_alias(Endpoint::Userinfo).unwrap();
    assert_eq!(
        api.get(userinfo.as_str()).send().await.unwrap().status(),
        200
    );

    // A client without the certificate: grantkit reads the binding from the JWT access token
    // (RFC 8705 §3.1) and refuses to send it; sent anyway without a certificate, Keycloak
    // refuses it too.
    let bare = Client::builder(provider.clone(), "mtls-client")
        .auth_method(AuthMethod::None)
        .root_certificate(ca())
        .build()
        .unwrap();
    let e = bare.userinfo(&tokens).await.unwrap_err();
    assert!(matches!(e, Error::Mtls(MtlsError::NoIdentity)), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(tokens.access_token().expose()), "{shown}");
    let no_certificate = reqwest::Client::builder()
        .tls_certs_merge([ca()])
        .build()
        .unwrap();
    let answer = no_certificate
        .get(provider.endpoint(Endpoint::Userinfo).unwrap().as_str())
        .bearer_auth(tokens.access_token().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = answer.text().await.unwrap();
    assert!(
        challenge.contains("invalid_token") || body.contains("invalid_token"),
        "{challenge} {body}"
    );
}

/// A user's login (authorization code + PKCE through Keycloak's login page, a browser
/// trusting the CA) with `tls_client_auth` at the token endpoint: the user's access token is
/// bound to our certificate and userinfo names alice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_mtls_login_binds_the_users_token_to_our_certificate() {
    let Some(op) = keycloak("keycloak_mtls_login_binds_the_users_token_to_our_certificate") else {
        return;
    };
    let client = mtls_client(provider(op).await, AuthMethod::TlsClientAuth, &pki().client);
    let (url, pending) = client.authorize().build().unwrap();
    let browser = Browser::trusting(ca());
    let callback = op
        .login(&browser, url.as_str(), KEYCLOAK_REDIRECT_URI)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(
        access_token_thumbprint(&tokens),
        client.tls_identity().unwrap().thumbprint()
    );
    // Not alice's `sub` of the shared realm: user ids are unique across realms, so this
    // realm's alice has an id of Keycloak's choosing.
    let info = client.userinfo(&tokens).await.unwrap();
    assert_eq!(info.preferred_username.as_deref(), Some("alice"));
    assert_eq!(info.email.as_deref(), Some(op.user().email.as_str()));
}

/// A certificate from the same CA with another subject is refused (`x509.subjectdn` compared
/// exactly), and so is a call with no certificate: both `invalid_client`, 401 (Keycloak's
/// client authentication flow), as RFC 6749 §5.2 says (unlike a wrong secret, K4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_mtls_another_subject_from_the_same_ca_is_refused() {
    let Some(op) = keycloak("keycloak_mtls_another_subject_from_the_same_ca_is_refused") else {
        return;
    };
    let provider = provider(op).await;
    let intruder = mtls_client(provider.clone(), AuthMethod::TlsClientAuth, &pki().intruder);
    let e = intruder.client_credentials(["openid"]).await.unwrap_err();
    assert_oauth_error(&e, OAuthErrorCode::InvalidClient);

    // No certificate: `mtls-client` calling as a public client (grantkit refuses to build a
    // `tls_client_auth` client without one, so the method must be `none` to reach Keycloak).
    let without = Client::builder(provider.clone(), "mtls-client")
        .auth_method(AuthMethod::None)
        .root_certificate(ca())
        .build()
        .unwrap();
    let e = without.client_credentials(["openid"]).await.unwrap_err();
    assert_oauth_error(&e, OAuthErrorCode::InvalidClient);
    let unbuilt = Client::builder(provider, "mtls-client")
        .auth_method(AuthMethod::TlsClientAuth)
        .root_certificate(ca())
        .build();
    assert!(matches!(unbuilt, Err(Error::Config(_))), "{unbuilt:?}");
}

/// `self_signed_tls_client_auth` (RFC 8705 §2.2) is not implemented by Keycloak 26.7.3: not
/// in its discovery (above), no client authenticator answers it, and a self-signed
/// certificate with the registered subject is refused at the TLS handshake (K8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_mtls_self_signed_tls_client_auth_is_not_supported() {
    let Some(op) = keycloak("keycloak_mtls_self_signed_tls_client_auth_is_not_supported") else {
        return;
    };
    let provider = provider(op).await;
    // grantkit takes the provider's word: a method its discovery does not list is refused
    // when the client is built, before any request.
    let built = Client::builder(provider.clone(), "mtls-client")
        .auth_method(AuthMethod::SelfSignedTlsClientAuth)
        .tls_identity(TlsIdentity::from_pem(&pki().self_signed).unwrap())
        .root_certificate(ca())
        .build();
    let Err(Error::Config(message)) = &built else {
        panic!("{built:?}");
    };
    assert!(message.contains("does not accept"), "{message}");
    // The self-signed certificate presented anyway (as `tls_client_auth`, the only X.509
    // method Keycloak has): it does not chain to the truststore, and Keycloak's TLS layer
    // ends the handshake (fatal alert `certificate_unknown`) before any OAuth answer.
    let client = mtls_client(provider, AuthMethod::TlsClientAuth, &pki().self_signed);
    let e = client.client_credentials(["openid"]).await.unwrap_err();
    assert!(
        matches!(&e, Error::Transport { endpoint: Endpoint::Token, message } if message.contains("CertificateUnknown")),
        "{e:?}"
    );
}
