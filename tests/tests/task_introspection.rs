//! `all_tasks`, `current_task`, and task statistics.

use loopwork::{EventLoop, TaskState};
use std::collections::HashSet;
use std::time::Instant;

#[test]
fn all_tasks_lists_ten_thousand_live_tasks_once_each() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let before = Instant::now();
    let tasks: Vec<_> =
        (0..10_000).map(|i| handle.spawn_named(format!("t{i}"), std::future::pending::<()>()).unwrap()).collect();
    // Let them all be polled once and park.
    while handle.all_tasks().iter().any(|info| info.polls == Some(0)) {
        std::thread::yield_now();
    }
    let infos = handle.all_tasks();
    assert_eq!(infos.len(), 10_000);
    let ids: HashSet<_> = infos.iter().map(|info| info.id).collect();
    assert_eq!(ids.len(), 10_000);
    let expected: HashSet<_> = tasks.iter().map(|t| t.id()).collect();
    assert_eq!(ids, expected);
    for info in &infos {
        assert_eq!(info.state, TaskState::Waiting);
        assert_eq!(info.polls, Some(1));
        assert_eq!(info.name, format!("t{}", info.id - tasks[0].id()));
        // The spawn time comes from a coarse clock: within a sampling
        // interval (25 ms at the default threshold) of the truth, unless the
        // monitor thread that samples it is starved; generous for that.
        assert!(
            info.spawned_at.expect("a named task keeps its details") + std::time::Duration::from_secs(10) >= before
        );
    }
    for task in &tasks {
        task.cancel();
    }
    drop(tasks);
    event_loop.close();
}

#[test]
fn current_task_names_the_running_task_and_the_block_on_future_is_one() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let (outside, inside) = event_loop.block_on(async move {
            let outside = loopwork::current_task();
            let task = handle
                .spawn_named("worker-task", async {
                    loopwork::yield_now().await;
                    let info = loopwork::current_task().unwrap();
                    (info.name, info.state, info.polls)
                })
                .unwrap();
            (outside, task.await.unwrap())
        });
        let outside = outside.expect("block_on's own future runs as a task, as in run_until_complete");
        assert_eq!(outside.name, format!("Task-{}", outside.id));
        assert_eq!(inside, ("worker-task".to_owned(), TaskState::Running, Some(2)));
    }
}

#[test]
fn finished_tasks_leave_all_tasks() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let tasks: Vec<_> = (0..100).map(|i| handle.spawn(async move { i }).unwrap()).collect();
    event_loop.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(handle.all_tasks().is_empty());
}

/// A task whose result was read is gone from `num_tasks` and `all_tasks`
/// at once, whichever worker completed it, among pending tasks in the same
/// registry lists.
#[test]
fn a_finished_task_leaves_the_count_and_the_listing_the_moment_it_is_awaited() {
    const PENDING: usize = 40;
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let pending: Vec<_> = (0..PENDING).map(|_| handle.spawn(std::future::pending::<()>()).unwrap()).collect();
    // `block_on`'s future counts as a task of the loop too.
    let unfinished = PENDING + 1;
    event_loop.block_on(async {
        for round in 0..20 {
            let tasks: Vec<_> = (0..7).map(|i| handle.spawn(async move { round * 7 + i }).unwrap()).collect();
            for task in tasks {
                let id = task.id();
                task.await.unwrap();
                assert!(handle.num_tasks() < unfinished + 7, "round {round}: {} tasks", handle.num_tasks());
                assert!(
                    handle.all_tasks().iter().all(|info| info.id != id),
                    "round {round}: task {id} is listed after its result was read"
                );
            }
            assert_eq!(handle.num_tasks(), unfinished, "round {round}");
            assert_eq!(handle.all_tasks().len(), unfinished, "round {round}");
        }
    });
    drop(pending);
}
