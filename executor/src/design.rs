//! How loopwork works inside: the write-ups kept beside the code they
//! describe, one page each. Nothing here is code; read these before changing
//! the scheduler or the task state machine.
//!
//! - [`architecture`]: the bird's-eye view, the code map, the data flow from
//!   spawn to completion, the invariants, and the decisions with their
//!   measurements.
//! - [`scheduler`]: the work-stealing queues, the parking protocol and why no
//!   wake-up is lost, the virtual clock.
//! - [`task`]: the task state word, its transitions, and why the races
//!   between them are benign.
//! - [`local_tasks`]: `spawn_local`'s tasks pinned to one thread: how
//!   wakes from other threads reach them, and why no `!Send` value crosses
//!   threads.
//! - [`loopwork_reactor::design`]: the reactor's readiness, timer and
//!   notification protocols.

#[doc = include_str!("../ARCHITECTURE.md")]
pub mod architecture {}

#[doc = include_str!("scheduler/README.md")]
pub mod scheduler {}

#[doc = include_str!("task/README.md")]
pub mod task {}

#[doc = include_str!("scheduler/LOCAL.md")]
pub mod local_tasks {}
