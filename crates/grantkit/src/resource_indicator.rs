//! Resource indicators (RFC 8707): which protected resource an access token is for.

use url::Url;

use crate::error::{Endpoint, Error, Refusal, Result};

/// The form parameter of RFC 8707 §2.
pub(crate) const RESOURCE: &str = "resource";

/// Checks a `resource` value against RFC 8707 §2: "an absolute URI, as specified by Section
/// 4.3 of RFC 3986", which "MUST NOT include a fragment component". A server given a relative
/// or fragment URI answers `invalid_target` at best; an audience grantkit cannot name is better
/// refused before anything is sent. The value is sent as given (servers compare strings), not
/// as `Url` normalizes it.
pub(crate) fn check_resource(endpoint: Endpoint, value: &str) -> Result<()> {
    let refuse = |reason: &'static str| Error::Refused {
        endpoint,
        reason: Refusal::InvalidResource {
            resource: crate::error::truncate(value, 200),
            reason,
        },
    };
    if value.contains('#') {
        return Err(refuse("it has a fragment (`#`)"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("it contains white space or control characters"));
    }
    match Url::parse(value) {
        Ok(_) => Ok(()),
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(refuse("it is not an absolute URI")),
        Err(_) => Err(refuse("it is not a valid URI")),
    }
}

/// The values of the `resource` parameters among `params`, in order.
pub(crate) fn resource_values(params: &[(String, String)]) -> impl Iterator<Item = &str> {
    params
        .iter()
        .filter(|(name, _)| name == RESOURCE)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_indicators_must_be_absolute_uris_without_fragment() {
        for good in [
            "https://api.example.com/",
            "https://api.example.com",
            "https://api.example.com/v1?tenant=a",
            "urn:example:resource",
        ] {
            check_resource(Endpoint::Token, good).unwrap();
        }
        for bad in [
            "api.example.com",
            "/v1/orders",
            "",
            "https://api.example.com/#part",
            "https://api.example.com/ x",
            "https://exa mple.com/",
        ] {
            let e = check_resource(Endpoint::Authorization, bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Refused {
                        endpoint: Endpoint::Authorization,
                        reason: Refusal::InvalidResource { .. }
                    }
                ),
                "{bad}: {e:?}"
            );
        }
    }
}
