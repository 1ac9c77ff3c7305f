//! Dynamic client registration (RFC 7591) and management (RFC 7592) at Polar: a thin layer
//! over [`grantkit::registration`], which builds the requests and reads the answers. What is
//! Polar's here: its metadata type (`default_sub_type`, which Polar drops), the `client_id` its
//! update demands in the body (the core sends it for every provider, as RFC 7592 §2.2 asks),
//! its 422 validation errors read as [`Error::Api`](crate::Error::Api), and credentials every
//! answer carries.

use std::fmt;

use grantkit::http::HttpClient;
use grantkit::http::HttpOptions;
use grantkit::registration::{self as core, ClientRegistration};
use grantkit::{AuthMethod, Endpoint, Secret};
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

impl ClientMetadata {
    /// The core's registration: every member as Polar's API has always been sent them.
    fn registration(&self) -> ClientRegistration {
        let mut registration = ClientRegistration::new()
            .extra("redirect_uris", self.redirect_uris.clone())
            .client_name(self.client_name.clone())
            .extra(
                "token_endpoint_auth_method",
                self.token_endpoint_auth_method.clone(),
            )
            .grant_types(self.grant_types.clone())
            .response_types(self.response_types.clone())
            .extra("scope", self.scope.clone());
        if let Some(uri) = &self.client_uri {
            registration = registration.client_uri(uri.clone());
        }
        if let Some(uri) = &self.logo_uri {
            registration = registration.logo_uri(uri.clone());
        }
        if let Some(uri) = &self.tos_uri {
            registration = registration.tos_uri(uri.clone());
        }
        if let Some(uri) = &self.policy_uri {
            registration = registration.policy_uri(uri.clone());
        }
        registration
    }
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

impl RegisteredClient {
    /// Polar's shape of the core's answer: it always sends the management credentials.
    fn from_core(client: core::RegisteredClient) -> Result<Self> {
        let missing = |member: &str| -> crate::error::Error {
            grantkit::Error::InvalidResponse {
                endpoint: Endpoint::Api,
                reason: format!("the registration answer has no `{member}`"),
            }
            .into()
        };
        let mut metadata = client.metadata;
        for (name, value) in [
            ("client_id_issued_at", client.client_id_issued_at),
            ("client_secret_expires_at", client.client_secret_expires_at),
        ] {
            if let Some(v) = value {
                metadata.insert(name.into(), v.into());
            }
        }
        Ok(Self {
            client_id: client.client_id,
            client_secret: client.client_secret,
            registration_client_uri: client
                .registration_client_uri
                .ok_or_else(|| missing("registration_client_uri"))?,
            registration_access_token: client
                .registration_access_token
                .ok_or_else(|| missing("registration_access_token"))?,
            metadata,
        })
    }

    fn to_core(&self) -> core::RegisteredClient {
        core::RegisteredClient {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            client_id_issued_at: None,
            client_secret_expires_at: None,
            registration_access_token: Some(self.registration_access_token.clone()),
            registration_client_uri: Some(self.registration_client_uri.clone()),
            metadata: Map::new(),
        }
    }
}

/// Registers and manages OAuth clients at Polar. Made by [`PolarSh::registrar`](crate::PolarSh::registrar).
#[derive(Clone, Debug)]
pub struct Registrar {
    core: core::Registrar,
    api: HttpClient,
}

impl Registrar {
    pub(crate) fn new(endpoint: String) -> grantkit::Result<Self> {
        let api = HttpClient::new(HttpOptions::default())?;
        Ok(Self {
            core: core::Registrar::with_endpoint(endpoint)?.http_client(api.clone()),
            api,
        })
    }

    /// `POST /v1/oauth2/register`: creates a client. Polar refuses bad metadata with 422
    /// `RequestValidationError` (not RFC 7591's `invalid_redirect_uri`): an [`Error::Api`](crate::Error::Api)
    /// whose [`issues`](crate::ApiError::issues) say what and why (`An HTTPS URL is required.`).
    pub async fn register(&self, metadata: &ClientMetadata) -> Result<RegisteredClient> {
        let request = self.core.register_request(&metadata.registration())?;
        self.answer(request, None).await
    }

    /// `GET` the registration.
    pub async fn read(&self, client: &RegisteredClient) -> Result<RegisteredClient> {
        let previous = client.to_core();
        let request = self.core.read_request(&previous)?;
        self.answer(request, Some(&previous)).await
    }

    /// `PUT` new metadata. The body carries the `client_id`, which Polar requires (422 without).
    pub async fn update(
        &self,
        client: &RegisteredClient,
        metadata: &ClientMetadata,
    ) -> Result<RegisteredClient> {
        let previous = client.to_core();
        let request = self
            .core
            .update_request(&previous, &metadata.registration())?;
        self.answer(request, Some(&previous)).await
    }

    /// `DELETE` the client. A soft delete at Polar: its refresh tokens stop working
    /// (`invalid_client`), but access tokens already issued keep working until they expire.
    /// Revoke them first if they must stop now.
    pub async fn delete(&self, client: RegisteredClient) -> Result<()> {
        let request = self.core.delete_request(&client.to_core())?;
        self.send(request).await.map(drop)
    }

    async fn answer(
        &self,
        request: reqwest::RequestBuilder,
        previous: Option<&core::RegisteredClient>,
    ) -> Result<RegisteredClient> {
        let response = self.send(request).await?;
        RegisteredClient::from_core(core::RegisteredClient::from_response(&response, previous)?)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<grantkit::http::HttpResponse> {
        error_for_status(self.api.execute(Endpoint::Api, request).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registration_sends_the_set_uris_and_leaves_out_the_others() {
        let mut metadata = ClientMetadata::new("app", vec!["https://app/cb".into()], &[]);
        metadata.client_uri = Some("https://app".into());
        metadata.policy_uri = Some("https://app/privacy".into());
        let registration = metadata.registration();
        let members = registration.members();
        assert_eq!(members.get("client_uri"), Some(&Value::from("https://app")));
        assert_eq!(
            members.get("policy_uri"),
            Some(&Value::from("https://app/privacy"))
        );
        assert!(!members.contains_key("logo_uri"), "{members:?}");
        assert!(!members.contains_key("tos_uri"), "{members:?}");
        assert_eq!(
            members.get("redirect_uris"),
            Some(&Value::from(vec!["https://app/cb"]))
        );
    }
}
