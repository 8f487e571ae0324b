//! `gather` and `try_gather`: run futures concurrently, results in
//! argument order.

use crate::error::TaskError;
use crate::task::Task;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One child of a gather: a task given as such, or a spawned plain future.
enum Child<T, E> {
    Task(Task<T>),
    Spawned(Task<Result<T, E>>),
    /// Made outside a loop (`block_on(gather(..))`): spawned at the first
    /// poll, which runs inside one.
    Unspawned(Pin<Box<dyn Future<Output = Result<T, E>> + Send>>),
}

impl<T: Send + 'static, E: From<TaskError> + Send + 'static> Child<T, E> {
    /// Takes a task as it is; spawns anything else on the current loop, as
    /// spawned at the caller's caller's line (the gather's, through
    /// `#[track_caller]`).
    #[track_caller]
    fn new<F>(future: F) -> Child<T, E>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        // A `Task<T>` is a future of `Result<T, TaskError>`: awaiting it
        // directly saves a spawn, and cancelling the gather cancels it.
        let boxed: Box<dyn Any> = Box::new(future);
        match boxed.downcast::<Task<T>>() {
            Ok(task) => Child::Task(*task),
            Err(boxed) => {
                let future = boxed.downcast::<F>().expect("the box holds the future just put in it");
                if !crate::current::is_inside_loop() {
                    Child::Unspawned(Box::into_pin(future))
                } else if crate::task::is_large::<F>() {
                    // A large future stays in its box rather than be moved
                    // out of it and boxed again by `spawn`.
                    Child::Spawned(crate::spawn(Box::into_pin(future)))
                } else {
                    Child::Spawned(crate::spawn(*future))
                }
            }
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        if let Child::Unspawned(future) = self {
            // A box of a zero-sized future: no allocation.
            let future = std::mem::replace(future, Box::pin(std::future::pending()));
            *self = Child::Spawned(crate::spawn(future));
        }
        match self {
            Child::Task(task) => Pin::new(task).poll(cx).map(|r| r.map_err(E::from)),
            Child::Spawned(task) => Pin::new(task).poll(cx).map(|r| r.unwrap_or_else(|err| Err(E::from(err)))),
            Child::Unspawned(_) => unreachable!("spawned above"),
        }
    }
}

/// One child per future, in argument order. A `for` loop rather than a
/// `map` and `collect`: an unoptimized build copies an item at every
/// adapter, and here the copies end in `Child::new`, which keeps a large
/// future boxed. And no closure: the spawn location is the gather's line
/// only through a chain of `#[track_caller]` functions.
#[track_caller]
fn children<I, F, T, E>(futures: I) -> Vec<Option<Child<T, E>>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<TaskError> + Send + 'static,
{
    let futures = futures.into_iter();
    let mut children = Vec::with_capacity(futures.size_hint().0);
    for future in futures {
        children.push(Some(Child::new(future)));
    }
    children
}

impl<T, E> Child<T, E> {
    fn cancel(&self) {
        match self {
            Child::Task(task) => task.cancel(),
            Child::Spawned(task) => task.cancel(),
            // Never spawned: dropping the gather drops it.
            Child::Unspawned(_) => false,
        };
    }
}

/// Runs every future concurrently and returns their values in argument
/// order, asyncio's `gather(*aws)` over any awaitables.
///
/// Each future is spawned at once on the current loop, so they run
/// concurrently (in parallel with workers; in asyncio's order in strict
/// mode). If one panics, the gather resolves to that
/// [`TaskError::Panicked`] and the others **keep running**, detached;
/// dropping (cancelling) the gather before it resolves cancels every
/// unfinished child. For futures of a `Result` that should stop at the
/// first `Err` — and for [`Task`]s, whose output is one — use
/// [`try_gather`].
///
/// Give [`Task`]s to [`try_gather`] rather than to `gather`: `gather`
/// spawns a task to await each future it is given, so cancelling it
/// cancels those and leaves the given tasks running, detached, as dropping
/// a [`Task`] handle does. `try_gather` awaits a task directly and cancels
/// it with the gather, as asyncio's `gather(*tasks)` does.
///
/// # Panics
///
/// If polled outside a loopwork loop (the futures must be spawned: at
/// once inside a loop, else at the first poll, as in
/// `block_on(gather(..))`).
///
/// # Examples
///
/// ```
/// async fn count(n: u32) -> u32 {
///     loopwork::yield_now().await;
///     n
/// }
///
/// let values = loopwork::run(async { loopwork::gather([count(1), count(2), count(3)]).await });
/// assert_eq!(values.unwrap(), [1, 2, 3]);
///
/// // A panic surfaces as the gather's `TaskError`.
/// type Job = std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>>;
/// let jobs: Vec<Job> = vec![Box::pin(async { 1 }), Box::pin(async { panic!("boom") })];
/// let failed = loopwork::run(loopwork::gather(jobs));
/// assert_eq!(failed.unwrap_err().panic_message(), Some("boom"));
/// ```
#[track_caller]
pub fn gather<I, F>(futures: I) -> Gather<F::Output>
where
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Gather(try_gather(futures.into_iter().map(|future| async move { Ok(future.await) })))
}

/// The future returned by [`gather`].
#[must_use = "futures do nothing unless awaited"]
pub struct Gather<T>(TryGather<T, TaskError>);

