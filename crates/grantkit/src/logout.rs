//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the URL that sends the browser to
//! the provider's `end_session_endpoint` to end the user's session there, and the check of the
//! browser's return to the application.
//!
//! The return carries the `state` the request sent (§3). Like the authorization callback's, it
//! is checked in constant time: without the check, anyone could send a browser to the
//! post-logout page with a forged "you are logged out" and the application could not tell.

use oauth2::CsrfToken;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::callback::Callback;
use crate::client::Client;
use crate::error::{CallbackError, Endpoint, Result};
use crate::redirect_uri::check_redirect_uri;
use crate::secret::Secret;
use crate::token::TokenSet;

impl Client {
    /// Starts an RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): build the URL with
    /// [`LogoutRequest::build`], send the browser there, and keep the [`PendingLogout`] to check
    /// the browser's return. Revoke the tokens first ([`Client::revoke_tokens`]) if the
    /// provider should forget the grant too: ending the session does not revoke them.
    ///
    /// ```
    /// # let provider = grantkit::Provider::builder("p")
    /// #     .token_endpoint("https://p.example/token")
    /// #     .end_session_endpoint("https://p.example/session/end").build()?;
    /// # let client = grantkit::Client::builder(provider, "my-app").build()?;
    /// # let tokens = grantkit::TokenSet::from_access_token("at");
    /// let (url, pending) = client
    ///     .logout()
    ///     .id_token_hint(&tokens)
    ///     .post_logout_redirect_uri("https://app.example/logged-out")
    ///     .build()?;
    /// assert!(url.as_str().starts_with("https://p.example/session/end?"));
    /// // Later, on https://app.example/logged-out?state=…:
    /// let forged = "https://app.example/logged-out?state=not-ours";
    /// assert!(pending.verify_return(forged).is_err());
    /// # Ok::<(), grantkit::Error>(())
    /// ```
    pub fn logout(&self) -> LogoutRequest<'_> {
        LogoutRequest {
            client: self,
            id_token_hint: None,
            post_logout_redirect_uri: None,
            logout_hint: None,
            ui_locales: None,
        }
    }
}

/// An RP-initiated logout being prepared. Made by [`Client::logout`].
#[must_use]
#[derive(Debug)]
pub struct LogoutRequest<'c> {
    client: &'c Client,
    id_token_hint: Option<Secret>,
    post_logout_redirect_uri: Option<String>,
    logout_hint: Option<String>,
    ui_locales: Option<String>,
}

impl LogoutRequest<'_> {
    /// Names the session to end by the ID token it began with (`id_token_hint`, RECOMMENDED by
    /// §2): the ID token of `tokens`, when it has one. Without it, many providers ask the user
    /// to confirm, and some refuse the post-logout redirect.
    pub fn id_token_hint(mut self, tokens: &TokenSet) -> Self {
        self.id_token_hint = tokens.id_token().cloned();
        self
    }

    /// Where the provider sends the browser afterwards. It must be registered for the client
    /// (`post_logout_redirect_uris`); the provider adds the request's `state`.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// Which user to log out, as a hint for the provider (`logout_hint`, §2).
    pub fn logout_hint(mut self, hint: impl Into<String>) -> Self {
        self.logout_hint = Some(hint.into());
        self
    }

    /// The languages for the provider's logout pages (`ui_locales`, space-separated tags).
    pub fn ui_locales(mut self, locales: impl Into<String>) -> Self {
        self.ui_locales = Some(locales.into());
        self
    }

    /// The URL to send the browser to, and what to keep to check its return.
    ///
    /// Fails with [`Error::MissingEndpoint`](crate::Error::MissingEndpoint) when the provider
    /// has no `end_session_endpoint` (log out locally then), and with
    /// [`Error::Config`](crate::Error::Config) for a post-logout redirect URI that is not an
    /// absolute URL without a fragment.
    pub fn build(self) -> Result<(Url, PendingLogout)> {
        let mut url = self
            .client
            .provider()
            .endpoint(Endpoint::EndSession)?
            .clone();
        if let Some(uri) = &self.post_logout_redirect_uri {
            check_redirect_uri(uri)?;
        }
        let state = Secret::new(CsrfToken::new_random().secret().clone());
        {
            let mut query = url.query_pairs_mut();
            // §2: client_id lets the provider check the redirect URI without an ID token.
            query.append_pair("client_id", self.client.client_id());
            if let Some(hint) = &self.id_token_hint {
                query.append_pair("id_token_hint", hint.expose());
            }
            if let Some(uri) = &self.post_logout_redirect_uri {
                query.append_pair("post_logout_redirect_uri", uri);
                query.append_pair("state", state.expose());
            }
            if let Some(hint) = &self.logout_hint {
                query.append_pair("logout_hint", hint);
            }
            if let Some(locales) = &self.ui_locales {
                query.append_pair("ui_locales", locales);
            }
        }
        let pending = PendingLogout {
            state,
            post_logout_redirect_uri: self.post_logout_redirect_uri,
        };
        Ok((url, pending))
    }
}

