//! [`TokenSource`]: always a valid access token, one refresh at a time, rotation-safe.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::Client;
use crate::error::{Endpoint, Error, OAuthErrorCode, Result};
use crate::resource_indicator::check_resource;
use crate::secret::Secret;
use crate::token::{TokenSet, TokenType};

use crate::store::{MemoryTokenStore, StoreError, StoreLock, TokenStore};

/// The default refresh margin: a token is refreshed when it expires within 60 seconds.
const DEFAULT_MARGIN: Duration = Duration::from_secs(60);

/// The default refresh-ahead window, before the margin: long enough for six background attempts
/// with a backoff doubling from 1 s before callers would have to wait (docs/token-lifecycle.md).
const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// The pause after the first failed background refresh; doubled after each further failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

type Hook = Arc<dyn Fn(&TokenSet) + Send + Sync>;
type ErrorHook = Arc<dyn Fn(&Error) + Send + Sync>;

/// Hands out an access token that is valid for at least a margin (60 s by default), refreshing
/// it when needed — once, however many tasks ask at the same time — and persisting the new pair
/// in its [`TokenStore`] before anyone gets it.
///
/// `TokenSource` has no type parameters and clones cheaply (an `Arc` inside): clones share the
/// tokens and the single flight. Put it in your application state.
///
/// Guarantees (details in `docs/token-lifecycle.md`):
///
/// - **Fresh path**: a token valid beyond the margin is handed out without an async lock, an
///   allocation or a store read: [`AccessToken`] is an `Arc` clone of the current [`TokenSet`].
/// - **Refresh-ahead**: a token within the margin plus the refresh-ahead window (60 s by
///   default, see [`TokenSourceBuilder::refresh_ahead`]) is still handed out at once, and the
///   first such call per token set starts its refresh in the background: under steady load no
///   caller waits on the token endpoint while the token is valid.
/// - **Single flight**: while a refresh runs, every caller that needs it waits for it; exactly one
///   request reaches the token endpoint. A failed refresh is reported to every waiter; the next
///   call after it tries again.
/// - **Across processes**: the refresh runs under [`TokenStore::lock`] and re-reads the store
///   first, so a token another process already refreshed is used as is.
/// - **Rotation safety**: the new pair is saved before it is handed out; the previous refresh
///   token is kept when the server sends none. A pair whose save failed is kept in memory and
///   saved again before anything else happens. The refresh runs in its own task, so cancelling
///   a caller cannot lose a rotated refresh token halfway.
/// - **Re-authorization**: `invalid_grant`, no refresh token, a provider without refresh tokens
///   and an empty store all satisfy [`Error::is_reauthorization_required`].
///
/// Requires a Tokio runtime (the refresh runs in a spawned task; a call polled outside one
/// starts no background refresh).
///
/// ```no_run
/// use grantkit::{Client, TokenSource};
/// use grantkit::store::FileTokenStore;
///
/// # async fn run(client: Client) -> grantkit::Result<()> {
/// let source = TokenSource::builder(client)
///     .store(FileTokenStore::new("/home/me/.config/my-app/tokens.json"))
///     .build()
///     .await?; // reads the file; `is_reauthorization_required()` when it holds nothing
/// let token = source.access_token().await?;
/// println!("{} token valid until {:?}", token.token_type(), token.expires_at());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` for static tokens, which are never refreshed.
    client: Option<Client>,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    /// How long before the margin a background refresh starts; zero: never.
    refresh_ahead: Duration,
    on_refresh: Option<Hook>,
    on_refresh_error: Option<ErrorHook>,
    /// The token set handed out. Replaced only after the store saved it.
    current: RwLock<Current>,
    /// The generation of the last token set a background refresh was started for: the
    /// at-most-once-per-set flag of the refresh-ahead trigger.
    ahead_started: AtomicU64,
    /// How many refresh attempts (or explicit replacements) have completed. A caller that saw
    /// another value before waiting for the refresh lock shares that attempt's outcome.
    attempts: AtomicU64,
    /// The in-process single flight: held for the whole refresh critical section.
    refresh: Arc<tokio::sync::Mutex<RefreshState>>,
}

/// The token set handed out, with what the fresh path needs to decide without another lock.
struct Current {
    tokens: Arc<TokenSet>,
    /// Bumped by every install, so that the refresh-ahead trigger can fire once per set.
    generation: u64,
    /// From when this set is refreshed ahead in the background; `None`: never.
    ahead_from: Option<SystemTime>,
}

#[derive(Default)]
struct RefreshState {
    /// The outcome of the last attempt, for the callers that waited for it.
    last_error: Option<Error>,
    /// A refreshed pair the store failed to save. Its refresh token may be the only live one,
    /// so it is saved before anything else is tried.
    unsaved: Option<TokenSet>,
    /// A refresh token the provider answered `invalid_grant` to, in a background refresh or a
    /// resource's refresh: while the store still holds that refresh token, the answer is the
    /// outcome of a later refresh without asking the provider again.
    dead_grant: Option<DeadGrant>,
}

