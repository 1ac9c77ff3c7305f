//! Mutual TLS (RFC 8705) against the `oidc-provider` peer served over HTTPS on loopback, with
//! certificates made here at test time (a CA, the server's for 127.0.0.1, client certificates).
//!
//! The peer (server.mjs, `PEER_TLS_*`) turns on oidc-provider's `features.mTLS`: it reads the
//! client certificate from the TLS socket only for requests to its `mtls_endpoint_aliases`
//! (`/mtls/...`), so a client that called the plain endpoints would present no certificate and
//! fail `tls_client_auth` ("client certificate was not provided", lib/shared/client_auth.js).

use std::sync::OnceLock;
use std::time::Duration;

use grantkit::error::MtlsError;
use grantkit::mtls::TlsIdentity;
use grantkit::oidc::Discovery;
use grantkit::registration::{ClientRegistration, Registrar};
use grantkit::{
    AuthMethod, AuthorizedClient, Client, Endpoint, Error, OAuthErrorCode, Provider, TokenSet,
    TokenSource,
};
use grantkit_testkit::tls::{TestCa, TestCert};
use grantkit_testkit::{Browser, OidcPeer, PeerTls, TestServer, PEER_REDIRECT_URI};

/// The certificates of one test run.
struct Pki {
    ca_pem: String,
    peer: PeerTls,
    /// `CN=grantkit-mtls-client`, signed by the CA: `mtls-client`'s registered subject.
    client: String,
    /// Signed by the same CA, but another subject.
    intruder: String,
    /// Self-signed, registered in `mtls-self-signed-client`'s JWKS.
    self_signed: String,
    /// Self-signed, registered nowhere.
    stranger: String,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::new().unwrap();
        let signed = |cn: &str| ca.sign(cn, &[]).unwrap().identity_pem();
        let self_signed = |cn: &str| TestCert::self_signed(cn).unwrap();
        let server = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
        let registered = self_signed("grantkit-self-signed");
        Pki {
            ca_pem: ca.cert_pem().to_owned(),
            peer: PeerTls {
                cert: server.cert_pem,
                key: server.key_pem,
                ca: ca.cert_pem().to_owned(),
                self_signed_client: Some(registered.cert_pem.clone()),
            },
            client: signed("grantkit-mtls-client"),
            intruder: signed("grantkit-mtls-intruder"),
            self_signed: registered.identity_pem(),
            stranger: self_signed("grantkit-stranger").identity_pem(),
        }
    })
}

fn ca() -> reqwest::Certificate {
    reqwest::Certificate::from_pem(pki().ca_pem.as_bytes()).unwrap()
}

fn peer(test: &str) -> Option<&'static OidcPeer> {
    static PEER: OnceLock<Option<OidcPeer>> = OnceLock::new();
    PEER.get_or_init(|| OidcPeer::start_tls_or_skip(test, &pki().peer))
        .as_ref()
}

/// The peer's provider, discovered over HTTPS trusting the test CA.
async fn provider(peer: &OidcPeer) -> Provider {
    Discovery::new(peer.issuer())
        .name("mtls-peer")
        .root_certificate(ca())
        .fetch()
        .await
        .unwrap()
}

fn mtls_client(provider: Provider, id: &str, method: AuthMethod, pem: &str) -> Client {
    Client::builder(provider, id)
        .auth_method(method)
        .tls_identity(TlsIdentity::from_pem(pem).unwrap())
        .root_certificate(ca())
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

/// `app` served as a fake provider (its `/token` and `/introspect`), and an mTLS client of it
/// holding the test client certificate: for answers the peer never gives.
async fn fake_server_client(app: axum::Router) -> (TestServer, Client) {
    let server = TestServer::start(app).await.unwrap();
    let provider = Provider::builder("fake")
        .token_endpoint(&format!("http://{}/token", server.addr()))
        .introspection_endpoint(&format!("http://{}/introspect", server.addr()))
        .build()
        .unwrap();
    let client = mtls_client(
        provider,
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki().client,
    );
    (server, client)
}

/// A login through the peer's auto-approving interaction, with a browser trusting the CA.
async fn login(client: &Client, user: &str) -> TokenSet {
    let (url, pending) = client
        .authorize()
        .param("login_hint", user)
        .build()
        .unwrap();
    let callback = Browser::trusting(ca())
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code).await.unwrap()
}

