//! Grants at the token endpoint: authorization code, refresh token, client credentials.

use std::time::SystemTime;

use crate::callback::AuthorizationCode;
use crate::client::Client;
use crate::error::{Endpoint, Error, Result};
use crate::oidc::{Expectations, IdTokenClaims, IdTokenError};
use crate::secret::Secret;
use crate::token::TokenSet;

impl Client {
    /// Exchanges a verified authorization code (with its PKCE verifier and redirect URI) for tokens.
    ///
    /// When the response omits `scope`, the requested scope is recorded (RFC 6749 §5.1).
    /// With `openid` in the scope, the response's ID token is validated here (signature from the
    /// provider's JWKS, every claim of OpenID Connect Core §3.1.3.7, the login's `nonce`,
    /// `at_hash`) and its claims recorded ([`TokenSet::id_token_claims`]); a missing ID token, or
    /// a provider without the issuer and JWKS URI to check it, is an error. On a cold client the
    /// JWKS is fetched while the code is exchanged, not after.
    pub async fn exchange_code(&self, code: AuthorizationCode) -> Result<TokenSet> {
        let AuthorizationCode {
            code,
            code_verifier,
            redirect_uri,
            nonce,
            scope,
        } = code;
        let mut form = Vec::with_capacity(6);
        form.push(("grant_type", "authorization_code".to_owned()));
        form.push(("code", code.into_inner()));
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri));
        }
        if let Some(verifier) = code_verifier {
            form.push(("code_verifier", verifier.into_inner()));
        }
        let openid = scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
        if let (true, Some(verifier)) = (openid, self.id_token_verifier()) {
            // One round trip instead of two on a cold client: the keys arrive with the tokens.
            verifier.jwks.prefetch();
        }
        let mut tokens = self.token_request("authorization_code", form).await?;
        let expect = Expectations {
            nonce: nonce.as_ref(),
            ..Expectations::default()
        };
        self.validate_id_token(&mut tokens, expect, openid).await?;
        Ok(tokens.with_default_scope(scope))
    }

    /// Refreshes `tokens`. The result keeps the old refresh token when the server sends no new
    /// one, and the old scope when it names none (RFC 6749 §6). With a provider that rotates
    /// refresh tokens, persist the result before using it: the old refresh token is dead.
    ///
    /// `invalid_grant` means the grant is gone: see [`Error::is_reauthorization_required`].
    pub async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet> {
        if !self.provider().quirks().refresh_tokens {
            return Err(Error::NoRefreshToken);
        }
        let refresh_token = tokens.refresh_token().ok_or(Error::NoRefreshToken)?;
        let mut form = Vec::with_capacity(4);
        form.push(("grant_type", "refresh_token".to_owned()));
        form.push(("refresh_token", refresh_token.expose().to_owned()));
        let mut fresh = self.token_request("refresh_token", form).await?;
        // OpenID Connect Core §12.2: a refreshed ID token is for the same user, from the same
        // issuer, for the same client, about the same authentication.
        let expect = Expectations {
            previous: tokens.id_token_claims(),
            ..Expectations::default()
        };
        self.validate_id_token(&mut fresh, expect, false).await?;
        Ok(fresh.inherit(tokens))
    }

    /// Validates an ID token received some other way (e.g. posted by a SPA) exactly as the code
    /// exchange does: signature from the provider's JWKS, `iss`, `aud`/`azp`, `exp`/`iat`, and
    /// `nonce` when one is given. Needs a provider with an issuer and a JWKS URI.
    pub async fn verify_id_token(
        &self,
        id_token: &Secret,
        nonce: Option<&Secret>,
    ) -> Result<IdTokenClaims> {
        self.require_id_token_verifier()?
            .verify(
                id_token,
                Expectations {
                    nonce,
                    ..Expectations::default()
                },
            )
            .await
    }

    /// Validates the response's ID token, if this is an OpenID Connect client, and records its claims.
    pub(crate) async fn validate_id_token(
        &self,
        tokens: &mut TokenSet,
        expect: Expectations<'_>,
        required: bool,
    ) -> Result<()> {
        let verifier = match self.id_token_verifier() {
            Some(verifier) => verifier,
            // `openid` was asked for: an ID token we cannot check is not silently accepted.
            None if required => return self.require_id_token_verifier().map(drop),
            None => return Ok(()),
        };
        let Some(raw) = tokens.id_token().cloned() else {
            return if required {
                Err(IdTokenError::Missing.into())
            } else {
                Ok(())
            };
        };
        let access_token = tokens.access_token().clone();
        let expect = Expectations {
            access_token: Some(&access_token),
            ..expect
        };
        let claims = verifier.verify(&raw, expect).await?;
        tokens.set_id_token_claims(claims);
        Ok(())
    }

    /// The client credentials grant (RFC 6749 §4.4): a token for the client itself.
    pub async fn client_credentials<I, S>(&self, scopes: I) -> Result<TokenSet>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if !scope.is_empty() {
            form.push(("scope", scope.clone()));
        }
        let tokens = self.token_request("client_credentials", form).await?;
        Ok(tokens.with_default_scope((!scope.is_empty()).then_some(scope)))
    }

    /// Posts a grant to the token endpoint (with a DPoP proof when the client has a key) and
    /// parses the answer.
    pub(crate) async fn token_request(
        &self,
        grant_type: &'static str,
        form: Vec<(&'static str, String)>,
    ) -> Result<TokenSet> {
        tracing::debug!(
            provider = self.provider().name(),
            grant_type,
            "token request"
        );
        let response = self.post_form(Endpoint::Token, form, &[], true).await?;
        let tokens = TokenSet::from_response(response.body(), SystemTime::now())
            .and_then(|tokens| {
                let fields = &self.provider().quirks().token_fields;
                let exchange = grant_type == "authorization_code";
                tokens.check_fields(fields, exchange).map(|()| tokens)
            })
            .map_err(|reason| Error::InvalidResponse {
                endpoint: Endpoint::Token,
                reason,
            })?;
        Ok(tokens)
    }
}
