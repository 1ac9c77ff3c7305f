//! Open token requests: any grant, known or not, with the caller's extra parameters
//! (`audience`, `resource`, vendor parameters), parsed, checked and authenticated like the
//! grants grantkit knows.

use crate::callback::AuthorizationCode;
use crate::client::{join_scopes, Client};
use crate::error::{Endpoint, Result};
use crate::resource_indicator::check_resource;
use crate::secret::Secret;
use crate::token::TokenSet;

/// A request to the token endpoint, built before it is sent. Made by
/// [`Client::exchange_code_request`], [`Client::refresh_request`],
/// [`Client::client_credentials_request`], [`Client::grant`] (a grant type grantkit does not
/// know), [`Client::jwt_bearer`] and, through [`TokenExchange`](crate::TokenExchange),
/// [`Client::token_exchange`].
///
/// Extra parameters go after the ones grantkit sets; one that names a parameter grantkit sets
/// itself (`grant_type`, `code`, `code_verifier`, `redirect_uri`, `refresh_token`, client
/// authentication...) is refused before anything is sent, with
/// [`Error::Refused`](crate::Error::Refused) and
/// [`Refusal::ReservedParameter`](crate::error::Refusal::ReservedParameter). The values of
/// extra parameters are sent as given and are not treated as secrets.
///
/// ```no_run
/// # async fn run(client: grantkit::Client, tokens: grantkit::TokenSet) -> grantkit::Result<()> {
/// let fresh = client
///     .refresh_request(&tokens)
///     .resource("https://api.example.com")
///     .param("audience", "orders")
///     .send()
///     .await?;
/// let custom = client
///     .grant("urn:example:grant-type:magic")
///     .param("magic_word", "please")
///     .send()
///     .await?;
/// # let _ = (fresh, custom); Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a token request does nothing until it is sent"]
pub struct TokenRequest<'a> {
    client: &'a Client,
    grant: Grant<'a>,
    params: Vec<(String, String)>,
    /// The first invalid [`resource`](TokenRequest::resource), reported by `send`.
    refused: Option<crate::Error>,
}

/// What the request is for; the known grants keep their own checks.
#[derive(Debug)]
enum Grant<'a> {
    Code(AuthorizationCode),
    Refresh(&'a TokenSet),
    ClientCredentials(String),
    /// The grant's own parameters are held as secrets (subject tokens, assertions): redacted
    /// in `Debug`, wiped when dropped, sent or not.
    Other {
        grant_type: String,
        form: Vec<(&'static str, Secret)>,
    },
}

impl Client {
    /// [`exchange_code`](Client::exchange_code) as a [`TokenRequest`], to add parameters.
    pub fn exchange_code_request(&self, code: AuthorizationCode) -> TokenRequest<'_> {
        TokenRequest::new(self, Grant::Code(code))
    }

    /// [`refresh`](Client::refresh) as a [`TokenRequest`], to add parameters (`resource`,
    /// `audience`, a narrower `scope`).
    pub fn refresh_request<'a>(&'a self, tokens: &'a TokenSet) -> TokenRequest<'a> {
        TokenRequest::new(self, Grant::Refresh(tokens))
    }

    /// [`client_credentials`](Client::client_credentials) as a [`TokenRequest`], to add
    /// parameters.
    pub fn client_credentials_request<I, S>(&self, scopes: I) -> TokenRequest<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scope = join_scopes(scopes);
        TokenRequest::new(self, Grant::ClientCredentials(scope))
    }

    /// A grant type grantkit has no method for (an extension grant, RFC 6749 §4.5): the
    /// answer is parsed, checked and scrubbed like any token response, with this client's
    /// authentication (and DPoP proof, when it has a key). Add the grant's parameters with
    /// [`TokenRequest::param`].
    pub fn grant(&self, grant_type: impl Into<String>) -> TokenRequest<'_> {
        self.grant_with_form(grant_type.into(), Vec::new())
    }

    /// A grant whose own parameters grantkit sets (token exchange, JWT bearer).
    pub(crate) fn grant_with_form(
        &self,
        grant_type: String,
        form: Vec<(&'static str, Secret)>,
    ) -> TokenRequest<'_> {
        TokenRequest::new(self, Grant::Other { grant_type, form })
    }
}

impl<'a> TokenRequest<'a> {
    fn new(client: &'a Client, grant: Grant<'a>) -> Self {
        Self {
            client,
            grant,
            params: Vec::new(),
            refused: None,
        }
    }

    /// Adds a parameter; the same name may be added more than once (`resource`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Adds several parameters.
    pub fn params<I, K, V>(mut self, params: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.params
            .extend(params.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// A `resource` indicator (RFC 8707): the protected resource the token is for. May be
    /// given more than once. It must be an absolute URI without a fragment, else nothing is
    /// sent ([`Refusal::InvalidResource`](crate::error::Refusal::InvalidResource));
    /// [`param`](TokenRequest::param) sends any value unchecked. Naming
    /// any replaces the resources a code exchange or refresh would otherwise ask for again
    /// (the login's, or [`TokenSet::resources`]); the result records those it asked for.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        let resource = resource.into();
        if let (None, Err(e)) = (&self.refused, check_resource(Endpoint::Token, &resource)) {
            self.refused = Some(e);
        }
        self.param("resource", resource)
    }

    /// An `audience` (RFC 8693 §2.1, and vendors such as Auth0): the logical name of the
    /// target service. May be given more than once.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.param("audience", audience)
    }

    /// The `scope` parameter, space-joined. Not for the client credentials grant, which
    /// takes its scopes when it is made.
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scope = join_scopes(scopes);
        self.param("scope", scope)
    }

    /// Sends the request and parses the answer into a [`TokenSet`]. The known grants keep
    /// their checks: the code exchange validates the ID token, the refresh keeps what the
    /// server did not resend.
    pub async fn send(self) -> Result<TokenSet> {
        let TokenRequest {
            client,
            grant,
            params,
            refused,
        } = self;
        if let Some(refused) = refused {
            return Err(refused);
        }
        match grant {
            Grant::Code(code) => client.exchange_code_with(code, &params).await,
            Grant::Refresh(tokens) => client.refresh_with(tokens, &params).await,
            Grant::ClientCredentials(scope) => client.client_credentials_with(scope, &params).await,
            Grant::Other { grant_type, form } => {
                let mut sent = Vec::with_capacity(form.len() + 1);
                sent.push(("grant_type", grant_type.clone()));
                sent.extend(
                    form.iter()
                        .map(|(name, value)| (*name, value.expose().to_owned())),
                );
                client.token_request_with(&grant_type, sent, &params).await
            }
        }
    }
}
