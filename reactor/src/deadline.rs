//! `now + duration` for every timed API, saturating to "never" instead of
//! overflowing `Instant`.

use std::time::{Duration, Instant};

/// Where a deadline too far to represent is put instead: about 30 years, as good as never
/// for a timer, and far enough from `Instant`'s limits that adding it does not overflow.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The instant `duration` after `now`, or — if that instant is past what `Instant` can
/// represent (`Duration::MAX`, say) — about 30 years after `now`: a deadline that never comes.
///
/// This is what every timed API of loopwork uses for "in `duration`": [`sleep`](crate::sleep),
/// [`interval`](crate::interval)'s ticks, and loopwork's `call_later`, `timeout`,
/// `result_timeout` and `shutdown`. It never panics.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use loopwork_reactor::deadline_after;
///
/// let now = Instant::now();
/// assert_eq!(deadline_after(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// // No overflow: a deadline decades ahead, which never comes.
/// assert!(deadline_after(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365 * 10));
/// ```
pub fn deadline_after(now: Instant, duration: Duration) -> Instant {
    if let Some(deadline) = now.checked_add(duration) {
        return deadline;
    }
    // Halving ends: `now + 0` is always representable. Reached only when `now` itself lies
    // within 30 years of `Instant`'s limit (a virtual clock moved there).
    let mut far = FAR_FUTURE;
    loop {
        if let Some(deadline) = now.checked_add(far) {
            return deadline;
        }
        far /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_near_the_limit_of_instant() {
        let mut now = Instant::now();
        // Walk `now` close to the largest representable instant.
        let mut step = Duration::MAX;
        while !step.is_zero() {
            match now.checked_add(step) {
                Some(later) => now = later,
                None => step /= 2,
            }
        }
        assert_eq!(deadline_after(now, Duration::MAX), now);
        assert_eq!(deadline_after(now, Duration::ZERO), now);
    }
}
