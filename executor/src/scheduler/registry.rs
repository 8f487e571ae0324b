//! Every unfinished task of a loop, so that closing the loop can drop the
//! futures nobody will poll again (tasks parked on a waker that will never
//! fire), and so that dropping a `Task` handle detaches instead of leaking.
//!
//! Sharded by task id so that workers spawning and completing tasks at the
//! same time rarely meet on one lock.

use crate::task::{Header, TaskRef};
use parking_lot::Mutex;
use slab::Slab;
use std::panic::Location;
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

/// A registered task, and where it was spawned: kept here rather than in
/// the task's header, which every poll touches, since only dumps and
/// reports read it.
#[derive(Debug)]
struct Registered {
    task: TaskRef,
    location: &'static Location<'static>,
}

#[derive(Debug, Default)]
struct Shard {
    tasks: Slab<Registered>,
    /// Set once by `close`; the shard then accepts nothing more, so a task
    /// spawned during shutdown cannot slip in after the drain.
    closed: bool,
}

impl Registry {
    pub(crate) fn new(num_workers: usize) -> Registry {
        // Four shards a worker: enough that concurrent spawns and completions
        // rarely contend, few enough that closing walks them quickly.
        let count = (4 * num_workers.max(1)).next_power_of_two();
        Registry {
            shards: (0..count).map(|_| Mutex::new(Shard::default())).collect(),
            lens: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            mask: count - 1,
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[self.index(header)]
    }

    fn index(&self, header: &Header) -> usize {
        header.id.0 as usize & self.mask
    }

    /// Publishes shard `index`'s length; the caller holds its lock.
    fn update_len(&self, index: usize, shard: &Shard) {
        // Relaxed: a statistic; the lock orders the stores.
        self.lens[index].store(shard.tasks.len(), Ordering::Relaxed);
    }

    /// Takes the registry's reference to a new task spawned at `location`.
    /// Gives it back if the loop is closed.
    pub(crate) fn insert(&self, task: TaskRef, location: &'static Location<'static>) -> Result<(), TaskRef> {
        let mut shard = self.shard(task.header()).lock();
        if shard.closed {
            return Err(task);
        }
        let entry = shard.tasks.vacant_entry();
        task.header().set_registry_key(entry.key());
        let index = self.index(task.header());
        entry.insert(Registered { task, location });
        self.update_len(index, &shard);
        Ok(())
    }

    /// Removes a completed task, returning the registry's reference (None if
    /// `close` already took it).
    pub(crate) fn remove(&self, header: &Header) -> Option<TaskRef> {
        let mut shard = self.shard(header).lock();
        let key = header.registry_key();
        match shard.tasks.get(key) {
            Some(registered) if std::ptr::eq(registered.task.header(), header) => {
                let registered = shard.tasks.remove(key);
                self.update_len(self.index(header), &shard);
                Some(registered.task)
            }
            _ => None,
        }
    }

    /// Closes every shard and returns every task still registered.
    pub(crate) fn close(&self) -> Vec<TaskRef> {
        let mut all = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
            let mut shard = shard.lock();
            shard.closed = true;
            all.extend(shard.tasks.drain().map(|registered| registered.task));
            self.update_len(index, &shard);
        }
        all
    }

    /// The name of the unfinished task `id`, if it is still registered.
    /// Scans one shard: for reports, not hot paths.
    pub(crate) fn task_name(&self, id: u64) -> Option<String> {
        let shard = self.shards[id as usize & self.mask].lock();
        shard.tasks.iter().find(|(_, r)| r.task.header().id.0 == id).map(|(_, r)| r.task.header().name())
    }

    /// A snapshot of every registered task, one shard lock at a time.
    pub(crate) fn all_tasks(&self) -> Vec<crate::task::TaskInfo> {
        let mut all = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            all.extend(shard.lock().tasks.iter().map(|(_, registered)| registered.task.header().info()));
        }
        all
    }

    /// Calls `f` with every registered task and its spawn location, one
    /// shard locked at a time (`f` must not spawn or complete tasks).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header, &'static Location<'static>)) {
        for shard in self.shards.iter() {
            for (_, registered) in shard.lock().tasks.iter() {
                f(registered.task.header(), registered.location);
            }
        }
    }

    /// The number of unfinished tasks, without taking a lock: each shard's
    /// count is exact, the sum may be a few spawns or completions apart.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: see `update_len`.
        self.lens.iter().map(|len| len.load(Ordering::Relaxed)).sum()
    }
}
