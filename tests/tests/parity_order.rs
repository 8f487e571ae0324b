//! asyncio parity: the ready queue's order around `run_until_complete`
//! (`block_on`), `run_forever` / `stop`, done callbacks, `all_tasks` and
//! `current_task`. Each test quotes the Python program it mirrors and what
//! CPython 3.11 prints for it.

use loopwork::sync::Event;
use loopwork::EventLoop;
use std::future::Future;
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// `block_on`'s first poll waits behind the work queued before it.
///
/// ```python
/// import asyncio
///
/// loop = asyncio.new_event_loop()
/// order = []
///
/// async def task():
///     order.append("task")
///
/// async def main():
///     order.append("main")
///
/// loop.create_task(task())
/// loop.call_soon(order.append, "cb")
/// loop.run_until_complete(main())
/// print(order)
/// ```
///
/// CPython prints `['task', 'cb', 'main']`.
#[test]
fn block_on_polls_its_future_behind_work_queued_before_it() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let order: Log = Default::default();
    let o = order.clone();
    drop(handle.spawn(async move { push(&o, "task") }).unwrap());
    let o = order.clone();
    handle.call_soon(move || push(&o, "cb")).unwrap();
    let o = order.clone();
    event_loop.block_on(async move { push(&o, "main") });
    assert_eq!(entries(&order), ["task", "cb", "main"]);
}

/// What `stop()` left in the ready queue runs before the next
/// `run_until_complete`'s own coroutine.
///
/// ```python
/// import asyncio
///
/// loop = asyncio.new_event_loop()
/// order = []
///
/// def a():
///     order.append("a")
///     loop.stop()
///     loop.call_soon(order.append, "c")
///
/// async def main():
///     order.append("main")
///
/// loop.call_soon(a)
/// loop.run_forever()
/// print(order)
/// loop.run_until_complete(main())
/// print(order)
/// ```
///
/// CPython prints `['a']`, then `['a', 'c', 'main']`.
#[test]
fn callbacks_left_by_stop_run_before_the_next_block_on_future() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let order: Log = Default::default();
    let (o, h) = (order.clone(), handle.clone());
    handle
        .call_soon(move || {
            push(&o, "a");
            h.stop();
            let o = o.clone();
            h.call_soon(move || push(&o, "c")).unwrap();
        })
        .unwrap();
    event_loop.run_forever();
    assert_eq!(entries(&order), ["a"]);
    let o = order.clone();
    event_loop.block_on(async move { push(&o, "main") });
    assert_eq!(entries(&order), ["a", "c", "main"]);
}

/// A done callback added before `block_on(task)` has run when it returns,
/// even if the loop is closed right after.
///
/// ```python
/// import asyncio
///
/// loop = asyncio.new_event_loop()
/// order = []
///
/// async def work():
///     order.append("work")
///     return 7
///
/// task = loop.create_task(work())
/// task.add_done_callback(lambda t: order.append(f"done callback saw {t.result()}"))
/// result = loop.run_until_complete(task)
/// order.append(f"run_until_complete returned {result}")
/// loop.close()
/// print(order)
/// ```
///
/// CPython prints `['work', 'done callback saw 7', 'run_until_complete
/// returned 7']`. With workers the order is the same once `block_on` is
/// waiting for the task: the awaiter's wake queues behind the done callbacks
/// in the serialized callback queue. (There the task waits for a gate that
/// `block_on`'s future opens after its first poll of the task, since a task
/// on a worker could otherwise finish before `block_on` starts waiting — a
/// moment asyncio's single thread never has.)
#[test]
fn done_callbacks_added_before_block_on_have_run_when_it_returns() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let order: Log = Default::default();
        let gate = Arc::new(Event::new());
        let (o, g) = (order.clone(), gate.clone());
        let task = handle
            .spawn(async move {
                g.wait().await;
                push(&o, "work");
                7
            })
            .unwrap();
        let o = order.clone();
        task.add_done_callback(move |outcome| push(&o, format!("done callback saw {}", outcome.unwrap()))).unwrap();
        let result = if workers == 0 {
            gate.set();
            event_loop.block_on(task).unwrap()
        } else {
            let mut task = task;
            let mut gate = Some(gate);
            event_loop
                .block_on(std::future::poll_fn(|cx| {
                    let poll = std::pin::Pin::new(&mut task).poll(cx);
                    if let Some(gate) = gate.take() {
                        gate.set();
                    }
                    poll
                }))
                .unwrap()
        };
        push(&order, format!("block_on returned {result}"));
        event_loop.close();
        assert_eq!(entries(&order), ["work", "done callback saw 7", "block_on returned 7"], "workers({workers})");
    }
}

