//! Pushed authorization requests (RFC 9126) against the real `oidc-provider` peer: its
//! `par-client` is registered with `require_pushed_authorization_requests`, and any client may
//! push on request.

use grantkit::{Client, Endpoint, Error, OAuthErrorCode, Provider};
use grantkit_testkit::{Browser, OidcPeer, PeerClient, PEER_REDIRECT_URI};

/// `par-client` with `secret`, told (or not) that it is registered for PAR.
fn par_client(provider: Provider, secret: &str, registered_for_par: bool) -> Client {
    PeerClient::PAR
        .builder(provider)
        .client_secret(secret)
        .require_pushed_authorization_requests(registered_for_par)
        .scopes(["openid", "email"])
        .build()
        .unwrap()
}

fn query(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn a_client_registered_for_par_pushes_automatically_and_logs_in() {
    let Some(peer) =
        OidcPeer::shared("a_client_registered_for_par_pushes_automatically_and_logs_in")
    else {
        return;
    };
    let client = par_client(peer.discover().await.unwrap(), "par-secret", true);
    let e = client.authorize().build().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                endpoint: grantkit::Endpoint::Authorization,
                reason: grantkit::error::Refusal::PushRequired,
            }
        ) && e.to_string().contains("build_async"),
        "{e}"
    );

    let (url, pending) = client.authorize().build_async().await.unwrap();
    let names: Vec<_> = query(&url).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        ["client_id", "request_uri"],
        "nothing else travels in the URL"
    );
    assert!(query(&url)[1]
        .1
        .starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(pending.nonce().is_some(), "the pushed request had a nonce");

    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    // The ID token's nonce was checked against the one pushed.
    assert_eq!(tokens.id_token_claims().unwrap().sub, "alice");
}

#[tokio::test]
async fn any_client_can_push_on_request_and_a_provider_flag_makes_build_async_push() {
    let Some(peer) = OidcPeer::shared(
        "any_client_can_push_on_request_and_a_provider_flag_makes_build_async_push",
    ) else {
        return;
    };
    let provider = peer.discover().await.unwrap();
    assert!(
        !provider.requires_pushed_authorization_requests(),
        "the peer's metadata does not require PAR"
    );
    let basic = PeerClient::BASIC
        .builder(provider.clone())
        .scopes(["openid"])
        .build()
        .unwrap();
    let (url, _) = basic.authorize().build_async().await.unwrap();
    assert!(
        url.as_str().contains("code_challenge="),
        "not pushed unless needed"
    );
    let (url, pending) = basic
        .authorize()
        .param("login_hint", "carol")
        .push()
        .await
        .unwrap();
    assert!(
        !url.as_str().contains("login_hint"),
        "pushed, not in the URL"
    );
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let tokens = basic
        .exchange_code(pending.verify_callback(&callback).unwrap())
        .await
        .unwrap();
    assert_eq!(
        tokens.id_token_claims().unwrap().sub,
        "carol",
        "an app's own parameter reached the provider through the push"
    );

    // A provider whose metadata (or preset) requires PAR: `build_async` pushes for every client.
    let requiring = Provider::builder("requires PAR")
        .issuer(peer.issuer())
        .authorization_endpoint(&peer.url("/auth"))
        .token_endpoint(&peer.url("/token"))
        .pushed_authorization_request_endpoint(&peer.url("/request"))
        .require_pushed_authorization_requests(true)
        .build()
        .unwrap();
    let client = PeerClient::POST.builder(requiring).build().unwrap();
    let (url, _) = client.authorize().build_async().await.unwrap();
    assert!(url.as_str().contains("request_uri="), "{url}");
}

#[tokio::test]
async fn par_errors_wrong_secret_unpushed_request_and_reused_request_uri() {
    let Some(peer) =
        OidcPeer::shared("par_errors_wrong_secret_unpushed_request_and_reused_request_uri")
    else {
        return;
    };
    // The push authenticates the client: a wrong secret is refused at the PAR endpoint.
    let wrong = par_client(peer.discover().await.unwrap(), "wrong-secret", true);
    let err = wrong.authorize().build_async().await.unwrap_err();
    let oauth = err.oauth().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(oauth.code, OAuthErrorCode::InvalidClient);
    assert_eq!(oauth.endpoint, Endpoint::PushedAuthorization);

    // A client that does not know it must push: the provider refuses the plain request.
    let unaware = par_client(peer.discover().await.unwrap(), "par-secret", false);
    let (url, pending) = unaware.authorize().build().unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    let err = pending.verify_callback(&callback).unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidRequest),
        "{err}"
    );

    // A request_uri is single use.
    let client = par_client(peer.discover().await.unwrap(), "par-secret", true);
    let (url, _) = client.authorize().build_async().await.unwrap();
    Browser::new()
        .authorize(url.as_str(), PEER_REDIRECT_URI)
        .await
        .unwrap();
    // The pushed request is gone, so the provider cannot redirect back: an error page.
    let page = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(page.status(), 400);
    let body = page.text().await.unwrap();
    assert!(body.contains("invalid_request_uri"), "{body}");
}

#[tokio::test]
async fn pushing_without_a_par_endpoint_is_a_typed_error() {
    let provider = Provider::builder("no PAR")
        .authorization_endpoint("https://op.example/authorize")
        .token_endpoint("https://op.example/token")
        .build()
        .unwrap();
    let client = Client::builder(provider, "c").build().unwrap();
    let err = client.authorize().push().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingEndpoint {
                endpoint: Endpoint::PushedAuthorization,
                ..
            }
        ),
        "{err}"
    );
}
