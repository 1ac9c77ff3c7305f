//! The login layer's shared state: the client, the settings, the session and token stores.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use grantkit::store::{MemoryReplayGuard, MemoryTokenStore, ReplayGuard, StoreKey, TokenStore};
use grantkit::{AuthorizationRequest, Client, TokenSet, TokenSource};

use crate::cookie;
use crate::session::{MemorySessionStore, Session, SessionError, SessionStore, User};
use crate::settings::Settings;

/// Makes the token store of one user (the key is [`StoreKey::for_client`] of the client and
/// the session's subject).
pub type TokenStores = Arc<dyn Fn(&StoreKey) -> Arc<dyn TokenStore> + Send + Sync>;

/// Adds provider-specific parameters to every login's authorization request.
pub(crate) type Customize =
    Arc<dyn for<'c> Fn(AuthorizationRequest<'c>) -> AuthorizationRequest<'c> + Send + Sync>;

/// The login layer: a [`grantkit::Client`], its [`Settings`], where sessions and tokens are
/// kept. Cheap to clone. Made by [`Grantkit::builder`]; mount with [`Grantkit::attach`].
#[derive(Clone)]
pub struct Grantkit {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) settings: Settings,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) replay: Arc<dyn ReplayGuard>,
    token_stores: TokenStores,
    /// Per user: the login the tokens came from, and their source.
    sources: Mutex<HashMap<String, (String, TokenSource)>>,
    pub(crate) customize: Option<Customize>,
    /// One HTTP client for the API calls of every request (connection reuse).
    pub(crate) http: reqwest::Client,
}

