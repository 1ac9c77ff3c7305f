//! The [`TokenStore`] contract as tests: what every store promises (see the trait's
//! documentation), proven the same way for the memory and file stores, the PostgreSQL and
//! Redis stores, and a store of your own (DynamoDB, SQLite, an application's table…).
//!
//! # Running it for a store
//!
//! Implement [`Backend`] (how a test reaches one store for a key), then emit the tests with
//! the macros in a test file of your crate (`tests/contract.rs`):
//!
//! - [`store_contract_tests!`](crate::store_contract_tests): one test per guarantee in one
//!   process: empty, save/load, separate keys, delete, the lock excludes another holder (with a
//!   typed, transient [`StoreError::LockTimeout`] when the store bounds its wait), another key's
//!   lock is independent, a dropped lock is released, and two token sources on one store refresh
//!   a rotating refresh token once.
//! - [`replica_tests!`](crate::replica_tests): for stores shared by processes or replicas:
//!   4 real processes × 50 tasks refresh once per expiry (with and without refresh-ahead), and a
//!   `SIGKILL`ed lock holder blocks the others only as long as the store's bound (Unix only).
//! - [`replay_guard_admits_each_id_once`]: for a store's [`ReplayGuard`](grantkit::store::ReplayGuard)
//!   (one-time ids such as logout tokens' `jti`): one admission of an id across handles.
//! - `sealing_tests!` (feature `sealing`): sealed tokens are not
//!   readable at rest and a wrong key is refused with a typed error.
//!
//! ```no_run
//! # // A doctest cannot hold `#[tokio::test]`s; this is the shape of `tests/contract.rs`.
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex, OnceLock};
//! use grantkit::store::{BoxFuture, MemoryTokenStore, StoreKey, TokenStore};
//! use grantkit_testkit::store_contract::{Backend, Settings};
//!
//! struct Memory;
//!
//! impl Backend for Memory {
//!     const NAME: &'static str = "the memory store";
//!     const BOUNDED_LOCK_WAIT: bool = false; // it waits as long as the holder holds
//!     fn location(_test: &str) -> Option<String> {
//!         // A store on a server: env_or_skip(test, Self::NAME, "MY_STORE_URL")
//!         Some(String::new())
//!     }
//!     fn store(_location: String, key: StoreKey, _settings: Settings)
//!         -> BoxFuture<'static, Arc<dyn TokenStore>>
//!     {
//!         // Every handle on a key reaches the same tokens and lock, as another replica's
//!         // connection to a shared store would.
//!         static STORES: OnceLock<Mutex<HashMap<String, MemoryTokenStore>>> = OnceLock::new();
//!         let mut stores = STORES.get_or_init(Default::default).lock().unwrap();
//!         let store = stores.entry(key.canonical()).or_default().clone();
//!         Box::pin(async move { Arc::new(store) as Arc<dyn TokenStore> })
//!     }
//! }
//!
//! grantkit_testkit::store_contract_tests!(Memory);
//! # fn main() {}
//! ```
//!
//! The tests need `tokio` (features `macros`, `rt-multi-thread`) among the crate's
//! dev-dependencies. A store that needs a server skips its tests with a message when
//! [`Backend::location`] finds none, except under `CI=true`, where that is a failure.
//!
//! # Panics
//!
//! The proofs are tests: a broken guarantee panics with a message that names it.

use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "sealing")]
use grantkit::store::SealingKeys;
use grantkit::store::{BoxFuture, StoreError, StoreKey, TokenStore};
use grantkit::{Error, TokenSource};

use crate::token_endpoint::{client_for, concurrent_calls, expired, FakeTokenEndpoint};

mod replay;
#[cfg(unix)]
mod replicas;
#[cfg(feature = "sealing")]
mod sealed;

