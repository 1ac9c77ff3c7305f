//! Certificates made at test time (rcgen) for the mutual-TLS tests: a CA, certificates it
//! signs, and self-signed ones, as PEM text. One copy for the peer's, Keycloak's and the
//! CLI's mTLS tests. [`MtlsServer`]: a resource server on loopback that requires a client
//! certificate and records which one it got.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A certificate and its private key, as PEM text.
pub struct TestCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl TestCert {
    fn new(cert: &rcgen::Certificate, key: &KeyPair) -> Self {
        Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Self-signed, with subject `CN=<cn>` (`self_signed_tls_client_auth`'s shape).
    pub fn self_signed(cn: &str) -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let cert = params(cn, Vec::new())?.self_signed(&key)?;
        Ok(Self::new(&cert, &key))
    }

    /// Certificate and key as one PEM, as `TlsIdentity::from_pem` and the CLI's
    /// `--tls-identity` take it.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

impl std::fmt::Debug for TestCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A test CA with subject `CN=grantkit test CA` (Keycloak's realm file names this subject in
/// its `x509.casubjectdn`).
pub struct TestCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA with a fresh key.
    pub fn new() -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut ca_params = params("grantkit test CA", Vec::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = ca_params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(ca_params, key),
        })
    }

    /// The CA's certificate, as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A certificate with subject `CN=<cn>` and the subject alternative names `names`
    /// (e.g. `127.0.0.1` for a server on loopback), signed by this CA.
    pub fn sign(&self, cn: &str, names: &[&str]) -> Result<TestCert, rcgen::Error> {
        let key = KeyPair::generate()?;
        let names = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = params(cn, names)?.signed_by(&key, &self.issuer)?;
        Ok(TestCert::new(&cert, &key))
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// A resource server of RFC 8705 §3 on `https://127.0.0.1:PORT`: TLS with `server`'s
/// certificate, a client certificate chained to `client_ca` **required** in the handshake (one
/// without is refused before any HTTP), an axum router behind it. It records the SHA-256
/// thumbprint (base64url, the `x5t#S256` of RFC 8705 §3.1) of each connection's client
/// certificate, so a test can tell which certificate a client presented.
pub struct MtlsServer {
    origin: String,
    thumbprints: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for MtlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlsServer")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Why an [`MtlsServer`] did not start (a certificate it could not read, a port).
pub type MtlsServerError = Box<dyn std::error::Error + Send + Sync>;

impl MtlsServer {
    /// Serves `app` on 127.0.0.1:0 in the background (`server`'s certificate must name
    /// `127.0.0.1`; see [`TestCa::sign`]).
    pub async fn start(
        server: &TestCert,
        client_ca_pem: &str,
        app: axum::Router,
    ) -> Result<Self, MtlsServerError> {
        let acceptor = TlsAcceptor::from(Arc::new(server_config(server, client_ca_pem)?));
        let tcp = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("https://{}", tcp.local_addr()?);
        let thumbprints = Arc::new(Mutex::new(Vec::new()));
        let listener = MtlsListener {
            tcp,
            acceptor,
            thumbprints: thumbprints.clone(),
        };
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            origin,
            thumbprints,
        })
    }

    /// `https://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The thumbprints of the client certificates of the connections so far, in order.
    pub fn client_thumbprints(&self) -> Vec<String> {
        self.thumbprints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn server_config(
    server: &TestCert,
    client_ca_pem: &str,
) -> Result<rustls::ServerConfig, MtlsServerError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(client_ca_pem.as_bytes())?)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let chain = vec![CertificateDer::from_pem_slice(server.cert_pem.as_bytes())?];
    let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes())?;
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?)
}

struct MtlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    thumbprints: Arc<Mutex<Vec<String>>>,
}

impl axum::serve::Listener for MtlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            // A handshake without an acceptable client certificate ends here: no HTTP served.
            let handshake = self.acceptor.accept(tcp);
            let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await else {
                continue;
            };
            if let Some(leaf) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(leaf.as_ref()));
                self.thumbprints
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(thumbprint);
            }
            return (tls, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn params(cn: &str, names: Vec<String>) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_certificate_names_its_subject_and_the_debug_hides_the_key() {
        let ca = TestCa::new().unwrap();
        let cert = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
        assert!(cert.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(cert.key_pem.contains("PRIVATE KEY"));
        assert_eq!(
            cert.identity_pem(),
            format!("{}{}", cert.cert_pem, cert.key_pem)
        );
        assert!(!format!("{cert:?}").contains("PRIVATE KEY"));
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(ca.cert_pem(), cert.cert_pem);
    }

    /// RFC 8705 §3's resource server: no HTTP without a client certificate of the CA; the one
    /// presented is recorded by its thumbprint.
    #[tokio::test]
    async fn mtls_server_refuses_a_client_without_certificate_and_records_the_presented_one() {
        let ca = TestCa::new().unwrap();
        let server_cert = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let server = MtlsServer::start(&server_cert, ca.cert_pem(), app)
            .await
            .unwrap();
        let root = reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap();
        let bare = reqwest::Client::builder()
            .tls_certs_merge([root.clone()])
            .build()
            .unwrap();
        assert!(bare.get(server.url("/")).send().await.is_err());
        assert!(server.client_thumbprints().is_empty());

        let client = ca.sign("c", &[]).unwrap();
        let identity = reqwest::Identity::from_pem(client.identity_pem().as_bytes()).unwrap();
        let presenting = reqwest::Client::builder()
            .tls_certs_merge([root])
            .identity(identity)
            .build()
            .unwrap();
        let answer = presenting.get(server.url("/")).send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "ok");
        let der =
            rustls::pki_types::CertificateDer::from_pem_slice(client.cert_pem.as_bytes()).unwrap();
        let expected =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der.as_ref()));
        assert_eq!(server.client_thumbprints(), [expected]);
    }
}
