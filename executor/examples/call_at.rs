//! asyncio's `loop.call_at(when, callback)` against the loop's own clock,
//! `loop.time()`: deadlines are instants of that clock, not wall-clock times.
//! The seed's 0.1/0.2 s are scaled to 10/20 ms.
//!
//! Run it with `cargo run -p loopwork --example call_at`.

use loopwork::{EventLoop, Handle};
use std::time::{Duration, Instant};

fn call_back(handle: &Handle, start: Instant, index: &str) {
    // loopwork's clock is an `Instant`; print it as seconds since `start`.
    let at = handle.time().duration_since(start).as_secs_f64();
    println!("[Call_back--{index}]: the running time point is {at:.4}");
}

fn main() {
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    let handle = event_loop.handle();
    event_loop.block_on(async move {
        let now = handle.time();
        println!("the loop's time now: 0.0000 (times below are seconds since it)");
        println!("registering callbacks");
        let h = handle.clone();
        handle.call_at(now + Duration::from_millis(20), move || call_back(&h, now, "c_b-1")).unwrap();
        let h = handle.clone();
        handle.call_at(now + Duration::from_millis(10), move || call_back(&h, now, "c_b-2")).unwrap();
        let h = handle.clone();
        handle.call_soon(move || call_back(&h, now, "call_soon")).unwrap();
        loopwork::sleep(Duration::from_millis(50)).await;
    });
    event_loop.close();
}