pub use replay::replay_guard_admits_each_id_once;
#[cfg(unix)]
pub use replicas::{
    a_frozen_holder_whose_lease_ran_out_adopts_the_winners_tokens,
    a_killed_lock_holder_does_not_block_the_others, child_main,
    one_refresh_per_expiry_across_processes, one_refresh_per_expiry_with_refresh_ahead, PROCESSES,
    ROUNDS, TASKS,
};
#[cfg(feature = "sealing")]
pub use sealed::{sealed_tokens_round_trip_and_refuse_a_wrong_key, RawRead};

/// How a test reaches one engine's store.
#[derive(Debug)]
#[non_exhaustive]
pub struct Settings {
    /// How long `lock()` waits for another holder (stores with a bounded wait).
    pub lock_wait: Duration,
    /// Redis: the lock's lease; PostgreSQL: the dead holder timeout (keepalive).
    pub lease: Duration,
    /// Seal the tokens at rest with these keys (`None`: plain).
    #[cfg(feature = "sealing")]
    pub keys: Option<SealingKeys>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lock_wait: Duration::from_secs(20),
            lease: Duration::from_secs(3),
            #[cfg(feature = "sealing")]
            keys: None,
        }
    }
}

impl Settings {
    /// The defaults with another lock wait.
    pub fn with_lock_wait(lock_wait: Duration) -> Self {
        Self {
            lock_wait,
            ..Self::default()
        }
    }
}

/// One store engine under test.
pub trait Backend: 'static {
    /// `PostgreSQL`, `Redis`: for messages.
    const NAME: &'static str;
    /// Whether `lock()` gives up after [`Settings::lock_wait`] with a typed, transient
    /// [`StoreError::LockTimeout`] (the shared stores). A store that waits for as long as
    /// the holder holds (the memory and file stores) says `false`; the contract then checks only
    /// that the second holder is still waiting.
    const BOUNDED_LOCK_WAIT: bool = true;

    /// Where the stores of this test keep their data (a server URL, a directory), or `None` to
    /// skip the test: see [`env_or_skip`]. Child processes get the same string.
    fn location(test: &str) -> Option<String>;

    /// A handle on the store for `key` at `location`. Every call for the same key must reach
    /// the same stored tokens and the same lock, as another process or replica would.
    fn store(
        location: String,
        key: StoreKey,
        settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>>;
}

/// The value of the environment variable `var` (a server's URL), or what a test does without
/// it: under `CI=true` a missing server is a failure (panic); elsewhere the test is skipped with
/// a message, like [`OidcPeer::start_or_skip`](crate::OidcPeer::start_or_skip).
pub fn env_or_skip(test: &str, name: &str, var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{test}: {name} is required under CI=true: set {var} (run `scripts/start-services` and source target/services.env)"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: {var} not set (run `scripts/start-services`, then `. target/services.env`)"
            );
            None
        }
    }
}

/// A subject no other test (or earlier run) uses.
pub fn unique_subject(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{test}:{}:{nanos}", std::process::id())
}

/// The libtest name of test `name` emitted in `module` (a `module_path!()`): the crate name
/// dropped, as `--exact` wants it.
pub fn test_path(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, inner)) => format!("{inner}::{name}"),
        None => name.to_owned(),
    }
}

/// A fresh key of this test and a handle on its store (after [`Backend::location`]).
async fn open<B: Backend>(test: &str) -> Option<(String, StoreKey, Arc<dyn TokenStore>)> {
    let location = B::location(test)?;
    let key = StoreKey::new("contract", "client", unique_subject(test));
    let store = B::store(location.clone(), key.clone(), Settings::default()).await;
    Some((location, key, store))
}

/// Another handle on the same key, as another replica holds it.
async fn replica<B: Backend>(location: &str, key: &StoreKey) -> Arc<dyn TokenStore> {
    B::store(location.to_owned(), key.clone(), Settings::default()).await
}

/// An empty store loads `None`, and deleting nothing succeeds.
pub async fn an_empty_store_loads_none_and_deleting_nothing_succeeds<B: Backend>(test: &str) {
    let Some((_, _, store)) = open::<B>(test).await else {
        return;
    };
    assert!(store.load().await.unwrap().is_none(), "{}", B::NAME);
    store.delete().await.unwrap();
    assert!(store.load().await.unwrap().is_none(), "{}", B::NAME);
}

