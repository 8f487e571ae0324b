//! Timers: never early, FIFO among equal deadlines, cross-thread interruption, intervals.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use common::{block_on, join_all, spawn, with_watchdog, Rng};
use futures_lite::{future, StreamExt};
use loopwork_reactor::{interval, interval_at, sleep, sleep_until, Reactor};

#[test]
fn time_sleep_never_returns_before_its_duration_10000_random_sleeps_at_once() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let clock = reactor.clone();
    let latest = with_watchdog(Duration::from_secs(30), move || {
        block_on(&reactor, async move {
            let mut rng = Rng::new(0x5eed);
            let sleeps = (0..10_000).map(|i| {
                let duration = Duration::from_nanos(rng.below(2_000_000));
                let clock = clock.clone();
                async move {
                    let start = clock.now();
                    if i % 2 == 0 {
                        sleep(duration).await;
                    } else {
                        sleep_until(start + duration).await;
                    }
                    let slept = clock.now() - start;
                    assert!(slept >= duration, "sleep {i} of {duration:?} returned after {slept:?}");
                    slept - duration
                }
            });
            join_all(sleeps).await.into_iter().max().unwrap()
        })
    });
    eprintln!("latest wake-up past its deadline: {latest:?}");
}

#[test]
fn time_20_sleeps_for_the_same_instant_complete_in_the_order_set() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let when = reactor.now() + Duration::from_millis(5);
    let order = block_on(&reactor, async move {
        let order = Rc::new(RefCell::new(Vec::new()));
        let sleepers: Vec<_> = (0..20)
            .map(|i| {
                let order = order.clone();
                spawn(async move {
                    sleep_until(when).await;
                    order.borrow_mut().push(i);
                })
            })
            .collect();
        for sleeper in sleepers {
            sleeper.await;
        }
        order.take()
    });
    assert_eq!(order, (0..20).collect::<Vec<_>>());
}

struct Record {
    label: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Record {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.label);
    }
}

#[test]
fn time_20_timers_for_the_same_instant_wake_in_the_order_set_after_earlier_ones() {
    let reactor = Reactor::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let when = reactor.now() + Duration::from_millis(3);
    let waker = |label| Waker::from(Arc::new(Record { label, log: log.clone() }));
    for label in 0..20 {
        reactor.insert_timer(when, &waker(label));
    }
    // Set last, due first.
    reactor.insert_timer(when - Duration::from_millis(1), &waker(100));
    let cancelled = reactor.insert_timer(when, &waker(200));
    reactor.remove_timer(cancelled);

    let mut lock = reactor.try_lock().unwrap();
    while log.lock().unwrap().len() < 21 {
        lock.react(None).unwrap();
    }
    assert!(reactor.now() >= when);
    let mut expected = vec![100];
    expected.extend(0..20);
    assert_eq!(*log.lock().unwrap(), expected);
    assert_eq!(reactor.next_deadline(), None);
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

#[test]
fn time_a_timer_inserted_from_another_thread_interrupts_a_long_react() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let setter = {
        let reactor = reactor.clone();
        let waker = Waker::from(flag.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            reactor.insert_timer(reactor.now() + Duration::from_millis(10), &waker);
        })
    };
    let start = Instant::now();
    let mut lock = reactor.try_lock().unwrap();
    // Nothing else can end this wait early: no sources, no timers, no notify.
    lock.react(Some(Duration::from_secs(30))).unwrap();
    let interrupted = start.elapsed();
    while !flag.0.load(Ordering::Acquire) {
        lock.react(Some(Duration::from_secs(30))).unwrap();
    }
    let fired = start.elapsed();
    setter.join().unwrap();
    assert!(interrupted < Duration::from_secs(5), "the 30 s wait was not interrupted ({interrupted:?})");
    assert!(fired >= Duration::from_millis(60) && fired < Duration::from_secs(5), "fired after {fired:?}");
}

