//! `Handle::dump`: spawn locations (of every task, by every way of spawning
//! one), what a task waits on, who woke it, and dumps of a loop that hangs;
//! debug mode's report of tasks pending at close.

use loopwork::{EventLoop, ExceptionKind, TaskState, WaitsOn, WakeSource};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Waits (in real time, with a generous bound) until `ready` holds for the
/// loop's dump.
fn wait_for_dump(handle: &loopwork::Handle, ready: impl Fn(&loopwork::TaskDump) -> bool) -> loopwork::TaskDump {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let dump = handle.dump();
        if ready(&dump) {
            return dump;
        }
        assert!(std::time::Instant::now() < deadline, "the dump never got there: {dump:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn dump_shows_spawn_location_and_the_timer_a_task_waits_on() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let spawn_line = line!() + 1;
    let _sleeper = handle.spawn_named("sleeper", loopwork::sleep(Duration::from_secs(3600))).unwrap();
    // Until the first poll has set the timer: a dump reads the timers
    // before the tasks, so one taken during that poll can show the poll
    // counted and the task waiting with no timer yet.
    let dump = wait_for_dump(&handle, |dump| {
        dump.tasks().iter().all(|task| task.polls == Some(1) && !task.waits_on.is_empty())
    });
    let [task] = dump.tasks() else { panic!("one task expected: {dump:?}") };
    assert_eq!(task.name, "sleeper");
    assert_eq!(task.spawned_at.file(), file!());
    assert_eq!(task.spawned_at.line(), spawn_line);
    assert_eq!(task.state, TaskState::Waiting);
    assert_eq!(task.last_wake, Some(WakeSource::Spawned));
    assert!(task.since_last_poll.is_some());
    match task.waits_on[..] {
        [WaitsOn::Timer { deadline }] => {
            let due = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(due > Duration::from_secs(3000) && due <= Duration::from_secs(3600), "{due:?}");
        }
        _ => panic!("the sleeper waits on one timer: {task:?}"),
    }
    let table = dump.to_string();
    assert!(table.lines().next().unwrap().starts_with("id"), "{table}");
    assert!(table.contains(&format!("{}:{}", file!(), spawn_line)), "{table}");
}

#[test]
fn dump_shows_the_io_source_a_task_waits_on() {
    let event_loop = EventLoop::builder().workers(1).task_details(true).build().unwrap();
    let handle = event_loop.handle();
    let listener = event_loop.block_on(async { loopwork::net::TcpListener::bind("127.0.0.1:0") }).unwrap();
    let spawn_line = line!() + 1;
    let _acceptor = handle.spawn(async move { listener.accept().await.map(drop) }).unwrap();
    let dump = wait_for_dump(&handle, |dump| dump.tasks().iter().any(|task| !task.waits_on.is_empty()));
    let [task] = dump.tasks() else { panic!("one task expected: {dump:?}") };
    assert_eq!(task.spawned_at.line(), spawn_line);
    assert!(
        matches!(task.waits_on[..], [WaitsOn::Io { direction: loopwork::reactor::Direction::Read, .. }]),
        "the acceptor waits to read its listener: {task:?}"
    );
    assert!(dump.to_string().contains("read"));
}

#[test]
fn dump_records_who_woke_a_task() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    // Woken by a timer, then parked on a promise nobody sets.
    let never = handle.create_future::<()>();
    let waiting = never.clone();
    let _timed = handle
        .spawn_named("timed", async move {
            loopwork::sleep(Duration::from_millis(1)).await;
            let _ = waiting.await;
        })
        .unwrap();
    // Woken from a foreign thread, then parked the same way.
    let promise = handle.create_future::<()>();
    let awaited = promise.clone();
    let waiting = never.clone();
    let _remote = handle
        .spawn_named("remote", async move {
            let _ = awaited.await;
            let _ = waiting.await;
        })
        .unwrap();
    // Yields once, then parks.
    let waiting = never.clone();
    let _yielder = handle
        .spawn_named("yielder", async move {
            loopwork::yield_now().await;
            let _ = waiting.await;
        })
        .unwrap();
    wait_for_dump(&handle, |dump| dump.tasks().iter().all(|task| task.polls >= Some(1)));
    std::thread::spawn(move || promise.set_result(()).unwrap()).join().unwrap();
    let dump = wait_for_dump(&handle, |dump| dump.tasks().iter().all(|task| task.polls == Some(2)));
    let woken_by = |name: &str| dump.tasks().iter().find(|task| task.name == name).unwrap().last_wake;
    assert_eq!(woken_by("timed"), Some(WakeSource::Timer));
    assert_eq!(woken_by("remote"), Some(WakeSource::Remote));
    assert_eq!(woken_by("yielder"), Some(WakeSource::Yield));
}

