//! The one interface every workload is written against, and its three
//! implementations: loopwork, tokio's multi-thread runtime, and an
//! `async_executor::Executor` run by a pool of threads.
//!
//! A workload only ever uses [`Runtime`] (start, `block_on`, shut down, its
//! TCP types) and [`Spawner`] (spawn, submit from a foreign thread, yield,
//! sleep), so the code that runs on each runtime is the same code,
//! monomorphized three times.

use crate::net::{AsyncIoNet, LoopworkNet, Net, TokioNet};
use crate::process::{AsyncProcess, LoopworkProcess, Process, TokioProcess};
use crate::workloads_local::LocalTasks;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

/// A runtime under test.
pub trait Runtime: LocalTasks + Sized + 'static {
    /// The name of the runtime's column in the table.
    const NAME: &'static str;

    /// The prefixes of the names of the runtime's own threads (workers and
    /// helpers), whose CPU time and context switches are counted.
    const THREADS: &'static [&'static str];

    /// What a task captures to spawn more tasks.
    type Spawner: Spawner;

    /// The runtime's own TCP sockets.
    type Net: Net;

    /// The runtime's own child processes.
    type Process: Process;

    /// Starts the runtime with `workers` worker threads.
    ///
    /// # Errors
    ///
    /// If a worker thread cannot be started.
    fn start(workers: usize) -> io::Result<Self>;

    /// A spawner for this runtime, usable from any thread.
    fn spawner(&self) -> Self::Spawner;

    /// Runs `future` to completion on the calling thread (which is not one
    /// of the workers); spawned tasks keep running on the workers meanwhile.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Stops the workers and drops every unfinished task.
    fn shutdown(self);
}

/// Spawning and yielding, the same way for every runtime.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// The handle of a spawned task: a future of the task's output.
    type Join<T: Send + Unpin + 'static>: Future<Output = T> + Send + Unpin + 'static;

    /// Spawns `future` and returns a handle to await its output. Works from
    /// a worker, from inside `block_on`, and from any other thread.
    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static;

    /// Spawns `future` and lets it run on with nobody awaiting it.
    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Runs `callback` on the runtime soon; callable from any thread.
    /// loopwork's is `Handle::call_soon_threadsafe`, asyncio's callback
    /// queue. The peers have no callback queue: their closest analogue is a
    /// tiny task that calls `callback`, spawned through their handle.
    fn call_soon_threadsafe(&self, callback: impl FnOnce() + Send + 'static);

    /// Submits `future` from a thread outside the runtime and blocks that
    /// thread until the output is back, asyncio's
    /// `run_coroutine_threadsafe(coro, loop).result()`.
    ///
    /// The default spawns the future and blocks on its join handle with
    /// `futures_lite::future::block_on` (a thread parker); a runtime with a
    /// facility of its own for this overrides it.
    fn run_coroutine_threadsafe<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static,
    {
        futures_lite::future::block_on(self.spawn(future))
    }

    /// The runtime's own "let the others run" (asyncio's `sleep(0)`).
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// The runtime's own timer: completes once `duration` has passed. Like
    /// every peer's, it is registered with the timer queue at its first
    /// poll and removed from it if dropped first.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
}

/// A join handle whose output is a `Result`, unwrapped: a benchmark task
/// never fails, and if it does the run must stop, not report a number.
#[derive(Debug)]
pub struct Unwrapped<J>(J);

impl<J, T, E> Future for Unwrapped<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: fmt::Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx).map(|result| result.expect("a benchmark task failed"))
    }
}

/// loopwork's [`EventLoop`](loopwork::EventLoop) with `workers(n)`.
#[derive(Debug)]
pub struct Loopwork {
    event_loop: loopwork::EventLoop,
}

impl Runtime for Loopwork {
    const NAME: &'static str = "loopwork";
    const THREADS: &'static [&'static str] = &["loopwork"];
    type Spawner = loopwork::Handle;
    type Net = LoopworkNet;
    type Process = LoopworkProcess;

    fn start(workers: usize) -> io::Result<Self> {
        let event_loop = loopwork::EventLoop::builder().workers(workers).thread_name("loopwork-worker").build()?;
        Ok(Loopwork { event_loop })
    }

    fn spawner(&self) -> loopwork::Handle {
        self.event_loop.handle()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.event_loop.block_on(future)
    }

    fn shutdown(self) {
        self.event_loop.close();
    }
}

