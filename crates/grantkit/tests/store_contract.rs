//! The `TokenStore` contract of the testkit (`grantkit_testkit::store_contract`), run for the
//! memory store and the file store; the PostgreSQL and Redis stores run it in their crates.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use grantkit::{BoxFuture, FileTokenStore, MemoryTokenStore, StoreKey, TokenStore};
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
