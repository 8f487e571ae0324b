//! The queue machinery shared by `Queue`, `PriorityQueue`, `LifoQueue` and
//! the `mpsc` channel; only the store's order differs between them.
//!
//! Getters are served by hand-off: a put that finds a getter waiting moves
//! the item into the getter's node instead of the store. Such an item is
//! "in flight": it has left the store but still takes room until its getter
//! resumes, as it would in asyncio, where it sits in the queue until then.
//! So a waiting getter implies an empty store, and `try_get` can never take
//! an item promised to a getter that came first.
//!
//! Putters waiting for room are granted a *slot*: when room frees up the
//! oldest putter gets it reserved (counted in `reserved`) and then puts its
//! item when it runs. A reserved slot takes room too, so no newcomer can put
//! into it. A putter dropped with a slot reserved passes the slot on.

use super::store::Store;
use crate::error::{PutError, QueueShutDown, TaskDoneError, TryGetError, TryPutError};
use crate::waiters::{Handoff, Wait, WaitList, WakeList};
use parking_lot::Mutex;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Marks a queue's list of tasks waiting to get an item.
pub(crate) enum Getters {}
/// Marks a queue's list of tasks waiting for room to put an item.
pub(crate) enum Putters {}
/// Marks a queue's list of tasks in `join`.
pub(crate) enum Joiners {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    /// `shutdown(false)`: nothing more goes in; what is there can be got.
    Draining,
    /// `shutdown(true)`: nothing goes in or out.
    Closed,
}

pub(crate) struct QueueCore<T, S> {
    state: Mutex<QueueState<T, S>>,
}

pub(crate) struct QueueState<T, S> {
    store: S,
    /// 0 means unbounded.
    maxsize: usize,
    /// Items handed to getters that have not resumed yet.
    in_flight: usize,
    /// Slots granted to putters that have not put their item yet.
    reserved: usize,
    /// Items put and not yet marked done with `task_done`.
    unfinished: usize,
    mode: Mode,
    getters: WaitList<Result<T, QueueShutDown>>,
    putters: WaitList<Result<(), QueueShutDown>>,
    joiners: WaitList<()>,
}

impl<T, S: Store<T>> QueueState<T, S> {
    /// Whether one more item fits, counting items in flight and reserved
    /// slots as taken.
    fn has_room(&self) -> bool {
        self.maxsize == 0 || self.store.len() + self.in_flight + self.reserved < self.maxsize
    }

    /// Puts an item the queue has accepted: to the oldest waiting getter,
    /// or into the store.
    fn deliver(&mut self, item: T, wakers: &mut WakeList) {
        match self.getters.grant_first(Ok(item), wakers) {
            Ok(()) => {
                self.in_flight += 1;
                self.unfinished += 1;
            }
            Err(Ok(item)) => self.push_counted(item),
            Err(Err(_)) => unreachable!("deliver only hands out items"),
        }
    }

    /// Stores a new item and counts it unfinished, keeping the count equal
    /// to what the store holds even if the user's `Ord` panics inside a
    /// `PriorityQueue`'s push: the item is counted if the store kept it,
    /// and the panic then carries on to the caller.
    fn push_counted(&mut self, item: T) {
        let before = self.store.len();
        let pushed = catch_unwind(AssertUnwindSafe(|| self.store.push(item)));
        self.unfinished += self.store.len() - before;
        if let Err(payload) = pushed {
            resume_unwind(payload);
        }
    }

    /// Takes the next item out of the store. If the user's `Ord` panics
    /// inside a `PriorityQueue`'s pop, the item being taken out is lost with
    /// the unwinding: it counts as done (nobody will call `task_done` for
    /// it, and `join` must still return) and its room is given to a waiting
    /// putter, before the panic carries on to the caller.
    fn pop_counted(&mut self, wakers: &mut WakeList) -> Option<T> {
        let before = self.store.len();
        match catch_unwind(AssertUnwindSafe(|| self.store.pop())) {
            Ok(item) => item,
            Err(payload) => {
                self.finish(before - self.store.len(), wakers);
                self.grant_room(wakers);
                resume_unwind(payload)
            }
        }
    }

