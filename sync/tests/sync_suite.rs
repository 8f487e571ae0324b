//! The shared suite (`tests/suite/`) on tokio's multi-threaded runtime and on
//! async-executor driven by several threads.

mod suite;

/// Worker threads per runtime: more than the two cores CI has, so tasks
/// really run in parallel and get preempted.
const WORKERS: usize = 3;

mod on_tokio {
    use super::suite::{BoxFuture, Runtime};
    use std::future::Future;
    use std::sync::OnceLock;
    use std::time::Duration;

    #[derive(Clone, Copy)]
    struct Tokio(&'static tokio::runtime::Runtime);

    impl Tokio {
        fn shared() -> Tokio {
            static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
            Tokio(RUNTIME.get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(super::WORKERS)
                    .enable_all()
                    .build()
                    .expect("build the tokio runtime")
            }))
        }
    }

    impl Runtime for Tokio {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }

        fn spawn<F>(&self, future: F) -> BoxFuture<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            let handle = self.0.spawn(future);
            Box::pin(async move { handle.await.expect("the task panicked") })
        }

        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            Box::pin(tokio::time::sleep(duration))
        }
    }

    super::suite::sync_suite!(Tokio::shared());
}

mod on_async_executor {
    use super::suite::support::thread_sleep;
    use super::suite::{BoxFuture, Runtime};
    use async_executor::Executor;
    use std::future::Future;
    use std::sync::OnceLock;
    use std::time::Duration;

    #[derive(Clone, Copy)]
    struct AsyncExecutor(&'static Executor<'static>);

    impl AsyncExecutor {
        fn shared() -> AsyncExecutor {
            static EXECUTOR: OnceLock<Executor<'static>> = OnceLock::new();
            let mut created = false;
            let executor = EXECUTOR.get_or_init(|| {
                created = true;
                Executor::new()
            });
            if created {
                for i in 0..super::WORKERS {
                    std::thread::Builder::new()
                        .name(format!("async-executor-{i}"))
                        .spawn(move || {
                            futures_lite::future::block_on(executor.run(futures_lite::future::pending::<()>()))
                        })
                        .expect("spawn an executor thread");
                }
            }
            AsyncExecutor(executor)
        }
    }

    impl Runtime for AsyncExecutor {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            futures_lite::future::block_on(self.0.run(future))
        }

        fn spawn<F>(&self, future: F) -> BoxFuture<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            Box::pin(self.0.spawn(future))
        }

        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            thread_sleep(duration)
        }
    }

    super::suite::sync_suite!(AsyncExecutor::shared());
}
