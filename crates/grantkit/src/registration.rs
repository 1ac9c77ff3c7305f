//! Dynamic client registration (RFC 7591) and its management (RFC 7592): an application (an
//! MCP client, a CLI) registers itself at a provider it has just discovered, then reads,
//! updates or deletes that registration.
//!
//! ```no_run
//! use grantkit::registration::{ClientRegistration, Registrar};
//! use grantkit::{AuthMethod, Provider};
//!
//! # async fn run(provider: Provider) -> grantkit::Result<()> {
//! let registrar = Registrar::new(&provider)?; // its `registration_endpoint`
//! let registration = ClientRegistration::new()
//!     .client_name("My MCP client")
//!     .redirect_uri("http://127.0.0.1:8976/callback")
//!     .auth_method(AuthMethod::None)
//!     .grant_types(["authorization_code", "refresh_token"])
//!     .scopes(["openid", "files:read"]);
//! let registered = registrar.register(&registration).await?;
//! let client = registered
//!     .client_builder(provider)
//!     .redirect_uri("http://127.0.0.1:8976/callback")
//!     .build()?;
//! // Later: add a redirect URI (the whole metadata is sent again), then remove the client.
//! let registered = registrar
//!     .update(&registered, &registration.redirect_uri("http://127.0.0.1:8977/callback"))
//!     .await?;
//! registrar.delete(&registered).await?;
//! # let _ = client; Ok(()) }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth_method::AuthMethod;
use crate::client::{Client, ClientBuilder};
use crate::error::{Endpoint, Error, Result};
use crate::http::{Http, HttpClient, HttpOptions, HttpResponse};
use crate::provider::Provider;
use crate::secret::Secret;

/// The metadata of a client to register (RFC 7591 §2), built in reqwest's style. Every member
/// is optional for the protocol; providers demand some (most want `redirect_uris`). Members
/// grantkit has no method for go through [`extra`](ClientRegistration::extra).
///
/// `Debug` shows `jwks` as its key ids and count, and hides members whose names say they hold
/// a secret: a private key given by mistake is refused when sending, but a log line may print
/// the registration before that.
#[derive(Clone, Default, PartialEq, Serialize)]
#[must_use]
pub struct ClientRegistration {
    #[serde(flatten)]
    members: Map<String, Value>,
    /// A JWT, but not a secret: it is sent to the provider and carries no key.
    #[serde(skip)]
    software_statement: Option<String>,
}

impl ClientRegistration {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a redirect URI (`redirect_uris`).
    pub fn redirect_uri(self, uri: impl Into<String>) -> Self {
        self.push("redirect_uris", uri.into())
    }

    /// How the client authenticates at the token endpoint (`token_endpoint_auth_method`);
    /// [`AuthMethod::None`] registers a public client, which gets no secret.
    pub fn auth_method(self, method: AuthMethod) -> Self {
        self.member("token_endpoint_auth_method", method.as_str())
    }

    /// `grant_types` (RFC 7591's default is `authorization_code`).
    pub fn grant_types<I: IntoIterator<Item = S>, S: Into<String>>(self, types: I) -> Self {
        self.list("grant_types", types)
    }

    /// `response_types` (RFC 7591's default is `code`).
    pub fn response_types<I: IntoIterator<Item = S>, S: Into<String>>(self, types: I) -> Self {
        self.list("response_types", types)
    }

