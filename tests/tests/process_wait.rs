//! `loopwork::process`: kill and wait, a child that exits before `wait`, the
//! output of `output()` / `status()` / `wait_with_output()`, and children
//! dropped while running, each checked in `/proc` to leave no zombie.

use futures_lite::AsyncWriteExt;
use loopwork::process::Command;
use loopwork::EventLoop;
use loopwork_tests::{procfs, with_watchdog};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

fn on_loop<T: Send + 'static>(name: &str, body: impl std::future::Future<Output = T> + Send + 'static) -> T {
    with_watchdog(Duration::from_secs(60), name, move || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let out = event_loop.block_on(body);
        event_loop.close();
        out
    })
}

/// Waits on the loop until `pid` is no longer an unreaped child of ours.
async fn until_reaped(pid: u32) {
    while procfs::child_state(pid).is_some() {
        loopwork::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn process_kill_and_wait_on_sleep_100() {
    on_loop("kill sleep 100", async {
        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(!procfs::is_zombie_child(child.id()));
    });
}

#[test]
fn process_a_child_that_exits_before_wait_is_called_is_still_reaped() {
    on_loop("exit before wait", async {
        let mut child = Command::new("sh").args(["-c", "exit 4"]).spawn().unwrap();
        // Exited and not reaped: a zombie, until `wait`.
        while !procfs::is_zombie_child(child.id()) {
            loopwork::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(child.wait().await.unwrap().code(), Some(4));
        assert!(!procfs::is_zombie_child(child.id()));
    });
}

#[test]
fn process_output_status_and_communicate_return_what_the_child_did() {
    on_loop("output", async {
        let output = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 2"]).output().await.unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
        assert_eq!(output.status.code(), Some(2));

        let status = Command::new("true").status().await.unwrap();
        assert!(status.success());

        // asyncio's communicate(input): write, close, collect.
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"round trip").await.unwrap();
        drop(stdin);
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(output.stdout, b"round trip");
        assert!(output.stderr.is_empty());
        assert!(output.status.success());

        let missing = Command::new("/definitely/not/a/program").spawn().unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    });
}

#[test]
fn process_spawn_outside_a_loop_is_an_error_that_says_so() {
    let err = Command::new("true").spawn().unwrap_err();
    assert!(err.to_string().contains("outside a loopwork event loop"), "{err}");
}

#[test]
fn process_a_dropped_running_child_is_reaped_by_the_loop_when_it_exits() {
    on_loop("detached child", async {
        // Detached: runs on until its stdin closes (dropped with the Child).
        let detached = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let pid = detached.id();
        drop(detached);
        until_reaped(pid).await;

        // kill_on_drop: killed at the drop, then reaped the same way.
        let killed = Command::new("sleep").arg("100").kill_on_drop(true).spawn().unwrap();
        let pid = killed.id();
        drop(killed);
        until_reaped(pid).await;
    });
}
