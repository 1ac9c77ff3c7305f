//! Mutual TLS (RFC 8705): the client's certificate and key ([`TlsIdentity`]), client
//! authentication with it (`tls_client_auth`, `self_signed_tls_client_auth`), the
//! `mtls_endpoint_aliases` its calls go to, and certificate-bound access tokens.
//!
//! ```no_run
//! use grantkit::mtls::TlsIdentity;
//! use grantkit::{AuthMethod, Client, Provider};
//!
//! # fn run(provider: Provider, chain_and_key_pem: &[u8], ca_pem: &[u8]) -> grantkit::Result<()> {
//! let client = Client::builder(provider, "my-client")
//!     .auth_method(AuthMethod::TlsClientAuth)
//!     .tls_identity(TlsIdentity::from_pem(chain_and_key_pem)?)
//!     // Only for a private CA; public ones are trusted already.
//!     .root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap())
//!     .build()?;
//! # let _ = client;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::address::GuardedResolver;
use crate::auth_method::AuthMethod;
use crate::error::{Endpoint, Error, MtlsError, Result};
use crate::http::{default_builder, Http, HttpOptions};

/// A client certificate chain and its private key, presented in the TLS handshake (RFC 8705).
///
/// Give it to [`ClientBuilder::tls_identity`](crate::ClientBuilder::tls_identity). The PEM is
/// kept in a buffer wiped when the last clone is dropped; `Debug` shows the certificate's
/// thumbprint only, never the key.
///
/// ```
/// use grantkit::mtls::TlsIdentity;
///
/// let e = TlsIdentity::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
///     .unwrap_err();
/// assert!(e.to_string().contains("private key"), "{e}");
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    pem: Arc<Zeroizing<Vec<u8>>>,
    thumbprint: String,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("x5t#S256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Reads the certificate chain (leaf first) and the private key (PKCS#8, PKCS#1 or SEC1)
    /// from one PEM text, as `cat client.crt client.key` makes it.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self> {
        let pem = Zeroizing::new(pem.as_ref().to_vec());
        let leaf = first_certificate(&pem)?;
        // reqwest's own reading decides what the TLS stack will take (a key is present, the
        // sections are known); its message is not kept, as it is not ours to vouch for.
        reqwest::Identity::from_pem(&pem).map_err(|_| MtlsError::InvalidIdentity {
            reason: "no private key next to the certificate, or a PEM section of an unknown kind",
        })?;
        Ok(Self {
            pem: Arc::new(pem),
            thumbprint: thumbprint(&leaf),
        })
    }

    /// The leaf certificate's SHA-256 thumbprint, base64url without padding: the value an
    /// authorization server puts in a bound token's `cnf.x5t#S256` (RFC 8705 §3.1).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A fresh reqwest identity (reqwest's is not `Clone`; each HTTP client needs one).
    pub(crate) fn to_reqwest(&self) -> Result<reqwest::Identity> {
        reqwest::Identity::from_pem(&self.pem).map_err(|_| {
            MtlsError::InvalidIdentity {
                reason: "the TLS stack refused the identity",
            }
            .into()
        })
    }
}

/// The DER of the first `CERTIFICATE` section: the leaf, by the chain's order.
fn first_certificate(pem: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let missing = MtlsError::InvalidIdentity {
        reason: "no PEM certificate (-----BEGIN CERTIFICATE-----) found",
    };
    let text = std::str::from_utf8(pem).map_err(|_| MtlsError::InvalidIdentity {
        reason: "the PEM is not text",
    })?;
    let start = text.find(BEGIN).ok_or(missing.clone())? + BEGIN.len();
    let body = text.get(start..).ok_or(missing.clone())?;
    let body = body.get(..body.find(END).ok_or(missing)?).unwrap_or("");
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(Zeroizing::new)
        .map_err(|_| {
            MtlsError::InvalidIdentity {
                reason: "the certificate's PEM section is not base64",
            }
            .into()
        })
}

fn thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// A client's mutual-TLS setup: its identity and the HTTP client that presents it. Only the
/// calls of [`ALIASED`] go through this client; discovery, JWKS and the rest never carry the
/// certificate.
#[derive(Clone, Debug)]
pub(crate) struct Mtls {
    pub(crate) identity: TlsIdentity,
    pub(crate) http: Http,
}

/// The endpoints that take mutual TLS, with their member name in `mtls_endpoint_aliases`
/// (RFC 8705 §5; the authorization, JWKS and end-session endpoints are front-channel or public).
pub(crate) const ALIASED: [(Endpoint, &str); 6] = [
    (Endpoint::Token, "token_endpoint"),
    (Endpoint::Revocation, "revocation_endpoint"),
    (Endpoint::Introspection, "introspection_endpoint"),
    (Endpoint::Userinfo, "userinfo_endpoint"),
    (
        Endpoint::PushedAuthorization,
        "pushed_authorization_request_endpoint",
    ),
    (
        Endpoint::DeviceAuthorization,
        "device_authorization_endpoint",
    ),
];

