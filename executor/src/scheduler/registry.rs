//! Every unfinished task of a loop, so that closing the loop can drop the
//! futures nobody will poll again (tasks parked on a waker that will never
//! fire), and so that dropping a `Task` handle detaches instead of leaking.
//!
//! Each shard is an intrusive doubly-linked list through the tasks' own
//! headers (`Header::links`), as tokio's owned-task list is: registering a
//! task allocates nothing, and costs its cell two words, where a slab entry
//! cost a third more plus the slab's spare capacity.
//!
//! Sharded by task id so that workers spawning and completing tasks at the
//! same time rarely meet on one lock.
//!
//! A worker does not unlink each task it completes at once: it counts it
//! out (`retire`) and unlinks its completed tasks together, a lock per
//! shard per batch (`unlink_retired`), when it has [`UNLINK_BATCH`] of them
//! or before it parks. Unlinking one at a time, every task took a shard's
//! lock twice, once on the spawning thread and once on the completing
//! worker, so each lock's cache line crossed cores twice a task; in
//! batches the completing side takes it once for many tasks. A completed
//! task still linked is left out of every listing, and the count leaves it
//! out from the moment it is retired, before it is marked complete, so the
//! count is as exact as if it were unlinked then.
//!
//! The count is kept in counters that only grow, each with one writer at a
//! time: per shard, the tasks inserted and the tasks removed one at a time
//! (both under the shard's lock); per worker, the tasks it retired. The
//! unfinished tasks are the inserted less the removed and the retired, and
//! unlinking a batch changes no counter.

use crate::task::{Header, TaskRef};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many completed tasks a worker keeps linked before it unlinks them.
pub(crate) const UNLINK_BATCH: usize = 32;

#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    /// Each shard's counters, written under its lock, so that counting the
    /// tasks (metrics, `num_tasks`) takes no lock a spawning or completing
    /// thread could wait for.
    counts: Box<[ShardCounts]>,
    mask: usize,
    /// Per worker: the tasks it retired (completed and counted out, linked
    /// until its next `unlink_retired`). Written only by that worker, so
    /// each on a cache line of its own.
    retired: Box<[CachePadded<AtomicUsize>]>,
    /// Set by `close`, which takes every task: nothing is unfinished after.
    closed: AtomicBool,
}

/// A shard's counters, since the registry was made (wrapping).
#[derive(Debug, Default)]
struct ShardCounts {
    inserted: AtomicUsize,
    /// Removed by `remove`, one at a time.
    removed: AtomicUsize,
}

impl ShardCounts {
    /// Adds one to `counter`; the caller holds the shard's lock, which
    /// makes it the only writer. Release: see `Registry::len`.
    fn bump(counter: &AtomicUsize) {
        counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
    }
}

/// One list of registered tasks. Each node is a counted reference (a
/// `TaskRef` given up with `into_raw`), which the list gives back when the
/// task leaves it.
#[derive(Debug, Default)]
struct Shard {
    head: Option<NonNull<Header>>,
    /// Set once by `close`; the shard then accepts nothing more, so a task
    /// spawned during shutdown cannot slip in after the drain.
    closed: bool,
}

// SAFETY: the list's nodes are `TaskRef`s in pointer form, and `TaskRef` is
// `Send`; their links are touched only under the shard's lock.
unsafe impl Send for Shard {}

