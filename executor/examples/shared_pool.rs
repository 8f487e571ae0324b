//! Several event loops, one per thread, sending work to one shared
//! `ThreadPoolExecutor` with `run_in_executor`: the pool belongs to no loop,
//! and each result comes back to the loop that asked for it. The seed's
//! 1-second job is scaled to 20 ms.
//!
//! Run it with `cargo run -p loopwork --example shared_pool`.

use loopwork::{EventLoop, ThreadPool};
use std::time::{Duration, Instant};

fn worker(start: Instant, index: usize) -> usize {
    println!("{index} before: +{} ms", start.elapsed().as_millis());
    std::thread::sleep(Duration::from_millis(20));
    println!("{index} after: +{} ms", start.elapsed().as_millis());
    index
}

fn main() {
    let e = ThreadPool::new(5);
    let start = Instant::now();
    let threads: Vec<_> = (0..5)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let event_loop = EventLoop::builder().workers(0).build().expect("start a loop");
                let res = event_loop
                    .block_on(async move { loopwork::run_in_executor_on(&e, move || worker(start, i)).unwrap().await });
                println!("Thread {i} got result {}", res.unwrap());
                event_loop.close();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
