//! Task dumps: every live task of a loop, where it was spawned, how much it
//! has run, who woke it last and which timer or I/O source it waits on
//! (`Handle::dump`), taken from any thread, even while the loop hangs.
//!
//! Every task shows its id, name, state, where it was spawned and what it
//! waits on. When it was spawned, its polls, the time spent in them, its
//! last poll and who woke it last are in its `task::Details`, which a task
//! keeps only if it was named or its loop records task details
//! (`Builder::task_details`, debug mode); for the others those columns are
//! empty, and the spawn location sits in the word the record's pointer
//! would take (`task::DetailsSlot`). Recording the statistics costs
//! the poll path plain stores, with the time from the monitor's coarse clock
//! (see `Details::poll_ended`); the wake source is one byte the waker
//! stores. Which timer or I/O source a task waits on is not recorded at
//! all: the dump asks the reactor for its timers and waiters and matches
//! their wakers with the tasks.

use crate::current;
use crate::error::{ExceptionContext, ExceptionKind, Source};
use crate::scheduler::Shared;
use crate::task::{self, Header, TaskState};
use loopwork_reactor::{Direction, WakeCause};
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who scheduled a task the last time, in a [`DumpedTask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeSource {
    /// Nobody yet: it runs because it was spawned.
    Spawned,
    /// Another task or callback on one of the loop's own threads.
    Local,
    /// A thread outside the loop (`call_soon_threadsafe`, a blocking-pool
    /// job, a channel fed by a foreign thread).
    Remote,
    /// The reactor: an I/O source became ready.
    Io,
    /// The reactor: a timer fired.
    Timer,
    /// The task itself, while it ran (`yield_now`, or a waker it woke in
    /// its own poll).
    Yield,
}

impl WakeSource {
    fn from_byte(byte: u8) -> WakeSource {
        match byte {
            1 => WakeSource::Local,
            2 => WakeSource::Remote,
            3 => WakeSource::Io,
            4 => WakeSource::Timer,
            5 => WakeSource::Yield,
            _ => WakeSource::Spawned,
        }
    }
}

/// Records who is waking `task`, if it keeps details: the reactor (the
/// cause it reports), one of `shared`'s own threads, or another thread.
/// Kept apart from the scheduling decision, which it would otherwise slow
/// down for every yield: a wake of a task with details pays one more
/// thread-local look-up for it, one of a task without pays a branch.
#[inline]
pub(crate) fn record_wake(shared: &Arc<Shared>, task: &Header) {
    if let Some(details) = task.details() {
        details.set_wake_source(wake_source(shared) as u8);
    }
}

fn wake_source(shared: &Arc<Shared>) -> WakeSource {
    match WakeCause::current() {
        Some(WakeCause::Io) => WakeSource::Io,
        Some(WakeCause::Timer) => WakeSource::Timer,
        None if current::with_current(|cx| cx.is_some_and(|cx| Arc::ptr_eq(&cx.shared, shared))) => WakeSource::Local,
        None => WakeSource::Remote,
    }
}

/// Records that `task` woke itself while it ran (a yield), if it keeps
/// details: one store.
#[inline(always)]
pub(crate) fn record_self_wake(task: &Header) {
    if let Some(details) = task.details() {
        details.set_wake_source(WakeSource::Yield as u8);
    }
}

/// What a task waits on, as the reactor knows it, in a [`DumpedTask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitsOn {
    /// A timer (`sleep`, `timeout`, `interval`...) due at this instant.
    Timer {
        /// When it fires.
        deadline: Instant,
    },
    /// An I/O source, by its reactor key, in one direction.
    Io {
        /// The source's key in the reactor.
        source: usize,
        /// Whether the task waits to read or to write.
        direction: Direction,
    },
}

impl fmt::Display for WaitsOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitsOn::Timer { deadline } => {
                let due = deadline.saturating_duration_since(Instant::now());
                write!(f, "timer in {due:.3?}")
            }
            WaitsOn::Io { source, direction: Direction::Read } => write!(f, "io #{source} read"),
            WaitsOn::Io { source, direction: Direction::Write } => write!(f, "io #{source} write"),
        }
    }
}

/// One live task in a [`TaskDump`].
///
/// `age` to `last_wake` are `None` for a task that keeps no details: one
/// spawned without a name on a loop that does not record them
/// ([`Builder::task_details`](crate::Builder::task_details)). Every task
/// has its `spawned_at`.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::new();
/// let _task = event_loop.handle().spawn_named("idle", std::future::pending::<()>()).unwrap();
/// let dump = event_loop.handle().dump();
/// let task = &dump.tasks()[0];
/// assert_eq!(task.name, "idle");
/// assert_eq!(task.spawned_at.file(), file!());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DumpedTask {
    /// The task's id, unique within its loop.
    pub id: u64,
    /// Its name (`Task-N` unless it was spawned with one).
    pub name: String,
    /// What it was doing when the dump was taken.
    pub state: TaskState,
    /// The source line that spawned it.
    pub spawned_at: &'static Location<'static>,
    /// How long ago it was spawned (to the loop's coarse clock, a quarter of
    /// the slow-poll threshold).
    pub age: Option<Duration>,
    /// How many times it has been polled.
    pub polls: Option<u32>,
    /// The time spent in its polls (tokio-console's busy time). Measured
    /// on the coarse clock, with a clock read only for a poll that spans
    /// one of its ticks: at least the length of such a poll, and right on
    /// average over many short ones (see the module docs).
    pub busy: Option<Duration>,
    /// How long ago its last poll began (to the coarse clock); also `None`
    /// if it was never polled.
    pub since_last_poll: Option<Duration>,
    /// Who scheduled it the last time.
    pub last_wake: Option<WakeSource>,
    /// The timers and I/O sources that hold its waker. Empty for a task
    /// that waits on something else (a channel, a lock, another task), or
    /// whose waker a combinator wrapped.
    pub waits_on: Vec<WaitsOn>,
}

