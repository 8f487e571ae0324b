//! Structured concurrency, asyncio's module-level helpers: `gather`,
//! `gather_settled`, `shield`, `TaskGroup`.
//!
//! Everything here is built on `Task` handles: a plain future handed to
//! `gather` is spawned first, so it runs concurrently and can outlive the
//! call when asyncio's semantics say it should (the siblings of a failed
//! `gather` keep running).

mod gather;
mod group;
mod shield;

pub use gather::{gather, gather_settled, Gather, GatherSettled};
pub use group::{ChildError, GroupClosed, GroupError, TaskGroup};
pub use shield::{shield, Shield};
