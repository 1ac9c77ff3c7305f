//! RFC 7009 token revocation.

use crate::client::Client;
use crate::error::{Endpoint, Error, Refusal, Result};
use crate::grant::check_extra;
use crate::provider::AuthMethod;
use crate::secret::Secret;
use crate::token::TokenSet;

/// Which kind of token is passed to revocation or introspection (`token_type_hint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

impl TokenTypeHint {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

/// The form of a revocation or introspection request: the token, its hint, extra parameters.
#[derive(Debug)]
pub(crate) struct BackChannelForm<'a> {
    client: &'a Client,
    token: &'a Secret,
    params: Vec<(String, String)>,
}

impl<'a> BackChannelForm<'a> {
    pub(crate) fn new(client: &'a Client, token: &'a Secret) -> Self {
        Self {
            client,
            token,
            params: Vec::new(),
        }
    }

    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    pub(crate) fn param(&mut self, name: String, value: String) {
        self.params.push((name, value));
    }

    /// Checks the endpoint may be called and the extra parameters, then posts the form.
    pub(crate) async fn post(
        self,
        endpoint: Endpoint,
        hint: Option<TokenTypeHint>,
    ) -> Result<crate::http::HttpResponse> {
        self.post_accepting(endpoint, hint, None).await
    }

    /// [`post`](BackChannelForm::post) asking for `accept` instead of JSON, when given.
    pub(crate) async fn post_accepting(
        self,
        endpoint: Endpoint,
        hint: Option<TokenTypeHint>,
        accept: Option<&reqwest::header::HeaderValue>,
    ) -> Result<crate::http::HttpResponse> {
        self.client.check_may_call(endpoint)?;
        let mut form = vec![("token", self.token.expose().to_owned())];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint.as_str().to_owned()));
        }
        check_extra(endpoint, &form, &["token_type_hint"], &self.params)?;
        match accept {
            Some(accept) => {
                self.client
                    .post_form_accepting(endpoint, form, &self.params, false, accept)
                    .await
            }
            None => {
                self.client
                    .post_form(endpoint, form, &self.params, false)
                    .await
            }
        }
    }
}

/// A revocation request (RFC 7009) with extra parameters, made by
/// [`Client::revocation_request`].
#[derive(Debug)]
#[must_use = "a revocation does nothing until it is sent"]
pub struct RevocationRequest<'a> {
    form: BackChannelForm<'a>,
    hint: Option<TokenTypeHint>,
}

impl RevocationRequest<'_> {
    /// Which kind of token this is (`token_type_hint`).
    pub fn hint(mut self, hint: TokenTypeHint) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Adds a parameter; `token`, `token_type_hint` and client authentication are refused
    /// when sent ([`Refusal::ReservedParameter`]).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.form.param(name.into(), value.into());
        self
    }

    /// Sends the revocation. Unknown or already-invalid tokens succeed, as RFC 7009 says.
    pub async fn send(self) -> Result<()> {
        self.form.post(Endpoint::Revocation, self.hint).await?;
        Ok(())
    }
}

impl Client {
    /// Revokes one token (RFC 7009). Unknown or already-invalid tokens succeed, as the RFC says.
    pub async fn revoke(&self, token: &Secret, hint: Option<TokenTypeHint>) -> Result<()> {
        let mut request = self.revocation_request(token);
        request.hint = hint;
        request.send().await
    }

    /// [`revoke`](Client::revoke) as a request to add parameters to (a vendor's, or
    /// `resource`).
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client, tokens: grantkit::TokenSet) -> grantkit::Result<()> {
    /// use grantkit::TokenTypeHint;
    /// client
    ///     .revocation_request(tokens.access_token())
    ///     .hint(TokenTypeHint::AccessToken)
    ///     .param("logout_all_sessions", "true")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn revocation_request<'a>(&'a self, token: &'a Secret) -> RevocationRequest<'a> {
        RevocationRequest {
            form: BackChannelForm::new(self, token),
            hint: None,
        }
    }

    /// Revokes a whole token set on logout: the refresh token first (which ends the grant at
    /// most providers), then the access token.
    pub async fn revoke_tokens(&self, tokens: &TokenSet) -> Result<()> {
        if let Some(refresh) = tokens.refresh_token() {
            self.revoke(refresh, Some(TokenTypeHint::RefreshToken))
                .await?;
        }
        self.revoke(tokens.access_token(), Some(TokenTypeHint::AccessToken))
            .await
    }

    /// Refuses, before sending, a call the provider declared it would refuse: a public client
    /// where a preset's quirk says public clients are refused, or a method the endpoint's
    /// `*_endpoint_auth_methods_supported` does not list. Either way the provider would answer
    /// a bare 401 `invalid_client`, which a retry cannot fix.
    pub(crate) fn check_may_call(&self, endpoint: Endpoint) -> Result<()> {
        let method = self.auth_method();
        let reason =
            if method == AuthMethod::None && !self.provider().quirks().public_clients_can_revoke {
                Refusal::PublicClient {
                    provider: self.provider().name().to_owned(),
                }
            } else {
                match self.provider().endpoint_auth_methods(endpoint) {
                    Some(accepted) if !accepted.contains(&method) => Refusal::AuthMethod {
                        method,
                        accepted: accepted.to_vec(),
                    },
                    _ => return Ok(()),
                }
            };
        Err(Error::Refused { endpoint, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::ProviderMetadata;

    fn client(method: AuthMethod, secret: Option<&str>) -> Client {
        let metadata: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://op.example",
            "token_endpoint": "https://op.example/token",
            "revocation_endpoint": "https://op.example/revoke",
            "introspection_endpoint": "https://op.example/introspect",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
        }))
        .unwrap();
        let provider = metadata.into_provider("op").unwrap();
        let mut builder = Client::builder(provider, "c").auth_method(method);
        if let Some(secret) = secret {
            builder = builder.client_secret(secret);
        }
        builder.build().unwrap()
    }

    #[test]
    fn public_client_at_a_confidential_only_revocation_endpoint_is_refused_before_sending() {
        let public = client(AuthMethod::None, None);
        let e = public.check_may_call(Endpoint::Revocation).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Refused {
                    endpoint: Endpoint::Revocation,
                    reason: Refusal::AuthMethod { .. },
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("public"), "{e}");
        // Introspection declared nothing of its own: the client may try.
        public.check_may_call(Endpoint::Introspection).unwrap();
        let basic = client(AuthMethod::ClientSecretBasic, Some("s3cret"));
        basic.check_may_call(Endpoint::Revocation).unwrap();
    }
}
