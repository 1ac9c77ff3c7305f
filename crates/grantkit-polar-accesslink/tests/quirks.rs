//! Each AccessLink quirk on the OAuth side, proven against `grantkit_testkit::FakeAccessLink`.
//! Test names say which quirk they prove.

mod common;

use std::time::{Duration, SystemTime};

use common::{client, client_without_redirect, consent, endpoints, fake, link};
use grantkit::{AuthMethod, Client, Error, OAuthErrorCode, TokenSet, TokenType};
use grantkit_polar_accesslink::{TokenSetExt, UserId};
use grantkit_testkit::{
    FakeUser, UserIdFormat, ACCESSLINK_CLIENT_ID, ACCESSLINK_CLIENT_SECRET, ACCESSLINK_REDIRECT_URI,
};

#[tokio::test]
async fn basic_only_client_auth_with_accept_json_at_the_token_endpoint() {
    let fake = fake().await;
    let client = client(&fake);
    assert_eq!(client.auth_method(), AuthMethod::ClientSecretBasic);
    link(&client).await;
    let sent = &fake.token_requests()[0];
    assert!(sent.basic_auth, "credentials in an HTTP Basic header");
    assert!(!sent.credentials_in_body, "never in the body");
    assert!(sent.accept.as_deref().unwrap().contains("application/json"));
    assert_eq!(sent.status, 200);
}

#[tokio::test]
async fn basic_only_other_client_auth_methods_are_refused_at_build() {
    let provider = grantkit_polar_accesslink::provider();
    let post = Client::builder(provider.clone(), "id")
        .client_secret("s")
        .auth_method(AuthMethod::ClientSecretPost)
        .build()
        .unwrap_err();
    assert!(
        post.to_string()
            .contains("does not accept `client_secret_post`"),
        "{post}"
    );
    let public = Client::builder(provider, "id").build().unwrap_err();
    assert!(public.to_string().contains("`none`"), "{public}");
}

#[tokio::test]
async fn basic_only_the_fake_rejects_credentials_in_the_body() {
    let fake = fake().await;
    let response = reqwest::Client::new()
        .post(fake.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "whatever"),
            ("client_id", ACCESSLINK_CLIENT_ID),
            ("client_secret", ACCESSLINK_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn lowercase_bearer_token_type_is_bearer() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    assert_eq!(tokens.token_type(), &TokenType::Bearer);
    assert_eq!(tokens.token_type().as_str(), "Bearer");
}

#[tokio::test]
async fn expires_in_of_about_a_year_is_kept() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let expires_at = tokens.expires_at().expect("expiry");
    let left = expires_at.duration_since(SystemTime::now()).unwrap();
    let year = Duration::from_secs(31_535_999);
    assert!(
        left <= year && left > year - Duration::from_secs(60),
        "{left:?}"
    );
    assert!(!tokens.expires_within(Duration::from_secs(300 * 24 * 3600)));
}

#[tokio::test]
async fn x_user_id_integer_is_a_typed_user_id() {
    let fake = fake().await;
    fake.set_user(FakeUser::new(10579));
    let tokens = link(&client(&fake)).await;
    assert_eq!(tokens.extra()["x_user_id"], 10579);
    assert_eq!(tokens.user_id().unwrap(), UserId(10579));
}

#[tokio::test]
async fn x_user_id_string_is_a_typed_user_id() {
    let fake = fake().await;
    fake.set_user(FakeUser::new(4242));
    fake.user_id_format(UserIdFormat::String);
    let tokens = link(&client(&fake)).await;
    assert_eq!(tokens.extra()["x_user_id"], "4242");
    assert_eq!(tokens.user_id().unwrap(), UserId(4242));
}

#[tokio::test]
async fn x_user_id_missing_fails_the_code_exchange() {
    let fake = fake().await;
    fake.user_id_format(UserIdFormat::Omitted);
    let client = client(&fake);
    let (callback, pending) = consent(&client).await;
    let code = pending.verify_callback(&callback).unwrap();
    let e = client.exchange_code(code).await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(e.to_string().contains("`x_user_id`"), "{e}");
}

#[test]
fn x_user_id_missing_or_unusable_is_a_typed_error() {
    let now = SystemTime::now();
    for body in [
        r#"{"access_token":"a","token_type":"bearer"}"#,
        r#"{"access_token":"a","x_user_id":"ten"}"#,
        r#"{"access_token":"a","x_user_id":-1}"#,
    ] {
        let tokens = TokenSet::from_response(body.as_bytes(), now).unwrap();
        let e = tokens.user_id().unwrap_err();
        assert!(
            matches!(e, grantkit_polar_accesslink::Error::MissingUserId),
            "{e:?}"
        );
    }
}

#[test]
fn x_user_id_is_a_declared_required_integer_token_field() {
    let quirks = grantkit_polar_accesslink::quirks();
    let field = &quirks.token_fields[0];
    assert_eq!(field.name(), "x_user_id");
    assert_eq!(field.kind(), grantkit::provider::TokenFieldKind::Integer);
    assert!(field.is_required());
}

#[tokio::test]
async fn no_refresh_token_refresh_requires_relinking() {
    let fake = fake().await;
    let client = client(&fake);
    let tokens = link(&client).await;
    assert!(tokens.refresh_token().is_none());
    let e = client.refresh(&tokens).await.unwrap_err();
    assert!(matches!(e, Error::NoRefreshToken), "{e:?}");
    assert!(e.is_reauthorization_required());
    assert_eq!(fake.token_requests().len(), 1, "no refresh was attempted");
}

