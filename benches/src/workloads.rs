//! The timed workloads: tokio's `rt_multi_threaded` and `remote_spawn`
//! benchmarks, written once against [`Runtime`] and [`Spawner`], and the
//! list of every timed workload (the others live in `workloads_loop`,
//! `workloads_sync` and `net_workloads`).
//!
//! Each function runs its workload back to back until a time budget is
//! spent (at least once) and returns the elapsed time and the iteration
//! count; the setup a criterion benchmark does outside `b.iter` (channels,
//! counters, the busy background load) stays outside the timed region here
//! too.

use crate::http_workloads::{self, HTTP_CLIENTS, HTTP_REQUESTS};
use crate::net_workloads::{self, ECHO_CLIENTS, ECHO_MESSAGES};
use crate::runtime::{Runtime, Spawner};
use crate::workloads_foreign::ForeignWorkload;
use crate::workloads_loop::{self, CALLBACKS, LIVE_TASKS, PRIMES, TIMERS, TIMER_TASKS};
use crate::workloads_sync::SyncWorkload;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

/// Tasks spawned per iteration by the `spawn_many_*` workloads.
pub const NUM_SPAWN: usize = 10_000;
/// `spawn_many_remote_busy2` spawns fewer: its background load is heavier.
const NUM_SPAWN_BUSY2: usize = 1_000;
/// Ping-pong pairs per `ping_pong` iteration.
const NUM_PINGS: usize = 1_000;
/// `yield_many`: tasks, yields per task, and yields per iteration.
const YIELD_TASKS: usize = 200;
const NUM_YIELD: usize = 1_000;
pub(crate) const YIELDS: usize = YIELD_TASKS * NUM_YIELD;
/// Depth of the `chained_spawn` chain.
const CHAIN_DEPTH: usize = 1_000;
/// Tasks spawned per `remote_spawn` iteration, split among the threads.
pub(crate) const REMOTE_SPAWN_TASKS: usize = 12_800;
/// How long a background task of the busy workloads burns CPU per step.
const STALL: Duration = Duration::from_micros(10);

/// A timed workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// 10,000 tasks spawned from inside `block_on`, each decrementing a
    /// shared counter; the last one signals a channel `block_on` waits on.
    SpawnManyLocal,
    /// The same 10,000 spawns, made by a task running on a worker.
    SpawnManyFromTask,
    /// 10,000 empty tasks spawned from the benchmark thread onto an idle
    /// runtime; `block_on` then awaits every handle.
    SpawnManyRemoteIdle,
    /// As `SpawnManyRemoteIdle` while `2 × workers` background tasks loop
    /// on "yield, then burn 10 µs".
    SpawnManyRemoteBusy1,
    /// 1,000 remote spawns while `workers` background chains keep spawning
    /// a successor that burns 10 µs.
    SpawnManyRemoteBusy2,
    /// 1,000 pairs of tasks, each pair exchanging one message each way over
    /// two one-shot channels.
    PingPong,
    /// 200 tasks that yield 1,000 times each.
    YieldMany,
    /// A chain of 1,000 tasks, each spawning the next.
    ChainedSpawn,
    /// 10,000 local (`!Send`) tasks spawned inside `block_on`, then awaited.
    SpawnLocal,
    /// 12,800 empty tasks spawned from `threads` foreign threads at once,
    /// then awaited.
    RemoteSpawn {
        /// How many foreign threads share the spawns.
        threads: usize,
    },
    /// A lock, semaphore or channel workload, on each runtime's own
    /// primitives.
    Sync(SyncWorkload),
    /// A workload across a boundary the runtime does not own.
    Foreign(ForeignWorkload),
    /// 100,000 callbacks submitted with `call_soon_threadsafe` (a tiny
    /// spawned task on the peers) from `threads` foreign threads at once.
    CallSoonThreadsafe {
        /// How many foreign threads share the callbacks.
        threads: usize,
    },
    /// 100,000 timers inserted, every second one cancelled, the rest fired.
    Timers,
    /// 32 clients × 100 messages of 1 KiB echoed over loopback TCP.
    TcpEcho,
    /// 100 children of `true` spawned from one task, then each waited.
    ProcessSpawn,
    /// A hyper HTTP/1.1 hello server and 64 keep-alive clients on the same
    /// runtime.
    HttpHello,
    /// The seeds' `is_prime` by trial division on 16 primes near 10^12, a
    /// task per number.
    Primes,
    /// `Handle::all_tasks()` with 10,000 live tasks; loopwork only.
    AllTasks,
    /// `Handle::dump()` with 10,000 live tasks; loopwork only.
    Dump,
}

