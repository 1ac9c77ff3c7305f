//! Drives the example through the whole loop with a cookie-holding HTTP client: login, consent
//! at the fake Polar.sh, callback, dashboard (and a refresh when Polar rejects the token),
//! logout with revocation, and a denied consent.

use std::time::Duration;

use example_axum_polar_sh::{app, Settings};
use grantkit_polar_sh::{ClientMetadata, PolarSh, Scope};
use grantkit_testkit::polar_sh::{Consent, FakePolarSh};

struct Running {
    fake: FakePolarSh,
    base: String,
    browser: reqwest::Client,
}

async fn start() -> Running {
    let fake = FakePolarSh::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect_uri = format!("{base}/auth/callback");
    let polar = PolarSh::custom(fake.api_base(), fake.web_base());
    let meta = ClientMetadata::new(
        "flow test",
        vec![redirect_uri.clone()],
        &[Scope::OpenId, Scope::ProductsRead],
    );
    let registered = polar.registrar().unwrap().register(&meta).await.unwrap();
    let settings = Settings {
        polar,
        client_id: registered.client_id,
        client_secret: registered.client_secret.unwrap().expose().to_owned(),
        redirect_uri,
    };
    let router = app(settings).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    Running {
        fake,
        base,
        browser,
    }
}

async fn get(r: &Running, path: &str) -> (u16, String, String) {
    let response = r
        .browser
        .get(format!("{}{path}", r.base))
        .send()
        .await
        .unwrap();
    let (status, url) = (response.status().as_u16(), response.url().to_string());
    (status, url, response.text().await.unwrap())
}

#[tokio::test]
async fn login_dashboard_refresh_and_logout() {
    let r = start().await;
    // Login follows: app → fake authorize → consent → app callback → dashboard.
    let (status, url, body) = get(&r, "/auth/login").await;
    assert_eq!(status, 200, "{body}");
    assert!(url.ends_with("/dashboard"), "{url}");
    assert!(
        body.contains("Pro plan") && body.contains("Sticker pack"),
        "{body}"
    );
    // Only user tokens now: sub_type=organization down-scopes the user's token to one organization.
    assert!(
        body.contains(&r.fake.user_id()),
        "sub_type=organization still yields a user token: {body}"
    );
    assert_eq!(r.fake.refresh_requests(), 0);

    // Eleven days later Polar has expired the token: the dashboard refreshes once and still works.
    r.fake.advance_clock(Duration::from_secs(11 * 24 * 3600));
    let (status, _, body) = get(&r, "/dashboard").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Pro plan"));
    assert_eq!(r.fake.refresh_requests(), 1);

    assert_eq!(
        r.fake.live_tokens(),
        (1, 1),
        "the rotated pair is the only one alive"
    );
    let response = r
        .browser
        .post(format!("{}/auth/logout", r.base))
        .send()
        .await
        .unwrap();
    let (status, url) = (response.status().as_u16(), response.url().to_string());
    assert_eq!(status, 200);
    assert!(url.ends_with('/'), "{url}");
    // The refresh token was revoked at Polar (with its access token), and the session is gone.
    assert_eq!(r.fake.live_tokens(), (0, 0));
    let (_, url, _) = get(&r, "/dashboard").await;
    assert!(!url.ends_with("/dashboard"), "logged out: {url}");
}

#[tokio::test]
async fn denied_consent_shows_the_error() {
    let r = start().await;
    r.fake.set_consent(Consent::Deny);
    let (status, url, body) = get(&r, "/auth/login").await;
    assert!(url.contains("/auth/callback"), "{url}");
    assert_eq!(status, 400);
    assert!(body.contains("access_denied"), "{body}");
    let (_, url, _) = get(&r, "/dashboard").await;
    assert!(!url.ends_with("/dashboard"));
}

#[tokio::test]
async fn a_forged_callback_is_refused() {
    let r = start().await;
    // A callback without a login in progress (CSRF attempt) gets no session.
    let (status, _, body) = get(&r, "/auth/callback?code=polar_ac_forged&state=forged").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(r.fake.token_requests(), 0, "nothing was exchanged");
}

#[tokio::test]
async fn webhook_handler_accepts_polar_signed_deliveries_and_refuses_tampered_ones() {
    let fake = FakePolarSh::start().await.unwrap();
    let secret = "polar_whs_example-endpoint-secret";
    let router = example_axum_polar_sh::webhook_router(
        grantkit_polar_sh::WebhookSecret::polar(secret).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/polar", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let body = br#"{"type":"order.paid","data":{"id":"ord_1"}}"#;
    let send = |body: &'static [u8]| {
        let mut request = reqwest::Client::new().post(&url).body(body);
        for (k, v) in
            fake.webhook_headers(secret, br#"{"type":"order.paid","data":{"id":"ord_1"}}"#)
        {
            request = request.header(k, v);
        }
        request.send()
    };
    let ok = send(body).await.unwrap();
    assert_eq!(ok.status(), 202);
    assert_eq!(ok.text().await.unwrap(), "accepted order.paid");
    let tampered = send(br#"{"type":"order.paid","data":{"id":"ord_2"}}"#)
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
}
