//! Every Polar.sh quirk listed in `docs/providers/polar-sh.md`, each proven against the testkit's fake
//! Polar.sh (an in-process server reproducing the documented wire format).

use std::time::Duration;

use grantkit::oidc::Discovery;
use grantkit::{
    AuthMethod, CallbackError, Client, Error, OAuthErrorCode, PendingAuthorization, TokenSet,
};
use grantkit_polar_sh::{
    static_token, ClientMetadata, CustomerSession, OrganizationAccess, PolarAuthorizationExt,
    PolarIntrospection, PolarSh, PolarSubject, Prompt, Scope, StaticTokenKind, SubType,
};
use grantkit_testkit::polar_sh::{Consent, FakePolarSh};
use grantkit_testkit::Browser;

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

async fn fake() -> (FakePolarSh, PolarSh) {
    let fake = FakePolarSh::start().await.unwrap();
    let polar = PolarSh::custom(fake.api_base(), fake.web_base());
    (fake, polar)
}

async fn client(polar: &PolarSh, id: &str, secret: Option<&str>) -> Client {
    let mut b = polar
        .client_builder(polar.discover().await.unwrap(), id)
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email", "products:read"]);
    if let Some(s) = secret {
        b = b.client_secret(s);
    }
    b.build().unwrap()
}

async fn authorize(
    client: &Client,
    tweak: impl FnOnce(grantkit::AuthorizationRequest<'_>) -> grantkit::AuthorizationRequest<'_>,
) -> (String, PendingAuthorization) {
    let (url, pending) = tweak(client.authorize()).build().unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    (callback, pending)
}

async fn login(client: &Client) -> TokenSet {
    let (callback, pending) = authorize(client, |r| r).await;
    client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn issuer_differs_from_the_discovery_host_and_is_still_checked() {
    let (fake, polar) = fake().await;
    // Strict discovery (issuer = the URL served from) fails, as it would against api.polar.sh.
    let strict = Discovery::new(fake.api_base())
        .cache_ttl(Duration::ZERO)
        .fetch()
        .await
        .unwrap_err();
    assert!(
        matches!(strict, Error::IssuerMismatch { ref found, .. } if found == "https://polar.sh"),
        "{strict:?}"
    );
    // The preset names the expected issuer; ID tokens must then carry it too.
    let provider = polar.discover().await.unwrap();
    assert_eq!(provider.issuer(), Some("https://polar.sh"));
    let (post_id, post_secret) = fake.post_client();
    let tokens = login(&client(&polar, &post_id, Some(&post_secret)).await).await;
    assert_eq!(tokens.id_token_claims().unwrap().iss, "https://polar.sh");
}

#[tokio::test]
async fn static_preset_matches_discovery() {
    let (_fake, polar) = fake().await;
    let discovered = polar.discover().await.unwrap();
    let preset = polar.provider().unwrap();
    for endpoint in [
        grantkit::Endpoint::Token,
        grantkit::Endpoint::Userinfo,
        grantkit::Endpoint::Revocation,
        grantkit::Endpoint::Introspection,
        grantkit::Endpoint::Jwks,
    ] {
        assert_eq!(
            preset.endpoint(endpoint).unwrap(),
            discovered.endpoint(endpoint).unwrap(),
            "{endpoint}"
        );
    }
    let public = Client::builder(preset, "x").build().unwrap();
    assert_eq!(public.auth_method(), AuthMethod::None);
}

fn id_token_header(tokens: &TokenSet) -> serde_json::Value {
    use base64::Engine as _;
    let jwt = tokens.id_token().unwrap().expose();
    let header = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn id_token_rs256_carries_no_kid_by_default_and_aud_is_an_array() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    // polar: server/polar/oauth2/constants.py, JWT_CONFIG sets no `kid`.
    let without_kid = login(&client).await;
    let header = id_token_header(&without_kid);
    assert_eq!(header["alg"], "RS256");
    assert!(header.get("kid").is_none(), "{header}");
    let claims = without_kid.id_token_claims().unwrap();
    assert_eq!(
        claims.aud,
        [id.as_str()],
        "aud is an array holding the client id"
    );
    assert_eq!(claims.email.as_deref(), Some("merchant@example.test"));
    fake.set_kid_in_header(true);
    let with_kid = login(&client).await;
    assert_eq!(with_kid.id_token_claims().unwrap().sub, fake.user_id());
}

#[tokio::test]
async fn discovery_advertises_the_servers_whole_scope_list() {
    let (fake, _) = fake().await;
    let doc: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        fake.api_base()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let advertised: std::collections::BTreeSet<String> =
        serde_json::from_value(doc["scopes_supported"].clone()).unwrap();
    let known: std::collections::BTreeSet<String> =
        Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(advertised, known);
}

#[tokio::test]
async fn unknown_prompt_values_are_ignored() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let (callback, pending) = authorize(&client, |r| r.prompt("whatever")).await;
    assert!(pending.verify_callback(&callback).is_ok(), "{callback}");
}

#[tokio::test]
async fn a_nonce_is_free_again_once_its_code_was_exchanged() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let (url, pending) = client.authorize().build().unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    // polar: grants/authorization_code.py, `_exists_nonce` looks only at unexchanged codes.
    let again = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    assert!(again.contains("code="), "{again}");
}