/// Whether calls to `endpoint` present the client certificate (and go to its alias).
pub(crate) fn is_mtls_endpoint(endpoint: Endpoint) -> bool {
    ALIASED.iter().any(|(e, _)| *e == endpoint)
}

/// The endpoint an `mtls_endpoint_aliases` member names, for the members grantkit calls.
pub(crate) fn aliased_endpoint(member: &str) -> Option<Endpoint> {
    ALIASED.iter().find(|(_, m)| *m == member).map(|(e, _)| *e)
}

/// The certificate thumbprint a token response says its access token is bound to
/// (`cnf.x5t#S256`), from its extra members, when it carries one. RFC 8705 defines `cnf` in a
/// JWT access token (§3.1) and an introspection answer (§3.2), not here; some servers send it
/// anyway, and reading it costs nothing.
pub(crate) fn bound_thumbprint(extra: &Map<String, Value>) -> Option<&str> {
    extra.get("cnf")?.get("x5t#S256")?.as_str()
}

/// The thumbprint a JWT access token's own `cnf.x5t#S256` claim names (RFC 8705 §3.1), read
/// from its payload WITHOUT verifying the signature: a client cannot verify an access token in
/// general (it is the resource server's to verify, with keys and rules the client may not
/// know). This only decides whether to refuse a token bound to another certificate; a forged
/// claim can make grantkit refuse a token, never accept one. An opaque (or encrypted) token
/// has nothing to read.
fn jwt_thumbprint(access_token: &str) -> Option<String> {
    let mut parts = access_token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("cnf")?
        .get("x5t#S256")?
        .as_str()
        .map(str::to_owned)
}

/// Refuses an access token bound to a certificate this client does not present, whether the
/// binding is in the token itself (a JWT's `cnf`, RFC 8705 §3.1) or in the token response's
/// extra members. A safety check on arrival, not a verification of the token.
pub(crate) fn check_token_binding(
    identity: Option<&TlsIdentity>,
    access_token: &str,
    extra: &Map<String, Value>,
) -> Result<()> {
    if let Some(bound) = jwt_thumbprint(access_token) {
        check_bound(identity, &bound)?;
    }
    check_binding(identity, extra)
}

/// Refuses a token bound to a certificate this client does not present: sending it would fail
/// at the resource server, and a mismatch at issuance means the binding is not ours.
/// `extra`: the token response's extra members ([`TokenSet::extra`](crate::TokenSet::extra)),
/// or an introspection answer's (RFC 8705 §3.2).
pub(crate) fn check_binding(
    identity: Option<&TlsIdentity>,
    extra: &Map<String, Value>,
) -> Result<()> {
    match bound_thumbprint(extra) {
        Some(bound) => check_bound(identity, bound),
        None => Ok(()),
    }
}

/// Whether `identity` is the certificate of thumbprint `bound`.
fn check_bound(identity: Option<&TlsIdentity>, bound: &str) -> Result<()> {
    match identity {
        None => Err(MtlsError::NoIdentity.into()),
        Some(ours) if ours.thumbprint() != bound => Err(MtlsError::CertificateMismatch {
            bound: crate::error::truncate(bound, 64),
            presented: ours.thumbprint().to_owned(),
        }
        .into()),
        Some(_) => Ok(()),
    }
}

impl Mtls {
    /// The HTTP client that presents `identity`: grantkit's defaults, the application's extra
    /// roots, and the same resolver (SSRF policy) as the client's other calls.
    pub(crate) fn build(
        identity: TlsIdentity,
        roots: Vec<reqwest::Certificate>,
        options: HttpOptions,
        resolver: GuardedResolver,
    ) -> Result<Self> {
        let builder = default_builder(&options)
            .tls_certs_merge(roots.iter().cloned())
            .identity(identity.to_reqwest()?);
        let http = Http::build(Some(builder), options, resolver)?;
        Ok(Self { identity, http })
    }
}