/// Every live task of a loop, from [`Handle::dump`](crate::Handle::dump).
///
/// `Display` prints an aligned table, one task a line, oldest first;
/// `Debug` prints every field.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let event_loop = loopwork::EventLoop::new();
/// let _task = event_loop.handle().spawn_named("sleeper", loopwork::sleep(Duration::from_secs(60))).unwrap();
/// // Its first poll, on a worker, sets the timer it then waits on.
/// let mut table = event_loop.handle().dump().to_string();
/// for _ in 0..10_000 {
///     if table.contains("timer in") {
///         break;
///     }
///     std::thread::sleep(Duration::from_millis(1));
///     table = event_loop.handle().dump().to_string();
/// }
/// assert!(table.contains("sleeper"));
/// assert!(table.contains("timer in"));
/// ```
#[derive(Debug, Clone)]
pub struct TaskDump {
    tasks: Vec<DumpedTask>,
}

impl TaskDump {
    /// The tasks, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert!(event_loop.handle().dump().tasks().is_empty());
    /// ```
    pub fn tasks(&self) -> &[DumpedTask] {
        &self.tasks
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// What a column shows for a task that keeps no details.
        const UNRECORDED: &str = "-";
        let rows: Vec<[String; 9]> = self
            .tasks
            .iter()
            .map(|task| {
                let waits_on = task.waits_on.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                let recorded = task.polls.is_some();
                let show = |value: Option<String>| value.unwrap_or_else(|| UNRECORDED.to_owned());
                [
                    task.id.to_string(),
                    task.name.clone(),
                    format!("{:?}", task.state),
                    show(task.age.map(|age| format!("{age:.1?}"))),
                    show(task.polls.map(|polls| polls.to_string())),
                    show(task.busy.map(|busy| format!("{busy:.1?}"))),
                    match task.since_last_poll {
                        Some(since) => format!("{since:.1?}"),
                        None if recorded => "never".to_owned(),
                        None => UNRECORDED.to_owned(),
                    },
                    show(task.last_wake.map(|wake| format!("{wake:?}"))),
                    format!("{}  {}", task.spawned_at, waits_on),
                ]
            })
            .collect();
        let header = ["id", "name", "state", "age", "polls", "busy", "last poll", "woken by", "spawned at  waits on"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut line = |cells: [&str; 9]| -> fmt::Result {
            let (last, aligned) = cells.split_last().expect("nine columns");
            for (cell, width) in aligned.iter().zip(widths) {
                write!(f, "{cell:<width$}  ")?;
            }
            writeln!(f, "{}", last.trim_end())
        };
        line(header)?;
        for row in &rows {
            line(row.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}

/// Takes a dump of `shared`'s loop. Locks each timer shard, each I/O
/// source and each registry shard for as long as it takes to copy it.
pub(crate) fn dump(shared: &Shared) -> TaskDump {
    let mut waits: HashMap<usize, Vec<WaitsOn>> = HashMap::new();
    shared.reactor.for_each_timer(|deadline, waker| {
        if let Some(task) = task::task_address(waker) {
            waits.entry(task).or_default().push(WaitsOn::Timer { deadline });
        }
    });
    shared.reactor.for_each_io_waiter(|source, direction, waker| {
        if let Some(task) = task::task_address(waker) {
            waits.entry(task).or_default().push(WaitsOn::Io { source, direction });
        }
    });
    let now = task::since_epoch(Instant::now());
    let mut tasks = Vec::with_capacity(shared.num_tasks());
    shared.registry_for_each(|header| {
        let info = header.info();
        let recorded = header.statistics();
        // Relaxed: statistics; see `task::Details`.
        let last_polled = recorded.map(|(_, details)| details.last_polled.load(Ordering::Relaxed));
        let address = header as *const Header as usize;
        tasks.push(DumpedTask {
            id: info.id,
            name: info.name,
            state: info.state,
            spawned_at: info.spawn_location,
            age: recorded.map(|(spawned_at, _)| Duration::from_nanos(now.saturating_sub(spawned_at))),
            polls: info.polls,
            busy: recorded.map(|(_, details)| Duration::from_nanos(details.busy.load(Ordering::Relaxed))),
            since_last_poll: last_polled
                .filter(|_| info.polls.is_some_and(|polls| polls > 0))
                .map(|last_polled| Duration::from_nanos(now.saturating_sub(last_polled))),
            last_wake: recorded.map(|(_, details)| WakeSource::from_byte(details.wake_source.load(Ordering::Relaxed))),
            waits_on: waits.remove(&address).unwrap_or_default(),
        });
    });
    tasks.sort_unstable_by_key(|task| task.id);
    TaskDump { tasks }
}

/// Debug mode, as the loop closes: reports every task still pending,
/// with where it was spawned (asyncio's "Task was destroyed but it is
/// pending!"): a task nobody awaited and nobody cancelled.
pub(crate) fn report_pending_at_close(shared: &Shared) {
    let mut pending = Vec::new();
    shared.registry_for_each(|header| {
        if !header.state.load().is_complete() {
            pending.push((header.id.0, header.name(), header.spawn_location()));
        }
    });
    for (id, name, spawned_at) in pending {
        shared.report(ExceptionContext {
            message: format!(
                "task '{name}' (spawned at {spawned_at}) was still pending when the loop closed; it is cancelled \
                 now. Await it, cancel it, or let it finish before closing the loop"
            ),
            source: Source::Task { id, name },
            kind: ExceptionKind::PendingAtClose { spawned_at },
        });
    }
}