impl Spawner for loopwork::Handle {
    type Join<T: Send + Unpin + 'static> = Unwrapped<loopwork::Task<T>>;

    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static,
    {
        Unwrapped(loopwork::Handle::spawn(self, future).expect("the loop is open while a workload runs"))
    }

    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping a loopwork `Task` detaches it.
        drop(loopwork::Handle::spawn(self, future).expect("the loop is open while a workload runs"));
    }

    fn call_soon_threadsafe(&self, callback: impl FnOnce() + Send + 'static) {
        // The `CallbackHandle` is only needed to cancel.
        drop(loopwork::Handle::call_soon_threadsafe(self, callback).expect("the loop is open while a workload runs"));
    }

    fn run_coroutine_threadsafe<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static,
    {
        loopwork::Handle::run_coroutine_threadsafe(self, future)
            .expect("the loop is open while a workload runs")
            .result()
            .expect("a benchmark task failed")
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        loopwork::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        loopwork::sleep(duration)
    }
}

/// tokio's multi-thread runtime with `worker_threads(n)` and `enable_all()`.
#[derive(Debug)]
pub struct Tokio {
    runtime: tokio::runtime::Runtime,
}

impl Runtime for Tokio {
    const NAME: &'static str = "tokio";
    const THREADS: &'static [&'static str] = &["tokio-worker"];
    type Spawner = tokio::runtime::Handle;
    type Net = TokioNet;
    type Process = TokioProcess;

    fn start(workers: usize) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("tokio-worker")
            .enable_all()
            .build()?;
        Ok(Tokio { runtime })
    }

    fn spawner(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn shutdown(self) {
        // Dropping the runtime waits for its workers to stop.
        drop(self.runtime);
    }
}

impl Spawner for tokio::runtime::Handle {
    type Join<T: Send + Unpin + 'static> = Unwrapped<tokio::task::JoinHandle<T>>;

    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static,
    {
        Unwrapped(tokio::runtime::Handle::spawn(self, future))
    }

    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping a `JoinHandle` detaches the task.
        drop(tokio::runtime::Handle::spawn(self, future));
    }

    fn call_soon_threadsafe(&self, callback: impl FnOnce() + Send + 'static) {
        drop(tokio::runtime::Handle::spawn(self, async move { callback() }));
    }

    fn run_coroutine_threadsafe<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static,
    {
        // tokio's own way for a thread outside the runtime to wait for a task.
        tokio::runtime::Handle::block_on(self, tokio::runtime::Handle::spawn(self, future))
            .expect("a benchmark task failed")
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// An `async_executor::Executor` run by `n` threads, each in
/// `future::block_on(executor.run(stop_signal))`: smol's way to make a
/// multi-threaded executor.
#[derive(Debug)]
pub struct AsyncExecutor {
    executor: Arc<async_executor::Executor<'static>>,
    /// Dropping the sender ends every thread's `run`.
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Runtime for AsyncExecutor {
    const NAME: &'static str = "async-executor";
    // async-io drives its reactor and timers from its own "async-io" thread
    // while no thread is in `async_io::block_on`, as here.
    const THREADS: &'static [&'static str] = &["async-executor", "async-io"];
    type Spawner = Arc<async_executor::Executor<'static>>;
    type Net = AsyncIoNet;
    type Process = AsyncProcess;

    fn start(workers: usize) -> io::Result<Self> {
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let mut runtime = AsyncExecutor {
            executor: Arc::new(async_executor::Executor::new()),
            stop: Some(stop),
            threads: Vec::new(),
        };
        for index in 0..workers {
            let executor = runtime.executor.clone();
            let stopped = stopped.clone();
            // On error, dropping `runtime` stops the threads started so far.
            let thread = std::thread::Builder::new().name(format!("async-executor-{index}")).spawn(move || {
                futures_lite::future::block_on(executor.run(async move {
                    // Ends when the sender is dropped.
                    let _ = stopped.recv().await;
                }));
            })?;
            runtime.threads.push(thread);
        }
        Ok(runtime)
    }

    fn spawner(&self) -> Arc<async_executor::Executor<'static>> {
        self.executor.clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        futures_lite::future::block_on(future)
    }

    fn shutdown(self) {
        drop(self);
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        drop(self.stop.take());
        for thread in self.threads.drain(..) {
            // A panicking worker thread already printed its panic.
            let _ = thread.join();
        }
        // The executor, and with it every task still in it, is dropped with
        // the last `Arc` (no workload leaves a task holding one behind).
    }
}

impl Spawner for Arc<async_executor::Executor<'static>> {
    type Join<T: Send + Unpin + 'static> = async_executor::Task<T>;

    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + Unpin + 'static,
    {
        async_executor::Executor::spawn(self, future)
    }

    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping an async-executor `Task` would cancel it.
        async_executor::Executor::spawn(self, future).detach();
    }

    fn call_soon_threadsafe(&self, callback: impl FnOnce() + Send + 'static) {
        async_executor::Executor::spawn(self, async move { callback() }).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    async fn sleep(duration: Duration) {
        // smol's timer: async-io's `Timer`, in async-io's reactor.
        async_io::Timer::after(duration).await;
    }
}
