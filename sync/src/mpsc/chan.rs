//! The channel's core: senders queue values behind a mutex; the receiver
//! takes the whole queue at once into a batch of its own and receives from
//! that without a lock until it runs dry. So senders and the receiver meet on
//! the mutex once per batch, not once per value.
//!
//! # Counting
//!
//! `count` is how many values the channel holds, queued or in the
//! receiver's batch. Senders add to it under the mutex; the receiver takes
//! from it one value at a time, without the mutex. A bounded channel has
//! room while `count` plus the slots reserved for waiting senders is under
//! its capacity.
//!
//! # Waiting senders
//!
//! A sender that finds no room waits in line, and is served as a queue's
//! putters are: when room frees up the oldest gets a slot reserved, which
//! no newcomer can take, and puts its value when it runs; a sender dropped
//! with a slot reserved passes the slot on.
//!
//! Room frees up in the receiver, without the mutex, so the two meet in a
//! Dekker pair: a sender about to wait sets `senders_wait` and then reads
//! `count` again (under the mutex, before it joins the line); the receiver
//! takes from `count` and then reads `senders_wait`. All four accesses are
//! `SeqCst`, so at least one sees the other: the sender finds the room, or
//! the receiver takes the mutex (after the sender joined the line) and
//! serves the line.

use crate::error::{TryPutError, TryRecvError};
use crate::waiters::{Handoff, Wait, WaitList, Waiters, WakeList};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// The channel is closed: sends fail, and the receiver gets an error once
/// nothing is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Closed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    /// Closed to senders; the receiver drains what is left.
    Draining,
    /// The receiver is gone: nothing is left to drain.
    Closed,
}

pub(super) struct Chan<T> {
    state: Mutex<State<T>>,
    /// Values queued or in the receiver's batch.
    count: AtomicUsize,
    /// Set while a sender may wait for room: the receiver then serves the
    /// line after taking a value. Cleared under the mutex when the line is
    /// found empty.
    senders_wait: AtomicBool,
    /// The most values the channel holds; 0 for no limit.
    capacity: usize,
    /// Live senders: the last to go closes the channel.
    pub(super) senders: AtomicUsize,
}

struct State<T> {
    queue: VecDeque<T>,
    mode: Mode,
    /// Slots granted to waiting senders that have not put their value yet.
    reserved: usize,
    senders: WaitList<Result<(), Closed>>,
    /// The receiver's waker while it waits for a value.
    receiver: Option<Waker>,
}

impl<T> Handoff<Waiters> for State<T> {
    type Grant = Result<(), Closed>;

    fn waiters(&mut self) -> &mut WaitList<Self::Grant> {
        &mut self.senders
    }

    fn pass_on(&mut self, grant: Self::Grant, wakers: &mut WakeList) -> Option<Self::Grant> {
        // A slot reserved for a sender that left goes to the next in line,
        // or is given up.
        if grant.is_ok() && self.senders.grant_first(Ok(()), wakers).is_err() {
            self.reserved -= 1;
        }
        None
    }
}