fn assert_invalid_client(e: &Error) {
    assert_eq!(
        e.oauth_code(),
        Some(&OAuthErrorCode::InvalidClient),
        "{e:?}"
    );
}

/// RFC 8705 §5: the peer's discovery lists `mtls_endpoint_aliases`, they pass the endpoint
/// policy, and a client with a certificate calls them (the plain token endpoint would not see
/// its certificate: `tls_client_auth` succeeding proves the alias was used).
#[tokio::test]
async fn mtls_endpoint_aliases_are_discovered_and_used() {
    let Some(peer) = peer("mtls_endpoint_aliases_are_discovered_and_used") else {
        return;
    };
    let provider = provider(peer).await;
    let alias = provider.mtls_endpoint_alias(Endpoint::Token).unwrap();
    assert_eq!(alias.as_str(), peer.url("/mtls/token"));
    assert_eq!(
        provider
            .mtls_endpoint_alias(Endpoint::Userinfo)
            .map(|u| u.as_str()),
        Some(peer.url("/mtls/me").as_str())
    );
    for m in ["tls_client_auth", "self_signed_tls_client_auth"] {
        assert!(
            provider.auth_methods().iter().any(|a| a.as_str() == m),
            "{m}"
        );
    }
    // Saved and read back, the aliases stay (and are checked again).
    let json = serde_json::to_value(&provider).unwrap();
    assert_eq!(
        json["mtls_endpoint_aliases"]["token_endpoint"],
        peer.url("/mtls/token")
    );
    let again: Provider = serde_json::from_value(json).unwrap();
    assert_eq!(again.mtls_endpoint_alias(Endpoint::Token), Some(alias));
}