impl Shard {
    /// The unfinished tasks, newest first: the linked ones that are not
    /// complete (a worker unlinks the completed ones in batches).
    fn tasks(&self) -> impl Iterator<Item = &Header> + '_ {
        std::iter::successors(self.head, |node| {
            // SAFETY: a node is kept alive by the reference the list holds,
            // and its links are ours while `&self` (the lock) lasts.
            unsafe { node.as_ref().next() }
        })
        // SAFETY: as above.
        .map(|node| unsafe { node.as_ref() })
        .filter(|task| !task.state.load().is_complete())
    }

    /// Unlinks `header`, returning the list's reference (None if the task
    /// is not in the list: `close` took it).
    fn unlink(&mut self, header: &Header) -> Option<TaskRef> {
        // SAFETY: the caller holds the shard's lock (`&mut self`), which
        // guards the links of its nodes, and the list's references keep its
        // nodes alive; `header` is alive since the caller borrows it. A task
        // that is not in the list has no links, and is not the head.
        unsafe {
            let (prev, next) = (header.prev(), header.next());
            // The node as the list holds it: a pointer that came with the
            // reference, whose provenance covers the whole cell.
            let node = match prev {
                Some(prev) => prev.as_ref().next(),
                None => self.head.filter(|head| std::ptr::eq(head.as_ptr(), header)),
            }?;
            match prev {
                Some(prev) => prev.as_ref().set_links(prev.as_ref().prev(), next),
                None => self.head = next,
            }
            if let Some(next) = next {
                next.as_ref().set_links(prev, next.as_ref().next());
            }
            header.set_links(None, None);
            Some(TaskRef::from_raw_owned(node))
        }
    }
}

impl Registry {
    /// A registry for a loop of `num_workers` workers (which `retire`).
    pub(crate) fn new(num_workers: usize) -> Registry {
        // Four shards a worker: enough that concurrent spawns and completions
        // rarely contend, few enough that closing walks them quickly.
        let count = (4 * num_workers.max(1)).next_power_of_two();
        Registry {
            shards: (0..count).map(|_| Mutex::new(Shard::default())).collect(),
            counts: (0..count).map(|_| ShardCounts::default()).collect(),
            mask: count - 1,
            retired: (0..num_workers).map(|_| CachePadded::new(AtomicUsize::new(0))).collect(),
            closed: AtomicBool::new(false),
        }
    }

    fn index(&self, header: &Header) -> usize {
        header.id.0 as usize & self.mask
    }

    /// Takes the registry's reference to a new task. Gives it back if the
    /// loop is closed.
    pub(crate) fn insert(&self, task: TaskRef) -> Result<(), TaskRef> {
        let index = self.index(task.header());
        let mut shard = self.shards[index].lock();
        if shard.closed {
            return Err(task);
        }
        let node = task.into_raw();
        // SAFETY: we hold the shard's lock, which guards the links of the
        // new node and of the old head; the list's reference keeps the old
        // head alive, and `node`'s is the one `into_raw` just gave up.
        unsafe {
            node.as_ref().set_links(None, shard.head);
            if let Some(old_head) = shard.head {
                old_head.as_ref().set_links(Some(node), old_head.as_ref().next());
            }
        }
        shard.head = Some(node);
        ShardCounts::bump(&self.counts[index].inserted);
        Ok(())
    }

    /// Removes a completed task, returning the registry's reference (None if
    /// `close` already took it, or it was never registered).
    pub(crate) fn remove(&self, header: &Header) -> Option<TaskRef> {
        let index = self.index(header);
        let mut shard = self.shards[index].lock();
        let registered = shard.unlink(header)?;
        ShardCounts::bump(&self.counts[index].removed);
        Some(registered)
    }

    /// Worker `worker` completed `task` (a reference of its own, kept in its
    /// `batch` until the task is unlinked): counts it out now, unlinks it
    /// with the rest of the batch once the batch is full. Called before the
    /// task is marked complete.
    pub(crate) fn retire(&self, worker: usize, batch: &mut Vec<TaskRef>, task: TaskRef) {
        let retired = &self.retired[worker];
        // Only this worker writes it. Release: see `len`.
        retired.store(retired.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
        batch.push(task);
        if batch.len() >= UNLINK_BATCH {
            self.unlink_retired(batch);
        }
    }

    /// Unlinks the tasks a worker retired into `batch`, taking each shard's
    /// lock once, and gives back every reference, the registry's and the
    /// batch's, which frees the cells nobody else holds. The count left
    /// them out already.
    pub(crate) fn unlink_retired(&self, batch: &mut Vec<TaskRef>) {
        batch.sort_unstable_by_key(|task| self.index(task.header()));
        for group in batch.chunk_by(|a, b| self.index(a.header()) == self.index(b.header())) {
            let index = self.index(group[0].header());
            let mut shard = self.shards[index].lock();
            for task in group {
                // Never the last reference (the batch holds one): giving it
                // back under the lock frees nothing.
                drop(shard.unlink(task.header()));
            }
        }
        batch.clear();
    }

    /// Closes every shard and returns every task still registered.
    pub(crate) fn close(&self) -> Vec<TaskRef> {
        // Relaxed: `len` reads it as a hint; a count taken while the shards
        // close may still include tasks being taken.
        self.closed.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.closed = true;
            let mut node = shard.head.take();
            while let Some(current) = node {
                // SAFETY: under the shard's lock; the list's reference keeps
                // `current` alive until it is handed back below, after its
                // links were read.
                unsafe {
                    node = current.as_ref().next();
                    current.as_ref().set_links(None, None);
                    all.push(TaskRef::from_raw_owned(current));
                }
            }
        }
        all
    }

