//! [`Endpoint`]: where a call went, so every error can say so.

use std::fmt;

/// Which endpoint a failed call was made to, so errors can say where things went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// The authorization endpoint (errors here arrive on the redirect back to the app).
    Authorization,
    /// The token endpoint (code exchange, refresh, client credentials).
    Token,
    /// The RFC 7009 revocation endpoint.
    Revocation,
    /// The RFC 7662 introspection endpoint.
    Introspection,
    /// The OpenID Connect userinfo endpoint.
    Userinfo,
    /// The discovery document (`/.well-known/...`).
    Discovery,
    /// The JSON Web Key Set of the provider.
    Jwks,
    /// The RFC 8628 device authorization endpoint.
    DeviceAuthorization,
    /// The RFC 9126 pushed authorization request (PAR) endpoint.
    PushedAuthorization,
    /// The OpenID Connect RP-initiated logout endpoint (`end_session_endpoint`), where the
    /// browser is sent to end the user's session at the provider.
    EndSession,
    /// A protected resource's metadata (RFC 9728, `/.well-known/oauth-protected-resource`).
    ResourceMetadata,
    /// The RFC 7591 client registration endpoint, or a registration's RFC 7592
    /// `registration_client_uri`.
    Registration,
    /// An endpoint a provider crate adds (user registration, client registration...).
    Api,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Authorization => "authorization",
            Endpoint::Token => "token",
            Endpoint::Revocation => "revocation",
            Endpoint::Introspection => "introspection",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Discovery => "discovery",
            Endpoint::Jwks => "JWKS",
            Endpoint::DeviceAuthorization => "device authorization",
            Endpoint::PushedAuthorization => "pushed authorization request",
            Endpoint::EndSession => "end-session",
            Endpoint::ResourceMetadata => "protected resource metadata",
            Endpoint::Registration => "client registration",
            Endpoint::Api => "API",
        })
    }
}
