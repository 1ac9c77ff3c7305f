//! Certificates made at test time (rcgen) for the mutual-TLS tests: a CA, certificates it
//! signs, and self-signed ones, as PEM text. One copy for the peer's, Keycloak's and the
//! CLI's mTLS tests.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

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
}
