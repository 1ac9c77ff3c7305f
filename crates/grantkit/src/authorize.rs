//! Authorization requests: the URL the browser goes to, and what the app keeps until it returns.

use std::time::{SystemTime, UNIX_EPOCH};

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::callback::{AuthorizationCode, Callback, JarmMode};
use crate::client::Client;
use crate::error::{CallbackError, Endpoint, Error, JarmError, OAuthError, Refusal, Result};
use crate::jar;
use crate::redirect_uri::check_redirect_uri;
use crate::resource_indicator::{check_resource, resource_values, RESOURCE};
use crate::secret::Secret;

/// Parameters grantkit sets itself; an extra parameter may not override them.
const RESERVED: [&str; 9] = [
    "response_type",
    "response_mode",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

/// Builds an authorization request. Made by [`Client::authorize`].
///
/// Every request gets a fresh random `state` and, unless the provider declares it does not
/// support PKCE, a PKCE S256 challenge — also for confidential clients, since PKCE also stops
/// code injection. A `nonce` is added whenever the `openid` scope is requested.
///
/// ```
/// # let client = grantkit::Client::builder(
/// #     grantkit::Provider::builder("p").authorization_endpoint("https://p.example/authorize")
/// #         .token_endpoint("https://p.example/token").build()?, "my-client")
/// #     .redirect_uri("https://app.example/callback").build()?;
/// let (url, pending) = client
///     .authorize()
///     .scopes(["openid", "email"])
///     .prompt("consent")
///     .param("sub_type", "organization")
///     .build()?;
/// assert!(url.as_str().contains("code_challenge_method=S256"));
/// assert!(pending.nonce().is_some());
/// // Keep `pending` in the user's server-side session until the callback arrives.
/// # Ok::<(), grantkit::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct AuthorizationRequest<'c> {
    client: &'c Client,
    scopes: Vec<String>,
    nonce: Option<bool>,
    prompt: Option<String>,
    redirect_uri: Option<String>,
    form_post: bool,
    params: Vec<(String, String)>,
    oidc: OidcParams,
    /// RFC 8707 resource indicators, kept apart from `params` for the pending authorization.
    resources: Vec<String>,
    /// JAR (RFC 9101): every parameter in a signed `request` JWT.
    signed: bool,
    jarm: Option<JarmMode>,
}

/// The OpenID Connect request parameters whose answer the ID token is checked against, and
/// the hints.
#[derive(Debug, Default)]
struct OidcParams {
    max_age: Option<u64>,
    acr_values: Vec<String>,
    essential_acr: bool,
    claims: Option<serde_json::Value>,
    id_token_hint: Option<Secret>,
    login_hint: Option<String>,
}

impl Client {
    /// Starts an authorization request (state, PKCE and nonce included).
    pub fn authorize(&self) -> AuthorizationRequest<'_> {
        AuthorizationRequest::new(self)
    }
}

impl<'c> AuthorizationRequest<'c> {
    fn new(client: &'c Client) -> Self {
        Self {
            client,
            scopes: client.default_scopes().to_vec(),
            nonce: None,
            prompt: None,
            redirect_uri: None,
            form_post: false,
            params: Vec::new(),
            oidc: OidcParams::default(),
            resources: Vec::new(),
            signed: false,
            jarm: None,
        }
    }

