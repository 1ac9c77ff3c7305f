//! # grantkit-store-postgres
//!
//! A [`TokenStore`] on PostgreSQL for backends that run several replicas: one table holds every
//! user's tokens, keyed by [`StoreKey`] `(provider, client, subject)`, and a
//! [`TokenSource`](grantkit::TokenSource) on any replica refreshes an expiring token **once**
//! across all of them, so a provider that rotates refresh tokens (Polar.sh) never sees a
//! rotated-out one.
//!
//! ```no_run
//! use grantkit::TokenSource;
//! use grantkit::store::{SealingKeys, StoreKey};
//! use grantkit_store_postgres::PostgresTokenStores;
//!
//! # async fn run(client: grantkit::Client, user_id: &str) -> grantkit::Result<()> {
//! let pool = sqlx::PgPool::connect("postgres://app@db/app").await
//!     .map_err(|e| grantkit::Error::Config(e.to_string()))?;
//! let stores = PostgresTokenStores::new(pool)
//!     // optional: tokens at rest sealed with AES-256-GCM under your key (id 1)
//!     .sealing(SealingKeys::from_base64(1, &std::env::var("TOKEN_KEY").unwrap())?);
//! stores.migrate().await?; // creates the table if needed (idempotent, safe from every replica)
//!
//! // One store per user; cheap to make on every request.
//! let source = TokenSource::builder(client.clone())
//!     .store(stores.store(StoreKey::for_client(&client, user_id)))
//!     .build()
//!     .await?; // `is_reauthorization_required()` when this user has no tokens yet
//! let token = source.access_token().await?;
//! # let _ = token; Ok(()) }
//! ```
//!
//! ## How one refresh across replicas works
//!
//! [`TokenStore::lock`] takes a **session-level advisory lock** (`pg_advisory_lock`) on a
//! 64-bit id derived from the key (SHA-256 of [`StoreKey::canonical`]) on a connection taken from
//! the pool for the whole critical section; `load` and `save` made while the lock is held run on
//! that same connection (one connection per refresh, so a busy pool cannot deadlock the holder).
//! The token source then re-reads the row, refreshes only if it still needs to, saves (an
//! autocommitted upsert: durable when it returns) and releases with `pg_advisory_unlock`.
//!
//! - **Waiting is bounded** by [`lock_wait`](PostgresTokenStores::lock_wait) (default 45 s,
//!   longer than a token request's 30 s timeout): `lock_timeout` on the server, then
//!   [`StoreError::LockTimeout`] (transient).
//! - **A holder that dies releases the lock**: its connection closes and PostgreSQL ends the
//!   session, which drops its advisory locks (at once for a killed process; for a host that
//!   vanished, after the TCP keepalive set on the lock's session by
//!   [`dead_holder_timeout`](PostgresTokenStores::dead_holder_timeout), default 10 s).
//! - A live holder keeps the lock however long its token request takes: there is no lease to
//!   run out under it (unlike Redis).
//!
//! The guarantee, the failure modes and measured figures are in `docs/scaling.md`.
//!
//! ## Schema
//!
//! [`MIGRATION`] (`migrations/0001_grantkit_tokens.sql`), applied by
//! [`PostgresTokenStores::migrate`]: table `grantkit_tokens (provider, client_id, subject,
//! tokens bytea, key_id smallint, updated_at)`, primary key `(provider, client_id, subject)`.
//! `tokens` is the [`TokenCodec`] encoding: the `TokenSet` JSON, or the sealed envelope.
//! Schema 2 adds `grantkit_seen` (the [`ReplayGuard`]); schema 3 ([`SCHEMA_VERSION`]) adds
//! `grantkit_sessions`, where the `PostgresSessionStore` of feature `axum-sessions` keeps
//! grantkit-axum's sessions. Every step is idempotent: `migrate` upgrades an older database.
//!
//! **Upgrading from grantkit 0.1**: [`StoreKey::for_client`] now names the provider by its
//! issuer and token endpoint instead of its display name, so rows saved under 0.1's keys are
//! not found under the new ones (and sealed rows are written in envelope format 2). Move them,
//! or let those users authorize again: `docs/scaling.md`, "Store keys and upgrading from 0.1".
//!
//! TLS: this crate enables no TLS backend of sqlx; an application that connects over TLS
//! enables sqlx's `tls-rustls` (or `tls-native-tls`) feature itself, and Cargo's feature
//! unification gives it to this crate too.

