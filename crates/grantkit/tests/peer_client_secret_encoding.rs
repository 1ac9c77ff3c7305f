//! Client secrets with a space and every reserved character, against the `oidc-provider` peer,
//! which reads HTTP Basic credentials like servers with a plain percent-decoder (a `+` stays a
//! plus). Encoded as grantkit encodes them, both kinds of server read the same secret.

use grantkit::{AuthMethod, Client, Error, OAuthErrorCode, Provider};
use grantkit_testkit::OidcPeer;

/// The peer's `reserved-*-client` secret: a space and `:/?#[]@!$&'()*+,;=%`.
const RESERVED_SECRET: &str = "a secret :/?#[]@!$&'()*+,;=% end";

fn client(peer: &OidcPeer, id: &str, secret: &str, method: AuthMethod) -> Client {
    let provider = Provider::builder("oidc-provider peer")
        .issuer(peer.issuer())
        .token_endpoint(&peer.url("/token"))
        .introspection_endpoint(&peer.url("/token/introspection"))
        .build()
        .unwrap();
    Client::builder(provider, id)
        .auth_method(method)
        .client_secret(secret)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_secret_with_a_space_and_every_reserved_character_authenticates_with_basic_and_post() {
    let Some(peer) = OidcPeer::start_or_skip("reserved-character secrets") else {
        return;
    };
    for (id, method) in [
        ("reserved-basic-client", AuthMethod::ClientSecretBasic),
        ("reserved-post-client", AuthMethod::ClientSecretPost),
    ] {
        let client = client(&peer, id, RESERVED_SECRET, method);
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

#[tokio::test]
async fn a_plus_is_not_a_space_to_a_plain_percent_decoder() {
    let Some(peer) = OidcPeer::start_or_skip("reserved-character secrets") else {
        return;
    };
    // The secret with `+` where it has spaces is another secret, and refused as such.
    let wrong = RESERVED_SECRET.replace(' ', "+");
    let client = client(
        &peer,
        "reserved-basic-client",
        &wrong,
        AuthMethod::ClientSecretBasic,
    );
    let e = client
        .client_credentials(Vec::<String>::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OAuth(o) if o.code == OAuthErrorCode::InvalidClient),
        "{e:?}"
    );
}