    fn try_put(&mut self, item: T, wakers: &mut WakeList) -> Result<(), TryPutError<T>> {
        if self.mode != Mode::Open {
            return Err(TryPutError::ShutDown(item));
        }
        // Waiting putters imply a full queue (room goes to them first), but
        // checking both keeps a newcomer from ever passing them.
        if !self.putters.is_empty() || !self.has_room() {
            return Err(TryPutError::Full(item));
        }
        self.deliver(item, wakers);
        Ok(())
    }

    /// Takes the next stored item; `None` means "wait".
    fn try_take(&mut self, wakers: &mut WakeList) -> Option<Result<T, QueueShutDown>> {
        if self.mode == Mode::Closed {
            return Some(Err(QueueShutDown));
        }
        match self.pop_counted(wakers) {
            Some(item) => {
                self.grant_room(wakers);
                Some(Ok(item))
            }
            None if self.mode == Mode::Draining => Some(Err(QueueShutDown)),
            None => None,
        }
    }

    /// Reserves freed room for the oldest waiting putters.
    fn grant_room(&mut self, wakers: &mut WakeList) {
        while self.has_room() && self.putters.grant_first(Ok(()), wakers).is_ok() {
            self.reserved += 1;
        }
    }

    fn put_reserved(&mut self, item: T, wakers: &mut WakeList) -> Result<(), PutError<T>> {
        self.reserved -= 1;
        if self.mode != Mode::Open {
            return Err(PutError(item));
        }
        self.deliver(item, wakers);
        Ok(())
    }

    fn finish(&mut self, n: usize, wakers: &mut WakeList) {
        self.unfinished = self.unfinished.saturating_sub(n);
        if self.unfinished == 0 {
            self.joiners.grant_all(|| (), wakers);
        }
    }

    fn shutdown(&mut self, immediate: bool, wakers: &mut WakeList) -> S {
        let mut drained = S::default();
        if immediate {
            self.mode = Mode::Closed;
            drained = std::mem::take(&mut self.store);
            // asyncio counts the discarded items as done, so `join` returns.
            self.finish(drained.len(), wakers);
        } else if self.mode == Mode::Open {
            self.mode = Mode::Draining;
        }
        // A waiting getter implies an empty store, so every one of them is
        // done for; every putter is refused.
        self.getters.grant_all(|| Err(QueueShutDown), wakers);
        self.putters.grant_all(|| Err(QueueShutDown), wakers);
        drained
    }
}

impl<T, S: Store<T>> Handoff<Getters> for QueueState<T, S> {
    type Grant = Result<T, QueueShutDown>;

    fn waiters(&mut self) -> &mut WaitList<Self::Grant> {
        &mut self.getters
    }

    fn taken(&mut self, grant: &Self::Grant, wakers: &mut WakeList) {
        if grant.is_ok() {
            self.in_flight -= 1;
            self.grant_room(wakers);
        }
    }

    fn pass_on(&mut self, grant: Self::Grant, wakers: &mut WakeList) -> Option<Self::Grant> {
        let Ok(item) = grant else { return None };
        self.in_flight -= 1;
        if self.mode == Mode::Closed {
            self.finish(1, wakers);
            return Some(Ok(item));
        }
        match self.getters.grant_first(Ok(item), wakers) {
            Ok(()) => self.in_flight += 1,
            Err(Ok(item)) => self.store.push_oldest(item),
            Err(Err(_)) => unreachable!("only items are passed on"),
        }
        None
    }
}

impl<T, S: Store<T>> Handoff<Putters> for QueueState<T, S> {
    type Grant = Result<(), QueueShutDown>;

    fn waiters(&mut self) -> &mut WaitList<Self::Grant> {
        &mut self.putters
    }

    fn pass_on(&mut self, grant: Self::Grant, wakers: &mut WakeList) -> Option<Self::Grant> {
        if grant.is_ok() {
            self.reserved -= 1;
            self.grant_room(wakers);
        }
        None
    }
}

impl<T, S: Store<T>> Handoff<Joiners> for QueueState<T, S> {
    type Grant = ();

    fn waiters(&mut self) -> &mut WaitList<()> {
        &mut self.joiners
    }

    /// Every joiner was woken by the same event; nobody else is owed it.
    fn pass_on(&mut self, _: (), _: &mut WakeList) -> Option<()> {
        None
    }
}

