//! Every unfinished task of a loop, so that closing the loop can drop the
//! futures nobody will poll again (tasks parked on a waker that will never
//! fire), and so that dropping a `Task` handle detaches instead of leaking.
//!
//! Each shard is an intrusive doubly-linked list through the tasks' own
//! headers (`Header::links`), as tokio's owned-task list is: registering a
//! task allocates nothing, and costs its cell two words, where a slab entry
//! cost a third more plus the slab's spare capacity.
//!
//! The loop's registry is sharded by task id so that workers spawning and
//! completing tasks at the same time rarely meet on one lock. A local
//! owner's (`local.rs`) is one list: only its own thread spawns and
//! completes its tasks. A task is in exactly one of them.

use crate::task::{Header, TaskRef};
use parking_lot::Mutex;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    /// Each shard's number of tasks, written under its lock, so that
    /// counting the tasks (metrics, `num_tasks`) takes no lock a spawning
    /// or completing worker could wait for.
    lens: Box<[AtomicUsize]>,
    mask: usize,
}

/// One list of registered tasks. Each node is a counted reference (a
/// `TaskRef` given up with `into_raw`), which the list gives back when the
/// task leaves it.
#[derive(Debug, Default)]
struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    /// Set once by `close`; the shard then accepts nothing more, so a task
    /// spawned during shutdown cannot slip in after the drain.
    closed: bool,
}

// SAFETY: the list's nodes are `TaskRef`s in pointer form, and `TaskRef` is
// `Send`; their links are touched only under the shard's lock.
unsafe impl Send for Shard {}

impl Shard {
    /// The registered tasks as the list holds them, newest first: pointers
    /// whose provenance covers the whole cell.
    fn nodes(&self) -> impl Iterator<Item = NonNull<Header>> + '_ {
        std::iter::successors(self.head, |node| {
            // SAFETY: a node is kept alive by the reference the list holds,
            // and its links are ours while `&self` (the lock) lasts.
            unsafe { node.as_ref().next() }
        })
    }

    /// The registered tasks, newest first.
    fn tasks(&self) -> impl Iterator<Item = &Header> + '_ {
        // SAFETY: as in `nodes`.
        self.nodes().map(|node| unsafe { node.as_ref() })
    }
}

impl Registry {
    /// The loop's registry.
    pub(crate) fn new(num_workers: usize) -> Registry {
        // Four shards a worker: enough that concurrent spawns and completions
        // rarely contend, few enough that closing walks them quickly.
        Registry::with_shards((4 * num_workers.max(1)).next_power_of_two())
    }

    /// A registry of one list, for tasks that one thread alone spawns and
    /// completes (a local owner's).
    pub(crate) fn single() -> Registry {
        Registry::with_shards(1)
    }

    fn with_shards(count: usize) -> Registry {
        debug_assert!(count.is_power_of_two());
        Registry {
            shards: (0..count).map(|_| Mutex::new(Shard::default())).collect(),
            lens: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            mask: count - 1,
        }
    }

    fn index(&self, header: &Header) -> usize {
        header.id.0 as usize & self.mask
    }

    /// Publishes shard `index`'s length; the caller holds its lock.
    fn update_len(&self, index: usize, shard: &Shard) {
        // Relaxed: a statistic; the lock orders the stores.
        self.lens[index].store(shard.len, Ordering::Relaxed);
    }

    /// Takes the registry's reference to a new task. Gives it back if the
    /// registry is closed (the loop's closed, or a local owner left).
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
        shard.len += 1;
        self.update_len(index, &shard);
        Ok(())
    }

    /// Removes a completed task, returning the registry's reference (None if
    /// `close` already took it, or it was never registered).
    pub(crate) fn remove(&self, header: &Header) -> Option<TaskRef> {
        let index = self.index(header);
        let mut shard = self.shards[index].lock();
        // SAFETY: the shard's lock guards the links of its nodes, and the
        // list's references keep its nodes alive; `header` is alive since
        // the caller borrows it. A task that is not in the list has no
        // links, and is not the head.
        unsafe {
            let (prev, next) = (header.prev(), header.next());
            // The node as the list holds it: a pointer that came with the
            // reference, whose provenance covers the whole cell.
            let node = match prev {
                Some(prev) => prev.as_ref().next(),
                None => shard.head.filter(|head| std::ptr::eq(head.as_ptr(), header)),
            }?;
            match prev {
                Some(prev) => prev.as_ref().set_links(prev.as_ref().prev(), next),
                None => shard.head = next,
            }
            if let Some(next) = next {
                next.as_ref().set_links(prev, next.as_ref().next());
            }
            header.set_links(None, None);
            shard.len -= 1;
            self.update_len(index, &shard);
            Some(TaskRef::from_raw_owned(node))
        }
    }

    /// Closes every shard and returns every task still registered.
    pub(crate) fn close(&self) -> Vec<TaskRef> {
        let mut all = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
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
            shard.len = 0;
            self.update_len(index, &shard);
        }
        all
    }

    /// A counted reference to every registered task, taken one shard lock
    /// at a time, for the caller to act on outside the locks.
    pub(crate) fn refs(&self) -> Vec<TaskRef> {
        let mut refs = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            // SAFETY: each node is alive while the lock is held (the list's
            // reference), and `counted` adds a reference of its own.
            refs.extend(shard.lock().nodes().map(|node| unsafe { TaskRef::counted(node) }));
        }
        refs
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

    /// The number of unfinished tasks, without taking a lock: each shard's
    /// count is exact, the sum may be a few spawns or completions apart.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: see `update_len`.
        self.lens.iter().map(|len| len.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Registry;
    use crate::task::{new_task, DetailsSlot, DoneCallback, Header, Notified, Schedule, TaskId, TaskRef};
    use std::any::Any;
    use std::panic::Location;

    /// A scheduler that never runs anything: the registry alone is tested.
    struct Inert;

    impl Schedule for Inert {
        fn schedule(&self, _task: Notified) {}
        fn yield_now(&self, _task: Notified) {}
        fn release(&self, _task: &Header) -> Option<TaskRef> {
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
        // Handed-out references are counted: dropping them leaves the
        // tasks listed and alive.
        let mut handed_out: Vec<u64> = registry.refs().iter().map(|task| task.header().id.0).collect();
        handed_out.sort_unstable();
        assert_eq!(handed_out, [2, 9]);
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

    /// A local owner's registry: one list, whatever the ids.
    #[test]
    fn a_single_list_registry_holds_every_id() {
        let registry = Registry::single();
        let mut kept = Vec::new();
        for id in [1, 2, 3, 8] {
            let (registered, task, notified) =
                new_task(std::future::pending::<()>(), Inert, TaskId(id), DetailsSlot::location(Location::caller()));
            let header = std::ptr::NonNull::from(registered.header());
            registry.insert(registered).expect("the registry is open");
            kept.push((header, task, notified));
        }
        assert_eq!(ids(&registry), [1, 2, 3, 8]);
        // SAFETY: the task's handle, in `kept`, holds a reference.
        drop(registry.remove(unsafe { kept[2].0.as_ref() }).expect("3 was registered"));
        assert_eq!(registry.len(), 3);
        assert_eq!(registry.close().len(), 3);
    }
}
