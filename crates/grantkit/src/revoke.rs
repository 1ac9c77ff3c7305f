//! RFC 7009 token revocation.

use crate::client::Client;
use crate::error::{Endpoint, Error, Result};
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

impl Client {
    /// Revokes one token (RFC 7009). Unknown or already-invalid tokens succeed, as the RFC says.
    pub async fn revoke(&self, token: &Secret, hint: Option<TokenTypeHint>) -> Result<()> {
        self.check_may_call(Endpoint::Revocation)?;
        let mut form = vec![("token", token.expose().to_owned())];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint.as_str().to_owned()));
        }
        self.post_form(Endpoint::Revocation, form, &[], false)
            .await?;
        Ok(())
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

    /// Providers that refuse public clients at revocation/introspection declare it as a quirk;
    /// say so plainly instead of letting the call fail with a bare 401.
    pub(crate) fn check_may_call(&self, endpoint: Endpoint) -> Result<()> {
        if self.auth_method() == AuthMethod::None
            && !self.provider().quirks().public_clients_can_revoke
        {
            return Err(Error::Config(format!(
                "provider `{}` does not let public clients call its {endpoint} endpoint; use a confidential client",
                self.provider().name()
            )));
        }
        Ok(())
    }
}