impl<T: Send + 'static> Future for Gather<T> {
    type Output = Result<Vec<T>, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> fmt::Debug for Gather<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gather").field(&self.0).finish()
    }
}

/// Runs every future concurrently and returns their values in argument
/// order, stopping at the first error: [`gather`] for futures of a
/// `Result`.
///
/// Items may be [`Task`]s (awaited as they are) or any future of a
/// `Result` whose error converts from [`TaskError`] (spawned at once on
/// the current loop). On the first error the returned future resolves to
/// it and the other children **keep running**, detached; dropping
/// (cancelling) it before it resolves cancels every unfinished child.
///
/// # Panics
///
/// If polled outside a loopwork loop with a plain future to spawn.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let tasks = (1..=3).map(|i| loopwork::spawn(async move { i * 10 }));
///     assert_eq!(loopwork::try_gather(tasks).await.unwrap(), [10, 20, 30]);
///
///     // Plain futures work too; a child's failure is the gather's.
///     let failing = loopwork::try_gather([
///         Box::pin(async { Ok::<_, loopwork::TaskError>(1) }) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
///         Box::pin(async { Err(loopwork::TaskError::Cancelled) }),
///     ]);
///     assert!(failing.await.is_err());
/// });
/// ```
#[track_caller]
pub fn try_gather<I, F, T, E>(futures: I) -> TryGather<T, E>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<TaskError> + Send + 'static,
{
    let children = children(futures);
    let results = children.iter().map(|_| None).collect();
    TryGather { children, results, finished: false }
}

/// The future returned by [`try_gather`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryGather<T, E> {
    children: Vec<Option<Child<T, E>>>,
    results: Vec<Option<T>>,
    finished: bool,
}

// Nothing is pinned through a gather: its children are task handles and its
// results plain values.
impl<T, E> Unpin for TryGather<T, E> {}

impl<T: Send + 'static, E: From<TaskError> + Send + 'static> Future for TryGather<T, E> {
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pending = false;
        for (slot, result) in this.children.iter_mut().zip(this.results.iter_mut()) {
            let Some(child) = slot else { continue };
            match child.poll(cx) {
                Poll::Ready(Ok(value)) => {
                    *result = Some(value);
                    *slot = None;
                }
                Poll::Ready(Err(err)) => {
                    *slot = None;
                    // The siblings keep running: their handles are dropped
                    // (detached), not cancelled.
                    this.finished = true;
                    this.children.clear();
                    return Poll::Ready(Err(err));
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            return Poll::Pending;
        }
        this.finished = true;
        Poll::Ready(Ok(this.results.iter_mut().map(|r| r.take().expect("every child finished")).collect()))
    }
}

impl<T, E> Drop for TryGather<T, E> {
    fn drop(&mut self) {
        if !self.finished {
            // Cancelling the gather cancels its children, as in asyncio.
            for child in self.children.iter().flatten() {
                child.cancel();
            }
        }
    }
}

impl<T, E> fmt::Debug for TryGather<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = self.children.iter().filter(|c| c.is_some()).count();
        f.debug_struct("TryGather").field("children", &self.children.len()).field("pending", &pending).finish()
    }
}

/// Like [`gather`], but waits for every child and returns each one's
/// outcome, asyncio's `gather(*aws, return_exceptions=True)`.
///
/// # Panics
///
/// If polled outside a loopwork loop with a plain future to spawn.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let outcomes = loopwork::gather_settled([
///         loopwork::spawn(async { 1 }),
///         loopwork::spawn(async { panic!("two failed") }),
///     ])
///     .await;
///     assert_eq!(*outcomes[0].as_ref().unwrap(), 1);
///     assert!(outcomes[1].as_ref().unwrap_err().is_panic());
/// });
/// ```
#[track_caller]
pub fn gather_settled<I, F, T, E>(futures: I) -> GatherSettled<T, E>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<TaskError> + Send + 'static,
{
    let children = children(futures);
    let results = children.iter().map(|_| None).collect();
    GatherSettled { children, results }
}

/// The future returned by [`gather_settled`].
#[must_use = "futures do nothing unless awaited"]
pub struct GatherSettled<T, E> {
    children: Vec<Option<Child<T, E>>>,
    results: Vec<Option<Result<T, E>>>,
}

// As for `TryGather`.
impl<T, E> Unpin for GatherSettled<T, E> {}

impl<T: Send + 'static, E: From<TaskError> + Send + 'static> Future for GatherSettled<T, E> {
    type Output = Vec<Result<T, E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pending = false;
        for (slot, result) in this.children.iter_mut().zip(this.results.iter_mut()) {
            let Some(child) = slot else { continue };
            match child.poll(cx) {
                Poll::Ready(outcome) => {
                    *result = Some(outcome);
                    *slot = None;
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            return Poll::Pending;
        }
        Poll::Ready(this.results.iter_mut().map(|r| r.take().expect("every child finished")).collect())
    }
}

impl<T, E> Drop for GatherSettled<T, E> {
    fn drop(&mut self) {
        // Dropped before every child finished: cancel the rest.
        for child in self.children.iter().flatten() {
            child.cancel();
        }
    }
}

impl<T, E> fmt::Debug for GatherSettled<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = self.children.iter().filter(|c| c.is_some()).count();
        f.debug_struct("GatherSettled").field("children", &self.children.len()).field("pending", &pending).finish()
    }
}