#[test]
fn a_loop_that_hangs_can_be_dumped_from_another_thread() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let release = Arc::new(AtomicBool::new(false));
    let stuck = release.clone();
    let hog = handle
        .spawn_named("hog", async move {
            while !stuck.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
        })
        .unwrap();
    let _queued = handle.spawn_named("queued", async {}).unwrap();
    // A watchdog, so that a dump that waits for the poll fails instead of
    // hanging the test.
    let watchdog = {
        let release = release.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(30));
            release.store(true, Ordering::Release);
        })
    };
    let dump = wait_for_dump(&handle, |dump| dump.tasks().iter().any(|task| task.state == TaskState::Running));
    assert!(!release.load(Ordering::Acquire), "the dump waited for the hung poll");
    let state_of = |name: &str| dump.tasks().iter().find(|task| task.name == name).unwrap().state;
    assert_eq!(state_of("hog"), TaskState::Running);
    assert_eq!(state_of("queued"), TaskState::Scheduled);
    release.store(true, Ordering::Release);
    event_loop.block_on(hog).unwrap();
    drop(watchdog);
}

#[test]
fn dump_lists_ten_thousand_live_tasks_in_id_order() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let tasks: Vec<_> = (0..10_000).map(|_| handle.spawn(std::future::pending::<()>()).unwrap()).collect();
    let dump = handle.dump();
    assert_eq!(dump.tasks().len(), 10_000);
    assert!(dump.tasks().windows(2).all(|pair| pair[0].id < pair[1].id));
    assert_eq!(dump.to_string().lines().count(), 10_001);
    drop(tasks);
}

#[test]
fn debug_mode_reports_tasks_pending_at_close_with_their_spawn_location() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let event_loop = EventLoop::builder()
        .workers(1)
        .debug(true)
        .on_unhandled_panic(move |report| seen.lock().unwrap().push(report))
        .build()
        .unwrap();
    let spawn_line = line!() + 1;
    let forgotten = event_loop.handle().spawn_named("forgotten", std::future::pending::<()>()).unwrap();
    event_loop.block_on(async { loopwork::spawn(async {}).await.unwrap() });
    event_loop.close();
    drop(forgotten);
    let reports = reports.lock().unwrap();
    let [report] = &reports[..] else { panic!("one report expected: {reports:?}") };
    assert_eq!(report.task_name(), Some("forgotten"));
    match report.kind {
        ExceptionKind::PendingAtClose { spawned_at } => {
            assert_eq!((spawned_at.file(), spawned_at.line()), (file!(), spawn_line));
        }
        _ => panic!("a pending-at-close report expected: {report:?}"),
    }
    assert!(report.message.contains(&format!("{}:{}", file!(), spawn_line)), "{}", report.message);

    // Without debug mode, closing reports nothing.
    let quiet = Arc::new(Mutex::new(Vec::new()));
    let seen = quiet.clone();
    let event_loop = EventLoop::builder()
        .workers(1)
        .on_unhandled_panic(move |report| seen.lock().unwrap().push(report))
        .build()
        .unwrap();
    let _forgotten = event_loop.handle().spawn(std::future::pending::<()>()).unwrap();
    event_loop.close();
    assert!(quiet.lock().unwrap().is_empty());
}

#[test]
fn dump_shows_the_time_a_task_spent_in_polls() {
    // The slow-poll monitor reports a poll still running past the threshold
    // after a sample, and each sample moves the coarse clock; the busy task
    // spins until that report too, so its poll surely spans a tick.
    let sampled = Arc::new(AtomicBool::new(false));
    let seen = sampled.clone();
    let event_loop = EventLoop::builder()
        .workers(1)
        .task_details(true)
        .slow_poll_threshold(Duration::from_millis(4))
        .on_unhandled_panic(move |report| {
            if matches!(report.kind, ExceptionKind::SlowPoll { finished: false, .. }) {
                seen.store(true, Ordering::Release);
            }
        })
        .build()
        .unwrap();
    let handle = event_loop.handle();
    let spun = Arc::new(Mutex::new(None));
    let record = spun.clone();
    let _busy = handle
        .spawn_named("busy", async move {
            let started = std::time::Instant::now();
            let watchdog = started + Duration::from_secs(30);
            while started.elapsed() < Duration::from_millis(20) || !sampled.load(Ordering::Acquire) {
                assert!(std::time::Instant::now() < watchdog, "the slow-poll monitor never reported the poll");
                std::hint::spin_loop();
            }
            *record.lock().unwrap() = Some(started.elapsed());
            std::future::pending::<()>().await;
        })
        .unwrap();
    let _idle = handle.spawn_named("idle", std::future::pending::<()>()).unwrap();
    let dump = wait_for_dump(&handle, |dump| dump.tasks().iter().all(|task| task.state == TaskState::Waiting));
    let spun = spun.lock().unwrap().expect("the busy task finished its poll");
    let busy = |name: &str| dump.tasks().iter().find(|task| task.name == name).unwrap().busy.unwrap();
    assert!(busy("busy") >= spun, "spun {spun:?}, measured {:?}", busy("busy"));
    // One short poll: nothing, unless it happened to span a tick of the
    // coarse clock (1 ms here); then the lag of that clock at most.
    assert!(busy("idle") < Duration::from_millis(15), "{:?}", busy("idle"));
    assert!(dump.to_string().lines().next().unwrap().contains("busy"));
}