// Library code never panics on what it reads; CI's `clippy -D warnings` turns these into errors.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(feature = "axum-sessions")]
mod sessions;
#[cfg(feature = "axum-sessions")]
pub use sessions::PostgresSessionStore;

/// The code of `docs/scaling.md` (the shared stores), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/scaling.md")]
struct ScalingGuide;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use grantkit::store::{
    BoxFuture, ReplayGuard, SealingKeys, StoreError, StoreKey, StoreLock, TokenCodec, TokenStore,
};
use grantkit::{Result, TokenSet};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// The schema migrations this crate ships (`migrations/0001_grantkit_tokens.sql`, the tokens;
/// `migrations/0002_grantkit_seen.sql`, the [`ReplayGuard`]'s one-time ids;
/// `migrations/0003_grantkit_sessions.sql`, grantkit-axum's sessions), applied by
/// [`PostgresTokenStores::migrate`]. Idempotent (`CREATE … IF NOT EXISTS`), so a database at an
/// older schema upgrades by running it again; apply them with your own migration tool instead
/// if you prefer.
pub const MIGRATION: &str = concat!(
    include_str!("../migrations/0001_grantkit_tokens.sql"),
    include_str!("../migrations/0002_grantkit_seen.sql"),
    include_str!("../migrations/0003_grantkit_sessions.sql")
);

/// The schema version [`MIGRATION`] brings a database to (the number of its last file).
pub const SCHEMA_VERSION: u32 = 3;

/// The advisory lock id `migrate` serializes concurrent replicas with.
const MIGRATION_LOCK: i64 = 0x6772_616e_746b_6974; // "grantkit"

/// Settings shared by every store made from one [`PostgresTokenStores`].
#[derive(Clone)]
struct Config {
    pool: PgPool,
    codec: TokenCodec,
    lock_wait: Duration,
    dead_holder_timeout: Duration,
}

/// The token stores of one PostgreSQL database: holds the pool and the settings, and makes a
/// [`PostgresTokenStore`] per user with [`store`](PostgresTokenStores::store). Clone it freely.
#[derive(Clone)]
pub struct PostgresTokenStores {
    config: Arc<Config>,
}

impl fmt::Debug for PostgresTokenStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTokenStores")
            .field("key_id", &self.config.codec.key_id())
            .field("lock_wait", &self.config.lock_wait)
            .field("dead_holder_timeout", &self.config.dead_holder_timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresTokenStores {
    /// Stores in the database of `pool`, tokens in clear (see [`sealing`](Self::sealing)).
    ///
    /// Size the pool for your concurrency: each refresh in progress holds one connection
    /// (waiting for the lock included) and every other `load`/`save` borrows one briefly.
    pub fn new(pool: PgPool) -> Self {
        Self {
            config: Arc::new(Config {
                pool,
                codec: TokenCodec::plain(),
                lock_wait: Duration::from_secs(45),
                dead_holder_timeout: Duration::from_secs(10),
            }),
        }
    }

    /// Connects a pool with sqlx's defaults (10 connections) to `url`.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPool::connect(url)
            .await
            .map_err(|e| io("the PostgreSQL token store", "connect", e))?;
        Ok(Self::new(pool))
    }

    /// How long [`TokenStore::lock`] waits for another replica's refresh before answering
    /// [`StoreError::LockTimeout`]. Default 45 s: longer than a token request may take (30 s
    /// timeout by default), so a waiter gives up only when something is wrong.
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        Arc::make_mut(&mut self.config).lock_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// How soon PostgreSQL notices that the host of a lock holder vanished (no FIN: power
    /// loss, network partition) and ends its session, which releases the lock: the TCP
    /// keepalive and `tcp_user_timeout` of the lock's session. Default 10 s. A killed
    /// process releases at once, whatever this says. (Ignored over Unix sockets.)
    pub fn dead_holder_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).dead_holder_timeout = timeout.max(Duration::from_secs(3));
        self
    }

    /// Seals tokens at rest with AES-256-GCM under `keys` (see [`SealingKeys`]). Rows sealed
    /// with another key, or stored in clear, are refused with [`StoreError::Unseal`].
    pub fn sealing(mut self, keys: SealingKeys) -> Self {
        Arc::make_mut(&mut self.config).codec = TokenCodec::sealed(keys);
        self
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.config.pool
    }

    /// Applies [`MIGRATION`]: creates the tables (and indexes) that do not exist yet, which
    /// brings a database at any older schema to [`SCHEMA_VERSION`]. Safe to call from every
    /// replica at start (serialized by an advisory lock, idempotent).
    pub async fn migrate(&self) -> Result<()> {
        migrate(&self.config.pool).await
    }

    /// The store of `key`'s tokens.
    pub fn store(&self, key: StoreKey) -> PostgresTokenStore {
        PostgresTokenStore {
            describe: format!("the PostgreSQL token store ({key})"),
            lock_id: lock_id(&key),
            key,
            config: self.config.clone(),
            held: Arc::default(),
        }
    }
}

