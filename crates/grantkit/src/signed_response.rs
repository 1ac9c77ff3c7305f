//! Signed responses: JWT introspection responses (RFC 9701) and signed userinfo (OpenID Connect
//! Core §5.3.2), verified with the issuer's JWKS through the client's ID-token verifier (the
//! same key cache and key-rotation re-fetch as ID tokens), each against its own algorithms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{truncate, Endpoint, Error, Result, SignedResponseError};
use crate::http::HttpResponse;
use crate::oidc::jws_header;

/// The media type of a JWT introspection response (RFC 9701 §4, §5).
pub(crate) const INTROSPECTION_JWT: &str = "application/token-introspection+jwt";
/// The media type of signed userinfo (OpenID Connect Core §5.3.2).
pub(crate) const USERINFO_JWT: &str = "application/jwt";
/// The `typ` of a JWT introspection response (RFC 9701 §5).
const INTROSPECTION_TYP: &str = "token-introspection+jwt";

/// What a signed response must carry besides `iss` and `aud`.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// RFC 9701 §5: `typ: token-introspection+jwt`, `iat`, a `token_introspection` object.
    Introspection,
    /// OpenID Connect Core §5.3.2: a signed JWT of the claims, `iss` and `aud` checked.
    Userinfo,
}

/// RFC 9701 §6: "The default, if omitted, is RS256" for `introspection_signed_response_alg`;
/// a provider that lists no introspection algorithms signs for such a client with it.
const INTROSPECTION_DEFAULT_ALG: &str = "RS256";

/// The algorithms a signed `kind` answer may use: the one the client registered, else the
/// provider's own list for that endpoint (never the ID tokens': a provider may sign userinfo
/// with ES256 and ID tokens with RS256), else the specification's default. Userinfo has none
/// (OpenID Connect Discovery §3 and Registration §2 name no default algorithm): the empty list
/// then allows every supported asymmetric algorithm. `none` and HMAC are refused whatever the
/// list says.
fn allowed_algorithms(client: &Client, kind: Kind) -> Vec<String> {
    let provider = client.provider();
    let registered = client.signed_response_algs();
    let (registered, published, default) = match kind {
        Kind::Userinfo => (&registered.userinfo, provider.userinfo_signing_algs(), None),
        Kind::Introspection => (
            &registered.introspection,
            provider.introspection_signing_algs(),
            Some(INTROSPECTION_DEFAULT_ALG),
        ),
    };
    match (registered, published.is_empty(), default) {
        (Some(alg), _, _) => vec![alg.clone()],
        (None, false, _) => published.to_vec(),
        (None, true, default) => default.into_iter().map(str::to_owned).collect(),
    }
}

impl Kind {
    fn endpoint(self) -> Endpoint {
        match self {
            Kind::Introspection => Endpoint::Introspection,
            Kind::Userinfo => Endpoint::Userinfo,
        }
    }
}

/// Whether `response` is of media type `media_type` (parameters such as `charset` ignored).
pub(crate) fn has_media_type(response: &HttpResponse, media_type: &str) -> bool {
    response
        .header("content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// Verifies a signed response body: the JWS against the issuer's JWKS, then `typ` (for
/// introspection), `iss`, `aud` and the times. Returns the verified claims.
pub(crate) async fn verify(client: &Client, kind: Kind, body: &[u8]) -> Result<Map<String, Value>> {
    let endpoint = kind.endpoint();
    let refuse = |source| Error::from(SignedResponseError::Signature { endpoint, source });
    let jwt = std::str::from_utf8(body)
        .map(str::trim)
        .map_err(|_| refuse(crate::oidc::IdTokenError::Malformed("not UTF-8".into())))?;
    let verifier = client.require_id_token_verifier()?;
    let algs = allowed_algorithms(client, kind);
    let claims = verifier
        .verified_payload_allowing(jwt, &algs)
        .await
        .map_err(|e| match e {
            Error::IdToken(source) => refuse(source),
            other => other,
        })?;
    if let Kind::Introspection = kind {
        check_type(jwt)?;
    }
    let expected = Expected {
        endpoint,
        issuer: verifier.issuer(),
        client_id: verifier.client_id(),
        leeway: verifier.leeway(),
    };
    expected.check(kind, &claims, SystemTime::now())?;
    Ok(claims)
}

/// RFC 9701 §5: the header's `typ` is `token-introspection+jwt`; "application/" may prefix
/// it (RFC 7515 §4.1.9). Without it, any other JWT the provider signs for this client (an ID
/// token, signed userinfo) could be replayed as an introspection answer.
fn check_type(jwt: &str) -> Result<(), SignedResponseError> {
    let endpoint = Endpoint::Introspection;
    let header =
        jws_header(jwt).map_err(|source| SignedResponseError::Signature { endpoint, source })?;
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("none");
    let bare = typ
        .get(..12)
        .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| typ.get(12..).unwrap_or(""));
    if bare.eq_ignore_ascii_case(INTROSPECTION_TYP) {
        return Ok(());
    }
    Err(SignedResponseError::WrongType {
        endpoint,
        expected: INTROSPECTION_TYP,
        found: truncate(typ, 40),
    })
}

/// Why a provider-signed JWT is not addressed by this client's provider to this client.
pub(crate) enum Addressing {
    /// `iss` or `aud` is absent or not of its type.
    Missing(&'static str),
    /// `iss` names another issuer (the value found, truncated).
    Issuer(String),
    /// `aud` does not name the client.
    Audience,
}

/// The `iss` and `aud` checks every JWT the provider signs for this client shares (signed
/// introspection and userinfo here, JARM in `jarm.rs`): `iss` is `issuer`, `aud` (a string or
/// an array) names `client_id`.
pub(crate) fn check_addressing(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
) -> Result<(), Addressing> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(Addressing::Missing("iss"))?;
    if iss != issuer {
        return Err(Addressing::Issuer(truncate(iss, 200)));
    }
    let addressed = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => return Err(Addressing::Missing("aud")),
    };
    if addressed {
        Ok(())
    } else {
        Err(Addressing::Audience)
    }
}

