//! Several loops in one process, each listening for the same signal, each
//! see it. The signal is sent to this test process only while a listener
//! holds it, so its default action (ending the process) never runs. The
//! tests run at once in this one process, so each sends a signal of its
//! own: a test counting its handler's calls must not see another's.

use loopwork::signal::{Signals, SIGUSR1, SIGUSR2};
use loopwork::EventLoop;
use loopwork_tests::with_watchdog;
use std::time::Duration;

fn send_to_self(signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; the caller keeps
    // a listener for `signal` alive, so its handler, not the default
    // action, runs.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signal) }, 0, "kill: {}", std::io::Error::last_os_error());
}

#[test]
fn signal_two_loops_both_see_a_signal_they_listen_for() {
    with_watchdog(Duration::from_secs(60), "two loops", two_loops_both_see_a_signal);
}

fn two_loops_both_see_a_signal() {
    let first = EventLoop::builder().workers(1).build().unwrap();
    let second = EventLoop::builder().workers(2).build().unwrap();
    // One loop listens with a handler, the other with a stream in a task.
    let by_handler = first.handle().create_future::<()>();
    let seen = by_handler.clone();
    first
        .handle()
        .add_signal_handler(SIGUSR2, move || {
            let _ = seen.set_result(());
        })
        .unwrap();
    let listening = second.handle().create_future::<()>();
    let ready = listening.clone();
    let by_stream = second
        .handle()
        .spawn(async move {
            let mut signals = Signals::new([SIGUSR2]).unwrap();
            ready.set_result(()).unwrap();
            signals.recv().await
        })
        .unwrap();
    second.block_on(listening).unwrap();

    send_to_self(SIGUSR2);
    first.block_on(by_handler).unwrap();
    assert_eq!(second.block_on(by_stream).unwrap(), SIGUSR2);
    // The handler is the last listener left: it goes with its loop.
    first.close();
    second.close();
}

#[test]
fn signal_a_newer_handler_replaces_the_older_on_the_same_loop_only() {
    with_watchdog(Duration::from_secs(60), "newer handler", newer_handler_replaces_older);
}

fn newer_handler_replaces_older() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let other = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let (sender, calls) = std::sync::mpsc::channel::<&str>();
    let (old, new, elsewhere) = (sender.clone(), sender.clone(), sender);
    let old = std::sync::Mutex::new(old);
    let new = std::sync::Mutex::new(new);
    let elsewhere = std::sync::Mutex::new(elsewhere);
    handle.add_signal_handler(SIGUSR1, move || old.lock().unwrap().send("old").unwrap()).unwrap();
    handle.add_signal_handler(SIGUSR1, move || new.lock().unwrap().send("new").unwrap()).unwrap();
    other.handle().add_signal_handler(SIGUSR1, move || elsewhere.lock().unwrap().send("other").unwrap()).unwrap();

    send_to_self(SIGUSR1);
    // Strict mode: the other loop's callback runs inside its `run_forever`.
    let stopper = other.handle();
    other.handle().call_later(Duration::from_millis(1), move || stopper.stop()).unwrap();
    let mut seen = vec![calls.recv().unwrap()];
    while seen.len() < 2 {
        other.run_forever();
        seen.extend(calls.try_recv().ok());
        let stopper = other.handle();
        other.handle().call_later(Duration::from_millis(1), move || stopper.stop()).unwrap();
    }
    seen.sort_unstable();
    assert_eq!(seen, ["new", "other"]);
    assert!(handle.remove_signal_handler(SIGUSR1));
    assert!(!handle.remove_signal_handler(SIGUSR1));
    // `other` still listens, so this process still survives SIGUSR1.
    event_loop.close();
    other.close();
}

#[test]
fn signal_handlers_refuse_bad_numbers_and_closed_loops_with_an_error() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    for bad in [0, -3, 200, libc::SIGKILL, libc::SIGSEGV] {
        let err = handle.add_signal_handler(bad, || {}).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {err}");
    }
    assert!(Signals::new([SIGUSR2]).unwrap_err().to_string().contains("outside a loopwork event loop"));
    event_loop.block_on(async {
        assert!(Signals::new([]).unwrap_err().to_string().contains("no signal"));
    });
    event_loop.close();
    assert!(handle.add_signal_handler(SIGUSR2, || {}).is_err());
}