#[test]
fn time_timers_set_from_other_threads_while_the_wait_is_computed_always_interrupt_it() {
    // The race of the notify protocol: the setter's timer lands in a shard the waiting
    // thread has already read, around the moment it publishes its deadline. A lost
    // interrupt would leave the wait at its 30 s timeout; the watchdog's bound is generous.
    let reactor = Arc::new(Reactor::new().unwrap());
    // A far timer in every round keeps the wait finite but long.
    reactor.insert_timer(reactor.now() + Duration::from_secs(30), Waker::noop());
    for round in 0..2_000 {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let setter = {
            let reactor = reactor.clone();
            let waker = Waker::from(flag.clone());
            std::thread::spawn(move || {
                // Spread the insertions around the start of the wait.
                for _ in 0..round % 64 {
                    std::hint::spin_loop();
                }
                reactor.insert_timer(reactor.now() + Duration::from_micros(100), &waker);
            })
        };
        let start = Instant::now();
        let mut lock = reactor.try_lock().unwrap();
        while !flag.0.load(Ordering::Acquire) {
            lock.react(Some(Duration::from_secs(30))).unwrap();
            assert!(start.elapsed() < Duration::from_secs(10), "round {round}: an interrupt was lost");
        }
        drop(lock);
        setter.join().unwrap();
    }
}

#[test]
fn time_a_later_timer_from_another_thread_does_not_interrupt() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let early = reactor.now() + Duration::from_millis(100);
    reactor.insert_timer(early, Waker::noop());
    let setter = {
        let reactor = reactor.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            // Later than the current wait: the waiting thread keeps sleeping until `early`.
            reactor.insert_timer(reactor.now() + Duration::from_secs(60), Waker::noop())
        })
    };
    let mut lock = reactor.try_lock().unwrap();
    let woken = lock.react(None).unwrap();
    let late = setter.join().unwrap();
    assert_eq!(woken, 1, "the wait ran to the early timer");
    assert!(reactor.now() >= early);
    reactor.remove_timer(late);
}

#[test]
fn time_a_dropped_sleep_removes_its_timer() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let probe = reactor.clone();
    block_on(&reactor, async move {
        let long = sleep(Duration::from_secs(3600));
        let short = sleep(Duration::from_millis(1));
        // The short sleep wins; the long one, polled once and registered, is dropped.
        future::or(long, short).await;
        assert_eq!(probe.next_deadline(), None);
    });
}

#[test]
fn time_interval_ticks_on_its_grid_and_skips_missed_ticks() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let clock = reactor.clone();
    let period = Duration::from_millis(10);
    let (ticks, resumed, after_late) = block_on(&reactor, async move {
        let mut ticks = interval(period);
        let first = ticks.tick().await;
        let second = ticks.tick().await;
        // Block the loop for three and a half periods: the next tick is overdue, and the one
        // or two after it are missed.
        std::thread::sleep(Duration::from_millis(35));
        let resumed = clock.now();
        let late = ticks.tick().await;
        let after_late = clock.now();
        let next = ticks.tick().await;
        (vec![first, second, late, next], resumed, after_late)
    });
    let offsets: Vec<Duration> = ticks.iter().map(|tick| *tick - ticks[0]).collect();
    assert_eq!(offsets[1], period, "{offsets:?}");
    for offset in &offsets {
        assert_eq!(offset.as_nanos() % period.as_nanos(), 0, "ticks stay on the grid: {offsets:?}");
    }
    assert!(ticks[2] < resumed, "the overdue tick is delivered (once): {offsets:?}");
    assert!(ticks[3] >= resumed, "missed ticks are skipped, not replayed: {offsets:?}");
    assert!(ticks[3] <= after_late + period, "no more than the missed ticks are skipped: {offsets:?}");
}

#[test]
fn time_interval_is_a_stream_and_interval_at_starts_when_told() {
    let reactor = Arc::new(Reactor::new().unwrap());
    let start = reactor.now() + Duration::from_millis(5);
    let period = Duration::from_millis(2);
    let ticks: Vec<Instant> = block_on(&reactor, async move { interval_at(start, period).take(4).collect().await });
    assert_eq!(ticks[0], start);
    for pair in ticks.windows(2) {
        // A loaded machine may skip ticks; they still land on the grid, in order.
        let step = pair[1] - pair[0];
        assert!(step >= period && step.as_nanos() % period.as_nanos() == 0, "{ticks:?}");
    }
    assert!(reactor.now() >= ticks[3]);
}

#[test]
#[should_panic(expected = "sleep polled outside a loopwork event loop")]
fn time_sleep_polled_outside_a_loop_panics_with_advice() {
    future::block_on(sleep(Duration::from_millis(1)));
}
