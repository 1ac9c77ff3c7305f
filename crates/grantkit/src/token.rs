//! `TokenSet`: what a token endpoint hands back, parsed leniently and kept whole.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::oidc::IdTokenClaims;
use crate::provider::{TokenField, TokenFieldKind};
use crate::secret::Secret;
use crate::token_response::RawResponse;

/// The `token_type` of a token response, compared case-insensitively (`bearer` is `Bearer`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// RFC 6750 Bearer (also when the server omits `token_type`).
    Bearer,
    /// RFC 9449 DPoP-bound.
    DPoP,
    /// Anything else, as sent.
    Other(String),
}

impl TokenType {
    fn parse(value: &str) -> Self {
        if value.eq_ignore_ascii_case("bearer") {
            TokenType::Bearer
        } else if value.eq_ignore_ascii_case("dpop") {
            TokenType::DPoP
        } else {
            TokenType::Other(value.to_owned())
        }
    }

    /// The scheme to use in an `Authorization` header.
    pub fn as_str(&self) -> &str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::DPoP => "DPoP",
            TokenType::Other(s) => s,
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TokenType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TokenType::parse(&String::deserialize(d)?))
    }
}

/// Tokens from one grant: access token, its type and expiry, and whatever else came with it.
///
/// Parsing is lenient where real providers differ and strict where safety needs it:
/// `token_type` in any case or missing (Bearer), `expires_in` as a number or a numeric string,
/// unknown fields kept in [`TokenSet::extra`] — but a response without an `access_token` is an error.
/// The expiry is stored as an absolute time, so a persisted set stays correct after a restart.
///
/// `Serialize`/`Deserialize` give the storage format used by token stores (it contains the
/// secrets in clear: protect the storage). `Debug` redacts every secret.
///
/// ```
/// use grantkit::TokenSet;
/// let tokens = TokenSet::from_response(
///     br#"{"access_token":"at","token_type":"bearer","expires_in":"3600","x_user_id":10579}"#,
///     std::time::SystemTime::now(),
/// )?;
/// assert_eq!(tokens.token_type().as_str(), "Bearer");
/// assert_eq!(tokens.extra()["x_user_id"], 10579);
/// assert!(!tokens.expires_within(std::time::Duration::from_secs(60)));
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    access_token: Secret,
    token_type: TokenType,
    /// Seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<Secret>,
    /// Claims of the validated ID token (set by the code exchange of an OpenID Connect client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token_claims: Option<IdTokenClaims>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    extra: Map<String, Value>,
    /// The RFC 8707 `resource` indicators the access token was asked for (added in 0.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    resources: Vec<String>,
    /// Access tokens the same refresh token minted for other resources, by indicator: stored
    /// with the set, so that one rotating refresh token serves them all (added in 0.2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    resource_tokens: BTreeMap<String, TokenSet>,
}

// By hand: providers put secrets in extra members (`device_secret`, Slack's
// `authed_user.access_token`), so only their names are printed.
impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token)
            .field("id_token_claims", &self.id_token_claims)
            .field("extra", &ExtraNames(&self.extra))
            .field("resources", &self.resources)
            .field("resource_tokens", &self.resource_tokens)
            .finish()
    }
}

/// Debugs a map of extra response members as their names only: the values may be secrets.
pub(crate) struct ExtraNames<'a>(pub(crate) &'a Map<String, Value>);

impl fmt::Debug for ExtraNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl TokenSet {
    /// A token set holding just an access token that never expires, for static tokens
    /// (personal access tokens, API keys used as Bearer tokens).
    pub fn from_access_token(access_token: impl Into<Secret>) -> Self {
        Self {
            access_token: access_token.into(),
            token_type: TokenType::Bearer,
            expires_at: None,
            refresh_token: None,
            scope: None,
            id_token: None,
            id_token_claims: None,
            extra: Map::new(),
            resources: Vec::new(),
            resource_tokens: BTreeMap::new(),
        }
    }

