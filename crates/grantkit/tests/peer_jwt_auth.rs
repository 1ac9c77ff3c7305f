//! JWT client authentication (RFC 7523): `private_key_jwt` and `client_secret_jwt` against the
//! real `oidc-provider` peer, which verifies the signature against the client's registered JWKS
//! (or secret), the `aud`, the `exp`, and refuses a `jti` it has seen before.

use std::sync::{Arc, Mutex};

use grantkit::jwt_auth::{ClientKey, JwtAudience};
use grantkit::{
    AuthMethod, Client, Endpoint, Error, OAuthErrorCode, Provider, Secret, TokenTypeHint,
};
use grantkit_testkit::{login, OidcPeer, PeerClient};

/// `jwt-key-client` on the discovered peer, signing with `key`.
async fn key_client(peer: &OidcPeer, key: ClientKey) -> Client {
    PeerClient::JWT_KEY
        .builder(peer.discover().await.unwrap())
        .private_key(key)
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

fn pem(name: &str) -> ClientKey {
    ClientKey::from_pem(&OidcPeer::fixture(name)).unwrap()
}

fn jwk(name: &str) -> ClientKey {
    ClientKey::from_jwk(&OidcPeer::fixture(name)).unwrap()
}

/// Every supported key form, signed assertions accepted at the token and introspection
/// endpoints (the `aud` is the issuer for both). Two calls per key in the same second
/// also prove each assertion has a fresh `jti`: the peer refuses a replayed one.
#[tokio::test]
async fn private_key_jwt_with_rsa_ec_and_ed25519_keys_from_pem_and_jwk() {
    let Some(peer) =
        OidcPeer::shared("private_key_jwt_with_rsa_ec_and_ed25519_keys_from_pem_and_jwk")
    else {
        return;
    };
    let keys = [
        ("RSA PKCS#8 PEM", pem("peer-client-rsa.pem"), "RS256"),
        ("RSA PKCS#1 PEM", pem("peer-client-rsa.pkcs1.pem"), "RS256"),
        ("RSA JWK", jwk("peer-client-rsa.jwk.json"), "RS256"),
        (
            "RSA PEM, PS256",
            pem("peer-client-rsa.pem").with_algorithm("PS256").unwrap(),
            "PS256",
        ),
        ("P-256 PKCS#8 PEM", pem("peer-client-ec.pem"), "ES256"),
        ("P-256 SEC1 PEM", pem("peer-client-ec.sec1.pem"), "ES256"),
        ("P-256 JWK", jwk("peer-client-ec.jwk.json"), "ES256"),
        (
            "Ed25519 PKCS#8 PEM",
            pem("peer-client-ed25519.pem"),
            "EdDSA",
        ),
        ("Ed25519 JWK", jwk("peer-client-ed25519.jwk.json"), "EdDSA"),
    ];
    for (form, key, alg) in keys {
        assert_eq!(key.algorithm(), alg, "{form}");
        let client = key_client(peer, key).await;
        assert_eq!(client.auth_method(), AuthMethod::PrivateKeyJwt);
        let tokens = client
            .client_credentials(["api:read"])
            .await
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        let info = client
            .introspect(tokens.access_token(), Some(TokenTypeHint::AccessToken))
            .await
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert!(info.active, "{form}");
        assert_eq!(info.client_id.as_deref(), Some("jwt-key-client"), "{form}");
    }
}

#[tokio::test]
async fn private_key_jwt_code_flow_refresh_and_revocation_with_the_issuer_as_audience() {
    let Some(peer) = OidcPeer::shared(
        "private_key_jwt_code_flow_refresh_and_revocation_with_the_issuer_as_audience",
    ) else {
        return;
    };
    for audience in [JwtAudience::TokenEndpoint, JwtAudience::Issuer] {
        let client = PeerClient::JWT_KEY
            .builder(peer.discover().await.unwrap())
            .private_key(jwk("peer-client-ec.jwk.json"))
            .jwt_audience(audience.clone())
            .scopes(["openid", "email"])
            .build()
            .unwrap();
        let tokens = login(&client, None).await.unwrap();
        assert_eq!(
            tokens.id_token_claims().unwrap().sub,
            "alice",
            "{audience:?}"
        );
        let tokens = client.refresh(&tokens).await.unwrap();
        client.revoke_tokens(&tokens).await.unwrap();
        let info = client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap();
        assert!(!info.active, "revoked ({audience:?})");
    }
}

#[tokio::test]
async fn client_secret_jwt_authenticates_and_a_wrong_secret_is_invalid_client() {
    let Some(peer) =
        OidcPeer::shared("client_secret_jwt_authenticates_and_a_wrong_secret_is_invalid_client")
    else {
        return;
    };
    let client = |secret: &str| {
        let secret = secret.to_owned();
        async move {
            PeerClient::JWT_SECRET
                .builder(peer.discover().await.unwrap())
                .client_secret(secret)
                .auth_method(AuthMethod::ClientSecretJwt)
                .build()
                .unwrap()
        }
    };
    let good = client(PeerClient::JWT_SECRET.secret().unwrap()).await;
    let tokens = good.client_credentials(["api:read"]).await.unwrap();
    let info = good.introspect(tokens.access_token(), None).await.unwrap();
    assert!(info.active);
    let again = good.client_credentials(["api:read"]).await;
    assert!(again.is_ok(), "a fresh jti per assertion: {again:?}");

    let bad = client("not-the-secret-but-long-enough-for-hs256-0000").await;
    let err = bad.client_credentials(["api:read"]).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidClient),
        "{err}"
    );
    assert!(!format!("{err} {err:?} {bad:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn an_unregistered_key_or_a_refused_algorithm_is_invalid_client() {
    let Some(peer) =
        OidcPeer::shared("an_unregistered_key_or_a_refused_algorithm_is_invalid_client")
    else {
        return;
    };
    // A key that is not in the client's registered JWKS.
    let stranger = ClientKey::from_pem(include_str!("fixtures/rsa-2.pem")).unwrap();
    let err = key_client(peer, stranger)
        .await
        .client_credentials(["api:read"])
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidClient),
        "{err}"
    );
    assert_eq!(err.oauth().unwrap().status, Some(401));

    // The registered RSA key, but with an algorithm the provider does not accept for clients.
    let rs384 = pem("peer-client-rsa.pem").with_algorithm("RS384").unwrap();
    let err = key_client(peer, rs384)
        .await
        .client_credentials(["api:read"])
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidClient),
        "{err}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("MII"),
        "{text}"
    );
}

