//! The virtual clock: an hour of timers in milliseconds, in order.

use loopwork::EventLoop;
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
                loopwork::gather(tasks).await.unwrap();
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
