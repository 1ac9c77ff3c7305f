//! The login layer's shared state: the client, the settings, the session and token stores.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use grantkit::store::{MemoryReplayGuard, MemoryTokenStore, ReplayGuard, StoreKey, TokenStore};
use grantkit::{
    AccessToken, AuthorizationRequest, Client, TokenSet, TokenSource, TokenSourceBuilder,
};

use crate::cookie::{self, SessionKey};
use crate::session::{MemorySessionStore, Session, SessionError, SessionStore, User};
use crate::settings::{Settings, SettingsError};

/// Makes the token store of one user (the key is [`StoreKey::for_client`] of the client and
/// the session's subject).
pub type TokenStores = Arc<dyn Fn(&StoreKey) -> Arc<dyn TokenStore> + Send + Sync>;

/// Adds provider-specific parameters to every login's authorization request.
pub(crate) type Customize =
    Arc<dyn for<'c> Fn(AuthorizationRequest<'c>) -> AuthorizationRequest<'c> + Send + Sync>;

/// Configures each user's [`TokenSource`] (margin, refresh-ahead, hooks).
type SourceConfig = Arc<dyn Fn(TokenSourceBuilder) -> TokenSourceBuilder + Send + Sync>;

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
    /// Per subject (one client per layer, so the subject alone names the store key): the
    /// login the tokens came from, and their source. Keyed by subject so that the common path
    /// looks it up without building the [`StoreKey`] and its canonical form.
    sources: Mutex<HashMap<String, (String, TokenSource)>>,
    pub(crate) customize: Option<Customize>,
    source_config: Option<SourceConfig>,
    /// One HTTP client for the API calls of every request (connection reuse): the client's
    /// [`Client::resource_http_client`], so a certificate-bound token (RFC 8705 §3) goes with
    /// its certificate and a resource server's redirect is not followed.
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
    source_config: Option<SourceConfig>,
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

    /// Configures every user's [`TokenSource`]: its refresh margin and refresh-ahead window
    /// (defaults: 60 s each), or an `on_refresh` hook. The store is set by the layer.
    ///
    /// ```no_run
    /// # fn run(client: grantkit::Client) -> Result<(), grantkit_axum::SettingsError> {
    /// use std::time::Duration;
    /// let gk = grantkit_axum::Grantkit::builder(client)
    ///     .token_source(|source| source.margin(Duration::from_secs(10)))
    ///     .build()?;
    /// # let _ = gk; Ok(()) }
    /// ```
    pub fn token_source(
        mut self,
        configure: impl Fn(TokenSourceBuilder) -> TokenSourceBuilder + Send + Sync + 'static,
    ) -> Self {
        self.source_config = Some(Arc::new(configure));
        self
    }

    /// The layer, once its [`Settings`] hold: cookie names the browser keeps, route paths
    /// axum takes, lifetimes above zero, and a client redirect URI that ends in
    /// [`Settings::callback_path`]. A mistake there is an error here, not a login that
    /// fails later without a word.
    pub fn build(self) -> Result<Grantkit, SettingsError> {
        self.settings.check(self.client.redirect_uri())?;
        let token_stores = self.token_stores.unwrap_or_else(memory_token_stores);
        let http = self.client.resource_http_client();
        Ok(Grantkit {
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
                source_config: self.source_config,
                http,
            }),
        })
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
    pub(crate) key: SessionKey,
    pub(crate) session: Session,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `last_seen` is written back once the idle deadline would move by more than this part of