/// RFC 8705 §2.1 `tls_client_auth`: a CA-issued certificate with the registered subject gets
/// tokens with no secret; the access token is bound to it (`cnf.x5t#S256` at introspection,
/// lib/actions/introspection.js) and equals our certificate's thumbprint.
#[tokio::test]
async fn mtls_tls_client_auth_obtains_a_certificate_bound_token() {
    let Some(peer) = peer("mtls_tls_client_auth_obtains_a_certificate_bound_token") else {
        return;
    };
    let pki = pki();
    let client = mtls_client(
        provider(peer).await,
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki.client,
    );
    let tokens = client.client_credentials(["api:read"]).await.unwrap();
    let introspection = client
        .introspect(tokens.access_token(), None)
        .await
        .unwrap();
    assert!(introspection.active);
    let ours = client.tls_identity().unwrap().thumbprint();
    assert_eq!(introspection.extra["cnf"]["x5t#S256"], ours);
    let shown = format!("{client:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

/// RFC 8705 §2.2 `self_signed_tls_client_auth`: the certificate registered in the client's
/// JWKS gets tokens.
#[tokio::test]
async fn mtls_self_signed_tls_client_auth_obtains_tokens() {
    let Some(peer) = peer("mtls_self_signed_tls_client_auth_obtains_tokens") else {
        return;
    };
    let client = mtls_client(
        provider(peer).await,
        "mtls-self-signed-client",
        AuthMethod::SelfSignedTlsClientAuth,
        &pki().self_signed,
    );
    let tokens = client.client_credentials(["api:read"]).await.unwrap();
    assert!(!tokens.access_token().expose().is_empty());
}

/// A certificate the registration does not name is refused by the peer: a CA-issued one with
/// another subject (`tls_client_auth`), a self-signed one not in the JWKS.
#[tokio::test]
async fn mtls_wrong_certificate_is_refused_by_the_peer() {
    let Some(peer) = peer("mtls_wrong_certificate_is_refused_by_the_peer") else {
        return;
    };
    let pki = pki();
    let provider = provider(peer).await;
    let intruder = mtls_client(
        provider.clone(),
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki.intruder,
    );
    assert_invalid_client(&intruder.client_credentials(["api:read"]).await.unwrap_err());
    let stranger = mtls_client(
        provider.clone(),
        "mtls-self-signed-client",
        AuthMethod::SelfSignedTlsClientAuth,
        &pki.stranger,
    );
    assert_invalid_client(&stranger.client_credentials(["api:read"]).await.unwrap_err());
    // The registered self-signed certificate is not a CA-issued one for `mtls-client`.
    let crossed = mtls_client(
        provider,
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki.self_signed,
    );
    assert_invalid_client(&crossed.client_credentials(["api:read"]).await.unwrap_err());
}

/// RFC 8705 §3: a bound access token works at userinfo with the certificate (grantkit's
/// userinfo call and `AuthorizedClient` both present it) and is refused without it
/// (lib/shared/access_token.js: "failed x5t#S256 verification").
#[tokio::test]
async fn mtls_bound_token_works_at_userinfo_only_with_the_certificate() {
    let Some(peer) = peer("mtls_bound_token_works_at_userinfo_only_with_the_certificate") else {
        return;
    };
    let provider = provider(peer).await;
    let client = mtls_client(
        provider.clone(),
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki().client,
    );
    let tokens = login(&client, "alice").await;
    assert_eq!(client.userinfo(&tokens).await.unwrap().sub, "alice");

    let source = TokenSource::builder(client.clone())
        .tokens(tokens.clone())
        .build()
        .await
        .unwrap();
    let api = AuthorizedClient::new(source).unwrap();
    let alias = provider.mtls_endpoint_alias(Endpoint::Userinfo).unwrap();
    let answer = api.get(alias.as_str()).send().await.unwrap();
    assert_eq!(answer.status(), 200);

    // The same token from a client without the certificate.
    let bare = Client::builder(provider, "mtls-client")
        .auth_method(AuthMethod::None)
        .root_certificate(ca())
        .build()
        .unwrap();
    let e = bare.userinfo(&tokens).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidToken), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(tokens.access_token().expose()), "{shown}");
}

/// A token bound to another certificate than ours (`cnf.x5t#S256` in the token response) is
/// refused with a typed error before it is sent anywhere.
#[tokio::test]
async fn mtls_token_bound_to_another_certificate_is_refused() {
    let pki = pki();
    let provider = Provider::builder("p")
        .issuer("https://127.0.0.1:1")
        .token_endpoint("https://127.0.0.1:1/token")
        .userinfo_endpoint("https://127.0.0.1:1/me")
        .build()
        .unwrap();
    let client = mtls_client(
        provider,
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki.client,
    );
    let other = TlsIdentity::from_pem(&pki.intruder).unwrap();
    let body = serde_json::json!({
        "access_token": "bound-elsewhere-TOKEN",
        "token_type": "Bearer",
        "cnf": {"x5t#S256": other.thumbprint()},
    });
    let tokens =
        TokenSet::from_response(body.to_string().as_bytes(), std::time::SystemTime::now()).unwrap();
    let e = client.userinfo(&tokens).await.unwrap_err();
    let Error::Mtls(MtlsError::CertificateMismatch { bound, presented }) = &e else {
        panic!("{e:?}");
    };
    assert_eq!(bound, other.thumbprint());
    assert_eq!(presented, client.tls_identity().unwrap().thumbprint());
    let source = TokenSource::builder(client)
        .tokens(tokens)
        .build()
        .await
        .unwrap();
    let api = AuthorizedClient::new(source).unwrap();
    let e = api.get("https://127.0.0.1:1/api").send().await.unwrap_err();
    assert!(
        matches!(e, Error::Mtls(MtlsError::CertificateMismatch { .. })),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("bound-elsewhere-TOKEN"));
}

