//! Server-side sessions: what a session holds and where it is kept.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use grantkit::store::BoxFuture;
use grantkit::{PendingAuthorization, PendingLogout};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The signed-in user of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's stable identifier at the provider: the ID token's `sub`, the userinfo
    /// `sub`, or (AccessLink, which has no ID token) the token response's `x_user_id`.
    pub subject: String,
    /// The provider's session id (`sid` of the ID token), which back-channel logout names.
    pub sid: Option<String>,
    /// The user's claims (ID token claims, or userinfo). Never tokens.
    pub claims: Map<String, Value>,
    /// Which login the tokens in the store came from: a replica holding an older login's
    /// tokens in memory reloads them from the store when it meets a newer login's session.
    #[serde(default)]
    pub login_id: String,
}

/// One browser's session, kept server-side. Tokens are not in it: they live in the token
/// store under the user's subject, behind a [`grantkit::TokenSource`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Session {
    /// When the session began, seconds since the Unix epoch (the absolute lifetime counts
    /// from here).
    pub created_at: u64,
    /// The last request seen, seconds since the Unix epoch (the idle lifetime counts from here).
    pub last_seen: u64,
    /// The signed-in user, once the login finished. Shared: every request of the session
    /// reads it, and none copies it.
    pub user: Option<Arc<User>>,
    /// A login in progress: what the callback is checked against. Boxed, as is
    /// `pending_logout`: both are rare, and every request moves the session.
    pub pending_login: Option<Box<PendingAuthorization>>,
    /// Where to go after the login (a path on this site).
    pub return_to: Option<String>,
    /// An RP-initiated logout in progress: what the provider's return is checked against.
    pub pending_logout: Option<Box<PendingLogout>>,
}

/// A secondary key under which a [`SessionStore`] finds sessions, for back-channel logout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SessionIndex {
    /// Every session begun in this provider session (`sid`).
    Sid(String),
    /// Every session of this user (`sub`).
    Subject(String),
}

impl SessionIndex {
    /// The index entries of `session`.
    pub fn of(session: &Session) -> Vec<SessionIndex> {
        let Some(user) = &session.user else {
            return Vec::new();
        };
        let mut keys = vec![SessionIndex::Subject(user.subject.clone())];
        if let Some(sid) = &user.sid {
            keys.push(SessionIndex::Sid(sid.clone()));
        }
        keys
    }
}

/// Why a session store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The backend (database, cache) failed.
    #[error("session store failed: {0}")]
    Backend(String),
    /// A stored session could not be read back.
    #[error("a stored session is unreadable: {0}")]
    Corrupt(String),
}

/// Where sessions are kept, by key. The keys the layer passes are digests of the cookie
/// value, not the value: a leaked store does not give out usable cookies.
///
/// Share one store between replicas so that a login, a logout or a back-channel logout seen
/// by one replica holds for all.
pub trait SessionStore: Send + Sync {
    /// The session under `key`, if present and not expired.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>>;
    /// Saves (replaces) the session under `key` until `expires`, and indexes it under
    /// [`SessionIndex::of`] its content.
    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>>;
    /// Removes the session under `key` (and its index entries). Removing nothing is `Ok`.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;
    /// The keys of the live sessions indexed under `index`.
    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>>;
}

impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        (**self).load(key)
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        (**self).save(key, session, expires)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        (**self).delete(key)
    }
    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        (**self).find(index)
    }
}

/// Sessions in this process's memory: for one replica, and for tests. Clones share the map.
#[derive(Clone, Debug, Default)]
pub struct MemorySessionStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    sessions: HashMap<String, (Session, SystemTime)>,
    index: HashMap<SessionIndex, HashSet<String>>,
    sweep_at: usize,
}

impl MemoryInner {
    fn sweep(&mut self, now: SystemTime) {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, (_, expires))| *expires <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
        self.sweep_at = (self.sessions.len() * 2).max(1024);
    }

    fn remove(&mut self, key: &str) {
        if let Some((old, _)) = self.sessions.remove(key) {
            for entry in SessionIndex::of(&old) {
                if let Some(keys) = self.index.get_mut(&entry) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.index.remove(&entry);
                    }
                }
            }
        }
    }

    fn live(&self, key: &str, now: SystemTime) -> Option<&Session> {
        self.sessions
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(session, _)| session)
    }
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryInner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SessionStore for MemorySessionStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        let now = SystemTime::now();
        let found = self.with(|m| m.live(key, now).cloned());
        Box::pin(async move { Ok(found) })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        let now = SystemTime::now();
        self.with(|m| {
            // Started-and-abandoned logins would pile up otherwise: drop the expired sessions
            // whenever the map has doubled since the last sweep.
            if m.sessions.len() >= m.sweep_at {
                m.sweep(now);
            }
            m.remove(key);
            for entry in SessionIndex::of(session) {
                m.index.entry(entry).or_default().insert(key.to_owned());
            }
            m.sessions
                .insert(key.to_owned(), (session.clone(), expires));
        });
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        self.with(|m| m.remove(key));
        Box::pin(async { Ok(()) })
    }

    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        let now = SystemTime::now();
        let keys = self.with(|m| {
            m.index
                .get(index)
                .into_iter()
                .flatten()
                .filter(|key| m.live(key, now).is_some())
                .cloned()
                .collect()
        });
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    // The SessionStore contract (index, expiry, delete) runs on this store in
    // tests/session_contract.rs, from grantkit-testkit; what is the memory store's own is here.
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn memory_store_sweeps_expired_sessions_so_abandoned_logins_do_not_pile_up() {
        let store = MemorySessionStore::new();
        let past = SystemTime::now() - Duration::from_secs(1);
        for i in 0..5000 {
            store
                .save(&i.to_string(), &Session::default(), past)
                .await
                .unwrap();
        }
        let held = store.with(|m| m.sessions.len());
        assert!(held <= 1024, "{held} expired sessions kept");
    }
}
