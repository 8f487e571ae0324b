//! The `sync_*` rows' primitives on loopwork alone, for instruction counts:
//! `valgrind --tool=callgrind target/release/sync_loopwork` gives a total
//! that repeats closely, so that the cost of the per-operation checks in
//! loopwork-sync (the cooperative budget) shows as the difference between
//! two builds. One worker, as in `yield_many_loopwork`.

use loopwork::sync::{mpsc, Lock, Semaphore};
use std::sync::Arc;

const TASKS: usize = 10;
const ROUNDS: usize = 10_000;

fn main() {
    let event_loop = loopwork::EventLoop::builder().workers(1).build().expect("start the loop");
    event_loop.block_on(async {
        let lock = Arc::new(Lock::new(0_u64));
        let semaphore = Arc::new(Semaphore::new(2));
        let workers: Vec<_> = (0..TASKS)
            .map(|_| {
                let (lock, semaphore) = (lock.clone(), semaphore.clone());
                loopwork::spawn(async move {
                    for _ in 0..ROUNDS {
                        *lock.lock().await += 1;
                        drop(semaphore.acquire().await);
                    }
                })
            })
            .collect();
        let (tx, mut rx) = mpsc::channel(64);
        let producer = loopwork::spawn(async move {
            for n in 0..TASKS * ROUNDS {
                tx.send(n).await.expect("the receiver lives");
            }
        });
        let mut received = 0;
        while rx.recv().await.is_ok() {
            received += 1;
        }
        assert_eq!(received, TASKS * ROUNDS);
        producer.await.expect("the producer finished");
        for task in workers {
            task.await.expect("a task failed");
        }
        assert_eq!(*lock.lock().await, (TASKS * ROUNDS) as u64);
    });
    event_loop.close();
}