    /// Replaces the client's default scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one scope to those requested.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        if !self.scopes.contains(&scope) {
            self.scopes.push(scope);
        }
        self
    }

    /// Forces a `nonce` on (`true`) or off (`false`); by default it is sent when `openid` is requested.
    pub fn nonce(mut self, send: bool) -> Self {
        self.nonce = Some(send);
        self
    }

    /// The `prompt` parameter (`none`, `consent`, `login`, `select_account`).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// The `prompt` set so far, if any: lets a provider's extension add to a request without
    /// undoing what the application chose.
    pub fn prompt_value(&self) -> Option<&str> {
        self.prompt.as_deref()
    }

    /// A redirect URI for this request only (a CLI's loopback port, say).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// `max_age` (OpenID Connect Core §3.1.2.1): the user must have authenticated at most this
    /// long ago, else the provider asks again. The ID token's `auth_time` is checked at the code
    /// exchange: missing ([`IdTokenError::MissingAuthTime`]) or older than `max_age` plus the
    /// clock leeway ([`IdTokenError::AuthenticationTooOld`]) is refused. A `max_age` given with
    /// [`param`](AuthorizationRequest::param) is checked the same way.
    ///
    /// [`IdTokenError::MissingAuthTime`]: crate::oidc::IdTokenError::MissingAuthTime
    /// [`IdTokenError::AuthenticationTooOld`]: crate::oidc::IdTokenError::AuthenticationTooOld
    pub fn max_age(mut self, max_age: std::time::Duration) -> Self {
        self.oidc.max_age = Some(max_age.as_secs());
        self
    }

    /// `acr_values`: the authentication context classes asked for, in order of preference. A
    /// voluntary request: the provider may answer with another `acr`, and that is not checked.
    pub fn acr_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.oidc.acr_values = values.into_iter().map(Into::into).collect();
        self.oidc.essential_acr = false;
        self
    }

    /// `acr_values`, marked essential: the code exchange refuses an ID token whose `acr` is
    /// none of them ([`IdTokenError::AcrNotSatisfied`]). An essential `acr` in a
    /// [`claims`](AuthorizationRequest::claims) request is checked the same way.
    ///
    /// [`IdTokenError::AcrNotSatisfied`]: crate::oidc::IdTokenError::AcrNotSatisfied
    pub fn essential_acr_values<I, S>(self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut request = self.acr_values(values);
        request.oidc.essential_acr = true;
        request
    }

    /// The `claims` request parameter (OpenID Connect Core §5.5): a JSON object with
    /// `userinfo` and/or `id_token` members. Anything else is refused at
    /// [`build`](AuthorizationRequest::build).
    pub fn claims(mut self, claims: serde_json::Value) -> Self {
        self.oidc.claims = Some(claims);
        self
    }

    /// `id_token_hint`: an ID token the provider issued earlier, naming the user expected.
    pub fn id_token_hint(mut self, id_token: &Secret) -> Self {
        self.oidc.id_token_hint = Some(id_token.clone());
        self
    }

    /// `login_hint`: the login identifier the user may use (an email address, say).
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.oidc.login_hint = Some(hint.into());
        self
    }

    /// A `resource` indicator (RFC 8707): a protected resource the tokens of this login are
    /// for, an absolute URI without a fragment (else [`build`](AuthorizationRequest::build)
    /// refuses with [`Refusal::InvalidResource`]). May be given more than once. A value given
    /// with [`param`](AuthorizationRequest::param) is sent and kept unchecked, for vendors
    /// whose `resource` is not a URI. It goes into
    /// the pushed request too, and the [`PendingAuthorization`] keeps it: the code exchange
    /// asks for the same resources unless it names its own
    /// ([`TokenRequest::resource`](crate::TokenRequest::resource)).
    ///
    /// ```
    /// # let client = grantkit::Client::builder(
    /// #     grantkit::Provider::builder("p").authorization_endpoint("https://p.example/authorize")
    /// #         .token_endpoint("https://p.example/token").build()?, "my-client").build()?;
    /// let (url, pending) = client
    ///     .authorize()
    ///     .resource("https://orders.example.com/")
    ///     .resource("https://reports.example.com/")
    ///     .build()?;
    /// assert_eq!(pending.resources().len(), 2);
    /// assert!(url.as_str().contains("resource=https%3A%2F%2Forders.example.com%2F"));
    /// # Ok::<(), grantkit::Error>(())
    /// ```
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Any other parameter the provider understands (`sub_type`, `ui_locales`...).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Asks for the callback as a form POSTed to the redirect URI (`response_mode=form_post`,
    /// OAuth 2.0 Form Post Response Mode), so the code never appears in a URL (history, server
    /// logs, `Referer`). Read the POST body with
    /// [`PendingAuthorization::verify_form_post`]. The redirect URI must accept a cross-site
    /// POST: a `SameSite=Lax` session cookie is not sent with it, so keep the pending
    /// authorization where that POST can find it (e.g. keyed by `state`), or use `SameSite=None`.
    pub fn form_post(mut self) -> Self {
        self.form_post = true;
        self
    }

    /// Signs the request (JAR, RFC 9101): every parameter of the request, this builder's and
    /// those added with [`param`](AuthorizationRequest::param) alike, goes into one `request`
    /// JWT signed with the client's [`ClientKey`](crate::jwt_auth::ClientKey) (`typ`
    /// `oauth-authz-req+jwt`, `iss` the client id, `aud` the issuer, a five-minute lifetime and
    /// a fresh `jti`). The URL carries only `client_id`, `response_type`, the `scope` when it
    /// asks for `openid` (OpenID Connect Core §6.1 wants both outside too) and `request`:
    /// no `redirect_uri`, `state` or PKCE challenge anyone could read or change. Pushed
    /// ([`push`](AuthorizationRequest::push)), the body is the JWT alone.
    ///
    /// The client needs its private key (as for `private_key_jwt`). A discovered provider must
    /// declare `request_parameter_supported: true` and, when it lists
    /// `request_object_signing_alg_values_supported`, the key's algorithm; else
    /// [`build`](AuthorizationRequest::build) refuses with [`Error::Refused`]
    /// ([`Refusal::RequestObjectNotSupported`], [`Refusal::RequestObjectAlgorithm`]).
    ///
    /// ```
    /// # let jwk = include_str!("../tests/fixtures/rfc7515-a3-p256.jwk.json");
    /// # let provider = grantkit::Provider::builder("p").issuer("https://p.example")
    /// #     .authorization_endpoint("https://p.example/authorize")
    /// #     .token_endpoint("https://p.example/token").build()?;
    /// let client = grantkit::Client::builder(provider, "my-client")
    ///     .private_key(grantkit::jwt_auth::ClientKey::from_jwk(jwk)?)
    ///     .redirect_uri("https://app.example/callback")
    ///     .build()?;
    /// let (url, _pending) = client.authorize().scopes(["openid"]).signed().build()?;
    /// let names: Vec<_> = url.query_pairs().map(|(name, _)| name.into_owned()).collect();
    /// assert_eq!(names, ["response_type", "client_id", "scope", "request"]);
    /// # Ok::<(), grantkit::Error>(())
    /// ```
    pub fn signed(mut self) -> Self {
        self.signed = true;
        self
    }

    /// Asks for a signed authorization response (JARM): the provider answers with a
    /// `response` JWT it signed, holding `code`, `state` and `iss` (or the `error`). Read it with
    /// [`PendingAuthorization::verify_jarm_callback`] (for [`JarmMode::Jwt`] and
    /// [`JarmMode::Query`]) or [`PendingAuthorization::verify_jarm_form_post`] (for
    /// [`JarmMode::FormPost`]); the plain `verify_*` methods refuse every callback of such a
    /// login, so an unsigned callback cannot stand in for the signed one.
    ///
    /// The client must be able to verify the provider's signatures (an issuer and a
    /// `jwks_uri`), and a discovered provider must list the mode in `response_modes_supported`
    /// ([`Refusal::ResponseModeNotSupported`] otherwise). Not with
    /// [`form_post`](AuthorizationRequest::form_post): use [`JarmMode::FormPost`].
    pub fn jarm(mut self, mode: JarmMode) -> Self {
        self.jarm = Some(mode);
        self
    }

    /// Produces the URL to send the browser to and the [`PendingAuthorization`] to keep.
    ///
    /// When the provider requires pushed authorization requests (RFC 9126), or the client was
    /// registered for them, this refuses with [`Error::Refused`] ([`Refusal::PushRequired`]): use
    /// [`build_async`](AuthorizationRequest::build_async), which pushes.
    pub fn build(self) -> Result<(Url, PendingAuthorization)> {
        if self.must_push() {
            return Err(Error::Refused {
                endpoint: Endpoint::Authorization,
                reason: Refusal::PushRequired,
            });
        }
        let prepared = self.prepare()?;
        let mut url = prepared.endpoint;
        url.query_pairs_mut().extend_pairs(
            prepared
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        Ok((url, prepared.pending))
    }

    /// Whether this request has to go through the PAR endpoint.
    pub(crate) fn must_push(&self) -> bool {
        self.client
            .provider()
            .requires_pushed_authorization_requests()
            || self.client.requires_pushed_authorization_requests()
    }

    pub(crate) fn client(&self) -> &'c Client {
        self.client
    }

    /// Checks the request and computes every parameter and what to keep for the callback.
    pub(crate) fn prepare(self) -> Result<Prepared> {
        let provider = self.client.provider();
        if let Some((name, _)) = self
            .params
            .iter()
            .find(|(n, _)| RESERVED.contains(&n.as_str()) || n == "request_uri" || n == "request")
        {
            return Err(Error::Config(format!(
                "`{name}` is set by grantkit itself; use the builder's own method for it"
            )));
        }
        let endpoint = provider.endpoint(Endpoint::Authorization)?.clone();
        // Only `resource()` values are checked: `param` is the raw way, for vendors whose
        // `resource` is no URI (Azure AD v1 takes an application id). Both are carried.
        for resource in &self.resources {
            check_resource(Endpoint::Authorization, resource)?;
        }
        let resources: Vec<String> = self
            .resources
            .iter()
            .map(String::as_str)
            .chain(resource_values(&self.params))
            .map(str::to_owned)
            .collect();
        // The client's own redirect URI was checked when it was built; only an override is new.
        if let Some(uri) = &self.redirect_uri {
            check_redirect_uri(uri)?;
        }
        let redirect_uri = self
            .redirect_uri
            .or_else(|| self.client.redirect_uri().map(str::to_owned));
        let state = CsrfToken::new_random().secret().clone();
        let wants_nonce = self
            .nonce
            .unwrap_or_else(|| self.scopes.iter().any(|s| s == "openid"));
        let nonce = wants_nonce.then(|| CsrfToken::new_random().secret().clone());
        let scope = (!self.scopes.is_empty()).then(|| self.scopes.join(" "));
        let pkce = provider
            .quirks()
            .pkce
            .then(PkceCodeChallenge::new_random_sha256);

        let mut params: Vec<(String, String)> = Vec::with_capacity(10 + self.params.len());
        let mut add = |name: &str, value: &str| params.push((name.to_owned(), value.to_owned()));
        add("response_type", "code");
        add("client_id", self.client.client_id());
        if let Some(uri) = &redirect_uri {
            add("redirect_uri", uri);
        }
        if let Some(scope) = &scope {
            add("scope", scope);
        }
        add("state", &state);
        if let Some((challenge, _)) = &pkce {
            // Sent explicitly: some servers (Polar.sh) assume `plain` when it is omitted.
            add("code_challenge", challenge.as_str());
            add("code_challenge_method", challenge.method().as_str());
        }
        if let Some(nonce) = &nonce {
            add("nonce", nonce);
        }
        if let Some(prompt) = &self.prompt {
            add("prompt", prompt);
        }
        match (self.form_post, self.jarm) {
            (true, Some(_)) => {
                return Err(Error::Config(
                    "`form_post()` and `jarm()` both set the response mode; for a signed POST use `jarm(JarmMode::FormPost)`".into(),
                ))
            }
            (true, None) => add("response_mode", "form_post"),
            (false, Some(mode)) => add("response_mode", mode.as_str()),
            (false, None) => {}
        }
        if let Some(dpop) = self.client.dpop() {
            // RFC 9449 §10: binds the code to the key, so only its holder can redeem it.
            if !self.params.iter().any(|(n, _)| n == "dpop_jkt") {
                add("dpop_jkt", dpop.thumbprint());
            }
        }
        let checks = self.oidc.add_to(&mut params, &self.params)?;
        for resource in self.resources {
            params.push((RESOURCE.to_owned(), resource));
        }
        params.extend(self.params);
        if let Some(mode) = self.jarm {
            check_jarm(self.client, mode)?;
        }
        if self.signed {
            let key = jar::signing_key(self.client)?;
            let jwt = jar::request_object(self.client, key, &params)?;
            params = jar::front_channel(&params, jwt);
        }
        let pending = PendingAuthorization {
            state: Secret::new(state),
            code_verifier: pkce.map(|(_, verifier)| Secret::new(verifier.secret().clone())),
            nonce: nonce.map(Secret::new),
            redirect_uri,
            issuer: provider.issuer().map(str::to_owned),
            require_iss: provider.iss_parameter_supported(),
            scope,
            form_post: self.form_post,
            jarm: self.jarm,
            max_age: checks.max_age,
            acr_values: checks.acr_values,
            resources,
            created_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        Ok(Prepared {
            endpoint,
            params,
            pending,
            signed: self.signed,
        })
    }
}

/// A JARM login needs the provider's keys to verify the response with, and a discovered
/// provider must offer the mode.
fn check_jarm(client: &Client, mode: JarmMode) -> Result<()> {
    client.require_id_token_verifier()?;
    let supported: Vec<String> = match client.provider().metadata() {
        Some(metadata) => match metadata.extra.get("response_modes_supported") {
            Some(serde_json::Value::Array(modes)) => modes
                .iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect(),
            // OpenID Connect Discovery §3: omitted means `query` and `fragment`, no JWT mode.
            _ => vec!["query".to_owned(), "fragment".to_owned()],
        },
        None => return Ok(()),
    };
    if supported.iter().any(|m| m == mode.as_str()) {
        return Ok(());
    }
    Err(Error::Refused {
        endpoint: Endpoint::Authorization,
        reason: Refusal::ResponseModeNotSupported {
            mode: mode.as_str(),
            supported,
        },
    })
}

/// What the ID token of a login is checked against.
struct Checks {
    max_age: Option<u64>,
    acr_values: Vec<String>,
}

impl OidcParams {
    /// Adds the OpenID Connect parameters to `params` and returns what the ID token must
    /// prove. `extra` are the caller's other parameters: a `max_age` among them is checked too.
    fn add_to(
        self,
        params: &mut Vec<(String, String)>,
        extra: &[(String, String)],
    ) -> Result<Checks> {
        self.check_not_repeated(extra)?;
        let mut add = |name: &str, value: String| params.push((name.to_owned(), value));
        let max_age = match (self.max_age, extra.iter().find(|(n, _)| n == "max_age")) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "`max_age` is given twice: with `max_age()` and as a parameter".into(),
                ))
            }
            (Some(max_age), None) => {
                add("max_age", max_age.to_string());
                Some(max_age)
            }
            (None, Some((_, value))) => Some(value.parse().map_err(|_| {
                Error::Config("`max_age` must be a whole number of seconds".into())
            })?),
            (None, None) => None,
        };
        let mut acr_values = Vec::new();
        if !self.acr_values.is_empty() {
            add("acr_values", self.acr_values.join(" "));
            if self.essential_acr {
                acr_values = self.acr_values;
            }
        }
        match (self.claims, extra.iter().find(|(n, _)| n == "claims")) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "`claims` is given twice: with `claims()` and as a parameter".into(),
                ))
            }
            (Some(claims), None) => {
                acr_values.extend(essential_acr(&claims)?);
                add("claims", claims.to_string());
            }
            // Sent as given, but what it asks for is checked all the same.
            (None, Some((_, text))) => {
                let claims = serde_json::from_str(text).map_err(|_| {
                    Error::Config("the `claims` request parameter is not JSON".into())
                })?;
                acr_values.extend(essential_acr(&claims)?);
            }
            (None, None) => {}
        }
        if let Some(hint) = self.id_token_hint {
            add("id_token_hint", hint.expose().to_owned());
        }
        if let Some(hint) = self.login_hint {
            add("login_hint", hint);
        }
        Ok(Checks {
            max_age,
            acr_values,
        })
    }
}

