//! User registration: the AccessLink calls every application makes after linking a user.

use grantkit::http::HttpOptions;
use grantkit::http::{HttpClient, HttpResponse};
use grantkit::{Endpoint, Secret, TokenSet};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};

use serde::de::DeserializeOwned;

use crate::error::{ApiError, Error, Result};
use crate::member_id::MemberId;
use crate::preset::Endpoints;
use crate::user::{User, UserId};

/// What carries a user's access token: a [`TokenSet`] or the bare [`Secret`].
pub trait BearerToken {
    /// The access token sent as `Authorization: Bearer ...`.
    fn bearer_token(&self) -> &Secret;
}

impl BearerToken for TokenSet {
    fn bearer_token(&self) -> &Secret {
        self.access_token()
    }
}

impl BearerToken for Secret {
    fn bearer_token(&self) -> &Secret {
        self
    }
}

/// The outcome of a registration that AccessLink accepted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Registration {
    /// 200: the user is now registered to your client.
    Registered(Box<User>),
    /// 204: the user is now registered, but AccessLink sent no user object; read it with
    /// [`AccessLink::get_user`] (as [`AccessLink::ensure_registered`] does).
    Accepted,
    /// 409: the user was registered already (a re-link). AccessLink answers 409 also for a
    /// member-id another user holds; [`AccessLink::ensure_registered`] tells the two apart.
    AlreadyRegistered,
}

impl Registration {
    /// The user, for a new registration.
    pub fn user(&self) -> Option<&User> {
        match self {
            Registration::Registered(user) => Some(user.as_ref()),
            Registration::Accepted | Registration::AlreadyRegistered => None,
        }
    }
}

/// The AccessLink API: user registration, and the seam ([`AccessLink::request`],
/// [`AccessLink::send`]) for every other call.
///
/// Calls go through grantkit's HTTP layer (timeouts, body cap, no redirects). Clones share one
/// connection pool.
///
/// ```no_run
/// use grantkit_polar_accesslink::{AccessLink, Endpoints};
///
/// # fn run(client: &grantkit::Client) -> grantkit_polar_accesslink::Result<()> {
/// let api = AccessLink::new(&Endpoints::production())?;
/// // or share the OAuth client's HTTP settings:
/// let api = AccessLink::with_http(&Endpoints::production(), client.http_client())?;
/// # let _ = api; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AccessLink {
    http: HttpClient,
    api: String,
}

impl AccessLink {
    /// The API at `endpoints.api`, with grantkit's default HTTP limits.
    pub fn new(endpoints: &Endpoints) -> Result<Self> {
        Self::with_http(endpoints, HttpClient::new(HttpOptions::default())?)
    }

