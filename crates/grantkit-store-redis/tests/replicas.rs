//! `RedisTokenStore` against a real Redis (`GRANTKIT_TEST_REDIS_URL`, started by
//! `scripts/start-services`): the testkit's store contract (`grantkit_testkit::store_contract`),
//! one refresh per expiry for 4 processes × 50 tasks, a SIGKILLed lock holder (its lease runs
//! out), a frozen one (its lease runs out while it lives), and sealed tokens, as the
//! PostgreSQL store proves them; then what is Redis's own.
#![cfg(unix)]

use std::sync::Arc;
use std::time::Duration;

use grantkit::store::{BoxFuture, StoreKey, TokenStore};
use grantkit_store_redis::RedisTokenStores;
use grantkit_testkit::store_contract::{env_or_skip, unique_subject, Backend, Settings};

struct Redis;

impl Backend for Redis {
    const NAME: &'static str = "Redis";

    fn location(test: &str) -> Option<String> {
        env_or_skip(test, Self::NAME, "GRANTKIT_TEST_REDIS_URL")
    }

    fn store(
        url: String,
        key: StoreKey,
        settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
        Box::pin(async move {
            let mut stores = RedisTokenStores::connect(&url)
                .await
                .unwrap()
                .lock_wait(settings.lock_wait)
                .lock_lease(settings.lease);
            if let Some(keys) = settings.keys {
                stores = stores.sealing(keys);
            }
            Arc::new(stores.store(key)) as Arc<dyn TokenStore>
        })
    }
}

grantkit_testkit::store_contract_tests!(Redis);
// The killed holder's watchdog stops renewing; its 3 s lease runs out. The lease-expiry race
// documented in docs/scaling.md is proven with a real frozen process.
grantkit_testkit::replica_tests!(
    Redis,
    Duration::from_secs(3),
    lease_expires_under_a_live_holder
);
grantkit_testkit::sealing_tests!(Redis, raw_value);

/// The stored bytes, straight from Redis.
fn raw_value<'a>(url: &'a str, key: &'a StoreKey) -> BoxFuture<'a, Vec<u8>> {
    Box::pin(async move {
        let stores = RedisTokenStores::connect(url).await.unwrap();
        let token_key = stores.store(key.clone()).token_key().to_owned();
        redis::cmd("GET")
            .arg(token_key)
            .query_async::<Vec<u8>>(&mut connection(url).await)
            .await
            .unwrap()
    })
}

async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A live holder whose refresh outlasts the lease keeps the lock: the watchdog renews it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_is_renewed_while_the_holder_lives() {
    let Some(url) = Redis::location("redis_lease_is_renewed") else {
        return;
    };
    let key = StoreKey::new("lease", "client", unique_subject("lease"));
    let stores = RedisTokenStores::connect(&url)
        .await
        .unwrap()
        .lock_lease(Duration::from_millis(600))
        .lock_wait(Duration::from_millis(200));
    let (a, b) = (stores.store(key.clone()), stores.store(key));
    let held = a.lock().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await; // > 3 leases
    let e = b.lock().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    held.release().await.unwrap();
    b.lock().await.unwrap().release().await.unwrap();
    // Released: the key is gone, and a stale holder cannot delete a newer holder's lock.
    let mut conn = connection(&url).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(a.lock_key())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists);
}

/// Two replicas' connections share one memory of logout tokens' `jti`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_guard_admits_each_id_once_across_connections() {
    let test = "replay_guard_admits_each_id_once_across_connections";
    let Some(url) = Redis::location(test) else {
        return;
    };
    let a = RedisTokenStores::connect(&url).await.unwrap();
    let b = RedisTokenStores::connect(&url).await.unwrap();
    grantkit_testkit::store_contract::replay_guard_admits_each_id_once(
        [Arc::new(a), Arc::new(b)],
        &unique_subject(test),
    )
    .await;
}
