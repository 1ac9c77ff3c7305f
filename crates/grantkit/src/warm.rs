//! A value fetched from the provider and kept warm: the JWKS and discovery metadata.
//!
//! Both are read on hot paths (every ID-token validation, every client built from discovery)
//! and both live at endpoints that can be slow or down while the rest of the provider works.
//! So the rules, written once here:
//!
//! - **single flight**: one fetch at a time, whatever the number of callers; callers that
//!   waited for a fetch share its outcome instead of fetching again;
//! - **refresh-ahead**: in the last quarter of its lifetime the value is refreshed by a
//!   background task while callers keep using it, so under steady use nobody waits;
//! - **stale-if-error**: while refreshes fail, the last good value is served up to
//!   `max_stale` after it was fetched (a provider outage of a non-critical endpoint costs
//!   nothing), and refreshes go on in the background;
//! - **backoff**: after a failure no fetch is made before a delay that doubles per failure
//!   (from `retry_min` up to `retry_max`); a caller with nothing to serve gets the last error;
//! - **never older over newer**: fetches are serialized and each is numbered; a result is
//!   installed only over an older one.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Something that can be fetched again: the JWKS of one `jwks_uri`, one discovery document.
pub(crate) trait Fetch: Send + Sync + 'static {
    /// The value kept; cheap to clone (an `Arc`).
    type Value: Clone + Send + Sync + 'static;
    /// One fetch, HTTP included.
    fn fetch(&self) -> impl Future<Output = Result<Self::Value>> + Send;
}

/// How long a value is fresh, how long it may be served stale while fetches fail, and how
/// often a failing endpoint is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WarmPolicy {
    pub(crate) ttl: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) retry_min: Duration,
    pub(crate) retry_max: Duration,
}

impl WarmPolicy {
    /// The backoff after `failures` failures in a row: doubling from `retry_min`, capped.
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.retry_min.saturating_mul(factor).min(self.retry_max)
    }

    /// Refresh-ahead starts when a quarter of the lifetime is left.
    fn refresh_at(&self) -> Duration {
        self.ttl - self.ttl / 4
    }
}

struct State<T> {
    value: Option<T>,
    fetched_at: Option<Instant>,
    /// The number of the last completed fetch, success or failure (fetches are numbered at
    /// start and serialized): a caller waiting for the fetch lock shares the outcome of a fetch
    /// recent enough for it instead of fetching again.
    completed: u64,
    /// The number of the fetch whose value is installed (fetches are numbered at start).
    installed: u64,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<Error>,
}

/// What a caller does with the value as it stands.
enum Plan<T> {
    /// Serve it; with `true`, also start a background refresh.
    Serve(T, bool),
    /// Serve nothing: the last fetch failed and the next is not due yet.
    Fail(Error),
    /// Fetch now (or wait for the fetch in flight) and serve its outcome.
    Fetch,
}

/// Clears the "background refresh running" flag when the refresh task ends or is dropped.
struct BackgroundFlag<F: Fetch>(Arc<Warm<F>>);

impl<F: Fetch> Drop for BackgroundFlag<F> {
    fn drop(&mut self) {
        self.0.background.store(false, Ordering::Release);
    }
}

/// One kept value (see the module documentation).
pub(crate) struct Warm<F: Fetch> {
    fetcher: F,
    policy: WarmPolicy,
    state: RwLock<State<F::Value>>,
    fetch_lock: tokio::sync::Mutex<()>,
    started: AtomicU64,
    background: AtomicBool,
}

