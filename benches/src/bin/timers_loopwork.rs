//! The `timers` row on loopwork alone, for instruction counts:
//! `valgrind --tool=callgrind target/release/timers_loopwork` shows where a
//! timer's cost goes (the queue, the task's wake, the clock) in a total that
//! repeats closely. As in the row, 10 tasks each set 10,000 timers due 1 ms
//! after creation, drop every second one at once and await the rest. One
//! worker, as in `yield_many_loopwork`.

use std::time::Duration;

const TASKS: usize = 10;
const TIMERS_PER_TASK: usize = 10_000;

fn main() {
    let event_loop = loopwork::EventLoop::builder().workers(1).build().expect("start the loop");
    event_loop.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                loopwork::spawn(async {
                    let mut pending = Vec::with_capacity(TIMERS_PER_TASK / 2);
                    for i in 0..TIMERS_PER_TASK {
                        let mut sleep = Box::pin(loopwork::sleep(Duration::from_millis(1)));
                        // A timer that fired already (the poll came more than
                        // the delay after its creation) is not awaited again.
                        let fired = futures_lite::future::poll_once(sleep.as_mut()).await.is_some();
                        if i % 2 == 0 && !fired {
                            pending.push(sleep);
                        }
                    }
                    for sleep in pending {
                        sleep.await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a timer task failed");
        }
    });
    event_loop.close();
}
