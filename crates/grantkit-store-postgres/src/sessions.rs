//! grantkit-axum's [`SessionStore`] on PostgreSQL (feature `axum-sessions`): replicas on one
//! database share their sessions, so a login, a logout or a back-channel logout received by one
//! replica holds for all.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use grantkit::store::BoxFuture;
use grantkit_axum::{Session, SessionError, SessionIndex, SessionStore};
use sqlx::PgPool;

/// Every this many saves, a replica deletes the expired rows (abandoned logins would pile up
/// otherwise; every read filters them out already, so this is only about the table's size).
const SWEEP_EVERY: u32 = 1000;

/// Sessions in the `grantkit_sessions` table (schema 3: run
/// [`PostgresTokenStores::migrate`](crate::PostgresTokenStores::migrate) or
/// [`migrate`](Self::migrate)), one row per session under the digest grantkit-axum passes as
/// its key (never a cookie value), with its user's `sid` and subject in indexed columns for
/// back-channel logout.
///
/// Expiry is enforced in every query (`expires_at > now()`, the earlier of the idle and the
/// absolute end that grantkit-axum computes): an expired row is never loaded or found, even
/// before a sweep deletes it. A save is one upsert, so the row and its index columns change
/// together.
///
/// ```no_run
/// use std::sync::Arc;
/// use grantkit::store::TokenStore;
/// use grantkit_axum::Grantkit;
/// use grantkit_store_postgres::{PostgresSessionStore, PostgresTokenStores};
///
/// # async fn run(client: grantkit::Client, pool: sqlx::PgPool) -> grantkit::Result<()> {
/// let tokens = PostgresTokenStores::new(pool.clone());
/// tokens.migrate().await?; // tokens, one-time ids and sessions (schema 3)
/// let stores = tokens.clone();
/// let gk = Grantkit::builder(client)
///     .session_store(PostgresSessionStore::new(pool))
///     .replay_guard(tokens)
///     .token_stores(move |key| Arc::new(stores.store(key.clone())) as Arc<dyn TokenStore>)
///     .build()
///     .map_err(|e| grantkit::Error::Config(e.to_string()))?;
/// # let _ = gk; Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresSessionStore {
    pool: PgPool,
    saves: Arc<AtomicU32>,
}

impl fmt::Debug for PostgresSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSessionStore")
            .finish_non_exhaustive()
    }
}

fn backend(operation: &str, e: impl fmt::Display) -> SessionError {
    SessionError::Backend(format!("PostgreSQL session store: {operation}: {e}"))
}

fn epoch_secs(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl PostgresSessionStore {
    /// Sessions in the database of `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            saves: Arc::default(),
        }
    }

    /// Connects a pool with sqlx's defaults (10 connections) to `url`.
    pub async fn connect(url: &str) -> Result<Self, SessionError> {
        let pool = PgPool::connect(url)
            .await
            .map_err(|e| backend("connect", e))?;
        Ok(Self::new(pool))
    }

    /// Brings the database to the crate's schema ([`SCHEMA_VERSION`](crate::SCHEMA_VERSION)),
    /// as [`PostgresTokenStores::migrate`](crate::PostgresTokenStores::migrate) does: one
    /// schema for tokens, one-time ids and sessions.
    pub async fn migrate(&self) -> Result<(), SessionError> {
        crate::migrate(&self.pool)
            .await
            .map_err(|e| backend("migrate", e))
    }

    /// Deletes the rows of expired sessions (reads skip them anyway). Returns how many went.
    /// A store does this by itself every thousand saves.
    pub async fn forget_expired_sessions(&self) -> Result<u64, SessionError> {
        let done = sqlx::query("DELETE FROM grantkit_sessions WHERE expires_at <= now()")
            .execute(&self.pool)
            .await
            .map_err(|e| backend("delete expired sessions", e))?;
        Ok(done.rows_affected())
    }

    async fn save_row(
        &self,
        key: &str,
        session: &Session,
        expires: SystemTime,
    ) -> Result<(), SessionError> {
        let json = serde_json::to_string(session).map_err(|e| backend("encode", e))?;
        let user = session.user.as_ref();
        sqlx::query(
            "INSERT INTO grantkit_sessions (key, session, subject, sid, expires_at) \
             VALUES ($1, $2, $3, $4, to_timestamp($5)) \
             ON CONFLICT (key) DO UPDATE SET session = EXCLUDED.session, \
             subject = EXCLUDED.subject, sid = EXCLUDED.sid, expires_at = EXCLUDED.expires_at",
        )
        .bind(key)
        .bind(json)
        .bind(user.map(|u| u.subject.as_str()))
        .bind(user.and_then(|u| u.sid.as_deref()))
        .bind(epoch_secs(expires))
        .execute(&self.pool)
        .await
        .map_err(|e| backend("save", e))?;
        if self.saves.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Err(e) = self.forget_expired_sessions().await {
                tracing::warn!(error = %e, "grantkit-store-postgres: sweeping expired sessions failed");
            }
        }
        Ok(())
    }

    async fn load_row(&self, key: &str) -> Result<Option<Session>, SessionError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT session FROM grantkit_sessions WHERE key = $1 AND expires_at > now()",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| backend("load", e))?;
        row.map(|(json,)| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| SessionError::Corrupt(e.to_string()))
    }

    async fn find_live(&self, index: &SessionIndex) -> Result<Vec<String>, SessionError> {
        // Two fixed statements, not a column name spliced into one.
        let (sql, value) = match index {
            SessionIndex::Sid(sid) => (
                "SELECT key FROM grantkit_sessions WHERE sid = $1 AND expires_at > now()",
                sid,
            ),
            SessionIndex::Subject(sub) => (
                "SELECT key FROM grantkit_sessions WHERE subject = $1 AND expires_at > now()",
                sub,
            ),
        };
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| backend("find", e))?;
        Ok(rows.into_iter().map(|(key,)| key).collect())
    }
}

impl SessionStore for PostgresSessionStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        Box::pin(self.load_row(key))
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(self.save_row(key, session, expires))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM grantkit_sessions WHERE key = $1")
                .bind(key)
                .execute(&self.pool)
                .await
                .map_err(|e| backend("delete", e))?;
            Ok(())
        })
    }

    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(self.find_live(index))
    }
}
