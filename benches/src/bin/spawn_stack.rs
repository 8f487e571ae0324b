//! How much stack each spawn path uses for a future of a given size, and what
//! boxing a future costs against moving it: the measurement behind
//! `task::BOX_THRESHOLD` (docs/architecture.md, "Large futures").
//!
//! Run it in both profiles: `cargo run -p loopwork-benches --bin spawn_stack`
//! and `cargo run --release -p loopwork-benches --bin spawn_stack`.
//!
//! Stack use is measured by painting: the measuring thread fills the unused
//! part of its stack below its current frame with a pattern, runs the path,
//! and finds the deepest byte that no longer holds the pattern.

use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

/// How far below the measuring frame the pattern reaches (the measuring
/// thread's stack is larger, so this region is mapped and unused).
const PAINT: usize = 24 << 20;
/// Left unpainted just below the measuring frame: room for the frames of
/// `stack_used` itself and of `write_bytes` while it paints.
const MARGIN: usize = 16 << 10;
const PATTERN: u8 = 0xA5;

/// The bytes of stack below this frame that `op` used.
#[inline(never)]
fn stack_used<R>(op: impl FnOnce() -> R) -> usize {
    let marker = 0u8;
    let top = black_box(&marker) as *const u8 as usize - MARGIN;
    let bottom = top - PAINT;
    // SAFETY: [bottom, top) lies below this frame, inside the measuring
    // thread's stack (`main` gives it PAINT + 8 MiB): mapped memory that no
    // live frame uses. Nothing runs on this thread between the painting and
    // the calls below but the painting itself.
    unsafe { std::ptr::write_bytes(bottom as *mut u8, PATTERN, PAINT) };
    black_box(op());
    let mut deepest = bottom;
    // SAFETY: as above; reads of bytes this thread wrote, volatile so that
    // they are not assumed to still hold the pattern.
    while deepest < top && unsafe { std::ptr::read_volatile(deepest as *const u8) } == PATTERN {
        deepest += 1;
    }
    top - deepest
}

/// A future of about `N` bytes: the array is held across an await.
async fn future_of<const N: usize>() -> usize {
    let bytes = [1u8; N];
    std::future::ready(()).await;
    black_box(&bytes).len()
}

/// `gather`'s argument: one child of about `N` bytes, in a `Vec` (made in a frame of its
/// own, which is gone when `gather` runs).
#[inline(never)]
fn children_of<const N: usize>() -> Vec<impl Future<Output = Result<usize, loopwork::TaskError>> + Send> {
    vec![async { Ok(future_of::<N>().await) }]
}

/// The stack each path uses for an `N`-byte future.
fn paths<const N: usize>(event_loop: &loopwork::EventLoop) -> Vec<(&'static str, usize)> {
    let handle = event_loop.handle();
    let mut rows = vec![
        ("Handle::spawn", stack_used(|| handle.spawn(future_of::<N>()).unwrap())),
        ("Handle::spawn_named", stack_used(|| handle.spawn_named("big", future_of::<N>()).unwrap())),
        ("run_coroutine_threadsafe", stack_used(|| handle.run_coroutine_threadsafe(future_of::<N>()).unwrap())),
        ("EventLoop::block_on", stack_used(|| event_loop.block_on(future_of::<N>()))),
        (
            "loopwork::run",
            std::thread::scope(|scope| {
                // `run` needs a thread outside any loop; painting needs a large stack.
                std::thread::Builder::new()
                    .stack_size(PAINT + (8 << 20))
                    .spawn_scoped(scope, || stack_used(|| loopwork::run(future_of::<N>())))
                    .expect("spawn a measuring thread")
                    .join()
                    .expect("the measuring thread panicked")
            }),
        ),
    ];
    // Inside the loop: the spawning frame is a task's poll on this thread.
    let inside = event_loop.block_on(async {
        let group = loopwork::TaskGroup::<usize, ()>::new();
        let rows = vec![
            ("spawn", stack_used(|| loopwork::spawn(future_of::<N>()))),
            ("TaskGroup::spawn", stack_used(|| group.spawn(async { Ok(future_of::<N>().await) }).unwrap())),
            ("gather (child)", {
                let mut gather = None;
                let used = stack_used(|| gather = Some(loopwork::gather(children_of::<N>())));
                drop(gather);
                used
            }),
        ];
        group.join().await.unwrap();
        rows
    });
    rows.extend(inside);
    rows
}

/// Nanoseconds per spawn-and-await of an `N`-byte future, moved or boxed by
/// the caller, on a strict-mode loop (one thread: no wake-ups between
/// threads to blur the difference); the best of five interleaved runs.
fn spawn_cost<const N: usize>() -> (f64, f64) {
    let event_loop = loopwork::EventLoop::builder().workers(0).build().expect("start the loop");
    let rounds = 20_000;
    let run = |boxed: bool| {
        event_loop.block_on(async {
            let started = Instant::now();
            for _ in 0..rounds {
                let task =
                    if boxed { loopwork::spawn(Box::pin(future_of::<N>())) } else { loopwork::spawn(future_of::<N>()) };
                black_box(task.await.unwrap());
            }
            started.elapsed().as_nanos() as f64 / rounds as f64
        })
    };
    let (mut moved, mut boxed) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        moved = moved.min(run(false));
        boxed = boxed.min(run(true));
    }
    (moved, boxed)
}

fn report<const N: usize>(event_loop: &loopwork::EventLoop) {
    for (path, used) in paths::<N>(event_loop) {
        println!("{N:>8} B  {path:<26} {used:>9} B of stack  = {:.2} x the future", used as f64 / N as f64);
    }
}

fn main() {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("profile: {profile}");
    std::thread::Builder::new()
        .stack_size(PAINT + (8 << 20))
        .spawn(|| {
            let event_loop = loopwork::EventLoop::builder().workers(1).build().expect("start the loop");
            report::<{ 64 << 10 }>(&event_loop);
            report::<{ 256 << 10 }>(&event_loop);
            event_loop.close();
            println!("spawn + await, ns per task (moved / boxed by the caller):");
            macro_rules! cost {
                ($($n:expr),*) => {$(
                    let (moved, boxed) = spawn_cost::<{ $n }>();
                    println!("{:>8} B  {moved:>9.0} {boxed:>9.0}", $n);
                )*};
            }
            cost!(128, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536);
        })
        .expect("spawn the measuring thread")
        .join()
        .expect("the measuring thread panicked");
}
