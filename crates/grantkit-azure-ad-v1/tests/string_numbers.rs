//! The v1.0 quirk against a tiny fake: numbers sent as strings. Test names say what they prove.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use grantkit::{Client, Error, TokenSet};
use grantkit_azure_ad_v1::{provider_at, TokenSetExt};
use grantkit_testkit::{Browser, TestServer};
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// Microsoft's v1.0 shapes: every number a string. Tenant `broken` sends an unreadable `expires_on`.
async fn fake() -> (TestServer, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/{tenant}/oauth2/authorize",
            get(
                |State(seen): State<Seen>, Query(q): Query<Vec<(String, String)>>| async move {
                    let state = q.iter().find(|(k, _)| k == "state").unwrap().1.clone();
                    seen.lock().unwrap().push(q);
                    Redirect::to(&format!("{REDIRECT}?code=c1&state={state}&session_state=s"))
                },
            ),
        )
        .route(
            "/{tenant}/oauth2/token",
            post(
                |Path(tenant): Path<String>, Form(form): Form<Vec<(String, String)>>| async move {
                    let grant = form
                        .iter()
                        .find(|(k, _)| k == "grant_type")
                        .unwrap()
                        .1
                        .clone();
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let (expires_in, expires_on) = if grant == "refresh_token" {
                        ("4999".to_owned(), (now + 4999).to_string())
                    } else if tenant == "broken" {
                        ("3599".to_owned(), "soon".to_owned())
                    } else {
                        ("3599".to_owned(), (now + 3599).to_string())
                    };
                    let body = json!({
                        "token_type": "Bearer",
                        "scope": "User.Read",
                        "expires_in": expires_in,
                        "ext_expires_in": expires_in,
                        "expires_on": expires_on,
                        "not_before": (now - 300).to_string(),
                        "resource": "https://graph.microsoft.com",
                        "access_token": "eyJ0eXAi.fake.v1",
                        "refresh_token": "AQABAAAA-fake-refresh",
                    });
                    Json(body).into_response()
                },
            ),
        )
        .with_state(seen.clone());
    (TestServer::start(app).await.unwrap(), seen)
}

fn client(server: &TestServer, tenant: &str) -> Client {
    Client::builder(provider_at(&server.base_url(), tenant).unwrap(), "app-id")
        .client_secret("app-secret")
        .redirect_uri(REDIRECT)
        .build()
        .unwrap()
}

async fn login(client: &Client) -> Result<TokenSet, Error> {
    let (url, pending) = client
        .authorize()
        .param("resource", "https://graph.microsoft.com")
        .build()?;
    let callback = Browser::new()
        .authorize(url.as_str(), REDIRECT)
        .await
        .unwrap();
    client
        .exchange_code(pending.verify_callback(&callback)?)
        .await
}

fn secs_left(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs()
}

#[tokio::test]
async fn expires_in_as_a_string_sets_the_expiry() {
    let (server, seen) = fake().await;
    let tokens = login(&client(&server, "contoso")).await.unwrap();
    let left = secs_left(tokens.expires_at().expect("expires_in read from a string"));
    assert!((3540..=3599).contains(&left), "{left}");
    let query = &seen.lock().unwrap()[0];
    assert!(query.contains(&("resource".into(), "https://graph.microsoft.com".into())));
}

#[tokio::test]
async fn expires_on_as_a_string_is_a_time_and_resource_is_read() {
    let (server, _) = fake().await;
    let tokens = login(&client(&server, "contoso")).await.unwrap();
    let left = secs_left(tokens.expires_on().expect("expires_on read from a string"));
    assert!((3540..=3599).contains(&left), "{left}");
    assert_eq!(tokens.resource(), Some("https://graph.microsoft.com"));
    assert_eq!(
        tokens.extra()["ext_expires_in"],
        "3599",
        "other members kept as sent"
    );
}

#[tokio::test]
async fn refresh_response_with_string_numbers_is_read_too() {
    let (server, _) = fake().await;
    let client = client(&server, "contoso");
    let tokens = login(&client).await.unwrap();
    let fresh = client.refresh(&tokens).await.unwrap();
    let left = secs_left(fresh.expires_at().unwrap());
    assert!((4940..=4999).contains(&left), "{left}");
    assert!(fresh.expires_on().is_some());
}

#[tokio::test]
async fn an_unreadable_expires_on_is_refused_as_declared() {
    let (server, _) = fake().await;
    let e = login(&client(&server, "broken")).await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(e.to_string().contains("`expires_on`"), "{e}");
}

#[test]
fn the_tenant_is_part_of_every_endpoint_and_checked() {
    let p = grantkit_azure_ad_v1::provider("common").unwrap();
    let token = p.endpoint(grantkit::Endpoint::Token).unwrap();
    assert_eq!(
        token.as_str(),
        "https://login.microsoftonline.com/common/oauth2/token"
    );
    assert!(grantkit_azure_ad_v1::provider("a/b").is_err());
    assert!(grantkit_azure_ad_v1::provider("").is_err());
}
