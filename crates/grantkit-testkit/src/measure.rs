//! Small helpers for benchmarks that measure grantkit: polling a future that must be ready at
//! once, and latency quantiles.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Polls `future` once and returns its output.
///
/// # Panics
///
/// When the future is not ready on the first poll: a benchmark of the fresh path
/// (`access_token()` on a valid token) must never wait, and a wait is the regression it exists
/// to catch.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("access_token() waited on the fresh path"),
    }
}

/// The `p` quantile (0.0 to 1.0) of `sorted` durations; zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    // Nearest rank; a `p` outside 0..=1 is clamped to the ends.
    let rank = ((last as f64) * p.clamp(0.0, 1.0)).round() as usize;
    sorted.get(rank.min(last)).copied().unwrap_or_default()
}

/// `d` in microseconds.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