/// An `invalid_grant` answer and the refresh token it answered. It covers every refresh with
/// that token, for the main token or any resource: RFC 6749 §5.2 says the grant itself is
/// invalid, expired or revoked (a resource the grant does not cover is RFC 8707's
/// `invalid_target`, which is not recorded).
struct DeadGrant {
    refresh_token: Secret,
    error: Error,
}

/// What a refresh does after `invalid_grant` when the store holds another refresh token.
enum Rotated {
    /// The stored set already holds what the refresh was for: use it.
    Use(Arc<TokenSet>),
    /// The stored set is another process's rotation without what this refresh is for (it
    /// refreshed another resource, or the main token): refresh again with its refresh token.
    RetryWith(Box<TokenSet>),
}

/// What a refresh is for.
enum Target<'a> {
    /// The main token.
    Main(&'a Need),
    /// The token for one resource (RFC 8707).
    Resource(&'a str),
}

impl Target<'_> {
    /// Whether `tokens` already hold what this refresh is for.
    fn is_met_by(&self, tokens: &TokenSet, margin: Duration) -> bool {
        match self {
            Target::Main(need) => !need.is_unusable(tokens, margin),
            Target::Resource(resource) => tokens
                .resource_token(resource)
                .is_some_and(|t| !t.expires_within(margin)),
        }
    }

    /// Whether its `invalid_grant` is recorded. A foreground main refresh hands its error to
    /// every waiter instead; a resource's refresh has no background, so its callers would
    /// each send the dead refresh token again.
    fn records_invalid_grant(&self) -> bool {
        !matches!(self, Target::Main(Need::Fresh | Need::Replace(_)))
    }
}

impl RefreshState {
    /// The recorded `invalid_grant` that answers a refresh of `stored`, if any.
    fn dead_grant_for(&self, stored: &TokenSet) -> Option<Error> {
        let dead = self.dead_grant.as_ref()?;
        (stored.refresh_token() == Some(&dead.refresh_token)).then(|| dead.error.clone())
    }
}

/// Why a caller wants a (new) token.
enum Need {
    /// A token valid beyond the margin.
    Fresh,
    /// Anything but this access token, which a resource server rejected.
    Replace(Secret),
    /// Anything but this access token, which entered its refresh-ahead window: a background
    /// refresh, whose `invalid_grant` is recorded rather than retried.
    Ahead(Secret),
}

impl Need {
    fn is_unusable(&self, tokens: &TokenSet, margin: Duration) -> bool {
        self.is_unusable_at(tokens, margin, SystemTime::now())
    }

    fn is_unusable_at(&self, tokens: &TokenSet, margin: Duration, now: SystemTime) -> bool {
        match self {
            Need::Fresh => tokens.expires_within_at(margin, now),
            Need::Replace(old) | Need::Ahead(old) => {
                tokens.access_token() == old || tokens.expires_within_at(margin, now)
            }
        }
    }
}

impl TokenSource {
    /// Configures a token source that refreshes through `client`.
    pub fn builder(client: Client) -> TokenSourceBuilder {
        TokenSourceBuilder {
            client,
            store: None,
            margin: DEFAULT_MARGIN,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            on_refresh: None,
            on_refresh_error: None,
            tokens: None,
        }
    }

    /// A source for tokens that are never refreshed (personal or organization access tokens,
    /// API keys sent as Bearer tokens). When `tokens` has an expiry and it has passed,
    /// [`access_token`](TokenSource::access_token) answers [`Error::NoRefreshToken`]
    /// (re-authorization required).
    pub fn fixed(tokens: TokenSet) -> Self {
        Self::from_parts(
            Parts {
                client: None,
                store: Arc::new(MemoryTokenStore::with_tokens(tokens.clone())),
                margin: Duration::ZERO,
                refresh_ahead: Duration::ZERO,
                on_refresh: None,
                on_refresh_error: None,
            },
            tokens,
        )
    }

    /// A source for one static Bearer token that never expires.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> grantkit::Result<()> {
    /// let source = grantkit::TokenSource::static_token("polar_oat_example");
    /// let token = source.access_token().await?;
    /// assert_eq!(token.expose(), "polar_oat_example");
    /// assert_eq!(token.token_type().as_str(), "Bearer");
    /// # Ok(()) }
    /// ```
    pub fn static_token(token: impl Into<Secret>) -> Self {
        Self::fixed(TokenSet::from_access_token(token))
    }

