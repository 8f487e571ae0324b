//! Idle means parked: no CPU when there is nothing to do.

use loopwork::EventLoop;
use loopwork_tests::process_cpu_time;
use std::time::Duration;

#[test]
fn an_idle_loop_with_two_workers_uses_almost_no_cpu() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    // Some work first, so the workers have gone through search and park.
    let task = event_loop.handle().spawn(async {
        for _ in 0..1000 {
            loopwork::yield_now().await;
        }
    });
    event_loop.block_on(task.unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let used = process_cpu_time() - before;
    // 1% of one core over 2 s is 20 ms; the bound is that, generously
    // covering this test process's own noise.
    assert!(used < Duration::from_millis(20), "idle loop used {used:?} of CPU in 2 s");
}
