//! Runs each runtime over a range of sizes per workload (spawns, timers,
//! idle connections, submitting threads, workers), prints the cost per item
//! as markdown tables, and writes one SVG chart per workload to
//! `docs/charts/`.

use loopwork_benches::{Contender, ScalingWorkload};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
usage: scaling [--filter NAME] [--out DIR] [--list]

  --filter NAME   only the workloads whose name contains NAME (repeatable)
  --out DIR       where the SVG charts go (default: docs/charts of the repository)
  --list          print the workloads, then exit";

fn main() -> ExitCode {
    let mut filters = Vec::new();
    let mut out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/charts");
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--filter" | "--out" => {
                let Some(value) = args.next() else {
                    return usage(&format!("{arg} needs a value"));
                };
                if arg == "--filter" {
                    filters.push(value);
                } else {
                    out = PathBuf::from(value);
                }
            }
            "--list" => list = true,
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    let workloads: Vec<ScalingWorkload> = ScalingWorkload::all()
        .into_iter()
        .filter(|w| filters.is_empty() || filters.iter().any(|f| w.name().contains(f.as_str())))
        .collect();
    if list || workloads.is_empty() {
        for workload in ScalingWorkload::all() {
            println!("{}", workload.name());
        }
        return if workloads.is_empty() {
            usage(&format!("no workload matches {filters:?}"))
        } else {
            ExitCode::SUCCESS
        };
    }
    if let Err(err) = std::fs::create_dir_all(&out) {
        eprintln!("scaling: creating {}: {err}", out.display());
        return ExitCode::FAILURE;
    }

    eprintln!("load average {}", load_average());
    let started = Instant::now();
    for workload in workloads {
        let charts = match workload.charts() {
            Ok(charts) => charts,
            Err(err) => {
                eprintln!("scaling: {}: {err}", workload.name());
                return ExitCode::FAILURE;
            }
        };
        for named in charts {
            let chart = &named.chart;
            println!("\n{} ({})\n", chart.title, chart.y_label);
            let names: Vec<&str> = Contender::ALL.iter().map(|c| c.name()).collect();
            println!("| {} | {} |\n|---:|{}", chart.x_label, names.join(" | "), "---:|".repeat(names.len()));
            for (i, &(x, _)) in chart.series[0].points.iter().enumerate() {
                let cells: Vec<String> = chart.series.iter().map(|s| format!("{:.1}", s.points[i].1)).collect();
                println!("| {x} | {} |", cells.join(" | "));
            }
            let path = out.join(format!("{}.svg", named.name));
            if let Err(err) = std::fs::write(&path, chart.to_svg()) {
                eprintln!("scaling: writing {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
    }
    eprintln!("done in {:.0} s; load average {}", started.elapsed().as_secs_f64(), load_average());
    ExitCode::SUCCESS
}

fn usage(message: &str) -> ExitCode {
    eprintln!("scaling: {message}\n{USAGE}");
    ExitCode::FAILURE
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".to_owned(), |text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