    /// Parses a token endpoint's JSON body received at `received_at`.
    ///
    /// The error is a short reason without any token material.
    pub fn from_response(body: &[u8], received_at: SystemTime) -> Result<Self, String> {
        let mut raw = RawResponse::parse(body)?;
        let access_token = match raw.take("access_token") {
            Some(Value::String(s)) if !s.is_empty() => Secret::new(s),
            Some(_) => return Err("`access_token` is empty or not a string".into()),
            None => return Err("the token response has no `access_token`".into()),
        };
        let token_type = match raw.take("token_type") {
            Some(Value::String(s)) if !s.is_empty() => TokenType::parse(&s),
            _ => TokenType::Bearer,
        };
        let expires_in = raw.take("expires_in");
        let expires_at = expires_in
            .as_ref()
            .and_then(lenient_seconds)
            .map(|secs| unix(received_at).saturating_add(secs));
        if let (None, Some(unreadable)) = (expires_at, expires_in) {
            // Keep an unreadable `expires_in` visible in `extra` rather than dropping it silently.
            raw.extra.insert("expires_in".to_owned(), unreadable);
        }
        let mut string = |name: &str| match raw.take(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let refresh_token = string("refresh_token").map(Secret::new);
        let scope = string("scope");
        let id_token = string("id_token").map(Secret::new);
        Ok(Self {
            access_token,
            token_type,
            expires_at,
            refresh_token,
            scope,
            id_token,
            id_token_claims: None,
            extra: raw.extra,
            resources: Vec::new(),
            resource_tokens: BTreeMap::new(),
        })
    }

    /// The access token.
    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    /// The token type (Bearer unless the server said otherwise).
    pub fn token_type(&self) -> &TokenType {
        &self.token_type
    }

    /// When the access token expires, if the server said.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at.map(|s| UNIX_EPOCH + Duration::from_secs(s))
    }