/// `all_tasks()` lists tasks, never the callbacks waiting in the ready
/// queue.
///
/// ```python
/// import asyncio
///
/// loop = asyncio.new_event_loop()
/// release = asyncio.Event()
///
/// async def worker():
///     await release.wait()
///
/// task = loop.create_task(worker(), name="worker")
/// loop.call_soon(print, "callback")
/// loop.call_soon(print, "callback")
///
/// def report():
///     print(sorted(t.get_name() for t in asyncio.all_tasks(loop)), len(asyncio.all_tasks(loop)))
///     release.set()
///     loop.stop()
///
/// loop.call_soon(report)
/// loop.run_forever()
/// loop.run_until_complete(task)
/// ```
///
/// CPython prints `callback`, `callback`, then `['worker'] 1`.
#[test]
fn all_tasks_and_num_tasks_count_tasks_not_queued_callbacks() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let order: Log = Default::default();
        let release = Arc::new(Event::new());
        let r = release.clone();
        let task = handle.spawn_named("worker", async move { r.wait().await }).unwrap();
        for _ in 0..2 {
            let o = order.clone();
            handle.call_soon(move || push(&o, "callback")).unwrap();
        }
        let (o, h) = (order.clone(), handle.clone());
        handle
            .call_soon(move || {
                let names: Vec<_> = h.all_tasks().into_iter().map(|info| info.name).collect();
                push(&o, format!("{names:?} {}", h.num_tasks()));
                release.set();
                h.stop();
            })
            .unwrap();
        event_loop.run_forever();
        event_loop.block_on(task).unwrap();
        assert_eq!(entries(&order), ["callback", "callback", "[\"worker\"] 1"], "workers({workers})");
    }
}

/// Inside `block_on`, `current_task()` is the task asyncio's
/// `run_until_complete` wraps the coroutine in, and `all_tasks()` lists it.
///
/// ```python
/// import asyncio
///
/// loop = asyncio.new_event_loop()
///
/// async def child():
///     return asyncio.current_task().get_name()
///
/// async def main():
///     me = asyncio.current_task()
///     names = sorted(task.get_name() for task in asyncio.all_tasks())
///     return me.get_name(), names, await loop.create_task(child(), name="child")
///
/// loop.create_task(child())
/// print(loop.run_until_complete(main()))
/// ```
///
/// CPython prints `('Task-2', ['Task-2'], 'child')`. With workers the
/// first child may still be running when `main` looks, so only the name
/// and membership are checked there.
#[test]
fn current_task_inside_block_on_is_the_main_task() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let child = || async { loopwork::current_task().unwrap().name };
        let first = handle.spawn(child()).unwrap();
        let h = handle.clone();
        let (me, names, child_name) = event_loop.block_on(async move {
            let me = loopwork::current_task().expect("block_on's future runs as a task");
            let mut names: Vec<_> = h.all_tasks().into_iter().map(|info| info.name).collect();
            names.sort();
            let child_name = h.spawn_named("child", child()).unwrap().await.unwrap();
            (me, names, child_name)
        });
        assert_eq!(me.name, "Task-2", "workers({workers})");
        assert_eq!(me.id, 2);
        assert_eq!(child_name, "child");
        if workers == 0 {
            assert_eq!(names, ["Task-2"]);
        } else {
            assert!(names.contains(&"Task-2".to_owned()), "{names:?}");
        }
        // With workers the first child may still be running: wait for it.
        assert_eq!(event_loop.block_on(first).unwrap(), "Task-1");
        assert!(handle.all_tasks().is_empty(), "the main task leaves all_tasks when block_on returns");
        assert!(loopwork::current_task().is_none());
    }
}

/// `block_on` returns as `run_until_complete` does: once the callbacks
/// queued before its future finished have run, to the end of that loop
/// iteration; what those schedule waits for the next run.
///
/// ```python
/// import asyncio
///
/// loop = asyncio.new_event_loop()
/// order = []
///
/// def later():
///     order.append("scheduled by x")
///
/// def x():
///     order.append("x")
///     loop.call_soon(later)
///
/// async def main():
///     loop.call_soon(x)
///     order.append("main")
///
/// loop.run_until_complete(main())
/// print(order)
/// task = loop.create_task(asyncio.sleep(0, "t"))
/// loop.call_soon(order.append, "queued after the task")
/// print(loop.run_until_complete(task), order)
/// ```
///
/// CPython prints `['main', 'x']`, then `t ['main', 'x', 'scheduled by x',
/// 'queued after the task']`.
#[test]
fn block_on_returns_after_the_callbacks_queued_before_its_future_finished() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let order: Log = Default::default();
    let (o, h) = (order.clone(), handle.clone());
    event_loop.block_on(async move {
        let (o2, h2) = (o.clone(), h.clone());
        h.call_soon(move || {
            push(&o2, "x");
            let o3 = o2.clone();
            h2.call_soon(move || push(&o3, "scheduled by x")).unwrap();
        })
        .unwrap();
        push(&o, "main");
    });
    assert_eq!(entries(&order), ["main", "x"]);
    let task = handle
        .spawn(async {
            loopwork::yield_now().await;
            "t"
        })
        .unwrap();
    let o = order.clone();
    handle.call_soon(move || push(&o, "queued after the task")).unwrap();
    assert_eq!(event_loop.block_on(task).unwrap(), "t");
    assert_eq!(entries(&order), ["main", "x", "scheduled by x", "queued after the task"]);
}