/// One-time ids (a back-channel logout token's `jti`) remembered in the `grantkit_seen` table
/// (schema 2: run [`PostgresTokenStores::migrate`]) until they expire, for every replica at
/// once. One statement decides: an insert, or the reuse of an expired row; a row still valid
/// makes it a replay. Kept at least a minute. Remove expired rows now and then with
/// [`PostgresTokenStores::forget_expired_ids`].
impl ReplayGuard for PostgresTokenStores {
    fn first_use<'a>(
        &'a self,
        scope: &'a str,
        id: &'a str,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let until = expires.duration_since(UNIX_EPOCH).unwrap_or_default().max(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    + Duration::from_secs(60),
            );
            let admitted: Option<(i32,)> = sqlx::query_as(
                "INSERT INTO grantkit_seen (scope, id, expires_at) VALUES ($1, $2, to_timestamp($3)) \
                 ON CONFLICT (scope, id) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                 WHERE grantkit_seen.expires_at < now() RETURNING 1",
            )
            .bind(scope)
            .bind(id)
            .bind(until.as_secs_f64())
            .fetch_optional(&self.config.pool)
            .await
            .map_err(|e| io("the PostgreSQL replay guard", "remember a one-time id", e))?;
            Ok(admitted.is_some())
        })
    }
}

impl PostgresTokenStores {
    /// Deletes the one-time ids whose expiry passed (the [`ReplayGuard`] reuses such rows
    /// anyway; this only keeps the table small). Returns how many went.
    pub async fn forget_expired_ids(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM grantkit_seen WHERE expires_at < now()")
            .execute(&self.config.pool)
            .await
            .map_err(|e| {
                io(
                    "the PostgreSQL replay guard",
                    "delete expired one-time ids",
                    e,
                )
            })?;
        Ok(done.rows_affected())
    }
}

/// [`PostgresTokenStores::migrate`] on `pool` (the session store migrates with it too).
pub(crate) async fn migrate(pool: &PgPool) -> Result<()> {
    const WHAT: &str = "the PostgreSQL stores";
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| io(WHAT, "begin the migration", e))?;
    run_sql(
        &mut tx,
        &format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"),
    )
    .await
    .map_err(|e| io(WHAT, "lock for the migration", e))?;
    run_sql(&mut tx, MIGRATION)
        .await
        .map_err(|e| io(WHAT, "apply the migration", e))?;
    tx.commit()
        .await
        .map_err(|e| io(WHAT, "commit the migration", e))?;
    Ok(())
}

/// The 64-bit advisory lock id of a key: the first 8 bytes of SHA-256 over a fixed label and
/// [`StoreKey::canonical`]. Two keys sharing an id (about 1 in 2⁶⁴) only refresh one after the
/// other.
pub fn lock_id(key: &StoreKey) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"grantkit token lock\0")
        .chain_update(key.canonical().as_bytes())
        .finalize();
    // A SHA-256 digest is 32 bytes, so its first 8 always exist.
    #[allow(clippy::indexing_slicing, clippy::expect_used)]
    let first = digest[..8].try_into().expect("8 bytes");
    i64::from_be_bytes(first)
}