    fn from_parts(parts: Parts, tokens: TokenSet) -> Self {
        let refresh_ahead = match parts.client {
            Some(_) => parts.refresh_ahead,
            None => Duration::ZERO,
        };
        // Given tokens are taken as they are: one already in its window is refreshed at once.
        let ahead_from = ahead_from(parts.margin, refresh_ahead, &tokens, Window::Full);
        Self {
            inner: Arc::new(Inner {
                client: parts.client,
                store: parts.store,
                margin: parts.margin,
                refresh_ahead,
                on_refresh: parts.on_refresh,
                on_refresh_error: parts.on_refresh_error,
                current: RwLock::new(Current {
                    tokens: Arc::new(tokens),
                    generation: 1,
                    ahead_from,
                }),
                ahead_started: AtomicU64::new(0),
                attempts: AtomicU64::new(0),
                refresh: Arc::new(tokio::sync::Mutex::new(RefreshState::default())),
            }),
        }
    }

    /// An access token valid for at least the margin, refreshed first when needed.
    ///
    /// On the fresh path this is a read lock and an `Arc` clone. When a refresh is needed,
    /// concurrent callers wait for one shared refresh and all get its outcome. Errors:
    /// [`Error::is_reauthorization_required`] when the user must authorize again
    /// (`invalid_grant`, no refresh token, a static token that expired, an empty store);
    /// [`Error::is_transient`] ones are worth retrying later.
    pub async fn access_token(&self) -> Result<AccessToken> {
        self.obtain(Need::Fresh).await
    }

