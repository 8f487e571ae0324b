//! asyncio parity: context variables are copied into tasks at spawn time
//! and into callbacks at schedule time.

use loopwork::context::ContextVar;
use loopwork::EventLoop;
use std::time::Duration;

static VALUE: ContextVar<u32> = ContextVar::new("value");

#[test]
fn a_task_sees_the_value_at_spawn_time_not_later_changes() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let (seen, after) = event_loop.block_on(async {
            VALUE.set(1);
            let child = loopwork::spawn(async {
                loopwork::yield_now().await;
                let seen = VALUE.get();
                VALUE.set(99); // the child's own copy
                seen
            });
            VALUE.set(2); // after the spawn: the child must not see it
            let seen = child.await.unwrap();
            (seen, VALUE.get())
        });
        assert_eq!(seen, Some(1), "workers={workers}");
        assert_eq!(after, Some(2), "workers={workers}: the child's set leaked out");
    }
}

#[test]
fn a_callback_sees_the_value_at_schedule_time() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let (tx, rx) = std::sync::mpsc::channel();
        event_loop.block_on(async move {
            VALUE.set(10);
            handle.call_soon(move || tx.send(VALUE.get()).unwrap()).unwrap();
            VALUE.set(11);
            loopwork::yield_now().await;
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Some(10), "workers={workers}");
    }
}

#[test]
fn contexts_do_not_leak_between_tasks_on_one_worker() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let setter = handle
        .spawn(async {
            VALUE.set(5);
            loopwork::yield_now().await;
            VALUE.get()
        })
        .unwrap();
    let other = handle.spawn(async { VALUE.get() }).unwrap();
    assert_eq!(event_loop.block_on(setter).unwrap(), Some(5));
    assert_eq!(event_loop.block_on(other).unwrap(), None);
}

#[test]
fn scope_restores_the_previous_value() {
    loopwork::run(async {
        VALUE.set(1);
        let inside = VALUE.scope(2, async { loopwork::spawn(async { VALUE.get() }).await.unwrap() }).await;
        assert_eq!(inside, Some(2));
        assert_eq!(VALUE.get(), Some(1));
    });
}

/// A value whose drop reads a context variable.
#[derive(Clone)]
struct ReadsOnDrop(std::sync::Arc<std::sync::Mutex<Vec<Option<u32>>>>);

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(VALUE.get());
    }
}

static READS_ON_DROP: ContextVar<ReadsOnDrop> = ContextVar::new("reads_on_drop");

#[test]
fn a_value_dropped_by_a_set_sees_the_context_the_set_made() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let seen = event_loop
        .block_on(
            event_loop
                .handle()
                .spawn(async {
                    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                    VALUE.set(7);
                    READS_ON_DROP.set(ReadsOnDrop(seen.clone()));
                    // Replaces the first probe, whose last copies go with the old
                    // context and the returned token: their drops read `VALUE` in
                    // the new context, which is in place by then.
                    drop(READS_ON_DROP.set(ReadsOnDrop(std::sync::Arc::new(std::sync::Mutex::new(Vec::new())))));
                    let seen = seen.lock().unwrap().clone();
                    seen
                })
                .unwrap(),
        )
        .unwrap();
    assert!(!seen.is_empty(), "the first probe was dropped");
    assert!(seen.iter().all(|value| *value == Some(7)), "{seen:?}");
}
