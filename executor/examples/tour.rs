//! A tour of loopwork: the asyncio programming model on a work-stealing pool.
//!
//! Run it with `cargo run --release -p loopwork --example tour`.

use loopwork::{EventLoop, TaskError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let event_loop = EventLoop::builder().workers(2).build().expect("start the loop");
    let handle = event_loop.handle();
    println!("loopwork tour: an event loop with {} worker threads", handle.workers());

    // 1. asyncio.run / create_task / await: tasks start at once and run in parallel.
    let started = Instant::now();
    let squares = event_loop.block_on(async {
        let tasks: Vec<_> = (1..=5).map(|i| loopwork::spawn(async move { i * i })).collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    println!("1. five tasks computed {squares:?} in {:?}", started.elapsed());

    // 2. Submitting from threads the loop does not own (the seeds' background-loop pattern).
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                let tasks: Vec<_> = (0..25_000)
                    .map(|_| {
                        let counter = counter.clone();
                        handle.spawn(async move { counter.fetch_add(1, Ordering::Relaxed) }).unwrap()
                    })
                    .collect();
                tasks
            })
        })
        .collect();
    let tasks: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    event_loop.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    println!(
        "2. 100,000 tasks spawned from 4 foreign threads all ran: {} in {:?}",
        counter.load(Ordering::Relaxed),
        started.elapsed()
    );

    // 3. Cancellation: the future is dropped at its next suspension point.
    let outcome = event_loop.block_on(async {
        let task = loopwork::spawn(std::future::pending::<()>());
        loopwork::yield_now().await;
        task.cancel();
        task.await
    });
    println!("3. a cancelled task reports {:?}", outcome.map_err(|e: TaskError| e.to_string()));

    // 4. A panic stays inside its task.
    let outcome = event_loop.block_on(async { loopwork::spawn(async { panic!("contained") }).await });
    println!("4. a panicking task reports: {}", outcome.unwrap_err());

    // 5. Shutdown drops what is still pending.
    for _ in 0..10_000 {
        handle.spawn(std::future::pending::<()>()).unwrap();
    }
    let started = Instant::now();
    event_loop.shutdown(std::time::Duration::from_secs(1)).expect("shutdown in time");
    println!("5. shutdown dropped 10,000 pending tasks in {:?}; closed: {}", started.elapsed(), handle.is_closed());
}
