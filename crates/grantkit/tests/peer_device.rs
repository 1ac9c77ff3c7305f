//! The device authorization grant (RFC 8628) against the real `oidc-provider` peer, started with
//! `PEER_DEVICE_INTERVAL=1`: it sends `interval: 1` and answers `slow_down` to faster polls, so
//! these tests also prove the client never polls faster than the interval.

use std::time::{Duration, Instant};

use grantkit::device::{DeviceAuthorization, DevicePoll};
use grantkit::{Client, OAuthErrorCode};
use grantkit_testkit::{OidcPeer, PeerClient};

/// The shared peer's settings: a device interval of 1 s, and `slow_down` for faster polls.
const DEVICE_INTERVAL: &[(&str, &str)] = &[("PEER_DEVICE_INTERVAL", "1")];

/// `device-client` on the discovered peer.
async fn device_client(peer: &OidcPeer) -> Client {
    PeerClient::DEVICE
        .builder(peer.discover().await.unwrap())
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

#[tokio::test]
async fn device_login_shows_the_codes_polls_at_the_interval_and_gets_validated_tokens() {
    let Some(peer) = OidcPeer::shared_with_env(
        "device_login_shows_the_codes_polls_at_the_interval_and_gets_validated_tokens",
        DEVICE_INTERVAL,
    ) else {
        return;
    };
    let client = device_client(peer).await;
    let auth = client
        .device_authorization(["openid", "email"])
        .await
        .unwrap();
    // What a CLI shows the user.
    assert_eq!(auth.user_code().len(), 9, "XXXX-XXXX: {}", auth.user_code());
    assert_eq!(auth.verification_uri(), peer.url("/device"));
    assert!(auth
        .verification_uri_complete()
        .is_some_and(|u| u.contains(auth.user_code())));
    assert_eq!(auth.interval(), Duration::from_secs(1));
    assert!(auth.expires_in() > Duration::from_secs(590));

    let started = Instant::now();
    let user = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        peer.approve_device(auth.user_code()).await.unwrap();
    };
    let (tokens, ()) = tokio::join!(client.poll_device(&auth), user);
    let tokens = tokens.unwrap();
    let elapsed = started.elapsed();
    // Polls at ~1 s (pending) and ~2 s (approved); a poll faster than the interval would have
    // drawn a `slow_down` and cost at least 6 s more.
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "no slow_down: {elapsed:?}"
    );

    assert_eq!(
        tokens.id_token_claims().unwrap().sub,
        "alice",
        "ID token validated"
    );
    assert!(tokens.refresh_token().is_some());
    assert!(tokens.scopes().any(|s| s == "openid"));
    let me = client.userinfo(&tokens).await.unwrap();
    assert_eq!(me.email.as_deref(), Some("alice@example.test"));
    let refreshed = client.refresh(&tokens).await.unwrap();
    assert_ne!(refreshed.access_token(), tokens.access_token());
}

#[tokio::test]
async fn authorization_pending_then_slow_down_grows_the_interval_by_five_seconds() {
    let Some(peer) = OidcPeer::shared_with_env(
        "authorization_pending_then_slow_down_grows_the_interval_by_five_seconds",
        DEVICE_INTERVAL,
    ) else {
        return;
    };
    let client = device_client(peer).await;
    let mut auth = client.device_authorization(["openid"]).await.unwrap();
    tokio::time::sleep(auth.interval()).await;
    let first = client.poll_device_once(&mut auth).await.unwrap();
    assert_eq!(first, DevicePoll::Pending, "authorization_pending");
    assert_eq!(auth.interval(), Duration::from_secs(1));
    // Polling again at once is too fast: the peer says slow_down, the interval grows by 5 s.
    let second = client.poll_device_once(&mut auth).await.unwrap();
    assert_eq!(second, DevicePoll::SlowDown);
    assert_eq!(auth.interval(), Duration::from_secs(6));
}

#[tokio::test]
async fn a_denied_device_login_is_access_denied() {
    let Some(peer) =
        OidcPeer::shared_with_env("a_denied_device_login_is_access_denied", DEVICE_INTERVAL)
    else {
        return;
    };
    let client = device_client(peer).await;
    let auth = client.device_authorization(["openid"]).await.unwrap();
    peer.deny_device(auth.user_code()).await.unwrap();
    let err = client.poll_device(&auth).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::AccessDenied),
        "{err}"
    );
    assert!(err.to_string().contains("declined"), "{err}");
}

#[tokio::test]
async fn an_expired_device_code_is_expired_token_from_the_server_and_locally() {
    let Some(peer) = OidcPeer::start_with_env_or_skip(
        "an_expired_device_code_is_expired_token_from_the_server_and_locally",
        &[("PEER_DEVICE_INTERVAL", "1"), ("PEER_DEVICE_CODE_TTL", "2")],
    ) else {
        return;
    };
    let client = device_client(&peer).await;
    let auth = client.device_authorization(["openid"]).await.unwrap();
    assert!(auth.expires_in() <= Duration::from_secs(2));

    // The loop stops at the codes' expiry, without polling past it.
    let started = Instant::now();
    let err = client.poll_device(&auth).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::ExpiredToken),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    // The server's own answer, for a client whose clock says the code is still valid.
    let mut json = serde_json::to_value(&auth).unwrap();
    json["expires_at"] = (json["expires_at"].as_u64().unwrap() + 3600).into();
    let mut stale: DeviceAuthorization = serde_json::from_value(json).unwrap();
    let err = client.poll_device_once(&mut stale).await.unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::ExpiredToken),
        "{err}"
    );
    let oauth = err.oauth().unwrap();
    assert_eq!(oauth.status, Some(400), "the server said it: {err}");
}

#[tokio::test]
async fn a_provider_without_a_device_endpoint_is_a_typed_error() {
    let provider = grantkit::Provider::builder("no-device")
        .token_endpoint("http://127.0.0.1:9/token")
        .build()
        .unwrap();
    let client = Client::builder(provider, "c").build().unwrap();
    let err = client.device_authorization(["openid"]).await.unwrap_err();
    assert!(
        matches!(
            err,
            grantkit::Error::MissingEndpoint {
                endpoint: grantkit::Endpoint::DeviceAuthorization,
                ..
            }
        ),
        "{err}"
    );
}
