//! The redirect back from the provider: parsed strictly, checked by [`PendingAuthorization`](crate::PendingAuthorization).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{truncate, CallbackError, Endpoint, OAuthError, OAuthErrorCode};
use crate::secret::Secret;

/// The parameters of an authorization response (RFC 6749 §4.1.2, RFC 9207).
#[derive(Clone, Debug)]
pub struct Callback {
    code: Option<Secret>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<OAuthError>,
}

impl Callback {
    /// Parses a full redirect URL (`https://app/callback?code=…`), a query with or without the
    /// leading `?`, or a request target (`/callback?code=…`).
    ///
    /// A parameter that appears twice is refused: which copy is genuine cannot be told.
    pub fn parse(url_or_query: &str) -> Result<Self, CallbackError> {
        Self::from_pairs(pairs(url_or_query)?)
    }

    /// The callback of already separated, unique parameters (a URL's query, or the claims of a
    /// JARM response JWT).
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, CallbackError> {
        let mut callback = Callback {
            code: None,
            state: None,
            iss: None,
            error: None,
        };
        let (mut error, mut description, mut uri) = (None, None, None);
        for (name, value) in pairs {
            match name.as_str() {
                "code" if !value.is_empty() => callback.code = Some(Secret::new(value)),
                "state" => callback.state = Some(value),
                "iss" => callback.iss = Some(value),
                "error" => error = Some(value),
                "error_description" => description = Some(truncate(&value, 300)),
                "error_uri" => uri = Some(truncate(&value, 300)),
                _ => {}
            }
        }
        callback.error = error.map(|code| OAuthError {
            endpoint: Endpoint::Authorization,
            code: OAuthErrorCode::from_wire(&code),
            description,
            uri,
            status: None,
        });
        if callback.code.is_none() && callback.error.is_none() && callback.state.is_none() {
            return Err(CallbackError::Malformed(
                "it has no `code`, `state` or `error` parameter; is this the redirect from the provider?".into(),
            ));
        }
        Ok(callback)
    }

    /// The authorization code, if the provider granted one.
    pub fn code(&self) -> Option<&Secret> {
        self.code.as_ref()
    }

    /// The `state` echoed back.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The RFC 9207 issuer identifier, if sent.
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The error the callback names, if any. Unverified: anyone can send a browser to the
    /// redirect URI with `error=...`; only after
    /// [`PendingAuthorization::verify`](crate::PendingAuthorization::verify) matched the `state`
    /// is it the provider's verdict (it then returns it as [`Error::OAuth`](crate::Error::OAuth)).
    pub fn error(&self) -> Option<&OAuthError> {
        self.error.as_ref()
    }
}

/// The parameters of a redirect URL, a query (with or without `?`) or a request target,
/// each name once: a parameter that appears twice is refused, since which copy is genuine
/// cannot be told.
pub(crate) fn pairs(url_or_query: &str) -> Result<Vec<(String, String)>, CallbackError> {
    let input = url_or_query.trim();
    if input.is_empty() {
        return Err(CallbackError::Malformed("it is empty".into()));
    }
    // A full URL has a scheme before any `?`; a bare query may carry URLs in its values.
    let has_scheme = input.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let query = if has_scheme {
        let url = Url::parse(input).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        url.query().unwrap_or("").to_owned()
    } else {
        match input.split_once('?') {
            Some((_, q)) => q.to_owned(),
            None => input.to_owned(),
        }
    };
    let query = query.split('#').next().unwrap_or("");
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !seen.insert(name.to_string()) {
            return Err(CallbackError::DuplicateParameter(truncate(&name, 50)));
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// A JWT-secured authorization response mode (JARM, OpenID Financial-grade API JWT Secured
/// Authorization Response Mode): the provider answers with one `response` parameter, a JWT it
/// signed that holds `code`, `state` and `iss` (or the `error`). Asked for with
/// [`AuthorizationRequest::jarm`](crate::AuthorizationRequest::jarm); the callback is read with
/// [`PendingAuthorization::verify_jarm_callback`](crate::PendingAuthorization::verify_jarm_callback)
/// or [`verify_jarm_form_post`](crate::PendingAuthorization::verify_jarm_form_post).
///
/// There is no `fragment.jwt`: a fragment never reaches a server, and grantkit reads callbacks
/// on the server (a `response_mode` given with `param` is refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JarmMode {
    /// `response_mode=jwt`: the provider's default JARM form for the response type, the query
    /// for the code flow (JARM §2.3.4).
    #[serde(rename = "jwt")]
    Jwt,
    /// `response_mode=query.jwt`: the JWT in the redirect URL's query.
    #[serde(rename = "query.jwt")]
    Query,
    /// `response_mode=form_post.jwt`: the JWT in a form POSTed to the redirect URI, so that
    /// not even the signed code appears in a URL.
    #[serde(rename = "form_post.jwt")]
    FormPost,
}

impl JarmMode {
    /// The `response_mode` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            JarmMode::Jwt => "jwt",
            JarmMode::Query => "query.jwt",
            JarmMode::FormPost => "form_post.jwt",
        }
    }
}

