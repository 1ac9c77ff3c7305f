//! Total-time limits for HTTP calls, kept by one shared watchdog thread instead of a timer
//! per call.
//!
//! Why not `tokio::time::timeout`: a fresh tokio timer per call, nearly always the runtime's
//! earliest, cost 3–5% of a loopback token request in `benches/anchors.rs` (registration,
//! removal, and the driver re-arming its wake-up for it). Here a call costs two uncontended lock
//! operations and one allocation; the watchdog sleeps until the earliest deadline and, under a
//! steady stream of calls, wakes about once per timeout period. It also works in any runtime
//! (or none), so a call never outlives its limit because a runtime's timer is not driven.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Runs `future` for at most `timeout`; `None` when the time ran out first (the future is
/// dropped, which cancels the HTTP call).
pub(crate) async fn within<F: Future>(timeout: Duration, future: F) -> Option<F::Output> {
    let Some(watchdog) = Watchdog::shared() else {
        // No thread could be started (a sandbox, a thread limit): tokio's timer then.
        return tokio::time::timeout(timeout, future).await.ok();
    };
    let Some(deadline) = Instant::now().checked_add(timeout) else {
        return Some(future.await); // A timeout beyond the clock's range is no timeout.
    };
    let watch = watchdog.watch(deadline);
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        // Checked and set under one lock, so the watchdog cannot fire in between unheard.
        if watch.entry.expired_or_wake(cx.waker()) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// One watched call: its deadline, whether it passed, and whom to wake then.
struct Entry {
    deadline: Instant,
    state: Mutex<EntryState>,
}

#[derive(Default)]
struct EntryState {
    expired: bool,
    waker: Option<Waker>,
}

impl Entry {
    fn lock(&self) -> MutexGuard<'_, EntryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `true` when the deadline has passed; else `waker` is woken when it does.
    fn expired_or_wake(&self, waker: &Waker) -> bool {
        let mut state = self.lock();
        if state.expired {
            return true;
        }
        if !state.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            state.waker = Some(waker.clone());
        }
        false
    }

    /// Marks the call as timed out and wakes it (once: a later call finds no waker).
    fn expire(&self) {
        let waker = {
            let mut state = self.lock();
            state.expired = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The watched calls, in slots reused as calls end.
#[derive(Default)]
struct Calls {
    slots: Vec<Option<Arc<Entry>>>,
    free: Vec<usize>,
    /// When the watchdog will next look; `None` while it sleeps with nothing to watch.
    wakes_at: Option<Instant>,
}

struct Watchdog {
    calls: Mutex<Calls>,
    changed: Condvar,
}

/// Removes its call from the watchdog when the call ends, however it ends.
struct Watch {
    watchdog: &'static Watchdog,
    slot: usize,
    entry: Arc<Entry>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut calls = self.watchdog.lock();
        if let Some(slot) = calls.slots.get_mut(self.slot) {
            *slot = None;
        }
        calls.free.push(self.slot);
    }
}

impl Watchdog {
    /// The process-wide watchdog, its thread started on first use.
    fn shared() -> Option<&'static Watchdog> {
        static SHARED: OnceLock<Option<&'static Watchdog>> = OnceLock::new();
        *SHARED.get_or_init(|| {
            let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
                calls: Mutex::new(Calls::default()),
                changed: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("grantkit-deadlines".into())
                .spawn(move || watchdog.run())
                .ok()
                .map(|_| watchdog)
        })
    }

    fn lock(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn watch(&'static self, deadline: Instant) -> Watch {
        let entry = Arc::new(Entry {
            deadline,
            state: Mutex::new(EntryState::default()),
        });
        let mut calls = self.lock();
        let slot = match calls.free.pop() {
            Some(slot) => match calls.slots.get_mut(slot) {
                Some(free) => {
                    *free = Some(entry.clone());
                    slot
                }
                // Free slots come from `Watch::drop` and are always in range; should that ever
                // break, a new slot is as good.
                None => {
                    calls.slots.push(Some(entry.clone()));
                    calls.slots.len() - 1
                }
            },
            None => {
                calls.slots.push(Some(entry.clone()));
                calls.slots.len() - 1
            }
        };
        // Only a deadline before the watchdog's next look needs to wake it; with a steady stream
        // of calls sharing one timeout, that is about once per timeout period.
        if calls.wakes_at.is_none_or(|at| deadline < at) {
            calls.wakes_at = Some(deadline);
            self.changed.notify_one();
        }
        Watch {
            watchdog: self,
            slot,
            entry,
        }
    }

    fn run(&self) {
        let mut calls = self.lock();
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for entry in calls.slots.iter().flatten() {
                if entry.deadline <= now {
                    entry.expire();
                } else if next.is_none_or(|at| entry.deadline < at) {
                    next = Some(entry.deadline);
                }
            }
            calls.wakes_at = next;
            calls = match next {
                Some(at) => {
                    self.changed
                        .wait_timeout(calls, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(calls)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_ends_in_time_keeps_its_output() {
        let out = within(Duration::from_secs(5), async { 7 }).await;
        assert_eq!(out, Some(7));
    }

    #[tokio::test]
    async fn a_stalled_call_ends_at_its_deadline_not_before() {
        let start = Instant::now();
        let out = within(Duration::from_millis(150), std::future::pending::<()>()).await;
        let took = start.elapsed();
        assert_eq!(out, None);
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test]
    async fn an_earlier_deadline_wakes_a_watchdog_waiting_for_a_later_one() {
        // A long call first, so the watchdog sleeps until its deadline...
        let long = tokio::spawn(within(
            Duration::from_secs(60),
            std::future::pending::<()>(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        // ...then a short one must still end on time.
        let start = Instant::now();
        assert_eq!(
            within(Duration::from_millis(100), std::future::pending::<()>()).await,
            None
        );
        assert!(start.elapsed() < Duration::from_secs(2));
        long.abort();
    }

    #[tokio::test]
    async fn many_concurrent_calls_each_get_their_own_deadline() {
        let calls = (0..50u64).map(|i| {
            tokio::spawn(async move {
                let limit = Duration::from_millis(50 + i % 5 * 20);
                let start = Instant::now();
                let finishes = i % 2 == 0;
                let out = within(limit, async move {
                    if finishes {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                })
                .await;
                (finishes, out.is_some(), start.elapsed() >= limit)
            })
        });
        for call in calls {
            let (finishes, ended_in_time, waited_full_limit) = call.await.unwrap();
            assert_eq!(ended_in_time, finishes);
            assert_eq!(waited_full_limit, !finishes);
        }
    }

    #[test]
    fn a_call_without_a_runtime_timer_still_times_out() {
        // A current-thread runtime without the time driver: a tokio timer would panic here.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt.block_on(within(
            Duration::from_millis(50),
            std::future::pending::<()>(),
        ));
        assert_eq!(out, None);
    }
}
