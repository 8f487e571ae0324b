//! The SIGCHLD path, which Linux 5.3 and later never take on their own.

use super::exit::ExitWatch;
use super::Child;
use crate::EventLoop;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

fn spawn_with_sigchld(command: &mut std::process::Command) -> Child {
    let reactor = loopwork_reactor::Reactor::current().expect("called on the loop");
    Child::from_std(command.spawn().unwrap(), false, ExitWatch::sigchld(reactor)).unwrap()
}

#[test]
fn sigchld_path_reaps_exits_and_kills_and_leaves_foreign_children_to_their_owner() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    event_loop.block_on(async {
        // A child this crate did not spawn, exiting while ours wait on SIGCHLD.
        let mut foreign = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let mut exits: Vec<Child> = (0..10)
            .map(|code| spawn_with_sigchld(std::process::Command::new("sh").args(["-c", &format!("exit {code}")])))
            .collect();
        let mut sleeper = spawn_with_sigchld(std::process::Command::new("sleep").arg("100").stdin(Stdio::null()));
        for (code, child) in exits.iter_mut().enumerate() {
            assert_eq!(child.wait().await.unwrap().code(), Some(code as i32));
        }
        assert!(sleeper.try_wait().unwrap().is_none());
        sleeper.kill().unwrap();
        assert_eq!(sleeper.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        // Its owner still reaps it: nobody waited for "any child".
        assert_eq!(foreign.wait().unwrap().code(), Some(3));
    });
    event_loop.close();
}
