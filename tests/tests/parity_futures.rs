//! asyncio parity: reading results the way asyncio code does — `result()`
//! read again after `run_until_complete`, `gather` over plain coroutines,
//! `Future` objects holding values that cannot be copied, and
//! `ThreadPoolExecutor.submit(f).result()` without an event loop.

use loopwork::{EventLoop, PromiseError, TaskError, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn count(n: u32) -> u32 {
    loopwork::yield_now().await;
    n
}

async fn fails() -> u8 {
    panic!("in the coroutine")
}

/// ```python
/// loop = asyncio.new_event_loop()
/// task = loop.create_task(count(3))
/// loop.run_until_complete(task)
/// print(task.result(), task.result(), task.done(), task.cancelled())
/// ```
///
/// CPython prints `3 3 True False`.
#[test]
fn a_finished_tasks_result_reads_again_after_block_on() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let task = event_loop.handle().spawn(count(3)).unwrap();
        event_loop.block_on(async {
            while !task.is_done() {
                loopwork::yield_now().await;
            }
        });
        assert_eq!(task.try_result().unwrap().unwrap(), 3);
        assert_eq!(task.try_result().unwrap().unwrap(), 3);
        assert!(task.is_done() && !task.is_cancelled());
    }
}

#[test]
fn try_result_reads_a_panic_as_its_message_and_leaves_the_payload() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let mut task = event_loop
        .handle()
        .spawn(async {
            loopwork::yield_now().await;
            panic!("lost");
        })
        .unwrap();
    event_loop.block_on(async {
        while !task.is_done() {
            loopwork::yield_now().await;
        }
    });
    let read = task.try_result().unwrap().unwrap_err();
    assert_eq!(read.panic_message(), Some("lost"));
    let taken = task.take_result().unwrap().unwrap_err();
    assert_eq!(taken.panic_message(), Some("lost"));
}

/// ```python
/// async def count(n):
///     await asyncio.sleep(0)
///     return n
///
/// print(asyncio.run(asyncio.gather(count(1), count(2), count(3))))
/// ```
///
/// CPython prints `[1, 2, 3]`.
#[test]
fn gather_takes_plain_futures_in_both_modes() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let values = event_loop.block_on(loopwork::gather([count(1), count(2), count(3)]));
        assert_eq!(values.unwrap(), [1, 2, 3], "workers({workers})");
        // Futures of `()`, as seed programs gather coroutines that only print.
        let units = event_loop.block_on(async { loopwork::gather((0..3).map(|_| loopwork::yield_now())).await });
        assert_eq!(units.unwrap().len(), 3);
    }
}

#[test]
fn a_panic_in_gather_surfaces_as_task_error_and_the_siblings_run_on() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let sibling = async move {
            for _ in 0..3 {
                loopwork::yield_now().await;
            }
            f.fetch_add(1, Ordering::SeqCst);
            0
        };
        let futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>>> =
            vec![Box::pin(sibling), Box::pin(async { panic!("child failed") })];
        let err = event_loop.block_on(loopwork::gather(futures)).unwrap_err();
        assert_eq!(err.panic_message(), Some("child failed"), "workers({workers})");
        event_loop.block_on(async {
            while finished.load(Ordering::SeqCst) == 0 {
                loopwork::yield_now().await;
            }
        });
    }
}

#[test]
fn try_gather_stops_at_the_first_error() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let result = event_loop.block_on(async {
        let ok = loopwork::spawn(count(1));
        let cancelled = loopwork::spawn(std::future::pending::<u32>());
        cancelled.cancel();
        loopwork::try_gather([ok, cancelled]).await
    });
    assert!(matches!(result, Err(TaskError::Cancelled)));
}

/// A value that is not `Clone`.
#[derive(Debug, PartialEq)]
struct Connection(u16);

#[test]
fn a_promise_of_a_value_that_is_not_clone_is_taken_by_one_awaiter() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let promise = handle.create_future::<Connection>();
        let setter = promise.clone();
        handle.call_soon(move || setter.set_result(Connection(80)).unwrap()).unwrap();
        let late = promise.clone();
        assert_eq!(event_loop.block_on(promise.take()), Ok(Connection(80)));
        assert!(late.is_done() && !late.is_cancelled());
        assert_eq!(event_loop.block_on(late.take()), Err(PromiseError::Taken));
    }
}

