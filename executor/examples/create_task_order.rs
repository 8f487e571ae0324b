//! asyncio's `create_task` ordering: two tasks start at once; `main` awaits
//! task_1 first, so task_2's result is printed after task_1's even when
//! task_2 finishes first. The second half swaps the sleeps.
//!
//! Run with `cargo run -p loopwork --example create_task_order`.

use std::time::Duration;

async fn others(millis: u64, name: &'static str) -> String {
    println!("start {name}");
    loopwork::sleep(Duration::from_millis(millis)).await;
    println!("end {name}");
    format!("returned {name}")
}

async fn func(first: u64, second: u64) {
    println!("running the coroutine's own code");
    let task_1 = loopwork::spawn(others(first, "task_1"));
    let task_2 = loopwork::spawn(others(second, "task_2"));
    let response_1 = task_1.await.expect("no panic");
    println!("task_1's result: {response_1}");
    let response_2 = task_2.await.expect("no panic");
    println!("task_2's result: {response_2}");
}

fn main() {
    // Strict mode: one thread, asyncio's exact order.
    let event_loop = loopwork::EventLoop::builder().workers(0).build().expect("start the loop");
    println!("-- task_1 sleeps 30 ms, task_2 20 ms");
    event_loop.block_on(func(30, 20));
    println!("-- swapped: task_1 sleeps 20 ms, task_2 30 ms");
    event_loop.block_on(func(20, 30));
}
