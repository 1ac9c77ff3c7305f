//! The HTTP stack grantkit uses for its own calls, offered to provider crates and apps for
//! provider APIs: same timeouts, body cap, redirect refusal and typed errors.

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use crate::error::{Endpoint, Result};
use crate::http::{error_from_response, parse_json, Http, HttpOptions};

/// An HTTP client for provider APIs (client registration, user registration...).
///
/// ```no_run
/// # async fn run() -> Result<(), grantkit::Error> {
/// let api = grantkit::ApiClient::new(grantkit::HttpOptions::default())?;
/// let response = api.send(api.reqwest().get("https://api.example.com/v1/me")).await?;
/// let me: serde_json::Value = response.json()?;
/// # let _ = me; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: Http,
}

/// A response read in full (within the body cap).
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// Parses the body as JSON; an unusable body is an [`Error::InvalidResponse`](crate::Error::InvalidResponse).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        parse_json(Endpoint::Api, &self.body)
    }

    /// The typed error grantkit would make of this (non-2xx) response: OAuth error bodies,
    /// `WWW-Authenticate` errors, 429 with `Retry-After`, or the status with a body excerpt.
    pub fn error(&self) -> crate::Error {
        error_from_response(Endpoint::Api, self.status, &self.headers, &self.body)
    }
}

impl ApiClient {
    /// A client with its own connection pool.
    pub fn new(options: HttpOptions) -> Result<Self> {
        Ok(Self {
            http: Http::new(options)?,
        })
    }

    pub(crate) fn from_http(http: Http) -> Self {
        Self { http }
    }

    /// The underlying reqwest client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        self.http.client()
    }

    /// Sends `request`; a 2xx response is returned, anything else becomes the typed error.
    pub async fn send(&self, request: RequestBuilder) -> Result<ApiResponse> {
        let response = self.send_any(request).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(response.error())
        }
    }

    /// Sends `request` and returns whatever final status came back, for APIs whose error
    /// statuses carry meaning (`409 Conflict` as "already done", a `204` as "not found").
    /// Transport failures, timeouts, oversized bodies and redirects are still errors.
    pub async fn send_any(&self, request: RequestBuilder) -> Result<ApiResponse> {
        let (status, response) = self.http.fetch(Endpoint::Api, request).await?;
        Ok(ApiResponse {
            status,
            headers: response.headers,
            body: response.body,
        })
    }
}
