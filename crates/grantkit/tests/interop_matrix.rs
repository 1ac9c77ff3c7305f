//! The interop matrix: every scenario below runs, unchanged, against each independently
//! written OpenID Provider the testkit can start (`grantkit_testkit::InteropOp`): Keycloak
//! (`scripts/install-keycloak`) and Ory Hydra (`scripts/install-hydra`). Each provider starts once per test binary; each test is
//! `<provider>::<scenario>`. Where a provider deviates from a specification, the scenario
//! says so and cites the provider's source or docs; docs/interop.md has the table.

use std::sync::OnceLock;
use std::time::Duration;

use grantkit::dpop::DpopKey;
use grantkit::jwt_auth::{ClientKey, JwtAudience};
use grantkit::oidc::Discovery;
use grantkit::{
    AuthMethod, Client, Error, OAuthErrorCode, Provider, TokenSet, TokenType, TokenTypeHint,
};
use grantkit_testkit::{Browser, ClientRole, Hydra, InteropOp, Keycloak, OidcPeer, OpClient};

fn keycloak(test: &str) -> Option<&'static dyn InteropOp> {
    static OP: OnceLock<Option<Keycloak>> = OnceLock::new();
    OP.get_or_init(|| Keycloak::start_or_skip(test))
        .as_ref()
        .map(|op| op as &dyn InteropOp)
}

fn hydra(test: &str) -> Option<&'static dyn InteropOp> {
    static OP: OnceLock<Option<Hydra>> = OnceLock::new();
    OP.get_or_init(|| Hydra::start_or_skip(test))
        .as_ref()
        .map(|op| op as &dyn InteropOp)
}

/// A scenario the provider has no client for: its discovery document must not offer the
/// feature either, so that a skipped scenario cannot hide one that is offered but not set up.
async fn not_offered(op: &dyn InteropOp, member: &str) {
    let url = format!(
        "{}/.well-known/openid-configuration",
        op.issuer().trim_end_matches('/')
    );
    let doc: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert!(
        doc.get(member).is_none(),
        "{} offers `{member}` but the matrix registered no client for it",
        op.name()
    );
    eprintln!("{}: does not offer `{member}`", op.name());
}

/// One test per provider and scenario, so that a failure names both.
macro_rules! matrix {
    ($($op:ident),+ => $scenarios:tt) => {
        $(matrix!(@op $op $scenarios);)+
    };
    (@op $op:ident [$($scenario:ident),* $(,)?]) => {
        mod $op {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let test = concat!(stringify!($op), "::", stringify!($scenario));
                    if let Some(op) = super::$op(test) {
                        let _turn = super::turn(op).await;
                        super::$scenario(op).await;
                    }
                }
            )*
        }
    };
}

matrix!(keycloak, hydra => [
    discovery_names_the_issuer_and_every_endpoint,
    public_client_code_flow_with_pkce_s256_validated_id_token_and_userinfo_sub,
    client_secret_basic_with_a_space_and_reserved_characters,
    client_secret_post_with_a_space_and_reserved_characters,
    refresh_rotates_and_the_old_refresh_token_is_refused,
    revocation_ends_the_grant_and_introspection_sees_it,
    a_wrong_secret_is_refused_with_a_typed_client_error,
    device_flow_approved_on_the_providers_own_page,
    pushed_authorization_request_for_a_client_that_requires_it,
    dpop_binds_the_tokens_to_the_key,
    private_key_jwt_with_the_issuer_and_the_token_endpoint_as_audience,
]);

/// Hydra on its in-memory SQLite database refuses concurrent writers ("Unable to serialize
/// access due to a concurrent update in another session", an authorization request failing
/// with `error=error`), so its scenarios take turns; Keycloak's run side by side.
async fn turn(op: &dyn InteropOp) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    static HYDRA: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    match op.name() {
        "Ory Hydra" => Some(HYDRA.get_or_init(Default::default).lock().await),
        _ => None,
    }
}

async fn provider(op: &dyn InteropOp) -> Provider {
    Discovery::new(op.issuer()).fetch().await.unwrap()
}

