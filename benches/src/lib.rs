//! loopwork, tokio and async-executor side by side on the same workloads.
//!
//! Every workload is written once, against the [`Runtime`] and [`Spawner`]
//! traits, and runs unchanged on the three runtimes with the same number of
//! worker threads. The `compare` binary measures each row on all three,
//! interleaving their samples in one process, and prints the medians and
//! loopwork's ratio to the best peer:
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin compare [-- --filter NAME --runs N --workers N --write-docs]
//! ```
//!
//! The `scaling` binary runs each runtime over a range of sizes per
//! workload and draws the cost per item as one SVG chart per workload in
//! `docs/charts/`:
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin scaling [-- --filter NAME --out DIR]
//! ```
//!
//! # Map of the crate
//!
//! | module | what |
//! |---|---|
//! | `runtime` | [`Runtime`], [`Spawner`] and their implementations [`Loopwork`], [`Tokio`], [`AsyncExecutor`] |
//! | `net` | [`Net`]: each runtime's own TCP sockets ([`LoopworkNet`], [`TokioNet`], [`AsyncIoNet`]) |
//! | `workloads` | [`Workload`]: tokio's `rt_multi_threaded` and `remote_spawn` benchmarks, thread-safe submission, timers, `all_tasks` and `dump`, CPU-bound tasks |
//! | `workloads_foreign` | a runtime-agnostic channel with many producers, a foreign thread blocking on a std channel for a detached task's answer |
//! | `workloads_local` | [`LocalTasks`]: each runtime's tasks that stay on one thread, and the `spawn_local` workload |
//! | `workloads_sync` | [`SyncWorkload`]: lock, semaphore, mpsc and oneshot, each on its runtime's own primitives |
//! | `net_workloads` | TCP echo on loopback, idle connections |
//! | `process` | [`Process`]: each runtime's child processes ([`LoopworkProcess`], [`TokioProcess`], [`AsyncProcess`]) and the `process_spawn` workload |
//! | `http_workloads` | a hyper HTTP/1.1 hello server and its keep-alive clients |
//! | `external_load` | [`ExternalLoadRow`]: rows under a load from outside the runtime (CPU spinners oversubscribing the cores, a trickle of submissions) |
//! | `latency` | [`LatencyWorkload`]: round trips from a foreign thread and over TCP, and their percentiles |
//! | `memory` | resident and live heap bytes per idle task |
//! | `alloc` | [`CountingAllocator`]: the global allocator of `compare`, counting live bytes while asked to |
//! | `threads` | [`ThreadCounters`]: CPU time and context switches of a runtime's threads |
//! | `scaling` | [`ScalingWorkload`]: the `scaling` binary's workloads over a range of sizes, one [`Chart`] each |
//! | `svg` | [`Chart`]: a line chart with log scales, written as SVG by hand |
//! | `harness` | [`measure`]: calibration, warm-up, interleaved samples, [`Stats`] |
//! | `report` | the markdown [`table`], the [`Environment`] it ran in, [`write_section`] for `docs/benchmarks.md` |

mod alloc;
mod external_load;
mod harness;
mod http_workloads;
mod latency;
mod memory;
mod net;
mod net_workloads;
mod process;
mod report;
mod runtime;
mod scaling;
mod svg;
mod threads;
mod workloads;
mod workloads_foreign;
mod workloads_local;
mod workloads_loop;
mod workloads_sync;

pub use alloc::CountingAllocator;
pub use external_load::{thread_round_trip_baseline, ExternalLoadRow, Quantile, Spinners};
pub use harness::{cores, count_option, measure, Contender, Options, Row, RowResult, Stats, Unit};
pub use latency::LatencyWorkload;
pub use net::{AsyncIoNet, LoopworkNet, Net, TokioNet};
pub use process::{AsyncProcess, LoopworkProcess, Process, TokioProcess};
pub use report::{
    format_value, ratio_cell, section, table, threads_table, write_section, Environment, BEGIN_MARKER, END_MARKER,
};
pub use runtime::{AsyncExecutor, Loopwork, Runtime, Spawner, Tokio, Unwrapped};
pub use scaling::{NamedChart, ScalingWorkload};
pub use svg::{Chart, Series};
pub use threads::{threads_named, ThreadCounters};
pub use workloads::{spawn_remote_and_await, Workload, NUM_SPAWN};
pub use workloads_foreign::ForeignWorkload;
pub use workloads_local::LocalTasks;
pub use workloads_sync::SyncWorkload;
