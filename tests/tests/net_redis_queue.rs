//! The Redis work queue (`executor/examples/redis_queue.rs`) against a real
//! `redis-server`: consumers killed mid-run lose nothing, a stopped one
//! finishes what it has, a panicking job is dead-lettered once.
//!
//! Every test starts its own server on a free port. Without `redis-server`
//! installed they fail, naming the command that installs it.

use loopwork_tests::redis_server::RedisServer;
use loopwork_tests::with_watchdog;
use redis::Commands;
use std::collections::HashSet;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const QUEUE: &str = "jobs";

/// Builds the example, if it is not up to date, before a test's watchdog
/// starts: on a busy machine the build alone can outlast the watchdog.
fn build_consumer() {
    loopwork_tests::examples::path("redis_queue");
}

/// A consumer process of the example.
struct Consumer {
    child: Child,
}

impl Consumer {
    fn start(server: &RedisServer, id: &str, in_flight: usize, job_ms: u64) -> Consumer {
        let child = Command::new(loopwork_tests::examples::path("redis_queue"))
            .args(["--redis", &server.url(), "--queue", QUEUE, "--id", id, "--quiet", "--workers", "2"])
            .args(["--in-flight", &in_flight.to_string(), "--job-ms", &job_ms.to_string(), "consume"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start a consumer");
        Consumer { child }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill has no memory-safety preconditions; the pid is our own
        // child, not yet waited for, so it cannot have been reused.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal the consumer");
    }

    fn wait(mut self) -> ExitStatus {
        self.child.wait().expect("wait for the consumer")
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url()).and_then(|client| client.get_connection()).expect("connect to the test's server")
}

fn produce(server: &RedisServer, jobs: impl IntoIterator<Item = String>) {
    let jobs: Vec<String> = jobs.into_iter().collect();
    let mut redis = connect(server);
    for chunk in jobs.chunks(1000) {
        let () = redis.lpush(QUEUE, chunk).expect("LPUSH");
    }
}

fn len(redis: &mut redis::Connection, key: &str) -> usize {
    redis.llen(key).expect("LLEN")
}

fn processing(id: &str) -> String {
    format!("{QUEUE}:processing:{id}")
}

/// Polls until `done` holds at least `count` jobs.
fn wait_for_done(redis: &mut redis::Connection, count: usize) {
    while len(redis, &format!("{QUEUE}:done")) < count {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// 10,000 jobs, three consumers on two workers each; one is killed with
/// SIGKILL halfway and another takes its place. Every job is done at least
/// once; the only duplicates are jobs the killed consumer had in flight.
#[test]
fn a_consumer_killed_mid_run_loses_no_job() {
    build_consumer();
    with_watchdog(Duration::from_secs(240), "a_consumer_killed_mid_run_loses_no_job", || {
        const JOBS: usize = 10_000;
        const IN_FLIGHT: usize = 50;
        let server = RedisServer::start();
        produce(&server, (1..=JOBS).map(|id| id.to_string()));
        let mut redis = connect(&server);

        let first = Consumer::start(&server, "first", IN_FLIGHT, 2);
        let victim = Consumer::start(&server, "victim", IN_FLIGHT, 2);
        let third = Consumer::start(&server, "third", IN_FLIGHT, 2);
        wait_for_done(&mut redis, JOBS / 3);
        victim.signal(libc::SIGKILL);
        assert!(!victim.wait().success());
        // Whatever it held: finished or not, acknowledged or not.
        let in_flight_when_killed = len(&mut redis, &processing("victim"));
        assert!(in_flight_when_killed <= IN_FLIGHT, "the processing list outgrew the permits: {in_flight_when_killed}");
        // The victim's heartbeat lives on for its TTL; the replacement (or a
        // survivor's next heartbeat) takes its jobs back once it expires.
        let replacement = Consumer::start(&server, "replacement", IN_FLIGHT, 2);

        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let left = len(&mut redis, QUEUE)
                + ["first", "victim", "third", "replacement"]
                    .iter()
                    .map(|id| len(&mut redis, &processing(id)))
                    .sum::<usize>();
            if left == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{left} jobs still queued or in flight after three minutes");
            std::thread::sleep(Duration::from_millis(50));
        }

        for consumer in [first, third, replacement] {
            consumer.signal(libc::SIGTERM);
            assert!(consumer.wait().success(), "a consumer stopped with SIGTERM exits 0");
        }
        let done: Vec<String> = redis.lrange(format!("{QUEUE}:done"), 0, -1).expect("LRANGE");
        let unique: HashSet<&str> = done.iter().map(String::as_str).collect();
        let expected: HashSet<String> = (1..=JOBS).map(|id| id.to_string()).collect();
        let missing: Vec<&String> = expected.iter().filter(|id| !unique.contains(id.as_str())).collect();
        assert!(missing.is_empty(), "{} jobs lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(10)]);
        let duplicates = done.len() - unique.len();
        assert!(
            duplicates <= in_flight_when_killed,
            "{duplicates} jobs done twice, but only {in_flight_when_killed} were in flight in the killed consumer"
        );
        assert_eq!(len(&mut redis, &format!("{QUEUE}:dead")), 0);
        for id in ["first", "victim", "third", "replacement"] {
            assert_eq!(len(&mut redis, &processing(id)), 0, "{id}'s processing list");
        }
    });
}

/// SIGTERM while 40 slow jobs are in flight: the consumer stops popping,
/// finishes those 40, acknowledges them and exits 0. Nothing is done twice,
/// nothing is left in flight, the rest stays queued.
#[test]
fn sigterm_finishes_the_jobs_in_flight_and_exits_0() {
    build_consumer();
    with_watchdog(Duration::from_secs(120), "sigterm_finishes_the_jobs_in_flight_and_exits_0", || {
        const JOBS: usize = 200;
        const IN_FLIGHT: usize = 40;
        let server = RedisServer::start();
        produce(&server, (1..=JOBS).map(|id| id.to_string()));
        let mut redis = connect(&server);
        let consumer = Consumer::start(&server, "graceful", IN_FLIGHT, 1000);
        while len(&mut redis, &processing("graceful")) < IN_FLIGHT {
            std::thread::sleep(Duration::from_millis(10));
        }
        consumer.signal(libc::SIGTERM);
        assert!(consumer.wait().success(), "exit status 0 after SIGTERM");

        let done: Vec<String> = redis.lrange(format!("{QUEUE}:done"), 0, -1).expect("LRANGE");
        let unique: HashSet<&String> = done.iter().collect();
        assert_eq!(unique.len(), done.len(), "a job was done twice: {done:?}");
        assert!(done.len() >= IN_FLIGHT, "the {IN_FLIGHT} jobs in flight finished, only {} did", done.len());
        assert_eq!(len(&mut redis, &processing("graceful")), 0, "jobs left in flight");
        assert_eq!(len(&mut redis, QUEUE) + done.len(), JOBS, "every job is either done or still queued");
        let consumers: Vec<String> = redis.smembers(format!("{QUEUE}:consumers")).expect("SMEMBERS");
        assert!(consumers.is_empty(), "a consumer that stopped cleanly leaves the set: {consumers:?}");
    });
}

/// A job that panics goes to the dead-letter list with its panic message,
/// once; the others are done.
#[test]
fn a_panicking_job_is_dead_lettered_once() {
    build_consumer();
    with_watchdog(Duration::from_secs(60), "a_panicking_job_is_dead_lettered_once", || {
        let server = RedisServer::start();
        produce(&server, ["1", "2:panic", "3"].map(str::to_owned));
        let mut redis = connect(&server);
        let consumer = Consumer::start(&server, "c", 10, 1);
        wait_for_done(&mut redis, 2);
        while len(&mut redis, &format!("{QUEUE}:dead")) < 1 {
            std::thread::sleep(Duration::from_millis(10));
        }
        consumer.signal(libc::SIGTERM);
        assert!(consumer.wait().success());
        let dead: Vec<String> = redis.lrange(format!("{QUEUE}:dead"), 0, -1).expect("LRANGE");
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert!(dead[0].starts_with("2:panic\t") && dead[0].contains("job 2:panic failed"), "{dead:?}");
        let mut done: Vec<String> = redis.lrange(format!("{QUEUE}:done"), 0, -1).expect("LRANGE");
        done.sort();
        assert_eq!(done, ["1", "3"]);
    });
}

/// A job that dead consumers left behind too many times (one that kills
/// whoever runs it) is dead-lettered instead of being taken back again.
#[test]
fn a_job_that_keeps_killing_consumers_is_dead_lettered() {
    build_consumer();
    with_watchdog(Duration::from_secs(60), "a_job_that_keeps_killing_consumers_is_dead_lettered", || {
        let server = RedisServer::start();
        let mut redis = connect(&server);
        // A consumer "ghost" died holding "poison", which four consumers
        // before it had died holding too; and one ordinary job.
        let () = redis.sadd(format!("{QUEUE}:consumers"), "ghost").expect("SADD");
        let () = redis.rpush(processing("ghost"), &["poison", "fine"]).expect("RPUSH");
        let () = redis.hset(format!("{QUEUE}:deliveries"), "poison", 4).expect("HSET");
        let consumer = Consumer::start(&server, "c", 10, 1);
        wait_for_done(&mut redis, 1);
        consumer.signal(libc::SIGTERM);
        assert!(consumer.wait().success());
        let done: Vec<String> = redis.lrange(format!("{QUEUE}:done"), 0, -1).expect("LRANGE");
        assert_eq!(done, ["fine"]);
        let dead: Vec<String> = redis.lrange(format!("{QUEUE}:dead"), 0, -1).expect("LRANGE");
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert!(dead[0].starts_with("poison\t"), "{dead:?}");
        assert_eq!(len(&mut redis, &processing("ghost")), 0);
    });
}

/// Jobs per second end to end (from the consumers' start until every job is
/// done) for loopwork's consumer and the posts' asyncio consumer, with 1 and
/// 3 consumers of each. Prints the `redis_queue` rows of docs/benchmarks.md:
///
/// ```sh
/// cargo test --release -p loopwork-tests --test net_redis_queue -- --ignored --nocapture redis_queue_throughput
/// ```
///
/// The Python rows need `python3` with the `redis` package (`pip install redis`).
#[test]
#[ignore = "a benchmark: run it by name with --ignored --nocapture"]
fn redis_queue_throughput() {
    const JOBS: usize = 20_000;
    const JOB_MS: u64 = 1;
    let python_script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/python/redis_queue_seed.py");
    let python_ok = Command::new("python3").args(["-c", "import redis"]).status().is_ok_and(|status| status.success());
    for consumers in [1, 3] {
        let server = RedisServer::start();
        produce(&server, (1..=JOBS).map(|id| id.to_string()));
        let mut redis = connect(&server);
        let start = Instant::now();
        let running: Vec<Consumer> =
            (0..consumers).map(|n| Consumer::start(&server, &format!("c{n}"), 500, JOB_MS)).collect();
        wait_for_done(&mut redis, JOBS);
        let elapsed = start.elapsed();
        println!("redis_queue loopwork  consumers={consumers}: {:>8.0} jobs/s", JOBS as f64 / elapsed.as_secs_f64());
        drop(running);

        if !python_ok {
            println!("redis_queue asyncio   consumers={consumers}: skipped (python3 with the redis package not found)");
            continue;
        }
        let server = RedisServer::start();
        produce(&server, (1..=JOBS).map(|id| id.to_string()));
        let mut redis = connect(&server);
        let start = Instant::now();
        let mut python: Vec<Child> = (0..consumers)
            .map(|_| {
                Command::new("python3")
                    .arg(&python_script)
                    .args(["--redis", &server.url(), "--queue", QUEUE, "--job-ms", &JOB_MS.to_string()])
                    .args(["--total", &JOBS.to_string()])
                    .spawn()
                    .expect("start the Python consumer")
            })
            .collect();
        wait_for_done(&mut redis, JOBS);
        let elapsed = start.elapsed();
        println!("redis_queue asyncio   consumers={consumers}: {:>8.0} jobs/s", JOBS as f64 / elapsed.as_secs_f64());
        for child in &mut python {
            child.wait().expect("wait for the Python consumer");
        }
    }
}
