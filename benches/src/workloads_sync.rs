//! The synchronization workloads: a lock, a semaphore, a bounded mpsc
//! channel, oneshot request/reply and a timer among tasks draining
//! channels, each run on a runtime with that runtime's own primitives (loopwork with `loopwork-sync`, tokio with
//! `tokio::sync`, async-executor with `async-lock` and `async-channel`).
//!
//! The workload is written once against [`Primitives`], as the runtime
//! workloads are written against [`Spawner`], and [`SyncWorkload::run`]
//! pairs each runtime with its primitives.

use crate::runtime::{AsyncExecutor, Loopwork, Runtime, Spawner, Tokio};
use crate::workloads::{timed, Timing};
use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Tasks contending for the lock or the semaphore (tokio's `sync_mutex`
/// and `sync_semaphore` contention benchmarks use a handful more than
/// there are workers, so that several are always waiting).
const CONTENDERS: usize = 8;
/// Lock or acquire/release rounds per contending task.
const ROUNDS: usize = 1_000;
/// Permits of the contended semaphore: fewer than the tasks, so they queue.
const PERMITS: usize = 2;
/// `mpsc_bounded`: producers, messages per producer, and the capacity
/// (tokio's `sync_mpsc` `contention_bounded` constants).
const PRODUCERS: usize = 5;
const MESSAGES: usize = 1_000;
const CAPACITY: usize = 1_000;
/// Round trips per `oneshot_request_reply` iteration.
const ROUND_TRIPS: usize = 1_000;
/// `coop_timer_latency`: the timer's delay; the capacity of each drained
/// channel (kept one short of full); and how long a drainer keeps going if
/// the timer never stops it (a runtime without a cooperative budget: its
/// timer then fires about this late).
const COOP_TIMER: Duration = Duration::from_millis(5);
const DRAIN_CAPACITY: usize = 64;
const DRAIN_LIMIT: Duration = Duration::from_millis(50);

/// A timed workload on synchronization primitives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncWorkload {
    /// 8 tasks each locking a shared counter 1,000 times.
    LockContention,
    /// 8 tasks each acquiring and releasing one of 2 permits 1,000 times.
    SemaphoreContention,
    /// 5 producers sending 1,000 messages each into one bounded channel of
    /// capacity 1,000, drained by one consumer.
    MpscBounded,
    /// 1,000 requests from one task to another, each answered on a oneshot
    /// channel before the next is sent.
    OneshotRequestReply,
    /// How late a 5 ms timer fires while `workers` tasks drain channels
    /// that are always ready.
    CoopTimerLatency,
}

impl SyncWorkload {
    /// Every synchronization workload, in table order.
    pub(crate) fn all() -> [SyncWorkload; 5] {
        [
            SyncWorkload::LockContention,
            SyncWorkload::SemaphoreContention,
            SyncWorkload::MpscBounded,
            SyncWorkload::OneshotRequestReply,
            SyncWorkload::CoopTimerLatency,
        ]
    }

