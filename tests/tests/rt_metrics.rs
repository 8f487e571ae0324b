//! `Handle::metrics`: exact counts in strict mode under the virtual clock,
//! invariants with workers.

use loopwork::EventLoop;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Counts its own polls, so a test can compare the loop's count with the
/// tasks' own.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicU64>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

fn counted<F: Future>(polls: &Arc<AtomicU64>, future: F) -> CountPolls<F> {
    CountPolls { inner: Box::pin(future), polls: polls.clone() }
}

#[test]
fn strict_mode_counts_spawns_polls_and_timers_exactly() {
    let event_loop = EventLoop::builder().workers(0).paused_clock().build().unwrap();
    let handle = event_loop.handle();
    let probe = handle.clone();
    let (during, after) = event_loop.block_on(async move {
        let sleepers: Vec<_> = (0..5).map(|_| loopwork::spawn(loopwork::sleep(Duration::from_secs(10)))).collect();
        // Every sleeper runs its first poll and sets its timer.
        loopwork::sleep(Duration::from_secs(1)).await;
        let during = probe.metrics();
        for sleeper in sleepers {
            sleeper.await.unwrap();
        }
        (during, probe.metrics())
    });
    assert_eq!(during.workers(), 0);
    // The five sleepers, and the task block_on runs its future as (asyncio's
    // run_until_complete wraps its coroutine in a task too).
    assert_eq!(during.spawned_tasks(), 6);
    assert_eq!(during.alive_tasks(), 6);
    assert_eq!(during.timers_pending(), 5);
    assert_eq!(during.polls(), 5);
    assert_eq!(during.injector_depth(), 0);
    assert!(during.worker_metrics().is_empty());

    assert_eq!(after.spawned_tasks(), 6);
    // Only the block_on task, still running when it took the snapshot.
    assert_eq!(after.alive_tasks(), 1);
    assert_eq!(after.timers_pending(), 0);
    // A first poll that sets the timer, a second that finds it fired.
    assert_eq!(after.polls(), 10);
    assert_eq!(handle.metrics().polls(), 10);
}

#[test]
fn strict_mode_counts_queued_tasks_and_io_sources() {
    let event_loop = EventLoop::builder().workers(0).paused_clock().build().unwrap();
    let handle = event_loop.handle();
    for _ in 0..3 {
        handle.spawn(async {}).unwrap();
    }
    // Nothing runs until a thread drives the loop: all three are queued.
    let queued = handle.metrics();
    assert_eq!((queued.injector_depth(), queued.alive_tasks(), queued.polls()), (3, 3, 0));

    let probe = handle.clone();
    let sources = event_loop.block_on(async move {
        // The virtual clock moves only once the queued tasks have run.
        loopwork::sleep(Duration::from_secs(1)).await;
        let listener = loopwork::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = loopwork::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let with_both = probe.metrics().io_sources();
        drop(listener);
        let with_one = probe.metrics().io_sources();
        drop(socket);
        (with_both, with_one, probe.metrics().io_sources())
    });
    assert_eq!(sources, (2, 1, 0));
    let ran = handle.metrics();
    assert_eq!((ran.injector_depth(), ran.alive_tasks(), ran.polls()), (0, 0, 3));
}

#[test]
fn worker_polls_add_up_to_the_polls_the_tasks_saw() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let seen = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            handle
                .spawn(counted(&seen, async move {
                    for _ in 0..i % 7 {
                        loopwork::yield_now().await;
                    }
                }))
                .unwrap()
        })
        .collect();
    event_loop.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    let metrics = handle.metrics();
    let per_worker: u64 = metrics.worker_metrics().iter().map(|worker| worker.polls()).sum();
    assert_eq!(metrics.workers(), 2);
    assert_eq!(per_worker, metrics.polls());
    assert_eq!(metrics.polls(), seen.load(Ordering::Relaxed));
    // And the task block_on ran its future as.
    assert_eq!(metrics.spawned_tasks(), 201);
    assert_eq!(metrics.alive_tasks(), 0);
}

