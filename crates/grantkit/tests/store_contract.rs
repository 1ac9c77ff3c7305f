//! The `TokenStore` contract of the testkit (`grantkit_testkit::store_contract`), run for the
//! memory store and the file store; the PostgreSQL and Redis stores run it in their crates.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use grantkit::store::{BoxFuture, FileTokenStore, MemoryTokenStore, StoreKey, TokenStore};
use grantkit_testkit::store_contract::{Backend, Settings};

/// The memory store: every handle on a key is a clone of one store (shared tokens and lock),
/// as two token sources in one process share it.
struct Memory;

impl Backend for Memory {
    const NAME: &'static str = "the memory store";
    const BOUNDED_LOCK_WAIT: bool = false;

    fn location(_test: &str) -> Option<String> {
        Some(String::new())
    }

    fn store(
        _location: String,
        key: StoreKey,
        _settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
        static STORES: OnceLock<Mutex<HashMap<String, MemoryTokenStore>>> = OnceLock::new();
        let store = STORES
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .entry(key.canonical())
            .or_default()
            .clone();
        Box::pin(async move { Arc::new(store) as Arc<dyn TokenStore> })
    }
}

/// The file store: one token file per key in a private directory under the target directory;
/// every handle opens the same file (and its `flock`).
struct File;

impl Backend for File {
    const NAME: &'static str = "the file store";
    const BOUNDED_LOCK_WAIT: bool = false;

    fn location(_test: &str) -> Option<String> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-contract-{}", std::process::id()));
        Some(dir.to_string_lossy().into_owned())
    }

    fn store(
        location: String,
        key: StoreKey,
        _settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
        let name: String = key
            .canonical()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let store = FileTokenStore::new(Path::new(&location).join(format!("{name}.json")));
        Box::pin(async move { Arc::new(store) as Arc<dyn TokenStore> })
    }
}

mod memory {
    use super::*;
    grantkit_testkit::store_contract_tests!(Memory);
}

mod file {
    use super::*;
    grantkit_testkit::store_contract_tests!(File);
}

/// The contract has teeth: a store that takes no lock (the trait's default) and a store whose
/// handles do not share their tokens fail it.
mod broken_stores_fail_the_contract {
    use super::*;
    use grantkit::{Result, TokenSet};

    /// A store whose `lock()` is the trait's default: it excludes nobody.
    struct NoLock;

    impl Backend for NoLock {
        const NAME: &'static str = "a store without a lock";
        const BOUNDED_LOCK_WAIT: bool = false;
        fn location(_test: &str) -> Option<String> {
            Some(String::new())
        }
        fn store(
            location: String,
            key: StoreKey,
            settings: Settings,
        ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
            Box::pin(async move {
                // The same tokens as every other handle, without the lock.
                let shared = Memory::store(location, key, settings).await;
                Arc::new(Forward(shared)) as Arc<dyn TokenStore>
            })
        }
    }

    /// Forwards everything but the lock to a shared memory store.
    struct Forward(Arc<dyn TokenStore>);

    impl TokenStore for Forward {
        fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
            self.0.load()
        }
        fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
            self.0.save(tokens)
        }
        fn delete(&self) -> BoxFuture<'_, Result<()>> {
            self.0.delete()
        }
    }

    /// Every handle is a store of its own, as if each replica had a private copy.
    struct Unshared;

    impl Backend for Unshared {
        const NAME: &'static str = "a store whose handles share nothing";
        const BOUNDED_LOCK_WAIT: bool = false;
        fn location(_test: &str) -> Option<String> {
            Some(String::new())
        }
        fn store(
            _location: String,
            _key: StoreKey,
            _settings: Settings,
        ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
            Box::pin(async { Arc::new(MemoryTokenStore::new()) as Arc<dyn TokenStore> })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "a second holder got a held lock")]
    async fn a_store_without_a_lock_fails_the_lock_guarantee() {
        grantkit_testkit::store_contract::the_lock_excludes_a_second_holder_until_released::<
            NoLock,
        >("a_store_without_a_lock_fails_the_lock_guarantee")
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // Which check fires first depends on timing: a second refresh (counted) or the caller
    // whose rotated refresh token died (`invalid_grant`, "a second refresh"). Both say so.
    #[should_panic(expected = "refresh")]
    async fn a_store_without_a_lock_refreshes_twice() {
        grantkit_testkit::store_contract::two_token_sources_on_one_store_refresh_once::<NoLock>(
            "a_store_without_a_lock_refreshes_twice",
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "the last save wins")]
    async fn a_store_whose_handles_share_nothing_fails_the_load_guarantee() {
        grantkit_testkit::store_contract::load_returns_the_last_save_through_any_handle::<
            Unshared,
        >("a_store_whose_handles_share_nothing_fails_the_load_guarantee")
        .await;
    }
}

/// The memory replay guard's clones share their memory, as replicas' handles must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_replay_guard_admits_each_id_once_across_clones() {
    let guard = grantkit::store::MemoryReplayGuard::new();
    grantkit_testkit::store_contract::replay_guard_admits_each_id_once(
        [
            std::sync::Arc::new(guard.clone()),
            std::sync::Arc::new(guard),
        ],
        "https://op.example",
    )
    .await;
}