/// A token response that binds its token to another certificate (`cnf.x5t#S256`, RFC 8705
/// §3.1) is refused when it arrives, typed, the token in no message. A fake token endpoint
/// plays the server: the peer never puts `cnf` in token responses.
#[tokio::test]
async fn mtls_token_response_bound_to_another_certificate_is_refused() {
    let pki = pki();
    let other = TlsIdentity::from_pem(&pki.intruder).unwrap();
    let body = serde_json::json!({
        "access_token": "bound-elsewhere-TOKEN",
        "token_type": "Bearer",
        "cnf": {"x5t#S256": other.thumbprint()},
    });
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let (_server, client) = fake_server_client(app).await;
    let e = client.client_credentials(["api:read"]).await.unwrap_err();
    assert!(
        matches!(e, Error::Mtls(MtlsError::CertificateMismatch { .. })),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("bound-elsewhere-TOKEN"));
}

/// A discovery for the peer, by its HTTPS issuer, with the cache off so each test fetches.
fn discovery(peer: &OidcPeer) -> Discovery {
    Discovery::new(peer.issuer()).cache_ttl(Duration::ZERO)
}

/// A provider behind a private CA (an internal Keycloak, an mTLS deployment): discovery trusts
/// the root it is given, with the issuer check and endpoint policy unchanged; without the root
/// the handshake fails (rustls: `invalid peer certificate: UnknownIssuer`) as a transport error
/// of the discovery call, not a parse or issuer error.
#[tokio::test]
async fn discovery_behind_a_private_ca_needs_its_root() {
    let Some(peer) = peer("discovery_behind_a_private_ca_needs_its_root") else {
        return;
    };
    let provider = discovery(peer)
        .root_certificate(ca())
        .fetch()
        .await
        .unwrap();
    assert_eq!(provider.issuer(), Some(peer.issuer()));
    assert_eq!(
        provider
            .mtls_endpoint_alias(Endpoint::Token)
            .map(|u| u.as_str()),
        Some(peer.url("/mtls/token").as_str())
    );
    let e = discovery(peer).fetch().await.unwrap_err();
    assert_untrusted(&e);
}

/// The root a discovery trusted is carried into the `Client` built from its provider: the
/// JWKS is fetched over the same private CA and the ID token of a login validates, with no
/// `ClientBuilder::root_certificate` of its own.
#[tokio::test]
async fn discovery_root_reaches_the_jwks_fetch_of_its_client() {
    let Some(peer) = peer("discovery_root_reaches_the_jwks_fetch_of_its_client") else {
        return;
    };
    let provider = discovery(peer)
        .root_certificate(ca())
        .fetch()
        .await
        .unwrap();
    let client = Client::builder(provider, "mtls-client")
        .auth_method(AuthMethod::TlsClientAuth)
        .tls_identity(TlsIdentity::from_pem(&pki().client).unwrap())
        .redirect_uri(PEER_REDIRECT_URI)
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let tokens = login(&client, "alice").await;
    let claims = tokens.id_token_claims().expect("a validated ID token");
    assert_eq!(claims.iss, peer.issuer());
}

/// The process-wide discovery cache never hands a document fetched trusting a root to a
/// discovery that was not given it: the second, root-less discovery of the same issuer (cache
/// on) still fails the handshake.
#[tokio::test]
async fn discovery_cache_never_lends_a_trusted_root_to_a_discovery_without_it() {
    let Some(peer) = peer("discovery_cache_never_lends_a_trusted_root_to_a_discovery_without_it")
    else {
        return;
    };
    Discovery::new(peer.issuer())
        .root_certificate(ca())
        .fetch()
        .await
        .unwrap();
    let e = Discovery::new(peer.issuer()).fetch().await.unwrap_err();
    assert_untrusted(&e);
}

fn assert_untrusted(e: &Error) {
    assert!(
        matches!(e, Error::Transport { endpoint: Endpoint::Discovery, message }
            if message.contains("certificate")),
        "{e:?}"
    );
}

