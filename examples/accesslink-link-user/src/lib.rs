//! The AccessLink linking flow, factored out of `main.rs` so a test runs it against the fake.
//!
//! Steps: authorization URL → the user consents in Polar Flow → callback checked → code
//! exchanged (Basic client auth, `x_user_id`) → user registered under a unique member-id →
//! user read back → user deregistered, which revokes the token → the token is refused.

use std::error::Error;
use std::future::Future;

use grantkit::Client;
use grantkit_polar_accesslink::{AccessLink, Endpoints, MemberId, Registration, TokenSetExt, User};
use grantkit_testkit::{
    Browser, FakeAccessLink, ACCESSLINK_CLIENT_ID, ACCESSLINK_CLIENT_SECRET,
    ACCESSLINK_REDIRECT_URI,
};

/// A boxed error, enough for an example.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Who to link and where.
#[derive(Clone, Debug)]
pub struct Config {
    /// AccessLink's endpoints (production, or the fake's).
    pub endpoints: Endpoints,
    /// The client id from admin.polaraccesslink.com.
    pub client_id: String,
    /// Its secret.
    pub client_secret: grantkit::Secret,
    /// The redirect URI registered for the client; `None` sends none (AccessLink then uses the
    /// registered one, and the code exchange must not repeat it).
    pub redirect_uri: Option<String>,
}

/// What the flow found out.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The registered user, as AccessLink returned it.
    pub user: User,
    /// Whether this run registered the user (false: they were registered already).
    pub newly_registered: bool,
    /// Whether the token was refused after deregistration (it must be).
    pub token_revoked: bool,
}

/// Runs the whole flow. `consent` gets the authorization URL and returns the URL the browser
/// was redirected to (the callback).
pub async fn link_user<F, Fut>(config: &Config, consent: F) -> Result<Summary, BoxError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<String, BoxError>>,
{
    let mut builder = Client::builder(config.endpoints.provider()?, &config.client_id)
        .client_secret(config.client_secret.clone());
    if let Some(uri) = &config.redirect_uri {
        builder = builder.redirect_uri(uri);
    }
    let client = builder.build()?;

    let (url, pending) = client.authorize().build()?;
    println!("1. authorization URL (state, no PKCE: AccessLink does not document it):\n   {url}");
    let callback = consent(url.to_string()).await?;
    let code = pending.verify_callback(&callback)?;
    println!("2. callback checked: state matches, no error");

    let tokens = client.exchange_code(code).await?;
    let user_id = tokens.user_id()?;
    println!(
        "3. code exchanged with HTTP Basic: {} token, x_user_id {user_id}, no refresh token: {}",
        tokens.token_type(),
        tokens.refresh_token().is_none()
    );

    // Keep the member-id with your user record: it must be unique per user, never a constant.
    let api = AccessLink::with_http(&config.endpoints, client.http_client())?;
    let member_id = MemberId::generate();
    let newly_registered = matches!(
        api.register(&tokens, &member_id).await?,
        Registration::Registered(_)
    );
    println!("4. registered (new: {newly_registered}) with member-id {member_id}");

    let user = api
        .get_user(&tokens, user_id)
        .await?
        .ok_or("the user is not registered after registration")?;
    println!(
        "5. user {}: {} {}, born {}",
        user.polar_user_id,
        user.first_name.as_deref().unwrap_or("?"),
        user.last_name.as_deref().unwrap_or("?"),
        user.birthdate.as_deref().unwrap_or("?")
    );

    api.deregister(&tokens, user_id).await?;
    let token_revoked = match api.get_user(&tokens, user_id).await {
        Err(e) => e.is_reauthorization_required(),
        Ok(_) => false,
    };
    println!("6. deregistered; the access token is now refused: {token_revoked}");
    Ok(Summary {
        user,
        newly_registered,
        token_revoked,
    })
}

/// The flow against `grantkit_testkit::FakeAccessLink`, the user's consent given by the
/// testkit's browser stand-in.
pub async fn run_against_fake() -> Result<Summary, BoxError> {
    let fake = FakeAccessLink::start().await?;
    println!("fake AccessLink at {}", fake.base_url());
    let config = Config {
        endpoints: Endpoints::at(&fake.base_url()),
        client_id: ACCESSLINK_CLIENT_ID.into(),
        client_secret: ACCESSLINK_CLIENT_SECRET.into(),
        redirect_uri: Some(ACCESSLINK_REDIRECT_URI.into()),
    };
    link_user(&config, |url| async move {
        let callback = Browser::new()
            .authorize(&url, ACCESSLINK_REDIRECT_URI)
            .await?;
        Ok(callback)
    })
    .await
}
