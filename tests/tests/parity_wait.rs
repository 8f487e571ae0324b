//! asyncio parity: `wait`, `timeout`/`timeout_at`/`wait_for`, `as_completed`.

use loopwork::{EventLoop, ReturnWhen, Task};
use loopwork_tests::{counted, pending_counted, with_watchdog, DropCounter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A task that sleeps `delay` then returns `value`.
fn sleeper<T: Send + 'static>(delay: Duration, value: T) -> Task<T> {
    loopwork::spawn(async move {
        loopwork::sleep(delay).await;
        value
    })
}

/// Runs `body` on a fresh two-worker loop under a watchdog, with a virtual
/// clock: the order in which sleeps of different lengths finish is then a
/// fact of the program, not of how busy the machine is.
fn on_loop<T: Send + 'static>(name: &str, body: impl std::future::Future<Output = T> + Send + 'static) -> T {
    with_watchdog(WATCHDOG, name, move || {
        let event_loop = EventLoop::builder().workers(2).paused_clock().build().unwrap();
        event_loop.block_on(body)
    })
}

#[test]
fn wait_first_completed_returns_once_one_task_is_done() {
    on_loop("first_completed", async {
        let tasks = vec![sleeper(ms(2_000), 1), sleeper(ms(5), 2), sleeper(ms(2_000), 3)];
        let (done, pending) = loopwork::wait(tasks, ReturnWhen::FirstCompleted, None).await;
        assert_eq!(done.len(), 1);
        assert_eq!(pending.len(), 2);
        // Input order is kept, and nothing was cancelled.
        assert!(pending.iter().all(|t| !t.is_done()));
        let done: Vec<_> = done.into_iter().collect();
        assert_eq!(loopwork::try_gather(done).await.unwrap(), [2]);
        for task in &pending {
            task.cancel();
        }
    });
}

#[test]
fn wait_all_completed_waits_for_every_task_and_keeps_input_order() {
    on_loop("all_completed", async {
        let tasks = vec![sleeper(ms(30), 'a'), sleeper(ms(10), 'b'), sleeper(ms(20), 'c')];
        let (done, pending) = loopwork::wait(tasks, ReturnWhen::AllCompleted, None).await;
        assert!(pending.is_empty());
        // The results are still inside the handles.
        assert_eq!(loopwork::try_gather(done).await.unwrap(), ['a', 'b', 'c']);
    });
}

#[test]
fn wait_first_exception_returns_at_the_first_panic() {
    on_loop("first_exception", async {
        let slow = sleeper(ms(5_000), 0);
        let fine = sleeper(ms(1), 1);
        let failing = loopwork::spawn(async {
            loopwork::sleep(ms(20)).await;
            if true {
                panic!("boom");
            }
            2
        });
        let (done, pending) = loopwork::wait([slow, fine, failing], ReturnWhen::FirstException, None).await;
        assert_eq!(done.len(), 2);
        assert_eq!(pending.len(), 1);
        let mut done = done.into_iter();
        assert_eq!(done.next().unwrap().await.unwrap(), 1);
        assert_eq!(done.next().unwrap().await.unwrap_err().panic_message(), Some("boom"));
        assert!(!pending[0].is_done());
        pending[0].cancel();
    });
}

#[test]
fn wait_first_exception_ignores_cancelled_tasks() {
    on_loop("first_exception_cancelled", async {
        let cancelled = loopwork::spawn(std::future::pending::<u32>());
        cancelled.cancel();
        let finishing = sleeper(ms(30), 7);
        let (done, pending) = loopwork::wait([cancelled, finishing], ReturnWhen::FirstException, None).await;
        // The cancellation did not end the wait: it ran until all were done.
        assert!(pending.is_empty());
        assert_eq!(done.len(), 2);
        let mut done = done.into_iter();
        assert!(done.next().unwrap().await.unwrap_err().is_cancelled());
        assert_eq!(done.next().unwrap().await.unwrap(), 7);
    });
}

#[test]
fn wait_with_a_timeout_leaves_pending_tasks_running_across_rounds() {
    // asyncio's seed: ten tasks of 0.5-5 s, waited in rounds with timeouts;
    // scaled to 5-50 ms. A fixed LCG stands in for `random`.
    on_loop("wait_rounds", async {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut delays: Vec<u64> = (0..9)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                5 + (seed >> 33) % 46
            })
            .collect();
        // At least one task certainly outlives the first round.
        delays.push(50);
        let mut pending: Vec<Task<u64>> = delays.iter().map(|&d| sleeper(ms(d), d)).collect();
        let mut finished = Vec::new();
        let mut rounds = 0;
        while !pending.is_empty() {
            rounds += 1;
            assert!(rounds <= 1_000, "tasks never finished");
            let (done, still) = loopwork::wait(pending, ReturnWhen::AllCompleted, Some(ms(15))).await;
            if rounds == 1 {
                assert!(!still.is_empty(), "a 50 ms task cannot finish in the first 15 ms round");
            }
            // Pending tasks were not cancelled by the timeout.
            assert!(still.iter().all(|t| !t.is_cancelled()));
            for task in done {
                finished.push(task.await.unwrap());
            }
            pending = still;
        }
        assert!(rounds >= 2);
        finished.sort_unstable();
        delays.sort_unstable();
        assert_eq!(finished, delays);
    });
}

