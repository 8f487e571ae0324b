//! asyncio parity: the example programs in `executor/examples`, ported from
//! asyncio blog posts, print what the Python originals print, in the same
//! order. Each example runs as a subprocess; timings are checked only
//! against generous bounds.

use std::process::Command;

/// Runs example `name` and returns its stdout's lines; fails on a non-zero
/// exit.
fn run_example(name: &str) -> Vec<String> {
    let path = loopwork_tests::examples::path(name);
    let output = Command::new(&path).output().unwrap_or_else(|err| panic!("run {}: {err}", path.display()));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    assert!(
        output.status.success(),
        "example {name} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// The index of the first line starting with `prefix`.
fn position(lines: &[String], prefix: &str) -> usize {
    lines.iter().position(|line| line.starts_with(prefix)).unwrap_or_else(|| panic!("no line {prefix:?} in {lines:#?}"))
}

/// Asserts that lines starting with each of `prefixes` appear, in this order.
fn assert_in_order(lines: &[String], prefixes: &[&str]) {
    let positions: Vec<_> = prefixes.iter().map(|prefix| position(lines, prefix)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "expected {prefixes:#?} in this order in {lines:#?}");
}

/// The number after `marker` in the first line starting with `prefix`.
fn millis_after(lines: &[String], prefix: &str, marker: &str) -> u64 {
    let line = &lines[position(lines, prefix)];
    let rest = &line[line.find(marker).expect("the marker") + marker.len()..];
    rest.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn call_soon_example_runs_both_callbacks_with_their_captured_arguments() {
    let lines = run_example("call_soon");
    assert_eq!(
        lines,
        [
            "registering callbacks",
            "a plain function as a callback got arguments: 1, default",
            "a plain function as a callback got arguments: 2, xxoo",
        ]
    );
}

#[test]
fn call_later_example_runs_call_soon_first_then_timers_by_deadline() {
    let lines = run_example("call_later");
    assert_eq!(
        lines,
        [
            "registering callbacks",
            "[Call_back--call_soon]: 9 + 9 = 18",
            "[Call_back--1]: 1 + 2 = 3",
            "[Call_back--3]: 5 + 7 = 12",
            "[Call_back--2]: 3 + 4 = 7",
        ]
    );
}

#[test]
fn call_at_example_runs_call_soon_then_the_earlier_deadline_at_its_loop_time() {
    let lines = run_example("call_at");
    assert_in_order(
        &lines,
        &[
            "the loop's time now",
            "registering callbacks",
            "[Call_back--call_soon]",
            "[Call_back--c_b-2]",
            "[Call_back--c_b-1]",
        ],
    );
    let time = |prefix| -> f64 { lines[position(&lines, prefix)].rsplit(' ').next().unwrap().parse().unwrap() };
    // A timer never fires before its deadline.
    assert!(time("[Call_back--c_b-2]") >= 0.010);
    assert!(time("[Call_back--c_b-1]") >= 0.020);
}

#[test]
fn promise_example_is_pending_until_the_callback_sets_its_result() {
    let lines = run_example("promise");
    assert_eq!(
        lines,
        [
            "entering the event loop",
            "the future's state now: pending",
            "setting the future's result: Future is done!",
            "the future's state now: finished",
            "the result returned: Future is done!",
            "the future's result afterwards: Future is done!",
        ]
    );
}

#[test]
fn tour_example_runs_every_stop() {
    let lines = run_example("tour");
    for line in [
        "  five tasks computed [1, 4, 9, 16, 25]",
        "  100,000 tasks spawned from 4 foreign threads; 100000 ran",
        "  ran [\"callback 1\", \"task\", \"callback 2\"]",
        "  the foreign thread got \"computed on the loop\"",
        "  ran soon, later(10 ms), later(20 ms), later(30 ms)",
        "  1000 of 1,000 clients got their bytes back",
        "  each waiter got [\"hello\", \"hello\", \"hello\"]",
        "  the cancelled task reports: task was cancelled",
        "  the task reports: task panicked: contained",
        "  10,000 pending tasks dropped; closed: true",
    ] {
        position(&lines, line);
    }
}

#[test]
fn event_example_wakes_both_waiters_when_the_call_later_callback_sets_it() {
    let lines = run_example("event");
    assert_eq!(lines[..7], loopwork_tests::SEED_EVENT_EXAMPLE);
    // The callback is a timer: never early.
    assert!(millis_after(&lines, "took", "took") >= 100, "{lines:#?}");
}

#[test]
fn background_loop_example_runs_callbacks_in_turn_and_coroutines_concurrently() {
    let lines = run_example("background_loop");
    assert_in_order(
        &lines,
        &[
            "The main thread is running...",
            "More work 6",
            "Finished more work 6",
            "More work 3",
            "Finished more work 3",
            "callbacks:",
            "Waiting 6",
            "Waiting 4",
            "Done after 4",
            "Done after 6",
            "results: 6 and 4",
            "coroutines:",
            "loop stopped",
        ],
    );
    // Blocking callbacks add up (60 + 30 ms). That the coroutines overlap is
    // shown by the order above ("Waiting 4" before "Done after 6"), which a
    // loaded machine cannot upset as it could a time bound.
    assert!(millis_after(&lines, "callbacks:", "callbacks: ") >= 90);
    assert!(millis_after(&lines, "coroutines:", "coroutines: ") >= 60);
}

#[test]
fn producer_consumer_example_runs_every_message_once_produced() {
    let lines = run_example("producer_consumer");
    let exact = |line: String| lines.iter().position(|l| *l == line).unwrap_or_else(|| panic!("no {line:?}"));
    for msg in [3, 7, 1, 10, 4] {
        // A message is consumed only after it is produced.
        assert!(exact(format!("produced {msg}")) < exact(format!("running name: Zarten{msg}")), "{lines:#?}");
    }
    let results: Vec<_> = lines.iter().filter(|line| line.starts_with("result: ")).cloned().collect();
    assert_eq!(
        results,
        ["result: Zarten3", "result: Zarten7", "result: Zarten1", "result: Zarten10", "result: Zarten4"]
    );
    assert_eq!(lines.last().unwrap(), "loop stopped");
}

#[test]
fn run_in_executor_example_gathers_five_blocking_sleeps_in_about_the_longest() {
    let lines = run_example("run_in_executor");
    let line_ending = |suffix: String| lines.iter().position(|l| l.ends_with(&suffix)).expect(&suffix);
    let last_start = (1..=5).map(|i| line_ending(format!("sleep {i} is running {i}"))).max();
    let first_end = (1..=5).map(|i| line_ending(format!("sleep {i} is end"))).min();
    // Every sleep starts before any ends: they run on the pool at once.
    assert!(last_start < first_end, "{lines:#?}");
    assert_in_order(&lines, &["results: [1, 2, 3, 4, 5]", "took"]);
    // At least the longest sleep. No upper bound: a loaded machine can
    // stretch it, and the order check already shows the sleeps overlap.
    let took = millis_after(&lines, "took", "took ");
    assert!(took >= 100, "took {took} ms");
}

#[test]
fn shared_pool_example_returns_each_threads_result_to_its_own_loop() {
    let lines = run_example("shared_pool");
    assert_eq!(lines.len(), 15, "{lines:#?}");
    for i in 0..5 {
        assert_in_order(
            &lines,
            &[&format!("{i} before:"), &format!("{i} after:"), &format!("Thread {i} got result {i}")],
        );
    }
}

/// Runs example `name`, sends it SIGINT once it has printed a line starting
/// with `interrupt_after`, and returns all its stdout's lines.
fn run_example_interrupted(name: &str, interrupt_after: &str) -> Vec<String> {
    use std::io::BufRead;
    let path = loopwork_tests::examples::path(name);
    let mut child = Command::new(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("run {}: {err}", path.display()));
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.expect("UTF-8 output");
        if line.starts_with(interrupt_after) {
            let pid = libc::pid_t::try_from(child.id()).expect("a pid");
            // SAFETY: kill(2) has no memory-safety preconditions; `pid` is
            // our own child, not yet reaped (we have not waited for it).
            assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "kill: {}", std::io::Error::last_os_error());
        }
        lines.push(line);
    }
    let status = child.wait().expect("wait for the example");
    assert!(status.success(), "example {name} failed ({status}):\n{lines:#?}");
    lines
}

#[test]
fn ctrl_c_example_on_sigint_lists_and_cancels_every_task_then_closes_the_loop() {
    let lines = run_example_interrupted("ctrl_c", "Waiting: 3");
    assert_in_order(
        &lines,
        &[
            "Waiting: 1",
            "Waiting: 2",
            "Waiting: 3",
            "^C",
            "caught KeyboardInterrupt",
            "all tasks in the loop:",
            "task Task-1 cancelled? true",
            "task Task-2 cancelled? true",
            "task Task-3 cancelled? true",
            "task Task-1: Err(Cancelled)",
            "task Task-2: Err(Cancelled)",
            "task Task-3: Err(Cancelled)",
            "loop closed: true",
            "Time:",
        ],
    );
    let listed = lines.iter().filter(|line| line.starts_with("  Task-")).count();
    assert_eq!(listed, 3, "{lines:#?}");
}

#[test]
fn wait_rounds_example_returns_at_the_first_completion_then_after_a_timeout_then_all() {
    let lines = run_example("wait_rounds");
    assert_in_order(
        &lines,
        &[
            "Get first result:",
            "unfinished: ",
            "Get more results in 20 ms:",
            "unfinished2: ",
            "Get all other results:",
            "unfinished3: 0",
        ],
    );
    // Every tag's result is printed exactly once across the three rounds.
    let mut results: Vec<u32> = lines.iter().filter_map(|line| line.parse().ok()).collect();
    results.sort_unstable();
    assert_eq!(results, (1..=10).collect::<Vec<_>>());
    let unfinished: usize = lines[position(&lines, "unfinished: ")]["unfinished: ".len()..].parse().unwrap();
    assert!((1..=9).contains(&unfinished), "the first round returns as soon as one task is done");
}

#[test]
fn gather_vs_wait_example_gathers_in_argument_order_and_waits_for_all() {
    let lines = run_example("gather_vs_wait");
    let gathered: Vec<_> = lines.iter().filter(|line| line.starts_with("gather: ")).cloned().collect();
    assert_eq!(gathered, ["gather: Done after 30 ms", "gather: Done after 10 ms", "gather: Done after 20 ms"]);
    assert!(lines.contains(&"wait: 3 done, 0 pending".to_owned()));
    assert_eq!(lines.iter().filter(|line| line.starts_with("wait: Task ret: ")).count(), 3);
}

#[test]
fn create_task_order_example_prints_results_in_await_order_whatever_the_finish_order() {
    let lines = run_example("create_task_order");
    let expected = [
        "-- task_1 sleeps 30 ms, task_2 20 ms",
        "running the coroutine's own code",
        "start task_1",
        "start task_2",
        "end task_2",
        "end task_1",
        "task_1's result: returned task_1",
        "task_2's result: returned task_2",
        "-- swapped: task_1 sleeps 20 ms, task_2 30 ms",
        "running the coroutine's own code",
        "start task_1",
        "start task_2",
        "end task_1",
        "task_1's result: returned task_1",
        "end task_2",
        "task_2's result: returned task_2",
    ];
    assert_eq!(lines, expected);
}