impl<T, S: Store<T>> QueueCore<T, S> {
    pub(crate) fn new(maxsize: usize) -> QueueCore<T, S> {
        QueueCore {
            state: Mutex::new(QueueState {
                store: S::default(),
                maxsize,
                in_flight: 0,
                reserved: 0,
                unfinished: 0,
                mode: Mode::Open,
                getters: WaitList::new(),
                putters: WaitList::new(),
                joiners: WaitList::new(),
            }),
        }
    }

    pub(crate) async fn put(&self, item: T) -> Result<(), PutError<T>> {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        let mut item = Some(item);
        let grant =
            Wait::<_, Putters, _>::new(&self.state, |st: &mut QueueState<T, S>, wakers: &mut WakeList| {
                match st.try_put(item.take().expect("the item is put once"), wakers) {
                    Ok(()) => Some(Ok(())),
                    Err(TryPutError::Full(back)) => {
                        item = Some(back);
                        None
                    }
                    Err(TryPutError::ShutDown(back)) => {
                        item = Some(back);
                        Some(Err(QueueShutDown))
                    }
                }
            })
            .await;
        match (grant, item) {
            (Ok(()), None) => Ok(()),
            (Ok(()), Some(item)) => {
                // A slot was reserved for us while we waited.
                let mut wakers = WakeList::new();
                let result = self.state.lock().put_reserved(item, &mut wakers);
                wakers.wake_all();
                result
            }
            (Err(QueueShutDown), Some(item)) => Err(PutError(item)),
            (Err(QueueShutDown), None) => unreachable!("a refused item comes back"),
        }
    }

    pub(crate) fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        let mut wakers = WakeList::new();
        let result = self.state.lock().try_put(item, &mut wakers);
        wakers.wake_all();
        result
    }

    pub(crate) async fn get(&self) -> Result<T, QueueShutDown> {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        Wait::<_, Getters, _>::new(&self.state, |st: &mut QueueState<T, S>, wakers: &mut WakeList| st.try_take(wakers))
            .await
    }

    pub(crate) fn try_get(&self) -> Result<T, TryGetError> {
        let mut wakers = WakeList::new();
        let taken = self.state.lock().try_take(&mut wakers);
        wakers.wake_all();
        match taken {
            Some(Ok(item)) => Ok(item),
            Some(Err(QueueShutDown)) => Err(TryGetError::ShutDown),
            None => Err(TryGetError::Empty),
        }
    }

    pub(crate) fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut wakers = WakeList::new();
        let mut state = self.state.lock();
        if state.unfinished == 0 {
            return Err(TaskDoneError);
        }
        state.finish(1, &mut wakers);
        drop(state);
        wakers.wake_all();
        Ok(())
    }

    pub(crate) async fn join(&self) {
        Wait::<_, Joiners, _>::new(&self.state, |st: &mut QueueState<T, S>, _: &mut WakeList| {
            (st.unfinished == 0).then_some(())
        })
        .await;
    }

    pub(crate) fn shutdown(&self, immediate: bool) {
        let mut wakers = WakeList::new();
        let drained = self.state.lock().shutdown(immediate, &mut wakers);
        wakers.wake_all();
        drop(drained);
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.state.lock().mode != Mode::Open
    }

    /// Items in the store plus items handed to getters that have not
    /// resumed: asyncio's `qsize()`, where those items are still queued.
    pub(crate) fn len(&self) -> usize {
        let state = self.state.lock();
        state.store.len() + state.in_flight
    }

    pub(crate) fn is_full(&self) -> bool {
        let state = self.state.lock();
        state.maxsize > 0 && !state.has_room()
    }

    pub(crate) fn maxsize(&self) -> usize {
        self.state.lock().maxsize
    }
}

impl<T, S: Store<T>> QueueCore<T, S> {
    /// `Debug` under the name of the public type wrapping this core.
    pub(crate) fn debug_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct(name)
            .field("len", &(state.store.len() + state.in_flight))
            .field("maxsize", &state.maxsize)
            .field("unfinished", &state.unfinished)
            .field("getters", &state.getters.len())
            .field("putters", &state.putters.len())
            .field("shutdown", &(state.mode != Mode::Open))
            .finish()
    }
}

impl<T, S: Store<T>> fmt::Debug for QueueCore<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug_as("Queue", f)
    }
}