impl Workload {
    /// Every workload, in table order.
    pub fn all() -> Vec<Workload> {
        let mut all = vec![
            Workload::SpawnManyLocal,
            Workload::SpawnManyFromTask,
            Workload::SpawnManyRemoteIdle,
            Workload::SpawnManyRemoteBusy1,
            Workload::SpawnManyRemoteBusy2,
            Workload::PingPong,
            Workload::YieldMany,
            Workload::ChainedSpawn,
            Workload::SpawnLocal,
            Workload::RemoteSpawn { threads: 1 },
            Workload::RemoteSpawn { threads: 2 },
            Workload::RemoteSpawn { threads: 4 },
        ];
        all.extend(SyncWorkload::all().map(Workload::Sync));
        all.extend(ForeignWorkload::all().map(Workload::Foreign));
        all.extend([
            Workload::CallSoonThreadsafe { threads: 1 },
            Workload::CallSoonThreadsafe { threads: 2 },
            Workload::CallSoonThreadsafe { threads: 4 },
            Workload::Timers,
            Workload::TcpEcho,
            Workload::ProcessSpawn,
            Workload::HttpHello,
            Workload::Primes,
            Workload::AllTasks,
            Workload::Dump,
        ]);
        all
    }

    /// Whether only loopwork has the facility measured (no peer has an
    /// equivalent).
    pub fn loopwork_only(self) -> bool {
        matches!(self, Workload::AllTasks | Workload::Dump)
    }

    /// The row name (tokio's benchmark name where there is one).
    pub fn name(self) -> String {
        match self {
            Workload::SpawnManyLocal => "spawn_many_local".to_owned(),
            Workload::SpawnManyFromTask => "spawn_many_from_task".to_owned(),
            Workload::SpawnManyRemoteIdle => "spawn_many_remote_idle".to_owned(),
            Workload::SpawnManyRemoteBusy1 => "spawn_many_remote_busy1".to_owned(),
            Workload::SpawnManyRemoteBusy2 => "spawn_many_remote_busy2".to_owned(),
            Workload::PingPong => "ping_pong".to_owned(),
            Workload::YieldMany => "yield_many".to_owned(),
            Workload::ChainedSpawn => "chained_spawn".to_owned(),
            Workload::SpawnLocal => "spawn_local".to_owned(),
            Workload::RemoteSpawn { threads } => format!("remote_spawn/threads/{threads}"),
            Workload::Sync(workload) => workload.name().to_owned(),
            Workload::Foreign(workload) => workload.name().to_owned(),
            Workload::CallSoonThreadsafe { threads } => format!("call_soon_threadsafe/threads/{threads}"),
            Workload::Timers => "timers".to_owned(),
            Workload::TcpEcho => "tcp_echo".to_owned(),
            Workload::ProcessSpawn => "process_spawn".to_owned(),
            Workload::HttpHello => "http_hello".to_owned(),
            Workload::Primes => "cpu_is_prime".to_owned(),
            Workload::AllTasks => "all_tasks".to_owned(),
            Workload::Dump => "dump".to_owned(),
        }
    }