    /// `true` when the access token expires within `margin` from now (never for tokens without expiry).
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_within_at(margin, SystemTime::now())
    }

    /// [`TokenSet::expires_within`] at a given time.
    pub fn expires_within_at(&self, margin: Duration, now: SystemTime) -> bool {
        match self.expires_at {
            Some(at) => unix(now).saturating_add(margin.as_secs()) >= at,
            None => false,
        }
    }

    /// The refresh token, if one was issued (or kept from an earlier response).
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// The granted scope string, as sent (or as requested, when the server omitted it).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The granted scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }

    /// The raw ID token (OpenID Connect), if one was issued.
    pub fn id_token(&self) -> Option<&Secret> {
        self.id_token.as_ref()
    }

    /// The validated claims of the ID token: who logged in. Set when an OpenID Connect client
    /// (a provider with an issuer and a JWKS URI) exchanged a code or refreshed.
    pub fn id_token_claims(&self) -> Option<&IdTokenClaims> {
        self.id_token_claims.as_ref()
    }

    pub(crate) fn set_id_token_claims(&mut self, claims: IdTokenClaims) {
        self.id_token_claims = Some(claims);
    }

    /// The `resource` indicators (RFC 8707) the access token was asked for: those of the
    /// login, or those the request named. A refresh asks for them again unless it names its own.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    pub(crate) fn set_resources(&mut self, resources: Vec<String>) {
        self.resources = resources;
    }

    /// The access token held for `resource`: the main one when it was asked for that resource
    /// alone, else one [`TokenSource::access_token_for`](crate::TokenSource::access_token_for)
    /// obtained with this set's refresh token. It carries no refresh token of its own.
    pub fn resource_token(&self, resource: &str) -> Option<&TokenSet> {
        match self.resources.as_slice() {
            [only] if only == resource => Some(self),
            _ => self.resource_tokens.get(resource),
        }
    }

    /// Keeps `fresh`, a refresh for `resource`, as that resource's access token. Its refresh
    /// token replaces this set's: with rotation the old one is dead for every resource.
    pub(crate) fn with_resource_token(mut self, resource: &str, mut fresh: TokenSet) -> Self {
        if matches!(self.resources.as_slice(), [only] if only == resource) {
            // The main token is that resource's: `fresh` (which inherited the rest) replaces it.
            return fresh;
        }
        if let Some(rotated) = fresh.refresh_token.take() {
            self.refresh_token = Some(rotated);
        }
        fresh.id_token = None;
        fresh.id_token_claims = None;
        fresh.resource_tokens.clear();
        self.resource_tokens.insert(resource.to_owned(), fresh);
        self
    }

    /// Every field of the response that is not one of RFC 6749's (`x_user_id`, `sub`...).
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The type of the token issued by a token exchange (RFC 8693 §2.2.1 `issued_token_type`,
    /// e.g. [`token_exchange::ACCESS_TOKEN`](crate::token_exchange::ACCESS_TOKEN)); `None` for
    /// other grants. Kept with the set when it is stored.
    ///
    /// ```
    /// # use grantkit::TokenSet;
    /// let tokens = TokenSet::from_response(
    ///     br#"{"access_token":"a","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:jwt"}"#,
    ///     std::time::SystemTime::now(),
    /// )?;
    /// assert_eq!(tokens.issued_token_type(), Some(grantkit::token_exchange::JWT));
    /// # Ok::<(), String>(())
    /// ```
    pub fn issued_token_type(&self) -> Option<&str> {
        self.extra.get("issued_token_type").and_then(Value::as_str)
    }

    /// An extra member holding a non-negative integer, sent as a JSON number or as a string of
    /// digits (providers differ, and some clients have stored it either way): `x_user_id`...
    /// `None` when absent or not such an integer.
    ///
    /// ```
    /// # use grantkit::TokenSet;
    /// # let now = std::time::SystemTime::now();
    /// let number = TokenSet::from_response(br#"{"access_token":"a","x_user_id":10579}"#, now)?;
    /// let string = TokenSet::from_response(br#"{"access_token":"a","x_user_id":"10579"}"#, now)?;
    /// assert_eq!(number.extra_u64("x_user_id"), Some(10579));
    /// assert_eq!(string.extra_u64("x_user_id"), Some(10579));
    /// # Ok::<(), String>(())
    /// ```
    pub fn extra_u64(&self, name: &str) -> Option<u64> {
        match self.extra.get(name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => {
                let s = s.trim();
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                s.parse().ok()
            }
            _ => None,
        }
    }

    /// Checks the members a provider declares ([`Quirks::token_fields`](crate::provider::Quirks)): each
    /// present one must have its kind; required ones must be present when `exchange` is true.
    /// The reason names the member, never its value.
    pub(crate) fn check_fields(&self, fields: &[TokenField], exchange: bool) -> Result<(), String> {
        for field in fields {
            let name = field.name();
            let Some(value) = self.extra.get(name) else {
                if exchange && field.is_required() {
                    return Err(format!(
                        "the provider always sends `{name}` in its token responses, but this one has none"
                    ));
                }
                continue;
            };
            let ok = match field.kind() {
                TokenFieldKind::Integer => self.extra_u64(name).is_some(),
                TokenFieldKind::String => value.is_string(),
            };
            if !ok {
                let kind = match field.kind() {
                    TokenFieldKind::Integer => "an integer",
                    TokenFieldKind::String => "a string",
                };
                return Err(format!("`{name}` in the token response is not {kind}"));
            }
        }
        Ok(())
    }

    /// Fills what a refresh response may leave out (RFC 6749 §6): the previous refresh token
    /// when no new one came, the previous scope when none was named, the previous ID token.
    pub(crate) fn inherit(mut self, previous: &TokenSet) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
        }
        if self.scope.is_none() {
            self.scope = previous.scope.clone();
        }
        if self.id_token.is_none() {
            self.id_token = previous.id_token.clone();
            self.id_token_claims = previous.id_token_claims.clone();
        }
        // The other resources' tokens stay valid: the refresh replaced only this one.
        for (resource, token) in &previous.resource_tokens {
            self.resource_tokens
                .entry(resource.clone())
                .or_insert_with(|| token.clone());
        }
        self
    }

    pub(crate) fn with_default_scope(mut self, scope: Option<String>) -> Self {
        if self.scope.is_none() {
            self.scope = scope;
        }
        self
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `expires_in` as sent in the wild: 3600, 3600.0, "3600". Negative means already expired.
fn lenient_seconds(v: &Value) -> Option<u64> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !secs.is_finite() {
        return None;
    }
    // Clamp to 100 years so a hostile value cannot overflow the expiry computation.
    Some(secs.clamp(0.0, 3_153_600_000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn parse(json: &str) -> TokenSet {
        TokenSet::from_response(json.as_bytes(), at(1_000)).unwrap()
    }

    #[test]
    fn token_type_any_case_or_missing() {
        assert_eq!(
            parse(r#"{"access_token":"a","token_type":"bearer"}"#).token_type(),
            &TokenType::Bearer
        );
        assert_eq!(
            parse(r#"{"access_token":"a","token_type":"BEARER"}"#).token_type(),
            &TokenType::Bearer
        );
        assert_eq!(
            parse(r#"{"access_token":"a"}"#).token_type(),
            &TokenType::Bearer
        );
        assert_eq!(
            parse(r#"{"access_token":"a","token_type":"dpop"}"#).token_type(),
            &TokenType::DPoP
        );
        assert_eq!(
            parse(r#"{"access_token":"a","token_type":"mac"}"#).token_type(),
            &TokenType::Other("mac".into())
        );
    }

    #[test]
    fn expires_in_number_string_float_negative() {
        let exp = |j: &str| parse(j).expires_at().map(unix);
        assert_eq!(
            exp(r#"{"access_token":"a","expires_in":3600}"#),
            Some(4_600)
        );
        assert_eq!(
            exp(r#"{"access_token":"a","expires_in":"3600"}"#),
            Some(4_600)
        );
        assert_eq!(
            exp(r#"{"access_token":"a","expires_in":59.9}"#),
            Some(1_059)
        );
        assert_eq!(exp(r#"{"access_token":"a","expires_in":-5}"#), Some(1_000));
        assert_eq!(exp(r#"{"access_token":"a"}"#), None);
        let odd = parse(r#"{"access_token":"a","expires_in":"soon"}"#);
        assert_eq!(odd.expires_at(), None);
        assert_eq!(
            odd.extra()["expires_in"],
            "soon",
            "unreadable expiry stays visible"
        );
    }

    #[test]
    fn unknown_fields_are_kept_known_ones_lifted() {
        let t = parse(
            r#"{"access_token":"a","refresh_token":"r","scope":"x y","id_token":"i","x_user_id":10579,"nested":{"k":1}}"#,
        );
        assert_eq!(t.extra()["x_user_id"], 10579);
        assert_eq!(t.extra()["nested"]["k"], 1);
        assert!(!t.extra().contains_key("access_token"));
        assert_eq!(t.refresh_token().unwrap().expose(), "r");
        assert_eq!(t.scopes().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(t.id_token().unwrap().expose(), "i");
    }

    #[test]
    fn missing_or_bad_access_token_is_an_error() {
        for bad in [
            r#"{"token_type":"bearer"}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":5}"#,
            "[1]",
            "<html>",
            "",
        ] {
            let e = TokenSet::from_response(bad.as_bytes(), at(0)).unwrap_err();
            assert!(!e.is_empty());
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let t = parse(
            r#"{"access_token":"ACCESS-XYZ","refresh_token":"REFRESH-XYZ","id_token":"ID-XYZ"}"#,
        );
        let dbg = format!("{t:?}");
        for secret in ["ACCESS-XYZ", "REFRESH-XYZ", "ID-XYZ"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
    }

    #[test]
    fn storage_round_trip_keeps_absolute_expiry() {
        let t = parse(r#"{"access_token":"a","expires_in":60,"refresh_token":"r","x":true}"#);
        let json = serde_json::to_string(&t).unwrap();
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert!(back.expires_within_at(Duration::from_secs(0), at(1_060)));
        assert!(!back.expires_within_at(Duration::from_secs(0), at(1_059)));
    }

    /// Rotation across resources: the refresh for one resource returns the only live refresh
    /// token, which every resource's next refresh needs.
    #[test]
    fn a_refresh_for_another_resource_rotates_the_shared_refresh_token() {
        let mut main = parse(r#"{"access_token":"a","refresh_token":"r1"}"#);
        main.set_resources(vec!["https://a.example/".into()]);
        let mut fresh = parse(r#"{"access_token":"b","refresh_token":"r2","id_token":"i"}"#);
        fresh.set_resources(vec!["https://b.example/".into()]);
        let merged = main.with_resource_token("https://b.example/", fresh);
        assert_eq!(merged.refresh_token().unwrap().expose(), "r2");
        assert_eq!(merged.access_token().expose(), "a");
        let b = merged.resource_token("https://b.example/").unwrap();
        assert_eq!(b.access_token().expose(), "b");
        assert!(b.refresh_token().is_none() && b.id_token().is_none());
        assert_eq!(
            merged
                .resource_token("https://a.example/")
                .unwrap()
                .access_token()
                .expose(),
            "a"
        );
        // A later refresh of the main token keeps the other resource's token.
        let next = parse(r#"{"access_token":"c","refresh_token":"r3"}"#).inherit(&merged);
        assert_eq!(
            next.resource_token("https://b.example/")
                .unwrap()
                .access_token()
                .expose(),
            "b"
        );
        // Stored and read back whole.
        let json = serde_json::to_string(&next).unwrap();
        assert_eq!(serde_json::from_str::<TokenSet>(&json).unwrap(), next);
    }

    #[test]
    fn refresh_inherits_missing_fields() {
        let old = parse(r#"{"access_token":"a","refresh_token":"r1","scope":"s"}"#);
        let new = parse(r#"{"access_token":"b"}"#).inherit(&old);
        assert_eq!(new.refresh_token().unwrap().expose(), "r1");
        assert_eq!(new.scope(), Some("s"));
        let rotated = parse(r#"{"access_token":"b","refresh_token":"r2"}"#).inherit(&old);
        assert_eq!(rotated.refresh_token().unwrap().expose(), "r2");
    }

    #[test]
    fn extra_u64_reads_numbers_and_digit_strings_only() {
        let t = parse(
            r#"{"access_token":"a","n":10579,"s":" 10579 ","neg":-5,"f":1.5,"x":"12a","e":"","b":true}"#,
        );
        assert_eq!(t.extra_u64("n"), Some(10579));
        assert_eq!(t.extra_u64("s"), Some(10579));
        for bad in ["neg", "f", "x", "e", "b", "absent"] {
            assert_eq!(t.extra_u64(bad), None, "{bad}");
        }
    }

    #[test]
    fn declared_fields_are_checked_by_kind_and_presence() {
        let fields = [
            TokenField::integer("x_user_id"),
            TokenField::string("region").optional(),
        ];
        let ok = parse(r#"{"access_token":"a","x_user_id":"7"}"#);
        assert!(ok.check_fields(&fields, true).is_ok());
        let missing = parse(r#"{"access_token":"a"}"#);
        let e = missing.check_fields(&fields, true).unwrap_err();
        assert!(e.contains("`x_user_id`"), "{e}");
        assert!(
            missing.check_fields(&fields, false).is_ok(),
            "refreshes may omit it"
        );
        let wrong = parse(r#"{"access_token":"a","x_user_id":"SECRET-ish"}"#);
        let e = wrong.check_fields(&fields, true).unwrap_err();
        assert!(e.contains("not an integer") && !e.contains("SECRET"), "{e}");
        let bad_optional = parse(r#"{"access_token":"a","x_user_id":1,"region":5}"#);
        assert!(bad_optional.check_fields(&fields, false).is_err());
    }

    #[test]
    fn stored_numbers_load_back_exactly() {
        // Found by the token_response fuzz target: without serde_json's exact float parsing,
        // a numeric extra field changed its last digits across a save and a load.
        let t = parse(r#"{"access_token":"a","ratio":10.111111111111112579,"tiny":5e-324}"#);
        let stored = serde_json::to_string(&t).unwrap();
        let back: TokenSet = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn huge_expiry_does_not_overflow() {
        let t = parse(r#"{"access_token":"a","expires_in":1e300}"#);
        assert!(t.expires_at().is_some());
    }

    #[test]
    fn debug_of_extra_members_shows_names_not_values() {
        // Providers put secrets in extra members: Slack's `authed_user.access_token`, a
        // `device_secret` (OpenID Connect native SSO).
        let t = parse(
            r#"{"access_token":"a","device_secret":"DS-SECRET",
                "authed_user":{"access_token":"xoxp-SECRET"}}"#,
        );
        let debug = format!("{t:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(
            debug.contains("device_secret") && debug.contains("authed_user"),
            "{debug}"
        );
    }
}
