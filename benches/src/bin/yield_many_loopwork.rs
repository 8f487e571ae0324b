//! tokio's `yield_many` on loopwork alone, for instruction counts:
//! `valgrind --tool=callgrind target/release/yield_many_loopwork` gives a
//! total that repeats exactly, so that the cost of one feature (slow-poll
//! detection, chaos mode's branches) shows as the difference between two
//! builds. One worker, so that no instruction is spent on stealing.

fn main() {
    let event_loop = loopwork::EventLoop::builder().workers(1).build().expect("start the loop");
    event_loop.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                loopwork::spawn(async {
                    for _ in 0..1_000 {
                        loopwork::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a yielding task failed");
        }
    });
    event_loop.close();
}
