//! [`MemoryTokenStore`]: the contract's reference implementation, in memory.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Result;
use crate::token::TokenSet;

use super::contract::{BoxFuture, StoreLock, TokenStore};

/// A token store in memory: for tests, for processes that re-authorize at start, and for
/// static tokens. Clones share the same slot (and the same lock), so two
/// [`TokenSource`](crate::TokenSource)s given clones coordinate like two processes sharing a file.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> grantkit::Result<()> {
/// use grantkit::TokenSet;
/// use grantkit::store::{MemoryTokenStore, TokenStore};
/// let store = MemoryTokenStore::new();
/// assert!(store.load().await?.is_none());
/// store.save(&TokenSet::from_access_token("at")).await?;
/// assert_eq!(store.load().await?.unwrap().access_token().expose(), "at");
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct MemoryTokenStore {
    inner: Arc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    tokens: Mutex<Option<TokenSet>>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `tokens`.
    pub fn with_tokens(tokens: TokenSet) -> Self {
        let store = Self::default();
        *store.slot() = Some(tokens);
        store
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<TokenSet>> {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("holds_tokens", &self.slot().is_some())
            .finish()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        Box::pin(async move { Ok(self.slot().clone()) })
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            *self.slot() = Some(tokens.clone());
            Ok(())
        })
    }

    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            *self.slot() = None;
            Ok(())
        })
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        let mutex = self.inner.lock.clone();
        Box::pin(async move { Ok(StoreLock::on_drop(mutex.lock_owned().await)) })
    }

    fn describe(&self) -> String {
        "the memory token store".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_lock_excludes_clones() {
        let store = MemoryTokenStore::new();
        let other = store.clone();
        let held = store.lock().await.unwrap();
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), other.lock()).await;
        assert!(
            second.is_err(),
            "a clone's lock waits while the first is held"
        );
        held.release().await.unwrap();
        let _again = other.lock().await.unwrap();
    }
}
