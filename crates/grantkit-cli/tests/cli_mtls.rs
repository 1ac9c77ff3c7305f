//! `grantkit login` with a client certificate (RFC 8705 `tls_client_auth`) against the
//! `oidc-provider` peer served over HTTPS on loopback (`OidcPeer::start_tls_or_skip`), its CA
//! trusted through `--ca-cert`, with certificates made here at test time. The peer reads the
//! certificate only at its `mtls_endpoint_aliases` (server.mjs), so every token call
//! succeeding proves the CLI used the aliases with the certificate.

mod support;

use grantkit_testkit::tls::TestCa;
use grantkit_testkit::{Browser, OidcPeer, PeerTls};
use support::*;

struct Pki {
    ca_pem: String,
    peer: PeerTls,
    /// `CN=grantkit-mtls-client` (the peer's `mtls-client`), chain and key in one PEM.
    client: String,
}

fn pki() -> Pki {
    let ca = TestCa::new().unwrap();
    let server = ca.sign("127.0.0.1", &["127.0.0.1"]).unwrap();
    Pki {
        ca_pem: ca.cert_pem().to_owned(),
        peer: PeerTls {
            cert: server.cert_pem,
            key: server.key_pem,
            ca: ca.cert_pem().to_owned(),
            self_signed_client: None,
        },
        client: ca.sign("grantkit-mtls-client", &[]).unwrap().identity_pem(),
    }
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Issue 19 item 5 for the CLI: `--tls-identity` and `--ca-cert` log a `tls_client_auth`
/// client in with no secret (before, the flags did not exist and the method was told to set a
/// secret); later commands need the certificate again, and are told so by its name, not
/// `GRANTKIT_CLIENT_SECRET`; neither the key nor its path is written anywhere; a certificate
/// file other users may read is refused, as the token file would be.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_client_logs_in_with_tls_identity_and_ca_cert_and_needs_the_certificate_again() {
    let pki = pki();
    let Some(peer) = OidcPeer::start_tls_or_skip("cli mtls client", &pki.peer) else {
        return;
    };
    let home = Home::new("peer-mtls");
    let identity = home.dir.join("client-identity.pem");
    std::fs::write(&identity, &pki.client).unwrap();
    set_mode(&identity, 0o600);
    let ca_file = home.dir.join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let env = [
        ("GRANTKIT_CLIENT_ID", "mtls-client"),
        ("GRANTKIT_TLS_IDENTITY", identity.to_str().unwrap()),
        ("GRANTKIT_CA_CERT", ca_file.to_str().unwrap()),
    ];

    let login = home
        .login(
            &[
                "--issuer",
                peer.issuer(),
                "--scope",
                "openid email offline_access",
            ],
            &env,
        )
        .await;
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let callback = Browser::trusting(ca)
        .authorize(&login.url, &login.redirect_uri())
        .await
        .unwrap();
    let (status, page) = deliver(&callback).await;
    assert_eq!(status, 200, "{page}");
    login.finish().await.ok();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.meta_file("default")).unwrap()).unwrap();
    assert_eq!(
        meta["auth_method"], "tls_client_auth",
        "chosen from the certificate"
    );
    assert!(meta["provider"]["mtls_endpoint_aliases"]["token_endpoint"]
        .as_str()
        .unwrap()
        .contains("/mtls/"));
    let key_pem = pki
        .client
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .unwrap();
    for (path, bytes) in home.snapshot() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(key_pem.trim()) && !text.contains("client-identity.pem"),
            "the key or its path is in {}",
            path.display()
        );
    }

    // Bound tokens and `tls_client_auth` refreshes need the certificate each time.
    let before = std::fs::read(home.token_file("default")).unwrap();
    let ca_only = [("GRANTKIT_CA_CERT", ca_file.to_str().unwrap())];
    let message = home
        .run_env(&["refresh"], &ca_only)
        .await
        .fails_with_one_line(2);
    assert!(message.contains("GRANTKIT_TLS_IDENTITY"), "{message}");
    assert!(!message.contains("GRANTKIT_CLIENT_SECRET"), "{message}");
    assert_eq!(std::fs::read(home.token_file("default")).unwrap(), before);
    home.run_env(&["refresh"], &env).await.ok();
    assert_ne!(std::fs::read(home.token_file("default")).unwrap(), before);
    let info: serde_json::Value =
        serde_json::from_str(home.run_env(&["userinfo"], &env).await.ok()).unwrap();
    assert_eq!(info["sub"], "alice");

    // A key file other users may read is refused before anything is sent.
    set_mode(&identity, 0o644);
    let message = home
        .run_env(&["refresh"], &env)
        .await
        .fails_with_one_line(2);
    assert!(message.contains("client-identity.pem"), "{message}");
    set_mode(&identity, 0o600);

    // A login that names the method but gives no certificate is a usage error about it.
    let message = home
        .run_env(
            &[
                "login",
                "--issuer",
                peer.issuer(),
                "--auth-method",
                "tls_client_auth",
            ],
            &[
                ("GRANTKIT_CLIENT_ID", "mtls-client"),
                ("GRANTKIT_CA_CERT", ca_file.to_str().unwrap()),
            ],
        )
        .await
        .fails_with_one_line(2);
    assert!(message.contains("--tls-identity"), "{message}");
}