/// A `Registrar` made from a provider found trusting a private CA registers over that CA too
/// (RFC 7591 at the peer's `registration_endpoint`, served on the same HTTPS listener).
#[tokio::test]
async fn discovery_root_reaches_the_registrar_of_its_provider() {
    let tls = &pki().peer;
    let env = [
        ("PEER_TLS_CERT", tls.cert.as_str()),
        ("PEER_TLS_KEY", tls.key.as_str()),
        ("PEER_TLS_CA", tls.ca.as_str()),
        ("PEER_REGISTRATION", "1"),
    ];
    let test = "discovery_root_reaches_the_registrar_of_its_provider";
    let Some(peer) = OidcPeer::start_with_env_or_skip(test, &env) else {
        return;
    };
    let provider = discovery(&peer)
        .root_certificate(ca())
        .fetch()
        .await
        .unwrap();
    let registration = ClientRegistration::new()
        .client_name("grantkit private CA test")
        .redirect_uri(PEER_REDIRECT_URI)
        .auth_method(AuthMethod::ClientSecretBasic)
        .grant_types(["authorization_code"])
        .response_types(["code"])
        .extra("application_type", "native");
    let registered = Registrar::new(&provider)
        .unwrap()
        .register(&registration)
        .await
        .unwrap();
    assert!(!registered.client_id.is_empty());
}

/// The claims of a JWT access token, read without verifying (as grantkit's arrival check reads
/// them).
fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT access token");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// RFC 8705 §3.1: the binding of a JWT access token is its own `cnf.x5t#S256` claim, not a
/// member of the token response. The peer issues JWT access tokens for its RFC 8707 resource
/// servers (server.mjs `RESOURCE_SERVERS`) and binds them to the certificate
/// (oidc-provider 9.x lib/models/formats/jwt.js puts `cnf` in the claims of a bound token);
/// it never sends `cnf` in the token response. So the arrival check reads the token: ours
/// passes; the same real token in a client with another certificate, or with none, is
/// refused before it is sent anywhere.
#[tokio::test]
async fn mtls_jwt_access_token_binding_is_read_from_the_token_on_arrival() {
    let Some(peer) = peer("mtls_jwt_access_token_binding_is_read_from_the_token_on_arrival") else {
        return;
    };
    let provider = provider(peer).await;
    let pki = pki();
    let client = mtls_client(
        provider.clone(),
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki.client,
    );
    let tokens = client
        .client_credentials_request(["api:read"])
        .resource("https://orders.grantkit.test/")
        .send()
        .await
        .unwrap();
    assert!(tokens.extra().get("cnf").is_none(), "{:?}", tokens.extra());
    let jwt = tokens.access_token().expose();
    let ours = client.tls_identity().unwrap().thumbprint();
    assert_eq!(jwt_claims(jwt)["cnf"]["x5t#S256"], ours);

    let intruder = mtls_client(
        provider.clone(),
        "mtls-client",
        AuthMethod::TlsClientAuth,
        &pki.intruder,
    );
    let stolen = TokenSet::from_access_token(jwt);
    let e = intruder.userinfo(&stolen).await.unwrap_err();
    let Error::Mtls(MtlsError::CertificateMismatch { bound, presented }) = &e else {
        panic!("{e:?}");
    };
    assert_eq!(bound, ours);
    assert_eq!(presented, intruder.tls_identity().unwrap().thumbprint());
    let bare = Client::builder(provider, "mtls-client")
        .auth_method(AuthMethod::None)
        .root_certificate(ca())
        .build()
        .unwrap();
    let e = bare.userinfo(&stolen).await.unwrap_err();
    assert!(matches!(e, Error::Mtls(MtlsError::NoIdentity)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(jwt));
}

/// RFC 8705 §3.2: an introspection answer binds the token with `cnf.x5t#S256`. About a token
/// issued to this client (`client_id` ours), a binding to another certificate is refused;
/// about another client's token it is returned, the thumbprint readable for the resource
/// server to compare. A fake endpoint plays the server, so the answer can name any
/// certificate.
#[tokio::test]
async fn mtls_introspection_binding_our_token_to_another_certificate_is_refused() {
    use std::sync::{Arc, Mutex};
    let pki = pki();
    let other = TlsIdentity::from_pem(&pki.intruder).unwrap();
    let answer = Arc::new(Mutex::new(serde_json::Value::Null));
    let reply = answer.clone();
    let app = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move || {
            let body = reply.lock().unwrap().clone();
            async move { axum::Json(body) }
        }),
    );
    let (_server, client) = fake_server_client(app).await;
    let ours = client.tls_identity().unwrap().thumbprint().to_owned();
    let token = grantkit::Secret::new("introspected-TOKEN");
    let introspect = |client_id: &str, bound: &str| {
        *answer.lock().unwrap() = serde_json::json!({
            "active": true, "client_id": client_id, "cnf": {"x5t#S256": bound},
        });
        client.introspect(&token, None)
    };

    let e = introspect("mtls-client", other.thumbprint())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Mtls(MtlsError::CertificateMismatch { bound, .. }) if bound == other.thumbprint()),
        "{e:?}"
    );
    let info = introspect("mtls-client", &ours).await.unwrap();
    assert_eq!(info.certificate_thumbprint(), Some(ours.as_str()));
    let info = introspect("another-client", other.thumbprint())
        .await
        .unwrap();
    assert_eq!(info.certificate_thumbprint(), Some(other.thumbprint()));
}