    /// One line saying what an iteration does.
    pub fn description(self) -> String {
        match self {
            Workload::SpawnManyLocal => {
                "10,000 tasks spawned from inside `block_on`; each decrements an atomic, the last signals a channel"
                    .to_owned()
            }
            Workload::SpawnManyFromTask => {
                "the same 10,000 spawns, made by a task running on a worker (so they go to its local queue)".to_owned()
            }
            Workload::SpawnManyRemoteIdle => {
                "10,000 empty tasks spawned from the benchmark thread onto an idle runtime, then every handle awaited"
                    .to_owned()
            }
            Workload::SpawnManyRemoteBusy1 => "as `spawn_many_remote_idle`, while 2 × workers background tasks loop \
                 on `yield_now` then 10 µs of spinning"
                .to_owned(),
            Workload::SpawnManyRemoteBusy2 => "1,000 remote spawns awaited, while `workers` background chains keep \
                 spawning a successor that spins 10 µs"
                .to_owned(),
            Workload::PingPong => "1,000 pairs of tasks exchanging one message each way over two \
                 `async_channel::bounded(1)` channels, spawned by one task"
                .to_owned(),
            Workload::YieldMany => "200 tasks yielding 1,000 times each with the runtime's own `yield_now`".to_owned(),
            Workload::ChainedSpawn => "a chain of 1,000 tasks, each spawning the next".to_owned(),
            Workload::SpawnLocal => crate::workloads_local::description(),
            Workload::RemoteSpawn { threads } => format!(
                "12,800 empty tasks spawned by {threads} foreign thread(s) started together at a barrier \
                 (thread start included), then awaited"
            ),
            Workload::Sync(workload) => workload.description().to_owned(),
            Workload::Foreign(workload) => workload.description(),
            Workload::CallSoonThreadsafe { threads } => format!(
                "{} callbacks submitted by {threads} foreign thread(s) started together at a barrier (thread \
                 start included), each decrementing an atomic, the last signalling a channel: loopwork's \
                 `Handle::call_soon_threadsafe`; tokio and async-executor have no callback queue, so the \
                 closest analogue, a tiny task spawned through their handle, stands in",
                group(CALLBACKS)
            ),
            Workload::Timers => format!(
                "{} timers due 1 ms after creation, inserted by {TIMER_TASKS} tasks (first poll), every second \
                 one cancelled (dropped) right after insertion, the rest awaited until fired (`loopwork::sleep`, \
                 `tokio::time::sleep`, async-io `Timer`)",
                group(TIMERS)
            ),
            Workload::TcpEcho => format!(
                "{ECHO_CLIENTS} client tasks × {ECHO_MESSAGES} messages of 1 KiB, each written then read back \
                 from an echo server on the same runtime over loopback (connections opened before timing; \
                 loopwork::net, tokio::net, async-io `Async<TcpStream>`; `TCP_NODELAY` on)"
            ),
            Workload::ProcessSpawn => format!(
                "{} children of `true` (stdio null) spawned from one task, then each waited for \
                 (loopwork::process, tokio::process, async-process)",
                crate::process::CHILDREN
            ),
            Workload::HttpHello => format!(
                "{HTTP_CLIENTS} keep-alive client connections × {HTTP_REQUESTS} GET requests each, one after \
                 the other, to a hyper HTTP/1.1 hello server on the same runtime over loopback: {} requests per \
                 iteration (hyper 1.x on each side; IO glue `loopwork::hyper::Io`, hyper-util `TokioIo`, and \
                 `loopwork::hyper::Io` over async-io `Async<TcpStream>`)",
                HTTP_CLIENTS * HTTP_REQUESTS
            ),
            Workload::Primes => format!(
                "the seeds' `is_prime` (trial division by odd numbers up to the square root) on the first \
                 {PRIMES} primes above 10^12, one task per number, spawned from the benchmark thread and awaited"
            ),
            Workload::AllTasks => format!(
                "one `Handle::all_tasks()` snapshot with {} live tasks pending; no peer has an equivalent \
                 (loopwork only; target < 50 ms)",
                group(LIVE_TASKS)
            ),
            Workload::Dump => format!(
                "one `Handle::dump()` (spawn locations, ages, polls, wake sources, the timers and I/O each task waits \
                 on) with {} live named tasks pending, each with its details record (loopwork only; target < 50 ms)",
                group(LIVE_TASKS)
            ),
        }
    }

    /// Runs the workload on `runtime` back to back until `budget` is spent
    /// (at least once). `workers` sizes the busy workloads' background load.
    pub fn run<R: Runtime>(self, runtime: &R, workers: usize, budget: Duration) -> Timing {
        match self {
            Workload::SpawnManyLocal => spawn_many_local(runtime, NUM_SPAWN, budget),
            Workload::SpawnManyFromTask => spawn_many_from_task(runtime, budget),
            Workload::SpawnManyRemoteIdle => {
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                timed(budget, || spawn_remote_and_await(runtime, NUM_SPAWN, &mut handles))
            }
            Workload::SpawnManyRemoteBusy1 => {
                let background = Background::yielding(&runtime.spawner(), 2 * workers);
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                let elapsed = timed(budget, || spawn_remote_and_await(runtime, NUM_SPAWN, &mut handles));
                background.stop();
                elapsed
            }
            Workload::SpawnManyRemoteBusy2 => {
                let background = Background::chains(&runtime.spawner(), workers);
                let mut handles = Vec::with_capacity(NUM_SPAWN_BUSY2);
                let elapsed = timed(budget, || spawn_remote_and_await(runtime, NUM_SPAWN_BUSY2, &mut handles));
                background.stop();
                elapsed
            }
            Workload::PingPong => ping_pong(runtime, budget),
            Workload::YieldMany => yield_many(runtime, budget),
            Workload::ChainedSpawn => chained_spawn(runtime, budget),
            Workload::SpawnLocal => crate::workloads_local::spawn_local(runtime, budget),
            Workload::RemoteSpawn { threads } => remote_spawn(runtime, threads, budget),
            Workload::Sync(workload) => workload.run(runtime, workers, budget),
            Workload::Foreign(workload) => workload.run(runtime, budget),
            Workload::CallSoonThreadsafe { threads } => workloads_loop::call_soon_threadsafe(runtime, threads, budget),
            Workload::Timers => workloads_loop::timers(runtime, TIMERS, budget),
            Workload::TcpEcho => net_workloads::tcp_echo(runtime, budget),
            Workload::ProcessSpawn => crate::process::process_spawn(runtime, budget),
            Workload::HttpHello => http_workloads::http_hello(runtime, budget),
            Workload::Primes => workloads_loop::is_prime_tasks(runtime, budget),
            Workload::AllTasks => {
                workloads_loop::live_task_snapshot(runtime, budget, false, |handle| handle.all_tasks().len())
            }
            Workload::Dump => {
                workloads_loop::live_task_snapshot(runtime, budget, true, |handle| handle.dump().tasks().len())
            }
        }
    }
}

