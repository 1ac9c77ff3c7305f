//! User registration against `grantkit_testkit::FakeAccessLink`: the statuses AccessLink uses,
//! its error bodies and rate limits. Test names say what they prove.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{client, endpoints, fake, link};
use grantkit_polar_accesslink::{
    AccessLink, Error, Gender, MemberId, Registration, TokenSetExt, UserId,
};
use grantkit_testkit::{FakeAccessLink, FakeRateLimit, FakeUser};
use reqwest::Method;

fn api(fake: &FakeAccessLink) -> AccessLink {
    AccessLink::new(&endpoints(fake)).unwrap()
}

#[tokio::test]
async fn register_200_returns_the_typed_user() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let member_id = MemberId::generate();
    let registration = api(&fake).register(&tokens, &member_id).await.unwrap();
    let Registration::Registered(user) = registration else {
        panic!("expected a new registration, got {registration:?}");
    };
    assert_eq!(user.polar_user_id, UserId(10579));
    assert_eq!(user.member_id.as_deref(), Some(member_id.as_str()));
    assert_eq!(user.first_name.as_deref(), Some("Eka"));
    assert_eq!(user.last_name.as_deref(), Some("Toka"));
    assert_eq!(user.birthdate.as_deref(), Some("1985-09-06"));
    assert_eq!(user.gender, Some(Gender::Male));
    assert_eq!(user.weight, Some(66.0));
    assert_eq!(user.height, Some(170.0));
    assert!(user.registration_date.is_some());
    assert_eq!(
        fake.registered_member_id(10579).as_deref(),
        Some(member_id.as_str())
    );
}

#[tokio::test]
async fn register_409_already_registered_is_success() {
    let fake = fake().await;
    let client = client(&fake);
    let api = api(&fake);
    let member_id = MemberId::generate();
    let first = link(&client).await;
    api.register(&first, &member_id).await.unwrap();
    // The user links again (a new token) and the app registers again: 409, a success.
    let second = link(&client).await;
    let again = api.register(&second, &member_id).await.unwrap();
    assert_eq!(again, Registration::AlreadyRegistered);
    assert_eq!(fake.api_requests().last().unwrap().status, 409);
    let user = api
        .ensure_registered(&second, second.user_id().unwrap(), &member_id)
        .await
        .unwrap();
    assert_eq!(user.polar_user_id, UserId(10579));
}

#[tokio::test]
async fn register_403_consents_missing_is_typed() {
    let fake = fake().await;
    fake.set_user(FakeUser {
        consents_accepted: false,
        ..FakeUser::new(777)
    });
    let tokens = link(&client(&fake)).await;
    let e = api(&fake)
        .register(&tokens, &MemberId::generate())
        .await
        .unwrap_err();
    let Error::ConsentsMissing(body) = &e else {
        panic!("expected ConsentsMissing, got {e:?}");
    };
    assert_eq!(body.status, 403);
    assert!(body.message.as_deref().unwrap().contains("consents"));
    assert!(e.to_string().contains("mandatory consents"), "{e}");
    assert!(!e.is_reauthorization_required());
}

#[tokio::test]
async fn constant_member_id_makes_the_second_user_409_and_ensure_registered_says_so() {
    let fake = fake().await;
    let client = client(&fake);
    let api = api(&fake);
    let constant = MemberId::new("my-app").unwrap(); // what the docs warn against
    let alice = link(&client).await;
    api.register(&alice, &constant).await.unwrap();
    fake.set_user(FakeUser::new(2002));
    let bob = link(&client).await;
    assert_eq!(
        api.register(&bob, &constant).await.unwrap(),
        Registration::AlreadyRegistered,
        "a bare 409 cannot tell this from a re-link"
    );
    let e = api
        .ensure_registered(&bob, bob.user_id().unwrap(), &constant)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::MemberIdTaken { .. }), "{e:?}");
    // With its own member-id, Bob registers.
    let user = api
        .ensure_registered(&bob, UserId(2002), &MemberId::generate())
        .await
        .unwrap();
    assert_eq!(user.polar_user_id, UserId(2002));
}