/// The provider for a public client. Keycloak's `token_endpoint_auth_methods_supported` never
/// lists `none` (`OIDCWellKnownProvider` in keycloak/keycloak services/.../protocol/oidc lists
/// what its client authenticators' `getProtocolAuthenticatorMethods` return, and none returns
/// `none`), yet its token endpoint serves public clients; grantkit takes the list as exhaustive and refuses to build a public
/// client (see `keycloak_deviations::discovery_lists_no_none_and_grantkit_refuses_a_public_client`),
/// so the metadata gets `none` added here, as an application would have to.
async fn provider_for(op: &dyn InteropOp, _registered: &OpClient) -> Provider {
    provider(op).await
}

fn registered(op: &dyn InteropOp, role: ClientRole) -> OpClient {
    op.client(role)
        .unwrap_or_else(|| panic!("{} has no client for {role:?}", op.name()))
}

fn method(client: &OpClient) -> AuthMethod {
    AuthMethod::from_name(client.auth_method).unwrap()
}

async fn client(op: &dyn InteropOp, role: ClientRole) -> Client {
    let registered = registered(op, role);
    let mut builder = Client::builder(provider_for(op, &registered).await, &registered.id)
        .auth_method(method(&registered))
        .redirect_uri(&registered.redirect_uri)
        .scopes(op.scopes());
    if let Some(secret) = &registered.secret {
        builder = builder.client_secret(secret.as_str());
    }
    builder.build().unwrap()
}

/// The authorization code flow through the provider's own login pages.
async fn login(op: &dyn InteropOp, client: &Client) -> grantkit::Result<TokenSet> {
    let (url, pending) = client.authorize().build_async().await?;
    let redirect = client.redirect_uri().unwrap();
    let callback = op
        .login(&Browser::new(), url.as_str(), redirect)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", op.name()));
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code).await
}

/// The ID token was validated (signature, `iss`, `aud`, `nonce`) and names the test user.
fn assert_id_token(op: &dyn InteropOp, client: &Client, tokens: &TokenSet) {
    let claims = tokens.id_token_claims().expect("a validated ID token");
    assert_eq!(claims.iss, op.issuer());
    assert_eq!(claims.sub, op.user().subject);
    assert!(
        claims.aud.iter().any(|a| a == client.client_id()),
        "{:?}",
        claims.aud
    );
}

async fn discovery_names_the_issuer_and_every_endpoint(op: &dyn InteropOp) {
    let provider = provider(op).await;
    assert_eq!(provider.issuer(), Some(op.issuer()));
    let meta = provider.metadata().unwrap();
    assert!(meta.token_endpoint.is_some());
    assert!(meta.userinfo_endpoint.is_some());
    assert!(meta.jwks_uri.is_some());
    assert!(meta.revocation_endpoint.is_some());
    for m in ["client_secret_basic", "client_secret_post"] {
        assert!(
            provider.auth_methods().iter().any(|a| a.as_str() == m),
            "{m}"
        );
    }
}

async fn public_client_code_flow_with_pkce_s256_validated_id_token_and_userinfo_sub(
    op: &dyn InteropOp,
) {
    let client = client(op, ClientRole::Public).await;
    let (url, _) = client.authorize().build().unwrap();
    assert!(url
        .query_pairs()
        .any(|(k, v)| k == "code_challenge_method" && v == "S256"));
    let tokens = login(op, &client).await.unwrap();
    assert_id_token(op, &client, &tokens);
    assert!(tokens.refresh_token().is_some());
    let me = client.userinfo(&tokens).await.unwrap();
    assert_eq!(
        me.sub,
        op.user().subject,
        "userinfo sub checked against the ID token"
    );
    assert_eq!(me.email.as_deref(), Some(op.user().email.as_str()));
}

