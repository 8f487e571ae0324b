//! `TaskGroup`: asyncio's structured scope; the first failure cancels the
//! rest, leaving the scope waits for every child and reports every error.

use crate::error::TaskError;
use crate::task::{AbortHandle, Task};
use parking_lot::Mutex;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A scope of child tasks, asyncio's `TaskGroup`: spawn children into it,
/// then [`join`](TaskGroup::join) it. The first child that fails (returns
/// `Err` or panics) cancels all the others; `join` waits for every child and
/// returns every value, or every error together. Dropping the group without
/// joining it cancels the children that are still running: no child
/// outlives its group.
///
/// # Examples
///
/// ```
/// use loopwork::TaskGroup;
///
/// loopwork::run(async {
///     let group = TaskGroup::<u32, std::io::Error>::new();
///     for i in 1..=3 {
///         group.spawn(async move { Ok(i * 100) }).unwrap();
///     }
///     assert_eq!(group.join().await.unwrap(), [100, 200, 300]);
/// });
/// ```
pub struct TaskGroup<T, E> {
    inner: Arc<Mutex<Inner<T, E>>>,
}

struct Inner<T, E> {
    /// Taken by `join`, which awaits them outside the lock.
    children: Vec<Task<Result<T, ChildError<E>>>>,
    /// Every child ever spawned, for cancelling while `join` holds the
    /// handles.
    cancellers: Vec<AbortHandle>,
    /// Set by the first failure (or `abort`): no more children, and the
    /// running ones are being cancelled.
    aborting: bool,
}

/// Why one child of a [`TaskGroup`] failed.
pub enum ChildError<E> {
    /// It returned this error.
    Failed(E),
    /// It panicked.
    Panicked(TaskError),
}

/// Every failure of a [`TaskGroup`], asyncio's `ExceptionGroup`, in spawn
/// order. Children cancelled because a sibling failed are not in it.
pub struct GroupError<E> {
    /// The failures.
    pub errors: Vec<ChildError<E>>,
}

/// The group is aborting (a child failed, or `abort` was called) or has
/// been joined: it takes no more children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupClosed;

impl<T, E> TaskGroup<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// An empty group.
    ///
    /// # Examples
    ///
    /// See [`TaskGroup`].
    pub fn new() -> TaskGroup<T, E> {
        TaskGroup {
            inner: Arc::new(Mutex::new(Inner { children: Vec::new(), cancellers: Vec::new(), aborting: false })),
        }
    }

    /// Spawns a child on the current loop. Returns the child's task id.
    ///
    /// # Errors
    ///
    /// [`GroupClosed`] if the group is aborting; the future is dropped.
    ///
    /// # Panics
    ///
    /// If called outside a loopwork loop.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let group = loopwork::TaskGroup::<(), String>::new();
    ///     group.spawn(async { Err("broken".to_owned()) }).unwrap();
    ///     let errors = group.join().await.unwrap_err().errors;
    ///     assert!(matches!(&errors[..], [loopwork::ChildError::Failed(e)] if e == "broken"));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<u64, GroupClosed>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        if crate::task::is_large::<F>() {
            self.spawn_moved(Box::pin(future))
        } else {
            self.spawn_moved(future)
        }
    }

    /// `spawn` of a future small enough to be moved into the child's
    /// wrapper (see `task::BOX_THRESHOLD`).
    #[track_caller]
    fn spawn_moved<F>(&self, future: F) -> Result<u64, GroupClosed>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut inner = self.inner.lock();
        if inner.aborting {
            return Err(GroupClosed);
        }
        let group = Arc::downgrade(&self.inner);
        let child = crate::spawn(async move {
            let outcome = match (CatchUnwind { future }).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(err)) => ChildError::Failed(err),
                Err(payload) => ChildError::Panicked(TaskError::Panicked(payload)),
            };
            // The first failure cancels the siblings (and this child's own
            // cancel request is harmless: it is returning now).
            if let Some(group) = group.upgrade() {
                abort(&group);
            }
            Err(outcome)
        });
        let id = child.id();
        inner.cancellers.push(child.abort_handle());
        inner.children.push(child);
        Ok(id)
    }

    /// Cancels every child and closes the group to new ones.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let group = loopwork::TaskGroup::<(), ()>::new();
    ///     group.spawn(async { std::future::pending().await }).unwrap();
    ///     group.abort();
    ///     assert!(group.spawn(async { Ok(()) }).is_err());
    ///     assert!(group.join().await.is_err());
    /// });
    /// ```
    pub fn abort(&self) {
        abort(&self.inner);
    }

    /// Waits for every child; returns their values in spawn order, or every
    /// failure if any child failed (or the group was aborted).
    ///
    /// # Errors
    ///
    /// [`GroupError`] with each failure; empty if the group was aborted
    /// with [`abort`](Self::abort) and no child failed.
    ///
    /// # Examples
    ///
    /// See [`TaskGroup`].
    pub async fn join(self) -> Result<Vec<T>, GroupError<E>> {
        let children = std::mem::take(&mut self.inner.lock().children);
        let mut values = Vec::with_capacity(children.len());
        let mut errors = Vec::new();
        for child in children {
            match child.await {
                Ok(Ok(value)) => values.push(value),
                Ok(Err(err)) => errors.push(err),
                // Cancelled because a sibling failed or the group aborted.
                Err(TaskError::Cancelled) => {}
                Err(panic) => errors.push(ChildError::Panicked(panic)),
            }
        }
        let aborted = self.inner.lock().aborting;
        if errors.is_empty() && !aborted {
            Ok(values)
        } else {
            Err(GroupError { errors })
        }
    }
}

fn abort<T, E>(inner: &Mutex<Inner<T, E>>) {
    let mut inner = inner.lock();
    inner.aborting = true;
    for child in &inner.cancellers {
        child.cancel();
    }
}

impl<T: Send + 'static, E: Send + 'static> Default for TaskGroup<T, E> {
    fn default() -> TaskGroup<T, E> {
        TaskGroup::new()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        // Not joined (or the join was itself cancelled): no child may outlive
        // the group.
        for child in &self.inner.lock().cancellers {
            child.cancel();
        }
    }
}

/// Turns a panic while polling `future` into an `Err` with its payload.
struct CatchUnwind<F> {
    future: F,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is never moved out of the pinned `CatchUnwind`.
        let future = unsafe { self.map_unchecked_mut(|this| &mut this.future) };
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("TaskGroup").field("children", &inner.children.len()).field("aborting", &inner.aborting).finish()
    }
}

impl<E: fmt::Debug> fmt::Debug for ChildError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildError::Failed(err) => f.debug_tuple("Failed").field(err).finish(),
            ChildError::Panicked(err) => f.debug_tuple("Panicked").field(err).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for ChildError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildError::Failed(err) => write!(f, "a child failed: {err}"),
            ChildError::Panicked(err) => write!(f, "a child {err}"),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError").field("errors", &self.errors).finish()
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} child task(s) failed", self.errors.len())?;
        for err in &self.errors {
            write!(f, "; {err}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> Error for GroupError<E> {}

impl fmt::Display for GroupClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task group is aborting or joined and takes no more children")
    }
}

impl Error for GroupClosed {}