impl OidcParams {
    /// A parameter given with its method and again with `param` would be sent twice, and the
    /// check made on one copy while the provider reads the other.
    fn check_not_repeated(&self, extra: &[(String, String)]) -> Result<()> {
        let set = [
            ("acr_values", !self.acr_values.is_empty()),
            ("id_token_hint", self.id_token_hint.is_some()),
            ("login_hint", self.login_hint.is_some()),
        ];
        match set
            .iter()
            .find(|(name, set)| *set && extra.iter().any(|(n, _)| n == name))
        {
            Some((name, _)) => Err(Error::Config(format!(
                "`{name}` is given twice: with its own method and as a parameter"
            ))),
            None => Ok(()),
        }
    }
}

/// Checks the shape of a `claims` request (OpenID Connect Core §5.5) and returns the values of
/// an essential `acr` in its `id_token` member (`value` or `values`), if any.
fn essential_acr(claims: &serde_json::Value) -> Result<Vec<String>> {
    let bad = |why: &str| Error::Config(format!("the `claims` request parameter {why}"));
    let object = claims
        .as_object()
        .ok_or_else(|| bad("must be a JSON object"))?;
    if let Some((name, _)) = object.iter().find(|(name, value)| {
        !matches!(name.as_str(), "userinfo" | "id_token") || !value.is_object()
    }) {
        return Err(bad(&format!(
            "may only have `userinfo` and `id_token` objects, not `{}`",
            crate::error::truncate(name, 50)
        )));
    }
    let acr = object.get("id_token").and_then(|t| t.get("acr"));
    let essential = acr
        .and_then(|a| a.get("essential"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if !essential {
        return Ok(Vec::new());
    }
    let acr = acr.unwrap_or(&serde_json::Value::Null);
    let values = match (acr.get("value"), acr.get("values")) {
        (Some(value), _) => vec![value.clone()],
        (None, Some(serde_json::Value::Array(values))) => values.clone(),
        _ => Vec::new(),
    };
    Ok(values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

/// An authorization request ready to be sent as a URL or pushed.
pub(crate) struct Prepared {
    /// The authorization endpoint.
    pub(crate) endpoint: Url,
    /// Every parameter, in order.
    pub(crate) params: Vec<(String, String)>,
    pub(crate) pending: PendingAuthorization,
    /// `params` are the front-channel companions of a signed `request` (JAR).
    pub(crate) signed: bool,
}

/// What the app keeps between sending the browser away and the callback: `state`, the PKCE
/// verifier, the `nonce`, the redirect URI used.
///
/// It is small and serializable so it fits in a server-side session. It holds the PKCE
/// verifier: keep it server-side, or encrypted, never in a plain cookie. `Debug` redacts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_verifier: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default)]
    require_iss: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// The callback was asked for as a POSTed form (`response_mode=form_post`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    form_post: bool,
    /// The callback was asked for as a signed JWT (JARM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jarm: Option<JarmMode>,
    /// Added in 0.2 with the OpenID Connect checks: older saved values read as "not sent".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    acr_values: Vec<String>,
    /// RFC 8707 resource indicators, added in 0.2: older saved values read as "none sent".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    resources: Vec<String>,
    created_at: u64,
}

impl PendingAuthorization {
    /// The `state` sent (for apps that key their session store by it).
    pub fn state(&self) -> &Secret {
        &self.state
    }

    /// The `nonce` sent, if any; the ID token must carry it back.
    pub fn nonce(&self) -> Option<&Secret> {
        self.nonce.as_ref()
    }

    /// The redirect URI sent, if any; the code exchange repeats it.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The `max_age` sent, in seconds; the ID token's `auth_time` is checked against it.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// The `acr` values requested as essential; the ID token's `acr` must be one of them.
    pub fn essential_acr_values(&self) -> &[String] {
        &self.acr_values
    }

    /// The `resource` indicators sent (RFC 8707); the code exchange asks for them again.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// When the request was built, in seconds since the Unix epoch.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Parses the redirect URL (or just its query) and checks it against this request.
    ///
    /// ```
    /// # let client = grantkit::Client::builder(
    /// #     grantkit::Provider::builder("p").authorization_endpoint("https://p.example/authorize")
    /// #         .token_endpoint("https://p.example/token").build()?, "c").build()?;
    /// let (_, pending) = client.authorize().build()?;
    /// let forged = "https://app.example/callback?code=abc&state=not-ours";
    /// let err = pending.verify_callback(forged).unwrap_err();
    /// assert!(matches!(err, grantkit::Error::Callback(grantkit::CallbackError::StateMismatch)));
    /// # Ok::<(), grantkit::Error>(())
    /// ```
    pub fn verify_callback(&self, url_or_query: &str) -> Result<AuthorizationCode> {
        if let Some(mode) = self.jarm {
            return Err(JarmError::MissingResponse {
                mode: mode.as_str(),
            }
            .into());
        }
        if self.form_post {
            return Err(CallbackError::ResponseModeMismatch {
                expected: "in a POST body (response_mode=form_post)",
            }
            .into());
        }
        self.verify(&Callback::parse(url_or_query)?)
    }

    /// Checks a callback that arrived as a POSTed form (`application/x-www-form-urlencoded`
    /// body), for a request built with [`AuthorizationRequest::form_post`]; the same checks as
    /// [`verify_callback`](Self::verify_callback). A callback in the URL for such a request is
    /// refused by `verify_callback`, and a POST body for a query-mode request here: the mode is
    /// part of what the request asked for, and a code in a URL may already have leaked.
    pub fn verify_form_post(&self, body: &str) -> Result<AuthorizationCode> {
        if let Some(mode) = self.jarm {
            return Err(JarmError::MissingResponse {
                mode: mode.as_str(),
            }
            .into());
        }
        if !self.form_post {
            return Err(CallbackError::ResponseModeMismatch {
                expected: "in the redirect URL's query",
            }
            .into());
        }
        self.verify(&Callback::parse(body)?)
    }

    /// Checks a parsed callback: `state` first (constant time), then the RFC 9207 `iss`,
    /// then the provider's `error`, then the presence of a `code`. An `error` without a
    /// `state` is [`CallbackError::UnverifiedError`], not the provider's verdict.
    ///
    /// For a login that asked for a signed response ([`AuthorizationRequest::jarm`]) this
    /// refuses every callback ([`JarmError::MissingResponse`]): use
    /// [`verify_jarm_callback`](Self::verify_jarm_callback).
    pub fn verify(&self, callback: &Callback) -> Result<AuthorizationCode> {
        if let Some(mode) = self.jarm {
            return Err(JarmError::MissingResponse {
                mode: mode.as_str(),
            }
            .into());
        }
        self.check(callback)
    }

    /// The response mode of a JARM login, if it is one.
    pub(crate) fn jarm_mode(&self) -> Option<JarmMode> {
        self.jarm
    }

    /// [`verify`](Self::verify)'s checks, on a callback whose signature (if any) was checked.
    pub(crate) fn check(&self, callback: &Callback) -> Result<AuthorizationCode> {
        match callback.state() {
            Some(state) if self.state.constant_time_eq(state) => {}
            Some(_) => return Err(CallbackError::StateMismatch.into()),
            // RFC 6749 §4.1.2.1: the provider echoes `state` in error responses too, so an
            // error without one is anybody's (a forged abort with the sender's own text).
            None => return Err(unverified(callback)),
        }
        self.check_issuer(callback.iss())?;
        if let Some(error) = callback.error() {
            return Err(Error::OAuth(OAuthError::clone(error)));
        }
        let code = callback.code().ok_or(CallbackError::MissingCode)?;
        Ok(AuthorizationCode {
            code: code.clone(),
            code_verifier: self.code_verifier.clone(),
            redirect_uri: self.redirect_uri.clone(),
            nonce: self.nonce.clone(),
            scope: self.scope.clone(),
            max_age: self.max_age,
            acr_values: self.acr_values.clone(),
            resources: self.resources.clone(),
        })
    }

    fn check_issuer(&self, iss: Option<&str>) -> Result<()> {
        match (iss, &self.issuer) {
            (Some(received), Some(expected)) if received != expected => {
                Err(CallbackError::IssuerMismatch {
                    expected: expected.clone(),
                    received: crate::error::truncate(received, 200),
                }
                .into())
            }
            (None, Some(_)) if self.require_iss => Err(CallbackError::MissingIssuer.into()),
            _ => Ok(()),
        }
    }
}

/// The error for a callback without `state`: [`CallbackError::UnverifiedError`] when it names an
/// `error`, whose code is logged (never its description: the sender's words), else
/// [`CallbackError::MissingState`].
fn unverified(callback: &Callback) -> Error {
    match callback.error() {
        Some(error) => {
            tracing::warn!(
                code = ?error.code.as_str(),
                "ignoring an error callback without `state`: it cannot be tied to this login"
            );
            CallbackError::UnverifiedError {
                code: error.code.clone(),
            }
            .into()
        }
        None => CallbackError::MissingState.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OAuthErrorCode;
    use crate::{Client, Provider};

    fn pending() -> PendingAuthorization {
        client().authorize().build().unwrap().1
    }

    fn client() -> Client {
        let provider = Provider::builder("p")
            .authorization_endpoint("https://p.example/authorize")
            .token_endpoint("https://p.example/token")
            .build()
            .unwrap();
        Client::builder(provider, "c").build().unwrap()
    }

    #[test]
    fn a_form_post_login_accepts_its_callback_only_from_a_post_body() {
        let client = client();
        let (url, pending) = client.authorize().form_post().build().unwrap();
        assert!(url
            .query_pairs()
            .any(|(k, v)| k == "response_mode" && v == "form_post"));
        let body = format!("code=c1&state={}", pending.state().expose());
        // The same parameters in the URL: a code that travelled in a URL, or a forged GET.
        let e = pending
            .verify_callback(&format!("https://app.example/cb?{body}"))
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Callback(CallbackError::ResponseModeMismatch { .. })
            ),
            "{e:?}"
        );
        assert_eq!(pending.verify_form_post(&body).unwrap().code.expose(), "c1");
        // A pending value saved before the mode existed reads as a query-mode login.
        let json = serde_json::to_value(&pending).unwrap();
        assert_eq!(json["form_post"], true);
        let (_, query_mode) = client.authorize().build().unwrap();
        let json = serde_json::to_value(&query_mode).unwrap();
        assert!(json.get("form_post").is_none());
        let e = query_mode.verify_form_post("code=c1&state=x").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Callback(CallbackError::ResponseModeMismatch { .. })
            ),
            "{e:?}"
        );
        // `response_mode` is grantkit's to set.
        let e = client
            .authorize()
            .param("response_mode", "query")
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
    }

    const INJECTED: &str = "Your+account+is+locked.+Call+%2B1-555-0100";

    /// Item 7: anyone can send the browser to the callback with `error=` and no `state`; that
    /// must not abort the login as if the provider had said so, nor carry the sender's text.
    #[test]
    fn an_error_callback_without_state_is_unverified_not_the_providers_verdict() {
        let pending = pending();
        let forged = format!("/cb?error=access_denied&error_description={INJECTED}");
        let err = pending.verify_callback(&forged).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Callback(CallbackError::UnverifiedError { code })
                    if *code == OAuthErrorCode::AccessDenied
            ),
            "{err:?}"
        );
        assert!(err.oauth().is_none(), "not the provider's verdict: {err:?}");
        let shown = err.to_string();
        assert!(
            !shown.contains("locked") && !shown.contains("555"),
            "{shown}"
        );
        assert!(shown.contains("state"), "{shown}");
    }

    #[test]
    fn an_error_callback_with_the_right_state_is_the_providers_verdict() {
        let pending = pending();
        let state = pending.state().expose().to_owned();
        let callback = format!("/cb?error=access_denied&error_description=no&state={state}");
        let err = pending.verify_callback(&callback).unwrap_err();
        let oauth = err.oauth().unwrap();
        assert_eq!(oauth.code, OAuthErrorCode::AccessDenied);
        assert_eq!(oauth.description.as_deref(), Some("no"));
    }

    #[test]
    fn an_error_callback_with_a_wrong_state_is_a_state_mismatch() {
        let pending = pending();
        let forged = format!("/cb?error=access_denied&error_description={INJECTED}&state=x");
        let err = pending.verify_callback(&forged).unwrap_err();
        assert!(
            matches!(err, Error::Callback(CallbackError::StateMismatch)),
            "{err:?}"
        );
    }

    /// Sent twice, the provider would read one copy and grantkit check the other.
    #[test]
    fn oidc_parameter_given_twice_is_refused() {
        let client = client();
        let twice = [
            client
                .authorize()
                .max_age(std::time::Duration::from_secs(5))
                .param("max_age", "999"),
            client
                .authorize()
                .claims(serde_json::json!({}))
                .param("claims", "{}"),
            client
                .authorize()
                .essential_acr_values(["mfa"])
                .param("acr_values", "pwd"),
            client.authorize().login_hint("a").param("login_hint", "b"),
            client
                .authorize()
                .id_token_hint(&Secret::new("t"))
                .param("id_token_hint", "u"),
        ];
        for request in twice {
            let e = request.build().unwrap_err();
            assert!(e.to_string().contains("twice"), "{e}");
        }
        let e = client
            .authorize()
            .param("max_age", "soon")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("max_age"), "{e}");
        let (url, pending) = client
            .authorize()
            .max_age(std::time::Duration::from_secs(90))
            .id_token_hint(&Secret::new("hint-token"))
            .build()
            .unwrap();
        assert_eq!(pending.max_age(), Some(90));
        assert!(
            url.as_str().contains("max_age=90")
                && url.as_str().contains("id_token_hint=hint-token")
        );
    }
}
