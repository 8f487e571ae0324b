//! Idle means parked: no CPU when there is nothing to do.

use loopwork::EventLoop;
use loopwork_tests::threads_cpu_time;
use std::time::Duration;

#[test]
fn an_idle_loop_with_two_workers_uses_almost_no_cpu() {
    // Its own thread names: only this loop's threads (workers and monitor)
    // are measured, not the other test's loop or other processes.
    let event_loop = EventLoop::builder().workers(2).thread_name("idle-cpu").build().unwrap();
    // Some work first, so the workers have gone through search and park.
    let task = event_loop.handle().spawn(async {
        for _ in 0..1000 {
            loopwork::yield_now().await;
        }
    });
    event_loop.block_on(task.unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let before = threads_cpu_time("idle-cpu");
    std::thread::sleep(Duration::from_secs(2));
    let used = threads_cpu_time("idle-cpu") - before;
    // 1% of one core over 2 s is 20 ms. Parked threads use none however
    // busy the machine is; a loaded machine can only delay them.
    assert!(used < Duration::from_millis(20), "idle loop used {used:?} of CPU in 2 s");
}

/// Voluntary context switches of this process's threads whose name starts
/// with `prefix`.
fn context_switches_of(prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            for line in status.lines() {
                if let Some(n) = line.strip_prefix("voluntary_ctxt_switches:") {
                    total += n.trim().parse::<u64>().unwrap();
                }
            }
        }
    }
    total
}

#[test]
fn an_idle_loop_wakes_no_thread_at_all() {
    let event_loop = EventLoop::builder().workers(2).thread_name("idle-check").build().unwrap();
    event_loop.block_on(event_loop.handle().spawn(async {}).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The workers and the monitor ("idle-check-monitor") of this loop only.
    let before = context_switches_of("idle-check");
    std::thread::sleep(Duration::from_secs(1));
    let after = context_switches_of("idle-check");
    // Other tests of this binary run loops of their own, but not with these
    // thread names; allow a stray wake-up or two.
    assert!(after - before <= 2, "idle threads woke {} times in 1 s", after - before);
}

#[test]
fn a_lone_task_from_outside_wakes_one_thread() {
    let event_loop = EventLoop::builder().workers(2).thread_name("trickle").build().unwrap();
    let handle = event_loop.handle();
    event_loop.block_on(handle.spawn(async {}).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // One empty task a millisecond from this thread, which is not the
    // loop's: each finds every worker parked. Waking one worker is one
    // voluntary switch when it parks again. Waking a second one to look for
    // more, or the slow-poll monitor, made it two or three.
    const TASKS: u64 = 500;
    let before = context_switches_of("trickle");
    for _ in 0..TASKS {
        drop(handle.spawn(async {}).unwrap());
        std::thread::sleep(Duration::from_millis(1));
    }
    // About one switch a task now, two and more before (1,069 for 500).
    // The margin is for a busy machine, where a delayed wake-up can meet a
    // worker still spinning, and for a while the worker that finds a task
    // wakes another (spinning pays again, `spin::pays`).
    let switches = context_switches_of("trickle") - before;
    assert!(switches < TASKS * 7 / 4, "{TASKS} lone tasks cost {switches} thread wake-ups");
}
