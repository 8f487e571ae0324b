//! Stress properties on real threads: waiters are dropped at random points
//! (before their first poll, while queued, and after something was handed
//! to them but before they woke) while other threads acquire and release.
//!
//! - a semaphore never has more holders than permits, and ends with all of
//!   its permits (8 threads x 10,000 acquire/release);
//! - a lock is never held twice, and ends unlocked;
//! - a queue loses no item and duplicates none when getters are cancelled;
//! - a bounded mpsc channel delivers every value whose send completed, once
//!   and in each sender's order, when sends are cancelled (7 senders, one
//!   receiver).
//!
//! A lost permit or wake-up shows up as a hang, so each case runs under a
//! watchdog that fails it instead.
//!
//! Case count: `LOOPWORK_PROPTEST_CASES` (default 8 per property; each case
//! is tens of thousands of operations).

use futures_lite::future::block_on;
use loopwork_sync::{mpsc as channel, Lock, Queue, Semaphore};
use proptest::prelude::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

const THREADS: usize = 8;
const ROUNDS: usize = 10_000;

fn cases() -> u32 {
    std::env::var("LOOPWORK_PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(8)
}

/// xorshift64*, seeded per thread from the case's seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, thread: usize) -> Rng {
        Rng((seed ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Drives `future` the way a cancelling caller might: dropped unpolled,
/// dropped after one or two polls (with a pause in between, so a hand-off
/// can land before the drop), or run to completion.
fn maybe_cancel<F: Future>(future: F, rng: &mut Rng) -> Option<F::Output> {
    let mut future: Pin<Box<F>> = Box::pin(future);
    let mut cx = Context::from_waker(Waker::noop());
    match rng.below(8) {
        0 => None,
        1 | 2 => match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        },
        3 | 4 => {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Some(output);
            }
            for _ in 0..rng.below(4) {
                thread::yield_now();
            }
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(output) => Some(output),
                Poll::Pending => None,
            }
        }
        _ => Some(block_on(future)),
    }
}

