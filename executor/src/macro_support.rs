//! What `#[loopwork::main]` and `#[loopwork::test]` expand to: building
//! the loop, driving the body, and `chaos_seeds`' schedule exploration
//! (one strict-mode run per chaos seed, the failing seed reported with the
//! command that replays it). Not a public API: only the macros call it.

use crate::Builder;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};

/// Overrides `chaos_seeds = N`: how many seeds to explore.
const SEEDS_VAR: &str = "LOOPWORK_CHAOS_SEEDS";
/// Runs one seed alone: the replay of a reported failure.
const SEED_VAR: &str = "LOOPWORK_CHAOS_SEED";

/// Builds the loop, drives `future` on the calling thread, closes the loop.
///
/// # Panics
///
/// If the worker threads cannot be started.
pub fn run_main<F: Future>(builder: Builder, future: F) -> F::Output {
    let event_loop = builder
        .build()
        .unwrap_or_else(|error| panic!("loopwork could not start the event loop's worker threads: {error}"));
    let output = event_loop.block_on(future);
    event_loop.close();
    output
}

/// What `#[loopwork::test]` knows about the test it wraps.
#[derive(Debug)]
pub struct TestEntry {
    /// `module_path!()` where the test is defined (crate name first).
    pub module: &'static str,
    /// The test function's name.
    pub name: &'static str,
    /// The package, for the replay command's `-p`.
    pub package: &'static str,
    /// `chaos_seeds = N`, if given.
    pub chaos_seeds: Option<u64>,
}

impl TestEntry {
    /// The name the test harness filters by: the path without the crate.
    fn test_path(&self) -> String {
        match self.module.split_once("::") {
            Some((_crate, module)) => format!("{module}::{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

/// A test body's output: did the test fail without panicking?
pub trait TestOutcome {
    /// True for an `Err`.
    fn is_failure(&self) -> bool;
}

impl TestOutcome for () {
    fn is_failure(&self) -> bool {
        false
    }
}

impl<T, E> TestOutcome for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

/// Runs a test body: once on the loop `builder` makes, or with
/// `chaos_seeds`, once per seed until one fails.
///
/// # Panics
///
/// If the body panics (after reporting the seed), if the loop cannot be
/// built, or if `LOOPWORK_CHAOS_SEEDS` / `LOOPWORK_CHAOS_SEED` is not a
/// number.
pub fn run_test<B, M, F>(entry: TestEntry, builder: B, make_body: M) -> F::Output
where
    B: Fn() -> Builder,
    M: Fn() -> F,
    F: Future,
    F::Output: TestOutcome,
{
    let Some(count) = entry.chaos_seeds else { return run_main(builder(), make_body()) };
    let seeds = match env_number(SEED_VAR) {
        Some(seed) => seed..=seed,
        None => {
            let count = env_number(SEEDS_VAR).unwrap_or(count);
            assert!(count > 0, "{SEEDS_VAR}=0 would run the test zero times: set it to at least 1");
            0..=count - 1
        }
    };
    let last = *seeds.end();
    for seed in seeds {
        let event_loop = builder()
            .chaos_seed(seed)
            .build()
            .unwrap_or_else(|error| panic!("loopwork could not build the test's event loop: {error}"));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| event_loop.block_on(make_body())));
        event_loop.close();
        match outcome {
            Err(panic) => {
                report_failure(&entry, seed);
                panic::resume_unwind(panic);
            }
            Ok(output) if output.is_failure() || seed == last => {
                if output.is_failure() {
                    report_failure(&entry, seed);
                }
                return output;
            }
            Ok(_) => {}
        }
    }
    unreachable!("the last seed returns")
}

fn report_failure(entry: &TestEntry, seed: u64) {
    eprintln!(
        "loopwork: `{}` failed under chaos seed {seed:#x}; replay that schedule alone with:\n    \
         {SEED_VAR}={seed:#x} cargo test -p {} {}",
        entry.test_path(),
        entry.package,
        entry.test_path(),
    );
}

/// A decimal or `0x` hexadecimal number from the environment, if set.
fn env_number(var: &str) -> Option<u64> {
    let text = std::env::var(var).ok()?;
    let trimmed = text.trim();
    let parsed = match trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => trimmed.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{var}={text:?} is not a number: write it in decimal or as 0x-hex")))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_path_drops_the_crate_name() {
        let entry = TestEntry { module: "my_crate::tests", name: "transfer", package: "my-crate", chaos_seeds: None };
        assert_eq!(entry.test_path(), "tests::transfer");
        let top = TestEntry { module: "rt_macros", name: "transfer", package: "my-crate", chaos_seeds: None };
        assert_eq!(top.test_path(), "transfer");
    }

    #[test]
    fn an_unset_variable_reads_as_none() {
        assert_eq!(env_number("LOOPWORK_TEST_VARIABLE_THAT_IS_NEVER_SET"), None);
    }
}
