//! A 1 MiB future through every spawn path, in the build the tests run in
//! (unoptimized, where every move is a copy): none overflows its stack.
//!
//! Each path is taken on the `block_on` thread, with the 8 MiB stack of a
//! program's main thread (the test harness gives its own threads 2 MiB),
//! and from a task on a worker with the default stack (8 MiB, see
//! `Builder::thread_stack_size`). Without boxing, this build copies a future
//! 14 times on its way through `Handle::spawn` and 33 times through
//! `TaskGroup::spawn` (docs/architecture.md, "Large futures"): 14 MiB and
//! more for these. A stack overflow aborts the test binary, which fails the
//! test.

use loopwork::{EventLoop, TaskError, TaskGroup};
use loopwork_tests::with_watchdog;
use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

const SIZE: usize = 1 << 20;
const WATCHDOG: Duration = Duration::from_secs(120);
/// The stack of a program's main thread on Linux, where `block_on` runs.
const MAIN_STACK: usize = 8 << 20;

/// A future of a little over 1 MiB: the array is held across a suspension.
async fn large() -> usize {
    let bytes = [7u8; SIZE];
    loopwork::yield_now().await;
    black_box(&bytes).iter().map(|&b| usize::from(b)).sum::<usize>() / 7
}

/// `large` as a fallible child, for `TaskGroup` and `gather`.
async fn large_child() -> Result<usize, TaskError> {
    Ok(large().await)
}

/// `gather`'s argument: the child is made in this frame, which is gone by
/// the time `gather` runs; the caller holds only the `Vec`.
#[inline(never)]
fn children() -> Vec<impl Future<Output = Result<usize, TaskError>> + Send> {
    vec![large_child()]
}

/// Runs `body` on a thread with a main thread's stack, under a watchdog,
/// with a fresh two-worker loop whose workers have the default stack.
fn on_block_on_thread(name: &str, body: impl FnOnce(&EventLoop) + Send + 'static) {
    with_watchdog(WATCHDOG, name, move || {
        std::thread::Builder::new()
            .stack_size(MAIN_STACK)
            .spawn(move || {
                let event_loop = EventLoop::builder().workers(2).build().expect("start the loop");
                body(&event_loop);
                event_loop.close();
            })
            .expect("spawn the block_on thread")
            .join()
            .expect("the block_on thread panicked");
    });
}

/// Runs `body` as a task on a worker with the default stack, and awaits it.
fn on_worker<F>(name: &str, body: fn() -> F)
where
    F: Future<Output = usize> + Send + 'static,
{
    on_block_on_thread(name, move |event_loop| {
        let task = event_loop.handle().spawn(async move { body().await }).expect("loop is open");
        assert_eq!(event_loop.block_on(task).expect("the task failed"), SIZE);
    });
}

#[test]
fn size_of_the_test_future_is_above_one_mib() {
    assert!(std::mem::size_of_val(&large()) >= SIZE);
}

#[test]
fn block_on_a_large_future() {
    on_block_on_thread("block_on", |event_loop| assert_eq!(event_loop.block_on(large()), SIZE));
}

#[test]
fn run_a_large_future() {
    on_block_on_thread("run", |_| assert_eq!(loopwork::run(large()), SIZE));
}

#[test]
fn handle_spawn_of_a_large_future_on_the_block_on_thread() {
    on_block_on_thread("Handle::spawn", |event_loop| {
        let task = event_loop.handle().spawn(large()).expect("loop is open");
        assert_eq!(event_loop.block_on(task).unwrap(), SIZE);
    });
}

#[test]
fn handle_spawn_named_of_a_large_future_on_the_block_on_thread() {
    on_block_on_thread("Handle::spawn_named", |event_loop| {
        let task = event_loop.handle().spawn_named("large", large()).expect("loop is open");
        assert_eq!(event_loop.block_on(task).unwrap(), SIZE);
    });
}

#[test]
fn run_coroutine_threadsafe_of_a_large_future_on_the_block_on_thread() {
    on_block_on_thread("run_coroutine_threadsafe", |event_loop| {
        let future = event_loop.handle().run_coroutine_threadsafe(large()).expect("loop is open");
        assert_eq!(future.result().unwrap(), SIZE);
    });
}

#[test]
fn spawn_of_a_large_future_on_the_block_on_thread() {
    on_block_on_thread("spawn", |event_loop| {
        let n = event_loop.block_on(async {
            let task = loopwork::spawn(large());
            task.await.unwrap()
        });
        assert_eq!(n, SIZE);
    });
}

#[test]
fn task_group_spawn_of_a_large_future_on_the_block_on_thread() {
    on_block_on_thread("TaskGroup::spawn", |event_loop| {
        let n = event_loop.block_on(async {
            let group = TaskGroup::<usize, TaskError>::new();
            group.spawn(large_child()).unwrap();
            group.join().await.unwrap()
        });
        assert_eq!(n, [SIZE]);
    });
}

#[test]
fn gather_of_a_large_future_on_the_block_on_thread() {
    on_block_on_thread("gather", |event_loop| {
        let n = event_loop.block_on(async {
            let gather = loopwork::try_gather(children());
            gather.await.unwrap()
        });
        assert_eq!(n, [SIZE]);
    });
}

#[test]
fn handle_spawn_of_a_large_future_on_a_worker() {
    on_worker("Handle::spawn on a worker", || async {
        let task = loopwork::get_running_loop().unwrap().spawn(large()).unwrap();
        task.await.unwrap()
    });
}

#[test]
fn handle_spawn_named_of_a_large_future_on_a_worker() {
    on_worker("Handle::spawn_named on a worker", || async {
        let task = loopwork::get_running_loop().unwrap().spawn_named("large", large()).unwrap();
        task.await.unwrap()
    });
}

#[test]
fn run_coroutine_threadsafe_of_a_large_future_on_a_worker() {
    on_worker("run_coroutine_threadsafe on a worker", || async {
        let future = loopwork::get_running_loop().unwrap().run_coroutine_threadsafe(large()).unwrap();
        future.await.unwrap()
    });
}

#[test]
fn spawn_of_a_large_future_on_a_worker() {
    on_worker("spawn on a worker", || async {
        let task = loopwork::spawn(large());
        task.await.unwrap()
    });
}

#[test]
fn task_group_spawn_of_a_large_future_on_a_worker() {
    on_worker("TaskGroup::spawn on a worker", || async {
        let group = TaskGroup::<usize, TaskError>::new();
        group.spawn(large_child()).unwrap();
        group.join().await.unwrap()[0]
    });
}

#[test]
fn gather_of_a_large_future_on_a_worker() {
    on_worker("gather on a worker", || async {
        let gather = loopwork::try_gather(children());
        gather.await.unwrap()[0]
    });
}
