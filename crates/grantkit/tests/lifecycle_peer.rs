//! Token lifecycle against the real `oidc-provider` peer, which rotates refresh tokens on every
//! use and revokes the whole grant when a rotated-out refresh token is replayed.

use grantkit::store::{FileTokenStore, TokenStore};
use grantkit::{AuthorizedClient, TokenSource};
use grantkit_testkit::{login, OidcPeer, PeerClient};

/// 100 sequential refreshes through two token sources sharing one token file — like two
/// processes — taking turns. Each source's own copy is stale every time its turn comes (the
/// other one rotated the refresh token since), so only the store lock and the re-read of the
/// file keep them from replaying a dead refresh token, which the peer would answer with
/// `invalid_grant` and a revoked grant.
#[tokio::test]
async fn hundred_rotating_refreshes_through_a_shared_token_file_never_hit_invalid_grant() {
    // Access tokens live 30 s, less than the 60 s margin: every access_token() refreshes.
    let Some(peer) = OidcPeer::start_with_env_or_skip(
        "hundred_rotating_refreshes_through_a_shared_token_file_never_hit_invalid_grant",
        &[("PEER_ACCESS_TOKEN_TTL", "30")],
    ) else {
        return;
    };
    let client = PeerClient::PUBLIC
        .builder(peer.provider().unwrap())
        .auth_method(PeerClient::PUBLIC.method())
        .scopes(["openid", "email"])
        .build()
        .unwrap();
    let tokens = login(&client, Some("rita")).await.unwrap();

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("grantkit-peer-rotation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("tokens.json");
    let a = TokenSource::builder(client.clone())
        .store(FileTokenStore::new(&path))
        .tokens(tokens)
        .build()
        .await
        .unwrap();
    let b = TokenSource::builder(client.clone())
        .store(FileTokenStore::new(&path))
        .build()
        .await
        .unwrap();

    let file = FileTokenStore::new(&path);
    let mut previous = a.current();
    let mut refresh_tokens = std::collections::HashSet::new();
    for i in 0..100 {
        let source = if i % 2 == 0 { &a } else { &b };
        let token = source
            .access_token()
            .await
            .unwrap_or_else(|e| panic!("refresh {i}: {e}"));
        assert_ne!(
            token.secret(),
            previous.secret(),
            "refresh {i} made a new token"
        );
        let rotated = token.token_set().refresh_token().unwrap();
        assert_ne!(
            Some(rotated),
            previous.token_set().refresh_token(),
            "refresh {i}: the peer rotated the refresh token"
        );
        assert!(refresh_tokens.insert(rotated.expose().to_owned()));
        let on_disk = file.load().await.unwrap().unwrap();
        assert_eq!(
            on_disk.refresh_token(),
            Some(rotated),
            "refresh {i}: the file holds the latest refresh token"
        );
        previous = token;
    }

    // The last token works at the provider, sent by the authorized client.
    let api = AuthorizedClient::new(b.clone()).unwrap();
    let me = api.get(peer.url("/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = serde_json::from_str(&me.text().await.unwrap()).unwrap();
    assert_eq!(me["sub"], "rita");
    std::fs::remove_dir_all(dir).unwrap();
}
