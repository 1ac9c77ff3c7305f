//! The OpenID Connect userinfo endpoint.

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::dpop::DPOP_HEADER;
use crate::error::SignedResponseError;
use crate::error::{Endpoint, Error, Refusal, Result};
use crate::http::{parse_json, HttpResponse};
use crate::signed_response::{has_media_type, verify, Kind, USERINFO_JWT};
use crate::token::{TokenSet, TokenType};

/// Claims about the user: the standard ones typed, and every claim in [`UserInfo::claims`],
/// so custom claims never need a type parameter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UserInfo {
    /// The subject identifier (always present).
    pub sub: String,
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Whether the provider verified the email address.
    pub email_verified: Option<bool>,
    /// Preferred username.
    pub preferred_username: Option<String>,
    /// Every claim, including the ones above.
    pub claims: Map<String, Value>,
}

impl UserInfo {
    /// Reads a userinfo JSON object; `sub` is required.
    pub fn from_claims(claims: Map<String, Value>) -> Result<Self, String> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let sub = text("sub")
            .filter(|s| !s.is_empty())
            .ok_or("the claims have no `sub`")?;
        // Some providers send "true"/"false" as strings.
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Ok(Self {
            sub,
            name: text("name"),
            email: text("email"),
            email_verified,
            preferred_username: text("preferred_username"),
            claims,
        })
    }

    /// One claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

impl Client {
    /// Fetches the userinfo of the user `tokens` belong to (Bearer header, RFC 6750 §2.1).
    ///
    /// When the token set holds validated ID-token claims, the userinfo `sub` must equal the
    /// ID token's (OpenID Connect Core §5.3.2); otherwise the answer is refused.
    ///
    /// A signed answer (`application/jwt`, from a client registered with
    /// `userinfo_signed_response_alg`) is verified as [`signed_userinfo`](Client::signed_userinfo)
    /// verifies it; use that method to refuse a plain JSON answer.
    pub async fn userinfo(&self, tokens: &TokenSet) -> Result<UserInfo> {
        self.userinfo_with(tokens, false).await
    }

    /// [`userinfo`](Client::userinfo) for a client registered with
    /// `userinfo_signed_response_alg`: the answer must be a JWT (`application/jwt`) signed
    /// with a key of the issuer's JWKS (`alg: none` and HMAC refused), whose `iss` is the
    /// issuer and `aud` this client, and not expired; a plain JSON answer is refused
    /// ([`SignedResponseError::NotSigned`]), so a party between client and provider cannot
    /// swap the claims. The `sub` check stays. Needs a provider with an issuer and a JWKS URI.
    ///
    /// ```no_run
    /// # async fn run(client: grantkit::Client, tokens: grantkit::TokenSet) -> grantkit::Result<()> {
    /// let me = client.signed_userinfo(&tokens).await?;
    /// println!("{} <{:?}>", me.sub, me.email);
    /// # Ok(()) }
    /// ```
    pub async fn signed_userinfo(&self, tokens: &TokenSet) -> Result<UserInfo> {
        self.userinfo_with(tokens, true).await
    }

    async fn userinfo_with(&self, tokens: &TokenSet, signed: bool) -> Result<UserInfo> {
        let url = self.endpoint_url(Endpoint::Userinfo)?.clone();
        crate::mtls::check_token_binding(
            self.tls_identity(),
            tokens.access_token().expose(),
            tokens.extra(),
        )?;
        let accept = if signed {
            USERINFO_JWT
        } else {
            "application/json"
        };
        // The access token travels in a header an error page could echo back.
        let response = self
            .userinfo_request(&url, tokens, accept)
            .await
            .map_err(|e| e.scrub(&[tokens.access_token().expose()]))?;
        let claims: Map<String, Value> = if has_media_type(&response, USERINFO_JWT) {
            verify(self, Kind::Userinfo, response.body()).await?
        } else if signed {
            return Err(SignedResponseError::NotSigned {
                endpoint: Endpoint::Userinfo,
            }
            .into());
        } else {
            parse_json(Endpoint::Userinfo, response.body())?
        };
        let info = UserInfo::from_claims(claims).map_err(|reason| Error::InvalidResponse {
            endpoint: Endpoint::Userinfo,
            reason: reason.to_owned(),
        })?;
        match tokens.id_token_claims() {
            Some(id) if id.sub != info.sub => Err(Error::UserinfoSubjectMismatch),
            _ => Ok(info),
        }
    }
}

impl Client {
    /// GETs the userinfo endpoint with the access token: a Bearer header, or for a DPoP-bound
    /// token (feature `dpop`) `Authorization: DPoP` plus a proof, retried once when the server
    /// answers with a nonce challenge.
    async fn userinfo_request(
        &self,
        url: &url::Url,
        tokens: &TokenSet,
        accept: &'static str,
    ) -> Result<HttpResponse> {
        let access_token = tokens.access_token().expose();
        let request = || {
            self.http_for(Endpoint::Userinfo)
                .client()
                .get(url.clone())
                .header(ACCEPT, accept)
        };
        if *tokens.token_type() == TokenType::DPoP {
            let dpop = self.dpop().ok_or(Error::Refused {
                endpoint: Endpoint::Userinfo,
                reason: Refusal::NoDpopKey,
            })?;
            let mut retried = false;
            loop {
                let proof = dpop.proof(&reqwest::Method::GET, url, Some(access_token))?;
                let response = self
                    .http_for(Endpoint::Userinfo)
                    .execute(
                        Endpoint::Userinfo,
                        request()
                            .header(AUTHORIZATION, format!("DPoP {access_token}"))
                            .header(DPOP_HEADER, proof),
                    )
                    .await?;
                let challenged =
                    dpop.resource_nonce_demanded(url, response.status(), response.headers());
                if challenged && !retried {
                    retried = true;
                    continue;
                }
                return response.error_for_status();
            }
        }
        let request = request().header(AUTHORIZATION, format!("Bearer {access_token}"));
        self.http_for(Endpoint::Userinfo)
            .execute(Endpoint::Userinfo, request)
            .await?
            .error_for_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_and_raw_claims() {
        let claims = serde_json::from_str(
            r#"{"sub":"u1","email":"a@b","email_verified":"true","tier":"gold"}"#,
        )
        .unwrap();
        let info = UserInfo::from_claims(claims).unwrap();
        assert_eq!(info.sub, "u1");
        assert_eq!(info.email_verified, Some(true));
        assert_eq!(info.claim("tier").unwrap(), "gold");
        assert!(UserInfo::from_claims(Map::new()).is_err());
    }
}