    /// The scopes the client may ask for (`scope`, space-separated).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.member("scope", scopes.join(" "))
    }

    /// The name users see on the consent screen (`client_name`).
    pub fn client_name(self, name: impl Into<String>) -> Self {
        self.member("client_name", name.into())
    }

    /// The client's home page (`client_uri`).
    pub fn client_uri(self, uri: impl Into<String>) -> Self {
        self.member("client_uri", uri.into())
    }

    /// Its logo (`logo_uri`).
    pub fn logo_uri(self, uri: impl Into<String>) -> Self {
        self.member("logo_uri", uri.into())
    }

    /// Its terms of service (`tos_uri`).
    pub fn tos_uri(self, uri: impl Into<String>) -> Self {
        self.member("tos_uri", uri.into())
    }

    /// Its privacy policy (`policy_uri`).
    pub fn policy_uri(self, uri: impl Into<String>) -> Self {
        self.member("policy_uri", uri.into())
    }

    /// Adds a contact (`contacts`, e-mail addresses of the people responsible).
    pub fn contact(self, contact: impl Into<String>) -> Self {
        self.push("contacts", contact.into())
    }

    /// The client's public keys by value (`jwks`, a JWK Set), for `private_key_jwt`. A key
    /// with private members (`d`, `k`...) is refused when sending ([`Error::Config`]).
    pub fn jwks(self, jwks: Value) -> Self {
        self.member("jwks", jwks)
    }

    /// The client's public keys by reference (`jwks_uri`); never together with `jwks`.
    pub fn jwks_uri(self, uri: impl Into<String>) -> Self {
        self.member("jwks_uri", uri.into())
    }

    /// `software_id` and, when given, `software_version`.
    pub fn software(self, id: impl Into<String>, version: Option<String>) -> Self {
        let this = self.member("software_id", id.into());
        match version {
            Some(v) => this.member("software_version", v),
            None => this,
        }
    }

    /// A software statement (RFC 7591 §2.3): a JWT, signed by whoever vouches for the software,
    /// whose claims the provider prefers to the plain members.
    pub fn software_statement(mut self, jwt: impl Into<String>) -> Self {
        self.software_statement = Some(jwt.into());
        self
    }

    /// Any other member (`application_type`, `post_logout_redirect_uris`, a vendor's own).
    /// Members grantkit reads or sets from the response are refused when sending
    /// ([`Error::Config`]): `client_id`, `client_secret`, `registration_access_token`...
    pub fn extra(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.member(name, value)
    }

    /// The members as they will be sent.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }

    fn member(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.members.insert(name.into(), value.into());
        self
    }

    fn list<I: IntoIterator<Item = S>, S: Into<String>>(self, name: &str, items: I) -> Self {
        let items: Vec<Value> = items.into_iter().map(|s| Value::String(s.into())).collect();
        self.member(name, items)
    }

    fn push(mut self, name: &str, value: String) -> Self {
        let entry = self
            .members
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()));
        match entry {
            Value::Array(items) if !items.iter().any(|v| v.as_str() == Some(value.as_str())) => {
                items.push(Value::String(value));
            }
            Value::Array(_) => {}
            other => *other = Value::Array(vec![Value::String(value)]),
        }
        self
    }

    /// The JSON body: the members, the software statement, and `client_id` for an RFC 7592
    /// update. The secret is left out (RFC 7592 §2.2 makes it optional), so an error page
    /// echoing the body cannot show it.
    fn body(&self, client: Option<&RegisteredClient>) -> Result<Map<String, Value>> {
        if let Some(name) = RESERVED.iter().find(|n| self.members.contains_key(**n)) {
            return Err(Error::Config(format!(
                "`{name}` is the provider's to set in a registration, not the client's"
            )));
        }
        if self.members.contains_key("jwks") && self.members.contains_key("jwks_uri") {
            return Err(Error::Config(
                "`jwks` and `jwks_uri` must not both be registered (RFC 7591 §2)".into(),
            ));
        }
        if let Some(member) = self.members.get("jwks").and_then(private_member) {
            return Err(Error::Config(format!(
                "`jwks` holds a private key member (`{member}`): register the public keys only (RFC 7591 §2)"
            )));
        }
        let mut body = self.members.clone();
        if let Some(jwt) = &self.software_statement {
            body.insert("software_statement".into(), jwt.clone().into());
        }
        if let Some(client) = client {
            body.insert("client_id".into(), client.client_id.clone().into());
        }
        Ok(body)
    }
}

impl fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Map<String, Value> = self
            .members
            .iter()
            .map(|(name, value)| (name.clone(), shown_member(name, value)))
            .collect();
        f.debug_struct("ClientRegistration")
            .field("members", &shown)
            .field("software_statement", &self.software_statement)
            .finish()
    }
}