impl fmt::Debug for Grantkit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grantkit")
            .field("client_id", &self.inner.client.client_id())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Grantkit`].
#[must_use]
pub struct GrantkitBuilder {
    client: Client,
    settings: Settings,
    sessions: Option<Arc<dyn SessionStore>>,
    replay: Option<Arc<dyn ReplayGuard>>,
    token_stores: Option<TokenStores>,
    customize: Option<Customize>,
}

impl fmt::Debug for GrantkitBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantkitBuilder")
            .field("client_id", &self.client.client_id())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl GrantkitBuilder {
    /// Paths, cookie name and lifetimes (default: [`Settings::default`]).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Where sessions live (default: a [`MemorySessionStore`], for one replica).
    pub fn session_store(mut self, store: impl SessionStore + 'static) -> Self {
        self.sessions = Some(Arc::new(store));
        self
    }

    /// Remembers the `jti` of back-channel logout tokens (default: a
    /// [`MemoryReplayGuard`]); share one between replicas.
    pub fn replay_guard(mut self, guard: impl ReplayGuard + 'static) -> Self {
        self.replay = Some(Arc::new(guard));
        self
    }

    /// Where each user's tokens live (default: one [`MemoryTokenStore`] per user). Give every
    /// replica stores on one backend so a refresh happens once per expiry.
    pub fn token_stores(
        mut self,
        stores: impl Fn(&StoreKey) -> Arc<dyn TokenStore> + Send + Sync + 'static,
    ) -> Self {
        self.token_stores = Some(Arc::new(stores));
        self
    }

    /// Adds provider-specific parameters to every login's authorization request (after the
    /// [`Settings::scopes`]), e.g. Polar.sh's `sub_type`.
    pub fn authorize_with(
        mut self,
        customize: impl for<'c> Fn(AuthorizationRequest<'c>) -> AuthorizationRequest<'c>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.customize = Some(Arc::new(customize));
        self
    }

    /// The layer.
    pub fn build(self) -> Grantkit {
        let token_stores = self.token_stores.unwrap_or_else(memory_token_stores);
        Grantkit {
            inner: Arc::new(Inner {
                client: self.client,
                settings: self.settings,
                sessions: self
                    .sessions
                    .unwrap_or_else(|| Arc::new(MemorySessionStore::new())),
                replay: self
                    .replay
                    .unwrap_or_else(|| Arc::new(MemoryReplayGuard::new())),
                token_stores,
                sources: Mutex::default(),
                customize: self.customize,
                http: reqwest::Client::new(),
            }),
        }
    }
}

fn memory_token_stores() -> TokenStores {
    let stores: Mutex<HashMap<String, MemoryTokenStore>> = Mutex::default();
    Arc::new(move |key: &StoreKey| {
        let mut stores = stores.lock().unwrap_or_else(PoisonError::into_inner);
        let store = stores.entry(key.canonical()).or_default().clone();
        Arc::new(store) as Arc<dyn TokenStore>
    })
}

/// A session found from the request's cookie.
#[derive(Clone, Debug)]
pub(crate) struct Current {
    /// The store key (digest of the cookie value).
    pub(crate) key: String,
    pub(crate) session: Session,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Saving `last_seen` at most this often keeps most requests free of a store write.
const TOUCH_EVERY: u64 = 60;

impl Grantkit {
    /// Starts configuring the layer for `client`. The client's redirect URI must end in
    /// [`Settings::callback_path`].
    pub fn builder(client: Client) -> GrantkitBuilder {
        GrantkitBuilder {
            client,
            settings: Settings::default(),
            sessions: None,
            replay: None,
            token_stores: None,
            customize: None,
        }
    }

    /// The OAuth client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The session of the request's cookie, if it is live: not past its idle or absolute
    /// lifetime (an expired one is deleted).
    pub(crate) async fn current(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Current>, SessionError> {
        let Some(id) = cookie::read(headers, &self.inner.settings.cookie_name) else {
            return Ok(None);
        };
        let key = cookie::store_key(&id);
        let Some(mut session) = self.inner.sessions.load(&key).await? else {
            return Ok(None);
        };
        let now = now_secs();
        if self.expires_at(&session) <= now {
            self.inner.sessions.delete(&key).await?;
            return Ok(None);
        }
        if now.saturating_sub(session.last_seen) >= TOUCH_EVERY {
            session.last_seen = now;
            self.save(&key, &session).await?;
        }
        Ok(Some(Current { key, session }))
    }

    /// The live session under the cookie `name` (not the session cookie: the `form_post`
    /// login's), deleted from the store when expired.
    pub(crate) async fn current_of_cookie(
        &self,
        headers: &HeaderMap,
        name: &str,
    ) -> Result<Option<Current>, SessionError> {
        let Some(id) = cookie::read(headers, name) else {
            return Ok(None);
        };
        let key = cookie::store_key(&id);
        let Some(session) = self.inner.sessions.load(&key).await? else {
            return Ok(None);
        };
        if self.expires_at(&session) <= now_secs() {
            self.inner.sessions.delete(&key).await?;
            return Ok(None);
        }
        Ok(Some(Current { key, session }))
    }

    /// When `session` ends, seconds since the Unix epoch.
    fn expires_at(&self, session: &Session) -> u64 {
        let s = &self.inner.settings;
        let (idle, absolute) = if session.user.is_some() {
            (s.idle_timeout, s.absolute_timeout)
        } else {
            (s.login_timeout, s.login_timeout)
        };
        let idle_end = session.last_seen.saturating_add(idle.as_secs());
        let absolute_end = session.created_at.saturating_add(absolute.as_secs());
        idle_end.min(absolute_end)
    }

    pub(crate) async fn save(&self, key: &str, session: &Session) -> Result<(), SessionError> {
        let expires = UNIX_EPOCH + Duration::from_secs(self.expires_at(session));
        self.inner.sessions.save(key, session, expires).await
    }

    /// Saves `session` under a new random id and returns the id (the cookie value). A new id
    /// at every step of a login: a cookie planted before it is worth nothing after.
    pub(crate) async fn begin(&self, mut session: Session) -> Result<String, SessionError> {
        let now = now_secs();
        session.created_at = now;
        session.last_seen = now;
        let id = cookie::new_id();
        self.save(&cookie::store_key(&id), &session).await?;
        Ok(id)
    }

    fn store_key(&self, subject: &str) -> StoreKey {
        StoreKey::for_client(&self.inner.client, subject)
    }

    /// The token source of `user`: one per user in this process, over the user's token
    /// store, so concurrent requests share one refresh. Rebuilt from the store when `user`
    /// comes from another login than the one in memory (a login on another replica).
    pub(crate) async fn token_source(&self, user: &User) -> grantkit::Result<TokenSource> {
        let key = self.store_key(&user.subject);
        let canonical = key.canonical();
        if let Some((login, source)) = self.sources().get(&canonical) {
            if *login == user.login_id {
                return Ok(source.clone());
            }
        }
        let store = (self.inner.token_stores)(&key);
        let source = TokenSource::builder(self.inner.client.clone())
            .store(store)
            .build()
            .await?;
        self.sources()
            .insert(canonical, (user.login_id.clone(), source.clone()));
        Ok(source)
    }

    /// Saves the fresh tokens of `user`'s login.
    pub(crate) async fn keep_tokens(&self, user: &User, tokens: TokenSet) -> grantkit::Result<()> {
        let key = self.store_key(&user.subject);
        let store = (self.inner.token_stores)(&key);
        let source = TokenSource::builder(self.inner.client.clone())
            .store(store)
            .tokens(tokens)
            .build()
            .await?;
        self.sources()
            .insert(key.canonical(), (user.login_id.clone(), source));
        Ok(())
    }

    /// Deletes `subject`'s tokens here and in the store.
    pub(crate) async fn forget_tokens(&self, subject: &str) -> grantkit::Result<()> {
        let key = self.store_key(subject);
        self.sources().remove(&key.canonical());
        (self.inner.token_stores)(&key).delete().await
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, TokenSource)>> {
        self.inner
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
