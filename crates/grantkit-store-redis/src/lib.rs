//! # grantkit-store-redis
//!
//! A [`TokenStore`] on Redis for backends that run several replicas: one Redis holds every
//! user's tokens, keyed by [`StoreKey`] `(provider, client, subject)`, and a
//! [`TokenSource`](grantkit::TokenSource) on any replica refreshes an expiring token **once**
//! across all of them, so a provider that rotates refresh tokens (Polar.sh) never sees a
//! rotated-out one.
//!
//! ```no_run
//! use grantkit::TokenSource;
//! use grantkit::store::{SealingKeys, StoreKey};
//! use grantkit_store_redis::RedisTokenStores;
//!
//! # async fn run(client: grantkit::Client, user_id: &str) -> grantkit::Result<()> {
//! let stores = RedisTokenStores::connect("redis://cache:6379/").await?
//!     // optional: tokens at rest sealed with AES-256-GCM under your key (id 1)
//!     .sealing(SealingKeys::from_base64(1, &std::env::var("TOKEN_KEY").unwrap())?);
//! let source = TokenSource::builder(client.clone())
//!     .store(stores.store(StoreKey::for_client(&client, user_id)))
//!     .build()
//!     .await?;
//! let token = source.access_token().await?;
//! # let _ = token; Ok(()) }
//! ```
//!
//! ## How one refresh across replicas works
//!
//! [`TokenStore::lock`] is the single-instance Redis lock: `SET <lock key> <random token> NX PX
//! <lease>`. A replica that does not get it polls with backoff (2 ms doubling to 50 ms, with
//! jitter) until [`lock_wait`](RedisTokenStores::lock_wait) (default 45 s), then answers
//! [`StoreError::LockTimeout`] (transient). The holder's lease
//! ([`lock_lease`](RedisTokenStores::lock_lease), default 10 s) is renewed every third of it
//! by a watchdog task (`PEXPIRE` only if the token is still ours), so a live holder keeps the
//! lock however long its token request takes, and a holder that dies (or freezes) loses it
//! when the lease runs out. The release deletes the key only if it still holds our token
//! (a Lua compare-and-delete), so a holder whose lease ran out can never release someone
//! else's lock.
//!
//! The token source re-reads the tokens under the lock (another replica may have refreshed),
//! refreshes only if still needed, saves (`SET`: atomic) and releases. If a frozen holder's
//! lease runs out mid-refresh, two refreshes can race; `docs/scaling.md` describes what then
//! happens and how grantkit's rotation detection limits it.
//!
//! ## Keys
//!
//! `<prefix>:tokens:{<canonical key>}` holds the [`TokenCodec`] bytes (the `TokenSet` JSON or
//! the sealed envelope), no TTL; `<prefix>:lock:{<canonical key>}` the lock token while a
//! refresh runs. The prefix defaults to `grantkit`; the braces are a Redis Cluster hash tag,
//! so both keys of a user live in one slot.
//!
//! **Upgrading from grantkit 0.1**: [`StoreKey::for_client`] now names the provider by its
//! issuer and token endpoint instead of its display name, so values saved under 0.1's keys are
//! not found under the new ones (and sealed values are written in envelope format 2). Move
//! them, or let those users authorize again: `docs/scaling.md`, "Store keys and upgrading from
//! 0.1".
//!
//! Durability is what the server gives: `save` returns once the primary applied the `SET`.
//! Use AOF (`appendfsync everysec` or `always`) on a Redis that keeps tokens: a token set lost
//! to a restart means re-authorization, as its refresh token was rotated.

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

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use grantkit::store::{
    BoxFuture, ReplayGuard, SealingKeys, StoreError, StoreKey, StoreLock, TokenCodec, TokenStore,
};
use grantkit::{Result, TokenSet};
use redis::aio::ConnectionManager;
use redis::Script;

/// Deletes the lock only if it still holds our token.
const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;
/// Extends the lease only if the lock still holds our token.
const RENEW: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end"#;

const MAX_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Clone)]
struct Config {
    conn: ConnectionManager,
    prefix: String,
    codec: TokenCodec,
    lock_lease: Duration,
    lock_wait: Duration,
}

/// The token stores of one Redis: holds the connection and the settings, and makes a
/// [`RedisTokenStore`] per user with [`store`](RedisTokenStores::store). Clone it freely.
#[derive(Clone)]
pub struct RedisTokenStores {
    config: Arc<Config>,
}

