//! The I/O reactor and timer queue behind loopwork.
//!
//! This crate will hold one shared `polling`-based driver, the timer queue,
//! `Async<T>` and the socket types. It never depends on the executor.
