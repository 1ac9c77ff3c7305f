//! [`ReplayGuard`]: remembers one-time identifiers (a logout token's `jti`) until they expire,
//! so a second delivery is refused. Replicas behind a load balancer must share one, as they
//! share a token store: the PostgreSQL and Redis store crates provide theirs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::Result;

use super::contract::BoxFuture;

/// Remembers identifiers that may be used once.
///
/// `first_use` records `id` under `scope` (the issuer, so two providers' ids never collide)
/// until `expires` and answers whether this was its first use. It must be atomic across every
/// process sharing the guard: two concurrent calls with the same id may not both get `true`.
pub trait ReplayGuard: Send + Sync {
    /// `true` the first time `(scope, id)` is seen before `expires`; `false` after.
    fn first_use<'a>(
        &'a self,
        scope: &'a str,
        id: &'a str,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<bool>>;
}

impl<T: ReplayGuard + ?Sized> ReplayGuard for Arc<T> {
    fn first_use<'a>(
        &'a self,
        scope: &'a str,
        id: &'a str,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<bool>> {
        (**self).first_use(scope, id, expires)
    }
}

/// A [`ReplayGuard`] in memory, for one process. Clones share their memory. Expired entries are
/// dropped as new ones arrive, so it holds at most the ids of the tokens still valid.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> grantkit::Result<()> {
/// use grantkit::store::{MemoryReplayGuard, ReplayGuard};
/// let guard = MemoryReplayGuard::new();
/// let until = std::time::SystemTime::now() + std::time::Duration::from_secs(120);
/// assert!(guard.first_use("https://op.example", "jti-1", until).await?);
/// assert!(!guard.first_use("https://op.example", "jti-1", until).await?);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryReplayGuard {
    seen: Arc<Mutex<HashMap<(String, String), SystemTime>>>,
}

impl MemoryReplayGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn first_use<'a>(
        &'a self,
        scope: &'a str,
        id: &'a str,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let now = SystemTime::now();
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.retain(|_, until| *until > now);
            // Kept at least a minute, so a token whose `exp` is already near still cannot be
            // replayed within the verifier's leeway.
            let until = expires.max(now + Duration::from_secs(60));
            Ok(seen
                .insert((scope.to_owned(), id.to_owned()), until)
                .is_none())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_id_is_new_once_per_scope_and_forgotten_after_it_expires() {
        let guard = MemoryReplayGuard::new();
        let later = SystemTime::now() + Duration::from_secs(600);
        assert!(guard.first_use("a", "1", later).await.unwrap());
        assert!(!guard.clone().first_use("a", "1", later).await.unwrap());
        assert!(
            guard.first_use("b", "1", later).await.unwrap(),
            "another issuer"
        );
        let past = SystemTime::now() - Duration::from_secs(600);
        guard
            .seen
            .lock()
            .unwrap()
            .insert(("a".into(), "2".into()), past);
        assert!(
            guard.first_use("a", "2", later).await.unwrap(),
            "expired entries go"
        );
    }
}
