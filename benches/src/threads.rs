//! CPU time and context switches of a runtime's own threads, from
//! `/proc/self/task`: what a sample cost besides its wall time, and how
//! often the workers went to sleep (voluntary switches) or were preempted
//! (involuntary ones).

use std::fs;
use std::ops::{Add, Sub};
use std::path::{Path, PathBuf};

/// Counters of a group of threads, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadCounters {
    /// CPU time, in nanoseconds (`/proc/.../schedstat`).
    pub cpu_ns: u64,
    /// Voluntary context switches: the thread blocked (parked, waited on a
    /// lock, slept).
    pub voluntary_switches: u64,
    /// Involuntary context switches: the thread was preempted.
    pub involuntary_switches: u64,
}

impl ThreadCounters {
    /// The counters of this process's threads whose name starts with one of
    /// `prefixes`. Threads that cannot be read (they just exited) count as 0.
    pub fn of_threads_named(prefixes: &[&str]) -> ThreadCounters {
        threads_named(prefixes)
            .iter()
            .map(|dir| ThreadCounters::of_thread_at(dir))
            .fold(ThreadCounters::default(), Add::add)
    }

    /// The counters of the calling thread.
    pub fn of_current_thread() -> ThreadCounters {
        ThreadCounters::of_thread_at(Path::new("/proc/thread-self"))
    }

    /// The counters of the thread whose `/proc` directory is `dir`.
    fn of_thread_at(dir: &Path) -> ThreadCounters {
        let cpu_ns = fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse().ok()))
            .unwrap_or(0);
        let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
        ThreadCounters {
            cpu_ns,
            voluntary_switches: status_field(&status, "voluntary_ctxt_switches:"),
            involuntary_switches: status_field(&status, "nonvoluntary_ctxt_switches:"),
        }
    }
}

/// The `/proc` directories of this process's threads whose name starts with
/// one of `prefixes`; none if `/proc/self/task` cannot be read.
pub fn threads_named(prefixes: &[&str]) -> Vec<PathBuf> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .map(|task| task.path())
        .filter(|dir| {
            fs::read_to_string(dir.join("comm"))
                .is_ok_and(|comm| prefixes.iter().any(|prefix| comm.starts_with(prefix)))
        })
        .collect()
}

fn status_field(status: &str, name: &str) -> u64 {
    status.lines().find_map(|line| line.strip_prefix(name)).and_then(|value| value.trim().parse().ok()).unwrap_or(0)
}

impl Add for ThreadCounters {
    type Output = ThreadCounters;

    fn add(self, other: ThreadCounters) -> ThreadCounters {
        ThreadCounters {
            cpu_ns: self.cpu_ns + other.cpu_ns,
            voluntary_switches: self.voluntary_switches + other.voluntary_switches,
            involuntary_switches: self.involuntary_switches + other.involuntary_switches,
        }
    }
}

impl Sub for ThreadCounters {
    type Output = ThreadCounters;

    /// The growth from `earlier` to `self`; never negative (a thread that
    /// exited in between takes its counts with it).
    fn sub(self, earlier: ThreadCounters) -> ThreadCounters {
        ThreadCounters {
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            voluntary_switches: self.voluntary_switches.saturating_sub(earlier.voluntary_switches),
            involuntary_switches: self.involuntary_switches.saturating_sub(earlier.involuntary_switches),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_named_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (spun_tx, spun_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("counters-test".to_owned())
            .spawn(move || {
                // Spins until it has had 20 ms of CPU by its own clock,
                // however long a busy machine takes to give it that (a wall
                // time would not do), giving up after 10 s of wall time.
                let own_cpu_ns = || {
                    let stat = fs::read_to_string("/proc/thread-self/schedstat").unwrap();
                    stat.split_whitespace().next().unwrap().parse::<u64>().unwrap()
                };
                let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while own_cpu_ns() < 20_000_000 && std::time::Instant::now() < give_up {
                    std::hint::spin_loop();
                }
                // One voluntary switch, before the counters are read.
                std::thread::sleep(std::time::Duration::from_millis(1));
                spun_tx.send(()).unwrap();
                rx.recv().unwrap();
            })
            .unwrap();
        spun_rx.recv().unwrap();
        let counters = ThreadCounters::of_threads_named(&["counters-test"]);
        tx.send(()).unwrap();
        thread.join().unwrap();
        assert!(counters.cpu_ns >= 10_000_000, "{counters:?}");
        assert!(counters.voluntary_switches >= 1, "{counters:?}");
        assert_eq!(ThreadCounters::of_threads_named(&["no-such-thread"]), ThreadCounters::default());
    }
}
