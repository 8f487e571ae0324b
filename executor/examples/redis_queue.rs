//! A work queue across machines: the Redis consumer from the asyncio posts
//! this crate's examples come from, made to lose nothing.
//!
//! The original: a producer `lpush`es jobs into a Redis list; a consumer
//! thread `rpop`s them in a `while True` loop and hands each one to a
//! background event loop with `run_coroutine_threadsafe`. It spins when the
//! queue is empty, and a job popped by a consumer that then crashes is gone.
//!
//! Here:
//! - the consumer thread pops with `BLMOVE`, which blocks (with a timeout)
//!   and moves the job atomically into this consumer's processing list;
//! - a `Semaphore` bounds the jobs in flight, as the posts bound their HTTP
//!   requests, and a permit is taken before a job is popped, so the
//!   processing list never holds more than that bound;
//! - a job leaves the processing list only after its task finished; a job
//!   whose task panicked goes to a dead-letter list with the panic message,
//!   and is not retried;
//! - each consumer keeps a heartbeat key alive (a TTL); a consumer that
//!   finds another's heartbeat gone takes its processing list back into the
//!   queue (on start and at every heartbeat). A job taken back more than
//!   `MAX_DELIVERIES` times goes to the dead-letter list;
//! - Ctrl-C or SIGTERM stops the popping, lets the jobs in flight finish
//!   (within a deadline), and exits 0; what did not finish stays in the
//!   processing list for the next consumer.
//!
//! Delivery is at least once: a consumer killed after a job's effect but
//! before its acknowledgement runs that job again elsewhere.
//!
//! ```sh
//! redis-server --port 6379 --save "" &
//! cargo run -p loopwork --example redis_queue -- produce 100
//! cargo run -p loopwork --example redis_queue -- consume    # as many as you like, on any machine
//! cargo run -p loopwork --example redis_queue -- status
//! ```
//!
//! Options go before the command: `--redis URL` (default
//! `redis://127.0.0.1:6379/`, or `$REDIS_URL`), `--queue NAME` (the seed's
//! `coro_test`), and for `consume`: `--id NAME`, `--in-flight N` (100),
//! `--job-ms N` (how long a job's simulated I/O takes, 2000 as in the seed),
//! `--workers N` (2), `--quiet`. A job whose text ends in `:panic` panics.

use loopwork::sync::{OwnedSemaphorePermit, Semaphore};
use loopwork::{EventLoop, Handle, TaskError};
use redis::{Commands, Connection};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long a consumer's heartbeat lives without being refreshed. It is
/// refreshed every fifth of that, so a few slow refreshes on a busy machine
/// do not declare a live consumer dead.
const HEARTBEAT_TTL: Duration = Duration::from_secs(5);
/// How long `BLMOVE` waits for a job before the consumer looks at its stop
/// flag again.
const POP_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a stopping consumer waits for its jobs in flight.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// A job taken back from dead consumers this many times is a poison job (it
/// kills whoever runs it): it goes to the dead-letter list.
const MAX_DELIVERIES: i64 = 5;
/// Acknowledgements sent to Redis in one round trip, at most.
const ACK_BATCH: usize = 256;

/// The Redis keys of one queue.
#[derive(Clone)]
struct Keys {
    queue: String,
}

impl Keys {
    fn queue(&self) -> &str {
        &self.queue
    }
    fn processing(&self, consumer: &str) -> String {
        format!("{}:processing:{consumer}", self.queue)
    }
    fn heartbeat(&self, consumer: &str) -> String {
        format!("{}:heartbeat:{consumer}", self.queue)
    }
    fn consumers(&self) -> String {
        format!("{}:consumers", self.queue)
    }
    /// Where a finished job records its effect (its text), in order.
    fn done(&self) -> String {
        format!("{}:done", self.queue)
    }
    /// Jobs that failed, as `job<TAB>reason`.
    fn dead(&self) -> String {
        format!("{}:dead", self.queue)
    }
    /// How many times each job was taken back from a dead consumer.
    fn deliveries(&self) -> String {
        format!("{}:deliveries", self.queue)
    }
}

