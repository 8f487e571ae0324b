//! Child processes on the loop, asyncio's `create_subprocess_exec`:
//! [`Command`] mirrors [`std::process::Command`], and its [`Child`] is
//! awaited instead of blocked on.
//!
//! A child's piped stdin, stdout and stderr are non-blocking pipes on the
//! loop's reactor ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`], with
//! futures-io's `AsyncWrite` / `AsyncRead`), and its exit reaches the loop
//! through a pidfd on Linux 5.3 and later, or through SIGCHLD (see
//! [`signal`](crate::signal)) elsewhere. No thread is started, per child or
//! otherwise, and only children spawned here are ever reaped: the SIGCHLD
//! path waits for each of its own pids, never for "any child".
//!
//! ```
//! use futures_lite::AsyncWriteExt;
//! use loopwork::process::Command;
//! use std::process::Stdio;
//!
//! loopwork::run(async {
//!     // asyncio: proc = await create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
//!     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
//!     // out, _ = await proc.communicate(b"hello")
//!     let mut stdin = child.stdin.take().unwrap();
//!     stdin.write_all(b"hello").await?;
//!     drop(stdin);
//!     let output = child.wait_with_output().await?;
//!     assert_eq!(output.stdout, b"hello");
//!     // proc.returncode
//!     assert_eq!(output.status.code(), Some(0));
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! # Dropping a running child
//!
//! As with `std` and tokio, dropping a [`Child`] does not kill the process
//! unless [`Command::kill_on_drop`] asked for it: the child runs on,
//! detached. Unlike `std`, it does not become a zombie: the loop it was
//! spawned on reaps it when it exits (killed or not), with no task or
//! thread. A child that outlives its loop's close is left for the process's
//! exit to clean up.

mod exit;
mod pipes;

pub use pipes::{ChildStderr, ChildStdin, ChildStdout};

use exit::ExitWatch;
use loopwork_reactor::{Async, Reactor};
use std::ffi::OsStr;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::task::{Context, Poll};