impl<F: Fetch> Warm<F> {
    pub(crate) fn new(fetcher: F, policy: WarmPolicy) -> Self {
        Self {
            fetcher,
            policy,
            state: RwLock::new(State {
                value: None,
                fetched_at: None,
                completed: 0,
                installed: 0,
                failures: 0,
                retry_at: None,
                last_error: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            started: AtomicU64::new(0),
            background: AtomicBool::new(false),
        }
    }

    /// How many fetches were started (diagnostics and tests: a warm value costs none).
    pub(crate) fn fetches(&self) -> u64 {
        self.started.load(Ordering::Acquire)
    }

    /// The value, fetched first only when there is nothing that may be served.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<F::Value> {
        match self.plan(Instant::now()) {
            Plan::Serve(value, refresh) => {
                if refresh && !self.spawn_refresh(true) && self.expired(Instant::now()) {
                    // No runtime to refresh in the background, and the value is past its
                    // lifetime: refresh in the foreground rather than serve it stale forever.
                    return self.fetch_shared(self.completed(), true).await;
                }
                Ok(value)
            }
            Plan::Fail(error) => Err(error),
            Plan::Fetch => self.fetch_shared(self.completed(), true).await,
        }
    }

    /// Starts a background fetch when nothing is held yet (a login about to need the value
    /// fetches it while the other round trip is in flight). Its failure starts no backoff: the
    /// caller that needs the value then makes its own attempt, as it would have without the
    /// prefetch (after a code exchange, the code is spent: one attempt must not be lost).
    pub(crate) fn prefetch(self: &Arc<Self>) {
        let state = self.read();
        let backing_off = state.retry_at.is_some_and(|at| Instant::now() < at);
        let cold = state.value.is_none();
        drop(state);
        if cold && !backing_off {
            self.spawn_refresh(false);
        }
    }

    /// Fetches again now, because the value seems outdated (a token names an unknown key).
    /// Shares only a fetch that started after this call (one in flight may carry the old
    /// value); respects the backoff. `None` when no fetch may be made.
    pub(crate) async fn refetch(self: &Arc<Self>) -> Option<Result<F::Value>> {
        if self.read().retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let started = self.started.load(Ordering::Acquire);
        Some(self.fetch_shared(started, true).await)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<F::Value>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn completed(&self) -> u64 {
        self.read().completed
    }

    fn expired(&self, now: Instant) -> bool {
        self.read()
            .fetched_at
            .is_none_or(|at| now.duration_since(at) >= self.policy.ttl)
    }

    fn plan(&self, now: Instant) -> Plan<F::Value> {
        let state = self.read();
        let backing_off = state.retry_at.is_some_and(|at| now < at);
        let (Some(value), Some(at)) = (&state.value, state.fetched_at) else {
            return match (&state.last_error, backing_off) {
                (Some(error), true) => Plan::Fail(error.clone()),
                _ => Plan::Fetch,
            };
        };
        let age = now.duration_since(at);
        if age < self.policy.refresh_at() {
            return Plan::Serve(value.clone(), false);
        }
        if age < self.policy.ttl {
            return Plan::Serve(value.clone(), !backing_off);
        }
        if age < self.policy.max_stale {
            // Past its lifetime: served while a refresh is under way or the endpoint fails,
            // never waited on; fetched in the foreground only when all was well (an idle
            // process), so a quiet application does not run on old keys.
            let refreshing = self.background.load(Ordering::Acquire);
            if refreshing || backing_off || state.failures > 0 {
                return Plan::Serve(value.clone(), !refreshing && !backing_off);
            }
            return Plan::Fetch;
        }
        match (&state.last_error, backing_off) {
            (Some(error), true) => Plan::Fail(error.clone()),
            _ => Plan::Fetch,
        }
    }

    /// Starts one background refresh unless one runs; `false` when there is no Tokio runtime
    /// to run it on. `backoff`: whether its failure delays the next attempt.
    fn spawn_refresh(self: &Arc<Self>, backoff: bool) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if self.background.swap(true, Ordering::AcqRel) {
            return true;
        }
        let this = self.clone();
        runtime.spawn(async move {
            // Cleared however the task ends: a runtime shut down mid-fetch drops the task, and a
            // flag left set would stop every later background refresh of a shared client.
            let _running = BackgroundFlag(this.clone());
            let started = this.started.load(Ordering::Acquire);
            if let Err(error) = this.fetch_shared(started, backoff).await {
                tracing::warn!(%error, "background refresh failed; serving the last good value");
            }
        });
        true
    }

    /// The single flight: one fetch at a time. A caller that finds a fetch numbered above
    /// `newer_than` completed takes that outcome instead of fetching again.
    async fn fetch_shared(&self, newer_than: u64, backoff: bool) -> Result<F::Value> {
        let _flight = self.fetch_lock.lock().await;
        if self.completed() <= newer_than {
            let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
            let result = self.fetcher.fetch().await;
            self.record(number, result, backoff);
        }
        self.outcome(Instant::now())
    }

    fn record(&self, number: u64, result: Result<F::Value>, backoff: bool) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.completed = state.completed.max(number);
        match result {
            // Fetches are serialized, so a result is always newer than the installed one; the
            // check keeps that true should fetches ever overlap.
            Ok(value) if number > state.installed => {
                state.value = Some(value);
                state.fetched_at = Some(Instant::now());
                state.installed = number;
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
            }
            Ok(_) => {}
            Err(error) if backoff => {
                state.failures = state.failures.saturating_add(1);
                state.retry_at = Some(Instant::now() + self.policy.backoff(state.failures));
                state.last_error = Some(error);
            }
            Err(error) => state.last_error = Some(error),
        }
    }