impl<T> Chan<T> {
    pub(super) fn new(capacity: usize) -> Chan<T> {
        Chan {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                mode: Mode::Open,
                reserved: 0,
                senders: WaitList::new(),
                receiver: None,
            }),
            count: AtomicUsize::new(0),
            senders_wait: AtomicBool::new(false),
            capacity,
            senders: AtomicUsize::new(1),
        }
    }

    pub(super) fn len(&self) -> usize {
        // SeqCst: as every access to `count` (module docs); here a snapshot.
        self.count.load(Ordering::SeqCst)
    }

    fn has_room(&self, state: &State<T>) -> bool {
        // SeqCst: the sender's read of the Dekker pair (module docs).
        self.capacity == 0 || self.count.load(Ordering::SeqCst) + state.reserved < self.capacity
    }

    /// Under the mutex: queues `value` and takes the receiver's waker.
    fn push(&self, state: &mut State<T>, value: T, wakers: &mut WakeList) {
        state.queue.push_back(value);
        // SeqCst: as every access to `count`.
        self.count.fetch_add(1, Ordering::SeqCst);
        if let Some(receiver) = state.receiver.take() {
            wakers.push(receiver);
        }
    }

    /// Under the mutex: queues `value` if the channel is open and has room
    /// that no waiting sender is owed.
    fn try_push(&self, state: &mut State<T>, value: T, wakers: &mut WakeList) -> Result<(), TryPutError<T>> {
        if state.mode != Mode::Open {
            return Err(TryPutError::ShutDown(value));
        }
        if !state.senders.is_empty() || !self.has_room(state) {
            return Err(TryPutError::Full(value));
        }
        self.push(state, value, wakers);
        Ok(())
    }

    pub(super) fn try_send(&self, value: T) -> Result<(), TryPutError<T>> {
        let mut wakers = WakeList::new();
        let result = self.try_push(&mut self.state.lock(), value, &mut wakers);
        wakers.wake_all();
        result
    }

    pub(super) async fn send(&self, value: T) -> Result<(), T> {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        let mut value = Some(value);
        let grant = Wait::<_, Waiters, _>::new(&self.state, |state: &mut State<T>, wakers: &mut WakeList| {
            match self.try_push(state, value.take().expect("the value is sent once"), wakers) {
                Ok(()) => Some(Ok(())),
                Err(TryPutError::ShutDown(back)) => {
                    value = Some(back);
                    Some(Err(Closed))
                }
                Err(TryPutError::Full(back)) => {
                    // About to join the line: the sender's write of the
                    // Dekker pair, then its read (module docs).
                    self.senders_wait.store(true, Ordering::SeqCst);
                    if state.senders.is_empty() && self.has_room(state) {
                        self.push(state, back, wakers);
                        return Some(Ok(()));
                    }
                    value = Some(back);
                    None
                }
            }
        })
        .await;
        match (grant, value) {
            (Ok(()), None) => Ok(()),
            (Ok(()), Some(value)) => {
                // A slot was reserved for this sender while it waited.
                let mut wakers = WakeList::new();
                let mut state = self.state.lock();
                state.reserved -= 1;
                let result = if state.mode == Mode::Open {
                    self.push(&mut state, value, &mut wakers);
                    Ok(())
                } else {
                    Err(value)
                };
                drop(state);
                wakers.wake_all();
                result
            }
            (Err(Closed), Some(value)) => Err(value),
            (Err(Closed), None) => unreachable!("a refused value comes back"),
        }
    }

    /// The receiver took a value out of the channel: counts it, and serves
    /// the waiting senders if there are any.
    fn took_one(&self) {
        // SeqCst: the receiver's write of the Dekker pair, then its read.
        self.count.fetch_sub(1, Ordering::SeqCst);
        if self.capacity != 0 && self.senders_wait.load(Ordering::SeqCst) {
            let mut wakers = WakeList::new();
            self.grant_room(&mut self.state.lock(), &mut wakers);
            wakers.wake_all();
        }
    }

    /// Under the mutex: reserves the free room for the oldest waiting
    /// senders, and clears `senders_wait` once none waits.
    fn grant_room(&self, state: &mut State<T>, wakers: &mut WakeList) {
        while self.has_room(state) && state.senders.grant_first(Ok(()), wakers).is_ok() {
            state.reserved += 1;
        }
        if state.senders.is_empty() {
            // SeqCst: as every access to `senders_wait`. Set again by the
            // next sender that waits, under this mutex.
            self.senders_wait.store(false, Ordering::SeqCst);
        }
    }

    /// The receiver's next value, waiting for one with `cx`'s waker.
    pub(super) fn poll_recv(&self, batch: &mut VecDeque<T>, cx: &mut Context<'_>) -> Poll<Result<T, Closed>> {
        match self.next(batch, Some(cx.waker())) {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }

    /// The receiver's next value if there is one now.
    pub(super) fn try_recv(&self, batch: &mut VecDeque<T>) -> Result<T, TryRecvError> {
        match self.next(batch, None) {
            Some(Ok(value)) => Ok(value),
            Some(Err(Closed)) => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The receiver's next value: from its batch, or from the whole queue
    /// taken into the batch; `None` if there is none yet, and then `waker`,
    /// if given, is woken by the next value sent.
    fn next(&self, batch: &mut VecDeque<T>, waker: Option<&Waker>) -> Option<Result<T, Closed>> {
        if batch.is_empty() {
            let mut retired = None;
            let mut state = self.state.lock();
            if state.queue.is_empty() {
                let next = if state.mode != Mode::Open {
                    Some(Err(Closed))
                } else {
                    match (&mut state.receiver, waker) {
                        (Some(stored), Some(waker)) if stored.will_wake(waker) => {}
                        (receiver, Some(waker)) => retired = receiver.replace(waker.clone()),
                        (_, None) => {}
                    }
                    None
                };
                drop(state);
                // A replaced waker is dropped after unlocking: its `Drop`
                // is foreign code and may come back to this channel.
                drop(retired);
                return next;
            }
            std::mem::swap(&mut state.queue, batch);
        }
        let value = batch.pop_front().expect("the batch is not empty");
        self.took_one();
        Some(Ok(value))
    }

    /// Closes the channel to senders: those waiting are refused, the
    /// receiver drains what is left. With `immediate` (the receiver is
    /// gone), the queued values are handed back to be dropped.
    pub(super) fn close(&self, immediate: bool) -> VecDeque<T> {
        let mut wakers = WakeList::new();
        let mut state = self.state.lock();
        let mut dropped = VecDeque::new();
        if immediate {
            state.mode = Mode::Closed;
            dropped = std::mem::take(&mut state.queue);
            // The receiver is gone, with its batch: nothing is left. SeqCst:
            // as every access to `count`.
            self.count.store(0, Ordering::SeqCst);
        } else if state.mode == Mode::Open {
            state.mode = Mode::Draining;
        }
        state.senders.grant_all(|| Err(Closed), &mut wakers);
        if let Some(receiver) = state.receiver.take() {
            wakers.push(receiver);
        }
        drop(state);
        wakers.wake_all();
        dropped
    }

    pub(super) fn is_closed(&self) -> bool {
        self.state.lock().mode != Mode::Open
    }
}