/// `load` returns what the last `save` wrote, through any handle on the same key.
pub async fn load_returns_the_last_save_through_any_handle<B: Backend>(test: &str) {
    let Some((location, key, store)) = open::<B>(test).await else {
        return;
    };
    let first = expired("at-1", Some("rt-1"));
    store.save(&first).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), first);
    let other = replica::<B>(&location, &key).await;
    let second = expired("at-2", Some("rt-2"));
    other.save(&second).await.unwrap();
    assert_eq!(
        store.load().await.unwrap().unwrap(),
        second,
        "{}: the last save wins, whoever made it",
        B::NAME
    );
    store.delete().await.unwrap();
}

/// Two keys are two stores: saving or deleting one leaves the other alone.
pub async fn keys_are_separate<B: Backend>(test: &str) {
    let Some((location, _, store)) = open::<B>(test).await else {
        return;
    };
    let other_key = StoreKey::new("contract", "client", unique_subject("other"));
    let elsewhere = B::store(location, other_key, Settings::default()).await;
    let tokens = expired("at-c", Some("rt-c"));
    store.save(&tokens).await.unwrap();
    assert!(
        elsewhere.load().await.unwrap().is_none(),
        "{}: keys are separate",
        B::NAME
    );
    elsewhere.delete().await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), tokens);
    store.delete().await.unwrap();
}

/// `delete` empties the store for every handle on the key.
pub async fn delete_empties_the_store_for_every_handle<B: Backend>(test: &str) {
    let Some((location, key, store)) = open::<B>(test).await else {
        return;
    };
    let other = replica::<B>(&location, &key).await;
    store.save(&expired("at-d", Some("rt-d"))).await.unwrap();
    store.delete().await.unwrap();
    assert!(store.load().await.unwrap().is_none());
    assert!(other.load().await.unwrap().is_none(), "{}", B::NAME);
}

/// The lock excludes a second holder (another handle, as in another replica) until it is
/// released. With [`Backend::BOUNDED_LOCK_WAIT`] the second holder's wait ends after its bound
/// in a typed, transient [`StoreError::LockTimeout`] that does not ask for a new login;
/// otherwise it is still waiting. After the release the second holder gets the lock.
pub async fn the_lock_excludes_a_second_holder_until_released<B: Backend>(test: &str) {
    let Some((location, key, store)) = open::<B>(test).await else {
        return;
    };
    let wait = Duration::from_millis(400);
    let second = B::store(location, key, Settings::with_lock_wait(wait)).await;
    let held = store.lock().await.unwrap();
    let started = Instant::now();
    match tokio::time::timeout(wait * 5, second.lock()).await {
        Ok(Ok(_)) => panic!("{}: a second holder got a held lock", B::NAME),
        Ok(Err(e)) => {
            let waited = started.elapsed();
            assert!(B::BOUNDED_LOCK_WAIT, "{}: lock() failed: {e}", B::NAME);
            assert!(
                matches!(e, Error::Store(StoreError::LockTimeout { .. })),
                "{e}"
            );
            assert!(e.is_transient(), "{e}");
            assert!(!e.is_reauthorization_required(), "{e}");
            assert!(
                waited >= wait - Duration::from_millis(50) && waited < wait * 5,
                "waited {waited:?} for a bound of {wait:?}"
            );
        }
        Err(_) => assert!(
            !B::BOUNDED_LOCK_WAIT,
            "{}: lock() waited past 5 × its bound of {wait:?}",
            B::NAME
        ),
    }
    held.release().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), second.lock())
        .await
        .expect("the lock is free after the release")
        .unwrap()
        .release()
        .await
        .unwrap();
}