#[tokio::test]
async fn pkce_is_checked_at_the_token_step_missing_verifier_and_verifier_without_challenge() {
    let (fake, polar) = fake().await;
    let public = fake.public_client();
    let client = client(&polar, &public, None).await;
    // A code asked for with a challenge, exchanged without the verifier.
    let (callback, _) = authorize(&client, |r| r).await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let raw: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/oauth2/token", fake.api_base()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &public),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["error"], "invalid_request", "{raw}");
    // No challenge at authorize: Polar still issues a code, and refuses our verifier at the token step.
    let (url, pending) = client.authorize().build().unwrap();
    let mut stripped = url.clone();
    stripped.query_pairs_mut().clear().extend_pairs(
        url.query_pairs()
            .filter(|(k, _)| !k.starts_with("code_challenge")),
    );
    let callback = Browser::new()
        .authorize(stripped.as_str(), REDIRECT)
        .await
        .unwrap();
    let err = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidRequest),
        "{err}"
    );
}

#[tokio::test]
async fn nonce_may_be_null_when_none_was_sent() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let (callback, pending) = authorize(&client, |r| r.nonce(false)).await;
    assert!(pending.nonce().is_none());
    let tokens = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    assert!(tokens
        .id_token_claims()
        .unwrap()
        .claim("nonce")
        .unwrap()
        .is_null());
}

#[tokio::test]
async fn a_reused_nonce_is_refused_as_a_replay() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let (url, _pending) = client.authorize().build().unwrap();
    Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    // The same URL again (same nonce) while the first code is unexchanged: Polar refuses it.
    let replay = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    assert!(replay.contains("error=invalid_request"), "{replay}");
    assert!(replay.contains("Replay+attack"), "{replay}");
    assert!(replay.contains("state="), "{replay}");
}

#[tokio::test]
async fn pkce_s256_is_sent_explicitly() {
    let (fake, polar) = fake().await;
    let client = client(&polar, &fake.public_client(), None).await;
    let (url, _) = client.authorize().build().unwrap();
    assert!(url.query().unwrap().contains("code_challenge_method=S256"));
    // The fake, like Polar, would verify a missing method as `plain` and refuse our S256 verifier.
    let tokens = login(&client).await;
    assert!(tokens.refresh_token().is_some());
}

#[tokio::test]
async fn code_is_single_use_and_lives_300_seconds() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let (callback, pending) = authorize(&client, |r| r).await;
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code.clone()).await.unwrap();
    let reused = client.exchange_code(code).await.unwrap_err();
    assert_eq!(reused.oauth_code(), Some(&OAuthErrorCode::InvalidGrant));

    let (callback, pending) = authorize(&client, |r| r).await;
    fake.advance_clock(Duration::from_secs(301));
    let late = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap_err();
    assert!(late.is_reauthorization_required(), "{late}");
}

#[tokio::test]
async fn redirect_uri_at_the_token_step_must_equal_the_one_sent() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let other = "http://127.0.0.1/callback";
    let (url, pending) = client.authorize().redirect_uri(other).build().unwrap();
    let callback = Browser::new().authorize(url.as_str(), other).await.unwrap();
    // Unreachable: PendingAuthorization keeps the URI used. A hand-altered one shows the server rule.
    let mut stored = serde_json::to_value(&pending).unwrap();
    stored["redirect_uri"] = REDIRECT.into();
    let altered: PendingAuthorization = serde_json::from_value(stored).unwrap();
    let err = client
        .exchange_code(altered.verify_callback(&callback).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidGrant));
    assert_eq!(fake.last_token_request().unwrap()["redirect_uri"], REDIRECT);
}

#[tokio::test]
async fn client_secret_post_is_the_default_and_basic_is_refused_for_a_post_client() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    assert_eq!(client.auth_method(), AuthMethod::ClientSecretPost);
    login(&client).await;
    assert_eq!(
        fake.last_token_request().unwrap()["client_secret"],
        "<present>"
    );

    let wrong = polar
        .client_builder(polar.discover().await.unwrap(), &id)
        .client_secret(secret.clone())
        .auth_method(AuthMethod::ClientSecretBasic)
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
    let (callback, pending) = authorize(&wrong, |r| r).await;
    let err = wrong
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap_err();
    let oauth = err.oauth().unwrap();
    assert_eq!(
        (oauth.code.clone(), oauth.status),
        (OAuthErrorCode::InvalidClient, Some(401))
    );
    assert!(!format!("{err} {err:?}").contains(&secret));
}

#[tokio::test]
async fn client_secret_basic_client_with_a_secret_needing_encoding() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.basic_client();
    let client = polar
        .client_builder(polar.discover().await.unwrap(), &id)
        .client_secret(secret)
        .auth_method(AuthMethod::ClientSecretBasic)
        .redirect_uri(REDIRECT)
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = login(&client).await;
    assert!(!fake
        .last_token_request()
        .unwrap()
        .contains_key("client_secret"));
    assert!(
        client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn public_clients_use_pkce_and_cannot_revoke_or_introspect() {
    let (fake, polar) = fake().await;
    let client = client(&polar, &fake.public_client(), None).await;
    let tokens = login(&client).await;
    for err in [
        client
            .revoke(tokens.access_token(), None)
            .await
            .unwrap_err(),
        client
            .introspect(tokens.access_token(), None)
            .await
            .map(drop)
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::Refused {
                    reason: grantkit::error::Refusal::PublicClient { .. },
                    ..
                }
            ) && err.to_string().contains("public clients"),
            "{err:?}"
        );
    }
    assert!(
        fake.is_access_token_live(tokens.access_token().expose()),
        "nothing was sent"
    );
}

