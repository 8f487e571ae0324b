//! asyncio's synchronization primitives and queues, runtime-agnostic.
//!
//! This crate will hold `Lock`, `Event`, `Condition`, `Semaphore`, `Barrier`,
//! the queues and channels. It depends only on std `Waker`s.