    /// After a fetch: its value; or, when it failed, the last good value while it may still
    /// be served; else the error.
    fn outcome(&self, now: Instant) -> Result<F::Value> {
        let state = self.read();
        let servable = state
            .fetched_at
            .is_some_and(|at| now.duration_since(at) < self.policy.max_stale);
        match (&state.value, &state.last_error) {
            (Some(value), None) => Ok(value.clone()),
            (Some(value), Some(error)) if servable => {
                tracing::warn!(%error, "fetch failed; serving the last good value");
                Ok(value.clone())
            }
            (_, Some(error)) => Err(error.clone()),
            // Only a fetch task stopped midway leaves neither.
            (None, None) => Err(Error::Cancelled("the key or metadata fetch")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers from a script of results; counts calls.
    struct Scripted {
        answers: Mutex<Vec<Result<u32>>>,
        gate: tokio::sync::Semaphore,
    }

    impl Fetch for Arc<Scripted> {
        type Value = u32;
        async fn fetch(&self) -> Result<u32> {
            let permit = self.gate.acquire().await;
            drop(permit);
            let mut answers = self.answers.lock().unwrap();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        }
    }

    fn down() -> Error {
        Error::Http {
            endpoint: crate::Endpoint::Jwks,
            status: 500,
            body_excerpt: String::new(),
        }
    }

    fn warm(
        answers: Vec<Result<u32>>,
        policy: WarmPolicy,
    ) -> (Arc<Warm<Arc<Scripted>>>, Arc<Scripted>) {
        let fetcher = Arc::new(Scripted {
            answers: Mutex::new(answers),
            gate: tokio::sync::Semaphore::new(1000),
        });
        (Arc::new(Warm::new(fetcher.clone(), policy)), fetcher)
    }

    fn policy(ttl_ms: u64) -> WarmPolicy {
        WarmPolicy {
            ttl: Duration::from_millis(ttl_ms),
            max_stale: Duration::from_secs(3600),
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy(1000);
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(5), Duration::from_millis(3200));
        assert_eq!(p.backoff(6), Duration::from_secs(5));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_failing_cold_fetch_is_negatively_cached_until_the_backoff_ends() {
        let (warm, _) = warm(vec![Err(down()), Ok(7)], policy(10_000));
        for _ in 0..50 {
            assert!(warm.get().await.is_err());
        }
        assert_eq!(warm.fetches(), 1, "one fetch, then the cached error");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(warm.get().await.unwrap(), 7);
        assert_eq!(warm.fetches(), 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_last_good_value() {
        let (warm, _) = warm(vec![Ok(1), Err(down())], policy(50));
        assert_eq!(warm.get().await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        // Expired, all was well: a foreground fetch, which fails; the old value is served.
        assert_eq!(warm.get().await.unwrap(), 1);
        for _ in 0..100 {
            assert_eq!(warm.get().await.unwrap(), 1);
        }
        assert_eq!(warm.fetches(), 2, "backing off: no fetch per call");
    }

    #[tokio::test]
    async fn a_failed_prefetch_leaves_the_next_caller_its_own_attempt() {
        let (warm, _) = warm(vec![Err(down()), Ok(9)], policy(10_000));
        warm.prefetch();
        for _ in 0..100 {
            if warm.fetches() == 1 && warm.read().last_error.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(
            warm.get().await.unwrap(),
            9,
            "no backoff after a failed prefetch"
        );
        assert_eq!(warm.fetches(), 2);
    }

    #[test]
    fn a_runtime_shut_down_mid_refresh_does_not_stop_later_refreshes() {
        let (warm, fetcher) = warm(vec![Ok(1), Ok(2), Ok(3)], policy(200));
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let first = runtime();
        let held = first.block_on(async {
            assert_eq!(warm.get().await.unwrap(), 1);
            let held = fetcher.gate.acquire_many(1000).await.unwrap();
            tokio::time::sleep(Duration::from_millis(160)).await; // the refresh-ahead window
            assert_eq!(warm.get().await.unwrap(), 1); // starts a background refresh, held
            tokio::task::yield_now().await;
            held
        });
        drop(first); // the held refresh task is dropped with its runtime
        drop(held);
        assert_eq!(warm.fetches(), 2);
        runtime().block_on(async {
            assert_eq!(warm.get().await.unwrap(), 1); // still fresh enough: serves, refreshes
            for _ in 0..100 {
                if warm.fetches() == 3 && warm.get().await.unwrap() == 2 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("no background refresh after the first runtime went away");
        });
    }

    #[tokio::test]
    async fn refresh_ahead_never_makes_a_caller_wait() {
        let (warm, fetcher) = warm(vec![Ok(1), Ok(2)], policy(200));
        assert_eq!(warm.get().await.unwrap(), 1);
        // Hold every further fetch: a caller that waited for one would hang here.
        let held = fetcher.gate.acquire_many(1000).await.unwrap();
        tokio::time::sleep(Duration::from_millis(160)).await; // in the refresh-ahead window
        for _ in 0..20 {
            assert_eq!(warm.get().await.unwrap(), 1);
        }
        tokio::time::sleep(Duration::from_millis(60)).await; // past the lifetime, refresh held
        assert_eq!(
            warm.get().await.unwrap(),
            1,
            "served while the refresh is in flight"
        );
        assert_eq!(warm.fetches(), 2, "one background refresh");
        drop(held);
        for _ in 0..100 {
            if warm.get().await.unwrap() == 2 {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the background refresh never landed");
    }
}