struct Options {
    redis: String,
    keys: Keys,
    consumer: String,
    in_flight: usize,
    job_time: Duration,
    workers: usize,
    quiet: bool,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        redis: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned()),
        keys: Keys { queue: "coro_test".to_owned() },
        consumer: format!("{}-{}", hostname(), std::process::id()),
        in_flight: 100,
        job_time: Duration::from_millis(2000),
        workers: 2,
        quiet: false,
    };
    let command = loop {
        let arg = args.next().unwrap_or_else(|| usage("a command"));
        let mut value = |name: &str| args.next().unwrap_or_else(|| usage(name));
        match arg.as_str() {
            "--redis" => options.redis = value("--redis URL"),
            "--queue" => options.keys.queue = value("--queue NAME"),
            "--id" => options.consumer = value("--id NAME"),
            "--in-flight" => options.in_flight = number(&value("--in-flight N")),
            "--job-ms" => options.job_time = Duration::from_millis(number(&value("--job-ms N"))),
            "--workers" => options.workers = number(&value("--workers N")),
            "--quiet" => options.quiet = true,
            _ => break arg,
        }
    };
    let client = redis::Client::open(options.redis.as_str()).unwrap_or_else(|err| fail("open the Redis URL", err));
    let connect = || client.get_connection().unwrap_or_else(|err| fail("connect to Redis", err));
    match command.as_str() {
        "produce" => {
            let count: u64 = args.next().map_or(4, |n| number(&n));
            let first: u64 = args.next().map_or(1, |n| number(&n));
            produce(&mut connect(), &options.keys, first..first + count);
        }
        "consume" => {
            assert!(options.in_flight > 0, "--in-flight must be at least 1");
            consume(&options, connect(), connect());
        }
        "status" => status(&mut connect(), &options.keys),
        _ => usage("produce [COUNT [FIRST]] | consume | status"),
    }
}

/// The seed's producer: `lpush` each job.
fn produce(redis: &mut Connection, keys: &Keys, ids: std::ops::Range<u64>) {
    let count = ids.end - ids.start;
    // One round trip per thousand jobs, not per job.
    let jobs: Vec<String> = ids.map(|id| id.to_string()).collect();
    for chunk in jobs.chunks(1000) {
        let () = redis.lpush(keys.queue(), chunk).unwrap_or_else(|err| fail("LPUSH", err));
    }
    println!("produced {count} jobs into '{}'", keys.queue());
}

/// The seed's `thread_example`: a coroutine that does some I/O (a sleep
/// here) and returns a result.
async fn thread_example(name: String, job_time: Duration, quiet: bool) -> String {
    if !quiet {
        println!("running {name}");
    }
    loopwork::sleep(job_time).await;
    assert!(!name.ends_with(":panic"), "job {name} failed");
    format!("result: {name}")
}

/// What the loop tells the acknowledging thread about a finished job.
struct Finished {
    job: String,
    outcome: Result<String, TaskError>,
    /// Given back once Redis has the acknowledgement, so the processing list
    /// never holds more jobs than there are permits.
    permit: OwnedSemaphorePermit,
}

fn consume(options: &Options, mut popper: Connection, acker: Connection) {
    let event_loop =
        EventLoop::builder().workers(options.workers).build().unwrap_or_else(|err| fail("start the loop", err));
    let handle = event_loop.handle();
    // Relaxed is enough: the flag carries no data, and the popping thread
    // reads it again at least every POP_TIMEOUT.
    let stop = Arc::new(AtomicBool::new(false));
    watch_for_stop_signals(&handle, &stop);

    let keys = &options.keys;
    let me = options.consumer.as_str();
    let mut heartbeat = Heartbeat::start(acker, keys, me);
    heartbeat.take_back_from_dead_consumers();
    println!("consumer {me} started ({} in flight at most)", options.in_flight);

    let permits = Arc::new(Semaphore::new(options.in_flight));
    let (finished_tx, finished_rx) = mpsc::channel::<Finished>();
    let acknowledger = std::thread::spawn(move || heartbeat.acknowledge(finished_rx));

    // The seed's `while True: msg = redis_conn.rpop(...)`, blocking instead
    // of spinning, one permit per job popped.
    let processing = keys.processing(me);
    while !stop.load(Ordering::Relaxed) {
        let permit = acquire(&handle, &permits);
        if stop.load(Ordering::Relaxed) {
            // Stopped while waiting for a permit: pop nothing more.
            break;
        }
        let popped: Option<String> = redis::cmd("BLMOVE")
            .arg(keys.queue())
            .arg(&processing)
            .arg("RIGHT")
            .arg("LEFT")
            .arg(POP_TIMEOUT.as_secs_f64())
            .query(&mut popper)
            .unwrap_or_else(|err| fail("BLMOVE", err));
        let Some(job) = popped else { continue };
        let (job_time, quiet, finished_tx) = (options.job_time, options.quiet, finished_tx.clone());
        let submitted = handle.run_coroutine_threadsafe(async move {
            // A task of its own, so a panic in the job comes back as an
            // error here instead of unwinding through the acknowledgement.
            let outcome = loopwork::spawn(thread_example(job.clone(), job_time, quiet)).await;
            // The acknowledging thread outlives every job: see below.
            let _ = finished_tx.send(Finished { job, outcome, permit });
        });
        // The ConcurrentFuture is not needed: the job reports through the
        // channel. Dropping it leaves the coroutine running.
        drop(submitted.unwrap_or_else(|err| fail("submit a job", err)));
    }

    println!("consumer {me} stopping: no more pops, waiting for the jobs in flight");
    let all_permits = permits.clone();
    let in_flight = options.in_flight;
    let drained = handle
        .run_coroutine_threadsafe(loopwork::timeout(STOP_DEADLINE, async move {
            for _ in 0..in_flight {
                all_permits.acquire().await.forget();
            }
        }))
        .unwrap_or_else(|err| fail("wait for the jobs in flight", err))
        .result();
    if !matches!(drained, Ok(Ok(()))) {
        println!("consumer {me}: the deadline passed; unfinished jobs stay in {processing} for the next consumer");
    }
    // The jobs still running hold senders; closing the loop drops them, which
    // ends the acknowledging thread once it has sent what it has.
    drop(finished_tx);
    event_loop.close();
    let left = acknowledger.join().expect("the acknowledging thread panicked");
    println!("consumer {me} stopped; {left} jobs left in its processing list");
}