async fn confidential_login_and_introspection(op: &dyn InteropOp, role: ClientRole) {
    let registered = registered(op, role);
    let secret = registered.secret.as_deref().unwrap();
    assert!(secret.contains(' ') && secret.contains('+') && secret.contains('%'));
    let client = client(op, role).await;
    let tokens = login(op, &client).await.unwrap();
    assert_id_token(op, &client, &tokens);
    assert_eq!(
        client.userinfo(&tokens).await.unwrap().sub,
        op.user().subject
    );
    if !offers_introspection(&client) {
        return;
    }
    let info = client
        .introspect(tokens.access_token(), Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some(registered.id.as_str()));
    assert_eq!(info.sub.as_deref(), Some(op.user().subject.as_str()));
}

/// Hydra serves introspection on its admin API only, unauthenticated and not in discovery
/// (it is for resource servers inside the deployment), so a client has none to call.
fn offers_introspection(client: &Client) -> bool {
    client
        .provider()
        .metadata()
        .is_some_and(|m| m.introspection_endpoint.is_some())
}

async fn client_secret_basic_with_a_space_and_reserved_characters(op: &dyn InteropOp) {
    confidential_login_and_introspection(op, ClientRole::SecretBasic).await;
}

async fn client_secret_post_with_a_space_and_reserved_characters(op: &dyn InteropOp) {
    confidential_login_and_introspection(op, ClientRole::SecretPost).await;
}

async fn refresh_rotates_and_the_old_refresh_token_is_refused(op: &dyn InteropOp) {
    let client = client(op, ClientRole::SecretBasic).await;
    let first = login(op, &client).await.unwrap();
    let second = client.refresh(&first).await.unwrap();
    assert_ne!(second.access_token(), first.access_token());
    let (old, new) = (
        first.refresh_token().unwrap(),
        second.refresh_token().unwrap(),
    );
    assert_ne!(old, new, "a new refresh token with each refresh");
    let reused = client.refresh(&first).await.unwrap_err();
    assert_eq!(
        reused.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{reused:?}"
    );
}

async fn revocation_ends_the_grant_and_introspection_sees_it(op: &dyn InteropOp) {
    let client = client(op, ClientRole::SecretPost).await;
    let tokens = login(op, &client).await.unwrap();
    client.revoke_tokens(&tokens).await.unwrap();
    if offers_introspection(&client) {
        let info = client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap();
        assert!(!info.active, "the access token is dead");
    }
    let userinfo = client.userinfo(&tokens).await.unwrap_err();
    assert!(userinfo.oauth_code().is_some(), "{userinfo:?}");
    let refresh = client.refresh(&tokens).await.unwrap_err();
    assert_eq!(
        refresh.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{refresh:?}"
    );
}

async fn a_wrong_secret_is_refused_with_a_typed_client_error(op: &dyn InteropOp) {
    let registered = registered(op, ClientRole::SecretBasic);
    let client = Client::builder(provider(op).await, &registered.id)
        .client_secret("not the secret")
        .redirect_uri(&registered.redirect_uri)
        .scopes(op.scopes())
        .build()
        .unwrap();
    let (url, pending) = client.authorize().build().unwrap();
    let callback = op
        .login(&Browser::new(), url.as_str(), &registered.redirect_uri)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let err = client.exchange_code(code).await.unwrap_err();
    assert!(matches!(err, Error::OAuth { .. }), "{err:?}");
    let oauth = err.oauth().unwrap();
    // RFC 6749 §5.2 says `invalid_client`. Keycloak answers a wrong secret with
    // `unauthorized_client` (HTTP 401): `reportFailedAuth` in keycloak/keycloak
    // services/src/main/java/org/keycloak/authentication/authenticators/client/
    // ClientIdAndSecretAuthenticator.java. grantkit reports the code as sent.
    let expected = match op.name() {
        "Keycloak" => OAuthErrorCode::UnauthorizedClient,
        _ => OAuthErrorCode::InvalidClient,
    };
    assert_eq!(oauth.code, expected, "{err:?}");
    assert_eq!(oauth.status, Some(401), "{err:?}");
    assert!(!format!("{err:?}{err}").contains("not the secret"));
}