    /// The row name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SyncWorkload::LockContention => "sync_lock_contention",
            SyncWorkload::SemaphoreContention => "sync_semaphore_contention",
            SyncWorkload::MpscBounded => "sync_mpsc_bounded",
            SyncWorkload::OneshotRequestReply => "sync_oneshot_request_reply",
            SyncWorkload::CoopTimerLatency => "coop_timer_latency",
        }
    }

    /// One line saying what an iteration does.
    pub(crate) fn description(self) -> &'static str {
        match self {
            SyncWorkload::LockContention => {
                "8 tasks × 1,000 lock / increment / unlock of one counter, with the runtime's own async lock \
                 (loopwork-sync `Lock`, `tokio::sync::Mutex`, `async_lock::Mutex`)"
            }
            SyncWorkload::SemaphoreContention => {
                "8 tasks × 1,000 acquire / release of a 2-permit semaphore (loopwork-sync, tokio::sync, async-lock)"
            }
            SyncWorkload::MpscBounded => {
                "5 producers × 1,000 messages into one bounded channel of capacity 1,000, drained by one consumer \
                 (loopwork-sync `mpsc`, `tokio::sync::mpsc`, `async_channel`)"
            }
            SyncWorkload::OneshotRequestReply => {
                "1,000 request/reply round trips between two tasks: each request carries a oneshot sender for its \
                 reply (loopwork-sync / tokio::sync `oneshot`, `async_channel::bounded(1)`)"
            }
            SyncWorkload::CoopTimerLatency => {
                "how late a 5 ms timer fires (the time per iteration is the lateness) while `workers` tasks each \
                 receive from and send back to a channel of capacity 64 kept one short of full, which is always \
                 ready (loopwork-sync `mpsc`, `tokio::sync::mpsc`, `async_channel`); a drainer stops when the timer \
                 has fired, or after 50 ms"
            }
        }
    }

    /// Runs the workload on `runtime` with that runtime's primitives, back
    /// to back until `budget` is spent (at least once).
    ///
    /// # Panics
    ///
    /// If `runtime` is none of the three the table compares.
    pub(crate) fn run<R: Runtime>(self, runtime: &R, workers: usize, budget: Duration) -> Timing {
        // `Runtime` says nothing about synchronization, and the runtime
        // workloads do not need it to: the pairing lives here, decided once
        // per sample rather than inside the timed loop.
        let runtime: &dyn Any = runtime;
        if let Some(runtime) = runtime.downcast_ref::<Loopwork>() {
            self.run_with::<_, LoopworkSync>(runtime, workers, budget)
        } else if let Some(runtime) = runtime.downcast_ref::<Tokio>() {
            self.run_with::<_, TokioSync>(runtime, workers, budget)
        } else if let Some(runtime) = runtime.downcast_ref::<AsyncExecutor>() {
            self.run_with::<_, AsyncLock>(runtime, workers, budget)
        } else {
            panic!("no synchronization primitives paired with runtime `{}`", R::NAME)
        }
    }

    fn run_with<R: Runtime, P: Primitives>(self, runtime: &R, workers: usize, budget: Duration) -> Timing {
        match self {
            SyncWorkload::LockContention => lock_contention::<R, P>(runtime, budget),
            SyncWorkload::SemaphoreContention => semaphore_contention::<R, P>(runtime, budget),
            SyncWorkload::MpscBounded => mpsc_bounded::<R, P>(runtime, budget),
            SyncWorkload::OneshotRequestReply => oneshot_request_reply::<R, P>(runtime, budget),
            SyncWorkload::CoopTimerLatency => coop_timer_latency::<R, P>(runtime, workers, budget),
        }
    }
}

/// One runtime's lock, semaphore and channels, reduced to what the
/// workloads do with them.
trait Primitives: 'static {
    type Lock: Send + Sync + 'static;
    fn lock(value: u64) -> Self::Lock;
    /// Locks, adds one, unlocks.
    fn increment(lock: &Self::Lock) -> impl Future<Output = ()> + Send + '_;

    type Semaphore: Send + Sync + 'static;
    fn semaphore(permits: usize) -> Self::Semaphore;
    /// Acquires one permit and releases it at once.
    fn acquire_release(semaphore: &Self::Semaphore) -> impl Future<Output = ()> + Send + '_;

    type Sender<T: Send + 'static>: Clone + Send + Sync + 'static;
    type Receiver<T: Send + 'static>: Send + 'static;
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Sender<T>, Self::Receiver<T>);
    /// Sends `value`, waiting while the channel is full.
    fn send<T: Send + 'static>(sender: &Self::Sender<T>, value: T) -> impl Future<Output = ()> + Send + '_;
    /// The next message, `None` once every sender is gone.
    fn recv<T: Send + 'static>(receiver: &mut Self::Receiver<T>) -> impl Future<Output = Option<T>> + Send + '_;

    type OneshotSender<T: Send + 'static>: Send + 'static;
    type OneshotReceiver<T: Send + 'static>: Send + 'static;
    fn oneshot<T: Send + 'static>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>);
    fn send_once<T: Send + 'static>(sender: Self::OneshotSender<T>, value: T);
    fn recv_once<T: Send + 'static>(receiver: Self::OneshotReceiver<T>) -> impl Future<Output = T> + Send;
}