#[test]
fn wait_on_no_tasks_resolves_at_once() {
    on_loop("wait_empty", async {
        let (done, pending) = loopwork::wait(Vec::<Task<()>>::new(), ReturnWhen::FirstCompleted, None).await;
        assert!(done.is_empty() && pending.is_empty());
    });
}

#[test]
fn timeout_drops_the_inner_future_and_returns_elapsed() {
    let drops = DropCounter::new();
    let token = drops.token();
    let out = on_loop("timeout_expiry", async move { loopwork::timeout(ms(10), pending_counted(token)).await });
    let err: loopwork::Elapsed = out.unwrap_err();
    assert_eq!(drops.dropped(), 1);
    assert_eq!(err.to_string(), "deadline has elapsed");
}

#[test]
fn timeout_returns_the_value_when_the_inner_future_is_faster() {
    let out = on_loop("timeout_value", async {
        let now = loopwork::get_running_loop().unwrap().time();
        let a = loopwork::timeout(ms(5_000), async {
            loopwork::sleep(ms(5)).await;
            "inner"
        })
        .await;
        let b = loopwork::timeout_at(now + ms(5_000), async { 3 }).await;
        (a, b)
    });
    assert_eq!(out, (Ok("inner"), Ok(3)));
}

#[test]
fn timeout_at_expires_at_its_deadline() {
    let out = on_loop("timeout_at", async {
        let now = loopwork::get_running_loop().unwrap().time();
        loopwork::timeout_at(now + ms(10), std::future::pending::<()>()).await
    });
    assert!(out.is_err());
}

#[test]
fn wait_for_cancels_the_task_on_expiry() {
    let drops = DropCounter::new();
    let token = drops.token();
    on_loop("wait_for_cancels", async move {
        let stuck = loopwork::spawn(pending_counted(token));
        assert!(loopwork::wait_for(ms(10), stuck).await.is_err());
        // The cancel is a request: the future is dropped on its worker soon.
        while drops.dropped() == 0 {
            loopwork::sleep(ms(1)).await;
        }
    });
}

#[test]
fn wait_for_returns_the_tasks_outcome_when_it_is_faster() {
    let out = on_loop("wait_for_value", async { loopwork::wait_for(ms(5_000), sleeper(ms(5), 9)).await });
    assert_eq!(out.unwrap().unwrap(), 9);
}

#[test]
fn timeout_on_a_task_handle_detaches_it() {
    // Plain `timeout` only drops the handle: the task runs to completion.
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    on_loop("timeout_detaches", async move {
        let task = loopwork::spawn(async move {
            loopwork::sleep(ms(30)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(loopwork::timeout(ms(1), task).await.is_err());
        while !finished.load(Ordering::SeqCst) {
            loopwork::sleep(ms(1)).await;
        }
    });
}

#[test]
fn as_completed_yields_in_completion_order() {
    let order = on_loop("as_completed_order", async {
        let tasks = [30, 10, 20].map(|n| sleeper(ms(n), n));
        let mut results = loopwork::as_completed(tasks);
        let mut order = Vec::new();
        while let Some(outcome) = results.next().await {
            order.push(outcome.unwrap());
        }
        order
    });
    assert_eq!(order, [10, 20, 30]);
}

#[test]
fn as_completed_is_a_stream() {
    let order = on_loop("as_completed_stream", async {
        let tasks = [20, 1].map(|n| sleeper(ms(n), n));
        let mut results = loopwork::as_completed(tasks);
        let mut order = Vec::new();
        while let Some(outcome) = futures_lite::StreamExt::next(&mut results).await {
            order.push(outcome.unwrap());
        }
        order
    });
    assert_eq!(order, [1, 20]);
}

#[test]
fn as_completed_with_timeout_reports_expiry_without_cancelling() {
    let drops = DropCounter::new();
    let token = drops.token();
    on_loop("as_completed_timeout", async move {
        let quick = sleeper(ms(1), 1);
        let stuck = loopwork::spawn(counted(token, async {
            loopwork::sleep(ms(5_000)).await;
            2
        }));
        let mut results = loopwork::as_completed([quick, stuck]).with_timeout(ms(30));
        assert_eq!(results.next().await.unwrap().unwrap().unwrap(), 1);
        assert!(results.next().await.unwrap().is_err());
        assert!(results.has_expired());
        assert!(results.next().await.is_none());
        let pending = results.into_pending();
        assert_eq!(pending.len(), 1);
        assert!(!pending[0].is_done());
        assert!(!pending[0].is_cancelled());
        assert_eq!(drops.dropped(), 0);
        pending[0].cancel();
    });
}
