//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a signed
//! logout token to the application's back-channel logout URI when a user's session ends there;
//! the application checks it (§2.6) and ends its own sessions for that `sub` and/or `sid`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{truncate, Error, IdTokenError, LogoutTokenError, Result};
use crate::oidc::jws_header;
use crate::store::ReplayGuard;

/// The event a logout token must carry (§2.4).
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token that passed every check: end the sessions it names.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LogoutToken {
    /// The issuer (this client's provider).
    pub iss: String,
    /// The user whose sessions end, when the provider names them.
    pub sub: Option<String>,
    /// The provider's session that ended (the `sid` of the ID tokens it issued), when named.
    pub sid: Option<String>,
    /// The token's id, now remembered by the [`ReplayGuard`].
    pub jti: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
}

impl Client {
    /// Checks a back-channel logout token, the `logout_token` member of the form the provider
    /// POSTed to the application's back-channel logout URI, as OpenID Connect Back-Channel
    /// Logout 1.0 §2.6 says: signature from the provider's JWKS (as for ID tokens), `iss`,
    /// `aud`, `iat`/`exp` within the leeway, `typ` `logout+jwt` when present, the back-channel
    /// logout event, `sub` and/or `sid`, no `nonce`, and a `jti` not seen before by `replay`
    /// (share one [`ReplayGuard`] between replicas, as the token store is shared).
    ///
    /// On `Ok`, end the application's sessions for the token's `sid` (or every session of its
    /// `sub`) and answer `200`; on an error, answer `400` (§2.8) and end nothing.
    pub async fn verify_logout_token(
        &self,
        logout_token: &str,
        replay: &dyn ReplayGuard,
    ) -> Result<LogoutToken> {
        let verifier = self.require_id_token_verifier()?;
        let payload = verifier
            .verified_payload(logout_token)
            .await
            .map_err(|e| match e {
                Error::IdToken(e) => LogoutTokenError::Signature(e).into(),
                other => other,
            })?;
        check_type(logout_token)?;
        let now = SystemTime::now();
        let token = check_claims(
            &payload,
            verifier.issuer(),
            verifier.client_id(),
            verifier.leeway(),
            now,
        )?;
        let expires = UNIX_EPOCH + Duration::from_secs(u64::try_from(token.exp).unwrap_or(0));
        if !replay.first_use(&token.iss, &token.jti, expires).await? {
            return Err(LogoutTokenError::Replayed.into());
        }
        Ok(token)
    }
}

/// §2.4: logout tokens SHOULD be typed `logout+jwt`; a token typed as anything else (an ID
/// token's `JWT`, an access token's `at+jwt`) is not one.
fn check_type(token: &str) -> Result<(), LogoutTokenError> {
    let header = jws_header(token).map_err(LogoutTokenError::Signature)?;
    match header.get("typ").and_then(Value::as_str) {
        None => Ok(()),
        Some(typ)
            if typ.eq_ignore_ascii_case("logout+jwt")
                || typ.eq_ignore_ascii_case("application/logout+jwt") =>
        {
            Ok(())
        }
        Some(typ) => Err(LogoutTokenError::WrongType(truncate(typ, 40))),
    }
}

/// Every claim check of §2.6 after the signature, at `now`.
fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    leeway: Duration,
    now: SystemTime,
) -> Result<LogoutToken, LogoutTokenError> {
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str);
    let number = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_f64)
            .map(|n| n as i64)
            .ok_or(LogoutTokenError::MissingClaim(name))
    };
    let iss = text("iss").ok_or(LogoutTokenError::MissingClaim("iss"))?;
    if iss != issuer {
        return Err(LogoutTokenError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: truncate(iss, 200),
        });
    }
    let addressed = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => return Err(LogoutTokenError::MissingClaim("aud")),
    };
    if !addressed {
        return Err(LogoutTokenError::AudienceMismatch(client_id.to_owned()));
    }
    let (iat, exp) = (number("iat")?, number("exp")?);
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let leeway = leeway.as_secs() as i64;
    if iat > now.saturating_add(leeway) || now > exp.saturating_add(leeway) {
        return Err(LogoutTokenError::OutOfTime { iat, exp, now });
    }
    let jti = text("jti").ok_or(LogoutTokenError::MissingClaim("jti"))?;
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::MissingEvent);
    }
    let (sub, sid) = (text("sub"), text("sid"));
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    Ok(LogoutToken {
        iss: iss.to_owned(),
        sub: sub.map(str::to_owned),
        sid: sid.map(str::to_owned),
        jti: truncate(jti, 200),
        iat,
        exp,
    })
}

impl From<IdTokenError> for LogoutTokenError {
    fn from(e: IdTokenError) -> Self {
        LogoutTokenError::Signature(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://op.example";

    fn at(now: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(now as u64)
    }

    fn good() -> Value {
        json!({
            "iss": ISS, "aud": ["rp", "other"], "iat": 1_000, "exp": 1_120, "jti": "j1",
            "sid": "s1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    fn check(claims: Value) -> Result<LogoutToken, LogoutTokenError> {
        let Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        check_claims(&map, ISS, "rp", Duration::from_secs(60), at(1_010))
    }

    fn without(name: &str) -> Value {
        let mut c = good();
        c.as_object_mut().unwrap().remove(name);
        c
    }

    fn with(name: &str, value: Value) -> Value {
        let mut c = good();
        c[name] = value;
        c
    }

    #[test]
    fn a_good_token_names_its_session() {
        let t = check(good()).unwrap();
        assert_eq!(
            (t.sid.as_deref(), t.sub, t.jti.as_str()),
            (Some("s1"), None, "j1")
        );
    }

    #[test]
    fn each_check_of_section_2_6_refuses_its_own_fault() {
        use LogoutTokenError as E;
        type Expect = fn(&E) -> bool;
        let cases: Vec<(Value, Expect)> = vec![
            (with("iss", json!("https://evil.example")), |e| {
                matches!(e, E::IssuerMismatch { .. })
            }),
            (with("aud", json!("someone-else")), |e| {
                matches!(e, E::AudienceMismatch(_))
            }),
            (without("aud"), |e| matches!(e, E::MissingClaim("aud"))),
            (with("exp", json!(900)), |e| {
                matches!(e, E::OutOfTime { .. })
            }),
            (with("iat", json!(5_000)), |e| {
                matches!(e, E::OutOfTime { .. })
            }),
            (without("exp"), |e| matches!(e, E::MissingClaim("exp"))),
            (without("jti"), |e| matches!(e, E::MissingClaim("jti"))),
            (without("events"), |e| matches!(e, E::MissingEvent)),
            (
                with("events", json!({BACKCHANNEL_LOGOUT_EVENT: "yes"})),
                |e| matches!(e, E::MissingEvent),
            ),
            (
                with(
                    "events",
                    json!({"http://schemas.openid.net/event/other": {}}),
                ),
                |e| matches!(e, E::MissingEvent),
            ),
            (without("sid"), |e| matches!(e, E::NoSubject)),
            (with("nonce", json!("n")), |e| matches!(e, E::Nonce)),
        ];
        for (claims, expected) in cases {
            let e = check(claims.clone()).unwrap_err();
            assert!(expected(&e), "{claims} gave {e:?}");
        }
        // `sub` alone is enough.
        let t = check(with("sub", json!("u1"))).unwrap();
        assert_eq!(t.sub.as_deref(), Some("u1"));
    }
}