/// Parts of member names that say the value is a credential (`client_secret`,
/// `initial_access_token`, a vendor's `api_key`...). Over-matching costs a hidden value in a
/// log line; under-matching a leaked one.
const SECRET_LIKE: [&str; 7] = [
    "secret",
    "password",
    "access_token",
    "refresh_token",
    "private",
    "api_key",
    "credential",
];

/// What `Debug` prints of a member: `jwks` as its key ids and count, secret-like ones hidden.
fn shown_member(name: &str, value: &Value) -> Value {
    let lower = name.to_ascii_lowercase();
    if lower == "jwks" {
        let keys = value.get("keys").and_then(Value::as_array);
        let kids: Vec<Value> = keys
            .into_iter()
            .flatten()
            .map(|key| key.get("kid").cloned().unwrap_or(Value::Null))
            .collect();
        return serde_json::json!({ "keys": kids.len(), "kids": kids });
    }
    if SECRET_LIKE.iter().any(|part| lower.contains(part)) {
        return Value::String("<redacted>".into());
    }
    value.clone()
}

/// Members a client never sends itself (RFC 7592 §2.2 forbids the last four in an update).
const RESERVED: [&str; 6] = [
    "client_id",
    "client_secret",
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// The JWK members that hold private or symmetric key material (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1; RFC 8037 §2 uses `d` too).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The first private member of a key of the JWK Set `jwks`, if any.
fn private_member(jwks: &Value) -> Option<&'static str> {
    let keys = jwks.get("keys").and_then(Value::as_array)?;
    keys.iter().find_map(|key| {
        PRIVATE_JWK_MEMBERS
            .iter()
            .copied()
            .find(|member| key.get(*member).is_some())
    })
}

/// A registered client (RFC 7591 §3.2.1): its credentials, what manages it, and the metadata
/// the provider registered (which may differ from what was asked). Keep it secret: `Debug`
/// redacts the client secret and the registration access token, but they are in it, and its
/// serde form (for saving it) has them in the clear.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// The client identifier.
    pub client_id: String,
    /// The client secret; absent for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// When the client identifier was issued (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<u64>,
    /// When the secret expires (seconds since the epoch; `0`: never). See
    /// [`RegisteredClient::secret_expires_at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    /// The Bearer token for managing this registration (RFC 7592).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<Secret>,
    /// Where this registration is read, updated and deleted (RFC 7592).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// Every other member: the registered metadata (`redirect_uris`,
    /// `token_endpoint_auth_method`, names...).
    #[serde(flatten)]
    pub metadata: Map<String, Value>,
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_secret_expires_at", &self.client_secret_expires_at)
            .field("registration_access_token", &self.registration_access_token)
            .field("registration_client_uri", &self.registration_client_uri)
            .finish_non_exhaustive()
    }
}

impl RegisteredClient {
    /// Parses a registration response (RFC 7591 §3.2.1, RFC 7592 §2.1 and §2.2). With
    /// `previous`, what the answer leaves out keeps its previous value: a provider need not
    /// send the registration access token or the secret again when it does not rotate them.
    /// A failed answer is its typed error ([`HttpResponse::error`]).
    pub fn from_response(
        response: &HttpResponse,
        previous: Option<&RegisteredClient>,
    ) -> Result<Self> {
        if !response.status().is_success() {
            return Err(response.error());
        }
        let mut client: RegisteredClient = response.json()?;
        if let Some(previous) = previous {
            if client.client_id != previous.client_id {
                return Err(Error::InvalidResponse {
                    endpoint: Endpoint::Registration,
                    reason: "the answer is for another client_id".into(),
                });
            }
            let keep = |new: &mut Option<Secret>, old: &Option<Secret>| {
                if new.is_none() {
                    new.clone_from(old);
                }
            };
            keep(&mut client.client_secret, &previous.client_secret);
            keep(
                &mut client.registration_access_token,
                &previous.registration_access_token,
            );
            if client.registration_client_uri.is_none() {
                client
                    .registration_client_uri
                    .clone_from(&previous.registration_client_uri);
            }
        }
        Ok(client)
    }