#[tokio::test]
async fn refresh_rotates_and_kills_the_old_pair() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let first = login(&client).await;
    let exp = |t: &TokenSet| {
        t.expires_at()
            .unwrap()
            .duration_since(std::time::SystemTime::now())
            .unwrap()
            .as_secs()
    };
    assert!(exp(&first) > 863_000, "10 days after a code exchange");
    let second = client.refresh(&first).await.unwrap();
    assert!(exp(&second) <= 3600, "an hour after a refresh");
    assert_ne!(first.refresh_token(), second.refresh_token());
    assert!(
        !fake.is_access_token_live(first.access_token().expose()),
        "old access token dead"
    );
    assert!(fake.is_access_token_live(second.access_token().expose()));
    assert_eq!(
        second.id_token_claims(),
        first.id_token_claims(),
        "no ID token on refresh; identity kept"
    );
    let replay = client.refresh(&first).await.unwrap_err();
    assert!(
        replay.is_reauthorization_required(),
        "old refresh token dead: {replay}"
    );
}

#[tokio::test]
async fn revoke_always_answers_200_and_kills_the_pair() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let tokens = login(&client).await;
    client
        .revoke(&grantkit::Secret::new("polar_at_u_unknown"), None)
        .await
        .unwrap();
    client.revoke_tokens(&tokens).await.unwrap();
    assert!(!fake.is_access_token_live(tokens.access_token().expose()));
    assert!(client
        .refresh(&tokens)
        .await
        .unwrap_err()
        .is_reauthorization_required());
}

#[tokio::test]
async fn introspection_is_typed_with_sub_type_and_organizations() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let tokens = login(&client).await;
    let info = PolarIntrospection::from(
        client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap(),
    );
    assert!(info.active());
    assert_eq!(info.sub_type, Some(SubType::User));
    assert!(
        info.organizations.is_empty(),
        "a plain user token: all organizations"
    );
    assert_eq!(info.inner.client_id.as_deref(), Some(id.as_str()));
    let dead = client
        .introspect(&grantkit::Secret::new("nope"), None)
        .await
        .unwrap();
    assert!(!PolarIntrospection::from(dead).active());
}

#[tokio::test]
async fn userinfo_of_a_user_and_of_a_legacy_organization_whose_name_is_its_slug_only_with_openid() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let user = login(&client).await;
    let who = grantkit_polar_sh::userinfo(&client, &user).await.unwrap();
    assert_eq!(
        who,
        PolarSubject::User {
            id: fake.user_id(),
            email: Some("merchant@example.test".into()),
            email_verified: Some(true)
        }
    );
    // polar: server/polar/oauth2/userinfo.py: an organization's `name` is its slug, with `openid`.
    for (scope, name) in [
        ("openid products:read", Some(fake.organization_slug())),
        ("products:read", None),
    ] {
        let legacy = legacy_tokens(&fake, &id, scope);
        assert!(legacy.access_token().expose().starts_with("polar_at_o_"));
        let who = grantkit_polar_sh::userinfo(&client, &legacy).await.unwrap();
        assert_eq!(
            who,
            PolarSubject::Organization {
                id: fake.organization_id(),
                name
            }
        );
    }
}

fn legacy_tokens(fake: &FakePolarSh, client_id: &str, scope: &str) -> TokenSet {
    let body = fake
        .legacy_organization_tokens(client_id, scope)
        .to_string();
    TokenSet::from_response(body.as_bytes(), std::time::SystemTime::now()).unwrap()
}

