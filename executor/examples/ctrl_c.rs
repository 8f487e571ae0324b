//! asyncio's `KeyboardInterrupt` around `run_until_complete`: on Ctrl-C, list
//! `all_tasks()`, cancel every task, then close the loop cleanly.
//!
//! Rust has no `KeyboardInterrupt` exception. A SIGINT handler added with
//! `add_signal_handler` (asyncio's `loop.add_signal_handler`) runs on the
//! loop and fails the promise that `run_until_complete` (`block_on`) waits
//! on, which is what raising `KeyboardInterrupt` into it does in Python. The tasks sleep 1, 2 and 3
//! seconds, as in the seed: press Ctrl-C before they finish.
//!
//! Run it with `cargo run -p loopwork --example ctrl_c`.

use loopwork::{EventLoop, PromiseError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn do_some_work(x: u64) -> String {
    println!("Waiting: {x}");
    loopwork::sleep(Duration::from_secs(x)).await;
    format!("Done after {x}")
}

fn main() {
    let start = Instant::now();
    let event_loop = EventLoop::builder().workers(0).task_details(true).build().expect("start the loop");
    let handle = event_loop.handle();

    // asyncio.wait(tasks): done when every task is, or when interrupted.
    let wait = handle.create_future::<()>();
    // Ctrl-C is what turns into the KeyboardInterrupt that ends the wait.
    // A second one, while the loop is still open, prints what every task is
    // doing (`Handle::dump`): what to reach for when a program will not stop.
    let interrupt = wait.clone();
    let presses = AtomicUsize::new(0);
    let dumper = handle.clone();
    handle
        .add_signal_handler(loopwork::signal::SIGINT, move || {
            println!("^C");
            // Relaxed: the handler runs on the loop, one call at a time.
            if presses.fetch_add(1, Ordering::Relaxed) == 0 {
                let _ = interrupt.set_error("KeyboardInterrupt");
            } else {
                println!("{}", dumper.dump());
            }
        })
        .expect("listen for Ctrl-C");
    let pending = Arc::new(AtomicUsize::new(3));
    let tasks: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|x| {
            let task = handle.spawn(do_some_work(x)).unwrap();
            let (wait, pending) = (wait.clone(), pending.clone());
            task.add_done_callback(move |_| {
                // AcqRel: the last task to finish sees every other's decrement.
                if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    let _ = wait.set_result(());
                }
            })
            .expect("the task's result is not taken yet");
            task
        })
        .collect();

    match event_loop.block_on(wait) {
        Ok(()) => println!("every task finished before the interrupt"),
        Err(PromiseError::Failed(error)) => {
            println!("caught {error}");
            println!("all tasks in the loop:");
            for info in handle.all_tasks() {
                println!("  {} ({:?})", info.name, info.state);
            }
            for task in &tasks {
                println!("task {} cancelled? {}", task.name(), task.cancel());
            }
        }
        Err(PromiseError::Cancelled | PromiseError::Taken) => {
            unreachable!("nobody cancels the wait or takes its value")
        }
    }
    // Cancelled tasks are dropped at once; awaiting one gives Err(Cancelled).
    for task in tasks {
        let name = task.name();
        println!("task {name}: {:?}", event_loop.block_on(task));
    }
    // Closing the loop removes its signal handlers, as asyncio's does:
    // Ctrl-C gets its default action back.
    event_loop.close();
    println!("loop closed: {}", handle.is_closed());
    println!("Time: {} ms", start.elapsed().as_millis());
}
