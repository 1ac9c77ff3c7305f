//! DPoP switched off (the `dpop` feature is not enabled): the same crate-internal surface as
//! `dpop.rs`, on a type with no values, so the rest of the crate is written once, without
//! `cfg`, and the compiler proves every DPoP branch unreachable.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use url::Url;

use crate::error::Result;
use crate::http::HttpResponse;

/// The header a proof travels in.
pub(crate) const DPOP_HEADER: &str = "DPoP";

/// No client holds one without the feature.
pub(crate) enum Dpop {}

impl Dpop {
    pub(crate) fn thumbprint(&self) -> &str {
        match *self {}
    }

    pub(crate) fn proof(
        &self,
        _method: &Method,
        _url: &Url,
        _access_token: Option<&str>,
    ) -> Result<String> {
        match *self {}
    }

    pub(crate) fn sign_token_request(
        &self,
        _request: RequestBuilder,
        _url: &Url,
    ) -> Result<RequestBuilder> {
        match *self {}
    }

    pub(crate) fn nonce_demanded(&self, _url: &Url, _response: &HttpResponse) -> bool {
        match *self {}
    }

    pub(crate) fn resource_nonce_demanded(
        &self,
        _url: &Url,
        _status: StatusCode,
        _headers: &HeaderMap,
    ) -> bool {
        match *self {}
    }
}
