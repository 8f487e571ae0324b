//! asyncio's `gather` against `wait`: `gather` returns the values, in
//! argument order; `wait` returns the finished and pending tasks, whose
//! results are read one by one (`task.result()`).
//!
//! Run with `cargo run -p loopwork --example gather_vs_wait`.

use loopwork::ReturnWhen;
use std::time::Duration;

async fn do_some_work(x: u64) -> String {
    println!("Waiting: {x}");
    loopwork::sleep(Duration::from_millis(10 * x)).await;
    format!("Done after {x}0 ms")
}

#[loopwork::main]
async fn main() {
    let tasks = [3, 1, 2].map(|x| loopwork::spawn(do_some_work(x)));
    for result in loopwork::try_gather(tasks).await.expect("no task fails") {
        println!("gather: {result}");
    }

    let tasks = [3, 1, 2].map(|x| loopwork::spawn(do_some_work(x)));
    let (dones, pendings) = loopwork::wait(tasks, ReturnWhen::AllCompleted, None).await;
    println!("wait: {} done, {} pending", dones.len(), pendings.len());
    for task in dones {
        println!("wait: Task ret: {}", task.try_result().expect("done").expect("no panic"));
    }
}
