//! asyncio's `Event` example: two coroutines wait on a shared event, a
//! callback sets it one second later, and both proceed.
//!
//! The asyncio original schedules `set_event` with `loop.call_later(1, ...)`;
//! here a timer thread plays that part, which works because `Event::set` may
//! be called from any thread.
//!
//! ```sh
//! cargo run -p loopwork-sync --example event_from_thread
//! ```

use loopwork_sync::Event;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn set_event(event: &Event) {
    println!("setting event in callback");
    event.set();
}

async fn coro1(event: Arc<Event>) {
    println!("coro1 waiting for event");
    event.wait().await;
    println!("coro1 triggered");
}

async fn coro2(event: Arc<Event>) {
    println!("coro2 waiting for event");
    event.wait().await;
    println!("coro2 triggered");
}

async fn main_coro() {
    let event = Arc::new(Event::new());
    println!("event start state: {}", event.is_set());

    let timer = {
        let event = Arc::clone(&event);
        thread::spawn(move || {
            thread::sleep(Duration::from_secs(1));
            set_event(&event);
        })
    };

    // asyncio.gather(coro1(event), coro2(event))
    let first = tokio::spawn(coro1(Arc::clone(&event)));
    let second = tokio::spawn(coro2(Arc::clone(&event)));
    first.await.expect("coro1 panicked");
    second.await.expect("coro2 panicked");

    println!("event end state: {}", event.is_set());
    timer.join().expect("the timer thread panicked");
}

fn main() {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("build the runtime");
    runtime.block_on(main_coro());
    println!("took {:.2?}", started.elapsed());
}