/// loopwork-sync.
struct LoopworkSync;

impl Primitives for LoopworkSync {
    type Lock = loopwork_sync::Lock<u64>;
    fn lock(value: u64) -> Self::Lock {
        loopwork_sync::Lock::new(value)
    }
    async fn increment(lock: &Self::Lock) {
        *lock.lock().await += 1
    }

    type Semaphore = loopwork_sync::Semaphore;
    fn semaphore(permits: usize) -> Self::Semaphore {
        loopwork_sync::Semaphore::new(permits)
    }
    async fn acquire_release(semaphore: &Self::Semaphore) {
        drop(semaphore.acquire().await)
    }

    type Sender<T: Send + 'static> = loopwork_sync::mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = loopwork_sync::mpsc::Receiver<T>;
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Sender<T>, Self::Receiver<T>) {
        loopwork_sync::mpsc::channel(capacity)
    }
    async fn send<T: Send + 'static>(sender: &Self::Sender<T>, value: T) {
        assert!(sender.send(value).await.is_ok(), "the receiver is alive")
    }
    async fn recv<T: Send + 'static>(receiver: &mut Self::Receiver<T>) -> Option<T> {
        receiver.recv().await.ok()
    }

    type OneshotSender<T: Send + 'static> = loopwork_sync::oneshot::Sender<T>;
    type OneshotReceiver<T: Send + 'static> = loopwork_sync::oneshot::Receiver<T>;
    fn oneshot<T: Send + 'static>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>) {
        loopwork_sync::oneshot::channel()
    }
    fn send_once<T: Send + 'static>(sender: Self::OneshotSender<T>, value: T) {
        assert!(sender.send(value).is_ok(), "the receiver is alive");
    }
    async fn recv_once<T: Send + 'static>(receiver: Self::OneshotReceiver<T>) -> T {
        receiver.await.expect("the sender sends")
    }
}

/// tokio::sync.
struct TokioSync;

impl Primitives for TokioSync {
    type Lock = tokio::sync::Mutex<u64>;
    fn lock(value: u64) -> Self::Lock {
        tokio::sync::Mutex::new(value)
    }
    async fn increment(lock: &Self::Lock) {
        *lock.lock().await += 1
    }

    type Semaphore = tokio::sync::Semaphore;
    fn semaphore(permits: usize) -> Self::Semaphore {
        tokio::sync::Semaphore::new(permits)
    }
    async fn acquire_release(semaphore: &Self::Semaphore) {
        drop(semaphore.acquire().await.expect("the semaphore is open"))
    }

    type Sender<T: Send + 'static> = tokio::sync::mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = tokio::sync::mpsc::Receiver<T>;
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Sender<T>, Self::Receiver<T>) {
        tokio::sync::mpsc::channel(capacity)
    }
    async fn send<T: Send + 'static>(sender: &Self::Sender<T>, value: T) {
        assert!(sender.send(value).await.is_ok(), "the receiver is alive")
    }
    fn recv<T: Send + 'static>(receiver: &mut Self::Receiver<T>) -> impl Future<Output = Option<T>> + Send + '_ {
        receiver.recv()
    }

    type OneshotSender<T: Send + 'static> = tokio::sync::oneshot::Sender<T>;
    type OneshotReceiver<T: Send + 'static> = tokio::sync::oneshot::Receiver<T>;
    fn oneshot<T: Send + 'static>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>) {
        tokio::sync::oneshot::channel()
    }
    fn send_once<T: Send + 'static>(sender: Self::OneshotSender<T>, value: T) {
        assert!(sender.send(value).is_ok(), "the receiver is alive");
    }
    async fn recv_once<T: Send + 'static>(receiver: Self::OneshotReceiver<T>) -> T {
        receiver.await.expect("the sender sends")
    }
}