/// Takes one permit, blocking this (foreign) thread until the loop grants it.
fn acquire(handle: &Handle, permits: &Arc<Semaphore>) -> OwnedSemaphorePermit {
    handle
        .run_coroutine_threadsafe(permits.clone().acquire_owned())
        .map(|permit| permit.result())
        .unwrap_or_else(|err| fail("reach the loop", err))
        .unwrap_or_else(|err| fail("take a permit", err))
}

/// SIGINT and SIGTERM set `stop`: the consumer finishes what it has and
/// exits.
fn watch_for_stop_signals(handle: &Handle, stop: &Arc<AtomicBool>) {
    for signal in [loopwork::signal::SIGINT, loopwork::signal::SIGTERM] {
        let stop = stop.clone();
        handle
            .add_signal_handler(signal, move || stop.store(true, Ordering::Relaxed))
            .unwrap_or_else(|err| fail("install a signal handler", err));
    }
}

/// This consumer's identity in Redis, and the connection that acknowledges
/// jobs and keeps the heartbeat alive.
struct Heartbeat {
    redis: Connection,
    keys: Keys,
    me: String,
    last_beat: Instant,
}

impl Heartbeat {
    fn start(redis: Connection, keys: &Keys, me: &str) -> Heartbeat {
        let mut heartbeat = Heartbeat { redis, keys: keys.clone(), me: me.to_owned(), last_beat: Instant::now() };
        heartbeat.beat();
        let () = heartbeat.redis.sadd(keys.consumers(), me).unwrap_or_else(|err| fail("SADD", err));
        heartbeat
    }

    fn beat(&mut self) {
        let ttl_ms = u64::try_from(HEARTBEAT_TTL.as_millis()).expect("a TTL in milliseconds fits a u64");
        let () = self
            .redis
            .pset_ex(self.keys.heartbeat(&self.me), "alive", ttl_ms)
            .unwrap_or_else(|err| fail("PSETEX", err));
        self.last_beat = Instant::now();
    }

    /// Moves every job of every consumer whose heartbeat has expired back to
    /// the consuming end of the queue. Each job passes through this
    /// consumer's own processing list (`LMOVE`, atomic), so two consumers
    /// doing this at once never both take it, no popper can run it while it
    /// is counted, and a crash halfway leaves it where the next consumer
    /// finds it.
    fn take_back_from_dead_consumers(&mut self) {
        let consumers: HashSet<String> =
            self.redis.smembers(self.keys.consumers()).unwrap_or_else(|err| fail("SMEMBERS", err));
        let mine = self.keys.processing(&self.me);
        for other in consumers.iter().filter(|other| **other != self.me) {
            let alive: bool = self.redis.exists(self.keys.heartbeat(other)).unwrap_or_else(|err| fail("EXISTS", err));
            if alive {
                continue;
            }
            let mut taken = 0;
            loop {
                let job: Option<String> = redis::cmd("LMOVE")
                    .arg(self.keys.processing(other))
                    .arg(&mine)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .query(&mut self.redis)
                    .unwrap_or_else(|err| fail("LMOVE", err));
                let Some(job) = job else { break };
                taken += 1;
                let deliveries: i64 =
                    self.redis.hincr(self.keys.deliveries(), &job, 1).unwrap_or_else(|err| fail("HINCRBY", err));
                let mut pipe = redis::pipe();
                pipe.atomic().lrem(&mine, -1, &job).ignore();
                if deliveries >= MAX_DELIVERIES {
                    // A job that keeps killing its consumers: into the dead
                    // letters, not the queue.
                    pipe.rpush(self.keys.dead(), format!("{job}\ttaken back from dead consumers {deliveries} times"));
                } else {
                    pipe.rpush(self.keys.queue(), &job);
                }
                let () = pipe.ignore().query(&mut self.redis).unwrap_or_else(|err| fail("requeue a job", err));
            }
            let () = self.redis.srem(self.keys.consumers(), other).unwrap_or_else(|err| fail("SREM", err));
            println!("consumer {}: took {taken} jobs back from dead consumer {other}", self.me);
        }
    }

