//! asyncio parity: `TaskGroup`.

use loopwork::{ChildError, EventLoop, TaskGroup};
use loopwork_tests::DropCounter;

async fn after_yields<T>(n: usize, value: T) -> T {
    for _ in 0..n {
        loopwork::yield_now().await;
    }
    value
}

#[test]
fn the_first_failure_cancels_the_siblings_and_every_error_is_reported() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let drops = DropCounter::new();
        let result = event_loop.block_on(async {
            let group = TaskGroup::<u32, String>::new();
            for _ in 0..5 {
                let token = drops.token();
                group
                    .spawn(async move {
                        let _token = token;
                        std::future::pending::<()>().await;
                        Ok(0)
                    })
                    .unwrap();
            }
            group.spawn(async { after_yields(3, Err("first".to_owned())).await }).unwrap();
            group.spawn(async { after_yields(3, Err("second".to_owned())).await }).unwrap();
            group.join().await
        });
        let errors = result.unwrap_err().errors;
        let mut messages: Vec<_> = errors
            .iter()
            .map(|e| match e {
                ChildError::Failed(msg) => msg.clone(),
                ChildError::Panicked(err) => panic!("unexpected panic {err}"),
            })
            .collect();
        messages.sort();
        // The second failure may land before the first one's cancellation
        // reaches it; both are reported then.
        assert!(messages == ["first"] || messages == ["second"] || messages == ["first", "second"], "{messages:?}");
        assert_eq!(drops.dropped(), 5, "workers={workers}: every pending sibling was cancelled");
    }
}

#[test]
fn a_panicking_child_is_a_failure() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let errors = event_loop
        .block_on(async {
            let group = TaskGroup::<(), ()>::new();
            group.spawn(async { panic!("child panicked") }).unwrap();
            group.join().await
        })
        .unwrap_err()
        .errors;
    assert!(matches!(&errors[..], [ChildError::Panicked(err)] if err.panic_message() == Some("child panicked")));
}

#[test]
fn spawning_into_an_aborting_group_is_an_error() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    event_loop.block_on(async {
        let group = TaskGroup::<(), &str>::new();
        group.spawn(async { Err("fail") }).unwrap();
        after_yields(3, ()).await;
        assert_eq!(group.spawn(async { Ok(()) }), Err(loopwork::GroupClosed));
        assert!(group.join().await.is_err());
    });
}

#[test]
fn dropping_an_unjoined_group_cancels_its_children() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let drops = DropCounter::new();
    event_loop.block_on(async {
        let group = TaskGroup::<(), ()>::new();
        for _ in 0..10 {
            let token = drops.token();
            group
                .spawn(async move {
                    let _token = token;
                    std::future::pending().await
                })
                .unwrap();
        }
        drop(group);
        while drops.dropped() < 10 {
            loopwork::yield_now().await;
        }
    });
    assert_eq!(drops.dropped(), 10);
}

#[test]
fn values_come_back_in_spawn_order() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let values = event_loop.block_on(async {
        let group = TaskGroup::<usize, ()>::new();
        for i in 0..20 {
            group.spawn(async move { Ok(after_yields(20 - i, i).await) }).unwrap();
        }
        group.join().await.unwrap()
    });
    assert_eq!(values, (0..20).collect::<Vec<_>>());
}