#[test]
fn an_idle_worker_steals_from_a_flooded_one() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    // One task spawns a flood on its own worker's queue; each spins a
    // little, so the flood outlasts the other worker's wake-up.
    let flood = handle
        .spawn(async {
            let children: Vec<_> = (0..2_000)
                .map(|_| {
                    loopwork::spawn(async {
                        let until = std::time::Instant::now() + Duration::from_micros(20);
                        while std::time::Instant::now() < until {
                            std::hint::spin_loop();
                        }
                    })
                })
                .collect();
            for child in children {
                child.await.unwrap();
            }
        })
        .unwrap();
    event_loop.block_on(flood).unwrap();
    let metrics = handle.metrics();
    let steals: u64 = metrics.worker_metrics().iter().map(|worker| worker.steal_operations()).sum();
    let stolen: u64 = metrics.worker_metrics().iter().map(|worker| worker.stolen_tasks()).sum();
    assert!(steals > 0, "no steals in {metrics:?}");
    assert!(stolen >= steals, "each steal moves at least one task: {metrics:?}");
    assert!(metrics.worker_metrics().iter().all(|worker| worker.polls() > 0), "{metrics:?}");
}

#[test]
fn parks_and_busy_time_are_counted_per_worker() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    event_loop.block_on(async {
        // Busy for at least 20 ms on the worker, then parked meanwhile.
        loopwork::spawn(async { std::thread::sleep(Duration::from_millis(20)) }).await.unwrap();
        loopwork::sleep(Duration::from_millis(5)).await;
    });
    let worker = handle.metrics().worker_metrics()[0].clone();
    assert!(worker.busy_duration() >= Duration::from_millis(20), "{worker:?}");
    assert!(worker.parks() >= 1, "{worker:?}");
    assert_eq!(worker.local_queue_depth(), 0);
}

#[test]
fn debug_mode_times_every_poll() {
    let event_loop = EventLoop::builder().workers(1).debug(true).build().unwrap();
    let handle = event_loop.handle();
    event_loop.block_on(async {
        loopwork::spawn(async {
            loopwork::yield_now().await;
            std::thread::sleep(Duration::from_millis(2));
        })
        .await
        .unwrap();
    });
    // A poll is timed after it returns, which may be after `block_on` saw
    // the task finish: closing joins the worker, so every poll is in.
    event_loop.close();
    let metrics = handle.metrics();
    let histogram = metrics.poll_times();
    assert_eq!(histogram.total(), metrics.polls());
    assert_eq!(histogram.total(), 2);
    // The poll that slept lands in a bucket whose bound is above 2 ms.
    let slowest = histogram.iter().filter(|(_, count)| *count > 0).map(|(bucket, _)| bucket).max().unwrap();
    assert!(histogram.upper_bound(slowest).is_none_or(|bound| bound > Duration::from_millis(2)));

    let plain = EventLoop::builder().workers(1).build().unwrap();
    plain.block_on(async { loopwork::spawn(async {}).await.unwrap() });
    assert_eq!(plain.handle().metrics().poll_times().total(), 0);
}

#[test]
fn metrics_can_be_read_while_every_worker_is_busy() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let blockers: Vec<_> = (0..2)
        .map(|_| {
            let release = release.clone();
            handle
                .spawn(async move {
                    while !release.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                })
                .unwrap()
        })
        .collect();
    // Both workers spin inside a poll; a snapshot still returns.
    let watchdog = std::thread::spawn({
        let release = release.clone();
        move || {
            std::thread::sleep(Duration::from_secs(30));
            release.store(true, Ordering::Release);
        }
    });
    while handle.metrics().worker_metrics().iter().map(|worker| worker.polls()).sum::<u64>() < 2 {
        std::thread::yield_now();
    }
    let metrics = handle.metrics();
    assert!(!release.load(Ordering::Acquire), "the snapshot waited for the watchdog to release the workers");
    assert_eq!(metrics.alive_tasks(), 2);
    release.store(true, Ordering::Release);
    event_loop.block_on(async {
        for blocker in blockers {
            blocker.await.unwrap();
        }
    });
    drop(watchdog);
}