    /// When the secret expires; `None` when it does not (`0`, or no secret).
    pub fn secret_expires_at(&self) -> Option<SystemTime> {
        match self.client_secret_expires_at {
            None | Some(0) => None,
            Some(secs) => UNIX_EPOCH.checked_add(Duration::from_secs(secs)),
        }
    }

    /// The registered client authentication method, when the provider said and grantkit
    /// implements it.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.metadata
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .and_then(AuthMethod::from_name)
    }

    /// A [`Client`] builder for this registration at `provider`: its id, its secret, and
    /// its registered authentication method (when grantkit implements it). Add the redirect
    /// URI and scopes.
    pub fn client_builder(&self, provider: Provider) -> ClientBuilder {
        let mut builder = Client::builder(provider, self.client_id.clone());
        if let Some(secret) = &self.client_secret {
            builder = builder.client_secret(secret.clone());
        }
        match self.auth_method() {
            Some(method) => builder.auth_method(method),
            None => builder,
        }
    }
}

/// Registers clients at one registration endpoint and manages them (RFC 7591, RFC 7592).
///
/// Provider errors come back typed: `invalid_redirect_uri`, `invalid_client_metadata`,
/// `invalid_software_statement` and `unapproved_software_statement` are [`Error::OAuth`] with
/// those [`OAuthErrorCode`](crate::OAuthErrorCode)s and [`Endpoint::Registration`]; a refused
/// registration access token is `invalid_token`. Tokens and secrets never reach an error.
///
/// Each step is also a request and a parser (`*_request`, [`RegisteredClient::from_response`])
/// for a provider crate that reads failures its own way.
#[derive(Clone, Debug)]
pub struct Registrar {
    endpoint: String,
    http: HttpClient,
    initial_access_token: Option<Secret>,
}

impl Registrar {
    /// The registrar of a discovered provider (its `registration_endpoint`), with the
    /// address policy of its document. [`Error::MissingEndpoint`] when it has none.
    pub fn new(provider: &Provider) -> Result<Self> {
        let endpoint = provider
            .metadata()
            .and_then(|m| m.registration_endpoint.clone())
            .ok_or_else(|| Error::MissingEndpoint {
                provider: provider.name().to_owned(),
                endpoint: Endpoint::Registration,
            })?;
        let resolver =
            crate::address::GuardedResolver::new(provider.address_policy(), Default::default());
        let options = HttpOptions::default();
        let builder = crate::http::trusting(None, &options, provider.root_certificates());
        let http = Http::build(builder, options, resolver)?;
        Ok(Self {
            endpoint,
            http: HttpClient::from_http(http),
            initial_access_token: None,
        })
    }

    /// A registrar for an endpoint the application names.
    pub fn with_endpoint(endpoint: impl Into<String>) -> Result<Self> {
        Ok(Self {
            endpoint: endpoint.into(),
            http: HttpClient::new(HttpOptions::default())?,
            initial_access_token: None,
        })
    }

    /// The initial access token (RFC 7591 §3) of a provider that lets only authorized
    /// parties register, sent as a Bearer token with [`register`](Registrar::register).
    #[must_use]
    pub fn initial_access_token(mut self, token: impl Into<Secret>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }

    /// Sends through this HTTP client (proxy, limits, a provider crate's own).
    #[must_use]
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = http;
        self
    }

    /// `POST`s the metadata to the registration endpoint.
    pub async fn register(&self, registration: &ClientRegistration) -> Result<RegisteredClient> {
        let response = self.send(self.register_request(registration)?).await?;
        RegisteredClient::from_response(&response, None)
    }

    /// Reads the registration as the provider holds it now (RFC 7592 §2.1).
    pub async fn read(&self, client: &RegisteredClient) -> Result<RegisteredClient> {
        let response = self.send(self.read_request(client)?).await?;
        RegisteredClient::from_response(&response, Some(client))
    }

    /// Replaces the registered metadata (RFC 7592 §2.2: `PUT` with the whole metadata, which
    /// is what the provider keeps; a member left out may be reset to its default).
    pub async fn update(
        &self,
        client: &RegisteredClient,
        registration: &ClientRegistration,
    ) -> Result<RegisteredClient> {
        let response = self
            .send(self.update_request(client, registration)?)
            .await?;
        RegisteredClient::from_response(&response, Some(client))
    }

    /// Deletes the registration (RFC 7592 §2.3); the provider then refuses the client.
    pub async fn delete(&self, client: &RegisteredClient) -> Result<()> {
        let response = self.send(self.delete_request(client)?).await?;
        response.error_for_status().map(drop)
    }

    /// The registration request, initial access token included.
    pub fn register_request(&self, registration: &ClientRegistration) -> Result<RequestBuilder> {
        let request = self
            .http
            .reqwest()
            .post(&self.endpoint)
            .header(ACCEPT, "application/json");
        let request = json(request, &registration.body(None)?)?;
        match &self.initial_access_token {
            Some(token) => bearer(request, token),
            None => Ok(request),
        }
    }

    /// The RFC 7592 read request.
    pub fn read_request(&self, client: &RegisteredClient) -> Result<RequestBuilder> {
        self.managed(Method::GET, client)
    }

    /// The RFC 7592 update request: the metadata with `client_id`.
    pub fn update_request(
        &self,
        client: &RegisteredClient,
        registration: &ClientRegistration,
    ) -> Result<RequestBuilder> {
        let body = registration.body(Some(client))?;
        json(self.managed(Method::PUT, client)?, &body)
    }

    /// The RFC 7592 delete request.
    pub fn delete_request(&self, client: &RegisteredClient) -> Result<RequestBuilder> {
        self.managed(Method::DELETE, client)
    }

    fn managed(&self, method: Method, client: &RegisteredClient) -> Result<RequestBuilder> {
        let (Some(uri), Some(token)) = (
            &client.registration_client_uri,
            &client.registration_access_token,
        ) else {
            return Err(Error::Config(
                "this registration has no registration_client_uri and registration_access_token: the provider does not let it be managed (RFC 7592)".into(),
            ));
        };
        let request = self
            .http
            .reqwest()
            .request(method, uri)
            .header(ACCEPT, "application/json");
        bearer(request, token)
    }

    async fn send(&self, request: RequestBuilder) -> Result<HttpResponse> {
        self.http.execute(Endpoint::Registration, request).await
    }
}

fn json(request: RequestBuilder, body: &Map<String, Value>) -> Result<RequestBuilder> {
    let body = serde_json::to_vec(body)
        .map_err(|e| Error::Config(format!("the registration cannot be serialized: {e}")))?;
    Ok(request.header(CONTENT_TYPE, "application/json").body(body))
}