async fn introspect(client: &Client, tokens: &TokenSet) -> PolarIntrospection {
    PolarIntrospection::from(
        client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn only_user_tokens_sub_type_organization_is_a_user_token_down_scoped_to_the_picked_organization(
) {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let everything = login(&client).await;
    assert_eq!(
        introspect(&client, &everything).await.organization_access(),
        OrganizationAccess::All,
        "`organizations: []` means all of the user's organizations"
    );
    // The legacy `sub` asks for organization B; the user picks A on the consent page and A wins
    // (polar: server/polar/oauth2/grants/authorization_code.py, `_validate_sub`).
    let (callback, pending) = authorize(&client, |r| {
        r.sub_type(SubType::Organization).param("sub", "org-B")
    })
    .await;
    let tokens = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    assert!(tokens.access_token().expose().starts_with("polar_at_u_"));
    let info = introspect(&client, &tokens).await;
    assert_eq!(info.sub_type, Some(SubType::User));
    assert_eq!(info.inner.sub.as_deref(), Some(fake.user_id().as_str()));
    assert_eq!(
        info.organization_access(),
        OrganizationAccess::Only(vec![fake.organization_id()])
    );
    let who = grantkit_polar_sh::userinfo(&client, &tokens).await.unwrap();
    assert_eq!(who.id(), fake.user_id());
}

#[tokio::test]
async fn sub_type_organization_sends_prompt_consent_so_a_repeated_login_still_picks_an_organization(
) {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    for attempt in ["first", "repeated"] {
        let (url, pending) = client
            .authorize()
            .sub_type(SubType::Organization)
            .build()
            .unwrap();
        assert!(url.query().unwrap().contains("prompt=consent"), "{attempt}");
        let callback = Browser::new()
            .authorize(url.as_str(), REDIRECT)
            .await
            .unwrap();
        let tokens = client
            .exchange_code(pending.verify_callback(&callback).unwrap())
            .await
            .unwrap();
        assert_eq!(
            introspect(&client, &tokens).await.organizations,
            [fake.organization_id()],
            "{attempt}"
        );
    }
}

#[tokio::test]
async fn sub_type_organization_keeps_an_earlier_select_account_prompt_and_still_picks_an_organization(
) {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    login(&client).await;
    // Polar compares `prompt` only with "none" (and "login"): any other explicit value shows the
    // consent page, so `select_account` already lets the user pick the organization and is kept
    // (polar: server/polar/oauth2/grants/authorization_code.py, `_validate_scope_consent`).
    let (url, pending) = client
        .authorize()
        .polar_prompt(Prompt::SelectAccount)
        .sub_type(SubType::Organization)
        .build()
        .unwrap();
    let query = url.query().unwrap();
    assert!(query.contains("prompt=select_account"), "{query}");
    assert!(!query.contains("prompt=consent"), "{query}");
    let callback = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    let tokens = client
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    assert_eq!(
        introspect(&client, &tokens).await.organizations,
        [fake.organization_id()]
    );
}

#[test]
fn sub_type_organization_replaces_prompt_none_which_polar_would_answer_with_a_400_page() {
    let polar = PolarSh::production();
    let client = polar
        .client_builder(polar.provider().unwrap(), "polar_ci_x")
        .build()
        .unwrap();
    let (url, _) = client
        .authorize()
        .polar_prompt(Prompt::None)
        .sub_type(SubType::Organization)
        .build()
        .unwrap();
    assert!(url.query().unwrap().contains("prompt=consent"));
}

#[tokio::test]
async fn sub_type_organization_after_an_earlier_consent_without_prompt_is_a_400_page_without_redirect(
) {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    login(&client).await;
    // What the preset sent before: `sub_type=organization` alone. Polar skips the consent page,
    // nobody picks an organization (polar: server/tests/oauth2,
    // `test_organization_sub_type_requires_an_organization`).
    let (url, _) = client
        .authorize()
        .param("sub_type", "organization")
        .build()
        .unwrap();
    let stuck = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap_err();
    let text = format!("{stuck:?}");
    assert!(
        text.contains("400") && text.contains("requires selecting an organization"),
        "{text}"
    );
}

#[tokio::test]
async fn a_legacy_organization_token_refreshes_into_a_user_token_through_a_token_source_and_store()
{
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    // A session stored before mid-2026: a legacy organization pair and its ID token (`sub`: the
    // organization), as grantkit kept it.
    let mut stored = serde_json::to_value(login(&client).await).unwrap();
    let legacy = fake.legacy_organization_tokens(&id, "openid email products:read");
    stored["access_token"] = legacy["access_token"].clone();
    stored["refresh_token"] = legacy["refresh_token"].clone();
    stored["id_token_claims"]["sub"] = fake.organization_id().into();
    let legacy: TokenSet = serde_json::from_value(stored).unwrap();
    let old = grantkit_polar_sh::userinfo(&client, &legacy).await.unwrap();
    assert!(matches!(old, PolarSubject::Organization { .. }), "{old:?}");

    let dir = std::env::temp_dir().join(format!("grantkit-polar-legacy-{}", std::process::id()));
    let file = dir.join("tokens.json");
    let source = grantkit::TokenSource::builder(client.clone())
        .store(grantkit::store::FileTokenStore::new(&file))
        .tokens(legacy.clone())
        .build()
        .await
        .unwrap();
    // polar: server/polar/oauth2/grants/refresh_token.py: `sub` and `sub_type` change.
    let current = source.access_token().await.unwrap();
    let fresh = source.refresh_if_current(&current).await.unwrap();
    assert!(fresh.expose().starts_with("polar_at_u_"));
    let stored: TokenSet = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stored.access_token().expose(), fresh.expose());
    let info = introspect(&client, &stored).await;
    assert_eq!(
        (info.sub_type, info.organizations.clone()),
        (Some(SubType::User), vec![fake.organization_id()])
    );
    let who = grantkit_polar_sh::userinfo(&client, &stored).await.unwrap();
    assert_eq!(who.id(), fake.user_id(), "now the organization's member");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn revoking_the_access_token_also_kills_its_refresh_token() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let tokens = login(&client).await;
    // polar: server/polar/oauth2/authorization_server.py, `RevocationEndpoint.revoke_token`.
    client.revoke(tokens.access_token(), None).await.unwrap();
    let err = client.refresh(&tokens).await.unwrap_err();
    assert!(err.is_reauthorization_required(), "{err}");
    let tokens = login(&client).await;
    let refresh = tokens.refresh_token().unwrap();
    client.revoke(refresh, None).await.unwrap();
    assert!(!fake.is_access_token_live(tokens.access_token().expose()));
}

#[tokio::test]
async fn consent_denied_is_a_typed_access_denied() {
    let (fake, polar) = fake().await;
    fake.set_consent(Consent::Deny);
    let client = client(&polar, &fake.public_client(), None).await;
    let (callback, pending) = authorize(&client, |r| r).await;
    let err = pending.verify_callback(&callback).unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::AccessDenied));
    let forged = callback.replace("state=", "state=x");
    assert!(matches!(
        pending.verify_callback(&forged),
        Err(Error::Callback(CallbackError::StateMismatch))
    ));
}

