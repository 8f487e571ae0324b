//! `#[loopwork::test]`'s options build the loop they say; `?` and `Err`
//! work in test bodies; a panic fails the test.

use std::time::Duration;

#[loopwork::test]
async fn runs_on_a_loop_with_one_worker_per_cpu() {
    let handle = loopwork::get_running_loop().unwrap();
    assert_eq!(handle.workers(), std::thread::available_parallelism().map_or(1, usize::from));
}

#[loopwork::test(workers = 3)]
async fn workers_sets_the_worker_count() {
    assert_eq!(loopwork::get_running_loop().unwrap().workers(), 3);
    let task = loopwork::spawn(async { std::thread::current().name().map(str::to_owned) });
    let name = task.await.unwrap().unwrap();
    assert!(name.starts_with("loopwork-worker"), "a task runs on a worker, not on {name}");
}

#[loopwork::test(strict)]
async fn strict_runs_tasks_in_spawn_order_on_the_test_thread() {
    assert_eq!(loopwork::get_running_loop().unwrap().workers(), 0);
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let order = order.clone();
            loopwork::spawn(async move { order.lock().unwrap().push(i) })
        })
        .collect();
    loopwork::try_gather(tasks).await.unwrap();
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[loopwork::test(paused_clock, workers = 2)]
async fn paused_clock_skips_an_hour_of_sleep() {
    let handle = loopwork::get_running_loop().unwrap();
    let started = handle.time();
    loopwork::sleep(Duration::from_secs(3600)).await;
    assert!(handle.time() - started >= Duration::from_secs(3600));
}

#[loopwork::test(strict)]
async fn question_mark_works_in_a_test_body() -> Result<(), std::num::ParseIntError> {
    let value: u32 = "12".parse()?;
    assert_eq!(value, 12);
    Ok(())
}

#[loopwork::test(strict)]
#[should_panic(expected = "the body's own panic")]
async fn a_panic_in_the_body_fails_the_test() {
    loopwork::yield_now().await;
    panic!("the body's own panic");
}

#[loopwork::test(chaos_seeds = 8)]
async fn chaos_seeds_runs_in_strict_mode() {
    assert_eq!(loopwork::get_running_loop().unwrap().workers(), 0);
}
