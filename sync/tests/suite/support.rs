//! Runtime-independent helpers for the suite: a timer thread, a latch,
//! a "signal after the first poll" wrapper, timeouts and a small PRNG.
//! They use only std, so the suite checks loopwork-sync against itself and
//! nothing else.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use super::Runtime;

/// A boxed future, what `Runtime::spawn` and `Runtime::sleep` return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

struct SleepState {
    done: bool,
    waker: Option<Waker>,
}

struct TimerEntry {
    deadline: Instant,
    seq: u64,
    state: Arc<Mutex<SleepState>>,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

fn timer() -> &'static Mutex<mpsc::Sender<TimerEntry>> {
    static TIMER: OnceLock<Mutex<mpsc::Sender<TimerEntry>>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<TimerEntry>();
        thread::Builder::new()
            .name("suite-timer".into())
            .spawn(move || {
                let mut heap = BinaryHeap::new();
                loop {
                    let now = Instant::now();
                    while heap.peek().is_some_and(|Reverse(entry): &Reverse<TimerEntry>| entry.deadline <= now) {
                        let Reverse(entry) = heap.pop().unwrap();
                        let waker = {
                            let mut state = entry.state.lock().unwrap();
                            state.done = true;
                            state.waker.take()
                        };
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    }
                    let next = match heap.peek() {
                        Some(Reverse(entry)) => rx.recv_timeout(entry.deadline.saturating_duration_since(now)),
                        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                    };
                    match next {
                        Ok(entry) => heap.push(Reverse(entry)),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("spawn the timer thread");
        Mutex::new(tx)
    })
}

/// A sleep driven by one shared timer thread, for runtimes without a timer
/// of their own (async-executor).
pub fn thread_sleep(duration: Duration) -> BoxFuture<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let state = Arc::new(Mutex::new(SleepState { done: false, waker: None }));
    let entry = TimerEntry {
        deadline: Instant::now() + duration,
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        state: Arc::clone(&state),
    };
    timer().lock().unwrap().send(entry).expect("the timer thread is alive");
    Box::pin(poll_fn(move |cx| {
        let mut state = state.lock().unwrap();
        if state.done {
            Poll::Ready(())
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }))
}

/// Yields to the scheduler once.
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Runs `future`, giving up after `duration`: `None` means it timed out
/// (and was dropped, i.e. cancelled).
pub async fn timeout<R: Runtime, F: Future>(rt: &R, duration: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut sleep = rt.sleep(duration);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Runs a test body on `rt`, failing it instead of hanging if it has not
/// finished in 30 seconds.
pub fn run<R: Runtime, F: Future>(rt: &R, body: F) -> F::Output {
    rt.block_on(timeout(rt, Duration::from_secs(30), body)).expect("the test hung: a wake-up was lost")
}

/// Counts arrivals; tasks can wait for a count to be reached.
#[derive(Clone, Default)]
pub struct Latch(Arc<Mutex<(usize, Vec<Waker>)>>);

impl Latch {
    pub fn arrive(&self) {
        let wakers = {
            let mut inner = self.0.lock().unwrap();
            inner.0 += 1;
            std::mem::take(&mut inner.1)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap().0
    }

    pub async fn reached(&self, n: usize) {
        poll_fn(|cx| {
            let mut inner = self.0.lock().unwrap();
            if inner.0 >= n {
                Poll::Ready(())
            } else {
                inner.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Wraps `future` so `latch` gets an arrival right after its first poll:
/// for this crate's futures, that is when the waiter has joined the line.
pub fn after_first_poll<F: Future>(future: F, latch: &Latch) -> impl Future<Output = F::Output> {
    let mut future = Box::pin(future);
    let mut latch = Some(latch.clone());
    poll_fn(move |cx: &mut Context<'_>| {
        let poll = future.as_mut().poll(cx);
        if let Some(latch) = latch.take() {
            latch.arrive();
        }
        poll
    })
}

/// xorshift64*: reproducible randomness without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}
