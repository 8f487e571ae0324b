//! tokio's `spawn_many_local` on loopwork alone, for instruction counts on
//! the spawn path: `valgrind --tool=callgrind
//! target/release/spawn_many_loopwork` gives a total that repeats exactly,
//! as `yield_many_loopwork` does for the poll path. One worker, which
//! spawns every task itself, so that they all go to its own queue.

fn main() {
    let event_loop = loopwork::EventLoop::builder().workers(1).build().expect("start the loop");
    let spawner = event_loop
        .handle()
        .spawn(async {
            let tasks: Vec<_> = (0..10_000).map(|i: u64| loopwork::spawn(async move { i })).collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.expect("a spawned task failed");
            }
            sum
        })
        .expect("the loop is open");
    let sum = event_loop.block_on(spawner).expect("the spawning task failed");
    assert_eq!(sum, 10_000 * 9_999 / 2);
    event_loop.close();
}
