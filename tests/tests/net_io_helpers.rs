//! loopwork::io's helpers over real sockets: lines split across many small
//! writes, `copy` of a large stream, `read_exact` at end of file, and
//! futures that are `Send`, so they run in spawned tasks.

use futures_lite::StreamExt;
use loopwork::io::{copy, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use loopwork::net::{TcpListener, TcpStream};
use std::io;

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[loopwork::test(workers = 2)]
async fn lines_arrive_whole_however_the_bytes_are_split() {
    let (mut client, server) = pair().await;
    let writer = loopwork::spawn(async move {
        let text: String = (0..1000).map(|i| format!("line {i}\r\n")).collect();
        // Three bytes at a time, with a yield between: lines straddle reads.
        for chunk in text.as_bytes().chunks(3) {
            client.write_all(chunk).await.unwrap();
            loopwork::yield_now().await;
        }
        client.close().await.unwrap();
    });
    let lines: Vec<String> = BufReader::with_capacity(16, server).lines().map(Result::unwrap).collect().await;
    writer.await.unwrap();
    assert_eq!(lines.len(), 1000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, format!("line {i}"));
    }
}

#[loopwork::test(workers = 2)]
async fn copy_moves_every_byte_of_a_large_stream() {
    const LEN: usize = 4 << 20;
    let (mut client, mut server) = pair().await;
    let sent: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let expected = sent.clone();
    let writer = loopwork::spawn(async move {
        copy(&mut sent.as_slice(), &mut client).await.unwrap();
        client.close().await.unwrap();
    });
    let mut received = Vec::new();
    let copied = copy(&mut server, &mut received).await.unwrap();
    writer.await.unwrap();
    assert_eq!(copied, LEN as u64);
    assert!(received == expected, "the copy differs from what was sent");
}

#[loopwork::test(strict)]
async fn read_exact_reports_a_short_stream() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"abc").await.unwrap();
    client.close().await.unwrap();
    let mut buf = [0; 4];
    let err = server.read_exact(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(&buf[..3], b"abc");
}

#[loopwork::test(strict)]
async fn a_line_that_is_not_utf8_is_invalid_data() {
    let mut reader = BufReader::new(&b"\xff\xfe\n"[..]);
    let mut line = String::from("kept");
    let err = reader.read_line(&mut line).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(line, "kept");
}