/// `Authorization: Bearer`, marked sensitive so no HTTP log shows it.
fn bearer(request: RequestBuilder, token: &Secret) -> Result<RequestBuilder> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| {
        Error::Config("the token has characters an HTTP header cannot carry".into())
    })?;
    value.set_sensitive(true);
    Ok(request.header(AUTHORIZATION, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_errors_of_rfc_7591_are_typed() {
        for (wire, code) in [
            (
                "invalid_redirect_uri",
                crate::OAuthErrorCode::InvalidRedirectUri,
            ),
            (
                "invalid_client_metadata",
                crate::OAuthErrorCode::InvalidClientMetadata,
            ),
            (
                "invalid_software_statement",
                crate::OAuthErrorCode::InvalidSoftwareStatement,
            ),
            (
                "unapproved_software_statement",
                crate::OAuthErrorCode::UnapprovedSoftwareStatement,
            ),
        ] {
            let body = format!(r#"{{"error":"{wire}","error_description":"no"}}"#);
            let e = crate::http::error_from_response(
                Endpoint::Registration,
                reqwest::StatusCode::BAD_REQUEST,
                &Default::default(),
                body.as_bytes(),
            );
            assert_eq!(e.oauth_code(), Some(&code), "{e}");
        }
    }

    #[test]
    fn registration_bodies_carry_what_rfc_7591_and_7592_ask() {
        let reg = ClientRegistration::new()
            .redirect_uri("https://app.example/cb")
            .redirect_uri("https://app.example/cb")
            .redirect_uri("https://app.example/cb2")
            .auth_method(AuthMethod::ClientSecretBasic)
            .scopes(["openid", "email"])
            .software_statement("eyJ.x.y")
            .extra("application_type", "web");
        let body = reg.body(None).unwrap();
        assert_eq!(
            body["redirect_uris"],
            serde_json::json!(["https://app.example/cb", "https://app.example/cb2"])
        );
        assert_eq!(body["scope"], "openid email");
        assert_eq!(body["software_statement"], "eyJ.x.y");
        assert!(!body.contains_key("client_id"));
        let client: RegisteredClient = serde_json::from_value(serde_json::json!({
            "client_id": "c1", "client_secret": "s3cret-value", "registration_access_token": "rat-value",
            "registration_client_uri": "https://op.example/reg/c1", "client_secret_expires_at": 0,
        }))
        .unwrap();
        let update = reg.body(Some(&client)).unwrap();
        assert_eq!(update["client_id"], "c1");
        assert!(client.secret_expires_at().is_none());
        let debug = format!("{client:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("rat-value"),
            "{debug}"
        );
        assert!(ClientRegistration::new()
            .extra("client_secret", "x")
            .body(None)
            .is_err());
        assert!(ClientRegistration::new()
            .jwks(serde_json::json!({"keys": []}))
            .jwks_uri("https://app.example/jwks")
            .body(None)
            .is_err());
    }

    /// RFC 7591 §2: `jwks` "contains the client's public keys". A private JWK passed there
    /// by mistake (the one `ClientKey::from_jwk` reads) would hand the key to the provider.
    #[test]
    fn registration_refuses_private_key_members_in_jwks() {
        let public = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy"});
        assert!(ClientRegistration::new()
            .jwks(serde_json::json!({ "keys": [public.clone()] }))
            .body(None)
            .is_ok());
        for (member, value) in [("d", "private-d-value"), ("k", "private-k-value")] {
            let mut key = public.clone();
            key[member] = value.into();
            let e = ClientRegistration::new()
                .jwks(serde_json::json!({ "keys": [key] }))
                .body(None)
                .unwrap_err();
            assert!(
                matches!(e, Error::Config(_)) && e.to_string().contains(&format!("`{member}`")),
                "{e}"
            );
            assert!(!e.to_string().contains(value), "{e}");
        }
    }

    /// A private JWK given to `jwks` by mistake is refused before sending, but `Debug` runs
    /// first (a `tracing` field, a log line): it shows the key ids and their count only, and
    /// hides members whose names say they hold a secret.
    #[test]
    fn registration_debug_never_prints_jwks_key_material_or_secret_like_members() {
        let key = serde_json::json!({"kty": "EC", "kid": "k1", "crv": "P-256", "x": "xx",
                                     "y": "yy", "d": "private-d-value"});
        let registration = ClientRegistration::new()
            .client_name("app")
            .auth_method(AuthMethod::ClientSecretPost)
            .jwks(serde_json::json!({ "keys": [key, {"kty": "oct", "k": "private-k-value"}] }))
            .extra("vendor_api_secret", "vendor-secret-value")
            .extra("initial_access_token", "iat-value");
        let shown = format!("{registration:?}");
        for hidden in [
            "private-d-value",
            "private-k-value",
            "vendor-secret-value",
            "iat-value",
        ] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        for kept in ["app", "k1", "2", "client_secret_post", "vendor_api_secret"] {
            assert!(shown.contains(kept), "{kept} missing: {shown}");
        }
    }
}
