//! Child processes on each runtime, reduced to what the `process_spawn` row
//! does with them: start a program with no I/O, then wait for its exit.
//! `loopwork::process`, `tokio::process`, and async-process (smol's) for
//! async-executor.

use crate::runtime::{Runtime, Spawner};
use crate::workloads::{timed, Timing};
use std::future::Future;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

/// Children spawned (all of them first) then waited per iteration.
pub(crate) const CHILDREN: usize = 100;

/// A runtime's child processes.
pub trait Process: 'static {
    /// A running child.
    type Child: Send + 'static;

    /// Starts `program` with stdin, stdout and stderr null. Must run inside
    /// one of the runtime's tasks.
    ///
    /// # Errors
    ///
    /// If the program cannot be started.
    fn spawn(program: &str) -> io::Result<Self::Child>;

    /// Waits for `child` to exit and reaps it.
    fn wait(child: Self::Child) -> impl Future<Output = io::Result<ExitStatus>> + Send;
}

/// `loopwork::process::Command`.
#[derive(Debug)]
pub struct LoopworkProcess;

impl Process for LoopworkProcess {
    type Child = loopwork::process::Child;

    fn spawn(program: &str) -> io::Result<Self::Child> {
        loopwork::process::Command::new(program)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    async fn wait(mut child: Self::Child) -> io::Result<ExitStatus> {
        child.wait().await
    }
}

/// `tokio::process::Command`.
#[derive(Debug)]
pub struct TokioProcess;

impl Process for TokioProcess {
    type Child = tokio::process::Child;

    fn spawn(program: &str) -> io::Result<Self::Child> {
        tokio::process::Command::new(program).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()
    }

    async fn wait(mut child: Self::Child) -> io::Result<ExitStatus> {
        child.wait().await
    }
}

/// `async_process::Command`.
#[derive(Debug)]
pub struct AsyncProcess;

impl Process for AsyncProcess {
    type Child = async_process::Child;

    fn spawn(program: &str) -> io::Result<Self::Child> {
        async_process::Command::new(program).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()
    }

    async fn wait(mut child: Self::Child) -> io::Result<ExitStatus> {
        child.status().await
    }
}

/// [`CHILDREN`] children of `true`, spawned from one task, then each waited.
pub(crate) fn process_spawn<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    timed(budget, || {
        runtime.block_on(spawner.spawn(async {
            let children: Vec<_> = (0..CHILDREN).map(|_| R::Process::spawn("true").expect("spawn `true`")).collect();
            for child in children {
                let status = R::Process::wait(child).await.expect("wait for `true`");
                assert!(status.success(), "`true` failed: {status}");
            }
        }));
    })
}