/// What an application keeps (in the session) between sending the browser to the provider's
/// logout page and its return. Serializable like [`PendingAuthorization`](crate::PendingAuthorization).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogout {
    state: Secret,
    post_logout_redirect_uri: Option<String>,
}

impl PendingLogout {
    /// The post-logout redirect URI sent, if any.
    pub fn post_logout_redirect_uri(&self) -> Option<&str> {
        self.post_logout_redirect_uri.as_deref()
    }

    /// Checks the browser's return to the post-logout redirect URI (the whole URL, or just its
    /// query): its `state` must be the one this logout sent, compared in constant time, and
    /// appear once. `Ok` means the provider ended the session for this request, not that a
    /// third party sent the browser here.
    pub fn verify_return(&self, url_or_query: &str) -> Result<()> {
        match Callback::parse(url_or_query)?.state() {
            Some(state) if self.state.constant_time_eq(state) => Ok(()),
            Some(_) => Err(CallbackError::StateMismatch.into()),
            None => Err(CallbackError::MissingState.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Client, Error, Provider, TokenSet};

    fn client(end_session: bool) -> Client {
        let mut provider = Provider::builder("p").token_endpoint("https://p.example/token");
        if end_session {
            provider = provider.end_session_endpoint("https://p.example/logout?tenant=a");
        }
        Client::builder(provider.build().unwrap(), "app")
            .build()
            .unwrap()
    }

    #[test]
    fn the_url_carries_the_parameters_of_the_spec_and_keeps_the_endpoints_query() {
        let (url, pending) = client(true)
            .logout()
            .post_logout_redirect_uri("https://app.example/bye")
            .logout_hint("ann@example.com")
            .ui_locales("fi en")
            .build()
            .unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "tenant",
                "client_id",
                "post_logout_redirect_uri",
                "state",
                "logout_hint",
                "ui_locales"
            ]
        );
        let state = &q[3].1;
        assert!(state.len() >= 22, "{state}");
        pending
            .verify_return(&format!("https://app.example/bye?state={state}"))
            .unwrap();
    }

    #[test]
    fn a_forged_missing_or_doubled_state_is_refused() {
        let (url, pending) = client(true)
            .logout()
            .post_logout_redirect_uri("https://app.example/bye")
            .build()
            .unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        for (query, what) in [
            ("state=forged".to_owned(), "forged"),
            (String::new(), "missing"),
            (format!("state={state}&state={state}"), "doubled"),
        ] {
            let e = pending.verify_return(&query).unwrap_err();
            assert!(matches!(e, Error::Callback(_)), "{what}: {e:?}");
        }
    }

    #[test]
    fn the_id_token_hint_is_the_raw_id_token_and_never_printed() {
        let body = br#"{"access_token":"at","token_type":"Bearer","id_token":"eyJ.hint.sig"}"#;
        let tokens = TokenSet::from_response(body, std::time::SystemTime::now()).unwrap();
        let client = client(true);
        let request = client.logout().id_token_hint(&tokens);
        assert!(!format!("{request:?}").contains("eyJ.hint.sig"));
        let (url, pending) = request.build().unwrap();
        assert!(url
            .query_pairs()
            .any(|(k, v)| k == "id_token_hint" && v == "eyJ.hint.sig"));
        assert!(
            !url.query_pairs().any(|(k, _)| k == "state"),
            "no redirect, no state"
        );
        assert!(!format!("{pending:?}").contains(&url.to_string()));
    }

    #[test]
    fn without_an_end_session_endpoint_the_error_says_so() {
        let e = client(false).logout().build().unwrap_err();
        assert!(
            matches!(
                e,
                Error::MissingEndpoint {
                    endpoint: crate::Endpoint::EndSession,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = client(true)
            .logout()
            .post_logout_redirect_uri("https://app.example/bye#frag")
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
    }
}