#[tokio::test]
async fn personal_and_organization_access_tokens_are_static() {
    let (fake, polar) = fake().await;
    let pat = fake.create_static_token(false, "products:read");
    let (tokens, kind) = static_token(&pat);
    assert_eq!(kind, StaticTokenKind::Personal);
    assert!(!tokens.expires_within(Duration::from_secs(3600 * 24 * 365)));
    let client = client(&polar, &fake.public_client(), None).await;
    assert!(matches!(
        client.refresh(&tokens).await,
        Err(Error::NoRefreshToken)
    ));
    // Polar's userinfo refuses PATs.
    let err = client.userinfo(&tokens).await.unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidToken));
    // ...but its API accepts them.
    let api = client.http_client();
    let request = api
        .reqwest()
        .get(format!("{}/v1/products/", fake.api_base()))
        .bearer_auth(tokens.access_token().expose());
    let products = api
        .execute(grantkit::Endpoint::Api, request)
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    assert_eq!(
        products.json::<serde_json::Value>().unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        static_token(&fake.create_static_token(true, "")).1,
        StaticTokenKind::Organization
    );
}

#[tokio::test]
async fn rate_limit_429_carries_retry_after() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    // The JWKS is fetched beside the code exchange; warm it so the 429 meets the token endpoint.
    login(&client).await;
    let (callback, pending) = authorize(&client, |r| r).await;
    fake.rate_limit_next(1, 17);
    let code = pending.verify_callback(&callback).unwrap();
    let err = client.exchange_code(code.clone()).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));
    // Nothing was consumed: the same code still works after the wait.
    client.exchange_code(code).await.unwrap();
}

#[tokio::test]
async fn older_api_prefix_rewrites_only_v1_paths_discovery_and_jwks_stay_at_the_root() {
    let (fake, _) = fake().await;
    let polar = PolarSh::custom(format!("{}/api", fake.api_base()), fake.web_base());
    let provider = polar.provider().unwrap();
    assert!(provider
        .endpoint(grantkit::Endpoint::Token)
        .unwrap()
        .path()
        .starts_with("/api/v1/"));
    // polar: only `/api/v1/...` is rewritten; `/api/.well-known/...` does not exist.
    assert_eq!(
        provider.endpoint(grantkit::Endpoint::Jwks).unwrap().path(),
        "/.well-known/jwks.json"
    );
    let missing = reqwest::get(format!("{}/api/.well-known/jwks.json", fake.api_base()))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        polar.discover().await.unwrap().issuer(),
        Some("https://polar.sh")
    );
    let (id, secret) = fake.post_client();
    let client = polar
        .client_builder(provider, &id)
        .client_secret(secret)
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let tokens = login(&client).await;
    assert_eq!(tokens.id_token_claims().unwrap().sub, fake.user_id());
    assert!(
        client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap()
            .active
    );
    let deprecated = reqwest::Client::new()
        .post(format!("{}/api/v1/oauth2/introspect", fake.api_base()))
        .send()
        .await
        .unwrap();
    assert!(deprecated
        .headers()
        .contains_key("x-polar-deprecation-notice"));
}

#[tokio::test]
async fn signing_key_rotation_is_survived_without_a_kid_in_the_id_token() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    login(&client).await;
    fake.rotate_signing_key();
    login(&client).await;
    assert_eq!(client.jwks_fetch_count(), 2);
}

#[allow(deprecated)] // the deprecated setter is sent and must not break registration
#[tokio::test]
async fn dynamic_client_registration_round_trip_update_carries_client_id_and_errors_are_422_with_the_reason(
) {
    let (fake, polar) = fake().await;
    let registrar = polar.registrar().unwrap();
    let meta = ClientMetadata::new(
        "My shop app",
        vec![REDIRECT.into()],
        &[Scope::OpenId, Scope::OrdersRead],
    )
    .default_sub_type(SubType::Organization);
    let registered = registrar.register(&meta).await.unwrap();
    assert!(registered.client_id.starts_with("polar_ci_"));
    let secret = registered
        .client_secret
        .clone()
        .expect("confidential clients get a secret");
    assert!(!format!("{registered:?}").contains(secret.expose()));
    assert_eq!(
        registered.metadata["token_endpoint_auth_method"],
        "client_secret_post"
    );

    // The new client works at once.
    let client = polar
        .client_builder(polar.discover().await.unwrap(), &registered.client_id)
        .client_secret(secret)
        .redirect_uri(REDIRECT)
        .scopes(["openid"])
        .build()
        .unwrap();
    assert!(login(&client).await.id_token_claims().is_some());

    let read = registrar.read(&registered).await.unwrap();
    assert_eq!(read.client_id, registered.client_id);
    let mut updated_meta = meta.clone();
    updated_meta.client_name = "Renamed".into();
    let updated = registrar.update(&registered, &updated_meta).await.unwrap();
    assert_eq!(updated.metadata["client_name"], "Renamed");
    registrar.delete(registered.clone()).await.unwrap();
    assert!(registrar.read(&registered).await.is_err());
    assert!(
        !format!("{meta:?}").is_empty()
            && serde_json::to_value(&meta).unwrap()["default_sub_type"].is_null(),
        "default_sub_type is not a registration field: not sent"
    );

    let public = registrar
        .register(&meta.clone().auth_method(AuthMethod::None))
        .await
        .unwrap();
    assert!(public.client_secret.is_none());
    // polar: server/polar/oauth2/schemas.py: http:// only for localhost and private addresses.
    let bad = registrar
        .register(&ClientMetadata::new(
            "x",
            vec!["http://shop.example.com/callback".into()],
            &[],
        ))
        .await
        .unwrap_err();
    let api = bad.api_error().expect("a typed API error");
    assert_eq!(
        (api.status, api.error.as_deref()),
        (422, Some("RequestValidationError"))
    );
    assert_eq!(api.issues[0].location, "body.redirect_uris.0");
    assert!(
        bad.to_string().contains("An HTTPS URL is required."),
        "{bad}"
    );
    let _ = fake;
}