/// Seed 002: `ThreadPoolExecutor().submit(f).result()` from plain threads,
/// with no event loop anywhere.
#[test]
fn thread_pool_submit_works_from_any_thread_without_a_loop() {
    let pool = ThreadPool::new(2);
    let threads: Vec<_> = (0..4u32)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || pool.submit(move || i * 10).unwrap().result().unwrap())
        })
        .collect();
    let results: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results, [0, 10, 20, 30]);

    let panicked = pool.submit(|| -> u8 { panic!("job failed") }).unwrap();
    assert_eq!(panicked.result().unwrap_err().panic_message(), Some("job failed"));

    // Awaitable too, from any loop.
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    assert_eq!(event_loop.block_on(pool.submit(|| "awaited").unwrap()).unwrap(), "awaited");

    // A done callback runs once the job is done.
    let (tx, rx) = std::sync::mpsc::channel();
    let future = pool.submit(|| 5).unwrap();
    future.add_done_callback(move |outcome| tx.send(outcome.unwrap()).unwrap()).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 5);
    assert_eq!(future.try_result().unwrap().unwrap(), 5);
    pool.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_submitted_job_cancelled_before_it_starts_never_runs() {
    let pool = ThreadPool::new(1);
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let blocker = pool.submit(move || gate.recv().unwrap()).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = pool.submit(move || r.fetch_add(1, Ordering::SeqCst)).unwrap();
    assert!(queued.cancel());
    assert!(queued.is_cancelled() && queued.is_done());
    release.send(()).unwrap();
    blocker.result().unwrap();
    assert!(queued.result().unwrap_err().is_cancelled());
    pool.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

/// ```python
/// loop = asyncio.new_event_loop()
/// seen = []
/// task = loop.create_task(count(4))
/// task.add_done_callback(lambda t: seen.append(("task", t.result())))
/// future = loop.create_future()
/// future.add_done_callback(lambda f: seen.append(("future", f.result())))
/// loop.call_soon(future.set_result, "set")
/// loop.run_until_complete(task)
/// loop.run_until_complete(future)
/// print(seen)
/// ```
///
/// CPython prints `[('future', 'set'), ('task', 4)]`: the future is set
/// before the task's second step ends.
#[test]
fn done_callbacks_of_tasks_promises_and_concurrent_futures_read_the_outcome() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let (tx, rx) = std::sync::mpsc::channel();
        let task = handle.spawn(count(4)).unwrap();
        let t = tx.clone();
        task.add_done_callback(move |outcome| t.send(format!("task {}", outcome.unwrap())).unwrap()).unwrap();
        let promise = handle.create_future::<&str>();
        let t = tx.clone();
        promise.add_done_callback(move |outcome| t.send(format!("promise {}", outcome.unwrap())).unwrap()).unwrap();
        let setter = promise.clone();
        handle.call_soon(move || setter.set_result("set").unwrap()).unwrap();
        let mut task = task;
        event_loop.block_on(&mut task).unwrap();
        // The copy was made as the result was set: taking the value first
        // does not take it from the callback.
        assert_eq!(event_loop.block_on(promise.take()), Ok("set"));
        let mut seen =
            vec![rx.recv_timeout(Duration::from_secs(10)).unwrap(), rx.recv_timeout(Duration::from_secs(10)).unwrap()];
        if workers == 0 {
            assert_eq!(seen, ["promise set", "task 4"]);
        }
        seen.sort();
        assert_eq!(seen, ["promise set", "task 4"], "workers({workers})");

        // Nothing left to copy once the result was moved out.
        assert_eq!(task.add_done_callback(|_| {}), Err(loopwork::InvalidState));

        // A panic reaches the callback as its message.
        let t = tx.clone();
        let future = handle.run_coroutine_threadsafe(fails()).unwrap();
        future
            .add_done_callback(move |outcome| t.send(outcome.unwrap_err().panic_message().unwrap().to_owned()).unwrap())
            .unwrap();
        assert_eq!(event_loop.block_on(future).unwrap_err().panic_message(), Some("in the coroutine"));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "in the coroutine");
    }
}