/// Another key's lock is independent, and the holder reads and writes as usual under its lock.
pub async fn another_keys_lock_is_independent_and_the_holder_reads_and_writes<B: Backend>(
    test: &str,
) {
    let Some((location, _, store)) = open::<B>(test).await else {
        return;
    };
    let other_key = StoreKey::new("contract", "client", unique_subject("other"));
    let elsewhere = B::store(
        location,
        other_key,
        Settings::with_lock_wait(Duration::from_secs(2)),
    )
    .await;
    let held = store.lock().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), elsewhere.lock())
        .await
        .expect("another key's lock is free")
        .unwrap()
        .release()
        .await
        .unwrap();
    let tokens = expired("at-l", Some("rt-l"));
    store.save(&tokens).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), tokens);
    held.release().await.unwrap();
    store.delete().await.unwrap();
}

/// A lock dropped without `release()` is released (in the background) too.
pub async fn a_dropped_lock_is_released<B: Backend>(test: &str) {
    let Some((location, key, store)) = open::<B>(test).await else {
        return;
    };
    let second = replica::<B>(&location, &key).await;
    drop(store.lock().await.unwrap());
    tokio::time::timeout(Duration::from_secs(5), second.lock())
        .await
        .expect("a dropped lock is released")
        .unwrap()
        .release()
        .await
        .unwrap();
}

/// Two token sources on two handles of one store (two replicas in one process), 20 callers
/// each, share an expired token whose refresh token rotates strictly: exactly one refresh,
/// every caller gets the new token, and the store holds the new pair. This is what the lock
/// and the re-read under it are for.
pub async fn two_token_sources_on_one_store_refresh_once<B: Backend>(test: &str) {
    let Some(location) = B::location(test) else {
        return;
    };
    let fake = FakeTokenEndpoint::start().await;
    fake.set_live_refresh_token(Some("rt-0"));
    fake.set_delay(Duration::from_millis(100)); // so that the callers overlap
    let key = StoreKey::for_client(&fake.client(), unique_subject(test));
    let store = B::store(location.clone(), key.clone(), Settings::default()).await;
    store.save(&expired("at-0", Some("rt-0"))).await.unwrap();
    let mut sources = Vec::new();
    for _ in 0..2 {
        let handle = B::store(location.clone(), key.clone(), Settings::default()).await;
        let source = TokenSource::builder(client_for(&fake.url))
            .store(handle)
            .build()
            .await
            .unwrap();
        sources.push(source);
    }
    let (a, b) = tokio::join!(
        concurrent_calls(&sources[0], 20),
        concurrent_calls(&sources[1], 20)
    );
    for result in a.into_iter().chain(b) {
        let token = result.unwrap_or_else(|e| {
            panic!(
                "{}: a caller failed (invalid_grant means a second refresh): {e}",
                B::NAME
            )
        });
        assert_eq!(token.expose(), "at-1");
    }
    assert_eq!(fake.token_requests(), 1, "{}: one refresh", B::NAME);
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().expose(), "at-1");
    assert_eq!(stored.refresh_token().unwrap().expose(), "rt-1");
    store.delete().await.unwrap();
}

/// One `#[tokio::test]` per guarantee of the single-process contract, for `$backend` (a
/// [`Backend`](crate::store_contract::Backend)), in a module `store_contract` of the
/// calling test file.
#[macro_export]
macro_rules! store_contract_tests {
    ($backend:ty) => {
        mod store_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::__contract_test!(
                $backend,
                an_empty_store_loads_none_and_deleting_nothing_succeeds
            );
            $crate::__contract_test!($backend, load_returns_the_last_save_through_any_handle);
            $crate::__contract_test!($backend, keys_are_separate);
            $crate::__contract_test!($backend, delete_empties_the_store_for_every_handle);
            $crate::__contract_test!($backend, the_lock_excludes_a_second_holder_until_released);
            $crate::__contract_test!(
                $backend,
                another_keys_lock_is_independent_and_the_holder_reads_and_writes
            );
            $crate::__contract_test!($backend, a_dropped_lock_is_released);
            $crate::__contract_test!($backend, two_token_sources_on_one_store_refresh_once);
        }
    };
}

/// One contract test (the macros' building block).
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_test {
    ($backend:ty, $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::store_contract::$name::<$backend>(stringify!($name)).await;
        }
    };
}