    /// The name of the unfinished task `id`, if it is still registered.
    /// Scans one shard: for reports, not hot paths.
    pub(crate) fn task_name(&self, id: u64) -> Option<String> {
        let shard = self.shards[id as usize & self.mask].lock();
        let name = shard.tasks().find(|task| task.id.0 == id).map(Header::name);
        name
    }

    /// A snapshot of every registered task, one shard lock at a time.
    pub(crate) fn all_tasks(&self) -> Vec<crate::task::TaskInfo> {
        let mut all = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            all.extend(shard.lock().tasks().map(Header::info));
        }
        all
    }

    /// Calls `f` with every registered task, one shard locked at a time
    /// (`f` must not spawn or complete tasks).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            shard.lock().tasks().for_each(&mut f);
        }
    }

    /// The number of unfinished tasks, without taking a lock. A task the
    /// caller saw complete is not counted (it was counted out before it was
    /// marked complete); tasks spawned or completed meanwhile may be, or not.
    pub(crate) fn len(&self) -> usize {
        if self.closed.load(Ordering::Relaxed) {
            return 0;
        }
        // The counts of tasks gone first, with Acquire, then the inserted:
        // a task is inserted before it can complete (a queue hands it over
        // after), and the release of the store that counted it gone makes
        // its insert visible here too. So every task counted gone is counted
        // inserted, and the difference never goes below zero.
        let retired = total(self.retired.iter().map(|retired| &**retired), Ordering::Acquire);
        let removed = total(self.counts.iter().map(|counts| &counts.removed), Ordering::Acquire);
        let inserted = total(self.counts.iter().map(|counts| &counts.inserted), Ordering::Relaxed);
        inserted.wrapping_sub(removed).wrapping_sub(retired)
    }
}

