//! A stream read that comes back short while more data is already queued: the receive queue
//! is not empty, and no further event will report the data that is there.

mod common;

use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use common::{block_on, with_watchdog};
use futures_lite::future;
use futures_lite::AsyncReadExt;
use loopwork_reactor::net::{TcpListener, UnixStream};
use loopwork_reactor::{sleep, Reactor, Trigger};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

/// Reads once, or gives up after a second (`None`): the data is already in the queue, so a
/// read that has to wait longer waits for an event that will not come.
async fn read_or_give_up(stream: &mut (impl futures_lite::AsyncRead + Unpin), buf: &mut [u8]) -> Option<usize> {
    future::or(async { Some(stream.read(buf).await.unwrap()) }, async {
        sleep(Duration::from_secs(1)).await;
        None
    })
    .await
}

/// TCP urgent data: `recv` stops at the urgent mark when it has read something, so the read
/// before the mark is short although the data after the mark is already queued.
fn tcp_data_after_an_urgent_byte(trigger: Trigger) {
    let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
    with_watchdog(Duration::from_secs(20), move || {
        block_on(&reactor, async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            client.set_nodelay(true).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();

            client.write_all(b"abc").unwrap();
            rustix::net::send(&client, b"!", SendFlags::OOB).unwrap();
            client.write_all(b"efg").unwrap();
            // Let every segment arrive and its events be delivered.
            sleep(Duration::from_millis(50)).await;

            let mut buf = [0; 64];
            assert_eq!(read_or_give_up(&mut server, &mut buf).await, Some(3), "{trigger:?}");
            assert_eq!(&buf[..3], b"abc");
            // "efg" is queued; `recv` would return it at once.
            let after_mark = read_or_give_up(&mut server, &mut buf).await;
            assert_eq!(after_mark, Some(3), "{trigger:?}: the data after the urgent byte was never read");
            assert_eq!(&buf[..3], b"efg");
        })
    });
}

#[test]
fn net_tcp_data_queued_after_an_urgent_byte_is_read_in_edge_mode() {
    tcp_data_after_an_urgent_byte(Trigger::Edge);
}

#[test]
fn net_tcp_data_queued_after_an_urgent_byte_is_read_in_oneshot_mode() {
    tcp_data_after_an_urgent_byte(Trigger::Oneshot);
}

/// Unix stream sockets never glue a message that carried descriptors (SCM_RIGHTS) to the data
/// behind it: the read of that message is short although more data is queued.
fn unix_data_after_passed_descriptors(trigger: Trigger) {
    let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
    with_watchdog(Duration::from_secs(20), move || {
        block_on(&reactor, async move {
            let (mut a, b) = UnixStream::pair().unwrap();
            let passed = std::fs::File::open("/dev/null").unwrap();
            {
                use std::os::fd::AsFd;
                let fds = [passed.as_fd()];
                let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
                let mut control = SendAncillaryBuffer::new(&mut space);
                assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
                let sent = rustix::net::sendmsg(b.get_ref(), &[IoSlice::new(b"abc")], &mut control, SendFlags::empty());
                assert_eq!(sent.unwrap(), 3);
            }
            (&mut b.get_ref()).write_all(b"efg").unwrap();
            sleep(Duration::from_millis(50)).await;

            let mut buf = [0; 64];
            assert_eq!(read_or_give_up(&mut a, &mut buf).await, Some(3), "{trigger:?}");
            assert_eq!(&buf[..3], b"abc");
            let next = read_or_give_up(&mut a, &mut buf).await;
            assert_eq!(next, Some(3), "{trigger:?}: the data after the descriptors was never read");
            assert_eq!(&buf[..3], b"efg");
            b.shutdown(Shutdown::Both).unwrap();
        })
    });
}

#[test]
fn net_unix_data_queued_after_passed_descriptors_is_read_in_edge_mode() {
    unix_data_after_passed_descriptors(Trigger::Edge);
}

#[test]
fn net_unix_data_queued_after_passed_descriptors_is_read_in_oneshot_mode() {
    unix_data_after_passed_descriptors(Trigger::Oneshot);
}
