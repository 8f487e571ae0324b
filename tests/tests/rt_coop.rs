//! Cooperative budgeting: a task looping over a resource that is always
//! ready gives its worker back, so the loop's timers still fire; inside
//! `coop::unconstrained` it keeps the worker, and the timer waits.
//!
//! Each test races a *hog*, a task that repeats one always-ready operation,
//! against a 5 ms `call_later` timer, with one worker and in strict mode.
//! The hog registers the timer itself and then blocks its thread for 10 ms
//! before its first operation, so the timer is already due when the loop
//! begins and there was no moment in between at which the loop could have
//! looked at it. What is asserted is how many operations the hog had done
//! when the timer's callback ran, not how long anything took, so a slow or
//! busy machine cannot change the outcome:
//!
//! - with the budget, the callback runs within a few budgets' worth of
//!   operations: every poll of the hog ends after 128 operations, and the
//!   loop looks at its timers before the next (a worker because the budget
//!   was spent, strict mode at every iteration), so the bound is a few
//!   hundred operations; it is 62 × 128 = 7,936 even for a worker that only
//!   looked every 61 polls, and the tests allow `STEPS / 2`;
//! - unconstrained, the hog does all its `STEPS` operations first.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::coop::unconstrained;
use loopwork::sync::{mpsc, Lock, Queue};
use loopwork::EventLoop;
use loopwork_tests::with_watchdog;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The hog's operations when nothing stops it.
const STEPS: usize = 40_000;
/// With the budget, the timer's callback runs before this many operations.
const BOUND: usize = STEPS / 2;

/// What the hog and the timer share.
#[derive(Clone, Default)]
struct Race(Arc<RaceState>);

#[derive(Default)]
struct RaceState {
    fired: AtomicBool,
    steps: AtomicUsize,
    /// Set by the hog if the timer is what stopped it (the timer may also
    /// fire after the hog is done, before the loop is).
    stopped_by_timer: AtomicBool,
}

impl Race {
    /// Arms the 5 ms timer and lets it come due, all within this poll of
    /// the hog: its first chance to fire is during the hog's loop.
    fn start(&self) {
        let state = self.0.clone();
        let handle = loopwork::get_running_loop().expect("the hog runs on a loop");
        // SeqCst is enough and simplest: a flag and a counter, read by the
        // thread that sets the other.
        handle.call_later(Duration::from_millis(5), move || state.fired.store(true, Ordering::SeqCst)).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }

    /// Counts one operation; false once the timer has fired or the hog has
    /// done all its operations.
    fn step(&self) -> bool {
        if self.0.fired.load(Ordering::SeqCst) {
            self.0.stopped_by_timer.store(true, Ordering::SeqCst);
            return false;
        }
        self.0.steps.fetch_add(1, Ordering::SeqCst) < STEPS
    }

    /// How many operations the hog had done when the timer fired, or None
    /// if it did all of them first.
    fn fired_after(&self) -> Option<usize> {
        self.0.stopped_by_timer.load(Ordering::SeqCst).then(|| self.0.steps.load(Ordering::SeqCst))
    }
}

/// Runs `hog` as a task on a loop with `workers` workers (0: strict mode),
/// inside `unconstrained` if `constrained` is false, and tells when the
/// timer fired.
fn race<F, Fut>(name: &str, workers: usize, constrained: bool, hog: F) -> Option<usize>
where
    F: FnOnce(Race) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let name = format!("{name}-workers-{workers}-constrained-{constrained}");
    with_watchdog(Duration::from_secs(60), &name, move || {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let race = Race::default();
        let body = hog(race.clone());
        event_loop.block_on(async move {
            let task = if constrained { loopwork::spawn(body) } else { loopwork::spawn(unconstrained(body)) };
            task.await.unwrap();
        });
        race.fired_after()
    })
}

/// The assertions every resource shares, in both modes.
fn assert_budget_lets_the_timer_in<F, Fut>(name: &str, hog: F)
where
    F: Fn(Race) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    for workers in [1, 0] {
        match race(name, workers, true, hog.clone()) {
            Some(steps) => assert!(
                steps < BOUND,
                "{name}, {workers} worker(s): the timer fired only after {steps} operations of the hog"
            ),
            None => panic!("{name}, {workers} worker(s): the hog did all {STEPS} operations before the timer fired"),
        }
        assert_eq!(
            race(name, workers, false, hog.clone()),
            None,
            "{name}, {workers} worker(s): an unconstrained hog let the timer in"
        );
    }
}

