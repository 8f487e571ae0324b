//! Context variables, Python's `contextvars`: values that follow the flow
//! of work instead of the thread.
//!
//! A task gets a **copy** of its spawner's context when it is spawned, and a
//! callback gets a copy of its scheduler's context when it is scheduled
//! (`call_soon`, `call_later`, ...). Setting a variable inside a task changes
//! only that task's copy (and what the tasks it spawns afterwards inherit).
//! `run_in_executor` does not carry the context to the pool thread;
//! [`to_thread`](crate::to_thread) does.
//!
//! ```
//! use loopwork::context::ContextVar;
//!
//! static REQUEST_ID: ContextVar<u64> = ContextVar::new("request_id");
//!
//! loopwork::run(async {
//!     REQUEST_ID.set(7);
//!     let child = loopwork::spawn(async {
//!         let seen = REQUEST_ID.get();
//!         REQUEST_ID.set(8); // the child's copy only
//!         seen
//!     });
//!     assert_eq!(child.await.unwrap(), Some(7));
//!     assert_eq!(REQUEST_ID.get(), Some(7));
//! });
//! ```

use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

/// The values of every variable set in one context. Immutable once shared:
/// setting a variable copies the map (contexts are small and sets are
/// rare next to reads and spawns, which only clone the `Arc`).
type Values = HashMap<usize, Arc<dyn Any + Send + Sync>>;

/// A snapshot of a context, carried by a task or callback.
#[derive(Clone, Default)]
pub(crate) struct Snapshot(Option<Arc<Values>>);

thread_local! {
    /// The context of whatever runs on this thread right now. A `Cell`,
    /// taken and put back, rather than a `RefCell`: every poll of a task
    /// swaps it twice, and the borrow flag's checks and panic paths cost
    /// more than the swap. Nothing between a take and its put-back can run
    /// user code (it clones `Arc`s and builds maps; what is replaced is
    /// dropped after the put-back), so nobody can see it taken.
    static CURRENT: Cell<Snapshot> = const { Cell::new(Snapshot(None)) };
}

/// Runs `f` with the thread's context, taken out and put back after.
fn with_current<R>(f: impl FnOnce(&Snapshot) -> R) -> R {
    CURRENT.with(|current| {
        let snapshot = current.take();
        let result = f(&snapshot);
        current.set(snapshot);
        result
    })
}

/// The calling thread's context, to hand to a task or callback.
pub(crate) fn capture() -> Snapshot {
    with_current(Snapshot::clone)
}

/// Runs `f` inside `snapshot`, then restores the thread's own context.
/// Returns what `f` left in the context, for a task to keep.
///
/// `#[inline]`, as `WithContext::poll`: every poll of a task runs both, and
/// without the hint whether they are inlined into the task's `run` depends
/// on how the program using loopwork happens to be split into codegen
/// units; out of line they cost 13% of `yield_many`'s instructions.
#[inline]
pub(crate) fn enter<R>(snapshot: Snapshot, f: impl FnOnce() -> R) -> (R, Snapshot) {
    struct Restore(Option<Snapshot>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                // The replaced snapshot is dropped outside the thread-local
                // access: a value's `Drop` may use a context variable.
                let replaced = CURRENT.try_with(|current| current.replace(previous));
                drop(replaced);
            }
        }
    }
    let previous = CURRENT.with(|current| current.replace(snapshot));
    let mut restore = Restore(Some(previous));
    let output = f();
    let previous = restore.0.take().expect("restored once");
    let left = CURRENT.with(|current| current.replace(previous));
    (output, left)
}

/// A future that runs inside its own context, the one captured when it
/// was spawned.
pub(crate) struct WithContext<F> {
    snapshot: Snapshot,
    future: F,
}

impl<F> WithContext<F> {
    pub(crate) fn new(snapshot: Snapshot, future: F) -> WithContext<F> {
        WithContext { snapshot, future }
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    // Inline: see `enter`.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (never moved out of the
        // pinned `WithContext`); `snapshot` is not pinned and only replaced.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let (output, left) = enter(std::mem::take(&mut this.snapshot), || future.poll(cx));
        this.snapshot = left;
        output
    }
}

/// A context variable, Python's `contextvars.ContextVar`. Declare it as a
/// `static`; its value lives in the current context, not in the variable.
///
/// # Examples
///
/// See [the module](self).
pub struct ContextVar<T> {
    name: &'static str,
    default: Option<fn() -> T>,
}

