//! The `sync_lock_contention` row on loopwork alone (8 tasks × 1,000
//! lock / increment / unlock of one counter, spawned from a plain thread,
//! which waits for all eight), with the polls each iteration took from the
//! loop's metrics: how often a task had to wait for the lock.
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin lock_convoy [-- --iterations N]
//! ```
//!
//! 8,000 acquisitions take 64 polls when each task runs its loop to the end
//! before the next one asks for the lock (8 a task: the cooperative budget
//! of 128 operations a poll), and about 8,000 once a waiter is queued:
//! `Lock` is FIFO, as asyncio's is, so a task that releases it to a waiter
//! and asks again waits behind the others, and every acquisition from then
//! on is a hand-off to the next task in line (a convoy). Prints
//! the iterations in quartiles of their poll count, with the tasks the
//! workers stole from each other and the times.

use loopwork::sync::Lock;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const TASKS: usize = 8;
const ROUNDS: usize = 1_000;

fn main() -> ExitCode {
    let iterations = loopwork_benches::count_option("lock_convoy", "iterations", 1_000, 4);
    // A worker a core, as `compare` runs the row.
    let event_loop = loopwork::EventLoop::builder().workers(loopwork_benches::cores()).build().expect("start the loop");
    let handle = event_loop.handle();
    // Polls and stolen tasks, summed over the workers.
    let counts = || {
        let metrics = handle.metrics();
        let workers = metrics.worker_metrics();
        (
            workers.iter().map(|worker| worker.polls()).sum::<u64>(),
            workers.iter().map(|worker| worker.stolen_tasks()).sum::<u64>(),
        )
    };
    let (done_tx, done_rx) = mpsc::sync_channel(TASKS);
    // (polls, stolen tasks, time) of each iteration.
    let mut runs: Vec<(u64, u64, Duration)> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let lock = Arc::new(Lock::new(0_u64));
        let (before, start) = (counts(), Instant::now());
        for _ in 0..TASKS {
            let (lock, done) = (lock.clone(), done_tx.clone());
            drop(handle.spawn(async move {
                for _ in 0..ROUNDS {
                    *lock.lock().await += 1;
                }
                done.send(()).expect("the benchmark thread waits");
            }));
        }
        for _ in 0..TASKS {
            done_rx.recv().expect("every task reports");
        }
        let after = counts();
        runs.push((after.0 - before.0, after.1 - before.1, start.elapsed()));
    }
    event_loop.close();
    runs.sort_unstable();
    println!("| quartile by polls | polls per iteration | tasks stolen per iteration | median time |");
    println!("|---|---:|---:|---:|");
    for index in 0..4 {
        let quartile = &runs[index * iterations / 4..(index + 1) * iterations / 4];
        let mut times: Vec<Duration> = quartile.iter().map(|&(_, _, time)| time).collect();
        times.sort_unstable();
        let (fewest, most) = (quartile[0].0, quartile[quartile.len() - 1].0);
        let stolen = quartile.iter().map(|&(_, stolen, _)| stolen).sum::<u64>() as f64 / quartile.len() as f64;
        let median = times[times.len() / 2].as_secs_f64() * 1e6;
        println!("| {} | {fewest}–{most} | {stolen:.1} | {median:.0} µs |", index + 1);
    }
    ExitCode::SUCCESS
}
