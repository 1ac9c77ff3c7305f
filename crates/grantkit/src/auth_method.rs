//! [`AuthMethod`]: how a client proves its identity, named as the registries name it.

/// How the client proves its identity at the token, revocation and introspection endpoints
/// (RFC 6749 §2.3, OpenID Connect Core §9).
///
/// In JSON (a saved [`Provider`](crate::Provider), a CLI profile) a method is its registered
/// name, as in discovery documents: `"client_secret_basic"`, `"client_secret_post"`, `"none"`,
/// `"private_key_jwt"`, `"client_secret_jwt"`, `"tls_client_auth"`,
/// `"self_signed_tls_client_auth"`. Any other string is an error, never `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// `client_secret_basic`: id and secret in an HTTP Basic header, each percent-encoded first (every byte outside RFC 3986's unreserved set, so a space is `%20`).
    ClientSecretBasic,
    /// `client_secret_post`: id and secret in the form body.
    ClientSecretPost,
    /// `none`: a public client (SPA, CLI, mobile) that has no secret and relies on PKCE.
    None,
    /// `private_key_jwt` (RFC 7523, OpenID Connect Core §9): a short-lived JWT signed with the
    /// client's private key ([`ClientKey`](crate::jwt_auth::ClientKey)); no shared secret travels.
    PrivateKeyJwt,
    /// `client_secret_jwt` (RFC 7523, OpenID Connect Core §9): a short-lived JWT signed with
    /// the client secret (HS256); the secret itself never travels.
    ClientSecretJwt,
    /// `tls_client_auth` (RFC 8705 §2.1): the client presents a certificate from a CA the
    /// server trusts, matched on its registered subject; the body carries `client_id` and no
    /// secret. Needs [`ClientBuilder::tls_identity`](crate::ClientBuilder::tls_identity).
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): the client presents a self-signed
    /// certificate registered in its JWKS (`x5c`); the body carries `client_id` and no secret.
    /// Needs [`ClientBuilder::tls_identity`](crate::ClientBuilder::tls_identity).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The registered name, as in discovery documents.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::None => "none",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Reads a registered name; `None` for methods grantkit does not implement.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "none" => Some(AuthMethod::None),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            "client_secret_jwt" => Some(AuthMethod::ClientSecretJwt),
            "tls_client_auth" => Some(AuthMethod::TlsClientAuth),
            "self_signed_tls_client_auth" => Some(AuthMethod::SelfSignedTlsClientAuth),
            _ => None,
        }
    }

    /// Whether the method authenticates with the client's TLS certificate (RFC 8705 §2).
    pub fn is_mutual_tls(self) -> bool {
        matches!(
            self,
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
        )
    }
}
