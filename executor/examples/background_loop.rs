//! asyncio's loop in a background thread (`Thread(target=loop.run_forever)`),
//! fed from the main thread: first with `call_soon_threadsafe` and blocking
//! callbacks, which run one after the other (6 + 3 "seconds"); then with
//! `run_coroutine_threadsafe` and coroutines, which run concurrently (about
//! 6). Seconds are scaled to tens of milliseconds.
//!
//! Run it with `cargo run -p loopwork --example background_loop`.

use loopwork::EventLoop;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn more_work(x: u64) {
    println!("More work {x}");
    std::thread::sleep(Duration::from_millis(x * 10));
    println!("Finished more work {x}");
}

async fn do_some_work(x: u64) -> u64 {
    println!("Waiting {x}");
    loopwork::sleep(Duration::from_millis(x * 10)).await;
    println!("Done after {x}");
    x
}

fn main() {
    // workers(0): the thread in run_forever is the loop, as in asyncio.
    let new_loop = Arc::new(EventLoop::builder().workers(0).build().expect("start the loop"));
    let handle = new_loop.handle();
    let loop_thread = {
        let new_loop = new_loop.clone();
        std::thread::spawn(move || new_loop.run_forever())
    };
    println!("The main thread is running...");

    let start = Instant::now();
    handle.call_soon_threadsafe(|| more_work(6)).unwrap();
    handle.call_soon_threadsafe(|| more_work(3)).unwrap();
    // Callbacks from one thread run in order: this one runs after both.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    handle.call_soon_threadsafe(move || done_tx.send(()).unwrap()).unwrap();
    done_rx.recv().unwrap();
    println!("callbacks: {} ms (run one after the other)", start.elapsed().as_millis());

    let start = Instant::now();
    let first = handle.run_coroutine_threadsafe(do_some_work(6)).unwrap();
    let second = handle.run_coroutine_threadsafe(do_some_work(4)).unwrap();
    println!("results: {} and {}", first.result().unwrap(), second.result().unwrap());
    println!("coroutines: {} ms (run concurrently)", start.elapsed().as_millis());

    handle.stop();
    loop_thread.join().unwrap();
    new_loop.close();
    println!("loop stopped");
}