#[test]
fn a_task_without_details_shows_only_what_the_loop_always_knows() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let spawn_line = line!() + 1;
    let _plain = handle.spawn(loopwork::sleep(Duration::from_secs(3600))).unwrap();
    let dump = wait_for_dump(&handle, |dump| dump.tasks().iter().all(|task| !task.waits_on.is_empty()));
    let [task] = dump.tasks() else { panic!("one task expected: {dump:?}") };
    assert_eq!(task.state, TaskState::Waiting);
    assert_eq!((task.spawned_at.file(), task.spawned_at.line()), (file!(), spawn_line));
    assert_eq!((task.age, task.polls, task.busy, task.last_wake), (None, None, None, None));
    let info = &handle.all_tasks()[0];
    assert_eq!(info.spawn_location, task.spawned_at);
    assert_eq!((info.spawned_at, info.polls), (None, None));
    let row = dump.to_string().lines().nth(1).unwrap().to_owned();
    assert!(row.contains(" - ") && row.contains(&format!("{}:{}", file!(), spawn_line)), "{dump}");
}

#[test]
fn a_default_loop_dumps_where_every_task_was_spawned() {
    // No names and no `task_details`: no task keeps a record, and each
    // still shows the line that spawned it, whichever way it was spawned.
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let mut spawn_lines = vec![line!() + 1];
    let _by_handle = handle.spawn(std::future::pending::<()>()).unwrap();
    spawn_lines.push(line!() + 1);
    let _threadsafe = handle.run_coroutine_threadsafe(std::future::pending::<()>()).unwrap();
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    // `block_on` runs its future as a task of its own.
    spawn_lines.push(line!() + 1);
    event_loop.block_on(async {
        spawn_lines.push(line!() + 1);
        let _spawned = loopwork::spawn(std::future::pending::<()>());
        let group = loopwork::TaskGroup::<(), ()>::new();
        spawn_lines.push(line!() + 1);
        group.spawn(std::future::pending()).unwrap();
        spawn_lines.push(line!() + 1);
        let _local = loopwork::spawn_local(std::future::pending::<()>());
        spawn_lines.push(line!() + 1);
        let _blocking = loopwork::run_in_executor(move || blocked.recv());
        // Each child of a gather made inside the loop is spawned at once.
        spawn_lines.extend([line!() + 1; 2]);
        let _gathered = loopwork::gather([std::future::pending::<()>(), std::future::pending()]);

        let dump = handle.dump();
        assert!(dump.tasks().iter().all(|task| task.polls.is_none()), "no task keeps a record: {dump:?}");
        let mut dumped: Vec<_> =
            dump.tasks().iter().map(|task| (task.spawned_at.file(), task.spawned_at.line())).collect();
        dumped.sort_unstable();
        let mut expected: Vec<_> = spawn_lines.iter().map(|&line| (file!(), line)).collect();
        expected.sort_unstable();
        assert_eq!(dumped, expected, "{dump}");
        let listed: Vec<_> = handle.all_tasks().into_iter().map(|info| (info.id, info.spawn_location)).collect();
        let dumped: Vec<_> = dump.tasks().iter().map(|task| (task.id, task.spawned_at)).collect();
        assert_eq!(listed.len(), dumped.len());
        assert!(listed.iter().all(|task| dumped.contains(task)), "all_tasks {listed:?}, dump {dumped:?}");
    });
    drop(release);
}

#[test]
fn a_task_keeps_its_spawn_location_when_it_gets_a_done_callback_late() {
    // The callback gives the task a record after its spawn, which takes the
    // location over from the header; its statistics would start late, so
    // they stay hidden.
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let spawn_line = line!() + 1;
    let task = handle.spawn(std::future::pending::<()>()).unwrap();
    wait_for_dump(&handle, |dump| dump.tasks().iter().all(|task| task.state == TaskState::Waiting));
    let (done, cancelled) = std::sync::mpsc::channel();
    task.add_done_callback(move |outcome| done.send(outcome.is_err()).unwrap()).unwrap();
    let dump = handle.dump();
    let [dumped] = dump.tasks() else { panic!("one task expected: {dump:?}") };
    assert_eq!((dumped.spawned_at.file(), dumped.spawned_at.line()), (file!(), spawn_line));
    assert_eq!((dumped.age, dumped.polls), (None, None));
    assert_eq!(handle.all_tasks()[0].spawn_location, dumped.spawned_at);
    assert!(task.cancel());
    assert!(cancelled.recv_timeout(Duration::from_secs(30)).unwrap(), "the callback saw the cancellation");
}
