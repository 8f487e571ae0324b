//! Property tests: random operation sequences on each queue, on `Lock` and
//! on `Semaphore`, checked step by step against a simple sequential model
//! (a `VecDeque`, `BinaryHeap` or `Vec` plus FIFO lists of waiters).
//!
//! Futures are polled by hand on one thread, so every interleaving of
//! "start waiting", "drop the waiting future" and "release" is reachable,
//! including dropping a waiter after something was handed to it but before
//! it was polled again. After each operation every pending future is polled
//! until nothing changes, and the outcome must equal the model's, which
//! serves waiters strictly in arrival order.
//!
//! Case count: `LOOPWORK_PROPTEST_CASES` (default 256 per property).

use loopwork_sync::error::{PutError, QueueShutDown, TryGetError, TryPutError};
use loopwork_sync::{LifoQueue, Lock, LockGuard, PriorityQueue, Queue, Semaphore, SemaphorePermit};
use proptest::prelude::*;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

fn cases() -> u32 {
    std::env::var("LOOPWORK_PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256)
}

type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
type PendingGet<'a> = (usize, Pending<'a, Result<u8, QueueShutDown>>);
type PendingPut<'a> = (usize, Pending<'a, Result<(), PutError<u8>>>);

fn poll<T>(future: &mut Pending<'_, T>) -> Poll<T> {
    future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// Picks the `k`-th (modulo) entry of a list, if any.
fn pick(len: usize, k: usize) -> Option<usize> {
    (len > 0).then(|| k % len)
}

// ---------------------------------------------------------------- queues

/// The operations of the three queue types, so one model test covers all.
trait AnyQueue {
    fn with_maxsize(maxsize: usize) -> Self;
    fn put(&self, item: u8) -> Pending<'_, Result<(), PutError<u8>>>;
    fn get(&self) -> Pending<'_, Result<u8, QueueShutDown>>;
    fn join(&self) -> Pending<'_, ()>;
    fn try_put(&self, item: u8) -> Result<(), TryPutError<u8>>;
    fn try_get(&self) -> Result<u8, TryGetError>;
    fn task_done(&self) -> bool;
    fn shutdown(&self, immediate: bool);
    fn len(&self) -> usize;
    fn is_full(&self) -> bool;
}

macro_rules! any_queue {
    ($queue:ident) => {
        impl AnyQueue for $queue<u8> {
            fn with_maxsize(maxsize: usize) -> Self {
                $queue::new(maxsize)
            }
            fn put(&self, item: u8) -> Pending<'_, Result<(), PutError<u8>>> {
                Box::pin($queue::put(self, item))
            }
            fn get(&self) -> Pending<'_, Result<u8, QueueShutDown>> {
                Box::pin($queue::get(self))
            }
            fn join(&self) -> Pending<'_, ()> {
                Box::pin($queue::join(self))
            }
            fn try_put(&self, item: u8) -> Result<(), TryPutError<u8>> {
                $queue::try_put(self, item)
            }
            fn try_get(&self) -> Result<u8, TryGetError> {
                $queue::try_get(self)
            }
            fn task_done(&self) -> bool {
                $queue::task_done(self).is_ok()
            }
            fn shutdown(&self, immediate: bool) {
                $queue::shutdown(self, immediate)
            }
            fn len(&self) -> usize {
                $queue::len(self)
            }
            fn is_full(&self) -> bool {
                $queue::is_full(self)
            }
        }
    };
}

any_queue!(Queue);
any_queue!(PriorityQueue);
any_queue!(LifoQueue);

/// The model's item store, in each queue's order.
trait ModelStore: Default {
    fn push(&mut self, item: u8);
    fn pop(&mut self) -> Option<u8>;
    fn push_oldest(&mut self, item: u8);
    fn len(&self) -> usize;
    fn clear(&mut self);
}

