//! `#[loopwork::test(chaos_seeds = N)]` against a planted check-then-act
//! race: some seeds find it and others miss it, the failing seed is reported
//! with its replay command, and replaying that seed fails every time. Then
//! the same exploration under proptest, with the seed drawn as input.

use loopwork::EventLoop;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The planted bug: the balance is checked, then (after an await, where
/// another task may run) debited, so two withdrawals can both pass the
/// check. FIFO order happens to be safe; reordered, the account overdraws.
async fn withdraw(balance: Arc<AtomicI64>, amount: i64) {
    if balance.load(Ordering::SeqCst) >= amount {
        loopwork::yield_now().await;
        balance.fetch_sub(amount, Ordering::SeqCst);
    }
}

/// Two withdrawals of `amount` from 100; panics if the account overdraws.
async fn two_withdrawals(amount: i64) {
    let balance = Arc::new(AtomicI64::new(100));
    let first = loopwork::spawn(withdraw(balance.clone(), amount));
    let second = loopwork::spawn({
        let balance = balance.clone();
        async move {
            loopwork::yield_now().await;
            withdraw(balance, amount).await;
        }
    });
    first.await.unwrap();
    second.await.unwrap();
    let left = balance.load(Ordering::SeqCst);
    assert!(left >= 0, "overdrawn: {left}");
}

/// Whether `two_withdrawals(80)` overdraws under `seed`, in strict mode.
fn overdraws(seed: u64, amount: i64) -> bool {
    let event_loop = EventLoop::builder().workers(0).chaos_seed(seed).build().unwrap();
    let failed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event_loop.block_on(two_withdrawals(amount))))
            .is_err();
    event_loop.close();
    failed
}

#[test]
fn some_seeds_find_the_race_and_others_miss_it_and_each_replays() {
    let verdicts: Vec<bool> = (0..64).map(|seed| overdraws(seed, 80)).collect();
    let replays: Vec<bool> = (0..64).map(|seed| overdraws(seed, 80)).collect();
    let found = verdicts.iter().filter(|&&failed| failed).count();
    assert!(found > 0, "no seed of 64 found the race");
    assert!(found < 64, "every seed found the race: the planted bug is not order-dependent");
    assert_eq!(verdicts, replays, "a seed's verdict changed between runs");
    // Without chaos, strict mode's FIFO order misses it.
    loopwork::__macro_support::run_main(EventLoop::builder().workers(0), two_withdrawals(80));
}

/// The planted race under the attribute; run only as a child process by
/// the test below, which expects it to fail.
#[loopwork::test(chaos_seeds = 256)]
#[ignore = "fails on purpose: run by the_reported_seed_replays_the_failure"]
async fn planted_overdraw() {
    two_withdrawals(80).await;
}

/// Runs `planted_overdraw` alone in a child process with `env` set; returns
/// whether it passed, and its stderr.
fn run_planted(env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--ignored", "--exact", "planted_overdraw", "--nocapture", "--test-threads=1"])
        .env_remove("LOOPWORK_CHAOS_SEED")
        .env_remove("LOOPWORK_CHAOS_SEEDS");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The seed in the report's replay line.
fn reported_seed(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|line| line.contains("LOOPWORK_CHAOS_SEED=") && line.contains("cargo test"))
        .unwrap_or_else(|| panic!("no replay line in:\n{stderr}"));
    assert!(line.contains("-p loopwork-tests planted_overdraw"), "replay line names the test: {line}");
    line.trim().trim_start_matches("LOOPWORK_CHAOS_SEED=").split_whitespace().next().unwrap().to_owned()
}

#[test]
fn the_reported_seed_replays_the_failure() {
    let first_failing = (0..256).find(|&seed| overdraws(seed, 80)).expect("some seed of 256 finds the race");
    let (passed, stderr) = run_planted(&[]);
    assert!(!passed, "256 seeds should find the planted race:\n{stderr}");
    assert!(stderr.contains("overdrawn"), "the body's panic is shown:\n{stderr}");
    let seed = reported_seed(&stderr);
    assert_eq!(seed, format!("{first_failing:#x}"), "seeds run in order; the first failure stops the test");
    for _ in 0..3 {
        let (passed, replay) = run_planted(&[("LOOPWORK_CHAOS_SEED", &seed)]);
        assert!(!passed, "seed {seed} should fail again:\n{replay}");
        assert_eq!(reported_seed(&replay), seed);
    }
    let missing = (0..256).find(|&seed| !overdraws(seed, 80)).expect("some seed of 256 misses the race");
    let (passed, stderr) = run_planted(&[("LOOPWORK_CHAOS_SEED", &format!("{missing:#x}"))]);
    assert!(passed, "seed {missing:#x} misses the race, alone too:\n{stderr}");
    if first_failing > 0 {
        // Only the seeds before the first failing one: the override stops short of it.
        let (passed, stderr) = run_planted(&[("LOOPWORK_CHAOS_SEEDS", &first_failing.to_string())]);
        assert!(passed, "LOOPWORK_CHAOS_SEEDS={first_failing} runs only passing seeds:\n{stderr}");
    } else {
        let (passed, _) = run_planted(&[("LOOPWORK_CHAOS_SEEDS", "1")]);
        assert!(!passed, "LOOPWORK_CHAOS_SEEDS=1 runs seed 0, which fails");
    }
}

/// The same exploration under proptest: the seed is part of the input, so
/// a failure shrinks towards a small seed and a small amount, and the case
/// proptest reports replays through `chaos_seed` like any other input.
#[test]
fn proptest_draws_the_seed_and_shrinks_a_failure() {
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    let result = runner.run(&(any::<u64>(), 51..=100i64), |(seed, amount)| {
        prop_assert!(!overdraws(seed, amount), "seed {seed:#x} overdraws {amount}");
        Ok(())
    });
    match result {
        Err(TestError::Fail(_, (seed, amount))) => assert!(overdraws(seed, amount), "the shrunk case replays"),
        other => panic!("proptest should find the race, got {other:?}"),
    }
}

proptest! {
    /// The fixed version, held under a lock across the await: no seed and
    /// no amount overdraws.
    #[test]
    fn a_locked_withdrawal_never_overdraws(seed in any::<u64>(), amount in 1..=100i64) {
        let event_loop = EventLoop::builder().workers(0).chaos_seed(seed).build().unwrap();
        let left = event_loop.block_on(async move {
            let balance = Arc::new(loopwork::sync::Lock::new(100i64));
            let withdrawals: Vec<_> = (0..2)
                .map(|_| {
                    let balance = balance.clone();
                    loopwork::spawn(async move {
                        let mut guard = balance.lock().await;
                        if *guard >= amount {
                            loopwork::yield_now().await;
                            *guard -= amount;
                        }
                    })
                })
                .collect();
            loopwork::try_gather(withdrawals).await.unwrap();
            let left = *balance.lock().await;
            left
        });
        event_loop.close();
        prop_assert!(left >= 0);
    }
}
