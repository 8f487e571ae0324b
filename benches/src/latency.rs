//! Latency workloads: each sample makes as many round trips as fit in its
//! time budget and keeps every one's duration, and the row reports a
//! percentile of them (the table's `/p50` and `/p99` rows).

use crate::net_workloads;
use crate::runtime::{Runtime, Spawner};
use std::io;
use std::time::{Duration, Instant};

/// Most round trips one sample keeps, however fast they are.
const MAX_ROUND_TRIPS: usize = 1_000_000;

/// A workload whose unit is one round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyWorkload {
    /// The benchmark thread, which the runtime does not own, submits a tiny
    /// future and blocks until its output is back, one at a time.
    RunCoroutineThreadsafe,
    /// 1 KiB messages echoed over loopback TCP by a server on the runtime to
    /// clients on the runtime, one message in flight per client.
    TcpEcho,
}

impl LatencyWorkload {
    /// Every latency workload, in table order.
    pub(crate) fn all() -> [LatencyWorkload; 2] {
        [LatencyWorkload::RunCoroutineThreadsafe, LatencyWorkload::TcpEcho]
    }

    /// The row name, before its `/pNN`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LatencyWorkload::RunCoroutineThreadsafe => "run_coroutine_threadsafe",
            LatencyWorkload::TcpEcho => "tcp_echo_rtt",
        }
    }

    /// What one round trip is.
    pub(crate) fn description(self) -> String {
        match self {
            LatencyWorkload::RunCoroutineThreadsafe => "one round trip: the benchmark thread (a foreign thread) \
                 submits a future returning a number and blocks for its result, one at a time (loopwork: \
                 `Handle::run_coroutine_threadsafe(..).result()`; tokio: `Handle::spawn` then `Handle::block_on` \
                 of the `JoinHandle`; async-executor: `Executor::spawn` then `future::block_on` of the `Task`)"
                .to_owned(),
            LatencyWorkload::TcpEcho => format!(
                "one round trip of a 1 KiB message (write, then read the echo) for each of {} clients on the \
                 runtime talking to an echo server on the runtime over loopback, {} messages per client per \
                 round (loopwork::net, tokio::net, async-io `Async<TcpStream>`; `TCP_NODELAY` on)",
                net_workloads::ECHO_CLIENTS,
                net_workloads::ECHO_MESSAGES
            ),
        }
    }

    /// Makes round trips on `runtime` until `budget` is spent (at least
    /// one) and returns their durations.
    ///
    /// # Errors
    ///
    /// If the TCP workload cannot bind or connect.
    pub(crate) fn run<R: Runtime>(self, runtime: &R, budget: Duration) -> io::Result<Vec<Duration>> {
        match self {
            LatencyWorkload::RunCoroutineThreadsafe => Ok(run_coroutine_threadsafe(runtime, budget)),
            LatencyWorkload::TcpEcho => net_workloads::echo_round_trips(runtime, budget),
        }
    }
}

fn run_coroutine_threadsafe<R: Runtime>(runtime: &R, budget: Duration) -> Vec<Duration> {
    let spawner = runtime.spawner();
    let mut round_trips = Vec::new();
    let start = Instant::now();
    let mut value = 0u64;
    while round_trips.is_empty() || (start.elapsed() < budget && round_trips.len() < MAX_ROUND_TRIPS) {
        let submitted = Instant::now();
        let answer = spawner.run_coroutine_threadsafe(async move { value + 1 });
        round_trips.push(submitted.elapsed());
        assert_eq!(answer, value + 1);
        value = answer;
    }
    round_trips
}

/// The `percentile`th percentile of `samples` by the nearest-rank method:
/// the smallest sample with at least `percentile`% of them at or below it.
///
/// # Panics
///
/// If `samples` is empty or `percentile` is not in 1..=100.
pub(crate) fn percentile(samples: &mut [Duration], percentile: u8) -> Duration {
    assert!((1..=100).contains(&percentile), "percentile {percentile} is not in 1..=100");
    per_mille(samples, u16::from(percentile) * 10)
}

/// The same by thousandths: `per_mille` 999 is the p99.9, the smallest
/// sample with at least 99.9% of them at or below it.
///
/// # Panics
///
/// If `samples` is empty or `per_mille` is not in 1..=1000.
pub(crate) fn per_mille(samples: &mut [Duration], per_mille: u16) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    assert!((1..=1000).contains(&per_mille), "per mille {per_mille} is not in 1..=1000");
    samples.sort_unstable();
    let rank = (samples.len() * usize::from(per_mille)).div_ceil(1000);
    samples[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut samples, 50), Duration::from_micros(50));
        assert_eq!(percentile(&mut samples, 99), Duration::from_micros(99));
        assert_eq!(percentile(&mut samples, 100), Duration::from_micros(100));
        assert_eq!(percentile(&mut [Duration::from_micros(7)], 99), Duration::from_micros(7));
        let mut thousand: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        assert_eq!(per_mille(&mut thousand, 999), Duration::from_micros(999));
        assert_eq!(per_mille(&mut samples, 999), Duration::from_micros(100));
    }
}