/// `100000` as `100,000`.
fn group(n: usize) -> String {
    crate::harness::group_thousands(n as u64)
}

/// How long some iterations of a workload took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The time they took together.
    pub elapsed: Duration,
    /// How many iterations ran.
    pub iterations: usize,
}

/// Most iterations one sample runs, however fast they are.
const MAX_ITERATIONS: usize = 100_000;

/// Runs `iteration` until `budget` is spent (at least once).
pub(crate) fn timed(budget: Duration, mut iteration: impl FnMut()) -> Timing {
    let start = Instant::now();
    let mut iterations = 0;
    loop {
        iteration();
        iterations += 1;
        let elapsed = start.elapsed();
        if elapsed >= budget || iterations >= MAX_ITERATIONS {
            return Timing { elapsed, iterations };
        }
    }
}

/// `count` tasks spawned from inside `block_on`, each decrementing a
/// counter; the last one signals the channel `block_on` waits on.
pub(crate) fn spawn_many_local<R: Runtime>(runtime: &R, count: usize, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let (tx, rx) = mpsc::sync_channel(1000);
    let remaining = Arc::new(AtomicUsize::new(0));
    timed(budget, || {
        remaining.store(count, Relaxed);
        runtime.block_on(async {
            for _ in 0..count {
                let tx = tx.clone();
                let remaining = remaining.clone();
                spawner.spawn_detached(async move {
                    if remaining.fetch_sub(1, Relaxed) == 1 {
                        tx.send(()).unwrap();
                    }
                });
            }
            rx.recv().unwrap();
        });
    })
}

fn spawn_many_from_task<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let (tx, rx) = mpsc::sync_channel(1000);
    let remaining = Arc::new(AtomicUsize::new(0));
    timed(budget, || {
        remaining.store(NUM_SPAWN, Relaxed);
        let (inner, tx, remaining) = (spawner.clone(), tx.clone(), remaining.clone());
        spawner.spawn_detached(async move {
            for _ in 0..NUM_SPAWN {
                let tx = tx.clone();
                let remaining = remaining.clone();
                inner.spawn_detached(async move {
                    if remaining.fetch_sub(1, Relaxed) == 1 {
                        tx.send(()).unwrap();
                    }
                });
            }
        });
        rx.recv().unwrap();
    })
}

/// Spawns `count` empty tasks from this (foreign) thread, then awaits them
/// all in `block_on`. `handles` is reused across iterations.
pub fn spawn_remote_and_await<R: Runtime>(
    runtime: &R,
    count: usize,
    handles: &mut Vec<<R::Spawner as Spawner>::Join<()>>,
) {
    let spawner = runtime.spawner();
    for _ in 0..count {
        handles.push(spawner.spawn(async {}));
    }
    runtime.block_on(async {
        for handle in handles.drain(..) {
            handle.await;
        }
    });
}

fn ping_pong<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let remaining = Arc::new(AtomicUsize::new(0));
    timed(budget, || {
        let done_tx = done_tx.clone();
        let remaining = remaining.clone();
        remaining.store(NUM_PINGS, Relaxed);
        runtime.block_on(async {
            let outer = spawner.clone();
            spawner.spawn_detached(async move {
                for _ in 0..NUM_PINGS {
                    let remaining = remaining.clone();
                    let done_tx = done_tx.clone();
                    let inner = outer.clone();
                    outer.spawn_detached(async move {
                        let (tx1, rx1) = async_channel::bounded(1);
                        let (tx2, rx2) = async_channel::bounded(1);
                        inner.spawn_detached(async move {
                            rx1.recv().await.unwrap();
                            tx2.try_send(()).unwrap();
                        });
                        tx1.try_send(()).unwrap();
                        rx2.recv().await.unwrap();
                        if remaining.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).unwrap();
                        }
                    });
                }
            });
            done_rx.recv().unwrap();
        });
    })
}

