//! The tokio recipe: with `Builder::enable_tokio`, tokio-only APIs
//! (`tokio::time::sleep`, a `tokio::net` client) work inside loopwork tasks
//! and in `block_on`; without it they fail the way the docs say.

use loopwork::io::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::TcpListener;
use loopwork::{EventLoop, TaskError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[test]
fn tokio_sleep_and_a_tokio_net_client_run_inside_loopwork_tasks() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).enable_tokio().build().unwrap();
        event_loop.block_on(async {
            // A loopwork server; tokio clients in loopwork tasks.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = loopwork::spawn(async move {
                for _ in 0..10 {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    loopwork::spawn(async move {
                        let mut buf = [0; 5];
                        stream.read_exact(&mut buf).await.unwrap();
                        stream.write_all(&buf).await.unwrap();
                    });
                }
            });
            let clients: Vec<_> = (0..10u64)
                .map(|i| {
                    loopwork::spawn(async move {
                        let started = Instant::now();
                        tokio::time::sleep(Duration::from_millis(5 * i)).await;
                        assert!(started.elapsed() >= Duration::from_millis(5 * i), "tokio's timer fired early");
                        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                        stream.write_all(b"hello").await.unwrap();
                        let mut echoed = [0; 5];
                        stream.read_exact(&mut echoed).await.unwrap();
                        assert_eq!(&echoed, b"hello");
                    })
                })
                .collect();
            loopwork::try_gather(clients).await.unwrap();
            server.await.unwrap();
            // block_on's own future is inside tokio's context too.
            tokio::time::sleep(Duration::from_millis(1)).await;
        });
        event_loop.close();
    }
}

#[test]
fn a_loop_dropped_inside_its_own_task_shuts_tokio_down_without_panicking() {
    let event_loop = EventLoop::builder().workers(1).enable_tokio().build().unwrap();
    let handle = event_loop.handle();
    let (sent, received) = std::sync::mpsc::channel();
    handle
        .spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            drop(event_loop);
            sent.send(()).unwrap();
        })
        .unwrap();
    received.recv_timeout(Duration::from_secs(30)).expect("the task that dropped the loop finished");
}

#[test]
fn without_enable_tokio_a_tokio_api_panics_with_tokios_message() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let task = event_loop.handle().spawn(async { tokio::time::sleep(Duration::from_millis(1)).await }).unwrap();
    match event_loop.block_on(task) {
        Err(TaskError::Panicked(payload)) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            assert!(message.contains("there is no reactor running"), "{message}");
        }
        other => panic!("tokio::time::sleep outside tokio's context should panic, got {other:?}"),
    }
    event_loop.close();
}
