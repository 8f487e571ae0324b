//! The floor under the `run_coroutine_threadsafe_oversubscribed` rows: the
//! same round trips between two plain threads over std channels, with no
//! runtime at all, under the same 2 × cores spinning threads. What the
//! kernel's scheduler alone costs a thread that sleeps and is woken while
//! every core is taken; a runtime's p99.9 and max cannot go below it.
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin oversubscribed_floor [-- --runs N]
//! ```
//!
//! Prints the median over the runs of each sample's p50, p99, p99.9 and
//! max, as `compare` does for its rows (one sample of 100 ms a run).

use loopwork_benches::thread_round_trip_floor;
use std::process::ExitCode;
use std::time::Duration;

const SAMPLE: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let mut runs = 10usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|value| value.parse::<usize>())) {
            ("--runs", Some(Ok(value))) if value > 0 => runs = value,
            _ => {
                eprintln!("usage: oversubscribed_floor [--runs N]   (N > 0, default 10)");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        match thread_round_trip_floor(SAMPLE) {
            Ok(sample) => samples.push(sample),
            Err(err) => {
                eprintln!("oversubscribed_floor: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("| round trip, plain threads, 2 × cores spinners | median | fastest | slowest |");
    println!("|---|---:|---:|---:|");
    for (index, name) in ["p50", "p99", "p99.9", "max"].into_iter().enumerate() {
        let mut values: Vec<Duration> = samples.iter().map(|sample| sample[index]).collect();
        values.sort_unstable();
        let (median, fastest, slowest) = (values[values.len() / 2], values[0], values[values.len() - 1]);
        println!("| {name} | {median:.2?} | {fastest:.2?} | {slowest:.2?} |");
    }
    ExitCode::SUCCESS
}
