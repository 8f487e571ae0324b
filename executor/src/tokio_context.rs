//! The tokio recipe (feature `tokio`, [`Builder::enable_tokio`]): crates
//! built on tokio's reactor and timers (`tokio::time`, `tokio::net`,
//! reqwest, sqlx, tonic) work inside loopwork tasks.
//!
//! Such a crate looks up tokio's runtime through a thread-local context; on
//! a loopwork thread there is none, so its first `tokio::time::sleep` or
//! `tokio::net::TcpStream::connect` panics with "there is no reactor
//! running, must be called from the context of a Tokio 1.x runtime". With
//! `enable_tokio`, the loop starts a tokio runtime of one thread beside its
//! own, and every worker and every thread inside `block_on` /
//! `run_forever` enters its context. tokio's thread drives tokio's I/O and
//! timers and wakes the loopwork tasks waiting on them; the tasks themselves
//! still run on loopwork's workers.
//!
//! What it costs: one more thread and a second reactor (an epoll instance),
//! plus a cross-thread wake for each tokio event. Jobs of
//! [`run_in_executor`](crate::run_in_executor) do not enter the context.

use std::io;

/// The tokio runtime a loop keeps for the tokio-based crates its tasks use.
#[derive(Debug)]
pub(crate) struct TokioContext {
    /// `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl TokioContext {
    /// Starts the runtime's one thread.
    pub(crate) fn start() -> io::Result<TokioContext> {
        // One worker: it drives tokio's I/O driver and timer wheel whenever it
        // is idle, which is always, since no task is spawned on it.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("loopwork-tokio")
            .enable_all()
            .build()?;
        Ok(TokioContext { runtime: Some(runtime) })
    }

    /// A handle to enter the runtime's context with, on another thread.
    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.runtime().handle().clone()
    }

    /// Enters the runtime's context on this thread until the guard drops.
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime().enter()
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until dropped")
    }
}

impl Drop for TokioContext {
    fn drop(&mut self) {
        // Without waiting: the loop may be dropped on one of its own threads,
        // inside tokio's context, where a blocking shutdown panics.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
