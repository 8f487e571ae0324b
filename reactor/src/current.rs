//! The ambient reactor: which loop `Async::new` and `sleep` use on this thread.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::timer::Timers;
use crate::Reactor;

thread_local! {
    static CURRENT: RefCell<Option<Entered>> = const { RefCell::new(None) };
    /// Set while `react` wakes the tasks an event or a timer released.
    static WAKING: Cell<Option<WakeCause>> = const { Cell::new(None) };
}

/// Why a reactor is waking a task: what [`WakeCause::current`] reports to
/// the waker, so an executor can record where its tasks' wake-ups come from.
///
/// # Examples
///
/// ```
/// use loopwork_reactor::WakeCause;
///
/// // Outside a reactor's wake-ups there is none.
/// assert_eq!(WakeCause::current(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeCause {
    /// An I/O source became ready.
    Io,
    /// A timer fired.
    Timer,
}

impl WakeCause {
    /// The cause of the wake-up in progress on this thread, if a reactor is
    /// waking a task right now (the caller is that task's waker).
    ///
    /// # Examples
    ///
    /// See [`WakeCause`].
    pub fn current() -> Option<WakeCause> {
        WAKING.with(Cell::get)
    }
}

/// Runs `wake` with `cause` as the current wake cause.
pub(crate) fn waking(cause: WakeCause, wake: impl FnOnce()) {
    /// Clears the cause even if the waker panics.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            WAKING.with(|waking| waking.set(None));
        }
    }
    WAKING.with(|waking| waking.set(Some(cause)));
    let _reset = Reset;
    wake();
}

/// The reactor a thread entered, and the timer shard it was given for its timers.
#[derive(Debug)]
struct Entered {
    reactor: Arc<Reactor>,
    timer_shard: usize,
}

impl Reactor {
    /// Makes this reactor the current one on this thread until the guard drops.
    ///
    /// Guards nest: dropping one restores whatever was current before it, so guards must be
    /// dropped in the reverse order of their creation (which scoping gives for free).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::Reactor;
    ///
    /// let outer = Arc::new(Reactor::new()?);
    /// let inner = Arc::new(Reactor::new()?);
    /// assert!(Reactor::current().is_none());
    /// let _outer = outer.enter();
    /// {
    ///     let _inner = inner.enter();
    ///     assert!(Arc::ptr_eq(&Reactor::current().unwrap(), &inner));
    /// }
    /// assert!(Arc::ptr_eq(&Reactor::current().unwrap(), &outer));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn enter(self: &Arc<Self>) -> EnterGuard {
        let entered = Entered { reactor: self.clone(), timer_shard: self.timers().shard_for_entering_thread() };
        let previous = CURRENT.with(|current| current.replace(Some(entered)));
        EnterGuard { previous, _not_send: PhantomData }
    }

    /// The reactor entered on this thread, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let guard = reactor.enter();
    /// assert!(Reactor::current().is_some());
    /// drop(guard);
    /// assert!(Reactor::current().is_none());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn current() -> Option<Arc<Reactor>> {
        CURRENT.with(|current| current.borrow().as_ref().map(|entered| entered.reactor.clone()))
    }

    /// Runs `f` with the current reactor without touching its reference count.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Arc<Reactor>>) -> R) -> R {
        CURRENT.with(|current| f(current.borrow().as_ref().map(|entered| &entered.reactor)))
    }

    /// The timer shard of the calling thread: its own if it entered this reactor.
    pub(crate) fn timer_shard(&self) -> usize {
        let entered = CURRENT.try_with(|current| {
            current
                .borrow()
                .as_ref()
                .filter(|entered| std::ptr::eq(Arc::as_ptr(&entered.reactor), self))
                .map(|entered| entered.timer_shard)
        });
        entered.ok().flatten().unwrap_or_else(Timers::shard_for_other_thread)
    }
}

/// Keeps a reactor current on this thread; from [`Reactor::enter`].
///
/// The guard restores the previous reactor when dropped, on the thread that created it, so
/// it is not `Send`:
///
/// ```compile_fail
/// use std::sync::Arc;
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new().unwrap());
/// let guard = reactor.enter();
/// std::thread::spawn(move || drop(guard));
/// ```
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// let _guard = reactor.enter();
/// assert!(Reactor::current().is_some());
/// # std::io::Result::Ok(())
/// ```
#[must_use = "the reactor stops being current when the guard is dropped"]
pub struct EnterGuard {
    previous: Option<Entered>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // The replaced reactor is dropped after the borrow ends: its drop could be the last
        // reference, and must not run inside the thread-local's borrow.
        // `try_with`: a guard kept in another thread-local may drop after this one is gone.
        let replaced = CURRENT.try_with(|current| current.replace(previous));
        drop(replaced);
    }
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").field("restores", &self.previous).finish()
    }
}
