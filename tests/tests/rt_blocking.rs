//! The blocking pool behind `run_in_executor`: it grows to its maximum
//! under a burst and no further, and its idle threads exit.

use loopwork::{EventLoop, ThreadPool};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[test]
fn a_pool_grows_to_its_maximum_and_no_further() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let pool = ThreadPool::new(3);
    // Three jobs meet at a barrier: they can only all finish if three
    // threads run them at once. Three more queue behind them.
    let barrier = Arc::new(Barrier::new(3));
    let results = event_loop.block_on({
        let pool = pool.clone();
        async move {
            let jobs: Vec<_> = (0..6)
                .map(|n| {
                    let barrier = barrier.clone();
                    loopwork::run_in_executor_on(&pool, move || {
                        if n < 3 {
                            barrier.wait();
                        }
                        assert!(std::thread::current().name() == Some("loopwork-blocking"));
                        n
                    })
                    .unwrap()
                })
                .collect();
            loopwork::try_gather(jobs).await.unwrap()
        }
    });
    assert_eq!(results, [0, 1, 2, 3, 4, 5]);
    assert_eq!(pool.threads(), 3, "the pool grew past its maximum, or lost a thread");
    pool.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(pool.threads(), 0);
    event_loop.close();
}

#[test]
fn idle_pool_threads_exit_after_ten_seconds() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let pool = ThreadPool::new(4);
    let barrier = Arc::new(Barrier::new(4));
    event_loop.block_on({
        let pool = pool.clone();
        async move {
            let jobs: Vec<_> = (0..4)
                .map(|_| {
                    let barrier = barrier.clone();
                    loopwork::run_in_executor_on(&pool, move || barrier.wait().is_leader()).unwrap()
                })
                .collect();
            loopwork::try_gather(jobs).await.unwrap();
        }
    });
    let idle_since = Instant::now();
    assert_eq!(pool.threads(), 4);
    // Kept for reuse a while (10 s), then gone; the bound is generous.
    while pool.threads() > 0 {
        assert!(idle_since.elapsed() < Duration::from_secs(40), "{} idle threads never exited", pool.threads());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(idle_since.elapsed() >= Duration::from_secs(5), "idle threads exited early: {:?}", idle_since.elapsed());
    event_loop.close();
}
