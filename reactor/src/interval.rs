//! `interval`: a periodic timer, as a stream of ticks.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::{deadline_after, sleep, sleep_until, Sleep};

/// Ticks every `period`, the first tick at once.
///
/// # Missed ticks
///
/// When a tick is taken late by a period or more (the task was busy, or the loop was blocked),
/// the missed ticks are skipped, not delivered in a burst: the next tick is the first instant
/// of the schedule `start + n * period` that has not passed yet. Ticks therefore stay on the
/// original grid, a slow consumer sees fewer ticks rather than a catch-up storm, and no tick
/// ever completes before its scheduled instant.
///
/// # Panics
///
/// Panics if `period` is zero. The interval panics when first polled on a thread with no
/// current reactor. A period too long to add to the clock (`Duration::MAX`) is not an error:
/// the first tick comes at once and the next one never.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use loopwork_reactor::{interval, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let mut ticks = interval(Duration::from_millis(2));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// # std::io::Result::Ok(())
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval: the period must be non-zero");
    Interval { sleep: sleep(Duration::ZERO), period }
}

/// Ticks every `period`, the first tick at `start`.
///
/// Missed ticks are skipped as described on [`interval`].
///
/// # Panics
///
/// Panics if `period` is zero. The interval panics when first polled on a thread with no
/// current reactor.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use loopwork_reactor::{interval_at, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// let start = reactor.now() + Duration::from_millis(1);
/// let first = reactor.block_on(async move { interval_at(start, Duration::from_secs(1)).tick().await });
/// assert_eq!(first, start);
/// # std::io::Result::Ok(())
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval_at: the period must be non-zero");
    Interval { sleep: sleep_until(start), period }
}

/// A periodic timer from [`interval`] or [`interval_at`]; a [`Stream`] of tick instants.
///
/// Each tick yields the instant it was scheduled for (not the instant it was observed).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use futures_lite::StreamExt;
/// use loopwork_reactor::{interval, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// let ticks: Vec<_> = reactor.block_on(interval(Duration::from_millis(1)).take(3).collect());
/// assert_eq!(ticks.len(), 3);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Interval {
    /// Sleeps until the next scheduled tick.
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// # Panics
    ///
    /// Panics when polled on a thread with no current reactor (first poll only).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use loopwork_reactor::{interval, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let start = reactor.now();
    /// reactor.block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(1));
    ///     for _ in 0..3 {
    ///         ticks.tick().await;
    ///     }
    /// });
    /// assert!(reactor.now() - start >= Duration::from_millis(2));
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; the poll form of [`tick`](Interval::tick).
    ///
    /// # Panics
    ///
    /// Panics when first polled on a thread with no current reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use loopwork_reactor::{interval, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let mut ticks = interval(Duration::from_millis(1));
    /// reactor.block_on(poll_fn(|cx| ticks.poll_tick(cx)));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(self.sleep.poll_as(cx, "interval"));
        let scheduled = self.sleep.deadline().expect("a completed sleep knows its deadline");
        let now = self.sleep.reactor().expect("a completed sleep knows its reactor").now();
        self.sleep.reset(next_tick(scheduled, self.period, now));
        Poll::Ready(scheduled)
    }

    /// The time between ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopwork_reactor::interval;
    ///
    /// assert_eq!(interval(Duration::from_secs(1)).period(), Duration::from_secs(1));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

/// The tick after `scheduled`, skipping every one that `now` has already passed.
fn next_tick(scheduled: Instant, period: Duration, now: Instant) -> Instant {
    // A next tick past what `Instant` can represent (`Duration::MAX`) never comes.
    let Some(next) = scheduled.checked_add(period) else { return deadline_after(now, period) };
    if next >= now {
        return next;
    }
    let behind = (now - scheduled).as_nanos();
    let period_nanos = period.as_nanos();
    let periods = behind.div_ceil(period_nanos);
    let total = period_nanos * periods;
    // Both quotient and remainder fit: `total` is within one period of `now - scheduled`.
    let total = Duration::new((total / 1_000_000_000) as u64, (total % 1_000_000_000) as u32);
    scheduled.checked_add(total).unwrap_or_else(|| deadline_after(now, period))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_ticks_skip_to_the_grid_and_never_before_now() {
        let start = Instant::now();
        let ms = Duration::from_millis(1);
        assert_eq!(next_tick(start, 10 * ms, start + 3 * ms), start + 10 * ms);
        assert_eq!(next_tick(start, 10 * ms, start + 10 * ms), start + 10 * ms);
        assert_eq!(next_tick(start, 10 * ms, start + 35 * ms), start + 40 * ms);
        assert_eq!(next_tick(start, 10 * ms, start + 40 * ms), start + 40 * ms);
        let period = Duration::new(1, 1);
        let late = start + Duration::from_secs(10_000);
        let next = next_tick(start, period, late);
        assert!(next >= late && next - late < period);
    }

    #[test]
    fn a_period_too_long_to_add_means_no_further_tick() {
        let start = Instant::now();
        let decade = Duration::from_secs(86_400 * 365 * 10);
        assert!(next_tick(start, Duration::MAX, start) > start + decade);
        // Also from a start long past, where the next grid point is in the past too.
        let long_ago = start.checked_sub(decade).unwrap_or(start);
        assert!(next_tick(long_ago, Duration::MAX, start) > start + decade);
        assert!(next_tick(long_ago, decade / 2, start) >= start);
    }
}
