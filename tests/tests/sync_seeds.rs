//! The seeds' loopwork-sync scenarios on loopwork's own loop: a semaphore
//! bounding concurrent requests to a TCP server, and asyncio's `Event`
//! example with `call_later` setting the event.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream};
use loopwork::EventLoop;
use loopwork_sync::{Event, Semaphore};
use loopwork_tests::{raise_nofile, with_watchdog};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests the semaphore scenario makes, all at once.
const REQUESTS: usize = 600;
/// Permits: the most requests allowed in flight.
const PERMITS: usize = 500;
/// How long the server takes to answer, so that requests overlap.
const SERVICE_TIME: Duration = Duration::from_millis(5);

/// Answers every request on its connection with the same 8 bytes, after
/// `SERVICE_TIME`, until end of file.
async fn serve_slowly(listener: TcpListener) {
    loop {
        let (mut stream, _) = listener.accept().await.expect("accept");
        loopwork::spawn(async move {
            let mut request = [0; 8];
            while stream.read_exact(&mut request).await.is_ok() {
                loopwork::sleep(SERVICE_TIME).await;
                if stream.write_all(&request).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[test]
fn sync_semaphore_bounds_600_concurrent_tcp_requests_to_500_in_flight() {
    // Up to 500 client sockets and their 500 server ends are open at once.
    if let Err(reason) = raise_nofile(2 * PERMITS as u64 + 256) {
        eprintln!("skipped: {reason}");
        return;
    }
    with_watchdog(Duration::from_secs(60), "semaphore_600", || {
        let event_loop = EventLoop::builder().workers(2).build().expect("start the loop");
        let (completed, max_in_flight) = event_loop.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let server = loopwork::spawn(serve_slowly(listener));

            let semaphore = Arc::new(Semaphore::new(PERMITS));
            let in_flight = Arc::new(AtomicUsize::new(0));
            let max_in_flight = Arc::new(AtomicUsize::new(0));
            let completed = Arc::new(AtomicUsize::new(0));
            let requests: Vec<_> = (0..REQUESTS)
                .map(|id| {
                    let (semaphore, in_flight, max_in_flight, completed) =
                        (semaphore.clone(), in_flight.clone(), max_in_flight.clone(), completed.clone());
                    loopwork::spawn(async move {
                        let _permit = semaphore.acquire().await;
                        let now = in_flight.fetch_add(1, SeqCst) + 1;
                        max_in_flight.fetch_max(now, SeqCst);

                        let mut stream = TcpStream::connect(addr).await.expect("connect");
                        let request = (id as u64).to_le_bytes();
                        stream.write_all(&request).await.expect("write the request");
                        let mut reply = [0; 8];
                        stream.read_exact(&mut reply).await.expect("read the reply");
                        assert_eq!(reply, request, "request {id} got another's reply");
                        drop(stream);

                        in_flight.fetch_sub(1, SeqCst);
                        completed.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for request in requests {
                request.await.expect("a request task failed");
            }
            server.cancel();
            assert_eq!(semaphore.available_permits(), PERMITS, "every permit came back");
            (completed.load(SeqCst), max_in_flight.load(SeqCst))
        });
        assert_eq!(completed, REQUESTS);
        assert!(max_in_flight <= PERMITS, "{max_in_flight} requests in flight, above the {PERMITS} permits");
        // With the server this slow, the semaphore was the bound, not the
        // loop's speed at starting requests.
        assert!(max_in_flight > 1, "requests never overlapped");
        event_loop.close();
    });
}

/// asyncio's `Event` example, recorded instead of printed: two waiters, and a
/// `call_later` callback that sets the event.
fn event_example(workers: usize, delay: Duration) -> (Vec<String>, Duration) {
    let event_loop = EventLoop::builder().workers(workers).build().expect("start the loop");
    let log = Arc::new(Mutex::new(Vec::new()));
    let say = {
        let log = log.clone();
        move |line: String| log.lock().unwrap().push(line)
    };
    let started = Instant::now();
    event_loop.block_on(async {
        let event = Arc::new(Event::new());
        say(format!("event start state: {}", event.is_set()));

        let setter = event.clone();
        let callback_say = say.clone();
        loopwork::get_running_loop()
            .expect("inside the loop")
            .call_later(delay, move || {
                callback_say("setting event in callback".to_owned());
                setter.set();
            })
            .expect("the loop is open");

        let waiters: Vec<_> = ["coro1", "coro2"]
            .into_iter()
            .map(|name| {
                let (event, say) = (event.clone(), say.clone());
                loopwork::spawn(async move {
                    say(format!("{name} waiting for event"));
                    event.wait().await;
                    say(format!("{name} triggered"));
                })
            })
            .collect();
        for waiter in waiters {
            waiter.await.expect("a waiter failed");
        }
        say(format!("event end state: {}", event.is_set()));
    });
    let elapsed = started.elapsed();
    event_loop.close();
    let log = log.lock().unwrap().clone();
    (log, elapsed)
}

#[test]
fn sync_event_example_on_the_calling_thread_runs_in_asyncio_order() {
    let (log, elapsed) =
        with_watchdog(Duration::from_secs(10), "event_0", || event_example(0, Duration::from_millis(100)));
    // One thread runs everything in FIFO order: asyncio's exact output.
    assert_eq!(log, loopwork_tests::SEED_EVENT_EXAMPLE);
    assert!(elapsed >= Duration::from_millis(100), "the waiters went on before the callback: {elapsed:?}");
}

#[test]
fn sync_event_example_on_two_workers_waits_for_the_callback() {
    let (log, elapsed) =
        with_watchdog(Duration::from_secs(10), "event_2", || event_example(2, Duration::from_millis(100)));
    // The two waiters run in parallel, so only their order relative to the
    // callback is fixed.
    let at = |line: &str| log.iter().position(|l| l == line).unwrap_or_else(|| panic!("`{line}` missing: {log:?}"));
    let set = at("setting event in callback");
    assert_eq!(log.len(), 7, "{log:?}");
    assert_eq!(at("event start state: false"), 0, "{log:?}");
    for coro in ["coro1", "coro2"] {
        assert!(at(&format!("{coro} waiting for event")) < set, "{log:?}");
        assert!(at(&format!("{coro} triggered")) > set, "{log:?}");
    }
    assert_eq!(at("event end state: true"), 6, "{log:?}");
    assert!(elapsed >= Duration::from_millis(100), "the waiters went on before the callback: {elapsed:?}");
}
