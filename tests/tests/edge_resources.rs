//! Exhausted OS resources: when the OS refuses a thread or a file
//! descriptor, loopwork returns an error (or fails the one task that needed
//! it), never panics inside itself, aborts or hangs.
//!
//! Each test re-runs itself in a child process (`--exact`, with
//! `LOOPWORK_EDGE_CHILD` set), which starves itself with `setrlimit` and
//! acts; the parent only checks the child's exit status and output, so the
//! test binary itself is never starved.
//!
//! Out of threads: `RLIMIT_NPROC` is not enforced for root (uid 0, or any
//! holder of `CAP_SYS_RESOURCE`), which is how these tests often run. The
//! child therefore sets the limit and then gives up root for a uid of its
//! own (100,000 plus its pid, so that no other process — another child run
//! at the same time — counts against the same limit): the kernel counts its
//! threads against the limit from then on and refuses a new thread with
//! `EAGAIN`, as it would for any user out of processes. Run as another user
//! already, the child only sets the limit.

use loopwork::{EventLoop, TaskError};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const CHILD: &str = "LOOPWORK_EDGE_CHILD";

/// In the parent: runs test `name` again in a child process and asserts it
/// passed. In the child: returns true, and the test does the starving.
fn in_child(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child `{name}` failed ({}):\n{stdout}\n{stderr}", output.status);
    // `--exact` with a typo would run no test and still succeed.
    assert!(stdout.contains("1 passed"), "child `{name}` ran no test:\n{stdout}");
    false
}

/// The number of threads of this process.
fn threads_now() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|l| l.starts_with("Threads:")).expect("a Threads: line");
    line["Threads:".len()..].trim().parse().expect("a thread count")
}

/// Lowers the soft limit `resource` to `limit`.
fn set_soft_limit(resource: libc::__rlimit_resource_t, limit: u64) {
    let mut rlimit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes the struct we pass, `setrlimit` reads it.
    unsafe {
        assert_eq!(libc::getrlimit(resource, &mut rlimit), 0, "getrlimit");
        rlimit.rlim_cur = limit;
        assert_eq!(libc::setrlimit(resource, &rlimit), 0, "setrlimit");
    }
}

/// Lets this process start at most `more` threads beyond those it has.
fn limit_threads(more: u64) {
    set_soft_limit(libc::RLIMIT_NPROC, threads_now() + more);
    // SAFETY: plain system calls without pointers; glibc applies them to
    // every thread of the process.
    unsafe {
        if libc::getuid() == 0 {
            let uid = 100_000 + std::process::id();
            assert_eq!(libc::setgid(uid), 0, "setgid({uid})");
            assert_eq!(libc::setuid(uid), 0, "setuid({uid})");
        }
    }
    assert!(more > 0 || std::thread::Builder::new().spawn(|| ()).is_err(), "the thread limit does not hold");
}

/// The lowest descriptor number not in use.
fn lowest_free_fd() -> u64 {
    // SAFETY: `dup` of stdin returns the lowest free descriptor, closed at once.
    unsafe {
        let fd = libc::dup(0);
        assert!(fd >= 0, "dup(0)");
        libc::close(fd);
        fd as u64
    }
}

#[test]
fn build_returns_an_error_when_the_monitor_thread_cannot_start() {
    if !in_child("build_returns_an_error_when_the_monitor_thread_cannot_start") {
        return;
    }
    limit_threads(0);
    let err = EventLoop::builder().workers(2).build().expect_err("built a loop without threads");
    println!("build: {err}");
}

#[test]
fn build_returns_an_error_when_a_worker_cannot_start() {
    if !in_child("build_returns_an_error_when_a_worker_cannot_start") {
        return;
    }
    // The monitor and the first worker start; the second does not.
    limit_threads(2);
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let err = EventLoop::builder()
        .workers(4)
        .on_thread_start(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect_err("built a loop without all its workers");
    println!("build: {err}");
    // The worker that did start was stopped and joined before `build` returned.
    assert_eq!(started.load(Ordering::SeqCst), 1);
}

#[test]
fn run_in_executor_fails_its_task_when_no_pool_thread_can_start() {
    if !in_child("run_in_executor_fails_its_task_when_no_pool_thread_can_start") {
        return;
    }
    // Strict mode: the loop itself needs no thread once built.
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    limit_threads(0);
    let outcome = event_loop.block_on(async { loopwork::run_in_executor(|| 42).await });
    match outcome {
        Err(err @ TaskError::Panicked(_)) => {
            let message = err.panic_message().expect("a message").to_owned();
            assert!(message.contains("refused to start"), "{message}");
        }
        other => panic!("expected the task to fail, got {other:?}"),
    }
    // The loop is unharmed: it still runs tasks.
    assert_eq!(event_loop.block_on(async { loopwork::spawn(async { 7 }).await.unwrap() }), 7);
}

#[test]
fn reactor_and_loop_creation_return_an_error_when_descriptors_run_out() {
    if !in_child("reactor_and_loop_creation_return_an_error_when_descriptors_run_out") {
        return;
    }
    // No descriptor at all, then one (the poller's first, not its notifier).
    let lowest_free = lowest_free_fd();
    for more in [0, 1] {
        set_soft_limit(libc::RLIMIT_NOFILE, lowest_free + more);
        let err = loopwork::reactor::Reactor::new().expect_err("a reactor without descriptors");
        println!("Reactor::new with {more} free descriptors: {err}");
        let err = EventLoop::builder().workers(1).build().expect_err("a loop without descriptors");
        println!("build with {more} free descriptors: {err}");
    }
}