impl ModelStore for VecDeque<u8> {
    fn push(&mut self, item: u8) {
        self.push_back(item);
    }
    fn pop(&mut self) -> Option<u8> {
        self.pop_front()
    }
    fn push_oldest(&mut self, item: u8) {
        self.push_front(item);
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn clear(&mut self) {
        VecDeque::clear(self);
    }
}

impl ModelStore for BinaryHeap<Reverse<u8>> {
    fn push(&mut self, item: u8) {
        BinaryHeap::push(self, Reverse(item));
    }
    fn pop(&mut self) -> Option<u8> {
        BinaryHeap::pop(self).map(|Reverse(item)| item)
    }
    fn push_oldest(&mut self, item: u8) {
        BinaryHeap::push(self, Reverse(item));
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
    fn clear(&mut self) {
        BinaryHeap::clear(self);
    }
}

impl ModelStore for Vec<u8> {
    fn push(&mut self, item: u8) {
        Vec::push(self, item);
    }
    fn pop(&mut self) -> Option<u8> {
        Vec::pop(self)
    }
    fn push_oldest(&mut self, item: u8) {
        self.insert(0, item);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

#[derive(Debug, Clone)]
enum QueueOp {
    TryPut(u8),
    TryGet,
    StartGet,
    StartPut(u8),
    DropGetter(usize),
    DropPutter(usize),
    /// `try_put` a few items, then drop a waiting getter before anything is
    /// polled: if that getter was handed an item, it must pass it on (to the
    /// next getter, or back where the oldest item goes).
    PutThenDropGetter(Vec<u8>, usize),
    /// `try_get`, then drop a waiting putter before anything is polled: if
    /// the freed room was reserved for it, it must pass the room on.
    GetThenDropPutter(usize),
    TaskDone,
    CheckJoin,
    Shutdown(bool),
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => any::<u8>().prop_map(QueueOp::TryPut),
        3 => Just(QueueOp::TryGet),
        3 => Just(QueueOp::StartGet),
        3 => any::<u8>().prop_map(QueueOp::StartPut),
        1 => any::<usize>().prop_map(QueueOp::DropGetter),
        1 => any::<usize>().prop_map(QueueOp::DropPutter),
        2 => (prop::collection::vec(any::<u8>(), 1..4), any::<usize>())
            .prop_map(|(items, k)| QueueOp::PutThenDropGetter(items, k)),
        2 => any::<usize>().prop_map(QueueOp::GetThenDropPutter),
        2 => Just(QueueOp::TaskDone),
        1 => Just(QueueOp::CheckJoin),
        1 => prop::bool::weighted(0.3).prop_map(QueueOp::Shutdown),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    Draining,
    Closed,
}

#[derive(Default)]
struct QueueModel<S> {
    store: S,
    maxsize: usize,
    /// Items handed to getters during the current operation; they take room
    /// until the getters are polled when the operation settles.
    in_flight: usize,
    unfinished: usize,
    closed: Option<bool>,
    getters: VecDeque<usize>,
    putters: VecDeque<(usize, u8)>,
    got: BTreeMap<usize, Result<u8, QueueShutDown>>,
    put: BTreeMap<usize, Result<(), u8>>,
}

impl<S: ModelStore> QueueModel<S> {
    fn mode(&self) -> Mode {
        match self.closed {
            None => Mode::Open,
            Some(false) => Mode::Draining,
            Some(true) => Mode::Closed,
        }
    }

    fn room(&self) -> bool {
        self.maxsize == 0 || self.store.len() + self.in_flight < self.maxsize
    }

    /// Returns the getter the item was handed to, if one waited.
    fn deliver(&mut self, item: u8) -> Option<usize> {
        self.unfinished += 1;
        match self.getters.pop_front() {
            Some(getter) => {
                self.got.insert(getter, Ok(item));
                self.in_flight += 1;
                Some(getter)
            }
            None => {
                self.store.push(item);
                None
            }
        }
    }

    fn try_put(&mut self, item: u8) -> Result<Option<usize>, TryPutError<u8>> {
        if self.mode() != Mode::Open {
            return Err(TryPutError::ShutDown(item));
        }
        if !self.putters.is_empty() || !self.room() {
            return Err(TryPutError::Full(item));
        }
        Ok(self.deliver(item))
    }

    fn try_take(&mut self) -> Option<Result<u8, QueueShutDown>> {
        if self.mode() == Mode::Closed {
            return Some(Err(QueueShutDown));
        }
        match self.store.pop() {
            Some(item) => {
                while self.room() {
                    let Some((putter, item)) = self.putters.pop_front() else { break };
                    self.put.insert(putter, Ok(()));
                    self.deliver(item);
                }
                Some(Ok(item))
            }
            None if self.mode() == Mode::Draining => Some(Err(QueueShutDown)),
            None => None,
        }
    }

    fn shutdown(&mut self, immediate: bool) {
        if immediate {
            self.closed = Some(true);
            let drained = self.store.len();
            self.store.clear();
            self.unfinished = self.unfinished.saturating_sub(drained);
        } else if self.closed.is_none() {
            self.closed = Some(false);
        }
        for getter in self.getters.drain(..) {
            self.got.insert(getter, Err(QueueShutDown));
        }
        for (putter, item) in self.putters.drain(..) {
            self.put.insert(putter, Err(item));
        }
    }
}

struct QueueHarness<'a> {
    next_id: usize,
    getters: Vec<PendingGet<'a>>,
    putters: Vec<PendingPut<'a>>,
    got: BTreeMap<usize, Result<u8, QueueShutDown>>,
    put: BTreeMap<usize, Result<(), u8>>,
}

impl QueueHarness<'_> {
    /// Polls every pending future until a whole pass changes nothing.
    fn settle(&mut self) {
        loop {
            let mut progress = false;
            let mut i = 0;
            while i < self.getters.len() {
                if let Poll::Ready(result) = poll(&mut self.getters[i].1) {
                    self.got.insert(self.getters.remove(i).0, result);
                    progress = true;
                } else {
                    i += 1;
                }
            }
            let mut i = 0;
            while i < self.putters.len() {
                if let Poll::Ready(result) = poll(&mut self.putters[i].1) {
                    self.put.insert(self.putters.remove(i).0, result.map_err(PutError::into_inner));
                    progress = true;
                } else {
                    i += 1;
                }
            }
            if !progress {
                return;
            }
        }
    }
}

fn run_queue_model<Q: AnyQueue, S: ModelStore>(maxsize: usize, ops: Vec<QueueOp>) -> Result<(), TestCaseError> {
    let queue = Q::with_maxsize(maxsize);
    let mut model = QueueModel::<S> { maxsize, ..QueueModel::default() };
    let mut real = QueueHarness {
        next_id: 0,
        getters: Vec::new(),
        putters: Vec::new(),
        got: BTreeMap::new(),
        put: BTreeMap::new(),
    };
    for op in ops {
        match op {
            QueueOp::TryPut(item) => {
                let expected = model.try_put(item).map(|_| ());
                prop_assert_eq!(queue.try_put(item), expected);
            }
            QueueOp::TryGet => {
                let expected = match model.try_take() {
                    Some(Ok(item)) => Ok(item),
                    Some(Err(QueueShutDown)) => Err(TryGetError::ShutDown),
                    None => Err(TryGetError::Empty),
                };
                prop_assert_eq!(queue.try_get(), expected);
            }
            QueueOp::StartGet => {
                let id = real.next_id;
                real.next_id += 1;
                match model.try_take() {
                    Some(result) => {
                        model.got.insert(id, result);
                    }
                    None => model.getters.push_back(id),
                }
                real.getters.push((id, queue.get()));
            }
            QueueOp::StartPut(item) => {
                let id = real.next_id;
                real.next_id += 1;
                match model.try_put(item) {
                    Ok(_) => {
                        model.put.insert(id, Ok(()));
                    }
                    Err(TryPutError::Full(item)) => model.putters.push_back((id, item)),
                    Err(TryPutError::ShutDown(item)) => {
                        model.put.insert(id, Err(item));
                    }
                }
                real.putters.push((id, queue.put(item)));
            }
            QueueOp::DropGetter(k) => {
                if let Some(i) = pick(real.getters.len(), k) {
                    let (id, future) = real.getters.remove(i);
                    drop(future);
                    model.getters.retain(|&getter| getter != id);
                }
            }
            QueueOp::DropPutter(k) => {
                if let Some(i) = pick(real.putters.len(), k) {
                    let (id, future) = real.putters.remove(i);
                    drop(future);
                    model.putters.retain(|&(putter, _)| putter != id);
                }
            }
            QueueOp::PutThenDropGetter(items, k) => {
                let victim = pick(real.getters.len(), k).map(|i| real.getters.remove(i));
                for item in items {
                    let expected = model.try_put(item).map(|_| ());
                    prop_assert_eq!(queue.try_put(item), expected);
                }
                if let Some((id, future)) = victim {
                    drop(future);
                    // A waiting getter has no result yet, so one now was
                    // handed to it by this operation.
                    match model.got.remove(&id) {
                        Some(Ok(item)) => {
                            model.in_flight -= 1;
                            match model.getters.pop_front() {
                                Some(next) => {
                                    model.got.insert(next, Ok(item));
                                    model.in_flight += 1;
                                }
                                None => model.store.push_oldest(item),
                            }
                        }
                        Some(Err(_)) => unreachable!("try_put does not shut down"),
                        None => model.getters.retain(|&getter| getter != id),
                    }
                }
            }
            QueueOp::GetThenDropPutter(k) => {
                let victim = pick(real.putters.len(), k).map(|i| real.putters.remove(i));
                // Whether or not the room went to the victim first, the
                // outcome is as if it had left the line before the get.
                if let Some((id, _)) = &victim {
                    model.putters.retain(|&(putter, _)| putter != *id);
                }
                let expected = match model.try_take() {
                    Some(Ok(item)) => Ok(item),
                    Some(Err(QueueShutDown)) => Err(TryGetError::ShutDown),
                    None => Err(TryGetError::Empty),
                };
                prop_assert_eq!(queue.try_get(), expected);
                drop(victim);
            }
            QueueOp::TaskDone => {
                let expected = model.unfinished > 0;
                if expected {
                    model.unfinished -= 1;
                }
                prop_assert_eq!(queue.task_done(), expected);
            }
            QueueOp::CheckJoin => {
                let mut join = queue.join();
                prop_assert_eq!(poll(&mut join).is_ready(), model.unfinished == 0);
            }
            QueueOp::Shutdown(immediate) => {
                model.shutdown(immediate);
                queue.shutdown(immediate);
            }
        }
        real.settle();
        model.in_flight = 0;
        prop_assert_eq!(&real.got, &model.got, "getter results");
        prop_assert_eq!(&real.put, &model.put, "putter results");
        let pending_getters: Vec<_> = real.getters.iter().map(|(id, _)| *id).collect();
        prop_assert_eq!(pending_getters, model.getters.iter().copied().collect::<Vec<_>>());
        let pending_putters: Vec<_> = real.putters.iter().map(|(id, _)| *id).collect();
        prop_assert_eq!(pending_putters, model.putters.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        prop_assert_eq!(queue.len(), model.store.len());
        prop_assert_eq!(queue.is_full(), maxsize > 0 && model.store.len() >= maxsize);
    }
    // What is left comes out in the model's order.
    drop(real);
    let mut rest = Vec::new();
    while let Ok(item) = queue.try_get() {
        rest.push(item);
    }
    let mut expected = Vec::new();
    while let Some(item) = model.store.pop() {
        expected.push(item);
    }
    prop_assert_eq!(rest, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn queue_matches_a_vecdeque(maxsize in 0usize..4, ops in prop::collection::vec(queue_op(), 1..60)) {
        run_queue_model::<Queue<u8>, VecDeque<u8>>(maxsize, ops)?;
    }

    #[test]
    fn priority_queue_matches_a_binary_heap(maxsize in 0usize..4, ops in prop::collection::vec(queue_op(), 1..60)) {
        run_queue_model::<PriorityQueue<u8>, BinaryHeap<Reverse<u8>>>(maxsize, ops)?;
    }

    #[test]
    fn lifo_queue_matches_a_vec(maxsize in 0usize..4, ops in prop::collection::vec(queue_op(), 1..60)) {
        run_queue_model::<LifoQueue<u8>, Vec<u8>>(maxsize, ops)?;
    }
}

// ---------------------------------------------------------------- Lock

#[derive(Debug, Clone)]
enum LockOp {
    Arrive,
    TryLock,
    Unlock,
    DropWaiter(usize),
    /// Unlock, then drop the waiter the lock was just handed to before it
    /// is polled: it must pass the lock to the next in line.
    UnlockThenDropFirst,
}

fn lock_op() -> impl Strategy<Value = LockOp> {
    prop_oneof![
        4 => Just(LockOp::Arrive),
        1 => Just(LockOp::TryLock),
        3 => Just(LockOp::Unlock),
        1 => any::<usize>().prop_map(LockOp::DropWaiter),
        1 => Just(LockOp::UnlockThenDropFirst),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn lock_waiters_are_served_in_arrival_order(ops in prop::collection::vec(lock_op(), 1..80)) {
        let lock = Lock::new(());
        let mut next_id = 0;
        let mut pending: Vec<(usize, Pending<'_, LockGuard<'_, ()>>)> = Vec::new();
        let mut held: Option<(usize, LockGuard<'_, ()>)> = None;
        // The model: who holds the lock, and who waits, in order.
        let mut holder: Option<usize> = None;
        let mut line: VecDeque<usize> = VecDeque::new();
        for op in ops {
            match op {
                LockOp::Arrive => {
                    let id = next_id;
                    next_id += 1;
                    if holder.is_none() { holder = Some(id) } else { line.push_back(id) }
                    pending.push((id, Box::pin(lock.lock())));
                }
                LockOp::TryLock => {
                    let id = next_id;
                    next_id += 1;
                    let expected = holder.is_none();
                    let got = lock.try_lock();
                    prop_assert_eq!(got.is_ok(), expected);
                    if let Ok(guard) = got {
                        holder = Some(id);
                        held = Some((id, guard));
                    }
                }
                LockOp::Unlock => {
                    if holder.is_some() {
                        holder = line.pop_front();
                        held = None;
                    }
                }
                LockOp::DropWaiter(k) => {
                    if let Some(i) = pick(pending.len(), k) {
                        let (id, _) = pending.remove(i);
                        line.retain(|&waiter| waiter != id);
                    }
                }
                LockOp::UnlockThenDropFirst => {
                    if holder.is_some() {
                        held = None;
                        holder = line.pop_front();
                        if let Some(first) = holder {
                            pending.retain(|(id, _)| *id != first);
                            holder = line.pop_front();
                        }
                    }
                }
            }
            // Settle: a ready future becomes the holder.
            let mut i = 0;
            while i < pending.len() {
                if let Poll::Ready(guard) = poll(&mut pending[i].1) {
                    let (id, _) = pending.remove(i);
                    prop_assert!(held.is_none(), "two guards at once");
                    held = Some((id, guard));
                } else {
                    i += 1;
                }
            }
            prop_assert_eq!(held.as_ref().map(|(id, _)| *id), holder);
            let waiting: Vec<_> = pending.iter().map(|(id, _)| *id).collect();
            prop_assert_eq!(waiting, line.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(lock.is_locked(), holder.is_some());
        }
    }
}

// ---------------------------------------------------------------- Semaphore

#[derive(Debug, Clone)]
enum SemaphoreOp {
    Arrive,
    TryAcquire,
    Release(usize),
    AddPermits(usize),
    DropWaiter(usize),
    /// Release, then drop the waiter the permit was just handed to before it
    /// is polled: it must pass the permit on.
    ReleaseThenDropFirst(usize),
}

fn semaphore_op() -> impl Strategy<Value = SemaphoreOp> {
    prop_oneof![
        4 => Just(SemaphoreOp::Arrive),
        1 => Just(SemaphoreOp::TryAcquire),
        3 => any::<usize>().prop_map(SemaphoreOp::Release),
        1 => (0usize..3).prop_map(SemaphoreOp::AddPermits),
        1 => any::<usize>().prop_map(SemaphoreOp::DropWaiter),
        1 => any::<usize>().prop_map(SemaphoreOp::ReleaseThenDropFirst),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn semaphore_waiters_are_served_in_arrival_order(
        permits in 0usize..3,
        ops in prop::collection::vec(semaphore_op(), 1..80),
    ) {
        let semaphore = Semaphore::new(permits);
        let mut next_id = 0;
        let mut pending: Vec<(usize, Pending<'_, SemaphorePermit<'_>>)> = Vec::new();
        let mut held: Vec<(usize, SemaphorePermit<'_>)> = Vec::new();
        // The model.
        let mut available = permits;
        let mut holders: Vec<usize> = Vec::new();
        let mut line: VecDeque<usize> = VecDeque::new();
        let grant = |available: &mut usize, holders: &mut Vec<usize>, line: &mut VecDeque<usize>| {
            match line.pop_front() {
                Some(waiter) => holders.push(waiter),
                None => *available += 1,
            }
        };
        for op in ops {
            match op {
                SemaphoreOp::Arrive => {
                    let id = next_id;
                    next_id += 1;
                    if available > 0 {
                        available -= 1;
                        holders.push(id);
                    } else {
                        line.push_back(id);
                    }
                    pending.push((id, Box::pin(semaphore.acquire())));
                }
                SemaphoreOp::TryAcquire => {
                    let id = next_id;
                    next_id += 1;
                    let got = semaphore.try_acquire();
                    prop_assert_eq!(got.is_ok(), available > 0);
                    if let Ok(permit) = got {
                        available -= 1;
                        holders.push(id);
                        held.push((id, permit));
                    }
                }
                SemaphoreOp::Release(k) => {
                    if let Some(i) = pick(held.len(), k) {
                        let (id, _) = held.remove(i);
                        holders.retain(|&holder| holder != id);
                        grant(&mut available, &mut holders, &mut line);
                    }
                }
                SemaphoreOp::AddPermits(n) => {
                    semaphore.add_permits(n);
                    for _ in 0..n {
                        grant(&mut available, &mut holders, &mut line);
                    }
                }
                SemaphoreOp::DropWaiter(k) => {
                    if let Some(i) = pick(pending.len(), k) {
                        let (id, _) = pending.remove(i);
                        line.retain(|&waiter| waiter != id);
                    }
                }
                SemaphoreOp::ReleaseThenDropFirst(k) => {
                    if let Some(i) = pick(held.len(), k) {
                        let first = line.front().copied();
                        let (id, _) = held.remove(i);
                        holders.retain(|&holder| holder != id);
                        grant(&mut available, &mut holders, &mut line);
                        if let Some(first) = first {
                            pending.retain(|(id, _)| *id != first);
                            holders.retain(|&holder| holder != first);
                            grant(&mut available, &mut holders, &mut line);
                        }
                    }
                }
            }
            let mut i = 0;
            while i < pending.len() {
                if let Poll::Ready(permit) = poll(&mut pending[i].1) {
                    let (id, _) = pending.remove(i);
                    held.push((id, permit));
                } else {
                    i += 1;
                }
            }
            let mut real_holders: Vec<_> = held.iter().map(|(id, _)| *id).collect();
            real_holders.sort_unstable();
            let mut model_holders = holders.clone();
            model_holders.sort_unstable();
            prop_assert_eq!(real_holders, model_holders);
            let waiting: Vec<_> = pending.iter().map(|(id, _)| *id).collect();
            prop_assert_eq!(waiting, line.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(semaphore.available_permits(), available);
        }
    }
}
