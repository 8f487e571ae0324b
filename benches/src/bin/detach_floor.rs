//! What bounds `foreign_detach_roundtrip`: its 2,000 round trips on
//! loopwork as the row makes them (the benchmark thread detaches a task
//! that answers over a `std::sync::mpsc` channel, and blocks on `recv`),
//! the same with the benchmark thread polling the channel instead of
//! sleeping on it (what is left when its own wake-up is taken out), and two
//! plain threads exchanging the same messages with no runtime at all.
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin detach_floor [-- --runs N]
//! ```
//!
//! Prints the median, fastest and slowest of the runs of each, 2,000 round
//! trips a run.

use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROUND_TRIPS: u64 = 2_000;

/// How the benchmark thread waits for each answer.
#[derive(Clone, Copy)]
enum Wait {
    /// `recv`: it sleeps, and the answer has to wake it.
    Blocking,
    /// `try_recv` in a loop: it never sleeps.
    Polling,
}

fn detached(handle: &loopwork::Handle, wait: Wait) -> Duration {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let mut value = 0;
    for _ in 0..ROUND_TRIPS {
        let tx = tx.clone();
        let task = handle.spawn(async move { tx.send(value + 1).expect("the benchmark thread waits") });
        // Dropping the handle detaches the task.
        drop(task.expect("the loop is open"));
        value = match wait {
            Wait::Blocking => rx.recv().expect("the task answers"),
            Wait::Polling => loop {
                match rx.try_recv() {
                    Ok(answer) => break answer,
                    Err(_) => std::hint::spin_loop(),
                }
            },
        };
    }
    assert_eq!(value, ROUND_TRIPS);
    start.elapsed()
}

fn plain_threads() -> Duration {
    let (request_tx, request_rx) = mpsc::channel::<u64>();
    let (reply_tx, reply_rx) = mpsc::channel::<u64>();
    let answerer = std::thread::spawn(move || {
        for request in request_rx {
            reply_tx.send(request + 1).expect("the benchmark thread waits");
        }
    });
    let start = Instant::now();
    let mut value = 0;
    for _ in 0..ROUND_TRIPS {
        request_tx.send(value).expect("the answerer runs until the channel closes");
        value = reply_rx.recv().expect("the answerer replies");
    }
    let elapsed = start.elapsed();
    drop(request_tx);
    answerer.join().expect("the answerer does not panic");
    elapsed
}

fn main() {
    let runs = loopwork_benches::count_option("detach_floor", "runs", 15, 1);
    // A worker a core, as `compare` runs the row.
    let event_loop = loopwork::EventLoop::builder().workers(loopwork_benches::cores()).build().expect("start the loop");
    let handle = event_loop.handle();
    let mut rows: [(&str, Vec<Duration>); 3] = [
        ("loopwork, the benchmark thread blocking (the row)", Vec::new()),
        ("loopwork, the benchmark thread polling", Vec::new()),
        ("plain threads, both blocking", Vec::new()),
    ];
    for _ in 0..runs {
        rows[0].1.push(detached(&handle, Wait::Blocking));
        rows[1].1.push(detached(&handle, Wait::Polling));
        rows[2].1.push(plain_threads());
    }
    println!("| {ROUND_TRIPS} round trips | median | fastest | slowest |");
    println!("|---|---:|---:|---:|");
    for (name, mut times) in rows {
        times.sort_unstable();
        println!("| {name} | {:.2?} | {:.2?} | {:.2?} |", times[times.len() / 2], times[0], times[times.len() - 1]);
    }
}
