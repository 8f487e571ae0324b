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
//! of 128 operations a poll), and about 8,000 once a waiter is queued: `Lock` is FIFO, as asyncio's is, so a task that releases it to
//! a waiter and asks again waits behind the others, and every acquisition
//! from then on is a hand-off to the next task in line (a convoy). Prints
//! the iterations in quartiles of their poll count, with their times.

use loopwork::sync::Lock;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const TASKS: usize = 8;
const ROUNDS: usize = 1_000;

fn main() -> ExitCode {
    let mut iterations = 1_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|value| value.parse::<usize>())) {
            ("--iterations", Some(Ok(value))) if value >= 4 => iterations = value,
            _ => {
                eprintln!("usage: lock_convoy [--iterations N]   (N >= 4, default 1000)");
                return ExitCode::FAILURE;
            }
        }
    }
    let event_loop = loopwork::EventLoop::builder().workers(2).build().expect("start the loop");
    let handle = event_loop.handle();
    let polls = || handle.metrics().worker_metrics().iter().map(|worker| worker.polls()).sum::<u64>();
    let (done_tx, done_rx) = mpsc::sync_channel(TASKS);
    let mut runs: Vec<(u64, Duration)> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let lock = Arc::new(Lock::new(0_u64));
        let (before, start) = (polls(), Instant::now());
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
        runs.push((polls() - before, start.elapsed()));
    }
    event_loop.close();
    runs.sort_unstable();
    println!("| quartile by polls | polls per iteration | median time |");
    println!("|---|---:|---:|");
    for (index, quartile) in runs.chunks(iterations / 4).take(4).enumerate() {
        let mut times: Vec<Duration> = quartile.iter().map(|&(_, time)| time).collect();
        times.sort_unstable();
        let (fewest, most) = (quartile[0].0, quartile[quartile.len() - 1].0);
        println!("| {} | {fewest}–{most} | {:.0?} |", index + 1, times[times.len() / 2]);
    }
    ExitCode::SUCCESS
}
