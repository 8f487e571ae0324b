//! Two shapes from outside tokio's benchmark set, where the work crosses a
//! boundary the runtime does not own: a runtime-agnostic bounded channel
//! (`async_channel`, the same crate on every runtime) with many producers
//! and one consumer, and a plain thread that detaches a task and blocks on a
//! `std::sync::mpsc` channel for its answer.

use crate::runtime::{Runtime, Spawner};
use crate::workloads::{timed, Timing};
use std::sync::mpsc;
use std::time::Duration;

/// `mpsc_many_producers_async_channel`: producer tasks, messages each, and
/// the channel's capacity.
pub(crate) const PRODUCERS: usize = 4;
pub(crate) const MESSAGES: usize = 25_000;
pub(crate) const CAPACITY: usize = 64;
/// Round trips per `foreign_detach_roundtrip` iteration.
pub(crate) const ROUND_TRIPS: usize = 2_000;

/// A timed workload across a boundary the runtime does not own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignWorkload {
    /// 4 producer tasks × 25,000 messages through one
    /// `async_channel::bounded(64)` into one consumer task.
    ManyProducersAsyncChannel,
    /// 2,000 round trips in a row: the benchmark thread detaches a task
    /// that sends its answer over a `std::sync::mpsc` channel, and blocks on
    /// the channel.
    DetachRoundTrip,
}

impl ForeignWorkload {
    /// Every such workload, in table order.
    pub(crate) fn all() -> [ForeignWorkload; 2] {
        [ForeignWorkload::ManyProducersAsyncChannel, ForeignWorkload::DetachRoundTrip]
    }

    /// The row name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ForeignWorkload::ManyProducersAsyncChannel => "mpsc_many_producers_async_channel",
            ForeignWorkload::DetachRoundTrip => "foreign_detach_roundtrip",
        }
    }

    /// One line saying what an iteration does.
    pub(crate) fn description(self) -> String {
        match self {
            ForeignWorkload::ManyProducersAsyncChannel => format!(
                "{PRODUCERS} producer tasks × {} messages through one `async_channel::bounded({CAPACITY})` into \
                 one consumer task, all spawned from `block_on`, which awaits the consumer (the same channel crate \
                 on every runtime)",
                crate::harness::group_thousands(MESSAGES as u64)
            ),
            ForeignWorkload::DetachRoundTrip => format!(
                "{} round trips in a row from the benchmark thread (a plain thread): it spawns and detaches a \
                 task that sends a number back over a `std::sync::mpsc` channel, and blocks on `recv`",
                crate::harness::group_thousands(ROUND_TRIPS as u64)
            ),
        }
    }

    /// Runs the workload on `runtime` back to back until `budget` is spent
    /// (at least once).
    pub(crate) fn run<R: Runtime>(self, runtime: &R, budget: Duration) -> Timing {
        match self {
            ForeignWorkload::ManyProducersAsyncChannel => many_producers(runtime, budget),
            ForeignWorkload::DetachRoundTrip => detach_round_trips(runtime, budget),
        }
    }
}

fn many_producers<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    timed(budget, || {
        runtime.block_on(async {
            let (tx, rx) = async_channel::bounded::<usize>(CAPACITY);
            let consumer = spawner.spawn(async move {
                let mut received = 0;
                while rx.recv().await.is_ok() {
                    received += 1;
                }
                received
            });
            for _ in 0..PRODUCERS {
                let tx = tx.clone();
                spawner.spawn_detached(async move {
                    for i in 0..MESSAGES {
                        tx.send(i).await.expect("the consumer receives until every sender is gone");
                    }
                });
            }
            // The channel closes when the last producer drops its sender.
            drop(tx);
            assert_eq!(consumer.await, PRODUCERS * MESSAGES);
        });
    })
}

fn detach_round_trips<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let (tx, rx) = mpsc::channel();
    let mut value = 0u64;
    timed(budget, || {
        for _ in 0..ROUND_TRIPS {
            let tx = tx.clone();
            spawner.spawn_detached(async move {
                tx.send(value + 1).expect("the benchmark thread waits for the answer");
            });
            let answer = rx.recv().expect("the task sends its answer");
            assert_eq!(answer, value + 1);
            value = answer;
        }
    })
}