async fn device_flow_approved_on_the_providers_own_page(op: &dyn InteropOp) {
    let Some(registered) = op.client(ClientRole::Device) else {
        return not_offered(op, "device_authorization_endpoint").await;
    };
    let client = Client::builder(provider_for(op, &registered).await, &registered.id)
        .auth_method(method(&registered))
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let auth = client
        .device_authorization(["openid", "email"])
        .await
        .unwrap();
    let complete = auth.verification_uri_complete().unwrap().to_owned();
    let user = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        op.approve_device(&Browser::new(), &complete).await.unwrap();
    };
    let (tokens, ()) = tokio::join!(client.poll_device(&auth), user);
    let tokens = tokens.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, op.user().subject);
    assert_eq!(
        client.userinfo(&tokens).await.unwrap().sub,
        op.user().subject
    );
}

async fn pushed_authorization_request_for_a_client_that_requires_it(op: &dyn InteropOp) {
    let Some(registered) = op.client(ClientRole::Par) else {
        return not_offered(op, "pushed_authorization_request_endpoint").await;
    };
    let client = Client::builder(provider(op).await, &registered.id)
        .auth_method(method(&registered))
        .client_secret(registered.secret.clone().unwrap())
        .require_pushed_authorization_requests(true)
        .redirect_uri(&registered.redirect_uri)
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let (url, _) = client.authorize().build_async().await.unwrap();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        names,
        ["client_id", "request_uri"],
        "nothing else travels in the URL"
    );
    let tokens = login(op, &client).await.unwrap();
    assert_id_token(op, &client, &tokens);
}

async fn dpop_binds_the_tokens_to_the_key(op: &dyn InteropOp) {
    let Some(registered) = op.client(ClientRole::Dpop) else {
        return not_offered(op, "dpop_signing_alg_values_supported").await;
    };
    let client = Client::builder(provider_for(op, &registered).await, &registered.id)
        .auth_method(method(&registered))
        .dpop(DpopKey::generate().unwrap())
        .redirect_uri(&registered.redirect_uri)
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let tokens = login(op, &client).await.unwrap();
    assert_eq!(tokens.token_type(), &TokenType::DPoP);
    assert_eq!(
        client.userinfo(&tokens).await.unwrap().sub,
        op.user().subject
    );
    let refreshed = client.refresh(&tokens).await.unwrap();
    assert_eq!(refreshed.token_type(), &TokenType::DPoP);
    let thief = Client::builder(provider_for(op, &registered).await, &registered.id)
        .auth_method(method(&registered))
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let stolen = thief.userinfo(&refreshed).await.unwrap_err();
    assert!(stolen.oauth_code().is_some(), "{stolen:?}");
}

