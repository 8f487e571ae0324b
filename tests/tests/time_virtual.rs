//! The virtual clock: an hour of timers in milliseconds, in order.

use loopwork::EventLoop;
use loopwork_tests::{env_count, with_watchdog};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn an_hour_of_nested_sleeps_runs_in_moments_in_either_mode() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).paused_clock().build().unwrap();
        let handle = event_loop.handle();
        let started = Instant::now();
        let loop_start = handle.time();
        let order = Arc::new(Mutex::new(Vec::new()));
        event_loop.block_on({
            let order = order.clone();
            async move {
                // 60 tasks sleeping 1..=60 minutes, each in two nested halves.
                let tasks: Vec<_> = (1..=60u64)
                    .rev()
                    .map(|minutes| {
                        let order = order.clone();
                        loopwork::spawn(async move {
                            let half = Duration::from_secs(minutes * 30);
                            loopwork::sleep(half).await;
                            loopwork::sleep(half).await;
                            order.lock().unwrap().push(minutes);
                        })
                    })
                    .collect();
                loopwork::try_gather(tasks).await.unwrap();
            }
        });
        assert!(started.elapsed() < Duration::from_secs(10), "workers={workers}: took {:?}", started.elapsed());
        assert!(handle.time() - loop_start >= Duration::from_secs(3600), "workers={workers}");
        assert_eq!(*order.lock().unwrap(), (1..=60).collect::<Vec<_>>(), "workers={workers}");
    }
}

#[test]
fn advance_fires_the_timers_that_become_due() {
    let event_loop = EventLoop::builder().workers(1).paused_clock().build().unwrap();
    let handle = event_loop.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    handle.call_later(Duration::from_secs(10), move || tx.send("fired").unwrap()).unwrap();
    // A callback is not work the loop can see as "idle" time passing: it
    // waits for the clock. (The loop is idle, so it may also jump ahead on
    // its own; either way the timer fires, never before its deadline.)
    let t0 = handle.time();
    handle.advance(Duration::from_secs(10));
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok("fired"));
    assert!(handle.time() - t0 >= Duration::from_secs(10));
}

#[test]
fn advance_on_a_real_clock_panics_with_advice() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.advance(Duration::from_secs(1)))).unwrap_err();
    let text = err.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| err.downcast_ref::<String>().cloned());
    assert!(text.unwrap().contains("paused_clock"));
}

#[test]
fn the_clock_jumps_when_block_on_sets_the_last_timer_as_workers_park() {
    // The race: a worker checks whether the loop is idle while the block_on
    // thread is still running, the block_on thread then sets a timer and
    // sleeps. The block_on thread is the last to go idle, so it must be the
    // one that gets the clock moved.
    let rounds = env_count("LOOPWORK_VIRTUAL_CLOCK_ROUNDS", 5_000);
    for round in 0..rounds {
        with_watchdog(Duration::from_secs(60), &format!("round {round}"), || {
            let event_loop = EventLoop::builder().workers(2).paused_clock().build().unwrap();
            let handle = event_loop.handle();
            let start = handle.time();
            event_loop.block_on(async {
                let child = loopwork::spawn(async {
                    loopwork::sleep(Duration::from_millis(43)).await;
                    46
                });
                assert_eq!(child.await.unwrap(), 46);
                let (tx, rx) = loopwork::sync::oneshot::channel();
                loopwork::spawn(async move { tx.send(7u32).unwrap() });
                assert_eq!(rx.await.unwrap(), 7);
                loopwork::sleep(Duration::from_millis(20)).await;
            });
            assert_eq!(handle.time() - start, Duration::from_millis(63));
        });
    }
}

#[test]
fn a_task_woken_by_a_timer_runs_before_the_clock_moves_on() {
    // Every task reads the clock as it wakes: with the clock moving only
    // while nothing is runnable, each sees exactly its own deadline.
    for workers in [0, 2] {
        with_watchdog(Duration::from_secs(60), &format!("workers={workers}"), move || {
            let event_loop = EventLoop::builder().workers(workers).paused_clock().build().unwrap();
            let handle = event_loop.handle();
            let start = handle.time();
            let woke_at = event_loop.block_on(async move {
                let tasks = (1..=200u64).map(|ms| {
                    let handle = loopwork::get_running_loop().unwrap();
                    loopwork::spawn(async move {
                        loopwork::sleep(Duration::from_millis(ms)).await;
                        handle.time() - start
                    })
                });
                loopwork::try_gather(tasks).await.unwrap()
            });
            let expected: Vec<_> = (1..=200u64).map(Duration::from_millis).collect();
            assert_eq!(woke_at, expected, "workers={workers}");
        });
    }
}

#[test]
fn a_blocking_job_holds_the_clock_until_it_ends() {
    // The job sleeps in real time; the virtual clock must not run a
    // one-minute timeout out from under it.
    for workers in [0, 2] {
        with_watchdog(Duration::from_secs(60), &format!("workers={workers}"), move || {
            let event_loop = EventLoop::builder().workers(workers).paused_clock().build().unwrap();
            let result = event_loop.block_on(async {
                let job = loopwork::run_in_executor(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    "done"
                });
                loopwork::timeout(Duration::from_secs(60), job).await
            });
            assert_eq!(result.unwrap().unwrap(), "done", "workers={workers}");
        });
    }
}

#[test]
fn an_hour_of_nested_timeouts_runs_in_moments_each_at_its_virtual_instant() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).paused_clock().build().unwrap();
        let handle = event_loop.handle();
        let start = handle.time();
        let started = Instant::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let minutes = |n: u64| Duration::from_secs(60 * n);
        let outer = event_loop.block_on({
            let (log, handle) = (log.clone(), handle.clone());
            async move {
                let note = |what: &str| log.lock().unwrap().push((what.to_owned(), handle.time() - start));
                loopwork::timeout(minutes(60), async {
                    // Expires at 30 minutes, dropping a two-hour sleep.
                    let first = loopwork::timeout(minutes(30), loopwork::sleep(minutes(120))).await;
                    note(if first.is_err() { "first expired" } else { "first finished" });
                    // Finishes at 40 minutes, inside its 20.
                    let second = loopwork::timeout(minutes(20), loopwork::sleep(minutes(10))).await;
                    note(if second.is_err() { "second expired" } else { "second finished" });
                    // Would end at 80 minutes: the outer hour expires first.
                    loopwork::sleep(minutes(40)).await;
                    note("never");
                })
                .await
            }
        });
        assert!(outer.is_err(), "workers={workers}: the outer hour did not expire");
        assert_eq!(
            *log.lock().unwrap(),
            [("first expired".to_owned(), minutes(30)), ("second finished".to_owned(), minutes(40))],
            "workers={workers}"
        );
        assert_eq!(handle.time() - start, minutes(60), "workers={workers}");
        assert!(started.elapsed() < Duration::from_secs(10), "workers={workers}: took {:?}", started.elapsed());
        event_loop.close();
    }
}