/// RFC 8705 §3.1 at the token endpoint: a token response whose JWT access token is bound (its
/// own `cnf.x5t#S256`, the response saying nothing) to another certificate is
/// `CertificateMismatch` when it arrives; bound to ours it is returned, and so is an opaque
/// token. A fake token endpoint plays the server so the claim can name any certificate; the
/// JWT is unsigned there, as grantkit does not verify access tokens (it cannot in general).
#[tokio::test]
async fn mtls_jwt_access_token_bound_to_another_certificate_is_refused_on_arrival() {
    use base64::Engine;
    use std::sync::{Arc, Mutex};
    let pki = pki();
    let other = TlsIdentity::from_pem(&pki.intruder).unwrap();
    let access_token = Arc::new(Mutex::new(String::new()));
    let issued = access_token.clone();
    let app =
        axum::Router::new().route(
            "/token",
            axum::routing::post(move || {
                let token = issued.lock().unwrap().clone();
                async move {
                    axum::Json(serde_json::json!({"access_token": token, "token_type": "Bearer"}))
                }
            }),
        );
    let (_server, client) = fake_server_client(app).await;
    let ours = client.tls_identity().unwrap().thumbprint().to_owned();
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let jwt_bound_to = |thumbprint: &str| {
        let header = b64(serde_json::json!({"alg": "RS256", "typ": "at+jwt"}));
        let claims = b64(serde_json::json!({"sub": "svc", "cnf": {"x5t#S256": thumbprint}}));
        format!("{header}.{claims}.c2lnbmF0dXJl")
    };
    let token_for = |token: String| {
        *access_token.lock().unwrap() = token;
        client.client_credentials(["api:read"])
    };

    let e = token_for(jwt_bound_to(other.thumbprint()))
        .await
        .unwrap_err();
    let Error::Mtls(MtlsError::CertificateMismatch { bound, presented }) = &e else {
        panic!("{e:?}");
    };
    assert_eq!(bound, other.thumbprint());
    assert_eq!(presented, &ours);
    let ok = token_for(jwt_bound_to(&ours)).await.unwrap();
    assert_eq!(
        jwt_claims(ok.access_token().expose())["cnf"]["x5t#S256"],
        ours
    );
    let opaque = token_for("2YotnFZFEjr1zCsicMWpAA".into()).await.unwrap();
    assert_eq!(opaque.access_token().expose(), "2YotnFZFEjr1zCsicMWpAA");
}
