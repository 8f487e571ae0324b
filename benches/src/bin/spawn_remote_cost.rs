//! What `spawn_many_remote_idle` costs the thread that spawns, on each
//! runtime, on an idle machine and under the oversubscribed rows' 2 × cores
//! spinning threads: the benchmark thread spawns 10,000 empty tasks, then
//! awaits every handle, and its own CPU time is counted (the table's
//! threads columns count only the runtime's threads).
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin spawn_remote_cost [-- --iterations N]
//! ```
//!
//! Under the spinners the spawning thread gets a core only part of the
//! time, so its CPU per spawn, more than the workers', sets the row's wall
//! time (`spawn_many_remote_oversubscribed`).

use loopwork_benches::{
    cores, spawn_remote_and_await, AsyncExecutor, Loopwork, Runtime, Spinners, ThreadCounters, Tokio, NUM_SPAWN,
};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let iterations = loopwork_benches::count_option("spawn_remote_cost", "iterations", 300, 1);
    println!(
        "| runtime | load | median wall per iteration | spawning thread CPU per spawn \
         | runtime threads CPU per spawn |"
    );
    println!("|---|---|---:|---:|---:|");
    for spinners in [false, true] {
        let rows = [
            measure::<Loopwork>(iterations, spinners),
            measure::<Tokio>(iterations, spinners),
            measure::<AsyncExecutor>(iterations, spinners),
        ];
        for row in rows {
            match row {
                Ok(line) => println!("{line}"),
                Err(err) => {
                    eprintln!("spawn_remote_cost: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// One table line: `iterations` of the workload on a fresh `R` with a
/// worker a core, as `compare` runs it.
fn measure<R: Runtime>(iterations: usize, with_spinners: bool) -> std::io::Result<String> {
    let runtime = R::start(cores())?;
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    let mut walls = Vec::with_capacity(iterations);
    let spinners = if with_spinners { Some(Spinners::start(2 * cores())?) } else { None };
    let (spawning, workers) = (ThreadCounters::of_current_thread(), runtime_threads::<R>());
    for _ in 0..iterations {
        let start = Instant::now();
        spawn_remote_and_await(&runtime, NUM_SPAWN, &mut handles);
        walls.push(start.elapsed());
    }
    let (spawning, workers) = (ThreadCounters::of_current_thread() - spawning, runtime_threads::<R>() - workers);
    drop(spinners);
    runtime.shutdown();
    walls.sort_unstable();
    let per_spawn = |counters: ThreadCounters| Duration::from_nanos(counters.cpu_ns / (iterations * NUM_SPAWN) as u64);
    Ok(format!(
        "| {} | {} | {:.2?} | {:.1?} | {:.1?} |",
        R::NAME,
        if with_spinners { "2 × cores spinners" } else { "idle" },
        walls[iterations / 2],
        per_spawn(spawning),
        per_spawn(workers)
    ))
}

fn runtime_threads<R: Runtime>() -> ThreadCounters {
    ThreadCounters::of_threads_named(R::THREADS)
}
