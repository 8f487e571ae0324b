//! Structured concurrency, asyncio's module-level helpers: `gather`,
//! `try_gather`, `gather_settled`, `shield`, `TaskGroup`, `wait`, `timeout`/`wait_for`,
//! `as_completed`.
//!
//! Everything here is built on `Task` handles: a plain future handed to
//! `gather` is spawned first, so it runs concurrently and can outlive the
//! call when asyncio's semantics say it should (the siblings of a failed
//! `gather` keep running).

mod as_completed;
mod gather;
mod group;
mod shield;
mod timeout;
mod wait;

pub use as_completed::{as_completed, AsCompleted, AsCompletedTimeout};
pub use gather::{gather, gather_settled, try_gather, Gather, GatherSettled, TryGather};
pub use group::{ChildError, GroupClosed, GroupError, TaskGroup};
pub use shield::{shield, Shield};
pub use timeout::{timeout, timeout_at, wait_for, Elapsed, TimeoutFuture};
pub use wait::{wait, ReturnWhen, Wait};