/// The configuration rules of the two mutual-TLS methods: a certificate, and no secret that
/// would never be sent.
pub(crate) fn check_method(method: AuthMethod, secret: bool, identity: bool) -> Result<()> {
    if !method.is_mutual_tls() {
        return Ok(());
    }
    if !identity {
        return Err(Error::Config(format!(
            "`{}` needs a client certificate: give one with ClientBuilder::tls_identity",
            method.as_str()
        )));
    }
    if secret {
        return Err(Error::Config(format!(
            "a client secret was given but the client authenticates with `{}`, which sends none; drop the secret",
            method.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_pem(cn: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        format!("{}{}", cert.pem(), key.serialize_pem())
    }

    #[test]
    fn tls_identity_shows_its_thumbprint_never_its_key() {
        let pem = identity_pem("c");
        let identity = TlsIdentity::from_pem(&pem).unwrap();
        let shown = format!("{identity:?}");
        assert!(shown.contains(identity.thumbprint()), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        // RFC 8705 §3.1: base64url SHA-256, no padding: 43 characters.
        assert_eq!(identity.thumbprint().len(), 43);
        assert!(!identity.thumbprint().contains(['=', '+', '/']));
    }

    #[test]
    fn a_pem_without_key_or_certificate_is_a_typed_error_quoting_nothing() {
        let pem = identity_pem("c");
        let key_only = &pem[pem.find("-----BEGIN PRIVATE KEY").unwrap()..];
        let cert_only = &pem[..pem.find("-----BEGIN PRIVATE KEY").unwrap()];
        for bad in [key_only, cert_only, "not a pem"] {
            let e = TlsIdentity::from_pem(bad).unwrap_err();
            assert!(
                matches!(e, Error::Mtls(MtlsError::InvalidIdentity { .. })),
                "{e:?}"
            );
            assert!(!e.to_string().contains("MII"), "{e}");
        }
    }

    /// RFC 8705 §3: a token whose `cnf.x5t#S256` is not our certificate's is refused, as is a
    /// bound token for a client with no certificate; an unbound token passes.
    #[test]
    fn a_token_bound_to_another_certificate_is_refused() {
        let ours = TlsIdentity::from_pem(identity_pem("ours")).unwrap();
        let theirs = TlsIdentity::from_pem(identity_pem("theirs")).unwrap();
        let bound = |to: &str| {
            let mut extra = Map::new();
            extra.insert("cnf".into(), serde_json::json!({ "x5t#S256": to }));
            extra
        };
        assert!(check_binding(Some(&ours), &bound(ours.thumbprint())).is_ok());
        assert!(check_binding(None, &Map::new()).is_ok());
        let e = check_binding(Some(&ours), &bound(theirs.thumbprint())).unwrap_err();
        assert!(
            matches!(&e, Error::Mtls(MtlsError::CertificateMismatch { bound, .. }) if bound == theirs.thumbprint()),
            "{e:?}"
        );
        let e = check_binding(None, &bound(ours.thumbprint())).unwrap_err();
        assert!(matches!(e, Error::Mtls(MtlsError::NoIdentity)), "{e:?}");
    }

    /// A JWT access token, unsigned for the test: grantkit reads its payload unverified.
    fn jwt_access_token(claims: serde_json::Value) -> String {
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        format!(
            "{}.{}.c2ln",
            b64(&serde_json::json!({"alg": "RS256", "typ": "at+jwt"})),
            b64(&claims)
        )
    }

    /// RFC 8705 §3.1 puts `cnf.x5t#S256` in a JWT access token's claims, not in the token
    /// response: a JWT bound to another certificate is refused on arrival even when the
    /// response says nothing; one bound to ours passes, and so does an opaque token.
    #[test]
    fn a_jwt_access_token_bound_to_another_certificate_is_refused_on_arrival() {
        let ours = TlsIdentity::from_pem(identity_pem("ours")).unwrap();
        let theirs = TlsIdentity::from_pem(identity_pem("theirs")).unwrap();
        let bound =
            |to: &str| jwt_access_token(serde_json::json!({"sub": "s", "cnf": { "x5t#S256": to }}));
        let none = Map::new();
        let e = check_token_binding(Some(&ours), &bound(theirs.thumbprint()), &none).unwrap_err();
        assert!(
            matches!(&e, Error::Mtls(MtlsError::CertificateMismatch { bound, presented })
                if bound == theirs.thumbprint() && presented == ours.thumbprint()),
            "{e:?}"
        );
        let e = check_token_binding(None, &bound(ours.thumbprint()), &none).unwrap_err();
        assert!(matches!(e, Error::Mtls(MtlsError::NoIdentity)), "{e:?}");
        check_token_binding(Some(&ours), &bound(ours.thumbprint()), &none).unwrap();
        for opaque in [
            "2YotnFZFEjr1zCsicMWpAA",
            "a.b",
            "a.b.c.d.e",
            "x.%%%.y",
            "x.bm90IGpzb24.y",
        ] {
            check_token_binding(Some(&ours), opaque, &none).unwrap();
            check_token_binding(None, opaque, &none).unwrap();
        }
        let unbound = jwt_access_token(serde_json::json!({"sub": "s"}));
        check_token_binding(None, &unbound, &none).unwrap();
    }
}
