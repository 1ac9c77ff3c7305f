//! A browser stand-in: keeps cookies, follows redirects by hand, stops at the app.

use reqwest::header::LOCATION;
use url::Url;

/// Why the browser did not reach the app's redirect URI.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// A request failed.
    #[error("browser request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A page answered without redirecting further.
    #[error("the provider showed a page (HTTP {status}) instead of redirecting: {excerpt}")]
    Stuck {
        /// The status of the page.
        status: u16,
        /// The start of the page.
        excerpt: String,
    },
    /// More than 20 redirects.
    #[error("more than 20 redirects without reaching the redirect URI")]
    TooManyRedirects,
    /// A `Location` header that is not a URL.
    #[error("bad Location header: {0}")]
    BadLocation(String),
}

/// A cookie-holding HTTP client that plays the user's browser in tests.
#[derive(Clone, Debug)]
pub struct Browser {
    client: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        Self { client }
    }

    /// Opens `authorize_url` and follows redirects until one goes to a URL starting with
    /// `redirect_prefix`; returns that URL (the callback the app would receive) without
    /// requesting it.
    pub async fn authorize(
        &self,
        authorize_url: &str,
        redirect_prefix: &str,
    ) -> Result<String, BrowserError> {
        let mut current =
            Url::parse(authorize_url).map_err(|e| BrowserError::BadLocation(e.to_string()))?;
        for _ in 0..20 {
            if current.as_str().starts_with(redirect_prefix) {
                return Ok(current.to_string());
            }
            let response = self.client.get(current.clone()).send().await?;
            let status = response.status();
            let Some(location) = response.headers().get(LOCATION) else {
                let body = response.text().await.unwrap_or_default();
                return Err(BrowserError::Stuck {
                    status: status.as_u16(),
                    excerpt: body.chars().take(300).collect(),
                });
            };
            let location = location
                .to_str()
                .map_err(|e| BrowserError::BadLocation(e.to_string()))?;
            current = current
                .join(location)
                .map_err(|e| BrowserError::BadLocation(e.to_string()))?;
        }
        Err(BrowserError::TooManyRedirects)
    }
}