#[test]
fn a_task_draining_a_full_mpsc_channel_lets_a_due_timer_fire() {
    assert_budget_lets_the_timer_in("mpsc", |race| async move {
        let (tx, mut rx) = mpsc::channel(16);
        for n in 0..15 {
            tx.try_send(n).unwrap();
        }
        race.start();
        // Never waits: there is always an item to take and room to put it back.
        while race.step() {
            let item = rx.recv().await.unwrap();
            tx.send(item).await.unwrap();
        }
    });
}

#[test]
fn a_task_cycling_a_queue_lets_a_due_timer_fire() {
    assert_budget_lets_the_timer_in("queue", |race| async move {
        let queue = Queue::new(16);
        for n in 0..15 {
            queue.try_put(n).unwrap();
        }
        race.start();
        while race.step() {
            let item = queue.get().await.unwrap();
            queue.put(item).await.unwrap();
        }
    });
}

#[test]
fn a_task_taking_an_uncontended_lock_in_a_loop_lets_a_due_timer_fire() {
    assert_budget_lets_the_timer_in("lock", |race| async move {
        let lock = Lock::new(0_u64);
        race.start();
        while race.step() {
            *lock.lock().await += 1;
        }
    });
}

#[test]
fn a_task_reading_a_socket_that_always_has_data_lets_a_due_timer_fire() {
    assert_budget_lets_the_timer_in("tcp", |race| async move {
        let listener = loopwork::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        // The writer is a plain thread: it sends more than the hog reads
        // before the race starts, then keeps sending until the reader is
        // gone.
        let writer = std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            let chunk = [7_u8; 4096];
            while stream.write_all(&chunk).is_ok() {}
        });
        let (mut stream, _) = listener.accept().await.unwrap();
        // Wait until a whole race's worth of bytes is there to read, so
        // that no read of the hog can find the socket empty.
        let mut peeked = vec![0; STEPS];
        while stream.peek(&mut peeked).await.unwrap() < STEPS {
            loopwork::sleep(Duration::from_millis(1)).await;
        }
        race.start();
        let mut byte = [0; 1];
        while race.step() {
            stream.read_exact(&mut byte).await.unwrap();
        }
        stream.close().await.unwrap();
        drop(stream);
        writer.join().unwrap();
    });
}

#[test]
fn a_task_awaiting_finished_tasks_in_a_loop_lets_a_due_timer_fire() {
    assert_budget_lets_the_timer_in("task", |race| async move {
        let tasks: Vec<_> = (0..STEPS).map(|n| loopwork::spawn(async move { n })).collect();
        while !tasks.iter().all(loopwork::Task::is_done) {
            loopwork::sleep(Duration::from_millis(1)).await;
        }
        race.start();
        let mut tasks = tasks.into_iter();
        while race.step() {
            tasks.next().expect("a task per operation").await.unwrap();
        }
    });
}

#[test]
fn a_task_accepting_queued_connections_lets_a_due_timer_fire() {
    // Every connection is in the listener's queue before the race, so no
    // accept of the hog can find it empty; the kernel must be able to queue
    // them all.
    const CONNECTIONS: usize = 600;
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    if somaxconn < CONNECTIONS {
        println!("net.core.somaxconn is {somaxconn}: the kernel cannot queue {CONNECTIONS} connections; skipped");
        return;
    }
    // The hog stops by itself after its last connection, so "did all its
    // operations" means "accepted every connection before the timer".
    assert_budget_lets_the_timer_in("accept", |race| async move {
        let listener = loopwork::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (connected, all_connected) = std::sync::mpsc::channel();
        let (done, hog_done) = std::sync::mpsc::channel::<()>();
        let clients = std::thread::spawn(move || {
            let streams: Vec<_> = (0..CONNECTIONS).map(|_| std::net::TcpStream::connect(address).unwrap()).collect();
            connected.send(()).unwrap();
            let _ = hog_done.recv();
            drop(streams);
        });
        while all_connected.try_recv().is_err() {
            loopwork::sleep(Duration::from_millis(1)).await;
        }
        race.start();
        let mut accepted = 0;
        while accepted < CONNECTIONS && race.step() {
            drop(listener.accept().await.unwrap());
            accepted += 1;
        }
        done.send(()).unwrap();
        clients.join().unwrap();
    });
}