/// What [`ContextVar::set`] replaced, to put back with
/// [`ContextVar::reset`].
pub struct Token<T> {
    previous: Option<T>,
}

impl<T: Clone + Send + Sync + 'static> ContextVar<T> {
    /// A variable with no default: `get` is `None` until it is set.
    ///
    /// # Examples
    ///
    /// ```
    /// static USER: loopwork::context::ContextVar<String> = loopwork::context::ContextVar::new("user");
    /// assert_eq!(USER.get(), None);
    /// ```
    pub const fn new(name: &'static str) -> ContextVar<T> {
        ContextVar { name, default: None }
    }

    /// A variable whose `get` falls back to `default()` when it is not set.
    ///
    /// # Examples
    ///
    /// ```
    /// static DEPTH: loopwork::context::ContextVar<u32> = loopwork::context::ContextVar::with_default("depth", || 0);
    /// assert_eq!(DEPTH.get(), Some(0));
    /// ```
    pub const fn with_default(name: &'static str, default: fn() -> T) -> ContextVar<T> {
        ContextVar { name, default: Some(default) }
    }

    /// The variable's name.
    ///
    /// # Examples
    ///
    /// ```
    /// static V: loopwork::context::ContextVar<u8> = loopwork::context::ContextVar::new("v");
    /// assert_eq!(V.name(), "v");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A variable is identified by its address, which a `static` keeps.
    fn key(&'static self) -> usize {
        self as *const ContextVar<T> as usize
    }

    /// The value in the current context, or the default.
    ///
    /// # Examples
    ///
    /// See [the module](self).
    pub fn get(&'static self) -> Option<T> {
        let found = with_current(|current| current.0.as_ref().and_then(|values| values.get(&self.key())).cloned());
        match found {
            Some(value) => value.downcast_ref::<T>().cloned(),
            None => self.default.map(|default| default()),
        }
    }

    /// Sets the value in the current context (the running task's copy, or
    /// the thread's own outside any task). Returns a token to undo it.
    ///
    /// # Examples
    ///
    /// ```
    /// static V: loopwork::context::ContextVar<u8> = loopwork::context::ContextVar::new("v");
    /// let token = V.set(1);
    /// assert_eq!(V.get(), Some(1));
    /// V.reset(token);
    /// assert_eq!(V.get(), None);
    /// ```
    pub fn set(&'static self, value: T) -> Token<T> {
        let previous = self.replace(Some(value));
        Token { previous }
    }

    /// Puts back the value a [`set`](Self::set) replaced.
    ///
    /// # Examples
    ///
    /// See [`set`](Self::set).
    pub fn reset(&'static self, token: Token<T>) {
        self.replace(token.previous);
    }

    fn replace(&'static self, value: Option<T>) -> Option<T> {
        let mut values: Values = with_current(|current| current.0.as_deref().cloned().unwrap_or_default());
        let previous = match value {
            Some(value) => values.insert(self.key(), Arc::new(value)),
            None => values.remove(&self.key()),
        };
        let old_map = CURRENT.with(|current| current.replace(Snapshot((!values.is_empty()).then(|| Arc::new(values)))));
        // Dropped once the new map is in place: a value's `Drop` may use a
        // context variable.
        drop(old_map);
        previous.and_then(|previous| previous.downcast_ref::<T>().cloned())
    }

    /// Runs `future` with the variable set to `value`, restoring the
    /// previous value afterwards (the scoped form of `set`).
    ///
    /// # Examples
    ///
    /// ```
    /// static V: loopwork::context::ContextVar<&str> = loopwork::context::ContextVar::new("v");
    /// loopwork::run(async {
    ///     let inside = V.scope("scoped", async { V.get() }).await;
    ///     assert_eq!(inside, Some("scoped"));
    ///     assert_eq!(V.get(), None);
    /// });
    /// ```
    pub async fn scope<F: Future>(&'static self, value: T, future: F) -> F::Output {
        let token = self.set(value);
        let output = future.await;
        self.reset(token);
        output
    }
}

impl<T> fmt::Debug for ContextVar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextVar").field("name", &self.name).finish()
    }
}

impl<T> fmt::Debug for Token<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("had_value", &self.previous.is_some()).finish()
    }
}