#[tokio::test]
async fn configuration_mistakes_are_refused_at_build() {
    let provider = Provider::builder("p")
        .token_endpoint("https://op.example/token")
        .build()
        .unwrap();
    let e = Client::builder(provider.clone(), "c")
        .auth_method(AuthMethod::PrivateKeyJwt)
        .build()
        .unwrap_err();
    assert!(
        matches!(e, Error::Config(_)) && e.to_string().contains("private key"),
        "{e}"
    );
    let e = Client::builder(provider.clone(), "c")
        .auth_method(AuthMethod::ClientSecretJwt)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("needs a client secret"), "{e}");
    let e = Client::builder(provider.clone(), "c")
        .private_key(pem("peer-client-ec.pem"))
        .jwt_audience(JwtAudience::Issuer)
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("issuer"),
        "no issuer to address: {e}"
    );
    let e = Client::builder(provider, "c")
        .private_key(pem("peer-client-ec.pem"))
        .client_secret("s")
        .auth_method(AuthMethod::ClientSecretBasic)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("private key was given"), "{e}");

    let public_only = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    assert!(ClientKey::from_jwk(public_only)
        .unwrap_err()
        .to_string()
        .contains("public key"));
    let key = pem("peer-client-rsa.pem");
    assert!(!format!("{key:?}").contains("MII"));
    // `openssl ecparam -genkey` output: the curve block first, then the SEC1 key.
    let with_params = format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
        OidcPeer::fixture("peer-client-ec.sec1.pem")
    );
    assert_eq!(
        ClientKey::from_pem(&with_params).unwrap().algorithm(),
        "ES256"
    );
}

