//! Shared helpers for loopwork's integration, asyncio parity and stress tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The repository README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RepositoryReadmeDoctests;

/// Counts how many times values made by it were dropped.
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    /// A new counter at zero.
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    /// A token that bumps the counter when dropped.
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }

    /// How many tokens have been dropped.
    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Bumps its `DropCounter` when dropped.
#[derive(Debug)]
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Wraps a future so that dropping it (completed or not) bumps a counter.
pub async fn counted<F: Future>(token: DropToken, future: F) -> F::Output {
    let _token = token;
    future.await
}

/// A future that never completes and is counted when dropped.
pub fn pending_counted(token: DropToken) -> impl Future<Output = ()> + Send {
    counted(token, std::future::pending::<()>())
}

/// What the seeds' asyncio `Event` example prints, in order: two waiters,
/// and a `call_later` callback that sets the event. Checked against the
/// example program and against the same scenario run in-process.
pub const SEED_EVENT_EXAMPLE: [&str; 7] = [
    "event start state: false",
    "coro1 waiting for event",
    "coro2 waiting for event",
    "setting event in callback",
    "coro1 triggered",
    "coro2 triggered",
    "event end state: true",
];

/// The number in environment variable `name`, or `default` if it is unset
/// or not a number: how the suites take their case counts.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `body` on a thread and fails the test (instead of hanging it) if it
/// has not finished within `limit`.
pub fn with_watchdog<T: Send + 'static>(limit: Duration, name: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("watched-{name}"))
        .spawn(move || {
            let out = body();
            let _ = tx.send(());
            out
        })
        .expect("spawn watched thread");
    match rx.recv_timeout(limit) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: `{name}` did not finish within {limit:?} (a hang or a lost wake-up)")
        }
    }
}

/// Returns `Pending` once, after waking itself, like `yield_now` but written
/// against std only so it exercises a foreign future.
#[derive(Debug, Default)]
pub struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: getrusage succeeded, so the struct is initialized.
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time (user + system) used so far by this process's threads whose
/// name starts with `prefix` (from `/proc/self/task/*/schedstat`): what a
/// loop built with `Builder::thread_name(prefix)` costs, and nothing that
/// other tests of the same binary, or other processes, are doing. A thread
/// that has exited takes its time with it; measure over a window in which
/// the threads stay alive.
pub fn threads_cpu_time(prefix: &str) -> Duration {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task is readable").flatten() {
        let named = std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.starts_with(prefix));
        if named {
            total += schedstat_cpu_time(&task.path().join("schedstat"));
        }
    }
    total
}

/// CPU time used so far by the calling thread.
pub fn current_thread_cpu_time() -> Duration {
    schedstat_cpu_time(std::path::Path::new("/proc/thread-self/schedstat"))
}

/// The first field of a `schedstat` file: nanoseconds spent on a CPU. A
/// file that cannot be read (its thread just exited) counts as zero.
fn schedstat_cpu_time(path: &std::path::Path) -> Duration {
    let nanos = std::fs::read_to_string(path)
        .ok()
        .and_then(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse().ok()))
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// Raises this process's open-file limit as close to `wanted` as the hard
/// limit allows (raising the hard limit too where the process may). Returns
/// the soft limit in force afterwards.
pub fn raise_nofile_towards(wanted: u64) -> u64 {
    if raise_nofile(wanted).is_ok() {
        return wanted;
    }
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        limit.rlim_max
    } else {
        limit.rlim_cur
    }
}

/// Raises this process's open-file limit to at least `needed`, raising the
/// hard limit too where the process may (root). Returns why not otherwise.
pub fn raise_nofile(needed: u64) -> Result<(), String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!("getrlimit failed: {}", std::io::Error::last_os_error()));
    }
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    let raised = libc::rlimit { rlim_cur: needed, rlim_max: limit.rlim_max.max(needed) };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(format!(
            "RLIMIT_NOFILE is {} (hard {}) and raising it to {needed} failed: {}",
            limit.rlim_cur,
            limit.rlim_max,
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The panic message of `f`, which must panic with a string.
///
/// # Panics
///
/// If `f` returns, or panics with something other than a string.
pub fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("expected a panic");
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a string panic message")
}

pub mod examples;
pub mod redis_server;

/// An echo server and client over loopwork's TCP, for the `net_` tests.
pub mod echo {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use loopwork::net::{TcpListener, TcpStream};

    /// The size of every message.
    pub const MESSAGE: usize = 1024;

    /// Serves every connection on `listener`: echoes until end of file.
    pub async fn serve(listener: TcpListener) {
        loop {
            let (mut stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => panic!("accept failed: {err}"),
            };
            loopwork::spawn(async move {
                let mut buf = vec![0; MESSAGE];
                loop {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    stream.write_all(&buf[..n]).await.unwrap();
                }
            });
        }
    }

    /// One client: `messages` messages of 1 KiB, every byte checked.
    pub async fn client(addr: std::net::SocketAddr, id: usize, messages: usize) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut reply = vec![0; MESSAGE];
        for m in 0..messages {
            let message: Vec<u8> = (0..MESSAGE).map(|i| (i + id * 7 + m * 13) as u8).collect();
            stream.write_all(&message).await.unwrap();
            stream.read_exact(&mut reply).await.unwrap();
            assert_eq!(reply, message, "connection {id}, message {m}");
        }
    }
}

/// The earliest instant `Instant` can represent at or before `from`: an
/// instant "far in the past" for edge tests.
pub fn far_past(from: std::time::Instant) -> std::time::Instant {
    let mut at = from;
    let mut step = Duration::MAX;
    while !step.is_zero() {
        match at.checked_sub(step) {
            Some(earlier) => at = earlier,
            None => step /= 2,
        }
    }
    at
}

/// The latest instant `Instant` can represent: an instant "far in the
/// future" for edge tests.
pub fn far_future(from: std::time::Instant) -> std::time::Instant {
    let mut at = from;
    let mut step = Duration::MAX;
    while !step.is_zero() {
        match at.checked_add(step) {
            Some(later) => at = later,
            None => step /= 2,
        }
    }
    at
}

/// What `/proc` says about this process: its threads, and its children that
/// are zombies (exited, not reaped). Linux only.
pub mod procfs {
    /// How many threads this process has now.
    pub fn thread_count() -> usize {
        std::fs::read_dir("/proc/self/task").expect("read /proc/self/task").count()
    }

    /// The state letter (`R`, `S`, `Z`...) of `pid` if it is a child of
    /// this process; `None` once it is reaped (the pid is gone, or reused by
    /// a process that is not our child).
    pub fn child_state(pid: u32) -> Option<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses,
        // so the fields start after the last ')'.
        let after_comm = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_comm.split_whitespace();
        let state = fields.next()?;
        let ppid = fields.next()?.parse::<u32>().ok()?;
        (ppid == std::process::id()).then(|| state.to_owned())
    }

    /// Whether `pid` is a child of this process that exited and was not reaped.
    pub fn is_zombie_child(pid: u32) -> bool {
        child_state(pid).as_deref() == Some("Z")
    }

    /// The pids of every child of this process that is a zombie.
    pub fn zombie_children() -> Vec<u32> {
        std::fs::read_dir("/proc")
            .expect("read /proc")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| is_zombie_child(pid))
            .collect()
    }
}