#[test]
fn member_id_helper_makes_unique_ids() {
    let ids: HashSet<String> = (0..10_000)
        .map(|_| MemberId::generate().as_str().to_owned())
        .collect();
    assert_eq!(ids.len(), 10_000);
    for id in ids.iter().take(10) {
        assert_eq!(id.len(), 35, "gk- and 32 hex digits: {id}");
        assert!(id[3..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert!(MemberId::new("  ").is_err());
    assert!(MemberId::new("a\nb").is_err());
    assert_eq!(MemberId::new("user-42").unwrap().as_str(), "user-42");
}

#[tokio::test]
async fn get_user_200_and_204_is_none() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    let user_id = tokens.user_id().unwrap();
    assert_eq!(
        api.get_user(&tokens, user_id).await.unwrap(),
        None,
        "not registered yet: 204"
    );
    assert_eq!(fake.api_requests()[0].status, 204);
    api.register(&tokens, &MemberId::generate()).await.unwrap();
    let user = api
        .get_user(&tokens, user_id)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(user.polar_user_id, user_id);
}

#[tokio::test]
async fn deregister_204_revokes_the_token_so_later_calls_are_401() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    let user_id = tokens.user_id().unwrap();
    api.register(&tokens, &MemberId::generate()).await.unwrap();
    api.deregister(&tokens, user_id).await.unwrap();
    assert_eq!(fake.api_requests().last().unwrap().status, 204);
    assert!(!fake.is_token_active(tokens.access_token().expose()));
    assert_eq!(fake.registered_member_id(10579), None);

    let e = api.get_user(&tokens, user_id).await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
    assert!(e.is_reauthorization_required(), "link the user again");
    assert_eq!(e.api_error().unwrap().status, 401);
}

#[tokio::test]
async fn error_body_is_parsed_with_error_type_message_and_corr_id() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    // A call this crate does not wrap goes through the seam and gets the same typed errors.
    let request = api
        .request(Method::POST, "/users")
        .bearer_auth(tokens.access_token().expose())
        .header("content-type", "application/json")
        .body("{}");
    let response = api.send(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let e = Error::from_response(&response);
    let Error::Api(body) = &e else {
        panic!("expected Api, got {e:?}");
    };
    assert_eq!(body.status, 400);
    assert_eq!(body.error_type.as_deref(), Some("BAD_REQUEST"));
    assert_eq!(body.message.as_deref(), Some("member-id is required"));
    assert!(body.corr_id.as_deref().unwrap().starts_with("corr-"));
    assert!(body.timestamp.is_some());
    let text = e.to_string();
    assert!(
        text.contains("BAD_REQUEST") && text.contains("corrId"),
        "{text}"
    );
}

#[tokio::test]
async fn rate_limit_429_surfaces_ratelimit_headers_and_delay() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    fake.rate_limit(Some(FakeRateLimit::default()));
    let e = api
        .register(&tokens, &MemberId::generate())
        .await
        .unwrap_err();
    let Error::RateLimited {
        retry_after,
        rate_limit,
        error,
    } = &e
    else {
        panic!("expected RateLimited, got {e:?}");
    };
    assert_eq!(rate_limit.usage, [501, 1200]);
    assert_eq!(rate_limit.limit, [500, 5000]);
    assert_eq!(
        rate_limit.reset,
        [Duration::from_secs(420), Duration::from_secs(50000)]
    );
    assert_eq!(
        *retry_after,
        Some(Duration::from_secs(420)),
        "the exhausted 15-minute window's reset"
    );
    assert_eq!(error.status, 429);
    assert!(e.is_transient());
    assert!(e.to_string().contains("usage 501/500"), "{e}");

    fake.rate_limit(Some(FakeRateLimit {
        retry_after: Some(30),
        ..FakeRateLimit::default()
    }));
    let e = api.get_user(&tokens, UserId(10579)).await.unwrap_err();
    assert_eq!(
        e.retry_after(),
        Some(Duration::from_secs(30)),
        "Retry-After wins"
    );

    fake.rate_limit(None);
    assert!(api.get_user(&tokens, UserId(10579)).await.is_ok());
}

#[tokio::test]
async fn api_calls_send_bearer_and_accept_json() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    api.register(&tokens, &MemberId::generate()).await.unwrap();
    api.get_user(&tokens, UserId(10579)).await.unwrap();
    api.deregister(&tokens, UserId(10579)).await.unwrap();
    let calls = fake.api_requests();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert!(call.bearer, "{call:?}");
        assert_eq!(call.accept.as_deref(), Some("application/json"), "{call:?}");
    }
    assert_eq!(
        calls.iter().map(|c| c.method.as_str()).collect::<Vec<_>>(),
        ["POST", "GET", "DELETE"]
    );
}

#[tokio::test]
async fn api_shares_the_oauth_clients_http_settings() {
    let fake = fake().await;
    let client = client(&fake);
    let tokens = link(&client).await;
    let api = AccessLink::with_http(&endpoints(&fake), client.http_client()).unwrap();
    assert!(api.register(&tokens, &MemberId::generate()).await.is_ok());
    assert_eq!(api.api_url(), format!("{}/v3", fake.base_url()));
}

#[tokio::test]
async fn secrets_are_not_in_api_errors() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    let token = tokens.access_token().expose().to_owned();
    api.register(&tokens, &MemberId::generate()).await.unwrap();
    api.deregister(&tokens, UserId(10579)).await.unwrap();
    let e = api
        .register(&tokens, &MemberId::generate())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
    let shown = format!("{e} {e:?} {api:?}");
    assert!(!shown.contains(&token), "{shown}");
}

#[tokio::test]
async fn bare_access_token_secret_works_too() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let secret = tokens.access_token().clone();
    let registration = api(&fake)
        .register(&secret, &MemberId::generate())
        .await
        .unwrap();
    assert!(registration.user().is_some());
}

#[tokio::test]
async fn register_204_without_a_body_is_a_registration_not_a_parse_error() {
    let fake = fake().await;
    fake.register_answers_no_content(true);
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    let member_id = MemberId::generate();
    let registration = api.register(&tokens, &member_id).await.unwrap();
    assert_eq!(registration, Registration::Accepted);
    assert_eq!(fake.api_requests().last().unwrap().status, 204);
    assert_eq!(
        fake.registered_member_id(10579).as_deref(),
        Some(member_id.as_str())
    );
    // ensure_registered reads the user back when the answer had no body.
    let fake2 = self::fake().await;
    fake2.register_answers_no_content(true);
    let tokens = link(&client(&fake2)).await;
    let user = self::api(&fake2)
        .ensure_registered(&tokens, tokens.user_id().unwrap(), &MemberId::generate())
        .await
        .unwrap();
    assert_eq!(user.polar_user_id, UserId(10579));
}

#[tokio::test]
async fn get_user_403_without_the_mandatory_consents_is_consents_missing() {
    let fake = fake().await;
    let tokens = link(&client(&fake)).await;
    let api = api(&fake);
    api.register(&tokens, &MemberId::generate()).await.unwrap();
    // The user withdraws a mandatory consent in Polar Flow afterwards.
    let mut user = FakeUser::new(10579);
    user.consents_accepted = false;
    fake.set_user(user);
    let err = api
        .get_user(&tokens, tokens.user_id().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConsentsMissing(_)), "{err:?}");
    assert_eq!(fake.api_requests().last().unwrap().status, 403);
}
