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

/// A panic nobody else will see: a task panicked and its `Task` handle was
/// dropped (or detached) without awaiting it, or a callback panicked.
///
/// Passed to the loop's exception handler (`Builder::on_unhandled_panic`,
/// `Handle::set_exception_handler`), asyncio's exception-handler context.
/// A task's panic is reported exactly once, when its last handle goes away,
/// on whichever thread that happens; a callback's right after it panicked.
pub struct UnhandledPanic {
    /// Where the panic happened.
    pub source: PanicSource,
    /// The panic payload.
    pub payload: Box<dyn Any + Send + 'static>,
}

/// What panicked, in an [`UnhandledPanic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanicSource {
    /// A task, by id and name (`Task-N` unless it was spawned with a name).
    Task {
        /// The task's id.
        id: u64,
        /// The task's name.
        name: String,
    },
    /// A callback scheduled with `call_soon` and friends.
    Callback,
}

impl UnhandledPanic {
    /// The panic message, when the payload is a string.
    pub fn message(&self) -> Option<&str> {
        panic_message(self.payload.as_ref())
    }

    /// The name of the task that panicked; `None` for a callback.
    pub fn task_name(&self) -> Option<&str> {
        match &self.source {
            PanicSource::Task { name, .. } => Some(name),
            PanicSource::Callback => None,
        }
    }
}

impl fmt::Debug for UnhandledPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnhandledPanic").field("source", &self.source).field("message", &self.message()).finish()
    }
}

impl fmt::Display for UnhandledPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            PanicSource::Task { id, name } => {
                write!(f, "task '{name}' (id {id}) panicked and its result was never retrieved")?
            }
            PanicSource::Callback => f.write_str("a callback panicked")?,
        }
        if let Some(msg) = self.message() {
            write!(f, ": {msg}")?;
        }
        Ok(())
    }
}