#[tokio::test]
async fn registration_update_without_client_id_in_the_body_is_a_422() {
    let (fake, polar) = fake().await;
    let registrar = polar.registrar().unwrap();
    let meta = ClientMetadata::new("shop", vec![REDIRECT.into()], &[Scope::OpenId]);
    let registered = registrar.register(&meta).await.unwrap();
    // What `Registrar::update` used to send: the metadata alone.
    let raw = reqwest::Client::new()
        .put(&registered.registration_client_uri)
        .bearer_auth(registered.registration_access_token.expose())
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 422);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(
        body["detail"][0]["loc"],
        serde_json::json!(["body", "client_id"])
    );
    let updated = registrar.update(&registered, &meta).await.unwrap();
    assert_eq!(updated.client_id, registered.client_id);
    let _ = fake;
}

#[allow(deprecated)] // proves the deprecated setter has no effect at Polar
#[tokio::test]
async fn default_sub_type_is_not_a_registration_field_registered_clients_default_to_user() {
    let (fake, polar) = fake().await;
    let registrar = polar.registrar().unwrap();
    let meta = ClientMetadata::new("shop", vec![REDIRECT.into()], &[Scope::OpenId])
        .default_sub_type(SubType::Organization);
    let registered = registrar.register(&meta).await.unwrap();
    let client = polar
        .client_builder(polar.discover().await.unwrap(), &registered.client_id)
        .client_secret(registered.client_secret.clone().unwrap())
        .redirect_uri(REDIRECT)
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = login(&client).await;
    assert_eq!(
        introspect(&client, &tokens).await.organization_access(),
        OrganizationAccess::All,
        "no sub_type sent: the client's default, `user`"
    );
    let _ = fake;
}

#[tokio::test]
async fn deleting_a_client_is_a_soft_delete_its_access_tokens_keep_working() {
    let (fake, polar) = fake().await;
    let registrar = polar.registrar().unwrap();
    let meta = ClientMetadata::new("shop", vec![REDIRECT.into()], &[Scope::OpenId]);
    let registered = registrar.register(&meta).await.unwrap();
    let client = polar
        .client_builder(polar.discover().await.unwrap(), &registered.client_id)
        .client_secret(registered.client_secret.clone().unwrap())
        .redirect_uri(REDIRECT)
        .scopes(["openid"])
        .build()
        .unwrap();
    let tokens = login(&client).await;
    registrar.delete(registered).await.unwrap();
    // polar: server/polar/oauth2/authorization_server.py, `delete_client` only marks it deleted.
    assert!(grantkit_polar_sh::userinfo(&client, &tokens).await.is_ok());
    let err = client.refresh(&tokens).await.unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidClient));
    let _ = fake;
}

#[tokio::test]
async fn api_errors_are_typed_with_polars_detail_and_the_required_scope() {
    let (fake, _) = fake().await;
    let http = grantkit::http::HttpClient::new(grantkit::http::HttpOptions::default()).unwrap();
    let call = |token: String| {
        let request = http
            .reqwest()
            .get(format!("{}/v1/products/", fake.api_base()))
            .bearer_auth(token);
        http.execute(grantkit::Endpoint::Api, request)
    };
    // polar: server/polar/oauth2/exceptions.py, `InsufficientScopeError`.
    let pat = fake.create_static_token(false, "orders:read");
    let err = grantkit_polar_sh::error_for_status(call(pat.clone()).await.unwrap()).unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(
        (api.status, api.error.as_deref()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(
        api.required_scope.as_deref(),
        Some("products:read products:write")
    );
    assert!(!err.to_string().contains(&pat));
    // polar: server/polar/auth/middlewares.py: a token that is not valid is Authlib's
    // `invalid_token`, read as the OAuth error it is.
    let err = grantkit_polar_sh::error_for_status(call("polar_pat_gone".into()).await.unwrap())
        .unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(
        (api.status, api.error.as_deref()),
        (401, Some("invalid_token"))
    );
    assert!(err.is_reauthorization_required());
    // polar: server/polar/exceptions.py, `Unauthorized`: no token at all.
    let anonymous = http.execute(
        grantkit::Endpoint::Api,
        http.reqwest()
            .get(format!("{}/v1/products/", fake.api_base())),
    );
    let err = grantkit_polar_sh::error_for_status(anonymous.await.unwrap()).unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(
        (api.status, api.error.as_deref(), api.detail.as_deref()),
        (401, Some("Unauthorized"), Some("Unauthorized"))
    );
    assert!(err.is_reauthorization_required());
    fake.rate_limit_next(1, 9);
    let err = grantkit_polar_sh::error_for_status(call(pat).await.unwrap()).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(9)));
}