/// The wrapping sum of `counters`, each loaded with `order`.
fn total<'a>(counters: impl Iterator<Item = &'a AtomicUsize>, order: Ordering) -> usize {
    counters.fold(0, |sum, counter| sum.wrapping_add(counter.load(order)))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Registry;
    use crate::task::{new_task, DetailsSlot, DoneCallback, Header, Notified, Schedule, TaskId, TaskRef};
    use std::any::Any;
    use std::panic::Location;
    use std::task::Poll;

    /// A scheduler that never runs anything: the registry alone is tested.
    struct Inert;

    impl Schedule for Inert {
        fn schedule(&self, _task: Notified) {}
        fn yield_now(&self, _task: Notified) {}
        fn release(&self, _task: &TaskRef) -> Option<TaskRef> {
            None
        }
        fn unhandled_panic(&self, _task: &Header, _payload: Box<dyn Any + Send>) {}
        fn waker_panicked(&self, _task: &Header, _payload: Box<dyn Any + Send>) {}
        fn defer(&self, callback: DoneCallback) {
            callback();
        }
    }

    fn ids(registry: &Registry) -> Vec<u64> {
        let mut ids: Vec<u64> = registry.all_tasks().iter().map(|info| info.id).collect();
        ids.sort_unstable();
        ids
    }

    /// Links, unlinks from the head, the middle and the tail of a shard's
    /// list, closes with tasks still in it: what Miri checks the pointers of.
    #[test]
    fn tasks_leave_the_lists_from_any_place_and_close_takes_the_rest() {
        // One worker: four shards, so ids 1, 5 and 9 share shard 1.
        let registry = Registry::new(1);
        let mut handles = Vec::new();
        let mut headers = Vec::new();
        for id in [1, 5, 9, 13, 2] {
            let (registered, task, notified) =
                new_task(std::future::pending::<()>(), Inert, TaskId(id), DetailsSlot::location(Location::caller()));
            headers.push(std::ptr::NonNull::from(registered.header()));
            registry.insert(registered).expect("the registry is open");
            handles.push((task, notified));
        }
        assert_eq!(registry.len(), 5);
        assert_eq!(ids(&registry), [1, 2, 5, 9, 13]);
        let header = |index: usize| {
            // SAFETY: each task's handle, kept in `handles`, holds a
            // reference until the end of the test.
            unsafe { headers[index].as_ref() }
        };
        // Newest first in a shard: 13 is the head, 9 and 5 the middle, 1 the tail.
        drop(registry.remove(header(3)).expect("13 was registered"));
        drop(registry.remove(header(1)).expect("5 was registered"));
        drop(registry.remove(header(0)).expect("1 was registered"));
        assert!(registry.remove(header(1)).is_none(), "5 left already");
        assert_eq!(ids(&registry), [2, 9]);
        assert_eq!(registry.task_name(9).as_deref(), Some("Task-9"));
        assert!(registry.task_name(5).is_none());
        let rest: Vec<u64> = registry.close().iter().map(|task| task.header().id.0).collect();
        assert_eq!(rest.len(), 2);
        assert_eq!(registry.len(), 0);
        assert!(registry.remove(header(2)).is_none(), "close took 9");
        let (registered, _task, _notified) =
            new_task(std::future::pending::<()>(), Inert, TaskId(3), DetailsSlot::location(Location::caller()));
        assert!(registry.insert(registered).is_err(), "a closed registry takes no task");
    }

    /// A retired task leaves the count at once, the listings once it is
    /// complete, and the lists at `unlink_retired`, or at `close` if that
    /// comes first; a batch `close` emptied still unlinks safely.
    #[test]
    fn retired_tasks_leave_the_count_first_and_the_lists_in_a_batch() {
        let registry = Registry::new(1);
        let mut tasks = Vec::new();
        for id in [1, 2, 5, 6] {
            // Tasks 1 and 5 complete on their first poll, 2 and 6 never do.
            let future = std::future::poll_fn(move |_| if id % 2 == 1 { Poll::Ready(()) } else { Poll::Pending });
            let (registered, task, notified) =
                new_task(future, Inert, TaskId(id), DetailsSlot::location(Location::caller()));
            registry.insert(registered).expect("the registry is open");
            tasks.push((task, notified));
        }
        let (done, mut pending): (Vec<_>, Vec<_>) = tasks.into_iter().partition(|(task, _)| task.id() % 2 == 1);
        let mut batch = Vec::new();
        for (_task, notified) in &done {
            // As a worker does: counted out before the task is complete.
            registry.retire(0, &mut batch, notified.task_ref().clone());
            assert_eq!(ids(&registry).len(), 4, "linked and not complete: still listed");
        }
        assert_eq!(registry.len(), 2);
        let handles: Vec<_> = done.into_iter().map(|(task, notified)| (notified.run(), task)).collect();
        assert_eq!(ids(&registry), [2, 6], "complete, still linked: no longer listed");
        assert!(registry.task_name(1).is_none());
        registry.unlink_retired(&mut batch);
        assert!(batch.is_empty());
        assert_eq!((registry.len(), ids(&registry)), (2, vec![2, 6]));

        // Retired, then taken by `close` before the batch is unlinked.
        let (_task, notified) = pending.pop().expect("task 6");
        registry.retire(0, &mut batch, notified.task_ref().clone());
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.close().len(), 2, "close takes the retired task too");
        registry.unlink_retired(&mut batch);
        assert_eq!(registry.len(), 0);
        drop((handles, pending));
    }
}
