//! The `compare` binary's global allocator: the system allocator, plus a
//! count of the bytes asked for minus the bytes given back while a
//! measurement is on. Off, it costs one load of a flag that is written only
//! when a measurement starts or stops, so it does not disturb the timed
//! rows.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicIsize};

/// Whether allocations are being counted.
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting was turned on.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Whether [`CountingAllocator`] is the global allocator: set by its first
/// allocation.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting live heap bytes on request.
///
/// # Examples
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: loopwork_benches::CountingAllocator = loopwork_benches::CountingAllocator;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

impl CountingAllocator {
    fn record(delta: isize) {
        // Relaxed is enough for both: the flag only gates counting, and the
        // total is read after the threads that allocated have handed their
        // work back through a channel, which orders their counts before it.
        if COUNTING.load(Relaxed) {
            LIVE.fetch_add(delta, Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; the counting only reads the layout.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed is enough: the flag is only ever set to true.
        if !INSTALLED.load(Relaxed) {
            INSTALLED.store(true, Relaxed);
        }
        Self::record(layout.size() as isize);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size() as isize);
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::record(-(layout.size() as isize));
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::record(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Counts live heap bytes while it exists: what was allocated minus what
/// was freed, by every thread, since [`HeapCounter::start`].
#[derive(Debug)]
pub(crate) struct HeapCounter(());

impl HeapCounter {
    /// Starts counting; `None` if [`CountingAllocator`] is not the global
    /// allocator (as in the unit tests).
    pub(crate) fn start() -> Option<HeapCounter> {
        // Anything allocated sets INSTALLED if the counting allocator is in.
        drop(Box::new(0u8));
        if !INSTALLED.load(Relaxed) {
            return None;
        }
        LIVE.store(0, Relaxed);
        COUNTING.store(true, Relaxed);
        Some(HeapCounter(()))
    }

    /// The live heap growth so far, in bytes.
    pub(crate) fn live(&self) -> isize {
        LIVE.load(Relaxed)
    }
}

impl Drop for HeapCounter {
    fn drop(&mut self) {
        COUNTING.store(false, Relaxed);
    }
}
