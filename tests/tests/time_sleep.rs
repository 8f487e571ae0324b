//! Timers on the loop: never early, FIFO among equal deadlines, cancellable.

use loopwork::EventLoop;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// xorshift, seeded: reproducible random durations.
fn durations(count: usize, max_micros: u64) -> Vec<Duration> {
    let mut x = 0x2545_F491_4F6C_DD1D_u64;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_micros(x % max_micros)
        })
        .collect()
}

#[test]
fn sleep_never_returns_before_its_duration_in_either_mode() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let early = event_loop.block_on(async move {
            let sleepers: Vec<_> = durations(10_000, 5_000)
                .into_iter()
                .map(|d| {
                    let handle = handle.clone();
                    loopwork::spawn(async move {
                        let start = handle.time();
                        loopwork::sleep(d).await;
                        let slept = handle.time() - start;
                        (slept < d).then_some((d, slept))
                    })
                })
                .collect();
            let mut early = Vec::new();
            for sleeper in sleepers {
                early.extend(sleeper.await.unwrap());
            }
            early
        });
        assert!(early.is_empty(), "workers={workers}: woke early: {:?}", &early[..early.len().min(5)]);
    }
}

#[test]
fn twenty_timers_for_the_same_instant_fire_in_the_order_set() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let order = Arc::new(Mutex::new(Vec::new()));
        let when = handle.time() + Duration::from_millis(30);
        for i in 0..20 {
            let order = order.clone();
            handle.call_at(when, move || order.lock().unwrap().push(i)).unwrap();
        }
        event_loop.block_on(loopwork::sleep(Duration::from_millis(80)));
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>(), "workers={workers}");
    }
}

#[test]
fn the_seeds_call_later_demo_runs_soon_then_1_3_2() {
    // call_later(0.1, 1), call_later(0.3, 2), call_later(0.2, 3), call_soon.
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let log = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        event_loop.block_on({
            let log = log.clone();
            async move {
                for (delay, index) in [(100, "1"), (300, "2"), (200, "3")] {
                    let log = log.clone();
                    handle
                        .call_later(Duration::from_millis(delay), move || {
                            log.lock().unwrap().push((index, started.elapsed()))
                        })
                        .unwrap();
                }
                let soon = log.clone();
                handle.call_soon(move || soon.lock().unwrap().push(("soon", started.elapsed()))).unwrap();
                loopwork::sleep(Duration::from_millis(500)).await;
            }
        });
        let log = log.lock().unwrap();
        let order: Vec<_> = log.iter().map(|(name, _)| *name).collect();
        assert_eq!(order, ["soon", "1", "3", "2"], "workers={workers}");
        for (name, at) in log.iter().skip(1) {
            let due = match *name {
                "1" => 100,
                "3" => 200,
                _ => 300,
            };
            assert!(*at >= Duration::from_millis(due), "{name} ran at {at:?}, before {due} ms");
        }
    }
}

#[test]
fn a_cancelled_timer_never_runs() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let timers: Vec<_> = (0..100)
            .map(|i| {
                let ran = ran.clone();
                handle.call_later(Duration::from_millis(20), move || ran.lock().unwrap().push(i)).unwrap()
            })
            .collect();
        for timer in timers.iter().step_by(2) {
            assert!(timer.cancel());
        }
        event_loop.block_on(loopwork::sleep(Duration::from_millis(60)));
        let ran = ran.lock().unwrap();
        assert_eq!(*ran, (1..100).step_by(2).collect::<Vec<_>>(), "workers={workers}");
        assert!(timers[0].cancelled() && !timers[1].cancelled());
    }
}

#[test]
fn call_later_on_a_closed_loop_is_an_error() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    event_loop.close();
    assert!(handle.call_later(Duration::from_millis(1), || {}).is_err());
}

#[test]
fn interval_ticks_on_the_loop() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let ticks = event_loop.block_on(async {
        let mut interval = loopwork::interval(Duration::from_millis(10));
        let start = Instant::now();
        let mut ticks = Vec::new();
        for _ in 0..5 {
            interval.tick().await;
            ticks.push(start.elapsed());
        }
        ticks
    });
    assert!(ticks[4] >= Duration::from_millis(40), "{ticks:?}");
}
