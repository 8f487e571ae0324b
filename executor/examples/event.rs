//! asyncio's `Event` example: two coroutines wait on a shared event, a
//! `call_later` callback sets it, and both proceed. The asyncio original
//! waits one second; this one waits 100 ms.
//!
//! Run it with `cargo run -p loopwork --example event`.

use loopwork::sync::Event;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn set_event(event: &Event) {
    println!("setting event in callback");
    event.set();
}

async fn coro(name: &str, event: Arc<Event>) {
    println!("{name} waiting for event");
    event.wait().await;
    println!("{name} triggered");
}

// Strict mode (no worker threads) runs the tasks in asyncio's exact order.
#[loopwork::main(strict)]
async fn main() {
    let handle = loopwork::get_running_loop().expect("inside the loop");
    let started = Instant::now();
    let event = Arc::new(Event::new());
    println!("event start state: {}", event.is_set());
    // loop.call_later(1, functools.partial(set_event, event)): the
    // closure captures the argument.
    let setter = event.clone();
    handle.call_later(Duration::from_millis(100), move || set_event(&setter)).expect("the loop is open");
    // asyncio.gather(coro1(event), coro2(event)): plain futures.
    loopwork::gather([coro("coro1", event.clone()), coro("coro2", event.clone())]).await.expect("a waiter panicked");
    println!("event end state: {}", event.is_set());
    println!("took {} ms", started.elapsed().as_millis());
}
