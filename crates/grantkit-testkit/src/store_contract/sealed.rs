//! Tokens sealed at rest (feature `sealing`).

use grantkit::store::{BoxFuture, SealingKeys, StoreError, StoreKey};
use grantkit::{Error, TokenSet};

use super::{unique_subject, Backend, Settings};
use crate::token_endpoint::expired;

/// Reads the stored bytes of `key` straight from the engine at `location`, past the store.
pub type RawRead = for<'a> fn(&'a str, &'a StoreKey) -> BoxFuture<'a, Vec<u8>>;

/// Encrypted at rest: sealed tokens round-trip, the raw value (read by `raw`) does not contain
/// them, a wrong key and a store without a key are refused with a typed error, and a rotated
/// key still opens the old value.
pub async fn sealed_tokens_round_trip_and_refuse_a_wrong_key<B: Backend>(test: &str, raw: RawRead) {
    let Some(server) = B::location(test) else {
        return;
    };
    let key = StoreKey::new("sealed", "client", unique_subject(test));
    let with = |keys: Option<SealingKeys>| {
        B::store(
            server.clone(),
            key.clone(),
            Settings {
                keys,
                ..Settings::default()
            },
        )
    };
    let store = with(Some(SealingKeys::new(1, [42; 32]))).await;
    let tokens: TokenSet = expired("at-secret-value", Some("rt-secret-value"));
    store.save(&tokens).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), tokens);

    let bytes = raw(&server, &key).await;
    assert_eq!(&bytes[..2], &[2, 1], "format 2, key id 1");
    assert!(
        !bytes.windows(12).any(|w| w == b"secret-value"),
        "the tokens are not readable at rest"
    );

    let refused = |r: grantkit::Result<Option<TokenSet>>| match r {
        Err(Error::Store(StoreError::Unseal { reason, .. })) => reason,
        other => panic!("expected Unseal, got {other:?}"),
    };
    let wrong = with(Some(SealingKeys::new(1, [7; 32]))).await;
    assert!(refused(wrong.load().await).contains("wrong key"));
    let plain = with(None).await;
    refused(plain.load().await);
    let rotated = with(Some(
        SealingKeys::new(2, [9; 32]).with_previous_key(1, [42; 32]),
    ))
    .await;
    assert_eq!(rotated.load().await.unwrap().unwrap(), tokens);
    rotated.save(&tokens).await.unwrap();
    assert_eq!(raw(&server, &key).await[1], 2, "re-sealed with key 2");
    store.delete().await.unwrap();
}

/// The sealing proof as a test of `$backend` (a [`Backend`](crate::store_contract::Backend)),
/// in a module `sealing` of the calling test file; `$raw` is a
/// [`RawRead`](crate::store_contract::RawRead). Needs the testkit's feature `sealing`.
#[macro_export]
macro_rules! sealing_tests {
    ($backend:ty, $raw:expr) => {
        mod sealing {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sealed_tokens_round_trip_and_refuse_a_wrong_key() {
                $crate::store_contract::sealed_tokens_round_trip_and_refuse_a_wrong_key::<$backend>(
                                            "sealed_tokens_round_trip_and_refuse_a_wrong_key",
                                            $raw,
                                        )
                                        .await;
            }
        }
    };
}