async fn private_key_jwt_with_the_issuer_and_the_token_endpoint_as_audience(op: &dyn InteropOp) {
    let Some(registered) = op.client(ClientRole::PrivateKeyJwt) else {
        // Only a provider that does not offer the method may go without the scenario.
        let provider = provider(op).await;
        let offered = &provider
            .metadata()
            .unwrap()
            .token_endpoint_auth_methods_supported;
        assert!(
            !offered.iter().any(|m| m == "private_key_jwt"),
            "{} offers private_key_jwt but the matrix has no client for it",
            op.name()
        );
        return;
    };
    let audiences = [JwtAudience::Issuer, JwtAudience::TokenEndpoint];
    for (key, audience) in registered
        .keys
        .iter()
        .flat_map(|key| audiences.iter().map(move |aud| (*key, aud.clone())))
    {
        let client = Client::builder(provider(op).await, &registered.id)
            .private_key(ClientKey::from_pem(&OidcPeer::fixture(key)).unwrap())
            .jwt_audience(audience.clone())
            .redirect_uri(&registered.redirect_uri)
            .scopes(op.scopes())
            .build()
            .unwrap();
        let what = format!("{key}, {audience:?}");
        // RFC 7523bis has servers accept their issuer as the assertion's audience (grantkit's
        // default). Hydra accepts only its token endpoint: fosite's client authentication
        // answers "Claim 'audience' from 'client_assertion' must match the authorization
        // server's token endpoint" (github.com/ory/fosite, client_authentication.go).
        if audience == JwtAudience::Issuer && op.name() == "Ory Hydra" {
            let err = login(op, &client).await.unwrap_err();
            assert_eq!(
                err.oauth_code(),
                Some(&OAuthErrorCode::InvalidClient),
                "{what}: {err:?}"
            );
            continue;
        }
        let tokens = login(op, &client)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_id_token(op, &client, &tokens);
        let tokens = client
            .refresh(&tokens)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        if offers_introspection(&client) {
            let info = client
                .introspect(tokens.access_token(), None)
                .await
                .unwrap();
            assert!(info.active, "{what}");
        }
        client
            .revoke_tokens(&tokens)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

/// What Keycloak does differently from the specifications, and what grantkit makes of it.
mod keycloak_deviations {
    use super::*;

    /// Keycloak's discovery lists no `none` anywhere although it takes public clients (RFC 8414
    /// registers `none` for them; Keycloak's `OIDCWellKnownProvider` lists only the
    /// authenticators of confidential clients). grantkit reads a document that never names
    /// `none` as silent on public clients, so a public client builds from the document as
    /// served. This test failed (`Config: does not accept none`) before that rule.
    #[tokio::test]
    async fn discovery_lists_no_none_and_a_public_client_still_builds() {
        let Some(op) = keycloak("keycloak_deviations::discovery_lists_no_none") else {
            return;
        };
        let provider = provider(op).await;
        let listed = &provider
            .metadata()
            .unwrap()
            .token_endpoint_auth_methods_supported;
        assert!(!listed.iter().any(|m| m == "none"), "{listed:?}");
        Client::builder(provider, "public-client")
            .auth_method(AuthMethod::None)
            .redirect_uri(grantkit_testkit::KEYCLOAK_REDIRECT_URI)
            .build()
            .unwrap();
    }

    /// In the Keycloak 26 line the introspection endpoint answers `{"active": false}` for a live
    /// token unless the calling client is in the token's `aud` (Keycloak's upgrading guide,
    /// "Token introspection now validates audience claim"; RFC 7662 §2.2 lets a server decide
    /// what a caller may learn). The realm gives its confidential clients an audience mapper for
    /// themselves; `plain-client` has none, as a client configured with Keycloak's defaults.
    /// grantkit reports the answer as given: a token that works at userinfo is "inactive".
    #[tokio::test]
    async fn introspection_outside_the_tokens_audience_says_inactive() {
        let Some(op) = keycloak("keycloak_deviations::introspection_outside_the_audience") else {
            return;
        };
        let client = Client::builder(provider(op).await, "plain-client")
            .client_secret("kc plain secret")
            .redirect_uri(grantkit_testkit::KEYCLOAK_REDIRECT_URI)
            .scopes(["openid"])
            .build()
            .unwrap();
        let tokens = login(op, &client).await.unwrap();
        assert_eq!(
            client.userinfo(&tokens).await.unwrap().sub,
            op.user().subject
        );
        let info = client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap();
        assert!(!info.active, "{info:?}");
    }

    /// Keycloak lists no `none` for revocation either, and its revocation endpoint takes a
    /// public client's `client_id` (RFC 7009 §2.1): the public client revokes from the document
    /// as served, and the grant ends. Before the rule above, grantkit refused it before sending.
    #[tokio::test]
    async fn revocation_lists_no_none_and_a_public_client_still_revokes() {
        let Some(op) = keycloak("keycloak_deviations::revocation_lists_no_none") else {
            return;
        };
        let public = super::client(op, ClientRole::Public).await;
        let tokens = login(op, &public).await.unwrap();
        public.revoke_tokens(&tokens).await.unwrap();
        let refresh = public.refresh(&tokens).await.unwrap_err();
        assert_eq!(
            refresh.oauth_code(),
            Some(&OAuthErrorCode::InvalidGrant),
            "{refresh:?}"
        );
    }
}
