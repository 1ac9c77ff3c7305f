//! The whole authorization-code flow against a real OpenID Provider started on loopback.
//!
//! Run it after `scripts/install-peer` (which installs the provider): `cargo run -p
//! example-local-login`. No credentials or network needed. (The project's demo, `scripts/demo`,
//! is `grantkit demo`: the same flow through the CLI's loopback listener, against a fake Polar.sh.)

use std::time::Instant;

use grantkit::oidc::Discovery;
use grantkit::{AuthMethod, Client, TokenTypeHint};
use grantkit_testkit::{Browser, OidcPeer};

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let step = |what: &str| {
        println!(
            "[{:>6.0} ms] {what}",
            started.elapsed().as_secs_f64() * 1000.0
        )
    };

    let peer = OidcPeer::start()?;
    step(&format!(
        "OpenID Provider (oidc-provider) listening at {}",
        peer.issuer()
    ));

    // OpenID Connect discovery: endpoints, issuer, JWKS and supported methods from the provider.
    let provider = Discovery::new(peer.issuer()).fetch().await?;
    step("discovery document fetched and its issuer checked");
    let client = Client::builder(provider, "basic-client")
        .client_secret("basic+secret%with:odd/chars")
        .auth_method(AuthMethod::ClientSecretBasic)
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email", "profile"])
        .build()?;

    let (url, pending) = client.authorize().param("login_hint", "alice").build()?;
    step(&format!(
        "authorization URL built (state, PKCE S256, nonce): {url}"
    ));

    // The user's browser: here a cookie-holding HTTP client the provider auto-approves.
    let callback = Browser::new().authorize(url.as_str(), REDIRECT).await?;
    step("user approved; the provider redirected back with a code");

    let code = pending.verify_callback(&callback)?;
    step("callback verified: state matches, iss is the provider's, no error");

    let tokens = client.exchange_code(code).await?;
    let who = tokens
        .id_token_claims()
        .map(|c| c.sub.as_str())
        .unwrap_or("?");
    step(&format!(
        "code exchanged and ID token validated (signature via JWKS, iss, aud, nonce): sub={who}, {} token, scope `{}`, refresh token: {}",
        tokens.token_type(),
        tokens.scope().unwrap_or(""),
        tokens.refresh_token().is_some(),
    ));

    let me = client.userinfo(&tokens).await?;
    step(&format!(
        "userinfo: sub={} email={}",
        me.sub,
        me.email.as_deref().unwrap_or("-")
    ));

    let refreshed = client.refresh(&tokens).await?;
    step(&format!(
        "refreshed: new access token: {}, refresh token rotated: {}",
        refreshed.access_token() != tokens.access_token(),
        refreshed.refresh_token() != tokens.refresh_token()
    ));

    let info = client
        .introspect(refreshed.access_token(), Some(TokenTypeHint::AccessToken))
        .await?;
    step(&format!(
        "introspection: active={} client_id={:?}",
        info.active, info.client_id
    ));

    client.revoke_tokens(&refreshed).await?;
    let after = client.introspect(refreshed.access_token(), None).await?;
    step(&format!(
        "revoked on logout: token now active={}",
        after.active
    ));
    if after.active {
        return Err("the token is still active after revocation".into());
    }

    println!("demo complete: every step succeeded");
    Ok(())
}