impl fmt::Debug for RedisTokenStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStores")
            .field("prefix", &self.config.prefix)
            .field("key_id", &self.config.codec.key_id())
            .field("lock_lease", &self.config.lock_lease)
            .field("lock_wait", &self.config.lock_wait)
            .finish_non_exhaustive()
    }
}

fn io(store: &str, operation: &'static str, e: redis::RedisError) -> grantkit::Error {
    StoreError::Io {
        store: store.to_owned(),
        operation,
        message: e.to_string(),
    }
    .into()
}

impl RedisTokenStores {
    /// Stores on `conn` (a reconnecting multiplexed connection), tokens in clear (see
    /// [`sealing`](Self::sealing)).
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            config: Arc::new(Config {
                conn,
                prefix: "grantkit".to_owned(),
                codec: TokenCodec::plain(),
                lock_lease: Duration::from_secs(10),
                lock_wait: Duration::from_secs(45),
            }),
        }
    }

    /// Connects to `url` (`redis://host:port/db`, `rediss://` with a TLS feature of the
    /// `redis` crate enabled by the application).
    pub async fn connect(url: &str) -> Result<Self> {
        const WHAT: &str = "the Redis token store";
        let client = redis::Client::open(url).map_err(|e| io(WHAT, "parse the URL", e))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| io(WHAT, "connect", e))?;
        Ok(Self::new(conn))
    }

    /// The key prefix (default `grantkit`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).prefix = prefix.into();
        self
    }

    /// The lock's lease: how long a holder that died (or froze) keeps others waiting. A live
    /// holder renews it every third of it. Default 10 s.
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        Arc::make_mut(&mut self.config).lock_lease = lease.max(Duration::from_millis(300));
        self
    }

    /// How long [`TokenStore::lock`] waits for another replica's refresh before answering
    /// [`StoreError::LockTimeout`]. Default 45 s (longer than a token request's 30 s timeout).
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        Arc::make_mut(&mut self.config).lock_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// Seals tokens at rest with AES-256-GCM under `keys` (see [`SealingKeys`]). Values sealed
    /// with another key, or stored in clear, are refused with [`StoreError::Unseal`].
    pub fn sealing(mut self, keys: SealingKeys) -> Self {
        Arc::make_mut(&mut self.config).codec = TokenCodec::sealed(keys);
        self
    }

    /// The store of `key`'s tokens.
    pub fn store(&self, key: StoreKey) -> RedisTokenStore {
        let canonical = key.canonical();
        let prefix = &self.config.prefix;
        RedisTokenStore {
            describe: format!("the Redis token store ({key})"),
            token_key: format!("{prefix}:tokens:{{{canonical}}}"),
            lock_key: format!("{prefix}:lock:{{{canonical}}}"),
            key,
            config: self.config.clone(),
        }
    }
}

/// One-time ids (a back-channel logout token's `jti`) remembered in Redis until they expire,
/// for every replica at once: `SET <prefix>:seen:{<scope, id>} 1 NX PX <ttl>`, atomic on the
/// server, so of two replicas receiving the same token only one is admitted. Kept at least a
/// minute and at most a week.
///
/// ```no_run
/// # async fn run(client: grantkit::Client, logout_token: &str) -> grantkit::Result<()> {
/// let stores = grantkit_store_redis::RedisTokenStores::connect("redis://cache:6379/").await?;
/// let ended = client.verify_logout_token(logout_token, &stores).await?;
/// # let _ = ended; Ok(()) }
/// ```
impl ReplayGuard for RedisTokenStores {
    fn first_use<'a>(
        &'a self,
        scope: &'a str,
        id: &'a str,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            // StoreKey's canonical form escapes the separators, so no two pairs share a key.
            let pair = StoreKey::new(scope, "seen", id).canonical();
            let key = format!("{}:seen:{{{pair}}}", self.config.prefix);
            let ttl = expires
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .clamp(Duration::from_secs(60), Duration::from_secs(7 * 24 * 3600));
            let mut conn = self.config.conn.clone();
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await
                .map_err(|e| io("the Redis replay guard", "remember a one-time id", e))?;
            Ok(set.is_some())
        })
    }
}