/// A hostile authorization server's revocation endpoint: it keeps every form it receives.
async fn hostile_revocation_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let forms = Arc::new(Mutex::new(Vec::new()));
    let seen = forms.clone();
    let app = axum::Router::new().route(
        "/revoke",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move { seen.lock().unwrap().push(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, forms)
}

/// What the hostile server does with a captured assertion: a `client_credentials` grant at the
/// honest server's token endpoint, as the client. Returns the HTTP status.
async fn replay(token_endpoint: &str, client_id: &str, assertion: &str) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", "api:read")
        .append_pair("client_id", client_id)
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", assertion)
        .finish();
    reqwest::Client::new()
        .post(token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Item 3, audience injection (the 2025 OpenID Foundation disclosure, draft-ietf-oauth-rfc7523bis):
/// a hostile AS publishes metadata whose `token_endpoint` is the honest peer's and whose
/// revocation endpoint is its own. The client's assertion reaches the hostile server, which
/// replays it at the honest token endpoint. With the default (`aud` = the hostile server's own
/// issuer) the honest peer refuses it; with the legacy opt-in (`aud` = the token endpoint from
/// the metadata) the replay works, which is the attack.
#[tokio::test]
async fn assertion_audience_is_the_issuer_not_a_metadata_endpoint() {
    let Some(peer) = OidcPeer::shared("assertion_audience_is_the_issuer_not_a_metadata_endpoint")
    else {
        return;
    };
    let honest = peer.discover().await.unwrap();
    let honest_token = honest.endpoint(Endpoint::Token).unwrap().to_string();
    let (hostile_base, captured) = hostile_revocation_endpoint().await;
    let hostile = Provider::builder("hostile")
        .issuer(hostile_base.clone())
        .token_endpoint(&honest_token)
        .revocation_endpoint(&format!("{hostile_base}/revoke"))
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for audience in [JwtAudience::default(), JwtAudience::TokenEndpoint] {
        let client = Client::builder(hostile.clone(), "jwt-key-client")
            .private_key(jwk("peer-client-ec.jwk.json"))
            .jwt_audience(audience)
            .build()
            .unwrap();
        client
            .revoke(&Secret::new("any-token"), None)
            .await
            .unwrap();
        let form = captured.lock().unwrap().pop().unwrap();
        let assertion = url::form_urlencoded::parse(form.as_bytes())
            .find(|(name, _)| name == "client_assertion")
            .map(|(_, value)| value.into_owned())
            .unwrap();
        statuses.push(replay(&honest_token, "jwt-key-client", &assertion).await);
    }
    assert_eq!(
        statuses,
        [401, 200],
        "default: refused by the honest peer; legacy token-endpoint audience: replayable"
    );
}

/// The default assertions (`aud` = issuer as a string, `typ: client-authentication+jwt`) pass a
/// peer that demands exactly that (the `jwt-strict-*` clients) at the PAR, token, introspection
/// and revocation endpoints; the legacy opt-in does not.
#[tokio::test]
async fn default_assertions_pass_a_peer_that_demands_the_issuer_audience_and_the_draft_typ() {
    let Some(peer) = OidcPeer::shared(
        "default_assertions_pass_a_peer_that_demands_the_issuer_audience_and_the_draft_typ",
    ) else {
        return;
    };
    let key_client = |audience: JwtAudience| async move {
        PeerClient::JWT_STRICT_KEY
            .builder(peer.discover().await.unwrap())
            .private_key(jwk("peer-client-ec.jwk.json"))
            .jwt_audience(audience)
            .scopes(["openid"])
            .build()
            .unwrap()
    };
    // The pushed authorization request endpoint gets the same assertion, `aud` = issuer.
    let (url, _pending) = key_client(JwtAudience::default())
        .await
        .authorize()
        .push()
        .await
        .unwrap();
    assert!(url.as_str().contains("request_uri="), "{url}");
    let secret_client = |audience: JwtAudience| async move {
        PeerClient::JWT_STRICT_SECRET
            .builder(peer.discover().await.unwrap())
            .auth_method(AuthMethod::ClientSecretJwt)
            .jwt_audience(audience)
            .build()
            .unwrap()
    };
    for client in [
        key_client(JwtAudience::default()).await,
        secret_client(JwtAudience::default()).await,
    ] {
        let tokens = client.client_credentials(["api:read"]).await.unwrap();
        let info = client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap();
        assert!(info.active, "{client:?}");
        client.revoke_tokens(&tokens).await.unwrap();
    }
    for client in [
        key_client(JwtAudience::TokenEndpoint).await,
        secret_client(JwtAudience::TokenEndpoint).await,
    ] {
        let err = client.client_credentials(["api:read"]).await.unwrap_err();
        assert_eq!(
            err.oauth_code(),
            Some(&OAuthErrorCode::InvalidClient),
            "{err}"
        );
    }
}
