//! asyncio's `wait` in three rounds: ten tasks of random length (0.5–5 s
//! in the original, 5–50 ms here); the first round returns at the first
//! completion (`FIRST_COMPLETED`), the second after a timeout, the third
//! when everything is done (`ALL_COMPLETED`). `wait` never cancels: the
//! pending tasks of one round are simply waited on again in the next.
//!
//! Run with `cargo run -p loopwork --example wait_rounds`.

use loopwork::{ReturnWhen, Task};
use std::time::Duration;

async fn coro(tag: u32, millis: u64) -> u32 {
    println!("> {tag}");
    loopwork::sleep(Duration::from_millis(millis)).await;
    println!("< {tag}");
    tag
}

/// Prints the results of the finished tasks.
fn print_results(finished: Vec<Task<u32>>) {
    for task in finished {
        println!("{}", task.try_result().expect("done").expect("no panic"));
    }
}

#[loopwork::main]
async fn main() {
    // A fixed pseudo-random sequence, so every run waits the same way.
    let mut x = 0x9E37_79B9_u64;
    let tasks: Vec<_> = (1..=10)
        .map(|tag| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            loopwork::spawn(coro(tag, 5 + (x >> 33) % 46))
        })
        .collect();

    println!("Get first result:");
    let (finished, unfinished) = loopwork::wait(tasks, ReturnWhen::FirstCompleted, None).await;
    print_results(finished);
    println!("unfinished: {}", unfinished.len());

    println!("Get more results in 20 ms:");
    let (finished, unfinished) =
        loopwork::wait(unfinished, ReturnWhen::AllCompleted, Some(Duration::from_millis(20))).await;
    print_results(finished);
    println!("unfinished2: {}", unfinished.len());

    println!("Get all other results:");
    let (finished, unfinished) = loopwork::wait(unfinished, ReturnWhen::AllCompleted, None).await;
    print_results(finished);
    println!("unfinished3: {}", unfinished.len());
}
