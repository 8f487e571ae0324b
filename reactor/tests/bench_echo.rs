//! The echo benchmark behind the default `Trigger` (DESIGN.md, "Edge or Oneshot").
//!
//! Ignored by default; run it in release mode:
//!
//! ```text
//! cargo test --release -p loopwork-reactor --test bench_echo -- --ignored --nocapture
//! ```
//!
//! A server thread and a client thread, each with its own reactor in the mode under test,
//! exchange 1 KiB messages over loopback TCP: `CONNECTIONS` connections at once, each doing
//! `ROUNDS` write-then-read-the-echo round trips. The modes alternate, `REPEATS` runs each,
//! and the median round-trip rate is reported. `LOOPWORK_BENCH_TRIGGER=edge` (or `oneshot`)
//! runs one mode only, e.g. under `strace -c -f` to count system calls.

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{block_on, join_all, spawn};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork_reactor::net::{TcpListener, TcpStream};
use loopwork_reactor::{Reactor, Trigger};

const MESSAGE: usize = 1024;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// One run: the time for every connection's round trips, connections already established.
fn run(trigger: Trigger, connections: usize, rounds: usize) -> Duration {
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
        block_on(&reactor, async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let mut handlers = Vec::with_capacity(connections);
            for _ in 0..connections {
                let (mut stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                handlers.push(spawn(async move {
                    let mut buf = [0; 4 * MESSAGE];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for handler in handlers {
                handler.await;
            }
        });
    });
    let addr = addr_rx.recv().unwrap();
    let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
    let elapsed = block_on(&reactor, async move {
        let mut streams = Vec::with_capacity(connections);
        for _ in 0..connections {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            streams.push(stream);
        }
        let start = Instant::now();
        join_all(streams.into_iter().map(|mut stream| async move {
            let sent = vec![0x5a; MESSAGE];
            let mut echoed = vec![0; MESSAGE];
            for _ in 0..rounds {
                stream.write_all(&sent).await.unwrap();
                stream.read_exact(&mut echoed).await.unwrap();
            }
            stream
        }))
        .await;
        start.elapsed()
    });
    server.join().unwrap();
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
#[ignore = "a benchmark: run in release mode with --ignored --nocapture"]
fn bench_echo_edge_against_oneshot() {
    let connections = knob("LOOPWORK_BENCH_CONNECTIONS", 100);
    let rounds = knob("LOOPWORK_BENCH_ROUNDS", 1000);
    let repeats = knob("LOOPWORK_BENCH_REPEATS", 7);
    let triggers: Vec<Trigger> = match std::env::var("LOOPWORK_BENCH_TRIGGER").as_deref() {
        Ok("edge") => vec![Trigger::Edge],
        Ok("oneshot") => vec![Trigger::Oneshot],
        _ => vec![Trigger::Edge, Trigger::Oneshot],
    };
    let mut samples = vec![Vec::new(); triggers.len()];
    // Warm-up, not counted.
    run(Trigger::Edge, connections, rounds / 10 + 1);
    for _ in 0..repeats {
        for (mode, trigger) in triggers.iter().enumerate() {
            samples[mode].push(run(*trigger, connections, rounds));
        }
    }
    let trips = (connections * rounds) as f64;
    println!("{connections} connections x {rounds} round trips of {MESSAGE} B, {repeats} runs per mode (median):");
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    for (trigger, median) in triggers.iter().zip(&medians) {
        println!("  {trigger:?}: {median:?} ({:.0} round trips/s)", trips / median.as_secs_f64());
    }
    if let [edge, oneshot] = medians[..] {
        println!("  Oneshot / Edge time: {:.3}", oneshot.as_secs_f64() / edge.as_secs_f64());
    }
}
