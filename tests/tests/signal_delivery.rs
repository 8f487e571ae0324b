//! Signals sent to a child process (`signal_child`) with kill(2): each is seen
//! once by its handler and its stream, `ctrl_c()` completes on SIGINT, and a
//! signal nobody listens for any more has its default action back. The test
//! process itself is never sent a signal it does not listen for.

use std::io::{BufRead, BufReader, Lines};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdout, Command, Stdio};

struct SignalChild {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SignalChild {
    fn start(args: &[&str]) -> SignalChild {
        let mut child = Command::new(env!("CARGO_BIN_EXE_signal_child"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start signal_child");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        SignalChild { child, lines }
    }

    fn next_line(&mut self) -> String {
        match self.lines.next() {
            Some(line) => line.expect("UTF-8 output"),
            None => panic!("signal_child ended early: {:?}", self.child.wait()),
        }
    }

    fn expect_line(&mut self, expected: &str) {
        assert_eq!(self.next_line(), expected);
    }

    fn kill(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our
        // own child, not reaped yet (nobody has waited for it).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Collects the lines up to the end of output, then the exit status.
    fn finish(mut self) -> (Vec<String>, std::process::ExitStatus) {
        drop(self.child.stdin.take());
        let rest: Vec<String> = self.lines.by_ref().map(|line| line.expect("UTF-8 output")).collect();
        (rest, self.child.wait().expect("wait for signal_child"))
    }
}

fn each_signal_once(workers: &str) {
    let mut child = SignalChild::start(&["each-once", workers]);
    child.expect_line("ready");
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        child.kill(signal);
        // The handler's callback and the stream run on different threads
        // (with workers): either order is fine, each exactly once.
        let mut seen = [child.next_line(), child.next_line()];
        seen.sort();
        assert_eq!(seen, [format!("handler {signal}"), format!("stream {signal}")]);
    }
    child.kill(libc::SIGUSR1);
    let (rest, status) = child.finish();
    // A duplicate would show up here, before `done`.
    assert_eq!(rest, ["done"]);
    assert!(status.success(), "{status}");
}

#[test]
fn signal_term_int_hup_each_seen_once_by_handlers_and_stream_on_2_workers() {
    each_signal_once("2");
}

#[test]
fn signal_term_int_hup_each_seen_once_by_handlers_and_stream_in_strict_mode() {
    each_signal_once("0");
}

#[test]
fn signal_ctrl_c_completes_on_sigint() {
    let mut child = SignalChild::start(&["ctrl-c"]);
    child.expect_line("ready");
    child.kill(libc::SIGINT);
    let (rest, status) = child.finish();
    assert_eq!(rest, ["ctrl-c"]);
    assert!(status.success(), "{status}");
}

fn default_sigterm_is_back_after(mode: &str) {
    let mut child = SignalChild::start(&[mode]);
    child.expect_line("restored");
    child.kill(libc::SIGTERM);
    let (rest, status) = child.finish();
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "SIGTERM should end it, not {status}");
}

#[test]
fn signal_default_disposition_is_back_after_the_last_stream_is_dropped() {
    default_sigterm_is_back_after("restore-drop");
}

#[test]
fn signal_default_disposition_is_back_after_remove_signal_handler() {
    default_sigterm_is_back_after("restore-remove");
}

#[test]
fn signal_default_disposition_is_back_after_the_loop_closes() {
    default_sigterm_is_back_after("restore-close");
}

#[test]
fn signal_an_ignored_signal_is_ignored_again_after_the_last_listener_goes() {
    let mut child = SignalChild::start(&["restore-ignored"]);
    child.expect_line("restored");
    child.kill(libc::SIGTERM);
    // Ignored: the child is still there to see stdin close, and exits 0.
    let (rest, status) = child.finish();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(status.success(), "SIGTERM should be ignored, not {status}");
}
