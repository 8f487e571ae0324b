//! asyncio's `loop.run_in_executor(executor, sleep, t)` with a
//! `ThreadPoolExecutor(max_workers=5)`, gathered: five blocking sleeps run on
//! the pool at once, so the whole takes about as long as the longest. The
//! seed's 1..=5 seconds are scaled to 20..=100 ms.
//!
//! Run it with `cargo run -p loopwork --example run_in_executor`.

use loopwork::{EventLoop, ThreadPool};
use std::time::{Duration, Instant};

async fn blocked_sleep(executor: ThreadPool, start: Instant, name: u64, t: u64) -> u64 {
    println!("[+{:>3} ms] sleep {name} is running {t}", start.elapsed().as_millis());
    let duration = Duration::from_millis(t * 20);
    loopwork::run_in_executor_on(&executor, move || std::thread::sleep(duration)).unwrap().await.unwrap();
    println!("[+{:>3} ms] sleep {name} is end", start.elapsed().as_millis());
    t
}

fn main() {
    let executor = ThreadPool::new(5);
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    let start = Instant::now();
    let results = event_loop.block_on(async move {
        let tasks = (1..=5).map(|i| loopwork::spawn(blocked_sleep(executor.clone(), start, i, i)));
        loopwork::try_gather(tasks).await.unwrap()
    });
    println!("results: {results:?}");
    println!("took {} ms (the longest sleep is 100 ms)", start.elapsed().as_millis());
    event_loop.close();
}
