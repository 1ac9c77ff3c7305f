//! Client secrets with a space and every reserved character. What grantkit puts on the wire
//! (a recording token endpoint) reads the same to a plain percent-decoder and to a form-decoder;
//! against the `oidc-provider` peer, which reads HTTP Basic credentials like servers with a
//! plain percent-decoder (a `+` stays a plus), both methods authenticate.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use grantkit::{AuthMethod, Client, Error, OAuthErrorCode, Provider};
use grantkit_testkit::{OidcPeer, PeerClient, TestServer};

/// The peer's `reserved-*-client` secret: a space and `:/?#[]@!$&'()*+,;=%`.
const RESERVED_SECRET: &str = "a secret :/?#[]@!$&'()*+,;=% end";

/// `client` of the peer with `secret` instead of its own, by its registered method.
fn client(peer: &OidcPeer, client: PeerClient, secret: &str) -> Client {
    client
        .builder(peer.provider().unwrap())
        .auth_method(client.method())
        .client_secret(secret)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_secret_with_a_space_and_every_reserved_character_authenticates_with_basic_and_post() {
    let Some(peer) = OidcPeer::start_or_skip("reserved-character secrets") else {
        return;
    };
    for reserved in [PeerClient::RESERVED_BASIC, PeerClient::RESERVED_POST] {
        let (id, method) = (reserved.id(), reserved.method());
        assert_eq!(reserved.secret(), Some(RESERVED_SECRET));
        let client = client(&peer, reserved, RESERVED_SECRET);
        let tokens = client
            .client_credentials(Vec::<String>::new())
            .await
            .unwrap_or_else(|e| panic!("{id} ({}): {e}", method.as_str()));
        let info = client
            .introspect(tokens.access_token(), None)
            .await
            .unwrap();
        assert!(info.active, "{id}");
        assert_eq!(info.client_id.as_deref(), Some(id));
    }
}

/// The Basic credentials grantkit sends, captured at a recording token endpoint: the encoded
/// pair has no raw space and no `+` (RFC 6749 §2.3.1's form encoding would write a space as
/// `+`, which a plain percent-decoder reads as a plus: another secret), and a plain
/// percent-decoder and a form-decoder both read back the exact id and secret.
#[tokio::test]
async fn a_plus_is_not_a_space_to_a_plain_percent_decoder() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                record.lock().unwrap().push(auth.to_owned());
                (
                    [("content-type", "application/json")],
                    r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#,
                )
            }
        }),
    );
    let server = TestServer::start(app).await.unwrap();
    let provider = Provider::builder("recorder")
        .token_endpoint(&server.url("/token"))
        .build()
        .unwrap();
    let id = "my client+id";
    let client = Client::builder(provider, id)
        .auth_method(AuthMethod::ClientSecretBasic)
        .client_secret(RESERVED_SECRET)
        .build()
        .unwrap();
    client
        .client_credentials(Vec::<String>::new())
        .await
        .unwrap();

    let header = seen.lock().unwrap().pop().expect("the token request");
    let b64 = header.strip_prefix("Basic ").expect("Basic credentials");
    let pair = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    assert!(
        !pair.contains(' ') && !pair.contains('+'),
        "a space travels as %20 and a plus as %2B: {pair}"
    );
    let (sent_id, sent_secret) = pair.split_once(':').expect("id:secret");
    for (sent, expected) in [(sent_id, id), (sent_secret, RESERVED_SECRET)] {
        assert_eq!(plain_percent_decode(sent), expected, "a plain decoder");
        let form: Vec<_> = url::form_urlencoded::parse(format!("x={sent}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(form, [expected], "a form-decoder");
    }
}

/// What the peer and such servers do with Basic credentials: `%XX` becomes the byte, every
/// other character (`+` included) stays.
fn plain_percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The peer is a plain percent-decoder, as the tests above assume: the secret with `+` where
/// it has spaces (what a form-encoding client would send for them) is another secret there,
/// and refused as such.
#[tokio::test]
async fn the_peer_reads_basic_credentials_plainly_so_a_plus_for_a_space_is_refused() {
    let Some(peer) = OidcPeer::start_or_skip("reserved-character secrets") else {
        return;
    };
    let wrong = RESERVED_SECRET.replace(' ', "+");
    let client = client(&peer, PeerClient::RESERVED_BASIC, &wrong);
    let e = client
        .client_credentials(Vec::<String>::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OAuth(o) if o.code == OAuthErrorCode::InvalidClient),
        "{e:?}"
    );
}
