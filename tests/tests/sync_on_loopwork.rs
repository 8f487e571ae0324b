//! loopwork-sync's shared suite (the one that also runs on tokio and
//! async-executor) on loopwork's own loop, with workers and in strict mode.

#[path = "../../sync/tests/suite/mod.rs"]
mod suite;

mod with_workers {
    use super::suite::{BoxFuture, Runtime};
    use loopwork::EventLoop;
    use std::future::Future;
    use std::sync::OnceLock;
    use std::time::Duration;

    /// A loop shared by every test of the suite: 3 workers, more than the
    /// two cores CI has, so tasks really run in parallel.
    #[derive(Clone, Copy)]
    struct Loopwork(&'static EventLoop);

    impl Loopwork {
        fn shared() -> Loopwork {
            static LOOP: OnceLock<EventLoop> = OnceLock::new();
            Loopwork(LOOP.get_or_init(|| EventLoop::builder().workers(3).build().expect("start the loop")))
        }
    }

    impl Runtime for Loopwork {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }

        fn spawn<F>(&self, future: F) -> BoxFuture<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            let task = self.0.handle().spawn(future).expect("the loop is open");
            Box::pin(async move { task.await.expect("the task panicked") })
        }

        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            Box::pin(loopwork::sleep(duration))
        }
    }

    super::suite::sync_suite!(Loopwork::shared());
}
