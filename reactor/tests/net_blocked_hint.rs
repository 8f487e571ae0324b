//! The "would block" memory of one operation held against another operation of the same
//! direction that would not block.

mod common;

use std::future::poll_fn;
use std::net::UdpSocket;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{block_on, with_watchdog};
use futures_lite::future;
use loopwork_reactor::{sleep, Async, Reactor, Trigger};
use rustix::net::RecvFlags;

/// A task reads a socket's error queue (SO_TIMESTAMPING, MSG_ZEROCOPY completions) and its
/// data through `poll_read_with`, in one poll. The error-queue read would block; the data
/// read would not: a datagram is queued.
fn datagram_behind_an_empty_error_queue(trigger: Trigger) {
    let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
    with_watchdog(Duration::from_secs(20), move || {
        block_on(&reactor, async move {
            let socket = Async::new(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
            let me = socket.get_ref().local_addr().unwrap();
            socket.get_ref().send_to(b"datagram", me).unwrap();
            sleep(Duration::from_millis(20)).await;

            let mut errors = [0; 64];
            let mut data = [0; 64];
            let polls = std::cell::Cell::new(0u64);
            let received = poll_fn(|cx| {
                polls.set(polls.get() + 1);
                // Nothing in the error queue: WouldBlock.
                let error = socket.poll_read_with(cx, |s| {
                    rustix::net::recv(s, &mut errors[..], RecvFlags::ERRQUEUE).map(|(n, _)| n).map_err(Into::into)
                });
                assert!(error.is_pending());
                match socket.poll_read_with(cx, |s| s.recv_from(&mut data)) {
                    Poll::Ready(result) => Poll::Ready(result.unwrap().0),
                    Poll::Pending => Poll::Pending,
                }
            });
            let got = future::or(async { Some(received.await) }, async {
                sleep(Duration::from_secs(1)).await;
                None
            })
            .await;
            eprintln!("{trigger:?}: polled {} times in the second", polls.get());
            assert_eq!(got, Some(8), "{trigger:?}: the queued datagram was never received");
        })
    });
}

#[test]
fn net_udp_data_read_is_not_held_back_by_an_error_queue_read_that_would_block_edge() {
    datagram_behind_an_empty_error_queue(Trigger::Edge);
}

#[test]
fn net_udp_data_read_is_not_held_back_by_an_error_queue_read_that_would_block_oneshot() {
    datagram_behind_an_empty_error_queue(Trigger::Oneshot);
}
