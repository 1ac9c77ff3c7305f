//! Grants at the token endpoint: authorization code, refresh token, client credentials, and
//! the one form POST every grant (known or not) goes through.

use std::time::SystemTime;

use crate::callback::AuthorizationCode;
use crate::client::{join_scopes, Client};
use crate::error::{Endpoint, Error, Refusal, Result};
use crate::oidc::{Expectations, IdTokenClaims, IdTokenError};
use crate::resource_indicator::{resource_values, RESOURCE};
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
        self.exchange_code_with(code, &[]).await
    }

    /// [`exchange_code`](Client::exchange_code) with extra form parameters.
    pub(crate) async fn exchange_code_with(
        &self,
        code: AuthorizationCode,
        extra: &[(String, String)],
    ) -> Result<TokenSet> {
        let AuthorizationCode {
            code,
            code_verifier,
            redirect_uri,
            nonce,
            scope,
            max_age,
            acr_values,
            resources,
        } = code;
        let extra = with_default_resources(extra, &resources);
        let extra = extra.as_ref();
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
        // Refused before the keys are prefetched below: nothing at all is sent.
        check_extra(
            Endpoint::Token,
            &form,
            grant_params("authorization_code"),
            extra,
        )?;
        if let (true, Some(verifier)) = (openid, self.id_token_verifier()) {
            // One round trip instead of two on a cold client: the keys arrive with the tokens.
            verifier.jwks.prefetch();
        }
        let mut tokens = self
            .token_request_with("authorization_code", form, extra)
            .await?;
        let expect = Expectations {
            nonce: nonce.as_ref(),
            max_age,
            acr_values: &acr_values,
            ..Expectations::default()
        };
        // What the login asked the provider to prove can only be checked on its ID token.
        let required = openid || max_age.is_some() || !acr_values.is_empty();
        self.validate_id_token(&mut tokens, expect, required)
            .await?;
        Ok(tokens.with_default_scope(scope))
    }

    /// Refreshes `tokens`. The result keeps the old refresh token when the server sends no new
    /// one, and the old scope when it names none (RFC 6749 §6). With a provider that rotates
    /// refresh tokens, persist the result before using it: the old refresh token is dead.
    ///
    /// `invalid_grant` means the grant is gone: see [`Error::is_reauthorization_required`].
    pub async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet> {
        self.refresh_with(tokens, &[]).await
    }

    /// [`refresh`](Client::refresh) with extra form parameters.
    pub(crate) async fn refresh_with(
        &self,
        tokens: &TokenSet,
        extra: &[(String, String)],
    ) -> Result<TokenSet> {
        if !self.provider().quirks().refresh_tokens {
            return Err(Error::NoRefreshToken);
        }
        let refresh_token = tokens.refresh_token().ok_or(Error::NoRefreshToken)?;
        let extra = with_default_resources(extra, tokens.resources());
        let extra = extra.as_ref();
        let mut form = Vec::with_capacity(4);
        form.push(("grant_type", "refresh_token".to_owned()));
        form.push(("refresh_token", refresh_token.expose().to_owned()));
        let mut fresh = self
            .token_request_with("refresh_token", form, extra)
            .await?;
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
        let scope = join_scopes(scopes);
        self.client_credentials_with(scope, &[]).await
    }

    /// [`client_credentials`](Client::client_credentials) with the scope joined, and extra
    /// form parameters.
    pub(crate) async fn client_credentials_with(
        &self,
        scope: String,
        extra: &[(String, String)],
    ) -> Result<TokenSet> {
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if !scope.is_empty() {
            form.push(("scope", scope.clone()));
        }
        let tokens = self
            .token_request_with("client_credentials", form, extra)
            .await?;
        Ok(tokens.with_default_scope((!scope.is_empty()).then_some(scope)))
    }

    /// Posts a grant to the token endpoint (with a DPoP proof when the client has a key) and
    /// parses the answer.
    pub(crate) async fn token_request(
        &self,
        grant_type: &str,
        form: Vec<(&'static str, String)>,
    ) -> Result<TokenSet> {
        self.token_request_with(grant_type, form, &[]).await
    }

    /// [`token_request`](Client::token_request) with the caller's extra parameters after the
    /// form; an extra parameter may not repeat one grantkit sets.
    pub(crate) async fn token_request_with(
        &self,
        grant_type: &str,
        form: Vec<(&'static str, String)>,
        extra: &[(String, String)],
    ) -> Result<TokenSet> {
        check_extra(Endpoint::Token, &form, grant_params(grant_type), extra)?;
        tracing::debug!(
            provider = self.provider().name(),
            grant_type,
            "token request"
        );
        let response = self.post_form(Endpoint::Token, form, extra, true).await?;
        let mut tokens = TokenSet::from_response(response.body(), SystemTime::now())
            .and_then(|tokens| {
                let fields = &self.provider().quirks().token_fields;
                let exchange = grant_type == "authorization_code";
                tokens.check_fields(fields, exchange).map(|()| tokens)
            })
            .map_err(|reason| Error::InvalidResponse {
                endpoint: Endpoint::Token,
                reason,
            })?;
        // RFC 8705 §3: a token bound to another certificate than ours is of no use to us.
        crate::mtls::check_token_binding(
            self.tls_identity(),
            tokens.access_token().expose(),
            tokens.extra(),
        )?;
        tokens.set_resources(resource_values(extra).map(str::to_owned).collect());
        Ok(tokens)
    }
}

/// `extra`, with `resources` as `resource` parameters when it names none (RFC 8707 §2.2: the
/// code exchange and a refresh ask for the resources of the login, or of the tokens refreshed,
/// unless the caller narrows them).
fn with_default_resources<'e>(
    extra: &'e [(String, String)],
    resources: &[String],
) -> std::borrow::Cow<'e, [(String, String)]> {
    if resources.is_empty() || resource_values(extra).next().is_some() {
        return std::borrow::Cow::Borrowed(extra);
    }
    let mut all = extra.to_vec();
    all.extend(resources.iter().map(|r| (RESOURCE.to_owned(), r.clone())));
    std::borrow::Cow::Owned(all)
}