    /// An access token for the protected resource `resource` (RFC 8707), valid for at least
    /// the margin: the one held for it ([`TokenSet::resource_token`]), or a new one from a
    /// refresh that names that resource. One refresh token serves every resource: the refresh
    /// runs under the same single flight and store lock as the main token's, and the rotated
    /// refresh token is saved with the set, so a refresh for one resource never leaves another
    /// holding a dead refresh token. Each resource's token is stored with the set.
    ///
    /// A resource the grant does not cover is the provider's `invalid_target`
    /// ([`OAuthErrorCode::InvalidTarget`]); one that is not an absolute URI without a fragment
    /// is refused before anything is sent
    /// ([`Refusal::InvalidResource`](crate::error::Refusal::InvalidResource)).
    ///
    /// ```no_run
    /// # async fn run(source: grantkit::TokenSource) -> grantkit::Result<()> {
    /// let orders = source.access_token_for("https://orders.example.com/").await?;
    /// let reports = source.access_token_for("https://reports.example.com/").await?;
    /// # let _ = (orders, reports); Ok(()) }
    /// ```
    pub async fn access_token_for(&self, resource: &str) -> Result<AccessToken> {
        check_resource(Endpoint::Token, resource)?;
        if let Some(token) = self.inner.usable_resource_token(resource) {
            return Ok(token);
        }
        if self.inner.client.is_none() {
            return Err(Error::NoRefreshToken);
        }
        let state = self.inner.refresh.clone().lock_owned().await;
        let inner = self.inner.clone();
        let resource = resource.to_owned();
        // Its own task, as for the main token: a cancelled caller cannot lose a rotation.
        let task = tokio::spawn(async move {
            let mut state = state;
            inner.refresh_resource_locked(&mut state, &resource).await
        });
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Cancelled("the token refresh task")),
        }
    }

    /// Replaces `rejected` — an access token a resource server answered `invalid_token` to —
    /// refreshing even if it looked valid. If another task already replaced it, that newer
    /// token is returned without a second refresh.
    pub async fn refresh_if_current(&self, rejected: &AccessToken) -> Result<AccessToken> {
        self.obtain(Need::Replace(rejected.secret().clone())).await
    }

    /// Refreshes now, whatever the expiry says (unless another task is already replacing the
    /// current token, whose result is then shared).
    pub async fn force_refresh(&self) -> Result<AccessToken> {
        let current = self.current();
        self.refresh_if_current(&current).await
    }

    /// The access token held now if it is valid for at least the margin, without waiting:
    /// `None` when [`access_token`](Self::access_token) would refresh first. Never refreshes
    /// in the foreground, but starts the background refresh once the refresh-ahead window
    /// has begun, as `access_token` does. For code that cannot wait (a synchronous callback)
    /// and for hot paths that try the held token before the full call.
    ///
    /// ```
    /// # fn run(source: grantkit::TokenSource) {
    /// match source.fresh_access_token() {
    ///     Some(token) => { let _ = token.secret(); }
    ///     None => { /* await source.access_token() */ }
    /// }
    /// # }
    /// ```
    pub fn fresh_access_token(&self) -> Option<AccessToken> {
        self.usable(&Need::Fresh)
    }

    /// The token set held now, without any check or refresh.
    pub fn current(&self) -> AccessToken {
        AccessToken {
            tokens: self.inner.current_arc(),
        }
    }

    /// Replaces the tokens (after the user authorized again): saves them to the store, then
    /// hands them out. Waits for a refresh in progress.
    pub async fn set_tokens(&self, tokens: TokenSet) -> Result<()> {
        let inner = &self.inner;
        let mut state = inner.refresh.lock().await;
        let lock = inner.store.lock().await?;
        let saved = inner.store.save(&tokens).await;
        release(lock).await;
        saved?;
        state.unsaved = None;
        state.last_error = None;
        state.dead_grant = None;
        inner.install_as(tokens, Window::Full);
        inner.attempts.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// The refresh margin: tokens expiring sooner than this are refreshed before use.
    pub fn margin(&self) -> Duration {
        self.inner.margin
    }

    /// The refresh-ahead window: how long before the margin a refresh starts in the background
    /// while the current token is still handed out. Zero when switched off.
    pub fn refresh_ahead(&self) -> Duration {
        self.inner.refresh_ahead
    }

    /// The client refreshes go through; `None` for static tokens.
    pub fn client(&self) -> Option<&Client> {
        self.inner.client.as_ref()
    }

    /// Whether this source can refresh at all (`false` for [`TokenSource::fixed`] and
    /// [`TokenSource::static_token`]).
    pub fn can_refresh(&self) -> bool {
        self.inner.client.is_some()
    }

    async fn obtain(&self, need: Need) -> Result<AccessToken> {
        match self.usable(&need) {
            Some(token) => Ok(token),
            // Boxed: the refresh path is a large future that the fresh path, taken by nearly
            // every call, would otherwise carry and move (a web request pays for each move).
            None => Box::pin(self.obtain_by_refresh(need)).await,
        }
    }

    /// The held token, if `need` can use it: no lock held across an await, no allocation.
    /// Starts a background refresh when the refresh-ahead window has begun.
    fn usable(&self, need: &Need) -> Option<AccessToken> {
        let inner = &self.inner;
        let (current, generation, ahead_from) = inner.snapshot();
        let now = SystemTime::now();
        if need.is_unusable_at(&current, inner.margin, now) {
            return None;
        }
        if ahead_from.is_some_and(|from| now >= from) {
            inner.start_ahead(generation);
        }
        Some(AccessToken { tokens: current })
    }

    async fn obtain_by_refresh(&self, need: Need) -> Result<AccessToken> {
        let inner = &self.inner;
        if inner.client.is_none() {
            return Err(Error::NoRefreshToken);
        }
        let seen = inner.attempts.load(Ordering::Acquire);
        let state = inner.refresh.clone().lock_owned().await;
        if inner.attempts.load(Ordering::Acquire) != seen {
            // A refresh finished while this caller waited: its outcome is ours.
            return match &state.last_error {
                Some(e) => Err(e.clone()),
                None => Ok(self.current()),
            };
        }
        let current = inner.current_arc();
        if state.unsaved.is_none() && !need.is_unusable(&current, inner.margin) {
            return Ok(AccessToken { tokens: current });
        }
        // The critical section runs in its own task, which owns the single-flight guard: if
        // this caller is cancelled, the refresh still completes and its result is saved.
        let task_inner = inner.clone();
        let task = tokio::spawn(async move {
            let mut state = state;
            let result = task_inner.refresh_locked(&mut state, &need).await;
            state.last_error = result.as_ref().err().cloned();
            task_inner.attempts.fetch_add(1, Ordering::AcqRel);
            result
        });
        match task.await {
            Ok(result) => result.map(|tokens| AccessToken { tokens }),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Cancelled("the token refresh task")),
        }
    }
}

/// What [`ahead_from`] may use of a set's remaining lifetime.
#[derive(Clone, Copy)]
enum Window {
    /// The whole refresh-ahead window: for tokens the application hands over.
    Full,
    /// At most half of what is left beyond the margin: for sets the source obtains itself, so
    /// that a lifetime shorter than the window cannot turn into a refresh after every refresh.
    Capped,
}

/// When a background refresh of `tokens` starts: `refresh_ahead` before the margin; `None`
/// when it never does (no expiry, or refresh-ahead off).
fn ahead_from(
    margin: Duration,
    refresh_ahead: Duration,
    tokens: &TokenSet,
    window: Window,
) -> Option<SystemTime> {
    if refresh_ahead.is_zero() {
        return None;
    }
    let expires_at = tokens.expires_at()?;
    let ahead = match window {
        Window::Full => refresh_ahead,
        Window::Capped => {
            let left = expires_at
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            refresh_ahead.min(left.saturating_sub(margin) / 2)
        }
    };
    if ahead.is_zero() {
        return None;
    }
    let before = margin.saturating_add(ahead);
    Some(expires_at.checked_sub(before).unwrap_or(UNIX_EPOCH))
}

