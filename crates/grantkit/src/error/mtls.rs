//! [`MtlsError`]: a mutual-TLS client identity that cannot be used, or a certificate-bound
//! access token (RFC 8705 §3) this client cannot present.

/// What went wrong with mutual TLS (RFC 8705); inside [`Error::Mtls`](crate::Error::Mtls).
///
/// Messages name certificate thumbprints (public values) only, never key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MtlsError {
    /// The PEM given as a client identity lacks a certificate or a private key, or holds
    /// something that is neither. Nothing of the PEM is quoted.
    #[error("the TLS client identity is unusable: {reason}; give the certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1) as PEM")]
    InvalidIdentity {
        /// What is missing or wrong.
        reason: &'static str,
    },
    /// The access token is bound to another certificate than this client's (its
    /// `cnf.x5t#S256` differs from the thumbprint of the certificate grantkit presents): the
    /// resource server would refuse it, and the mismatch means the token was not issued to
    /// this client's key.
    #[error("the access token is bound to certificate {bound} (cnf x5t#S256) but this client presents {presented}; refusing to send it")]
    CertificateMismatch {
        /// The thumbprint the token is bound to.
        bound: String,
        /// The thumbprint of the certificate this client presents.
        presented: String,
    },
    /// The access token is bound to a certificate (`cnf.x5t#S256`) but this client has no TLS
    /// identity to present.
    #[error("the access token is bound to a client certificate (cnf x5t#S256) but this client has none; build it with `ClientBuilder::tls_identity`")]
    NoIdentity,
}
