//! The `tracing` feature: a collecting subscriber sees each task's span
//! (tokio's `runtime.spawn` names) and the events of a task that spawns,
//! polls, completes, is cancelled, panics, or loses its last waker.
//!
//! Run with `cargo test -p loopwork-tests --features tracing --test task_tracing`.

use loopwork::EventLoop;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every field of a span or event, as text.
#[derive(Debug, Default, Clone)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

#[derive(Debug, Default)]
struct Seen {
    /// By span id: name, target, fields, times entered.
    spans: HashMap<u64, (String, String, Fields, u32)>,
    /// Target and fields.
    events: Vec<(String, Fields)>,
}

/// A subscriber that keeps everything.
#[derive(Clone, Default)]
struct Collector {
    seen: Arc<Mutex<Seen>>,
    next_id: Arc<AtomicU64>,
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::default();
        span.record(&mut fields);
        let metadata = span.metadata();
        self.seen
            .lock()
            .unwrap()
            .spans
            .insert(id, (metadata.name().to_owned(), metadata.target().to_owned(), fields, 0));
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.seen.lock().unwrap().events.push((event.metadata().target().to_owned(), fields));
    }

    fn enter(&self, span: &Id) {
        if let Some(entry) = self.seen.lock().unwrap().spans.get_mut(&span.into_u64()) {
            entry.3 += 1;
        }
    }

    fn exit(&self, _: &Id) {}
}

#[test]
fn a_subscriber_sees_task_spans_and_lifecycle_events() {
    let collector = Collector::default();
    // Strict mode: every poll runs on this thread, under this default.
    let _default = tracing::subscriber::set_default(collector.clone());
    let event_loop = EventLoop::builder().workers(0).on_unhandled_panic(|_| {}).build().unwrap();
    let handle = event_loop.handle();
    let kept_waker: Arc<Mutex<Option<Waker>>> = Arc::default();

    let spawn_line = line!() + 1;
    let parent = handle.spawn_named("parent", async { loopwork::spawn(loopwork::yield_now()).await.unwrap() }).unwrap();
    // Waits on a promise nobody sets: its waker stays alive, unlike
    // `std::future::pending`'s, which never keeps one (a lost wake-up).
    let never = handle.create_future::<()>();
    let awaited = never.clone();
    let victim = handle
        .spawn_named("victim", async move {
            let _ = awaited.await;
        })
        .unwrap();
    let panicker = handle.spawn_named("panicker", async { panic!("boom") }).unwrap();
    let slot = kept_waker.clone();
    let loser = handle
        .spawn_named(
            "loser",
            std::future::poll_fn(move |cx| {
                // Keeps a waker, which someone else will drop unused.
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }),
        )
        .unwrap();
    let ids: HashMap<&str, u64> =
        [("parent", parent.id()), ("victim", victim.id()), ("panicker", panicker.id()), ("loser", loser.id())].into();

    event_loop.block_on(async {
        parent.await.unwrap();
        assert!(panicker.await.is_err());
        assert!(victim.cancel());
        assert!(victim.await.is_err());
        // The loser is pending; its only waker goes away without a wake.
        drop(kept_waker.lock().unwrap().take());
    });
    // Closing cancels the loser: its events are complete after this.
    event_loop.close();
    drop(never);

    let seen = collector.seen.lock().unwrap();
    let span_of = |name: &str| {
        seen.spans
            .values()
            .find(|(span, _, fields, _)| {
                span == "runtime.spawn" && fields.0.get("task.name").map(String::as_str) == Some(name)
            })
            .unwrap_or_else(|| panic!("no span for {name}: {seen:?}"))
    };
    let (_, target, fields, entered) = span_of("parent");
    assert_eq!(target, "tokio::task");
    assert_eq!(fields.0["task.id"], ids["parent"].to_string());
    assert_eq!(fields.0["kind"], "task");
    assert_eq!(fields.0["loc.file"], file!());
    assert_eq!(fields.0["loc.line"], spawn_line.to_string());
    // Polled twice: once to spawn its child, once when the child is done.
    assert!(*entered >= 2, "the span is entered on every poll: {entered}");
    // The child has a span of its own.
    assert_eq!(seen.spans.values().filter(|(name, ..)| name == "runtime.spawn").count(), 5);

    let events_of = |name: &str| -> Vec<String> {
        let id = ids[name].to_string();
        seen.events
            .iter()
            .filter(|(target, fields)| target == "loopwork::task" && fields.0.get("task.id") == Some(&id))
            .map(|(_, fields)| fields.0["op"].clone())
            .collect()
    };
    assert_eq!(events_of("parent"), ["task.spawn", "task.complete"]);
    assert_eq!(events_of("victim"), ["task.spawn", "task.cancel"]);
    assert_eq!(events_of("panicker"), ["task.spawn", "task.panic"]);
    assert_eq!(events_of("loser"), ["task.spawn", "task.lost_wakeup", "task.cancel"]);
}
