//! asyncio's `KeyboardInterrupt` around `run_until_complete`: on Ctrl-C, list
//! `all_tasks()`, cancel every task, then close the loop cleanly.
//!
//! Rust has no `KeyboardInterrupt` exception. A SIGINT handler writes one
//! byte to a socket pair (the self-pipe trick: `write(2)` is one of the few
//! calls a signal handler may make); a task on the loop reads it through the
//! reactor and fails the promise that `run_until_complete` (`block_on`)
//! waits on, which is what raising `KeyboardInterrupt` into it does in
//! Python. The tasks sleep 1, 2 and 3 seconds, as in the seed: press Ctrl-C
//! before they finish.
//!
//! Run it with `cargo run -p loopwork --example ctrl_c`.

use futures_lite::AsyncReadExt;
use loopwork::{EventLoop, PromiseError};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The write end of the signal socket pair, for the handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigint(_signal: libc::c_int) {
    // Relaxed: the store happened before the handler was installed.
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    // SAFETY: write(2) is async-signal-safe; `fd` is the write end that
    // `main` keeps open for as long as the handler is installed, and the
    // buffer is a one-byte static. A failed write (a full buffer means an
    // interrupt is already pending) loses nothing.
    let _ = unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
}

/// Routes SIGINT to `on_sigint`.
fn install_sigint_handler() {
    // SAFETY: an all-zero `sigaction` is a valid value (no flags, empty
    // mask), which we then fill in; the handler only calls write(2), which
    // is async-signal-safe; SA_RESTART keeps other threads' blocking calls
    // from failing with EINTR.
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut())
    };
    assert_eq!(installed, 0, "sigaction failed: {}", std::io::Error::last_os_error());
}

async fn do_some_work(x: u64) -> String {
    println!("Waiting: {x}");
    loopwork::sleep(Duration::from_secs(x)).await;
    format!("Done after {x}")
}

fn main() {
    let start = Instant::now();
    let (signals, signal_writer) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    SIGNAL_PIPE.store(signal_writer.as_raw_fd(), Ordering::Relaxed);
    install_sigint_handler();
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    let handle = event_loop.handle();

    // asyncio.wait(tasks): done when every task is, or when interrupted.
    let wait = handle.create_future::<()>();
    let pending = Arc::new(AtomicUsize::new(3));
    let tasks: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|x| {
            let task = handle.spawn(do_some_work(x)).unwrap();
            let (wait, pending) = (wait.clone(), pending.clone());
            task.add_done_callback(move |_| {
                // AcqRel: the last task to finish sees every other's decrement.
                if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    let _ = wait.set_result(());
                }
            })
            .expect("the task's result is not taken yet");
            task
        })
        .collect();

    // The SIGINT handler's byte arrives on `signals`; reading it is what
    // turns the signal into the KeyboardInterrupt that ends the wait.
    let interrupt = wait.clone();
    handle
        .spawn_named("signal-watcher", async move {
            let mut signals = loopwork::net::UnixStream::try_from(signals).expect("register the signal socket");
            let mut byte = [0; 1];
            if signals.read_exact(&mut byte).await.is_ok() {
                println!("^C");
                let _ = interrupt.set_error("KeyboardInterrupt");
            }
        })
        .unwrap();
    match event_loop.block_on(wait) {
        Ok(()) => println!("every task finished before the interrupt"),
        Err(PromiseError::Failed(error)) => {
            println!("caught {error}");
            println!("all tasks in the loop:");
            for info in handle.all_tasks() {
                println!("  {} ({:?})", info.name, info.state);
            }
            for task in &tasks {
                println!("task {} cancelled? {}", task.name(), task.cancel());
            }
        }
        Err(PromiseError::Cancelled | PromiseError::Taken) => {
            unreachable!("nobody cancels the wait or takes its value")
        }
    }
    // Cancelled tasks are dropped at once; awaiting one gives Err(Cancelled).
    for task in tasks {
        let name = task.name();
        println!("task {name}: {:?}", event_loop.block_on(task));
    }
    event_loop.close();
    println!("loop closed: {}", handle.is_closed());
    println!("Time: {} ms", start.elapsed().as_millis());
}