/// One user's tokens in PostgreSQL (a row of `grantkit_tokens`) and their refresh lock. Made
/// by [`PostgresTokenStores::store`]. Clones are the same store (they share the lock's
/// connection).
#[derive(Clone)]
pub struct PostgresTokenStore {
    config: Arc<Config>,
    key: StoreKey,
    lock_id: i64,
    describe: String,
    /// The connection holding the advisory lock while it is held; `load` and `save` use it.
    held: Arc<tokio::sync::Mutex<Option<LockConnection>>>,
}

impl fmt::Debug for PostgresTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTokenStore")
            .field("key", &self.key)
            .field("lock_id", &self.lock_id)
            .finish_non_exhaustive()
    }
}

/// A pooled connection that may hold the advisory lock. Unless it was released cleanly, it is
/// closed when dropped — never returned to the pool with the lock still held — and the server
/// ends the session, which releases the lock.
struct LockConnection {
    conn: PoolConnection<Postgres>,
    clean: bool,
}

impl Drop for LockConnection {
    fn drop(&mut self) {
        if !self.clean {
            self.conn.close_on_drop();
        }
    }
}

fn io(store: &str, operation: &'static str, e: sqlx::Error) -> grantkit::Error {
    StoreError::Io {
        store: store.to_owned(),
        operation,
        message: e.to_string(),
    }
    .into()
}

/// Runs `sql` (several statements, no parameters) on `conn`. Boxed with an explicit lifetime:
/// sqlx's `Executor` for `&mut PgConnection` is not general enough for an inline `Send` future.
fn run_sql<'c>(
    conn: &'c mut sqlx::PgConnection,
    sql: &'c str,
) -> BoxFuture<'c, std::result::Result<(), sqlx::Error>> {
    use sqlx::Executor;
    // A string without arguments goes out as one simple Query message (several statements).
    // Safe to assert (sqlx 0.9 takes only `&'static str` unasserted): the callers format
    // numbers of their own into these statements, never a caller's or a server's text.
    Box::pin(async move { conn.execute(sqlx::AssertSqlSafe(sql)).await.map(|_| ()) })
}

fn seconds(d: Duration) -> u64 {
    d.as_secs().max(1)
}

impl PostgresTokenStore {
    /// The key of the tokens this store holds.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    fn io(&self, operation: &'static str, e: sqlx::Error) -> grantkit::Error {
        io(&self.describe, operation, e)
    }

    fn timeout(&self, started: Instant) -> grantkit::Error {
        StoreError::LockTimeout {
            store: self.describe.clone(),
            waited: started.elapsed(),
        }
        .into()
    }

    async fn take_lock(&self) -> Result<LockConnection> {
        let config = &self.config;
        let started = Instant::now();
        let conn = tokio::time::timeout(config.lock_wait, config.pool.acquire())
            .await
            .map_err(|_| self.timeout(started))?
            .map_err(|e| self.io("get a connection for the lock", e))?;
        let mut conn = LockConnection { conn, clean: false };
        let wait = config.lock_wait.saturating_sub(started.elapsed());
        let dead = config.dead_holder_timeout;
        // One round trip (an implicit transaction: on a timeout the SETs are rolled back).
        // Numbers only: nothing here comes from outside.
        let sql = format!(
            "SET lock_timeout = {wait}; \
             SET tcp_keepalives_idle = {idle}; SET tcp_keepalives_interval = {interval}; \
             SET tcp_keepalives_count = 3; SET tcp_user_timeout = {user}; \
             SELECT pg_advisory_lock({id}); RESET lock_timeout",
            wait = wait.as_millis().max(1),
            idle = seconds(dead / 3),
            interval = seconds(dead / 6),
            user = dead.as_millis(),
            id = self.lock_id,
        );
        // The server's lock_timeout decides; the client-side bound only covers a server that
        // stopped answering. Cancelled or timed out here, the connection is closed, not pooled.
        match tokio::time::timeout(wait + Duration::from_secs(5), run_sql(&mut conn.conn, &sql))
            .await
        {
            Err(_) => Err(self.timeout(started)),
            Ok(Err(sqlx::Error::Database(e))) if e.code().as_deref() == Some("55P03") => {
                conn.clean = true; // the lock was not taken; the connection is fine
                Err(self.timeout(started))
            }
            Ok(Err(e)) => Err(self.io("lock", e)),
            Ok(Ok(_)) => Ok(conn),
        }
    }
}

