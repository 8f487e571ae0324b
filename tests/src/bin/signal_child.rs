//! A process for the signal tests to send signals to (tests/tests/signal_*.rs).
//!
//! `signal_child <mode> [workers]` prints `ready` once it listens, then one
//! line per signal it sees, on stdout:
//!
//! - `each-once`: handlers (`add_signal_handler`) and a `Signals` stream for
//!   SIGTERM, SIGINT and SIGHUP print `handler N` and `stream N`; SIGUSR1 on
//!   the stream ends the run.
//! - `ctrl-c`: awaits `ctrl_c()` and prints `ctrl-c`.
//! - `restore-drop`, `restore-remove`, `restore-close`: listens for SIGTERM,
//!   stops (by dropping the stream, removing the handler, closing the loop),
//!   prints `restored`, then waits for stdin to close. SIGTERM should now
//!   end it by its default action.
//! - `restore-ignored`: as `restore-drop`, with SIGTERM ignored before the
//!   stream: SIGTERM should still be ignored after it.

use loopwork::signal::{Signals, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use loopwork::EventLoop;
use std::io::{BufRead, Write};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("write to stdout");
    out.flush().expect("flush stdout");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().expect("usage: signal_child <mode> [workers]");
    let workers = args.next().map_or(2, |n| n.parse().expect("workers is a number"));
    let event_loop = EventLoop::builder().workers(workers).build().expect("start the loop");
    let handle = event_loop.handle();
    match mode.as_str() {
        "each-once" => {
            for signal in [SIGTERM, SIGINT, SIGHUP] {
                handle.add_signal_handler(signal, move || say(&format!("handler {signal}"))).expect("add a handler");
            }
            event_loop.block_on(async {
                let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1]).expect("listen");
                say("ready");
                loop {
                    let signal = signals.recv().await;
                    if signal == SIGUSR1 {
                        break;
                    }
                    say(&format!("stream {signal}"));
                }
            });
            say("done");
        }
        "ctrl-c" => {
            event_loop.block_on(async {
                let ctrl_c = loopwork::signal::ctrl_c();
                say("ready");
                ctrl_c.await.expect("listen for SIGINT");
            });
            say("ctrl-c");
        }
        "restore-drop" => {
            event_loop.block_on(async { drop(Signals::new([SIGTERM]).expect("listen")) });
        }
        "restore-ignored" => {
            // SAFETY: SIG_IGN is a valid disposition for SIGTERM, and no
            // handler of ours is installed yet to be replaced.
            let previous = unsafe { libc::signal(SIGTERM, libc::SIG_IGN) };
            assert_ne!(previous, libc::SIG_ERR, "signal: {}", std::io::Error::last_os_error());
            event_loop.block_on(async { drop(Signals::new([SIGTERM]).expect("listen")) });
        }
        "restore-remove" => {
            handle.add_signal_handler(SIGTERM, || say("handler ran")).expect("add a handler");
            assert!(handle.remove_signal_handler(SIGTERM));
        }
        "restore-close" => {
            handle.add_signal_handler(SIGTERM, || say("handler ran")).expect("add a handler");
            event_loop.close();
        }
        other => panic!("unknown mode {other}"),
    }
    if mode.starts_with("restore") {
        say("restored");
        // Wait for the test to close stdin (or for SIGTERM to end us first).
        for line in std::io::stdin().lock().lines() {
            line.expect("read stdin");
        }
    }
}