pub(crate) fn yield_many<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
    timed(budget, || {
        for _ in 0..YIELD_TASKS {
            let tx = tx.clone();
            spawner.spawn_detached(async move {
                for _ in 0..NUM_YIELD {
                    <R::Spawner as Spawner>::yield_now().await;
                }
                tx.send(()).unwrap();
            });
        }
        for _ in 0..YIELD_TASKS {
            rx.recv().unwrap();
        }
    })
}

fn chained_spawn<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    fn link<S: Spawner>(spawner: S, done: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done.send(()).unwrap();
        } else {
            let next = spawner.clone();
            spawner.spawn_detached(async move { link(next, done, n - 1) });
        }
    }

    let spawner = runtime.spawner();
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    timed(budget, || {
        let done_tx = done_tx.clone();
        runtime.block_on(async {
            let next = spawner.clone();
            spawner.spawn_detached(async move { link(next, done_tx, CHAIN_DEPTH) });
            done_rx.recv().unwrap();
        });
    })
}

pub(crate) fn remote_spawn<R: Runtime>(runtime: &R, threads: usize, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let per_thread = REMOTE_SPAWN_TASKS / threads;
    timed(budget, || {
        let barrier = Barrier::new(threads);
        let handles: Vec<_> = std::thread::scope(|scope| {
            let spawning: Vec<_> = (0..threads)
                .map(|_| {
                    let (barrier, spawner) = (&barrier, &spawner);
                    scope.spawn(move || {
                        let mut handles = Vec::with_capacity(per_thread);
                        barrier.wait();
                        for _ in 0..per_thread {
                            handles.push(spawner.spawn(async {}));
                        }
                        handles
                    })
                })
                .collect();
            spawning.into_iter().flat_map(|thread| thread.join().unwrap()).collect()
        });
        runtime.block_on(async {
            for handle in handles {
                handle.await;
            }
        });
    })
}

/// The CPU load of the busy workloads. It runs only while its runtime's
/// sample is timed, so it never steals CPU from the other runtimes' samples.
struct Background {
    running: Arc<AtomicBool>,
    /// Background tasks (or chains) that have not noticed the stop yet.
    alive: Arc<AtomicUsize>,
}

impl Background {
    /// `tasks` tasks looping on "yield, then stall" (tokio's busy1 load).
    fn yielding<S: Spawner>(spawner: &S, tasks: usize) -> Background {
        let background = Background::new(tasks);
        for _ in 0..tasks {
            let (running, alive) = (background.running.clone(), background.alive.clone());
            spawner.spawn_detached(async move {
                while running.load(Relaxed) {
                    S::yield_now().await;
                    stall();
                }
                alive.fetch_sub(1, Release);
            });
        }
        background
    }

    /// `chains` chains of tasks, each stalling then spawning its successor
    /// (tokio's busy2 load).
    fn chains<S: Spawner>(spawner: &S, chains: usize) -> Background {
        fn link<S: Spawner>(spawner: S, running: Arc<AtomicBool>, alive: Arc<AtomicUsize>) {
            let next = spawner.clone();
            spawner.spawn_detached(async move {
                if running.load(Relaxed) {
                    stall();
                    link(next, running, alive);
                } else {
                    alive.fetch_sub(1, Release);
                }
            });
        }

        let background = Background::new(chains);
        for _ in 0..chains {
            let (running, alive) = (background.running.clone(), background.alive.clone());
            let next = spawner.clone();
            spawner.spawn_detached(async move { link(next, running, alive) });
        }
        background
    }

    fn new(count: usize) -> Background {
        Background { running: Arc::new(AtomicBool::new(true)), alive: Arc::new(AtomicUsize::new(count)) }
    }

    /// Stops the load and waits until every background task has seen it.
    fn stop(self) {
        // Relaxed is enough: the flag carries no data, and `alive` (Release
        // / Acquire) is what the wait below synchronizes on.
        self.running.store(false, Relaxed);
        while self.alive.load(Acquire) > 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// Burns `STALL` of CPU, yielding the OS thread in between, as tokio's
/// benchmark does.
fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}
