//! asyncio's `loop.call_soon(callback, *args)`, with `functools.partial` for
//! keyword arguments: in loopwork the closure captures the arguments.
//!
//! Run it with `cargo run -p loopwork --example call_soon`.

use loopwork::EventLoop;
use std::time::Duration;

fn call_back(args: u32, kwargs: &str) {
    println!("a plain function as a callback got arguments: {args}, {kwargs}");
}

fn main() {
    // workers(0): asyncio's single thread and its exact ordering.
    let event_loop = EventLoop::builder().workers(0).build().expect("start the loop");
    let handle = event_loop.handle();
    event_loop.block_on(async move {
        println!("registering callbacks");
        handle.call_soon(|| call_back(1, "default")).unwrap();
        // functools.partial(call_back, kwargs="xxoo") is a closure capturing it.
        let wrapped = |args| move || call_back(args, "xxoo");
        handle.call_soon(wrapped(2)).unwrap();
        loopwork::sleep(Duration::from_millis(50)).await;
    });
    event_loop.close();
}
