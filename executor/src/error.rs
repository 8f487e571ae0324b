//! The error values loopwork returns instead of hanging or dropping work.

use std::any::Any;
use std::fmt;

/// The loop has been closed: it accepts no more work.
///
/// Returned by every submission to a closed loop (`Handle::spawn`,
/// `Handle::spawn_named`, ...). The submitted future or callback is dropped
/// on the caller's thread before this error comes back.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::builder().workers(1).build().unwrap();
/// let handle = event_loop.handle();
/// event_loop.close();
/// assert_eq!(handle.spawn(async {}).unwrap_err(), loopwork::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop is closed")
    }
}

impl std::error::Error for Closed {}

/// Why a task produced no value.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let task = loopwork::spawn(async { panic!("boom") });
///     let err = task.await.unwrap_err();
///     assert!(err.is_panic());
///     assert_eq!(err.panic_message(), Some("boom"));
/// });
/// ```
pub enum TaskError {
    /// The task was cancelled (by `Task::cancel`, a cancelled group, or the
    /// loop shutting down) and its future was dropped.
    Cancelled,
    /// The task's future panicked while being polled; this is the payload.
    Panicked(Box<dyn Any + Send + 'static>),
}

impl TaskError {
    /// Returns true if the task was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(loopwork::TaskError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Returns true if the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!loopwork::TaskError::Cancelled.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The panic message, when the payload is a string (as `panic!` makes it).
    ///
    /// # Examples
    ///
    /// ```
    /// let err = loopwork::TaskError::Panicked(Box::new("oops"));
    /// assert_eq!(err.panic_message(), Some("oops"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            TaskError::Panicked(payload) => panic_message(payload.as_ref()),
            TaskError::Cancelled => None,
        }
    }

    /// Returns the panic payload, to resume unwinding with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Errors
    ///
    /// Gives the error back if it is not a panic.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = loopwork::TaskError::Panicked(Box::new(7_u32));
    /// let payload = err.try_into_panic().ok().unwrap();
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&7));
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        match self {
            TaskError::Panicked(payload) => Ok(payload),
            other => Err(other),
        }
    }
}

/// The text of a panic payload made by `panic!` with a literal or a format.
impl TaskError {
    /// A second `TaskError` saying the same: a panic's payload cannot be
    /// cloned, so the copy carries its message (a `String`) instead.
    pub(crate) fn copy(&self) -> TaskError {
        match self {
            TaskError::Cancelled => TaskError::Cancelled,
            TaskError::Panicked(payload) => TaskError::Panicked(Box::new(
                panic_message(payload.as_ref()).unwrap_or("a panic with a payload that is not a string").to_owned(),
            )),
        }
    }
}

/// A copy of a task's outcome, for a reader that leaves it in place (a
/// panic copied as its message, see `TaskError::copy`).
pub(crate) fn copy_outcome<T: Clone>(outcome: &Result<T, TaskError>) -> Result<T, TaskError> {
    match outcome {
        Ok(value) => Ok(value.clone()),
        Err(err) => Err(err.copy()),
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some(s)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("Cancelled"),
            TaskError::Panicked(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => f.debug_tuple("Panicked").field(&msg).finish(),
                None => f.debug_tuple("Panicked").field(&"<non-string payload>").finish(),
            },
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => write!(f, "task panicked: {msg}"),
                None => f.write_str("task panicked"),
            },
        }
    }
}

impl std::error::Error for TaskError {}

/// What the loop's exception handler is told, asyncio's exception-handler
/// context: a panic nobody else will see (a detached task's, a callback's),
/// or a poll that ran too long.
///
/// Passed to the handler set with `Builder::on_unhandled_panic` or
/// `Handle::set_exception_handler`. A task's panic is reported exactly once,
/// when its last handle goes away, on whichever thread that happens; a
/// callback's right after it panicked; a slow poll while it is still running
/// and again when it returns. A waker that panicked when the loop woke it (the
/// waker of whoever awaited a task, or of a timer or I/O waiter) is reported
/// as an [`ExceptionKind::UnhandledPanic`] right after it was caught; every
/// other waiter is still woken.
pub struct ExceptionContext {
    /// A one-line description, as the default handler prints it.
    pub message: String,
    /// Which task or callback it is about.
    pub source: Source,
    /// What happened.
    pub kind: ExceptionKind,
}

/// Which task or callback an [`ExceptionContext`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A task, by id and name (`Task-N` unless it was spawned with a name).
    Task {
        /// The task's id.
        id: u64,
        /// The task's name.
        name: String,
    },
    /// A callback scheduled with `call_soon` and friends.
    Callback,
    /// A waker the loop woke for a timer, an I/O event or a `Promise`'s
    /// result (its owner is not known).
    Waker,
}

