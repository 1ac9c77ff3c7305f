//! Dynamic client registration (RFC 7591) and management (RFC 7592) at Polar.

use std::fmt;

use grantkit::http::HttpClient;
use grantkit::http::HttpOptions;
use grantkit::{AuthMethod, Endpoint, Secret};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::authorize::SubType;
use crate::error::{error_for_status, Result};
use crate::scope::{join, Scope};

/// What to register. `redirect_uris` and `client_name` are required by Polar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The name users see on the consent screen.
    pub client_name: String,
    /// How the client authenticates (`client_secret_post` when unset, Polar's default).
    pub token_endpoint_auth_method: String,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// Response types.
    pub response_types: Vec<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// Homepage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Logo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Terms of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Privacy policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Not sent: Polar drops `default_sub_type` at registration (it is not among Authlib's
    /// RFC 7591 claims), so every registered client defaults to `user`. Ask per request with
    /// [`PolarAuthorizationExt::sub_type`](crate::PolarAuthorizationExt::sub_type) instead.
    #[serde(skip)]
    pub default_sub_type: String,
}

impl ClientMetadata {
    /// Metadata for a confidential web client using the code flow with refresh tokens.
    pub fn new(
        client_name: impl Into<String>,
        redirect_uris: Vec<String>,
        scopes: &[Scope],
    ) -> Self {
        Self {
            redirect_uris,
            client_name: client_name.into(),
            token_endpoint_auth_method: AuthMethod::ClientSecretPost.as_str().to_owned(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            scope: join(scopes),
            client_uri: None,
            logo_uri: None,
            tos_uri: None,
            policy_uri: None,
            default_sub_type: SubType::User.as_str().to_owned(),
        }
    }

    /// The client authentication method (`None` for a public client: no secret is issued).
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.token_endpoint_auth_method = method.as_str().to_owned();
        self
    }

    /// Kept for compatibility; has no effect at Polar, which drops the field (see
    /// [`ClientMetadata::default_sub_type`](struct@ClientMetadata#structfield.default_sub_type)).
    #[deprecated(
        note = "Polar drops `default_sub_type` at registration; ask for an organization-limited token with `sub_type(SubType::Organization)` on the authorization request"
    )]
    pub fn default_sub_type(mut self, sub_type: SubType) -> Self {
        self.default_sub_type = sub_type.as_str().to_owned();
        self
    }
}

/// The RFC 7592 update body: the metadata and the `client_id`.
#[derive(Serialize)]
struct Update<'a> {
    client_id: &'a str,
    #[serde(flatten)]
    metadata: &'a ClientMetadata,
}

/// A registered client: its credentials and what manages it. Keep it secret: it holds the
/// client secret and the registration access token (`Debug` redacts both).
#[derive(Clone, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// `polar_ci_…`
    pub client_id: String,
    /// `polar_cs_…`, absent for public clients.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Where to read, update or delete this registration.
    pub registration_client_uri: String,
    /// The Bearer token for that.
    pub registration_access_token: Secret,
    /// Every other member Polar returned (redirect URIs, names, `client_id_issued_at`...).
    #[serde(flatten)]
    pub metadata: Map<String, Value>,
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("registration_client_uri", &self.registration_client_uri)
            .field("registration_access_token", &self.registration_access_token)
            .finish_non_exhaustive()
    }
}

/// Registers and manages OAuth clients at Polar. Made by [`PolarSh::registrar`](crate::PolarSh::registrar).
#[derive(Clone, Debug)]
pub struct Registrar {
    endpoint: String,
    api: HttpClient,
}

impl Registrar {
    pub(crate) fn new(endpoint: String) -> grantkit::Result<Self> {
        Ok(Self {
            endpoint,
            api: HttpClient::new(HttpOptions::default())?,
        })
    }

    /// `POST /v1/oauth2/register`: creates a client. Polar refuses bad metadata with 422
    /// `RequestValidationError` (not RFC 7591's `invalid_redirect_uri`): an [`Error::Api`](crate::Error::Api)
    /// whose [`issues`](crate::ApiError::issues) say what and why (`An HTTPS URL is required.`).
    pub async fn register(&self, metadata: &ClientMetadata) -> Result<RegisteredClient> {
        let request = self
            .api
            .reqwest()
            .post(&self.endpoint)
            .header(ACCEPT, "application/json")
            .json(metadata);
        Ok(self.send(request).await?.json()?)
    }

    /// `GET` the registration.
    pub async fn read(&self, client: &RegisteredClient) -> Result<RegisteredClient> {
        let request = self.managed(
            self.api.reqwest().get(&client.registration_client_uri),
            client,
        );
        Ok(self.send(request).await?.json()?)
    }

    /// `PUT` new metadata. The body carries the `client_id`, which Polar requires (422 without).
    pub async fn update(
        &self,
        client: &RegisteredClient,
        metadata: &ClientMetadata,
    ) -> Result<RegisteredClient> {
        let body = Update {
            client_id: &client.client_id,
            metadata,
        };
        let request = self
            .managed(
                self.api.reqwest().put(&client.registration_client_uri),
                client,
            )
            .json(&body);
        Ok(self.send(request).await?.json()?)
    }

    /// `DELETE` the client. A soft delete at Polar: its refresh tokens stop working
    /// (`invalid_client`), but access tokens already issued keep working until they expire.
    /// Revoke them first if they must stop now.
    pub async fn delete(&self, client: RegisteredClient) -> Result<()> {
        let request = self.managed(
            self.api.reqwest().delete(&client.registration_client_uri),
            &client,
        );
        self.send(request).await.map(drop)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<grantkit::http::HttpResponse> {
        error_for_status(self.api.execute(Endpoint::Api, request).await?)
    }

    fn managed(
        &self,
        request: reqwest::RequestBuilder,
        client: &RegisteredClient,
    ) -> reqwest::RequestBuilder {
        request.header(ACCEPT, "application/json").header(
            AUTHORIZATION,
            format!("Bearer {}", client.registration_access_token.expose()),
        )
    }
}