/// the idle timeout: most requests make no store write, and an active session ends at most a
/// tenth of its idle timeout early, never late. (A fixed interval longer than a short idle
/// timeout let an active session expire.)
const TOUCH_FRACTION: u64 = 10;

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
            source_config: None,
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
        let Some(key) = SessionKey::of(id) else {
            return Ok(None);
        };
        let Some(mut session) = self.inner.sessions.load(&key).await? else {
            return Ok(None);
        };
        let now = now_secs();
        // The rare write back is boxed: its future is then not part of this one, which every
        // request builds and moves.
        if self.expires_at(&session) <= now {
            self.inner.sessions.delete(&key).await?;
            return Ok(None);
        }
        if self.touch_due(&session, now) {
            session.last_seen = now;
            Box::pin(self.save(&key, &session)).await?;
        }
        Ok(Some(Current { key, session }))
    }

    /// Whether `session`, seen again at `now`, must be written back to move its idle deadline.
    /// A login in progress is not: its deadline counts from its start only.
    fn touch_due(&self, session: &Session, now: u64) -> bool {
        let every = (self.inner.settings.idle_timeout.as_secs() / TOUCH_FRACTION).max(1);
        session.user.is_some() && now.saturating_sub(session.last_seen) >= every
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
        let Some(key) = SessionKey::of(id) else {
            return Ok(None);
        };
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
        let key = SessionKey::of(&id).ok_or_else(|| {
            SessionError::Backend("the session id did not make a store key".into())
        })?;
        self.save(&key, &session).await?;
        Ok(id)
    }

    fn store_key(&self, subject: &str) -> StoreKey {
        StoreKey::for_client(&self.inner.client, subject)
    }

    /// The token source of `user`: one per user in this process, over the user's token
    /// store, so concurrent requests share one refresh. Rebuilt from the store when `user`
    /// comes from another login than the one in memory (a login on another replica).
    pub(crate) async fn token_source(&self, user: &User) -> grantkit::Result<TokenSource> {
        match self.cached_source(user) {
            Some(source) => Ok(source),
            // Boxed: building a source is a large future that the common path (a source in
            // memory) would otherwise carry and move on every request.
            None => Box::pin(self.new_source(user)).await,
        }
    }

    /// A source over `user`'s token store, kept for the next requests.
    async fn new_source(&self, user: &User) -> grantkit::Result<TokenSource> {
        let key = self.store_key(&user.subject);
        let source = self.source_builder(&key).build().await?;
        self.sources().insert(
            user.subject.clone(),
            (user.login_id.clone(), source.clone()),
        );
        Ok(source)
    }

    /// A fresh access token of `user`, refreshed first when due. The common case (a source
    /// in memory holding a token valid past the margin) takes one map lookup under the lock
    /// and no clone of the source.
    pub(crate) async fn fresh_token(&self, user: &User) -> grantkit::Result<AccessToken> {
        let held = {
            let sources = self.sources();
            match sources.get(&user.subject) {
                Some((login, source)) if *login == user.login_id => source.fresh_access_token(),
                _ => None,
            }
        };
        match held {
            Some(token) => Ok(token),
            None => self.token_source(user).await?.access_token().await,
        }
    }

    /// The source in memory for `user`, if it holds `user`'s login's tokens.
    fn cached_source(&self, user: &User) -> Option<TokenSource> {
        let sources = self.sources();
        let (login, source) = sources.get(&user.subject)?;
        (*login == user.login_id).then(|| source.clone())
    }

    /// Saves the fresh tokens of `user`'s login.
    pub(crate) async fn keep_tokens(&self, user: &User, tokens: TokenSet) -> grantkit::Result<()> {
        let key = self.store_key(&user.subject);
        let source = self.source_builder(&key).tokens(tokens).build().await?;
        self.sources()
            .insert(user.subject.clone(), (user.login_id.clone(), source));
        Ok(())
    }

    fn source_builder(&self, key: &StoreKey) -> TokenSourceBuilder {
        let builder = TokenSource::builder(self.inner.client.clone());
        let builder = match &self.inner.source_config {
            Some(configure) => configure(builder),
            None => builder,
        };
        builder.store((self.inner.token_stores)(key))
    }

    /// Deletes `subject`'s tokens here and in the store.
    pub(crate) async fn forget_tokens(&self, subject: &str) -> grantkit::Result<()> {
        let key = self.store_key(subject);
        self.sources().remove(subject);
        (self.inner.token_stores)(&key).delete().await
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, TokenSource)>> {
        self.inner
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::HeaderValue;
    use grantkit::store::BoxFuture;
    use grantkit::Provider;

    use super::*;
    use crate::session::SessionIndex;

    /// The memory store, counting saves.
    #[derive(Clone, Default)]
    struct Counting {
        inner: MemorySessionStore,
        saves: Arc<AtomicUsize>,
    }

    impl SessionStore for Counting {
        fn load<'a>(
            &'a self,
            key: &'a str,
        ) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
            self.inner.load(key)
        }
        fn save<'a>(
            &'a self,
            key: &'a str,
            session: &'a Session,
            expires: SystemTime,
        ) -> BoxFuture<'a, Result<(), SessionError>> {
            self.saves.fetch_add(1, Ordering::SeqCst);
            self.inner.save(key, session, expires)
        }
        fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
            self.inner.delete(key)
        }
        fn find<'a>(
            &'a self,
            index: &'a SessionIndex,
        ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
            self.inner.find(index)
        }
    }

    const IDLE: u64 = 100;

    /// A layer with a 100 s idle timeout, its store, and a request's headers carrying the
    /// cookie of alice's session, last seen `idle_for` seconds ago.
    async fn signed_in_for(idle_for: u64) -> (Grantkit, Counting, HeaderMap) {
        let provider = Provider::builder("t")
            .token_endpoint("http://127.0.0.1:9/token")
            .build()
            .unwrap();
        let client = Client::builder(provider, "c").build().unwrap();
        let store = Counting::default();
        let settings = Settings {
            idle_timeout: Duration::from_secs(IDLE),
            ..Settings::default()
        };
        let gk = Grantkit::builder(client)
            .settings(settings)
            .session_store(store.clone())
            .build()
            .unwrap();
        let now = now_secs();
        let session = Session {
            created_at: now - idle_for,
            last_seen: now - idle_for,
            user: Some(Arc::new(User {
                subject: "alice".into(),
                sid: None,
                claims: Default::default(),
                login_id: "l".into(),
            })),
            ..Session::default()
        };
        let id = cookie::new_id();
        let key = SessionKey::of(&id).unwrap();
        let expires = SystemTime::now() + Duration::from_secs(3600);
        store.inner.save(&key, &session, expires).await.unwrap();
        let mut headers = HeaderMap::new();
        let cookie = HeaderValue::from_str(&format!("__Host-grantkit={id}")).unwrap();
        headers.insert(axum::http::header::COOKIE, cookie);
        (gk, store, headers)
    }

    #[test]
    fn build_refuses_settings_the_browser_or_axum_would_break() {
        let provider = Provider::builder("t")
            .token_endpoint("http://127.0.0.1:9/token")
            .build()
            .unwrap();
        let client = Client::builder(provider, "c")
            .redirect_uri("https://app.example/auth/callback")
            .build()
            .unwrap();
        let split = Settings {
            cookie_name: "sid; Domain=example.com".into(),
            ..Settings::default()
        };
        let err = Grantkit::builder(client.clone())
            .settings(split)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, SettingsError::InvalidCookieName { .. }),
            "{err}"
        );
        let elsewhere = Settings {
            callback_path: "/oauth/callback".into(),
            ..Settings::default()
        };
        let err = Grantkit::builder(client)
            .settings(elsewhere)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("/oauth/callback"), "{err}");
    }

    #[tokio::test]
    async fn idle_timeout_still_ends_a_session() {
        let (gk, store, headers) = signed_in_for(IDLE + 1).await;
        assert!(gk.current(&headers).await.unwrap().is_none());
        let key = SessionKey::of(cookie::read(&headers, "__Host-grantkit").unwrap()).unwrap();
        assert!(store.inner.load(&key).await.unwrap().is_none(), "deleted");
    }

    #[tokio::test]
    async fn a_request_soon_after_the_last_write_back_writes_nothing() {
        let (gk, store, headers) = signed_in_for(1).await;
        for _ in 0..10 {
            assert!(gk.current(&headers).await.unwrap().is_some());
        }
        assert_eq!(store.saves.load(Ordering::SeqCst), 0, "a write per request");
    }

    /// Past a tenth of the idle timeout the idle deadline is written back, so an active user
    /// keeps the session even when the idle timeout is shorter than a fixed touch interval
    /// (a fixed 60 s interval let a 100 s idle timeout end an active session after 100 s).
    #[tokio::test]
    async fn a_write_back_happens_after_the_touch_threshold() {
        let (gk, store, headers) = signed_in_for(IDLE / 10 + 1).await;
        let current = gk.current(&headers).await.unwrap().unwrap();
        assert_eq!(store.saves.load(Ordering::SeqCst), 1, "no write back");
        let saved = store.inner.load(&current.key).await.unwrap().unwrap();
        assert!(now_secs() - saved.last_seen <= 1, "last_seen not moved");
    }
}