/// What the claims are checked against.
struct Expected<'a> {
    endpoint: Endpoint,
    issuer: &'a str,
    client_id: &'a str,
    leeway: Duration,
}

impl Expected<'_> {
    fn check(
        &self,
        kind: Kind,
        claims: &Map<String, Value>,
        now: SystemTime,
    ) -> Result<(), SignedResponseError> {
        let endpoint = self.endpoint;
        let missing = |claim| SignedResponseError::MissingClaim { endpoint, claim };
        check_addressing(claims, self.issuer, self.client_id).map_err(|e| match e {
            Addressing::Missing(claim) => missing(claim),
            Addressing::Issuer(found) => SignedResponseError::IssuerMismatch {
                endpoint,
                expected: self.issuer.to_owned(),
                found,
            },
            Addressing::Audience => SignedResponseError::AudienceMismatch {
                endpoint,
                client_id: self.client_id.to_owned(),
            },
        })?;
        let number = |name: &str| claims.get(name).and_then(Value::as_f64).map(|n| n as i64);
        let (iat, exp) = (number("iat"), number("exp"));
        if let Kind::Introspection = kind {
            iat.ok_or(missing("iat"))?;
            if !claims
                .get("token_introspection")
                .is_some_and(Value::is_object)
            {
                return Err(missing("token_introspection"));
            }
        }
        self.check_times(iat, exp, now)
    }

    fn check_times(
        &self,
        iat: Option<i64>,
        exp: Option<i64>,
        now: SystemTime,
    ) -> Result<(), SignedResponseError> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let leeway = self.leeway.as_secs() as i64;
        let future = iat.is_some_and(|iat| iat > now.saturating_add(leeway));
        let past = exp.is_some_and(|exp| now > exp.saturating_add(leeway));
        if future || past {
            return Err(SignedResponseError::OutOfTime {
                endpoint: self.endpoint,
                iat,
                exp,
                now,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> Expected<'static> {
        Expected {
            endpoint: Endpoint::Introspection,
            issuer: "https://op.example",
            client_id: "c1",
            leeway: Duration::from_secs(60),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn introspection_claims_need_iss_aud_iat_and_token_introspection() {
        let now = SystemTime::now();
        let iat = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let good = json!({"iss":"https://op.example","aud":"c1","iat":iat,"token_introspection":{"active":true}});
        expected()
            .check(Kind::Introspection, &claims(good.clone()), now)
            .unwrap();
        let cases = [
            (
                json!({"aud":"c1","iat":iat,"token_introspection":{}}),
                "iss",
            ),
            (
                json!({"iss":"https://op.example","iat":iat,"token_introspection":{}}),
                "aud",
            ),
            (
                json!({"iss":"https://op.example","aud":"c1","token_introspection":{}}),
                "iat",
            ),
            (
                json!({"iss":"https://op.example","aud":"c1","iat":iat}),
                "token_introspection",
            ),
        ];
        for (value, claim) in cases {
            let e = expected()
                .check(Kind::Introspection, &claims(value), now)
                .unwrap_err();
            assert_eq!(
                e,
                SignedResponseError::MissingClaim {
                    endpoint: Endpoint::Introspection,
                    claim
                }
            );
        }
        let mut future = good.clone();
        future["iat"] = json!(iat + 3600);
        let e = expected()
            .check(Kind::Introspection, &claims(future), now)
            .unwrap_err();
        assert!(matches!(e, SignedResponseError::OutOfTime { .. }), "{e:?}");
        let mut other = good;
        other["iss"] = json!("https://evil.example");
        let e = expected()
            .check(Kind::Introspection, &claims(other), now)
            .unwrap_err();
        assert!(
            matches!(e, SignedResponseError::IssuerMismatch { .. }),
            "{e:?}"
        );
    }
}