/// Names client authentication may add to any back-channel form.
const AUTHENTICATION: [&str; 5] = [
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "grant_type",
];

/// The parameters a grant grantkit knows carries itself, also when this request omits them (no
/// PKCE verifier, no actor): an extra one would slip past the checks the grant's own method
/// makes, so the grant's method is the only way to send them.
fn grant_params(grant_type: &str) -> &'static [&'static str] {
    match grant_type {
        "authorization_code" => &["code", "code_verifier", "redirect_uri"],
        "refresh_token" => &["refresh_token"],
        "urn:ietf:params:oauth:grant-type:device_code" => &["device_code"],
        "urn:ietf:params:oauth:grant-type:token-exchange" => &[
            "subject_token",
            "subject_token_type",
            "actor_token",
            "actor_token_type",
        ],
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => &["assertion"],
        _ => &[],
    }
}

/// Refuses an extra parameter that names one grantkit sends itself in this request (its form,
/// the grant's own parameters, or client authentication): a second copy would make the server
/// pick one, and most refuse repeated parameters anyway. Repeating an extra one (`resource`
/// twice) is allowed.
pub(crate) fn check_extra(
    endpoint: Endpoint,
    form: &[(&'static str, String)],
    own: &[&str],
    extra: &[(String, String)],
) -> Result<()> {
    let reserved = |name: &str| {
        AUTHENTICATION.contains(&name)
            || own.contains(&name)
            || form.iter().any(|(sent, _)| *sent == name)
    };
    match extra.iter().find(|(name, _)| reserved(name)) {
        Some((name, _)) => Err(Error::Refused {
            endpoint,
            reason: Refusal::ReservedParameter {
                name: crate::error::truncate(name, 50),
            },
        }),
        None => Ok(()),
    }
}