/// What an [`ExceptionContext`] reports.
pub enum ExceptionKind {
    /// A panic nobody observed; this is its payload.
    UnhandledPanic(Box<dyn Any + Send + 'static>),
    /// One poll of a task ran longer than the slow-poll threshold, blocking
    /// its worker (asyncio's "Executing `<Task>` took 0.2 seconds").
    SlowPoll {
        /// How long the poll had run when this was reported.
        duration: std::time::Duration,
        /// False while the poll is still running (the worker is stuck);
        /// true in the report made when it returned.
        finished: bool,
    },
    /// Debug mode ([`Builder::debug`](crate::Builder::debug)): a callback
    /// (`call_soon` and friends, a done callback) ran longer than the
    /// slow-poll threshold, asyncio's `slow_callback_duration` (asyncio's
    /// "Executing `<Handle>` took 0.2 seconds"). Timed exactly, once it has
    /// returned; a callback still running is reported by the always-on
    /// monitor as a `SlowPoll` with `finished: false`.
    SlowCallback {
        /// How long the callback ran.
        duration: std::time::Duration,
    },
    /// Debug mode ([`Builder::debug`](crate::Builder::debug)): a task was
    /// still pending when its loop closed (asyncio's "Task was destroyed
    /// but it is pending!"), and is cancelled.
    PendingAtClose {
        /// Where the task was spawned.
        spawned_at: &'static std::panic::Location<'static>,
    },
}

impl fmt::Debug for ExceptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExceptionKind::UnhandledPanic(payload) => {
                f.debug_tuple("UnhandledPanic").field(&panic_message(payload.as_ref())).finish()
            }
            ExceptionKind::SlowPoll { duration, finished } => {
                f.debug_struct("SlowPoll").field("duration", duration).field("finished", finished).finish()
            }
            ExceptionKind::SlowCallback { duration } => {
                f.debug_struct("SlowCallback").field("duration", duration).finish()
            }
            ExceptionKind::PendingAtClose { spawned_at } => {
                f.debug_struct("PendingAtClose").field("spawned_at", spawned_at).finish()
            }
        }
    }
}

impl ExceptionContext {
    pub(crate) fn unhandled_panic(source: Source, payload: Box<dyn Any + Send>) -> ExceptionContext {
        let message = match &source {
            Source::Task { id, name } => format!("task '{name}' (id {id}) panicked and its result was never retrieved"),
            Source::Callback => "a callback panicked".to_owned(),
            Source::Waker => "a waker panicked".to_owned(),
        };
        ExceptionContext::panicked(message, source, payload)
    }

    /// A waker the loop woke panicked; `source` is what it was woken for.
    pub(crate) fn waker_panicked(source: Source, payload: Box<dyn Any + Send>) -> ExceptionContext {
        let message = match &source {
            Source::Task { id, name } => {
                format!("the waker of whoever awaited task '{name}' (id {id}) panicked when the task completed")
            }
            Source::Callback | Source::Waker => "a waker panicked when the loop woke it".to_owned(),
        };
        ExceptionContext::panicked(message, source, payload)
    }

    /// `message`, followed by the panic's own message when it has one.
    fn panicked(mut message: String, source: Source, payload: Box<dyn Any + Send>) -> ExceptionContext {
        if let Some(text) = panic_message(payload.as_ref()) {
            message.push_str(": ");
            message.push_str(text);
        }
        ExceptionContext { message, source, kind: ExceptionKind::UnhandledPanic(payload) }
    }

    /// The panic message, for a panic with a string payload.
    ///
    /// # Examples
    ///
    /// See `Builder::on_unhandled_panic`.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            ExceptionKind::UnhandledPanic(payload) => panic_message(payload.as_ref()),
            ExceptionKind::SlowPoll { .. }
            | ExceptionKind::SlowCallback { .. }
            | ExceptionKind::PendingAtClose { .. } => None,
        }
    }

    /// The name of the task it is about; `None` for a callback or a waker.
    ///
    /// # Examples
    ///
    /// See `Builder::on_unhandled_panic`.
    pub fn task_name(&self) -> Option<&str> {
        match &self.source {
            Source::Task { name, .. } => Some(name),
            Source::Callback | Source::Waker => None,
        }
    }
}

impl fmt::Debug for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExceptionContext").field("message", &self.message).field("source", &self.source).finish()
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
