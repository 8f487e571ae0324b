//! asyncio's `asyncio.Future` completed by a callback: `loop.create_future()`
//! is `handle.create_future()`, a `Promise` whose `set_result` wakes whoever
//! awaits it, and which keeps its result afterwards.
//!
//! Run it with `cargo run -p loopwork --example promise`.

use loopwork::{EventLoop, Promise};
use std::time::Duration;

fn state(future: &Promise<&'static str>) -> &'static str {
    if future.is_done() {
        "finished"
    } else {
        "pending"
    }
}

fn call_back(future: Promise<&'static str>, result: &'static str) {
    println!("the future's state now: {}", state(&future));
    println!("setting the future's result: {result}");
    future.set_result(result).unwrap();
    println!("the future's state now: {}", state(&future));
}

fn main() {
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    let handle = event_loop.handle();
    let future = handle.create_future::<&'static str>();
    let setter = future.clone();
    handle.call_later(Duration::from_millis(20), move || call_back(setter, "Future is done!")).unwrap();
    println!("entering the event loop");
    let result = event_loop.block_on(future.clone()).unwrap();
    println!("the result returned: {result}");
    event_loop.close();
    println!("the future's result afterwards: {}", future.try_result().unwrap().unwrap());
}