/// Runs `$query` on the lock's connection when this store holds the lock, else on the pool.
macro_rules! on_connection {
    ($self:ident, |$c:ident| $query:expr) => {{
        let mut slot = $self.held.lock().await;
        match slot.as_mut() {
            Some(held) => {
                let $c = &mut *held.conn;
                $query.await
            }
            None => {
                drop(slot);
                let $c = &$self.config.pool;
                $query.await
            }
        }
    }};
}

impl TokenStore for PostgresTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        Box::pin(async move {
            let row: Option<(Vec<u8>,)> = on_connection!(self, |c| sqlx::query_as(
                "SELECT tokens FROM grantkit_tokens WHERE provider = $1 AND client_id = $2 AND subject = $3"
            )
            .bind(self.key.provider())
            .bind(self.key.client())
            .bind(self.key.subject())
            .fetch_optional(c))
            .map_err(|e| self.io("read", e))?;
            row.map(|(bytes,)| {
                self.config
                    .codec
                    .decode(&self.key, &bytes, &self.describe)
                    .map_err(Into::into)
            })
            .transpose()
        })
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let bytes = self.config.codec.encode(&self.key, tokens)?;
            let key_id = self.config.codec.key_id().map(i16::from);
            let upsert = || {
                sqlx::query(
                    "INSERT INTO grantkit_tokens (provider, client_id, subject, tokens, key_id) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (provider, client_id, subject) DO UPDATE \
                     SET tokens = EXCLUDED.tokens, key_id = EXCLUDED.key_id, updated_at = now()",
                )
                .bind(self.key.provider())
                .bind(self.key.client())
                .bind(self.key.subject())
                .bind(&bytes)
                .bind(key_id)
            };
            match on_connection!(self, |c| upsert().execute(c)) {
                Ok(_) => Ok(()),
                // The lock's connection broke (its lock is gone with it): the new pair must
                // still be stored, so try once more on the pool.
                Err(e) if matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) => {
                    tracing::warn!(error = %e, "the lock's connection broke; saving through the pool");
                    upsert()
                        .execute(&self.config.pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| self.io("write", e))
                }
                Err(e) => Err(self.io("write", e)),
            }
        })
    }

    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            on_connection!(self, |c| sqlx::query(
                "DELETE FROM grantkit_tokens WHERE provider = $1 AND client_id = $2 AND subject = $3"
            )
            .bind(self.key.provider())
            .bind(self.key.client())
            .bind(self.key.subject())
            .execute(c))
            .map(|_| ())
            .map_err(|e| self.io("delete", e))
        })
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        Box::pin(async move {
            let conn = self.take_lock().await?;
            let previous = self.held.lock().await.replace(conn);
            debug_assert!(
                previous.is_none(),
                "the advisory lock excludes a second holder"
            );
            let held = self.held.clone();
            let id = self.lock_id;
            let describe = self.describe.clone();
            Ok(StoreLock::with_release(move || {
                Box::pin(async move {
                    let Some(mut conn) = held.lock().await.take() else {
                        return Ok(());
                    };
                    let sql = format!(
                        "SELECT pg_advisory_unlock({id}); RESET tcp_keepalives_idle; \
                         RESET tcp_keepalives_interval; RESET tcp_keepalives_count; \
                         RESET tcp_user_timeout"
                    );
                    match run_sql(&mut conn.conn, &sql).await {
                        Ok(_) => {
                            conn.clean = true;
                            Ok(())
                        }
                        // Dropped unclean: the connection closes and the session's lock with it.
                        Err(e) => Err(io(&describe, "unlock", e)),
                    }
                })
            }))
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
