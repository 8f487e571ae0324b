//! Runs every workload on loopwork, tokio and async-executor, interleaved in
//! one process, and prints a table of medians and loopwork's ratio to the
//! best peer. `--write-docs` also rewrites the table in
//! `docs/benchmarks.md`.

use loopwork_benches::{
    format_value, measure, ratio_cell, section, table, threads_table, write_section, Contender, Environment, Options,
    Row,
};
use std::path::Path;

// Counts live heap bytes for the `idle_task_heap` row; a flag load per
// allocation otherwise.
#[global_allocator]
static ALLOCATOR: loopwork_benches::CountingAllocator = loopwork_benches::CountingAllocator;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: compare [--filter NAME] [--runs N] [--workers N] [--sample-ms MS] [--samples] [--write-docs] [--list]

  --filter NAME   only the rows whose name contains NAME (repeatable)
  --runs N        timed runs per row after the warm-up round (default 10)
  --workers N     worker threads for every runtime (default: the number of cores)
  --sample-ms MS  how long one sample repeats its workload (default 100; at least one iteration)
  --write-docs    rewrite the generated section of docs/benchmarks.md
  --samples       also print every sample
  --list          print the rows and what they measure, then exit";

struct Args {
    filters: Vec<String>,
    options: Options,
    write_docs: bool,
    samples: bool,
    list: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        filters: Vec::new(),
        options: Options { workers: loopwork_benches::cores(), runs: 10, sample_time: Duration::from_millis(100) },
        write_docs: false,
        samples: false,
        list: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--filter" => parsed.filters.push(value("--filter")?),
            "--runs" => parsed.options.runs = positive(&value("--runs")?, "--runs")?,
            "--workers" => parsed.options.workers = positive(&value("--workers")?, "--workers")?,
            "--sample-ms" => {
                parsed.options.sample_time =
                    Duration::from_millis(positive(&value("--sample-ms")?, "--sample-ms")? as u64)
            }
            "--write-docs" => parsed.write_docs = true,
            "--samples" => parsed.samples = true,
            "--list" => parsed.list = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(parsed)
}

fn positive(text: &str, name: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} takes a positive whole number, not `{text}`")),
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&raw) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("compare: {message}");
            }
            eprintln!("{USAGE}");
            return if message.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
    };

    let rows: Vec<Row> = Row::all()
        .into_iter()
        .filter(|row| args.filters.is_empty() || args.filters.iter().any(|f| row.name().contains(f.as_str())))
        .collect();
    if args.list || rows.is_empty() {
        if rows.is_empty() {
            eprintln!("compare: no row matches {:?}; the rows are:", args.filters);
        }
        for row in Row::all() {
            println!("{:<28} {}", row.name(), row.description());
        }
        return if rows.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }

    let mut command = "cargo run --release -p loopwork-benches --bin compare".to_owned();
    if !raw.is_empty() {
        command = format!("{command} -- {}", raw.join(" "));
    }
    let mut env = Environment::capture(command);
    eprintln!(
        "{} workers per runtime, {} runs after a warm-up round; load average {}",
        args.options.workers, args.options.runs, env.load_before
    );

    let started = Instant::now();
    let mut results = Vec::with_capacity(rows.len());
    for row in rows {
        let result = match measure(row, &args.options) {
            Ok(result) => result,
            Err(err) => {
                eprintln!("compare: {}: {err}", row.name());
                return ExitCode::FAILURE;
            }
        };
        let medians: Vec<String> = Contender::ALL
            .iter()
            .filter_map(|c| Some(format!("{} {}", c.name(), format_value(result.stats(*c)?.median, row.unit()))))
            .collect();
        eprintln!("{:<28} {}  ratio {}", row.name(), medians.join(", "), ratio_cell(&result));
        if args.samples {
            for (contender, samples) in Contender::ALL.iter().zip(&result.samples).filter(|(_, s)| !s.is_empty()) {
                let shown: Vec<String> = samples.iter().map(|s| format_value(*s, row.unit())).collect();
                eprintln!("    {:<16} {}", contender.name(), shown.join("  "));
            }
        }
        results.push(result);
    }
    env.finish();
    eprintln!("done in {:.1} s; load average {}\n", started.elapsed().as_secs_f64(), env.load_after);

    print!("{}", table(&results));
    if results.iter().any(|r| r.row.counts_threads()) {
        println!("\nper iteration, the runtime's own threads: CPU time / voluntary / involuntary context switches\n");
        print!("{}", threads_table(&results));
    }

    if args.write_docs {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
        if let Err(err) = write_section(&path, &section(&results, &args.options, &env)) {
            eprintln!("compare: writing {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.canonicalize().unwrap_or(path).display());
    }
    ExitCode::SUCCESS
}
