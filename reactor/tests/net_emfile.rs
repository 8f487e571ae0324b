//! Running out of descriptors: `accept` hands EMFILE to the caller and the listener keeps
//! working once descriptors are free again; while starved, nothing spins.
//!
//! The server runs in a child process (this test binary, re-run with an environment
//! variable) whose RLIMIT_NOFILE is lowered to 64, so the limit touches no other test; the
//! clients run here, in the parent, with ordinary blocking sockets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on, set_nofile, spawn};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork_reactor::net::{TcpListener, TcpStream};
use loopwork_reactor::{sleep, Reactor};

const CHILD: &str = "LOOPWORK_REACTOR_EMFILE_CHILD";
const TEST: &str = "net_accept_emfile_goes_to_the_caller_and_the_listener_recovers";
const CONNECTIONS: usize = 200;
const WAVE: usize = 100;
const NOFILE: u64 = 64;
/// How long the first wave holds its connections open before talking: the server is
/// starved of descriptors all that time, with connections waiting in its backlog.
const STARVED: Duration = Duration::from_millis(500);

#[test]
fn net_accept_emfile_goes_to_the_caller_and_the_listener_recovers() {
    if std::env::var_os(CHILD).is_some() {
        return server();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("the server exited before printing its port").unwrap();
        // libtest may have printed the test's name on the same line.
        if let Some((_, port)) = line.split_once("port=") {
            break port.trim().parse().unwrap();
        }
    };

    // Waves of 100 open connections, more than the server can hold at once; each client is
    // served, then closes, which frees a descriptor for the next one.
    for wave in 0..CONNECTIONS / WAVE {
        let clients: Vec<std::net::TcpStream> = (0..WAVE)
            .map(|_| {
                let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                stream
            })
            .collect();
        if wave == 0 {
            std::thread::sleep(STARVED);
        }
        for (i, mut client) in clients.into_iter().enumerate() {
            let byte = (wave * WAVE + i) as u8;
            client.write_all(&[byte]).unwrap();
            let mut echo = [0];
            client.read_exact(&mut echo).unwrap_or_else(|err| panic!("client {wave}/{i} got no echo: {err}"));
            assert_eq!(echo[0], byte);
        }
    }

    let report: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "the server failed: {status}; its output: {report:?}");
    let summary =
        report.iter().find_map(|line| line.split_once("accepted=").map(|(_, rest)| rest)).expect("no summary");
    let (accepted, rest) = summary.split_once(" emfile=").unwrap();
    let (emfile, cpu) = rest.split_once(" cpu_ms=").unwrap();
    assert_eq!(accepted.parse::<usize>().unwrap(), CONNECTIONS);
    let emfile: usize = emfile.parse().unwrap();
    assert!(emfile > 0, "the server never ran out of descriptors, so the test proved nothing");
    // Anything spinning while starved (a level-triggered listener woken over and over, a
    // retry inside the reactor) would burn the whole starved half second and more; serving
    // 200 connections takes a few tens of milliseconds. The bound is generous.
    let cpu_ms: u64 = cpu.parse().unwrap();
    assert!(
        Duration::from_millis(cpu_ms) < STARVED * 3 / 4,
        "the server used {cpu_ms} ms of CPU, most of a starved {STARVED:?}: something spins"
    );
    eprintln!("accept returned EMFILE {emfile} times; all {CONNECTIONS} connections were served; {cpu_ms} ms CPU");
}

/// The child: an accept loop under RLIMIT_NOFILE = 64.
fn server() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("the EMFILE server ran for 60 s; giving up");
        std::process::exit(3);
    });
    let reactor = Arc::new(Reactor::new().unwrap());
    block_on(&reactor, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_nofile(NOFILE);
        println!("port={}", listener.local_addr().unwrap().port());
        let (mut accepted, mut emfile) = (0, 0);
        let mut handlers = Vec::new();
        while accepted < CONNECTIONS {
            match listener.accept().await {
                Ok((stream, _)) => {
                    accepted += 1;
                    handlers.push(spawn(serve(stream)));
                }
                Err(err) if matches!(err.raw_os_error(), Some(code) if code == libc_emfile() || code == libc_enfile()) =>
                {
                    emfile += 1;
                    // The caller's policy, not the reactor's: back off briefly, then retry.
                    sleep(Duration::from_millis(5)).await;
                }
                Err(err) => panic!("accept failed: {err}"),
            }
        }
        for handler in handlers {
            handler.await;
        }
        let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        let cpu_ms = cpu.tv_sec as u64 * 1_000 + cpu.tv_nsec as u64 / 1_000_000;
        println!("accepted={accepted} emfile={emfile} cpu_ms={cpu_ms}");
    });
}

/// Echoes one byte, then holds the connection until the client closes it.
async fn serve(mut stream: TcpStream) {
    let mut byte = [0];
    stream.read_exact(&mut byte).await.unwrap();
    stream.write_all(&byte).await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
}

fn libc_emfile() -> i32 {
    rustix::io::Errno::MFILE.raw_os_error()
}

fn libc_enfile() -> i32 {
    rustix::io::Errno::NFILE.raw_os_error()
}