#[tokio::test]
async fn rotation_through_a_token_source_refreshes_once_and_keeps_the_new_pair() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let tokens = login(&client).await;
    let dir = std::env::temp_dir().join(format!("grantkit-polar-rotation-{}", std::process::id()));
    let file = dir.join("tokens.json");
    let source = grantkit::TokenSource::builder(client.clone())
        .store(grantkit::store::FileTokenStore::new(&file))
        .tokens(tokens)
        .build()
        .await
        .unwrap();
    let rejected = source.access_token().await.unwrap();
    // Polar rejected the token (say, revoked elsewhere): 100 tasks ask for a new one at once.
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (source, rejected) = (source.clone(), rejected.clone());
            tokio::spawn(async move { source.refresh_if_current(&rejected).await.unwrap() })
        })
        .collect();
    let mut fresh = Vec::new();
    for t in tasks {
        fresh.push(t.await.unwrap());
    }
    assert_eq!(
        fake.refresh_requests(),
        1,
        "one refresh for 100 callers: a second would present a dead refresh token"
    );
    assert!(fresh.iter().all(|t| t.expose() == fresh[0].expose()));
    assert!(!fake.is_access_token_live(rejected.expose()));
    assert!(fake.is_access_token_live(fresh[0].expose()));
    // The rotated pair is on disk before anyone used it.
    let stored: grantkit::TokenSet =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stored.refresh_token(), fresh[0].token_set().refresh_token());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_personal_access_token_is_a_static_token_source() {
    let (fake, _) = fake().await;
    let pat = fake.create_static_token(false, "products:read");
    let source = grantkit::TokenSource::fixed(static_token(&pat).0);
    let api = grantkit::AuthorizedClient::new(source).unwrap();
    let response = api
        .get(format!("{}/v1/products/", fake.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(fake.token_requests(), 0, "never refreshed");
}

#[tokio::test]
async fn customer_and_member_sessions_are_expiring_tokens_for_the_customer_portal() {
    let (fake, _) = fake().await;
    let oat = fake.create_static_token(true, "customer_sessions:write");
    let http = grantkit::http::HttpClient::new(grantkit::http::HttpOptions::default()).unwrap();
    let create = http
        .reqwest()
        .post(format!("{}/v1/customer-sessions/", fake.api_base()))
        .bearer_auth(&oat)
        .json(&serde_json::json!({"customer_id": "cus_1"}));
    let response = grantkit_polar_sh::error_for_status(
        http.execute(grantkit::Endpoint::Api, create).await.unwrap(),
    )
    .unwrap();
    let session: CustomerSession = response.json().unwrap();
    assert!(!format!("{session:?}").contains(session.token.expose()));
    let tokens = session.token_set().unwrap();
    assert_eq!(
        StaticTokenKind::of(tokens.access_token().expose()),
        StaticTokenKind::CustomerSession
    );
    assert_eq!(
        static_token("polar_mst_x").1,
        StaticTokenKind::MemberSession
    );
    assert!(tokens.refresh_token().is_none());
    assert!(!tokens.expires_within(Duration::from_secs(3000)));
    assert!(
        tokens.expires_within(Duration::from_secs(3601)),
        "an hour, then gone"
    );
    let portal = |tokens: TokenSet| {
        let request = http
            .reqwest()
            .get(format!(
                "{}/v1/customer-portal/customers/me",
                fake.api_base()
            ))
            .bearer_auth(tokens.access_token().expose());
        http.execute(grantkit::Endpoint::Api, request)
    };
    assert_eq!(portal(tokens.clone()).await.unwrap().status(), 200);
    fake.advance_clock(Duration::from_secs(3601));
    let expired = grantkit_polar_sh::error_for_status(portal(tokens).await.unwrap()).unwrap_err();
    assert!(expired.is_reauthorization_required(), "{expired}");
    let bad: CustomerSession =
        serde_json::from_value(serde_json::json!({"token": "polar_cst_y", "expires_at": "soon"}))
            .unwrap();
    assert!(bad.token_set().is_err());
}

#[tokio::test]
async fn revocation_and_introspection_accept_basic_or_post_from_any_confidential_client() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let tokens = login(&client(&polar, &id, Some(&secret)).await).await;
    // The same post client, authenticating with Basic: refused at the token endpoint (see
    // `client_secret_post_is_the_default_and_basic_is_refused_for_a_post_client`), accepted here.
    let basic = polar
        .client_builder(polar.discover().await.unwrap(), &id)
        .client_secret(secret)
        .auth_method(AuthMethod::ClientSecretBasic)
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
    assert!(introspect(&basic, &tokens).await.active());
    basic.revoke(tokens.access_token(), None).await.unwrap();
    assert!(!fake.is_access_token_live(tokens.access_token().expose()));
}

#[tokio::test]
async fn revoking_another_clients_token_is_invalid_grant() {
    let (fake, polar) = fake().await;
    let (post_id, post_secret) = fake.post_client();
    let (basic_id, basic_secret) = fake.basic_client();
    let theirs = login(&client(&polar, &post_id, Some(&post_secret)).await).await;
    let mine = polar
        .client_builder(polar.discover().await.unwrap(), &basic_id)
        .client_secret(basic_secret)
        .auth_method(AuthMethod::ClientSecretBasic)
        .redirect_uri(REDIRECT)
        .build()
        .unwrap();
    let err = mine.revoke(theirs.access_token(), None).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant),
        "{err}"
    );
    assert!(fake.is_access_token_live(theirs.access_token().expose()));
}

