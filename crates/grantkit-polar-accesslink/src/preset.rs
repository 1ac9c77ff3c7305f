//! The provider value: endpoints, client authentication, declared quirks; and the typed `x_user_id`.

use grantkit::provider::{Quirks, TokenField};
use grantkit::{AuthMethod, Provider, TokenSet};

use crate::error::{Error, Result};
use crate::user::UserId;

/// Polar Flow's authorization endpoint.
pub const AUTHORIZATION_URL: &str = "https://flow.polar.com/oauth2/authorization";
/// The token endpoint.
pub const TOKEN_URL: &str = "https://polarremote.com/v2/oauth2/token";
/// The AccessLink API base.
pub const API_URL: &str = "https://www.polaraccesslink.com/v3";
/// The only scope. Optional: an authorization request without `scope` gets all the client's scopes.
pub const SCOPE: &str = "accesslink.read_all";
/// The token response member that carries the Polar user id.
pub const USER_ID_FIELD: &str = "x_user_id";

/// Where AccessLink lives: production by default, anything else (a fake, a proxy) for tests.
///
/// ```
/// use grantkit_polar_accesslink::Endpoints;
///
/// let fake = Endpoints::at("http://127.0.0.1:4000");
/// assert_eq!(fake.token, "http://127.0.0.1:4000/v2/oauth2/token");
/// let provider = fake.provider()?;
/// assert_eq!(provider.name(), "polar-accesslink");
/// # Ok::<(), grantkit::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The authorization endpoint (Polar Flow).
    pub authorization: String,
    /// The token endpoint.
    pub token: String,
    /// The API base, without a trailing slash (`.../v3`).
    pub api: String,
}

impl Endpoints {
    /// The real AccessLink.
    pub fn production() -> Self {
        Self {
            authorization: AUTHORIZATION_URL.into(),
            token: TOKEN_URL.into(),
            api: API_URL.into(),
        }
    }

    /// Everything on one base URL, with production's paths: `{base}/oauth2/authorization`,
    /// `{base}/v2/oauth2/token`, `{base}/v3` (how `grantkit_testkit::FakeAccessLink` serves them).
    pub fn at(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        Self {
            authorization: format!("{base}/oauth2/authorization"),
            token: format!("{base}/v2/oauth2/token"),
            api: format!("{base}/v3"),
        }
    }

    /// The provider description for these endpoints; fails only on an invalid URL.
    pub fn provider(&self) -> grantkit::Result<Provider> {
        Provider::builder("polar-accesslink")
            .authorization_endpoint(&self.authorization)
            .token_endpoint(&self.token)
            .auth_methods([AuthMethod::ClientSecretBasic])
            .quirks(quirks())
            .build()
    }
}

impl Default for Endpoints {
    fn default() -> Self {
        Self::production()
    }
}

/// The production provider.
///
/// ```
/// let provider = grantkit_polar_accesslink::provider();
/// assert!(!provider.quirks().refresh_tokens);
/// ```
// The URLs are constants checked by this crate's tests; nothing read from outside reaches here.
#[allow(clippy::expect_used)]
pub fn provider() -> Provider {
    Endpoints::production()
        .provider()
        .expect("the production URLs are valid")
}

/// AccessLink's declared quirks:
///
/// - `refresh_tokens: false`: AccessLink issues no refresh token; a token lasts about a year,
///   then the user links again.
/// - `pkce: false`: AccessLink's documentation does not mention PKCE. Unknown parameters are
///   usually ignored, but a server that validates them strictly would refuse every login, and
///   PKCE adds little for a confidential client whose code exchange needs its secret.
/// - `token_fields`: `x_user_id`, an integer (also accepted as a string of digits), required in
///   the code exchange's response.
pub fn quirks() -> Quirks {
    Quirks::default()
        .pkce(false)
        .refresh_tokens(false)
        .token_field(TokenField::integer(USER_ID_FIELD))
}

/// AccessLink reading of a [`TokenSet`].
pub trait TokenSetExt {
    /// The Polar user id (`x_user_id`), sent as an integer or a string of digits.
    ///
    /// ```
    /// use grantkit::TokenSet;
    /// use grantkit_polar_accesslink::{TokenSetExt, UserId};
    ///
    /// let body = br#"{"access_token":"a","token_type":"bearer","expires_in":31535999,"x_user_id":10579}"#;
    /// let tokens = TokenSet::from_response(body, std::time::SystemTime::now())?;
    /// assert_eq!(tokens.user_id().unwrap(), UserId(10579));
    /// # Ok::<(), String>(())
    /// ```
    fn user_id(&self) -> Result<UserId>;
}

impl TokenSetExt for TokenSet {
    fn user_id(&self) -> Result<UserId> {
        self.extra_u64(USER_ID_FIELD)
            .map(UserId)
            .ok_or(Error::MissingUserId)
    }
}
