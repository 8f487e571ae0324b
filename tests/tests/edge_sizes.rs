//! Zero and huge capacities and counts: each behaves as documented, with
//! asyncio's meaning where one exists and a panic naming the argument
//! otherwise. One test per row of the size table in docs/asyncio.md
//! ("Edge values").

use loopwork::sync::{mpsc, Barrier, BoundedSemaphore, Queue, Semaphore};
use loopwork::{EventLoop, ThreadPool};
use loopwork_tests::{panic_message, with_watchdog};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(120);

#[test]
fn mpsc_channel_of_zero_panics_naming_the_capacity() {
    let message = panic_message(|| drop(mpsc::channel::<u8>(0)));
    assert!(message.contains("capacity") && message.contains("unbounded"), "{message}");
    let (tx, rx) = mpsc::channel::<u8>(1);
    assert!(tx.try_send(1).is_ok());
    assert!(tx.try_send(2).is_err(), "a channel of capacity 1 took two values");
    drop(rx);
}

#[test]
fn queue_of_zero_is_unbounded_as_asyncio_maxsize_zero() {
    let queue = Queue::<u32>::new(0);
    assert_eq!(queue.maxsize(), 0);
    for i in 0..100_000 {
        queue.try_put(i).expect("an unbounded queue refused an item");
    }
    assert!(!queue.is_full());
    assert_eq!(queue.len(), 100_000);
}

#[test]
fn semaphore_of_zero_waits_for_a_release() {
    let semaphore = Semaphore::new(0);
    assert!(semaphore.try_acquire().is_err());
    loopwork::run(async {
        let waiter = async { drop(semaphore.acquire().await) };
        let timed_out = loopwork::timeout(Duration::from_millis(1), waiter).await;
        assert!(timed_out.is_err(), "acquired a permit from Semaphore::new(0)");
        semaphore.release();
        drop(semaphore.acquire().await);
    });
}

#[test]
fn bounded_semaphore_of_zero_refuses_a_release_as_asyncio_raises_value_error() {
    let semaphore = BoundedSemaphore::new(0);
    assert!(semaphore.try_acquire().is_err());
    assert!(semaphore.release().is_err(), "released a BoundedSemaphore(0) above its bound");
    let one = BoundedSemaphore::new(1);
    drop(one.try_acquire().unwrap());
    assert!(one.release().is_err(), "released above the bound of 1");
}

#[test]
fn barrier_of_zero_panics_naming_the_parties() {
    let message = panic_message(|| drop(Barrier::new(0)));
    assert!(message.contains("parties"), "{message}");
}

#[test]
fn barrier_of_one_lets_its_single_party_through_as_leader() {
    let barrier = Barrier::new(1);
    loopwork::run(async {
        for _ in 0..3 {
            let result = barrier.wait().await.expect("a barrier of one broke");
            assert!(result.is_leader());
            assert_eq!(result.index(), 0);
        }
    });
}

#[test]
fn workers_far_above_the_core_count_all_run_and_close() {
    with_watchdog(WATCHDOG, "256 workers", || {
        let event_loop = EventLoop::builder().workers(256).build().expect("start 256 workers");
        assert_eq!(event_loop.handle().workers(), 256);
        let sum = event_loop.block_on(async {
            let tasks: Vec<_> = (0..1_000u64).map(|i| loopwork::spawn(async move { i })).collect();
            loopwork::try_gather(tasks).await.unwrap().into_iter().sum::<u64>()
        });
        assert_eq!(sum, 499_500);
        event_loop.close();
    });
    let message = panic_message(|| drop(EventLoop::builder().workers(usize::MAX)));
    assert!(message.contains("workers") && message.contains("count"), "{message}");
}

#[test]
fn max_blocking_threads_of_zero_panics_naming_the_count() {
    let message = panic_message(|| drop(EventLoop::builder().max_blocking_threads(0)));
    assert!(message.contains("max_blocking_threads") && message.contains("count"), "{message}");
    let message = panic_message(|| drop(ThreadPool::new(0)));
    assert!(message.contains("max_threads"), "{message}");
    // One thread is enough: jobs queue for it.
    let event_loop = EventLoop::builder().workers(1).max_blocking_threads(1).build().unwrap();
    let results = event_loop.block_on(async {
        let jobs: Vec<_> = (0..4).map(|i| loopwork::run_in_executor(move || i * 2)).collect();
        loopwork::try_gather(jobs).await.unwrap()
    });
    assert_eq!(results, [0, 2, 4, 6]);
    event_loop.close();
}
