//! asyncio parity: `gather`, `gather_settled`, `shield`, `Task.result()`.

use loopwork::{EventLoop, TaskError};
use loopwork_tests::{counted, DropCounter};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A plain (not spawned) future, boxed so that different ones fit one list.
type BoxedJob = Pin<Box<dyn Future<Output = Result<u32, TaskError>> + Send>>;

/// Finishes after `n` yields: a deterministic stand-in for "takes longer".
async fn after_yields<T>(n: usize, value: T) -> T {
    for _ in 0..n {
        loopwork::yield_now().await;
    }
    value
}

#[test]
fn gather_returns_results_in_argument_order_whatever_the_finish_order() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let finished = Arc::new(Mutex::new(Vec::new()));
        let results = event_loop.block_on({
            let finished = finished.clone();
            async move {
                let tasks = [30, 10, 20].map(|n| {
                    let finished = finished.clone();
                    loopwork::spawn(async move {
                        let v = after_yields(n, n).await;
                        finished.lock().unwrap().push(v);
                        v
                    })
                });
                loopwork::try_gather(tasks).await.unwrap()
            }
        });
        assert_eq!(results, [30, 10, 20]);
        if workers == 0 {
            assert_eq!(*finished.lock().unwrap(), [10, 20, 30]);
        }
    }
}

#[test]
fn gathers_first_error_returns_while_the_siblings_keep_running() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let drops = DropCounter::new();
    event_loop.block_on(async {
        let slow = loopwork::spawn(counted(drops.token(), after_yields(50, 1)));
        let failing = loopwork::spawn(async {
            after_yields(5, ()).await;
            if true {
                panic!("failed early");
            }
            0
        });
        let err = loopwork::try_gather([slow, failing]).await.unwrap_err();
        assert_eq!(err.panic_message(), Some("failed early"));
        // The sibling was detached, not cancelled: it finishes on its own.
        assert_eq!(drops.dropped(), 0);
        after_yields(100, ()).await;
        assert_eq!(drops.dropped(), 1);
    });
}

#[test]
fn cancelling_a_gather_cancels_its_children() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let drops = DropCounter::new();
        event_loop.block_on(async {
            let children: Vec<_> =
                (0..10).map(|_| loopwork::spawn(loopwork_tests::pending_counted(drops.token()))).collect();
            let handles: Vec<_> = children.iter().map(|t| t.id()).collect();
            let gather = loopwork::spawn(loopwork::try_gather(children));
            after_yields(5, ()).await;
            gather.cancel();
            assert!(gather.await.unwrap_err().is_cancelled());
            while drops.dropped() < 10 {
                loopwork::yield_now().await;
            }
            assert_eq!(handles.len(), 10);
        });
        assert_eq!(drops.dropped(), 10, "workers={workers}");
    }
}

#[test]
fn try_gather_accepts_plain_futures_of_results_and_spawns_them() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let values = event_loop.block_on(async {
        let futures: Vec<BoxedJob> = vec![Box::pin(async { Ok(1) }), Box::pin(async { Ok(2) })];
        loopwork::try_gather(futures).await.unwrap()
    });
    assert_eq!(values, [1, 2]);
}

#[test]
fn gather_settled_reports_every_outcome() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let outcomes = event_loop.block_on(async {
        let cancelled = loopwork::spawn(std::future::pending());
        cancelled.cancel();
        loopwork::gather_settled([loopwork::spawn(async { 1 }), loopwork::spawn(async { panic!("second") }), cancelled])
            .await
    });
    assert_eq!(*outcomes[0].as_ref().unwrap(), 1);
    assert_eq!(outcomes[1].as_ref().unwrap_err().panic_message(), Some("second"));
    assert!(outcomes[2].as_ref().unwrap_err().is_cancelled());
}

#[test]
fn shield_keeps_the_inner_task_alive_when_the_outer_is_cancelled() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    event_loop.block_on(async {
        let inner = Arc::new(Mutex::new(Some(loopwork::spawn(after_yields(20, "inner result")))));
        let shared = inner.clone();
        let outer = loopwork::spawn(async move {
            let mut task = shared.lock().unwrap().take().unwrap();
            let result = loopwork::shield(&mut task).await;
            (result, task)
        });
        loopwork::yield_now().await;
        outer.cancel();
        assert!(outer.await.unwrap_err().is_cancelled());
        // The outer's future (holding the inner handle) was dropped, which
        // detaches the inner task: it still runs to completion.
    });
}

#[test]
fn shield_leaves_the_result_with_the_task() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    event_loop.block_on(async {
        let mut inner = loopwork::spawn(after_yields(10, 7));
        {
            let mut shielded = std::pin::pin!(loopwork::shield(&mut inner));
            // Poll the shield once, then give up on it.
            std::future::poll_fn(|cx| {
                let _ = shielded.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
        }
        assert_eq!(inner.await.unwrap(), 7);
    });
}

#[test]
fn try_result_is_an_error_until_done_and_reads_again_until_taken() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    event_loop.block_on(async {
        let mut task = loopwork::spawn(after_yields(3, "v"));
        assert_eq!(task.try_result().unwrap_err(), loopwork::InvalidState);
        assert_eq!(task.take_result().unwrap_err(), loopwork::InvalidState);
        after_yields(10, ()).await;
        assert_eq!(task.try_result().unwrap().unwrap(), "v");
        assert_eq!(task.try_result().unwrap().unwrap(), "v", "a read leaves the result in place");
        assert_eq!(task.take_result().unwrap().unwrap(), "v");
        assert!(task.take_result().is_err(), "taken once");
        assert!(task.try_result().is_err(), "nothing left to read");
    });
}
