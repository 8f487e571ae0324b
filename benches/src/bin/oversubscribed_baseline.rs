//! A baseline for the `run_coroutine_threadsafe_oversubscribed` rows: the
//! same round trips between two plain threads over std channels, with no
//! runtime at all, under the same 2 × cores spinning threads. Neither
//! thread spins before it sleeps, so each wait costs what the kernel's
//! scheduler makes a woken thread wait while every core is taken: the tail
//! a runtime has when it adds nothing of its own. (A runtime that spins
//! before it sleeps avoids some of those waits and can do better.)
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin oversubscribed_baseline [-- --runs N]
//! ```
//!
//! Prints the median over the runs of each sample's p50, p99, p99.9 and
//! max, as `compare` does for its rows (one sample of 100 ms a run).

use loopwork_benches::{thread_round_trip_baseline, Quantile};
use std::process::ExitCode;
use std::time::Duration;

const SAMPLE: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let runs = loopwork_benches::count_option("oversubscribed_baseline", "runs", 10, 1);
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        match thread_round_trip_baseline(SAMPLE) {
            Ok(sample) => samples.push(sample),
            Err(err) => {
                eprintln!("oversubscribed_baseline: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("| round trip, plain threads, 2 × cores spinners | median | fastest | slowest |");
    println!("|---|---:|---:|---:|");
    for index in 0..4 {
        let quantile: Quantile = samples[0][index].0;
        let mut values: Vec<Duration> = samples.iter().map(|sample| sample[index].1).collect();
        values.sort_unstable();
        let (median, fastest, slowest) = (values[values.len() / 2], values[0], values[values.len() - 1]);
        println!("| {} | {median:.2?} | {fastest:.2?} | {slowest:.2?} |", quantile.name());
    }
    ExitCode::SUCCESS
}
