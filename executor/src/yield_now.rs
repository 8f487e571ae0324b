//! `yield_now`: let the other tasks run, asyncio's `await asyncio.sleep(0)`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Suspends the current task once, letting every other ready task run before
/// it continues: asyncio's `await asyncio.sleep(0)`.
///
/// The task goes to the back of its worker's queue (never the LIFO slot), so
/// a loop that yields on every iteration cannot starve anyone.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
/// let flag = Arc::new(AtomicBool::new(false));
/// let seen = event_loop.block_on({
///     let flag = flag.clone();
///     async move {
///         loopwork::spawn(async move { flag.store(true, Ordering::SeqCst) });
///         loopwork::yield_now().await; // the spawned task runs here
///     }
/// });
/// assert!(flag.load(Ordering::SeqCst));
/// # let _ = seen;
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
