//! The producer-consumer pattern around a loop in a background thread: a
//! producer thread pushes messages into a deque, a consumer thread pops them
//! and submits a coroutine for each with `run_coroutine_threadsafe`. The
//! seed's endless loops are bounded to five messages here; its 2-second
//! intervals are scaled to 20 ms.
//!
//! Run it with `cargo run -p loopwork --example producer_consumer`.

use loopwork::EventLoop;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MESSAGES: usize = 5;

async fn thread_example(name: String) -> String {
    println!("running name: {name}");
    loopwork::sleep(Duration::from_millis(30)).await;
    format!("result: {name}")
}

fn main() {
    let new_loop = Arc::new(EventLoop::builder().workers(0).build().expect("start the loop"));
    let handle = new_loop.handle();
    let loop_thread = {
        let new_loop = new_loop.clone();
        std::thread::spawn(move || new_loop.run_forever())
    };

    let dq = Arc::new(Mutex::new(VecDeque::new()));
    let consumer = {
        let (dq, handle) = (dq.clone(), handle.clone());
        std::thread::spawn(move || {
            let mut futures = Vec::new();
            while futures.len() < MESSAGES {
                // Popped before the lock's guard is dropped at the `;`.
                let msg = dq.lock().unwrap().pop_back();
                match msg {
                    Some(msg) => {
                        let future = handle.run_coroutine_threadsafe(thread_example(format!("Zarten{msg}")));
                        futures.push(future.unwrap());
                    }
                    // The seed spins; a millisecond's nap keeps a core free.
                    None => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            futures.into_iter().map(|future| future.result().unwrap()).collect::<Vec<_>>()
        })
    };

    // The seed's random.randint(1, 10), made deterministic.
    for i in [3, 7, 1, 10, 4] {
        println!("produced {i}");
        dq.lock().unwrap().push_front(i.to_string());
        std::thread::sleep(Duration::from_millis(20));
    }

    for result in consumer.join().unwrap() {
        println!("{result}");
    }
    handle.stop();
    loop_thread.join().unwrap();
    new_loop.close();
    println!("loop stopped");
}
