//! The one rule every redirect URI obeys, checked when a client is built and when an
//! authorization request overrides it.

use crate::error::{Error, Result};

/// A redirect URI must be an absolute URL without a fragment (RFC 6749 §3.1.2).
pub(crate) fn check_redirect_uri(uri: &str) -> Result<()> {
    let url = url::Url::parse(uri)
        .map_err(|e| Error::Config(format!("redirect URI `{uri}` is invalid: {e}")))?;
    if url.fragment().is_some() {
        return Err(Error::Config(format!(
            "redirect URI `{uri}` must not have a fragment (RFC 6749 §3.1.2)"
        )));
    }
    Ok(())
}