#[tokio::test]
async fn redirect_uri_repeated_at_the_token_step_when_it_was_sent() {
    let fake = fake().await;
    link(&client(&fake)).await;
    assert_eq!(
        fake.authorizations()[0].param("redirect_uri"),
        Some(ACCESSLINK_REDIRECT_URI)
    );
    assert_eq!(
        fake.token_requests()[0].redirect_uri.as_deref(),
        Some(ACCESSLINK_REDIRECT_URI)
    );
}

#[tokio::test]
async fn redirect_uri_not_repeated_when_it_was_not_sent() {
    let fake = fake().await;
    let tokens = link(&client_without_redirect(&fake)).await;
    assert!(tokens.user_id().is_ok());
    assert_eq!(fake.authorizations()[0].param("redirect_uri"), None);
    let sent = &fake.token_requests()[0];
    assert_eq!(sent.redirect_uri, None);
    assert_eq!(sent.params, ["grant_type", "code"]);
}

#[tokio::test]
async fn no_pkce_parameters_are_sent() {
    let fake = fake().await;
    link(&client(&fake)).await;
    let authorization = &fake.authorizations()[0];
    assert_eq!(authorization.param("code_challenge"), None);
    assert_eq!(authorization.param("code_challenge_method"), None);
    assert!(
        authorization.param("state").is_some(),
        "state is still sent"
    );
    assert!(!fake.token_requests()[0]
        .params
        .contains(&"code_verifier".to_owned()));
}

#[tokio::test]
async fn scope_accesslink_read_all_is_accepted() {
    let fake = fake().await;
    let client = Client::builder(endpoints(&fake).provider().unwrap(), ACCESSLINK_CLIENT_ID)
        .client_secret(ACCESSLINK_CLIENT_SECRET)
        .scopes([grantkit_polar_accesslink::SCOPE])
        .build()
        .unwrap();
    let tokens = link(&client).await;
    assert_eq!(tokens.scope(), Some("accesslink.read_all"));
}

#[tokio::test]
async fn consent_denied_is_access_denied() {
    let fake = fake().await;
    fake.deny_consent(true);
    let (callback, pending) = consent(&client(&fake)).await;
    let e = pending.verify_callback(&callback).unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::AccessDenied), "{e:?}");
}

#[tokio::test]
async fn codes_are_single_use() {
    let fake = fake().await;
    let client = client(&fake);
    let (callback, pending) = consent(&client).await;
    let code = pending.verify_callback(&callback).unwrap();
    client.exchange_code(code.clone()).await.unwrap();
    let e = client.exchange_code(code).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidGrant), "{e:?}");
    assert!(e.is_reauthorization_required());
}

#[tokio::test]
async fn codes_expire_after_ten_minutes() {
    let fake = fake().await;
    let client = client(&fake);
    let (callback, pending) = consent(&client).await;
    let code = pending.verify_callback(&callback).unwrap();
    fake.advance_clock(Duration::from_secs(601));
    let e = client.exchange_code(code).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidGrant), "{e:?}");
}

#[tokio::test]
async fn secrets_are_not_in_debug_or_errors() {
    let fake = fake().await;
    let client = client(&fake);
    let tokens = link(&client).await;
    let access_token = tokens.access_token().expose().to_owned();
    let shown = format!("{client:?} {tokens:?}");
    assert!(!shown.contains(ACCESSLINK_CLIENT_SECRET), "{shown}");
    assert!(!shown.contains(&access_token), "{shown}");

    let wrong = Client::builder(endpoints(&fake).provider().unwrap(), ACCESSLINK_CLIENT_ID)
        .client_secret("WRONG-SECRET-value")
        .redirect_uri(ACCESSLINK_REDIRECT_URI)
        .build()
        .unwrap();
    let (callback, pending) = consent(&wrong).await;
    let code = pending.verify_callback(&callback).unwrap();
    let e = wrong.exchange_code(code).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidClient));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("WRONG-SECRET-value"), "{shown}");
    assert!(
        !shown.contains("code-"),
        "no authorization code in errors: {shown}"
    );
}

#[tokio::test]
async fn plain_get_data_endpoints_are_current_and_204_means_no_data() {
    let fake = common::fake().await;
    let tokens = common::link(&common::client(&fake)).await;
    let api = grantkit_polar_accesslink::AccessLink::new(&common::endpoints(&fake)).unwrap();
    api.register(&tokens, &grantkit_polar_accesslink::MemberId::generate())
        .await
        .unwrap();
    let none: Option<Vec<serde_json::Value>> = api.get_data(&tokens, "/exercises").await.unwrap();
    assert_eq!(none, None, "204: no data");
    fake.add_exercise(10579, serde_json::json!({"id": "e1", "sport": "RUNNING"}));
    let list: Vec<serde_json::Value> = api
        .get_data(&tokens, "/exercises")
        .await
        .unwrap()
        .expect("data");
    assert_eq!(list[0]["sport"], "RUNNING");
    let last = fake.api_requests().last().unwrap().clone();
    assert_eq!(
        (last.method.as_str(), last.path.as_str(), last.bearer),
        ("GET", "/v3/exercises", true)
    );
}
