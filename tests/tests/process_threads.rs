//! 100 concurrent `cat` children on a 2-worker loop, each fed on stdin and
//! read back on stdout, start no thread and leave no zombie. Alone in its
//! file so that no other test's threads or children are counted.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::process::Command;
use loopwork::EventLoop;
use loopwork_tests::{procfs, with_watchdog};
use std::process::Stdio;
use std::time::Duration;

const CHILDREN: usize = 100;
/// More than a pipe holds (64 KiB on Linux), so each child's stdin and
/// stdout must be served at the same time.
const BYTES_PER_CHILD: usize = 100 * 1024;

#[test]
fn process_100_cat_children_on_2_workers_start_no_thread_and_leave_no_zombie() {
    with_watchdog(Duration::from_secs(120), "100 cat children", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let threads_before = procfs::thread_count();
        let (threads_while_running, pids) = event_loop.block_on(async {
            let mut children = Vec::new();
            for i in 0..CHILDREN {
                let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
                children.push((i, child));
            }
            let threads_while_running = procfs::thread_count();
            let tasks: Vec<_> = children
                .into_iter()
                .map(|(i, mut child)| {
                    handle
                        .spawn(async move {
                            let payload: Vec<u8> = (0..BYTES_PER_CHILD).map(|n| (n * 31 + i) as u8).collect();
                            let mut stdin = child.stdin.take().unwrap();
                            let expected = payload.clone();
                            let writer = loopwork::spawn(async move {
                                stdin.write_all(&payload).await.unwrap();
                                // Dropped here: cat sees the end of its input.
                            });
                            let mut stdout = child.stdout.take().unwrap();
                            let reader = loopwork::spawn(async move {
                                let mut echoed = Vec::new();
                                stdout.read_to_end(&mut echoed).await.unwrap();
                                echoed
                            });
                            // Waits while cat still runs: the exit comes
                            // through the reactor, not a thread.
                            assert!(child.wait().await.unwrap().success());
                            writer.await.unwrap();
                            assert!(reader.await.unwrap() == expected, "child {i} echoed something else");
                            child.id()
                        })
                        .unwrap()
                })
                .collect();
            let mut pids = Vec::new();
            for task in tasks {
                pids.push(task.await.unwrap());
            }
            (threads_while_running, pids)
        });
        let threads_after = procfs::thread_count();
        assert_eq!(threads_while_running, threads_before, "spawning children started threads");
        assert_eq!(threads_after, threads_before, "the children left threads behind");
        assert_eq!(pids.len(), CHILDREN);
        assert_eq!(procfs::zombie_children(), Vec::<u32>::new(), "zombies left");
        event_loop.close();
    });
}