/// Runs `work(thread_index)` on `THREADS` threads and waits for all of them,
/// failing if they take longer than `limit` (a lost wake-up or permit).
fn run_threads(limit: Duration, work: impl Fn(usize) + Send + Sync + 'static) {
    let work = Arc::new(work);
    let (done_tx, done_rx) = mpsc::channel();
    let threads: Vec<_> = (0..THREADS)
        .map(|index| {
            let (work, done_tx) = (Arc::clone(&work), done_tx.clone());
            thread::spawn(move || {
                work(index);
                let _ = done_tx.send(());
            })
        })
        .collect();
    for _ in 0..THREADS {
        done_rx.recv_timeout(limit).expect("a thread is stuck: a permit or a wake-up was lost");
    }
    for thread in threads {
        thread.join().expect("a worker thread panicked");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_semaphore_never_exceeds_its_permits_under_cancellation(permits in 1usize..4, seed in any::<u64>()) {
        let semaphore = Arc::new(Semaphore::new(permits));
        let holders = Arc::new(AtomicUsize::new(0));
        let acquired = Arc::new(AtomicUsize::new(0));
        {
            let (semaphore, holders, acquired) = (Arc::clone(&semaphore), Arc::clone(&holders), Arc::clone(&acquired));
            run_threads(Duration::from_secs(60), move |index| {
                let mut rng = Rng::new(seed, index);
                for _ in 0..ROUNDS {
                    if let Some(permit) = maybe_cancel(semaphore.acquire(), &mut rng) {
                        let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= permits, "{now} holders of {permits} permits");
                        acquired.fetch_add(1, Ordering::Relaxed);
                        if rng.below(4) == 0 {
                            thread::yield_now();
                        }
                        holders.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            });
        }
        prop_assert_eq!(semaphore.available_permits(), permits, "a cancelled acquire lost a permit");
        prop_assert!(acquired.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_lock_is_never_held_twice_under_cancellation(seed in any::<u64>()) {
        let lock = Arc::new(Lock::new(0u64));
        let inside = Arc::new(AtomicUsize::new(0));
        let acquired = Arc::new(AtomicUsize::new(0));
        {
            let (lock, inside, acquired) = (Arc::clone(&lock), Arc::clone(&inside), Arc::clone(&acquired));
            run_threads(Duration::from_secs(60), move |index| {
                let mut rng = Rng::new(seed, index);
                for _ in 0..ROUNDS / 2 {
                    if let Some(mut guard) = maybe_cancel(lock.lock(), &mut rng) {
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "the lock is held twice");
                        *guard += 1;
                        acquired.fetch_add(1, Ordering::Relaxed);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        }
        prop_assert!(!lock.is_locked(), "a cancelled waiter kept the lock");
        prop_assert_eq!(*lock.try_lock().unwrap(), acquired.load(Ordering::Relaxed) as u64);
    }

    #[test]
    fn a_queue_loses_no_item_when_getters_are_cancelled(maxsize in 0usize..4, seed in any::<u64>()) {
        const PER_PRODUCER: usize = 2_000;
        let producers = THREADS / 2;
        let queue = Arc::new(Queue::new(maxsize));
        let seen = Arc::new((0..producers * PER_PRODUCER).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let finished = Arc::new(AtomicUsize::new(0));
        {
            let (queue, seen, finished) = (Arc::clone(&queue), Arc::clone(&seen), Arc::clone(&finished));
            run_threads(Duration::from_secs(60), move |index| {
                let mut rng = Rng::new(seed, index);
                if index < producers {
                    for i in 0..PER_PRODUCER {
                        queue.put_blocking(index * PER_PRODUCER + i).unwrap();
                    }
                    if finished.fetch_add(1, Ordering::SeqCst) + 1 == producers {
                        queue.shutdown(false);
                    }
                } else {
                    loop {
                        match maybe_cancel(queue.get(), &mut rng) {
                            Some(Ok(item)) => {
                                seen[item].fetch_add(1, Ordering::Relaxed);
                            }
                            Some(Err(_)) => return,
                            None => {}
                        }
                    }
                }
            });
        }
        for (item, count) in seen.iter().enumerate() {
            prop_assert_eq!(count.load(Ordering::Relaxed), 1, "item {} was got that many times", item);
        }
    }

    #[test]
    fn a_channel_delivers_every_completed_send_once_and_in_order(capacity in 1usize..4, seed in any::<u64>()) {
        const PER_SENDER: usize = 2_000;
        /// Sent by each sender when it is done.
        const DONE: usize = usize::MAX;
        let senders = THREADS - 1;
        let (tx, rx) = channel::channel::<usize>(capacity);
        let rx = Arc::new(parking_lot::Mutex::new(Some(rx)));
        let sent = Arc::new((0..senders * PER_SENDER).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let received = Arc::new((0..senders * PER_SENDER).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        {
            let (sent, received) = (Arc::clone(&sent), Arc::clone(&received));
            run_threads(Duration::from_secs(60), move |index| {
                if index == senders {
                    let mut rx = rx.lock().take().expect("one receiver thread");
                    let mut last = vec![None; senders];
                    let mut done = 0;
                    while done < senders {
                        let value = rx.recv_blocking().expect("every sender says when it is done");
                        if value == DONE {
                            done += 1;
                            continue;
                        }
                        let sender = value / PER_SENDER;
                        assert!(last[sender] < Some(value), "sender {sender}'s values out of order");
                        last[sender] = Some(value);
                        received[value].fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                let mut rng = Rng::new(seed, index);
                let tx = tx.clone();
                for i in 0..PER_SENDER {
                    let value = index * PER_SENDER + i;
                    if let Some(result) = maybe_cancel(tx.send(value), &mut rng) {
                        result.expect("the receiver lives");
                        sent[value].store(1, Ordering::Relaxed);
                    }
                }
                tx.send_blocking(DONE).expect("the receiver lives");
            });
        }
        for (value, count) in received.iter().enumerate() {
            let expected = sent[value].load(Ordering::Relaxed);
            prop_assert_eq!(count.load(Ordering::Relaxed), expected, "value {} received that many times", value);
        }
    }
}