impl Inner {
    fn current_arc(&self) -> Arc<TokenSet> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .tokens
            .clone()
    }

    /// The current set, its generation and the start of its refresh-ahead window.
    fn snapshot(&self) -> (Arc<TokenSet>, u64, Option<SystemTime>) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        (
            current.tokens.clone(),
            current.generation,
            current.ahead_from,
        )
    }

    fn install(&self, tokens: TokenSet) -> Arc<TokenSet> {
        self.install_as(tokens, Window::Capped)
    }

    fn install_as(&self, tokens: TokenSet, window: Window) -> Arc<TokenSet> {
        let ahead_from = ahead_from(self.margin, self.refresh_ahead, &tokens, window);
        let tokens = Arc::new(tokens);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Current {
            tokens: tokens.clone(),
            generation: current.generation.wrapping_add(1),
            ahead_from,
        };
        tokens
    }

    /// Starts the background refresh of the set of `generation`, once per set. Without a Tokio
    /// runtime to spawn on, nothing starts: callers refresh in the foreground once the token is
    /// unusable.
    fn start_ahead(self: &Arc<Self>, generation: u64) {
        if self.ahead_started.load(Ordering::Acquire) >= generation {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.ahead_started.fetch_max(generation, Ordering::AcqRel) >= generation {
            return;
        }
        let inner = Arc::downgrade(self);
        runtime.spawn(async move {
            // A panic (in an application's store or hook) would end the task unseen: report it
            // like a failed attempt. Callers still refresh in the foreground when it is needed.
            let attempt = tokio::spawn(refresh_ahead(inner.clone(), generation)).await;
            if attempt.is_err_and(|e| e.is_panic()) {
                tracing::error!("the background token refresh panicked");
                if let Some(source) = inner.upgrade() {
                    let error = Error::Cancelled("the background token refresh (it panicked)");
                    source.report_ahead_failure(&error);
                }
            }
        });
    }

    /// One background attempt for the set of `generation`, under the single flight. Returns
    /// the error worth retrying, if any.
    async fn try_refresh_ahead(&self, generation: u64) -> Option<Error> {
        let mut state = self.refresh.lock().await;
        let (current, now, _) = self.snapshot();
        if now != generation {
            return None; // replaced meanwhile: nothing left to do ahead
        }
        let need = Need::Ahead(current.access_token().clone());
        drop(current);
        let result = self.refresh_locked(&mut state, &need).await;
        state.last_error = result.as_ref().err().cloned();
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let error = result.err()?;
        self.report_ahead_failure(&error);
        let retry = error.oauth_code() != Some(&OAuthErrorCode::InvalidGrant);
        retry.then_some(error)
    }

    fn report_ahead_failure(&self, error: &Error) {
        tracing::warn!(
            error = %error,
            "refreshing ahead failed; the current token is handed out while it is valid"
        );
        if let Some(hook) = &self.on_refresh_error {
            if std::panic::catch_unwind(AssertUnwindSafe(|| hook(error))).is_err() {
                tracing::error!("the on_refresh_error hook panicked");
            }
        }
    }

    /// The pause before the next background attempt, or `None` when the current token would be
    /// unusable by then (callers then refresh in the foreground).
    fn retry_pause(&self, backoff: Duration) -> Option<Duration> {
        let unusable_at = self.current_arc().expires_at()?.checked_sub(self.margin)?;
        let left = unusable_at.duration_since(SystemTime::now()).ok()?;
        (backoff < left).then_some(backoff)
    }

    /// The token held for `resource` in the current set, when it is usable beyond the margin.
    fn usable_resource_token(&self, resource: &str) -> Option<AccessToken> {
        let current = self.current_arc();
        let token = current.resource_token(resource)?;
        if token.expires_within(self.margin) {
            return None;
        }
        // The main set itself when its token is the resource's: no copy.
        let tokens = if std::ptr::eq(token, current.as_ref()) {
            current.clone()
        } else {
            Arc::new(token.clone())
        };
        Some(AccessToken { tokens })
    }

    /// The refresh for one resource, under the single flight (`state`) and the store lock: the
    /// stored set is re-read (another process may hold a newer token, or a newer refresh
    /// token), refreshed for `resource`, and saved whole with the rotated refresh token.
    async fn refresh_resource_locked(
        &self,
        state: &mut RefreshState,
        resource: &str,
    ) -> Result<AccessToken> {
        let lock = self.store.lock().await?;
        let result = self.refresh_resource_under_lock(state, resource).await;
        release(lock).await;
        result
    }

    async fn refresh_resource_under_lock(
        &self,
        state: &mut RefreshState,
        resource: &str,
    ) -> Result<AccessToken> {
        if let Some(unsaved) = state.unsaved.take() {
            self.persist_and_install(state, unsaved).await?;
        }
        let mut stored = self
            .store
            .load()
            .await?
            .ok_or_else(|| StoreError::NoTokens {
                store: self.store.describe(),
            })?;
        self.install(stored.clone());
        let target = Target::Resource(resource);
        let mut may_retry = true;
        let fresh = loop {
            if let Some(token) = self.usable_resource_token(resource) {
                return Ok(token);
            }
            if let Some(error) = state.dead_grant_for(&stored) {
                return Err(error);
            }
            let client = self.client.as_ref().ok_or(Error::NoRefreshToken)?;
            tracing::debug!(
                provider = client.provider().name(),
                "refreshing for a resource"
            );
            let sent = client.refresh_request(&stored).resource(resource).send();
            match sent.await {
                Ok(fresh) => break fresh,
                Err(e) if e.oauth_code() == Some(&OAuthErrorCode::InvalidGrant) => {
                    let rotated = self.after_invalid_grant(state, &stored, &target, e, may_retry);
                    match rotated.await? {
                        Rotated::Use(_) => {
                            return self
                                .usable_resource_token(resource)
                                .ok_or(Error::NoRefreshToken)
                        }
                        Rotated::RetryWith(now) => (stored, may_retry) = (*now, false),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let merged = stored.with_resource_token(resource, fresh);
        self.persist_and_install(state, merged).await?;
        self.usable_resource_token(resource)
            .or_else(|| {
                // A token shorter-lived than the margin is still what the provider gave.
                let current = self.current_arc();
                let token = current.resource_token(resource)?.clone();
                Some(AccessToken {
                    tokens: Arc::new(token),
                })
            })
            .ok_or(Error::NoRefreshToken)
    }

    /// The refresh protocol, run by one task at a time in this process.
    async fn refresh_locked(&self, state: &mut RefreshState, need: &Need) -> Result<Arc<TokenSet>> {
        let lock = self.store.lock().await?;
        let result = self.refresh_under_store_lock(state, need).await;
        release(lock).await;
        result
    }

    async fn refresh_under_store_lock(
        &self,
        state: &mut RefreshState,
        need: &Need,
    ) -> Result<Arc<TokenSet>> {
        if let Some(unsaved) = state.unsaved.take() {
            tracing::debug!("saving a refreshed token set an earlier attempt could not save");
            return self.persist_and_install(state, unsaved).await;
        }
        // Another process (or replica) may have refreshed while we waited for the lock: its
        // result is in the store, and our refresh token may already be rotated out.
        let mut stored = self
            .store
            .load()
            .await?
            .ok_or_else(|| StoreError::NoTokens {
                store: self.store.describe(),
            })?;
        let target = Target::Main(need);
        let mut may_retry = true;
        loop {
            if !need.is_unusable(&stored, self.margin) {
                tracing::debug!("the store holds a token refreshed elsewhere; using it");
                return Ok(self.install(stored));
            }
            if let Some(error) = state.dead_grant_for(&stored) {
                // Refused already: asking again would be refused too.
                return Err(error);
            }
            let client = self.client.as_ref().ok_or(Error::NoRefreshToken)?;
            tracing::debug!(provider = client.provider().name(), "refreshing tokens");
            match client.refresh(&stored).await {
                Ok(refreshed) => return self.persist_and_install(state, refreshed).await,
                Err(e) if e.oauth_code() == Some(&OAuthErrorCode::InvalidGrant) => {
                    let rotated = self.after_invalid_grant(state, &stored, &target, e, may_retry);
                    match rotated.await? {
                        Rotated::Use(tokens) => return Ok(tokens),
                        Rotated::RetryWith(now) => (stored, may_retry) = (*now, false),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Rotation detection: `invalid_grant` for the stored refresh token, while the store now
    /// holds another refresh token, means another process refreshed at the same time (its
    /// store lock's lease ran out under it, or it writes without the lock), maybe for another
    /// resource or for the main token. Its pair is the live one: use it when it already holds
    /// what `target` wants, else refresh once more with it (`may_retry`), instead of logging
    /// the user out. Otherwise the error stands, and is recorded when `target` records it.
    async fn after_invalid_grant(
        &self,
        state: &mut RefreshState,
        used: &TokenSet,
        target: &Target<'_>,
        error: Error,
        may_retry: bool,
    ) -> Result<Rotated> {
        if let Ok(Some(now)) = self.store.load().await {
            let rotated =
                now.refresh_token().is_some() && now.refresh_token() != used.refresh_token();
            if rotated && target.is_met_by(&now, self.margin) {
                tracing::warn!(
                    "invalid_grant, but another process stored newer tokens meanwhile (concurrent refresh outside the store lock); using them"
                );
                return Ok(Rotated::Use(self.install(now)));
            }
            if rotated && may_retry {
                tracing::warn!(
                    "invalid_grant, but another process rotated the refresh token meanwhile; refreshing again with the stored one"
                );
                self.install(now.clone());
                return Ok(Rotated::RetryWith(Box::new(now)));
            }
        }
        let recorded = used
            .refresh_token()
            .filter(|_| target.records_invalid_grant());
        if let Some(refresh_token) = recorded {
            state.dead_grant = Some(DeadGrant {
                refresh_token: refresh_token.clone(),
                error: error.clone(),
            });
        }
        Err(error)
    }

    async fn persist_and_install(
        &self,
        state: &mut RefreshState,
        tokens: TokenSet,
    ) -> Result<Arc<TokenSet>> {
        if let Err(e) = self.store.save(&tokens).await {
            tracing::warn!(error = %e, "could not save refreshed tokens; keeping them to save again");
            state.unsaved = Some(tokens);
            return Err(e);
        }
        if let Some(hook) = &self.on_refresh {
            if std::panic::catch_unwind(AssertUnwindSafe(|| hook(&tokens))).is_err() {
                tracing::error!(
                    "the on_refresh hook panicked; the saved tokens are handed out anyway"
                );
            }
        }
        Ok(self.install(tokens))
    }
}

/// The background refresh of the set of `generation`: retried with a backoff doubling from
/// [`FIRST_BACKOFF`] while the token stays usable. It holds the source only weakly between
/// attempts, so a dropped source ends it.
async fn refresh_ahead(inner: Weak<Inner>, generation: u64) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(source) = inner.upgrade() else {
            return;
        };
        if source.try_refresh_ahead(generation).await.is_none() {
            return;
        }
        let Some(pause) = source.retry_pause(backoff) else {
            tracing::debug!("no time left to refresh ahead; callers refresh once it is unusable");
            return;
        };
        drop(source);
        tokio::time::sleep(pause).await;
        backoff = backoff.saturating_mul(2);
    }
}

async fn release(lock: StoreLock) {
    if let Err(e) = lock.release().await {
        tracing::warn!(error = %e, "could not release the token store lock");
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.inner.current_arc();
        f.debug_struct("TokenSource")
            .field(
                "client_id",
                &self.inner.client.as_ref().map(Client::client_id),
            )
            .field("store", &self.inner.store.describe())
            .field("margin", &self.inner.margin)
            .field("refresh_ahead", &self.inner.refresh_ahead)
            .field("expires_at", &current.expires_at())
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenSource`]. Made by [`TokenSource::builder`].
#[must_use]
pub struct TokenSourceBuilder {
    client: Client,
    store: Option<Arc<dyn TokenStore>>,
    margin: Duration,
    refresh_ahead: Duration,
    on_refresh: Option<Hook>,
    on_refresh_error: Option<ErrorHook>,
    tokens: Option<TokenSet>,
}

/// What a [`TokenSource`] is made of, besides its tokens.
struct Parts {
    client: Option<Client>,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    refresh_ahead: Duration,
    on_refresh: Option<Hook>,
    on_refresh_error: Option<ErrorHook>,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("client_id", &self.client.client_id())
            .field("store", &self.store.as_ref().map(|s| s.describe()))
            .field("margin", &self.margin)
            .field("refresh_ahead", &self.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// Where tokens are persisted. Default: a fresh [`MemoryTokenStore`]. Pass an
    /// `Arc<dyn TokenStore>` (or an `Arc` of a store) to share one store between sources.
    pub fn store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Refresh tokens that expire within `margin` (default 60 s). A refreshed token is handed
    /// out even when its whole lifetime is shorter than the margin.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Refresh in the background once a token expires within the margin plus `window`
    /// (default 60 s, so 2 minutes before expiry with the default margin): callers keep getting
    /// the still-valid token meanwhile and wait only for a token within the margin.
    /// `Duration::ZERO` switches it off.
    ///
    /// One background refresh per token set, under the same single flight and store lock as a
    /// foreground one. A failed one is reported ([`on_refresh_error`](Self::on_refresh_error)
    /// and a `tracing` warning) and retried after 1 s, 2 s, 4 s… while the token stays
    /// usable; `invalid_grant` is not retried but returned once the token is unusable. For a
    /// token the source refreshed itself, the window is at most half of the lifetime beyond
    /// the margin, so short-lived tokens are not refreshed back to back. Needs a Tokio
    /// runtime to spawn on (without one, callers refresh in the foreground). Switch it off in
    /// short-lived processes (a CLI): a refresh still running when the runtime shuts down is
    /// cancelled, and a refresh token the provider rotated in it is lost.
    pub fn refresh_ahead(mut self, window: Duration) -> Self {
        self.refresh_ahead = window;
        self
    }

    /// Called with the error of every failed background refresh (see
    /// [`refresh_ahead`](Self::refresh_ahead)), which no caller would otherwise see. A panic in
    /// it is logged and ignored. Foreground failures are returned to the callers instead.
    pub fn on_refresh_error(mut self, hook: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_refresh_error = Some(Arc::new(hook));
        self
    }

    /// Called with every refreshed token set after the store saved it and before it is handed
    /// out — for applications that also keep tokens elsewhere. A panic in it is logged and
    /// ignored. Not called for tokens read from the store or set with
    /// [`TokenSource::set_tokens`].
    pub fn on_refresh(mut self, hook: impl Fn(&TokenSet) + Send + Sync + 'static) -> Self {
        self.on_refresh = Some(Arc::new(hook));
        self
    }

    /// Starts from these tokens (fresh from a code exchange) and saves them to the store.
    /// Without this, [`build`](TokenSourceBuilder::build) reads them from the store.
    pub fn tokens(mut self, tokens: TokenSet) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Saves the given tokens, or loads the stored ones, and builds the source. An empty store
    /// is [`StoreError::NoTokens`] (re-authorization required).
    pub async fn build(self) -> Result<TokenSource> {
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryTokenStore::new()));
        let tokens = match self.tokens {
            Some(tokens) => {
                let lock = store.lock().await?;
                let saved = store.save(&tokens).await;
                release(lock).await;
                saved?;
                tokens
            }
            None => store.load().await?.ok_or_else(|| StoreError::NoTokens {
                store: store.describe(),
            })?,
        };
        let parts = Parts {
            client: Some(self.client),
            store,
            margin: self.margin,
            refresh_ahead: self.refresh_ahead,
            on_refresh: self.on_refresh,
            on_refresh_error: self.on_refresh_error,
        };
        Ok(TokenSource::from_parts(parts, tokens))
    }
}

/// An access token handed out by a [`TokenSource`]: a cheap handle (an `Arc` clone) on the
/// token set it belongs to. `Debug` shows no secret.
#[derive(Clone)]
pub struct AccessToken {
    tokens: Arc<TokenSet>,
}

impl AccessToken {
    /// The access token.
    pub fn secret(&self) -> &Secret {
        self.tokens.access_token()
    }

    /// The access token's value; every call site is a place where it leaves its box.
    pub fn expose(&self) -> &str {
        self.tokens.access_token().expose()
    }

    /// Its type: the scheme of the `Authorization` header.
    pub fn token_type(&self) -> &TokenType {
        self.tokens.token_type()
    }

    /// When it expires, if the server said.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.tokens.expires_at()
    }

    /// The whole token set it came with (refresh token, scope, ID token, extra fields).
    pub fn token_set(&self) -> &TokenSet {
        &self.tokens
    }

    /// The value of an `Authorization` header: `Bearer <token>` (or the server's token type).
    pub fn authorization(&self) -> Secret {
        Secret::new(format!("{} {}", self.token_type(), self.expose()))
    }

    /// `true` when both handles share the same token set (no new set was made in between).
    pub fn ptr_eq(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.tokens, &other.tokens)
    }
}

impl PartialEq for AccessToken {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || self.secret() == other.secret()
    }
}

impl Eq for AccessToken {}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token_type", self.token_type())
            .field("expires_at", &self.expires_at())
            .field("token", self.secret())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fresh_path_hands_out_the_same_set() {
        let source = TokenSource::static_token("t");
        let a = source.access_token().await.unwrap();
        let b = source.access_token().await.unwrap();
        assert!(a.ptr_eq(&b), "no new token set on the fresh path");
        assert!(!format!("{a:?} {source:?}").contains("\"t\""));
    }

    #[tokio::test]
    async fn expired_fixed_token_needs_reauthorization() {
        let json = br#"{"access_token":"t","expires_in":10}"#;
        let tokens =
            TokenSet::from_response(json, SystemTime::now() - Duration::from_secs(60)).unwrap();
        let source = TokenSource::fixed(tokens);
        assert!(!source.can_refresh());
        let err = source.access_token().await.unwrap_err();
        assert!(err.is_reauthorization_required(), "{err}");
        let err = source.force_refresh().await.unwrap_err();
        assert!(err.is_reauthorization_required(), "{err}");
    }

    #[tokio::test]
    async fn fixed_token_with_future_expiry_is_handed_out_until_it_expires() {
        // A static token has no margin: it is usable to its last second.
        let json = br#"{"access_token":"t","expires_in":30}"#;
        let source = TokenSource::fixed(TokenSet::from_response(json, SystemTime::now()).unwrap());
        assert_eq!(source.margin(), Duration::ZERO);
        assert_eq!(source.access_token().await.unwrap().expose(), "t");
    }

    #[test]
    fn authorization_value_uses_the_token_type() {
        let source = TokenSource::static_token("abc");
        let token = source.current();
        assert_eq!(token.authorization().expose(), "Bearer abc");
        assert_eq!(format!("{}", token.authorization()), "[redacted]");
    }
}