/// async-lock and async-channel, smol's primitives.
struct AsyncLock;

impl Primitives for AsyncLock {
    type Lock = async_lock::Mutex<u64>;
    fn lock(value: u64) -> Self::Lock {
        async_lock::Mutex::new(value)
    }
    async fn increment(lock: &Self::Lock) {
        *lock.lock().await += 1
    }

    type Semaphore = async_lock::Semaphore;
    fn semaphore(permits: usize) -> Self::Semaphore {
        async_lock::Semaphore::new(permits)
    }
    async fn acquire_release(semaphore: &Self::Semaphore) {
        drop(semaphore.acquire().await)
    }

    type Sender<T: Send + 'static> = async_channel::Sender<T>;
    type Receiver<T: Send + 'static> = async_channel::Receiver<T>;
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Sender<T>, Self::Receiver<T>) {
        async_channel::bounded(capacity)
    }
    async fn send<T: Send + 'static>(sender: &Self::Sender<T>, value: T) {
        assert!(sender.send(value).await.is_ok(), "the receiver is alive")
    }
    async fn recv<T: Send + 'static>(receiver: &mut Self::Receiver<T>) -> Option<T> {
        receiver.recv().await.ok()
    }

    // async-channel has no oneshot; a bounded(1) channel is what smol code
    // uses in its place.
    type OneshotSender<T: Send + 'static> = async_channel::Sender<T>;
    type OneshotReceiver<T: Send + 'static> = async_channel::Receiver<T>;
    fn oneshot<T: Send + 'static>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>) {
        async_channel::bounded(1)
    }
    fn send_once<T: Send + 'static>(sender: Self::OneshotSender<T>, value: T) {
        assert!(sender.try_send(value).is_ok(), "the receiver is alive and the channel empty");
    }
    async fn recv_once<T: Send + 'static>(receiver: Self::OneshotReceiver<T>) -> T {
        receiver.recv().await.expect("the sender sends")
    }
}

/// Spawns `tasks` copies of `body(index)` on the runtime and waits, on the
/// benchmark thread, until all have finished.
fn run_tasks<R, F, Fut>(runtime: &R, done: &(mpsc::SyncSender<()>, mpsc::Receiver<()>), tasks: usize, mut body: F)
where
    R: Runtime,
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let spawner = runtime.spawner();
    for index in 0..tasks {
        let (future, done) = (body(index), done.0.clone());
        spawner.spawn_detached(async move {
            future.await;
            done.send(()).unwrap();
        });
    }
    for _ in 0..tasks {
        done.1.recv().unwrap();
    }
}

fn lock_contention<R: Runtime, P: Primitives>(runtime: &R, budget: Duration) -> Timing {
    let done = mpsc::sync_channel(CONTENDERS);
    let lock = Arc::new(P::lock(0));
    timed(budget, || {
        run_tasks(runtime, &done, CONTENDERS, |_| {
            let lock = lock.clone();
            async move {
                for _ in 0..ROUNDS {
                    P::increment(&lock).await;
                }
            }
        });
    })
}

fn semaphore_contention<R: Runtime, P: Primitives>(runtime: &R, budget: Duration) -> Timing {
    let done = mpsc::sync_channel(CONTENDERS);
    let semaphore = Arc::new(P::semaphore(PERMITS));
    timed(budget, || {
        run_tasks(runtime, &done, CONTENDERS, |_| {
            let semaphore = semaphore.clone();
            async move {
                for _ in 0..ROUNDS {
                    P::acquire_release(&semaphore).await;
                }
            }
        });
    })
}

