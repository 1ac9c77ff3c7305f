//! The [`TokenStore`] contract every store implements, the [`StoreLock`] a store hands out for
//! the refresh critical section, and the [`StoreError`]s.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Result;
use crate::token::TokenSet;

/// A boxed, sendable future: what the methods of [`TokenStore`] return, so the trait stays
/// usable as `dyn TokenStore` without an `async-trait` macro.
///
/// Implement a method by boxing an `async` block:
///
/// ```
/// use grantkit::Result;
/// use grantkit::store::BoxFuture;
/// fn answer(x: &u32) -> BoxFuture<'_, Result<u32>> {
///     Box::pin(async move { Ok(*x + 1) })
/// }
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a [`TokenSource`](crate::TokenSource) keeps its tokens between refreshes and restarts.
///
/// # Contract
///
/// Every store (memory and file here; PostgreSQL, Redis or an application's own table elsewhere)
/// keeps **one** [`TokenSet`] and promises:
///
/// - [`load`](TokenStore::load) returns what the last successful [`save`](TokenStore::save)
///   wrote (by any process sharing the store), or `Ok(None)` when nothing is stored. It never
///   returns a half-written set: a store that cannot promise atomic replacement must detect a
///   torn value and say [`StoreError::Corrupt`](crate::error::StoreError::Corrupt).
/// - [`save`](TokenStore::save) returns `Ok` only once the set is durable (the token source
///   hands a refreshed pair out only after that, because a rotated refresh token exists nowhere
///   else).
/// - [`lock`](TokenStore::lock) excludes every other holder of the same store's lock — other
///   tasks, processes or replicas — until the [`StoreLock`] is released or dropped. The default
///   takes no lock ([`StoreLock::none`]), which is correct only when a single
///   [`TokenSource`](crate::TokenSource) uses the store.
///
/// The token source runs its refresh as: in-process single flight → `lock` → `load` (someone
/// else may have refreshed already) → refresh only if still needed → `save` → release → hand
/// out. See `docs/token-lifecycle.md`.
///
/// # Example: a store in an application's own database
///
/// ```
/// use std::sync::Mutex;
/// use grantkit::{Result, TokenSet};
/// use grantkit::store::{BoxFuture, TokenStore};
///
/// struct MyTable { row: Mutex<Option<String>> } // stands in for a database row
///
/// impl TokenStore for MyTable {
///     fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
///         Box::pin(async move {
///             let row = self.row.lock().unwrap().clone();
///             Ok(row.map(|json| serde_json::from_str(&json).expect("valid JSON")))
///         })
///     }
///     fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
///         Box::pin(async move {
///             *self.row.lock().unwrap() = Some(serde_json::to_string(tokens).unwrap());
///             Ok(())
///         })
///     }
///     fn delete(&self) -> BoxFuture<'_, Result<()>> {
///         Box::pin(async move {
///             *self.row.lock().unwrap() = None;
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync {
    /// Reads the stored token set; `Ok(None)` when nothing is stored.
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>>;

    /// Replaces the stored token set, durably and atomically.
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>>;

    /// Removes the stored token set (on logout). Deleting an empty store succeeds.
    fn delete(&self) -> BoxFuture<'_, Result<()>>;

    /// Takes the store-wide lock that guards the refresh critical section across processes.
    /// Waits until it is free. The default takes no lock.
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        Box::pin(async { Ok(StoreLock::none()) })
    }

    /// A short description for error messages and `Debug` output (never secrets),
    /// e.g. `the token file /home/me/.config/app/tokens.json`.
    fn describe(&self) -> String {
        "the token store".to_owned()
    }
}

impl<T: TokenStore + ?Sized> TokenStore for Arc<T> {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        (**self).load()
    }
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        (**self).save(tokens)
    }
    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        (**self).delete()
    }
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        (**self).lock()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

type Release = Box<dyn FnOnce() -> BoxFuture<'static, Result<()>> + Send>;

/// A held store lock (see [`TokenStore::lock`]). Release it with [`StoreLock::release`];
/// dropping it releases it too (see the constructors for how).
#[must_use = "the lock is released as soon as it is dropped"]
pub struct StoreLock {
    held: Held,
}

enum Held {
    Nothing,
    Guard(#[allow(dead_code)] Box<dyn Any + Send>),
    Release(Option<Release>),
}

impl StoreLock {
    /// No lock at all: for stores used by a single token source.
    pub fn none() -> Self {
        Self {
            held: Held::Nothing,
        }
    }

    /// A lock held as long as `guard` lives, and released by dropping it: a file with an
    /// advisory lock, a `tokio::sync::OwnedMutexGuard`...
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::Arc;
    /// let mutex = Arc::new(tokio::sync::Mutex::new(()));
    /// let lock = grantkit::store::StoreLock::on_drop(mutex.clone().lock_owned().await);
    /// assert!(mutex.try_lock().is_err());
    /// lock.release().await.unwrap();
    /// assert!(mutex.try_lock().is_ok());
    /// # }
    /// ```
    pub fn on_drop(guard: impl Send + 'static) -> Self {
        Self {
            held: Held::Guard(Box::new(guard)),
        }
    }

    /// A lock released by an asynchronous call (a Redis `DEL`, a PostgreSQL
    /// `pg_advisory_unlock`). [`StoreLock::release`] awaits it. If the lock is dropped
    /// unreleased (the task was cancelled), `release` is spawned on the current Tokio runtime
    /// when there is one; a store whose lock must never leak should also give it a lease (TTL).
    pub fn with_release(
        release: impl FnOnce() -> BoxFuture<'static, Result<()>> + Send + 'static,
    ) -> Self {
        Self {
            held: Held::Release(Some(Box::new(release))),
        }
    }

    /// Releases the lock.
    pub async fn release(mut self) -> Result<()> {
        match std::mem::replace(&mut self.held, Held::Nothing) {
            Held::Release(Some(release)) => release().await,
            _ => Ok(()),
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Held::Release(release) = &mut self.held {
            if let (Some(release), Ok(runtime)) =
                (release.take(), tokio::runtime::Handle::try_current())
            {
                runtime.spawn(async move {
                    if let Err(e) = release().await {
                        tracing::warn!(error = %e, "could not release a dropped token store lock");
                    }
                });
            }
        }
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.held {
            Held::Nothing => "StoreLock(none)",
            Held::Guard(_) => "StoreLock(held until dropped)",
            Held::Release(_) => "StoreLock(held until released)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn release_runs_once_and_drop_spawns_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let count = Arc::new(AtomicUsize::new(0));
        let make = |count: Arc<AtomicUsize>| {
            StoreLock::with_release(move || {
                Box::pin(async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            })
        };
        make(count.clone()).release().await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        drop(make(count.clone()));
        for _ in 0..100 {
            if count.load(Ordering::SeqCst) == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn no_tokens_is_reauthorization() {
        let e = crate::Error::from(crate::error::StoreError::NoTokens {
            store: "the memory token store".into(),
        });
        assert!(e.is_reauthorization_required());
        assert!(e.to_string().contains("authorize"), "{e}");
    }
}
