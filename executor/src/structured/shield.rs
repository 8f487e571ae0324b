//! `shield`: await a task without letting a cancellation reach it.

use crate::error::TaskError;
use crate::task::Task;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Awaits `task` without exposing it to cancellation, asyncio's
/// `shield(aw)`: if the awaiting task is cancelled (or the `Shield` is
/// dropped), `task` keeps running, and its result stays retrievable from
/// the `Task` handle, which the caller still owns.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let mut inner = loopwork::spawn(async {
///         loopwork::yield_now().await;
///         "survived"
///     });
///     {
///         // An outer future that gives up on the inner one at once.
///         let shielded = loopwork::shield(&mut inner);
///         drop(shielded);
///     }
///     assert_eq!(inner.await.unwrap(), "survived");
/// });
/// ```
pub fn shield<T>(task: &mut Task<T>) -> Shield<'_, T> {
    Shield { task }
}

/// The future returned by [`shield`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Shield<'a, T> {
    task: &'a mut Task<T>,
}

impl<T> Future for Shield<'_, T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Awaiting through `&mut` leaves the handle with the caller; dropping
        // this future drops nothing but the borrow.
        Pin::new(&mut *self.task).poll(cx)
    }
}
