//! A private `redis-server` for a test: on a free port of 127.0.0.1, with
//! persistence off and its files in a directory of its own, stopped when
//! dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` and waits until it answers as itself (see
    /// `wait_until_ready`).
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed (the message names the command
    /// that installs it), or it does not come up on any of ten ports, ten
    /// seconds at most each.
    pub fn start() -> RedisServer {
        // Another process can take the port between this probe and the
        // server's bind; the server then exits, and the next port is tried.
        let mut why = String::new();
        for _ in 0..10 {
            let port =
                TcpListener::bind("127.0.0.1:0").and_then(|probe| probe.local_addr()).expect("a free port").port();
            let mut server = RedisServer::spawn_on(port);
            match server.wait_until_ready() {
                Ok(()) => return server,
                Err(failed) => why = failed,
            }
        }
        panic!("redis-server did not start on any of ten ports; on the last one, {why}")
    }

    /// Starts `redis-server` on `port`, in a directory of its own (the drop
    /// of a failed attempt removes its directory), without waiting for it.
    fn spawn_on(port: u16) -> RedisServer {
        let dir = std::env::temp_dir().join(format!("loopwork-redis-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed; install it with `apt-get install redis-server` \
                 (or your system's package manager) and run the tests again"
            ),
            Err(err) => panic!("cannot start redis-server: {err}"),
        };
        RedisServer { child, port, dir }
    }

    /// The server's `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Waits until our own server answers on the port; otherwise says what
    /// happened instead: it exited (its port was taken), or within ten
    /// seconds nothing, or another process, answered.
    ///
    /// An accepted connection alone proves nothing: another test's server
    /// can hold the port ours failed to bind (and stop when that test ends),
    /// and a connect to an ephemeral port nobody listens on can connect the
    /// socket to itself. So the server must name our child's pid.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut answered = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the server exited ({status})"));
            }
            answered = server_pid(self.port);
            if answered == Some(self.child.id()) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(match answered {
            Some(pid) => format!("the port answered as process {pid}, not as the server started ({})", self.child.id()),
            None => "no Redis server answered within ten seconds".to_owned(),
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The `process_id` that the server on `port` reports in `INFO server`, if
/// a Redis server answers there within a second.
fn server_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    // The reply is one bulk string (`$` and its length); anything else (an
    // error such as `-LOADING`, or our own request echoed back by a socket
    // connected to itself) is not a server that is ready. `process_id` sits
    // in the bulk string's first part.
    while reply.len() < 64 * 1024 {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..read]);
        if reply[0] != b'$' {
            return None;
        }
        let text = String::from_utf8_lossy(&reply);
        let field = text.split_once("\r\nprocess_id:").and_then(|(_, rest)| rest.split_once("\r\n"));
        if let Some((pid, _)) = field {
            return pid.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_server_is_known_by_its_pid() {
        let server = RedisServer::start();
        assert_eq!(server_pid(server.port), Some(server.child.id()));
    }

    /// The failure this check exists for: a server started on a port that
    /// another server holds exits, and the other server's answers are not
    /// taken for its own.
    #[test]
    fn a_server_on_a_taken_port_is_not_ready_though_the_port_answers() {
        let holder = RedisServer::start();
        let mut loser = RedisServer::spawn_on(holder.port);
        let failed = loser.wait_until_ready().unwrap_err();
        assert!(failed.contains("exited") || failed.contains("answered as process"), "{failed}");
    }

    #[test]
    fn a_listener_that_is_not_redis_has_no_pid() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let closer = std::thread::spawn(move || drop(listener.accept()));
        assert_eq!(server_pid(port), None);
        closer.join().unwrap();
    }
}