    /// The API at `endpoints.api` through `http` (e.g. `client.http_client()`).
    pub fn with_http(endpoints: &Endpoints, http: HttpClient) -> Result<Self> {
        let api = endpoints.api.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&api).map_err(|e| {
            grantkit::Error::Config(format!("the AccessLink API URL `{api}` is invalid: {e}"))
        })?;
        Ok(Self { http, api })
    }

    /// The API base URL (`.../v3`).
    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// Starts a request to `path` under the API base (`/users`, `/notifications`...), with
    /// `Accept: application/json`. Add the authentication: `.bearer_auth(...)` for user calls,
    /// `.basic_auth(client_id, Some(secret))` for client-level calls.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .reqwest()
            .request(method, format!("{}{path}", self.api))
            .header(ACCEPT, "application/json")
    }

    /// Sends a request and returns the answer whatever its status; turn an error status into
    /// the typed error with [`Error::from_response`].
    pub async fn send(&self, request: RequestBuilder) -> Result<HttpResponse> {
        Ok(self.http.execute(Endpoint::Api, request).await?)
    }

    fn user_request(
        &self,
        method: Method,
        path: &str,
        token: &(impl BearerToken + ?Sized),
    ) -> RequestBuilder {
        self.request(method, path)
            .bearer_auth(token.bearer_token().expose())
    }

    /// `POST /users`: registers the user the token belongs to, under `member_id`.
    ///
    /// 200 is [`Registration::Registered`]; 204 (no body) is [`Registration::Accepted`]; 409 is
    /// [`Registration::AlreadyRegistered`], a success for an existing link; 403 is
    /// [`Error::ConsentsMissing`].
    pub async fn register(
        &self,
        token: &(impl BearerToken + ?Sized),
        member_id: &MemberId,
    ) -> Result<Registration> {
        let body = serde_json::json!({ "member-id": member_id.as_str() });
        let request = self
            .user_request(Method::POST, "/users", token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let response = self.send(request).await?;
        match response.status() {
            StatusCode::CONFLICT => Ok(Registration::AlreadyRegistered),
            StatusCode::FORBIDDEN => Err(consents_missing(&response)),
            StatusCode::NO_CONTENT => Ok(Registration::Accepted),
            s if s.is_success() => Ok(Registration::Registered(Box::new(response.json()?))),
            _ => Err(Error::from_response(&response)),
        }
    }

    /// Registers the user if needed and returns the registered user: on 409, reads the user
    /// back, and reports [`Error::MemberIdTaken`] when they are not registered (the 409 was for
    /// a member-id another user holds).
    pub async fn ensure_registered(
        &self,
        token: &(impl BearerToken + ?Sized),
        user_id: UserId,
        member_id: &MemberId,
    ) -> Result<User> {
        let registration = self.register(token, member_id).await?;
        if let Registration::Registered(user) = registration {
            return Ok(*user);
        }
        match (self.get_user(token, user_id).await?, registration) {
            (Some(user), _) => Ok(user),
            (None, Registration::AlreadyRegistered) => Err(Error::MemberIdTaken {
                member_id: grantkit::http::clean_text(member_id.as_str(), 100),
            }),
            (None, _) => Err(grantkit::Error::InvalidResponse {
                endpoint: Endpoint::Api,
                reason: "AccessLink accepted the registration but does not know the user".into(),
            }
            .into()),
        }
    }

    /// `GET /users/{user-id}`: the registered user; `None` when AccessLink has no such
    /// registration (204); [`Error::ConsentsMissing`] on 403 (a mandatory consent withdrawn).
    pub async fn get_user(
        &self,
        token: &(impl BearerToken + ?Sized),
        user_id: UserId,
    ) -> Result<Option<User>> {
        let request = self.user_request(Method::GET, &format!("/users/{user_id}"), token);
        let response = self.send(request).await?;
        match response.status() {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(None),
            StatusCode::FORBIDDEN => Err(consents_missing(&response)),
            s if s.is_success() => Ok(Some(response.json()?)),
            _ => Err(Error::from_response(&response)),
        }
    }

    /// `GET <path>` with the user's token, for AccessLink's current data endpoints (`/exercises`,
    /// `/users/physical-info`...; the transaction-based pulls are deprecated). 204 is "no data":
    /// `None`; 403 is [`Error::ConsentsMissing`]; a 200 body is read as `T`.
    ///
    /// ```no_run
    /// # async fn run(api: &grantkit_polar_accesslink::AccessLink, tokens: &grantkit::TokenSet)
    /// # -> grantkit_polar_accesslink::Result<()> {
    /// let exercises: Option<Vec<serde_json::Value>> = api.get_data(tokens, "/exercises").await?;
    /// # let _ = exercises; Ok(()) }
    /// ```
    pub async fn get_data<T: DeserializeOwned>(
        &self,
        token: &(impl BearerToken + ?Sized),
        path: &str,
    ) -> Result<Option<T>> {
        let request = self.user_request(Method::GET, path, token);
        let response = self.send(request).await?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::FORBIDDEN => Err(consents_missing(&response)),
            s if s.is_success() => Ok(Some(response.json()?)),
            _ => Err(Error::from_response(&response)),
        }
    }

    /// `DELETE /users/{user-id}`: deregisters the user, which **revokes the access token**:
    /// AccessLink has no RFC 7009 endpoint, this is its revocation. Later calls with the token
    /// fail with [`Error::Unauthorized`].
    pub async fn deregister(
        &self,
        token: &(impl BearerToken + ?Sized),
        user_id: UserId,
    ) -> Result<()> {
        let request = self.user_request(Method::DELETE, &format!("/users/{user_id}"), token);
        let response = self.send(request).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Error::from_response(&response))
        }
    }
}

fn consents_missing(response: &HttpResponse) -> Error {
    Error::ConsentsMissing(Box::new(ApiError::from_response(response)))
}