#[tokio::test]
async fn prompt_none_without_an_earlier_consent_is_consent_required_on_the_redirect_with_state() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    // polar: grants/authorization_code.py, `_validate_scope_consent` raises ConsentRequiredError.
    let (callback, pending) = authorize(&client, |r| r.polar_prompt(Prompt::None)).await;
    let err = pending.verify_callback(&callback).unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::ConsentRequired),
        "{err}"
    );
    // After a consent, `prompt=none` skips the page and returns a code.
    login(&client).await;
    let (callback, pending) = authorize(&client, |r| r.polar_prompt(Prompt::None)).await;
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code).await.unwrap();
}

/// A session from before Polar's change, as grantkit kept it: a legacy organization pair whose
/// ID token's `sub` is `old_sub`, refreshed once into a user token (polar:
/// server/polar/oauth2/grants/refresh_token.py changes `sub` and `sub_type`).
async fn migrated_session(
    fake: &FakePolarSh,
    client: &Client,
    login_tokens: TokenSet,
    old_sub: String,
) -> TokenSet {
    let mut stored = serde_json::to_value(login_tokens).unwrap();
    let legacy = fake.legacy_organization_tokens(client.client_id(), "openid email products:read");
    stored["access_token"] = legacy["access_token"].clone();
    stored["refresh_token"] = legacy["refresh_token"].clone();
    stored["id_token_claims"]["sub"] = old_sub.into();
    let legacy: TokenSet = serde_json::from_value(stored).unwrap();
    let migrated = client.refresh(&legacy).await.unwrap();
    assert!(migrated.access_token().expose().starts_with("polar_at_u_"));
    migrated
}

fn with_id_token_sub(tokens: &TokenSet, sub: &str) -> TokenSet {
    let mut value = serde_json::to_value(tokens).unwrap();
    value["id_token_claims"]["sub"] = sub.into();
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_changed_sub_stands_refused_unless_introspection_ties_it_to_the_old_organization() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let refused = |r: grantkit::Result<PolarSubject>| {
        assert!(matches!(r, Err(Error::UserinfoSubjectMismatch)), "{r:?}");
    };
    // A plain user token (all the user's organizations) under an ID token naming the
    // organization: nothing ties the two subjects.
    let user = login(&client).await;
    refused(
        grantkit_polar_sh::userinfo(&client, &with_id_token_sub(&user, &fake.organization_id()))
            .await,
    );
    // A migrated token limited to the organization, under an ID token naming another one.
    let migrated =
        migrated_session(&fake, &client, login(&client).await, fake.organization_id()).await;
    refused(
        grantkit_polar_sh::userinfo(
            &client,
            &with_id_token_sub(&migrated, "another-organization"),
        )
        .await,
    );
    // Not a user token (`polar_at_o_`): a legacy token's subject never changes, so a changed one
    // is a substitution, and no introspection can excuse it.
    let mut legacy = serde_json::to_value(login(&client).await).unwrap();
    let pair = fake.legacy_organization_tokens(&id, "openid email products:read");
    legacy["access_token"] = pair["access_token"].clone();
    legacy["refresh_token"] = pair["refresh_token"].clone();
    legacy["id_token_claims"]["sub"] = "another-organization".into();
    let legacy: TokenSet = serde_json::from_value(legacy).unwrap();
    assert!(legacy.access_token().expose().starts_with("polar_at_o_"));
    refused(grantkit_polar_sh::userinfo(&client, &legacy).await);
    // The accepting case, for contrast: the same migrated token under its own old ID token.
    let who = grantkit_polar_sh::userinfo(&client, &migrated)
        .await
        .unwrap();
    assert_eq!(who.id(), fake.user_id());
}

#[tokio::test]
async fn a_public_client_cannot_prove_a_migration_so_the_changed_sub_stands_refused() {
    let (fake, polar) = fake().await;
    let client = client(&polar, &fake.public_client(), None).await;
    let migrated =
        migrated_session(&fake, &client, login(&client).await, fake.organization_id()).await;
    // Polar refuses public clients at introspection; grantkit refuses before sending, and the
    // mismatch is what the caller sees (not the refusal of a call it never made).
    let r = grantkit_polar_sh::userinfo(&client, &migrated).await;
    assert!(matches!(r, Err(Error::UserinfoSubjectMismatch)), "{r:?}");
}

#[tokio::test]
async fn a_rate_limited_introspection_is_reported_as_such_not_as_a_subject_mismatch() {
    let (fake, polar) = fake().await;
    let (id, secret) = fake.post_client();
    let client = client(&polar, &id, Some(&secret)).await;
    let migrated =
        migrated_session(&fake, &client, login(&client).await, fake.organization_id()).await;
    fake.rate_limit_next_at("/oauth2/introspect", 1, 7);
    let e = grantkit_polar_sh::userinfo(&client, &migrated)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::RateLimited {
                endpoint: grantkit::Endpoint::Introspection,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    // Once the limit is over, the same call succeeds.
    let who = grantkit_polar_sh::userinfo(&client, &migrated)
        .await
        .unwrap();
    assert_eq!(who.id(), fake.user_id());
}