/// One user's tokens in Redis and their refresh lock. Made by [`RedisTokenStores::store`].
#[derive(Clone)]
pub struct RedisTokenStore {
    config: Arc<Config>,
    key: StoreKey,
    token_key: String,
    lock_key: String,
    describe: String,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("token_key", &self.token_key)
            .field("lock_key", &self.lock_key)
            .finish_non_exhaustive()
    }
}

impl RedisTokenStore {
    /// The key of the tokens this store holds.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The Redis key holding the tokens.
    pub fn token_key(&self) -> &str {
        &self.token_key
    }

    /// The Redis key holding the lock token while a refresh runs.
    pub fn lock_key(&self) -> &str {
        &self.lock_key
    }

    fn io(&self, operation: &'static str, e: redis::RedisError) -> grantkit::Error {
        io(&self.describe, operation, e)
    }

    /// `SET NX PX` until it succeeds or the wait is over; returns the token.
    async fn acquire(&self) -> Result<String> {
        let mut conn = self.config.conn.clone();
        let token = lock_token();
        let lease_ms = self.config.lock_lease.as_millis() as u64;
        let started = Instant::now();
        let mut backoff = Duration::from_millis(2);
        loop {
            let set: Option<String> = redis::cmd("SET")
                .arg(&self.lock_key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(lease_ms)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.io("lock", e))?;
            if set.is_some() {
                return Ok(token);
            }
            let left = self.config.lock_wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(StoreError::LockTimeout {
                    store: self.describe.clone(),
                    waited: started.elapsed(),
                }
                .into());
            }
            // Jitter (0–50 %) so that waiting replicas do not poll in step.
            let jitter = backoff.mul_f64(f64::from(token_byte(&token)) / 510.0);
            tokio::time::sleep((backoff + jitter).min(left)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// 128 random bits, hex: unique to this holder, so nobody else can release or renew its lock.
fn lock_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No OS randomness: fall back to something unique to this process and moment.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_byte(token: &str) -> u8 {
    u8::from_str_radix(&token[..2], 16).unwrap_or(0)
}

impl TokenStore for RedisTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        Box::pin(async move {
            let bytes: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&self.token_key)
                .query_async(&mut self.config.conn.clone())
                .await
                .map_err(|e| self.io("read", e))?;
            bytes
                .map(|b| {
                    self.config
                        .codec
                        .decode(&self.key, &b, &self.describe)
                        .map_err(Into::into)
                })
                .transpose()
        })
    }

    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let bytes = self.config.codec.encode(&self.key, tokens)?;
            redis::cmd("SET")
                .arg(&self.token_key)
                .arg(bytes)
                .query_async::<()>(&mut self.config.conn.clone())
                .await
                .map_err(|e| self.io("write", e))
        })
    }

    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            redis::cmd("DEL")
                .arg(&self.token_key)
                .query_async::<()>(&mut self.config.conn.clone())
                .await
                .map_err(|e| self.io("delete", e))
        })
    }

    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        Box::pin(async move {
            let token = self.acquire().await?;
            let lease = self.config.lock_lease;
            // The watchdog: renew the lease while we hold the lock.
            let watchdog = tokio::spawn({
                let (mut conn, key, token) = (
                    self.config.conn.clone(),
                    self.lock_key.clone(),
                    token.clone(),
                );
                async move {
                    let renew = Script::new(RENEW);
                    loop {
                        tokio::time::sleep(lease / 3).await;
                        let renewed: redis::RedisResult<i64> = renew
                            .key(&key)
                            .arg(&token)
                            .arg(lease.as_millis() as u64)
                            .invoke_async(&mut conn)
                            .await;
                        match renewed {
                            Ok(1) => {}
                            Ok(_) => {
                                tracing::warn!(lock = %key, "the token store lock's lease ran out before it could be renewed; another replica may refresh too");
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(lock = %key, error = %e, "could not renew the token store lock's lease")
                            }
                        }
                    }
                }
            });
            let (mut conn, key, describe) = (
                self.config.conn.clone(),
                self.lock_key.clone(),
                self.describe.clone(),
            );
            Ok(StoreLock::with_release(move || {
                Box::pin(async move {
                    watchdog.abort();
                    Script::new(RELEASE)
                        .key(&key)
                        .arg(&token)
                        .invoke_async::<i64>(&mut conn)
                        .await
                        .map(|_| ())
                        .map_err(|e| io(&describe, "unlock", e))
                })
            }))
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(feature = "axum-sessions")]
mod sessions;
#[cfg(feature = "axum-sessions")]
pub use sessions::RedisSessionStore;