/// A process to start, as [`std::process::Command`], whose [`Child`] is
/// awaited on the loop. For what this type does not offer (`env_clear`,
/// `uid`, `process_group`...), configure a `std::process::Command` and
/// convert it with `From`.
///
/// # Examples
///
/// ```
/// use loopwork::process::Command;
///
/// loopwork::run(async {
///     let output = Command::new("echo").args(["one", "two"]).output().await?;
///     assert_eq!(output.stdout, b"one two\n");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command to run `program`, with no arguments, the parent's
    /// environment and working directory, and stdin, stdout and stderr
    /// inherited (for [`spawn`](Command::spawn) and [`status`](Command::status)).
    ///
    /// # Examples
    ///
    /// ```
    /// let command = loopwork::process::Command::new("ls");
    /// # drop(command);
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut command = loopwork::process::Command::new("ls");
    /// command.arg("-l").arg("/");
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut command = loopwork::process::Command::new("ls");
    /// command.args(["-l", "/"]);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// loopwork::run(async {
    ///     let output = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi").output().await?;
    ///     assert_eq!(output.stdout, b"hi\n");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// loopwork::run(async {
    ///     let output = Command::new("pwd").current_dir("/").output().await?;
    ///     assert_eq!(output.stdout, b"/\n");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// What the child's stdin is: [`Stdio::piped`] gives [`Child::stdin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Stdio;
    ///
    /// let mut command = loopwork::process::Command::new("cat");
    /// command.stdin(Stdio::piped());
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self
    }

    /// What the child's stdout is: [`Stdio::piped`] gives [`Child::stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Stdio;
    ///
    /// let mut command = loopwork::process::Command::new("ls");
    /// command.stdout(Stdio::null());
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// What the child's stderr is: [`Stdio::piped`] gives [`Child::stderr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Stdio;
    ///
    /// let mut command = loopwork::process::Command::new("ls");
    /// command.stderr(Stdio::null());
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether dropping the [`Child`] before it was reaped sends it SIGKILL.
    /// Off by default, as in `std` and tokio: a dropped child runs on,
    /// detached (and is reaped when it exits; see the [module
    /// docs](crate::process#dropping-a-running-child)).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// loopwork::run(async {
    ///     let child = Command::new("sleep").arg("100").kill_on_drop(true).spawn()?;
    ///     drop(child); // killed, and reaped by the loop
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Starts the process, asyncio's `create_subprocess_exec`.
    ///
    /// # Errors
    ///
    /// An error saying so outside a loopwork event loop (the child's pipes
    /// and exit belong to a loop); otherwise the system's error, as
    /// [`std::process::Command::spawn`] returns it (a program that is not
    /// found is [`io::ErrorKind::NotFound`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// loopwork::run(async {
    ///     let mut child = Command::new("true").spawn()?;
    ///     assert!(child.wait().await?.success());
    ///     let missing = Command::new("/no/such/program").spawn().unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    ///     std::io::Result::Ok(())
    /// })?;
    /// assert!(Command::new("true").spawn().is_err()); // not in a loop
    /// # std::io::Result::Ok(())
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let reactor = Reactor::current().ok_or_else(|| {
            io::Error::other(
                "Command::spawn called outside a loopwork event loop; spawn children from a task or a block_on \
                 future",
            )
        })?;
        Child::from_std(self.std.spawn()?, self.kill_on_drop, ExitWatch::new(reactor))
    }

    /// Runs the process to its end and returns its exit status; stdin,
    /// stdout and stderr are inherited unless set otherwise.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn) and [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// loopwork::run(async {
    ///     let status = Command::new("sh").args(["-c", "exit 3"]).status().await?;
    ///     assert_eq!(status.code(), Some(3));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }

    /// Runs the process to its end and collects its stdout and stderr,
    /// which this sets to [`Stdio::piped`] (also for later spawns of this
    /// command, as tokio's `output` does).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn) and [`Child::wait_with_output`].
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// loopwork::run(async {
    ///     let output = Command::new("sh").args(["-c", "echo out; echo err >&2"]).output().await?;
    ///     assert_eq!((&output.stdout[..], &output.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    ///     assert!(output.status.success());
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    /// Keeps everything `command` was configured with.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    ///
    /// let mut std_command = std::process::Command::new("env");
    /// std_command.env_clear();
    /// loopwork::run(async {
    ///     let output = Command::from(std_command).output().await?;
    ///     assert!(output.stdout.is_empty());
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    fn from(command: std::process::Command) -> Command {
        Command { std: command, kill_on_drop: false }
    }
}

/// A running (or exited, not yet reaped) child process, from
/// [`Command::spawn`]. Await [`wait`](Child::wait) for its exit status.
///
/// # Examples
///
/// ```
/// use loopwork::process::Command;
///
/// loopwork::run(async {
///     let mut child = Command::new("sleep").arg("100").spawn()?;
///     child.kill()?;
///     let status = child.wait().await?;
///     assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct Child {
    /// The child's stdin, if it was [`Stdio::piped`].
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was [`Stdio::piped`].
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was [`Stdio::piped`].
    pub stderr: Option<ChildStderr>,
    pid: u32,
    /// `None` only once dropped (handed to the loop to be reaped).
    running: Option<(std::process::Child, ExitWatch)>,
    kill_on_drop: bool,
}

