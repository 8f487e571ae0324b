//! asyncio's `loop.call_later(delay, callback, *args)`: callbacks run in
//! deadline order, and a `call_soon` runs before all of them wherever it is
//! registered. The seed's 0.1/0.3/0.2 s delays are scaled to 10/30/20 ms.
//!
//! Run it with `cargo run -p loopwork --example call_later`.

use loopwork::EventLoop;
use std::time::Duration;

fn call_back(index: &str, x: u32, y: u32) {
    println!("[Call_back--{index}]: {x} + {y} = {}", x + y);
}

fn main() {
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    let handle = event_loop.handle();
    event_loop.block_on(async move {
        println!("registering callbacks");
        handle.call_later(Duration::from_millis(10), || call_back("1", 1, 2)).unwrap();
        handle.call_later(Duration::from_millis(30), || call_back("2", 3, 4)).unwrap();
        handle.call_later(Duration::from_millis(20), || call_back("3", 5, 7)).unwrap();
        // Runs before the timers, although it is registered after them.
        handle.call_soon(|| call_back("call_soon", 9, 9)).unwrap();
        loopwork::sleep(Duration::from_millis(50)).await;
    });
    event_loop.close();
}
