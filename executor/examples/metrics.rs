//! Serves the loop's own metrics in the Prometheus text format over HTTP,
//! on loopwork's TCP, while a small load generator keeps the loop busy:
//! tasks that sleep, yield and spawn children. Every request gets a fresh
//! snapshot (`Handle::metrics`), so repeated requests show the counters
//! move; `/dump` serves a task dump (`Handle::dump`) instead.
//!
//! Run it with `cargo run -p loopwork --example metrics`, then use the
//! `curl` command it prints. It serves for 60 seconds (or pass a number of
//! seconds as the first argument).

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream};
use loopwork::{EventLoop, Handle, RuntimeMetrics};
use std::fmt::Write as _;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let seconds = std::env::args().nth(1).map_or(Ok(60), |arg| arg.parse()).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the argument is how many seconds to serve, e.g. 60")
    })?;
    // Debug mode times every poll: the poll-time histogram fills too.
    let event_loop = EventLoop::builder().workers(2).debug(true).build()?;
    let handle = event_loop.handle();
    event_loop.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        println!("serving metrics for {seconds} s; watch the counters move with:");
        println!(
            "  for i in 1 2 3; do curl -s http://{address}/metrics | grep -E 'polls_total|spawned'; sleep 1; done"
        );
        println!("and a task dump with: curl -s http://{address}/dump");

        let _load = loopwork::spawn(generate_load());
        let server = loopwork::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let handle = handle.clone();
                loopwork::spawn(async move {
                    // A client that hangs up early is not the server's problem.
                    let _ = serve(stream, &handle).await;
                });
            }
        });
        let _ = loopwork::timeout(Duration::from_secs(seconds), server).await;
        Ok(())
    })
}

/// Answers one request with a minimal HTTP/1.0 response.
async fn serve(mut stream: TcpStream, handle: &Handle) -> std::io::Result<()> {
    let mut request = vec![0; 1024];
    let read = stream.read(&mut request).await?;
    let request = String::from_utf8_lossy(&request[..read]);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let body = if path == "/dump" { handle.dump().to_string() } else { prometheus(&handle.metrics()) };
    let content_type = if path == "/dump" { "text/plain" } else { "text/plain; version=0.0.4" };
    let response =
        format!("HTTP/1.0 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(response.as_bytes()).await?;
    stream.flush().await
}

/// A per-worker series: name, help, type, and how to read it.
type PerWorker = (&'static str, &'static str, &'static str, fn(&loopwork::WorkerMetrics) -> String);

/// The metrics in the Prometheus text exposition format.
fn prometheus(metrics: &RuntimeMetrics) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
        let _ = write!(out, "# HELP loopwork_{name} {help}\n# TYPE loopwork_{name} {kind}\nloopwork_{name} {value}\n");
    };
    gauge("workers", "Worker threads.", "gauge", metrics.workers().to_string());
    gauge("alive_tasks", "Tasks spawned and not finished.", "gauge", metrics.alive_tasks().to_string());
    gauge("spawned_tasks_total", "Tasks spawned.", "counter", metrics.spawned_tasks().to_string());
    gauge("injector_depth", "Tasks in the global queue.", "gauge", metrics.injector_depth().to_string());
    gauge("callbacks_queued", "Callbacks waiting to run.", "gauge", metrics.callbacks_queued().to_string());
    gauge("timers_pending", "Timers set and not fired.", "gauge", metrics.timers_pending().to_string());
    gauge("io_sources", "Registered I/O sources.", "gauge", metrics.io_sources().to_string());
    gauge("blocking_threads", "Blocking-pool threads.", "gauge", metrics.blocking_threads().to_string());
    gauge("polls_total", "Polls and callback runs.", "counter", metrics.polls().to_string());

    let per_worker: [PerWorker; 6] = [
        ("worker_polls_total", "Polls by this worker.", "counter", |w| w.polls().to_string()),
        ("worker_steals_total", "Steals from other workers.", "counter", |w| w.steal_operations().to_string()),
        ("worker_stolen_tasks_total", "Tasks stolen.", "counter", |w| w.stolen_tasks().to_string()),
        ("worker_parks_total", "Times the worker slept.", "counter", |w| w.parks().to_string()),
        ("worker_local_queue_depth", "Tasks in the worker's queue.", "gauge", |w| w.local_queue_depth().to_string()),
        ("worker_busy_seconds_total", "Time awake.", "counter", |w| format!("{:.6}", w.busy_duration().as_secs_f64())),
    ];
    for (name, help, kind, value) in per_worker {
        let _ = writeln!(out, "# HELP loopwork_{name} {help}\n# TYPE loopwork_{name} {kind}");
        for (index, worker) in metrics.worker_metrics().iter().enumerate() {
            let _ = writeln!(out, "loopwork_{name}{{worker=\"{index}\"}} {}", value(worker));
        }
    }

    let histogram = metrics.poll_times();
    let _ = writeln!(out, "# HELP loopwork_poll_seconds Poll durations.\n# TYPE loopwork_poll_seconds histogram");
    let mut cumulative = 0;
    for (bucket, count) in histogram.iter() {
        cumulative += count;
        let bound = histogram.upper_bound(bucket).map_or_else(|| "+Inf".to_owned(), |b| format!("{}", b.as_secs_f64()));
        let _ = writeln!(out, "loopwork_poll_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "loopwork_poll_seconds_count {cumulative}");
    out
}

/// Keeps the loop busy: a ticker that spawns short-lived children, and
/// tasks that yield and sleep.
async fn generate_load() {
    for i in 0..8u64 {
        loopwork::spawn(async move {
            loop {
                for _ in 0..100 {
                    loopwork::yield_now().await;
                }
                loopwork::sleep(Duration::from_millis(10 + i)).await;
            }
        });
    }
    let mut ticks = loopwork::interval(Duration::from_millis(50));
    loop {
        ticks.tick().await;
        let children: Vec<_> = (0..20).map(|n| loopwork::spawn(async move { n * 2 })).collect();
        for child in children {
            let _ = child.await;
        }
    }
}