impl Child {
    /// Takes over `std_child`, just spawned: its pipes go on the reactor and
    /// `exit` is what will report its exit.
    fn from_std(mut std_child: std::process::Child, kill_on_drop: bool, exit: ExitWatch) -> io::Result<Child> {
        let mut on_the_loop = || -> io::Result<_> {
            let stdin = std_child.stdin.take().map(Async::new).transpose()?.map(ChildStdin);
            let stdout = std_child.stdout.take().map(Async::new).transpose()?.map(ChildStdout);
            let stderr = std_child.stderr.take().map(Async::new).transpose()?.map(ChildStderr);
            Ok((stdin, stdout, stderr))
        };
        match on_the_loop() {
            Ok((stdin, stdout, stderr)) => {
                let pid = std_child.id();
                Ok(Child { stdin, stdout, stderr, pid, running: Some((std_child, exit)), kill_on_drop })
            }
            Err(err) => {
                // The process runs, but its pipes cannot go on the loop: do
                // not leave it running, or a zombie, behind an error.
                let _ = std_child.kill();
                let _ = std_child.wait();
                Err(err)
            }
        }
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let mut child = loopwork::process::Command::new("true").spawn()?;
    ///     assert!(child.id() > 0);
    ///     child.wait().await?;
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to exit and reaps it, asyncio's `proc.wait()`.
    /// Closes [`stdin`](Child::stdin) first, as `std` does, so that a child
    /// reading it to its end can finish. Once it has returned a status,
    /// it returns the same status again.
    ///
    /// Cancel-safe: dropping the future leaves the child as it was.
    ///
    /// # Errors
    ///
    /// The system's error from `waitpid`, or from the reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let mut child = loopwork::process::Command::new("sh").args(["-c", "exit 7"]).spawn()?;
    ///     assert_eq!(child.wait().await?.code(), Some(7));
    ///     assert_eq!(child.wait().await?.code(), Some(7));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    /// The exit status if the child has exited (reaping it), `None` if it
    /// still runs; never waits. Its `code()` is asyncio's `returncode`.
    ///
    /// # Errors
    ///
    /// The system's error from `waitpid`.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let mut child = loopwork::process::Command::new("sleep").arg("100").spawn()?;
    ///     assert!(child.try_wait()?.is_none());
    ///     child.kill()?;
    ///     child.wait().await?;
    ///     assert!(child.try_wait()?.is_some());
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std_child().try_wait()
    }

    /// Sends the child SIGKILL, as [`std::process::Child::kill`] does; await
    /// [`wait`](Child::wait) to reap it. Does nothing if it was reaped.
    ///
    /// # Errors
    ///
    /// The system's error from `kill`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// loopwork::run(async {
    ///     let mut child = loopwork::process::Command::new("sleep").arg("100").spawn()?;
    ///     child.kill()?;
    ///     assert_eq!(child.wait().await?.signal(), Some(9));
    ///     child.kill()?; // reaped: nothing to do
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        let child = self.std_child();
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        child.kill()
    }

    /// Closes stdin, reads stdout and stderr to their ends while waiting for
    /// the child to exit, and returns all three: with input written to
    /// [`stdin`](Child::stdin) first, asyncio's `proc.communicate(input)`.
    /// A stream that was not piped comes back empty.
    ///
    /// # Errors
    ///
    /// The first error reading a pipe or waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::process::Command;
    /// use std::process::Stdio;
    ///
    /// loopwork::run(async {
    ///     let child = Command::new("echo").arg("done").stdout(Stdio::piped()).spawn()?;
    ///     let output = child.wait_with_output().await?;
    ///     assert_eq!(output.stdout, b"done\n");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (mut stdout, mut stderr) = (self.stdout.take(), self.stderr.take());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut status = None;
        poll_fn(|cx| {
            let out_done = pipes::poll_read_to_end(&mut stdout, &mut out, cx)?.is_ready();
            let err_done = pipes::poll_read_to_end(&mut stderr, &mut err, cx)?.is_ready();
            if status.is_none() {
                if let Poll::Ready(exited) = self.poll_wait(cx)? {
                    status = Some(exited);
                }
            }
            if out_done && err_done && status.is_some() {
                Poll::Ready(Ok::<(), io::Error>(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
        Ok(Output { status: status.expect("ready only with a status"), stdout: out, stderr: err })
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        let (child, exit) = self.running.as_mut().expect("a Child keeps its process until dropped");
        exit::poll_exit(child, exit, cx)
    }

    fn std_child(&mut self) -> &mut std::process::Child {
        &mut self.running.as_mut().expect("a Child keeps its process until dropped").0
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some((mut child, exit)) = self.running.take() else { return };
        if !matches!(child.try_wait(), Ok(None)) {
            // Reaped (now or before), or not ours to reap any more.
            return;
        }
        if self.kill_on_drop {
            let _ = child.kill();
        }
        exit::reap_when_exited(child, exit);
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod test;