    /// Acknowledges finished jobs until every sender is gone, beating the
    /// heartbeat (and looking for dead consumers) in between. Returns how
    /// many jobs are left in this consumer's processing list.
    fn acknowledge(mut self, finished: mpsc::Receiver<Finished>) -> usize {
        let beat_every = HEARTBEAT_TTL / 5;
        loop {
            let wait = beat_every.saturating_sub(self.last_beat.elapsed());
            match finished.recv_timeout(wait) {
                Ok(first) => {
                    let mut batch = vec![first];
                    batch.extend(finished.try_iter().take(ACK_BATCH - 1));
                    self.acknowledge_batch(batch);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if self.last_beat.elapsed() >= beat_every {
                self.beat();
                self.take_back_from_dead_consumers();
            }
        }
        let processing = self.keys.processing(&self.me);
        let left: usize = self.redis.llen(&processing).unwrap_or_else(|err| fail("LLEN", err));
        if left == 0 {
            let () = redis::pipe()
                .srem(self.keys.consumers(), &self.me)
                .ignore()
                .del(self.keys.heartbeat(&self.me))
                .ignore()
                .query(&mut self.redis)
                .unwrap_or_else(|err| fail("leave the consumer set", err));
        } else {
            // Leave the jobs to the next consumer at once, not after the TTL.
            let () = self.redis.del(self.keys.heartbeat(&self.me)).unwrap_or_else(|err| fail("DEL", err));
        }
        left
    }

    /// One round trip: each job's effect (or dead letter), then its removal
    /// from the processing list. A crash between the two runs the job again
    /// elsewhere: at least once, never lost.
    fn acknowledge_batch(&mut self, batch: Vec<Finished>) {
        let processing = self.keys.processing(&self.me);
        let mut pipe = redis::pipe();
        for finished in &batch {
            match &finished.outcome {
                Ok(_) => pipe.rpush(self.keys.done(), &finished.job).ignore(),
                Err(err) => pipe.rpush(self.keys.dead(), format!("{}\t{err}", finished.job)).ignore(),
            };
            pipe.lrem(&processing, -1, &finished.job).ignore();
        }
        let () = pipe.query(&mut self.redis).unwrap_or_else(|err| fail("acknowledge jobs", err));
        // The permits go back only now: see `Finished::permit`.
        batch.into_iter().for_each(|finished| drop(finished.permit));
    }
}

fn status(redis: &mut Connection, keys: &Keys) {
    let queued: usize = redis.llen(keys.queue()).unwrap_or_else(|err| fail("LLEN", err));
    let done: usize = redis.llen(keys.done()).unwrap_or_else(|err| fail("LLEN", err));
    let dead: usize = redis.llen(keys.dead()).unwrap_or_else(|err| fail("LLEN", err));
    let consumers: Vec<String> = redis.smembers(keys.consumers()).unwrap_or_else(|err| fail("SMEMBERS", err));
    println!("queued {queued}, done {done}, dead {dead}");
    for consumer in consumers {
        let processing: usize = redis.llen(keys.processing(&consumer)).unwrap_or_else(|err| fail("LLEN", err));
        let alive: bool = redis.exists(keys.heartbeat(&consumer)).unwrap_or_else(|err| fail("EXISTS", err));
        println!("consumer {consumer}: {processing} in flight, {}", if alive { "alive" } else { "dead" });
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "consumer".to_owned(), |name| name.trim().to_owned())
}

fn number<T: std::str::FromStr>(text: &str) -> T {
    text.parse().unwrap_or_else(|_| usage(&format!("a number, not {text:?}")))
}

fn usage(expected: &str) -> ! {
    eprintln!(
        "expected {expected}\nusage: redis_queue [--redis URL] [--queue NAME] [--id NAME] [--in-flight N] [--job-ms N] \
         [--workers N] [--quiet] (produce [COUNT [FIRST]] | consume | status)"
    );
    std::process::exit(2)
}

fn fail(what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("redis_queue: cannot {what}: {err}");
    std::process::exit(1)
}
