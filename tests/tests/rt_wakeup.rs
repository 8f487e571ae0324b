//! No lost wake-ups: a task woken from a foreign thread right as the workers
//! go idle always runs.

use loopwork::EventLoop;
use loopwork_tests::with_watchdog;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A hand-written waker-based future: ready once `flag` is set; stores its
/// waker for the setter.
struct Flag {
    shared: Arc<(AtomicBool, Mutex<Option<Waker>>)>,
}

impl Future for Flag {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (set, waker) = &*self.shared;
        *waker.lock().unwrap() = Some(cx.waker().clone());
        if set.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn rounds() -> usize {
    loopwork_tests::env_count("LOOPWORK_WAKEUP_ROUNDS", 10_000)
}

#[test]
fn ten_thousand_foreign_wakes_as_the_workers_go_idle_all_complete() {
    with_watchdog(Duration::from_secs(300), "foreign wake rounds", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        for round in 0..rounds() {
            let shared = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let task_shared = shared.clone();
            handle
                .spawn(async move {
                    Flag { shared: task_shared }.await;
                    done_tx.send(()).unwrap();
                })
                .unwrap();
            // Wait until the task has parked its waker, then wake it at once:
            // this races with the worker that just polled it going to sleep.
            loop {
                if shared.1.lock().unwrap().is_some() {
                    break;
                }
                std::hint::spin_loop();
            }
            shared.0.store(true, Ordering::SeqCst);
            if let Some(waker) = shared.1.lock().unwrap().take() {
                waker.wake();
            }
            done_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("round {round}: the woken task never ran (lost wake-up)"));
        }
    });
}

#[test]
fn strict_mode_wakes_from_a_foreign_thread_reach_the_parked_driver() {
    with_watchdog(Duration::from_secs(120), "strict foreign wakes", || {
        let event_loop = EventLoop::builder().workers(0).build().unwrap();
        for _ in 0..(rounds() / 10).max(1) {
            let shared = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
            let setter = shared.clone();
            let thread = std::thread::spawn(move || {
                while setter.1.lock().unwrap().is_none() {
                    std::hint::spin_loop();
                }
                setter.0.store(true, Ordering::SeqCst);
                let waker = setter.1.lock().unwrap().take();
                waker.unwrap().wake();
            });
            event_loop.block_on(async move {
                loopwork::spawn(Flag { shared }).await.unwrap();
            });
            thread.join().unwrap();
        }
    });
}
