//! Tasks whose futures are not `Send`, run on the thread that spawned them:
//! the `spawn_local` row, on each runtime's own facility (loopwork's
//! `spawn_local` inside `block_on`, tokio's `LocalSet` with
//! `task::spawn_local`, async-executor's `LocalExecutor`).

use crate::runtime::{AsyncExecutor, Loopwork, Runtime, Tokio};
use crate::workloads::{timed, Timing};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

/// Local tasks spawned per `spawn_local` iteration.
pub(crate) const LOCAL_TASKS: usize = 10_000;

/// A runtime's way of running tasks that stay on one thread.
pub trait LocalTasks {
    /// Runs `future` on the calling thread, inside the scope where
    /// [`spawn_local`](Self::spawn_local) works, until it completes.
    fn run_local<F: Future>(&self, future: F) -> F::Output;

    /// Spawns a task on the calling thread (inside `run_local`) and
    /// returns a future of its output.
    fn spawn_local<F>(future: F) -> impl Future<Output = F::Output>
    where
        F: Future + 'static,
        F::Output: 'static;
}

impl LocalTasks for Loopwork {
    fn run_local<F: Future>(&self, future: F) -> F::Output {
        // `block_on`'s thread runs the local tasks spawned in it.
        self.block_on(future)
    }

    fn spawn_local<F>(future: F) -> impl Future<Output = F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let task = loopwork::spawn_local(future);
        async move { task.await.expect("a local task failed") }
    }
}

impl LocalTasks for Tokio {
    fn run_local<F: Future>(&self, future: F) -> F::Output {
        self.block_on(tokio::task::LocalSet::new().run_until(future))
    }

    fn spawn_local<F>(future: F) -> impl Future<Output = F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let task = tokio::task::spawn_local(future);
        async move { task.await.expect("a local task failed") }
    }
}

thread_local! {
    /// async-executor's local tasks run on an executor the thread owns.
    static LOCAL_EXECUTOR: async_executor::LocalExecutor<'static> = const { async_executor::LocalExecutor::new() };
}

impl LocalTasks for AsyncExecutor {
    fn run_local<F: Future>(&self, future: F) -> F::Output {
        LOCAL_EXECUTOR.with(|executor| self.block_on(executor.run(future)))
    }

    fn spawn_local<F>(future: F) -> impl Future<Output = F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        LOCAL_EXECUTOR.with(|executor| executor.spawn(future))
    }
}

/// [`LOCAL_TASKS`] local tasks spawned from the benchmark thread's
/// `block_on`, each bumping a counter behind an `Rc` (not `Send`), then
/// each awaited.
pub(crate) fn spawn_local<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let mut tasks = Vec::with_capacity(LOCAL_TASKS);
    timed(budget, || {
        runtime.run_local(async {
            let count = Rc::new(Cell::new(0));
            tasks.extend((0..LOCAL_TASKS).map(|_| {
                let count = count.clone();
                R::spawn_local(async move { count.set(count.get() + 1) })
            }));
            for task in tasks.drain(..) {
                task.await;
            }
            assert_eq!(count.get(), LOCAL_TASKS);
        });
    })
}

/// What the `spawn_local` row measures.
pub(crate) fn description() -> String {
    format!(
        "{} tasks whose futures hold an `Rc` (not `Send`), spawned on the benchmark thread inside its \
         `block_on` and run there, then awaited (loopwork::spawn_local, tokio `LocalSet` + \
         `task::spawn_local`, async-executor `LocalExecutor`)",
        crate::harness::group_thousands(LOCAL_TASKS as u64)
    )
}