fn mpsc_bounded<R: Runtime, P: Primitives>(runtime: &R, budget: Duration) -> Timing {
    let done = mpsc::sync_channel(PRODUCERS + 1);
    timed(budget, || {
        let (sender, receiver) = P::channel::<usize>(CAPACITY);
        let mut receiver = Some(receiver);
        // Task 0 is the consumer, the others the producers.
        run_tasks(runtime, &done, PRODUCERS + 1, |index| {
            let consumer = if index == 0 { receiver.take() } else { None };
            let sender = sender.clone();
            async move {
                if let Some(mut receiver) = consumer {
                    // Counted rather than read to the end: the benchmark
                    // thread holds a sender until every task is done.
                    for _ in 0..PRODUCERS * MESSAGES {
                        P::recv(&mut receiver).await.expect("the producers send every message");
                    }
                } else {
                    for message in 0..MESSAGES {
                        P::send(&sender, message).await;
                    }
                }
            }
        });
    })
}

fn oneshot_request_reply<R: Runtime, P: Primitives>(runtime: &R, budget: Duration) -> Timing {
    let done = mpsc::sync_channel(2);
    timed(budget, || {
        // The request queue holds one request at a time: the client waits
        // for each reply before it sends the next.
        let (requests, incoming) = P::channel::<(usize, P::OneshotSender<usize>)>(1);
        let mut incoming = Some(incoming);
        // Task 0 serves, task 1 asks.
        run_tasks(runtime, &done, 2, |index| {
            let server = if index == 0 { incoming.take() } else { None };
            let requests = requests.clone();
            async move {
                if let Some(mut incoming) = server {
                    for _ in 0..ROUND_TRIPS {
                        let (value, reply) = P::recv(&mut incoming).await.expect("the client asks");
                        P::send_once(reply, value + 1);
                    }
                } else {
                    for value in 0..ROUND_TRIPS {
                        let (reply, replied) = P::oneshot();
                        P::send(&requests, (value, reply)).await;
                        assert_eq!(P::recv_once(replied).await, value + 1);
                    }
                }
            }
        });
    })
}

/// One timer task sleeps 5 ms while `workers` drainer tasks, spawned just
/// after it registered its timer, loop over always-ready channels until it
/// fires. Each iteration's "time" is how late the timer task ran: what a
/// runtime's cooperative budget bounds (without one, every worker belongs
/// to a drainer until it gives up).
fn coop_timer_latency<R: Runtime, P: Primitives>(runtime: &R, workers: usize, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let done = mpsc::sync_channel(workers);
    let started = Instant::now();
    let mut timing = Timing { elapsed: Duration::ZERO, iterations: 0 };
    while timing.iterations == 0 || started.elapsed() < budget {
        // Relaxed is enough: the flag only ends the drainers' loops; the
        // lateness travels on a channel.
        let stop = Arc::new(AtomicBool::new(false));
        let (armed, is_armed) = mpsc::sync_channel(1);
        let (fired, has_fired) = mpsc::sync_channel(1);
        let timer_stop = stop.clone();
        spawner.spawn_detached(async move {
            let sleep = <R::Spawner as Spawner>::sleep(COOP_TIMER);
            let since = Instant::now();
            armed.send(()).unwrap();
            // The sleep registers at this first poll, microseconds after
            // `since`, before the drainers can have started.
            sleep.await;
            fired.send(since.elapsed().saturating_sub(COOP_TIMER)).unwrap();
            timer_stop.store(true, Relaxed);
        });
        is_armed.recv().unwrap();
        for _ in 0..workers {
            let (stop, done) = (stop.clone(), done.0.clone());
            spawner.spawn_detached(async move {
                let (sender, mut receiver) = P::channel::<usize>(DRAIN_CAPACITY);
                for message in 1..DRAIN_CAPACITY {
                    P::send(&sender, message).await;
                }
                let began = Instant::now();
                let mut operations = 0_u32;
                while !stop.load(Relaxed) {
                    let message = P::recv(&mut receiver).await.expect("the drainer holds a sender");
                    P::send(&sender, message).await;
                    operations = operations.wrapping_add(1);
                    if operations % 1024 == 0 && began.elapsed() >= DRAIN_LIMIT {
                        break;
                    }
                }
                done.send(()).unwrap();
            });
        }
        timing.elapsed += has_fired.recv().unwrap();
        timing.iterations += 1;
        for _ in 0..workers {
            done.1.recv().unwrap();
        }
    }
    timing
}
