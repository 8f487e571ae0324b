//! A tour of loopwork: asyncio's programming model on a work-stealing pool.
//!
//! Run it with `cargo run --release -p loopwork --example tour`.

use loopwork::EventLoop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    // Panics below are on purpose; keep their report to one line.
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload().downcast_ref::<&str>().copied().unwrap_or("?");
        eprintln!("  (a task panicked, as planned: {message})");
    }));

    let event_loop = EventLoop::builder().workers(2).build().expect("start the loop");
    let handle = event_loop.handle();
    println!("loopwork tour: an event loop with {} worker threads\n", handle.workers());

    section("create_task / await: tasks start at once and run in parallel", || {
        let squares = event_loop.block_on(async {
            let tasks: Vec<_> = (1..=5).map(|i| loopwork::spawn(async move { i * i })).collect();
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        });
        format!("five tasks computed {squares:?}")
    });

    section("spawning from threads the loop does not own", || {
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (handle, counter) = (handle.clone(), counter.clone());
                std::thread::spawn(move || {
                    (0..25_000)
                        .map(|_| {
                            let counter = counter.clone();
                            handle.spawn(async move { counter.fetch_add(1, Ordering::Relaxed) }).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let tasks: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        event_loop.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        format!("100,000 tasks spawned from 4 foreign threads; {} ran", counter.load(Ordering::Relaxed))
    });

    section("call_soon in strict mode (workers(0)): asyncio's exact order", || {
        let strict = EventLoop::builder().workers(0).build().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let strict_handle = strict.handle();
        strict.block_on({
            let order = order.clone();
            async move {
                let o = order.clone();
                strict_handle.call_soon(move || o.lock().unwrap().push("callback 1")).unwrap();
                let o = order.clone();
                let task = loopwork::spawn(async move { o.lock().unwrap().push("task") });
                let o = order.clone();
                strict_handle.call_soon(move || o.lock().unwrap().push("callback 2")).unwrap();
                task.await.unwrap();
            }
        });
        format!("ran {:?}", order.lock().unwrap())
    });

    section("run_coroutine_threadsafe from a foreign thread", || {
        let submitter = handle.clone();
        let value = std::thread::spawn(move || {
            let future = submitter.run_coroutine_threadsafe(async { "computed on the loop" }).unwrap();
            future.result().unwrap()
        })
        .join()
        .unwrap();
        format!("the foreign thread got {value:?}")
    });

    section("run_in_executor: five blocking 100 ms sleeps on the blocking pool", || {
        event_loop.block_on(async {
            let sleeps: Vec<_> =
                (0..5).map(|_| loopwork::run_in_executor(|| std::thread::sleep(Duration::from_millis(100)))).collect();
            for sleep in sleeps {
                sleep.await.unwrap();
            }
        });
        "done in about the longest one, not the sum".to_owned()
    });

    section("call_later(0.1), (0.3), (0.2) and a call_soon, scaled to milliseconds", || {
        let order = Arc::new(Mutex::new(Vec::new()));
        // Each label carries its delay, so the firing order reads as it is
        // meant: the call_soon first, then by deadline, not by call order.
        for delay in [10, 30, 20] {
            let order = order.clone();
            let label = format!("later({delay} ms)");
            handle.call_later(Duration::from_millis(delay), move || order.lock().unwrap().push(label)).unwrap();
        }
        let soon = order.clone();
        handle.call_soon(move || soon.lock().unwrap().push("soon".to_owned())).unwrap();
        event_loop.block_on(loopwork::sleep(Duration::from_millis(50)));
        format!("ran {}", order.lock().unwrap().join(", "))
    });

    section("a TCP echo server and 1,000 concurrent clients on loopback", || {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        use loopwork::net::{TcpListener, TcpStream};
        let echoed = event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = loopwork::spawn(async move {
                loop {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    loopwork::spawn(async move {
                        let mut buf = [0; 1024];
                        loop {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => stream.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                    });
                }
            });
            let clients: Vec<_> = (0..1000u32)
                .map(|i| {
                    loopwork::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        let message = i.to_le_bytes();
                        stream.write_all(&message).await.unwrap();
                        let mut reply = [0; 4];
                        stream.read_exact(&mut reply).await.unwrap();
                        reply == message
                    })
                })
                .collect();
            let echoed = loopwork::try_gather(clients).await.unwrap().into_iter().filter(|ok| *ok).count();
            server.cancel();
            echoed
        });
        format!("{echoed} of 1,000 clients got their bytes back")
    });

    section("a Promise completed by a callback, awaited by three tasks", || {
        let promise = handle.create_future::<&str>();
        let waiters: Vec<_> = (0..3).map(|_| handle.spawn(promise.clone()).unwrap()).collect();
        let setter = promise.clone();
        handle.call_soon_threadsafe(move || setter.set_result("hello").unwrap()).unwrap();
        let got: Vec<_> = waiters.into_iter().map(|w| event_loop.block_on(w).unwrap().unwrap()).collect();
        format!("each waiter got {got:?}")
    });

    section("cancellation at the next suspension point", || {
        let outcome = event_loop.block_on(async {
            let task = loopwork::spawn(std::future::pending::<()>());
            loopwork::yield_now().await;
            task.cancel();
            task.await
        });
        format!("the cancelled task reports: {}", outcome.unwrap_err())
    });

    section("a panic stays inside its task", || {
        let outcome = event_loop.block_on(async { loopwork::spawn(async { panic!("contained") }).await });
        format!("the task reports: {}", outcome.unwrap_err())
    });

    section("shutdown drops what is still pending", || {
        for _ in 0..10_000 {
            handle.spawn(std::future::pending::<()>()).unwrap();
        }
        event_loop.shutdown(Duration::from_secs(1)).expect("shutdown in time");
        format!("10,000 pending tasks dropped; closed: {}", handle.is_closed())
    });
}

/// Runs one step of the tour and prints what it did and how long it took.
fn section(title: &str, step: impl FnOnce() -> String) {
    println!("- {title}");
    let started = Instant::now();
    let outcome = step();
    println!("  {outcome} ({:.1?})", started.elapsed());
}