/// A verified authorization code with what its exchange needs (verifier, redirect URI) and
/// what checking its ID token needs (nonce). Obtained from
/// [`PendingAuthorization::verify_callback`](crate::PendingAuthorization::verify_callback).
#[derive(Clone, Debug)]
pub struct AuthorizationCode {
    pub(crate) code: Secret,
    pub(crate) code_verifier: Option<Secret>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) nonce: Option<Secret>,
    pub(crate) scope: Option<String>,
    /// The `max_age` sent, in seconds: the ID token's `auth_time` is checked against it.
    pub(crate) max_age: Option<u64>,
    /// The `acr` values requested as essential: the ID token's `acr` must be one of them.
    pub(crate) acr_values: Vec<String>,
    /// The RFC 8707 resource indicators of the login: the code exchange asks for them again.
    pub(crate) resources: Vec<String>,
}

impl AuthorizationCode {
    /// The nonce the ID token must carry, if one was sent.
    pub fn nonce(&self) -> Option<&Secret> {
        self.nonce.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_url_query_and_target() {
        for input in [
            "https://app.example/cb?code=c1&state=s1&iss=https%3A%2F%2Fop",
            "?code=c1&state=s1&iss=https%3A%2F%2Fop",
            "code=c1&state=s1&iss=https%3A%2F%2Fop",
            "/cb?code=c1&state=s1&iss=https%3A%2F%2Fop",
            "code=c1&state=s1&iss=https://op",
            "com.example.app:/cb?code=c1&state=s1&iss=https://op",
        ] {
            let cb = Callback::parse(input).unwrap();
            assert_eq!(cb.code().unwrap().expose(), "c1", "{input}");
            assert_eq!(cb.state(), Some("s1"));
            assert_eq!(cb.iss(), Some("https://op"));
        }
    }

    #[test]
    fn error_response_is_typed() {
        let cb = Callback::parse("/cb?error=access_denied&error_description=nope&state=s").unwrap();
        let e = cb.error().unwrap();
        assert_eq!(e.code, OAuthErrorCode::AccessDenied);
        assert_eq!(e.description.as_deref(), Some("nope"));
        assert_eq!(e.endpoint, Endpoint::Authorization);
    }

    #[test]
    fn duplicates_and_garbage_are_refused() {
        assert!(matches!(
            Callback::parse("?code=a&code=b&state=s"),
            Err(CallbackError::DuplicateParameter(p)) if p == "code"
        ));
        assert!(matches!(
            Callback::parse(""),
            Err(CallbackError::Malformed(_))
        ));
        assert!(matches!(
            Callback::parse("http://[bad"),
            Err(CallbackError::Malformed(_))
        ));
        assert!(matches!(
            Callback::parse("/cb?foo=bar"),
            Err(CallbackError::Malformed(_))
        ));
    }

    #[test]
    fn debug_hides_the_code() {
        let cb = Callback::parse("?code=SECRET-CODE&state=s").unwrap();
        assert!(!format!("{cb:?}").contains("SECRET-CODE"));
    }
}
