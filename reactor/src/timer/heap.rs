//! One shard's timers: an indexed 4-ary min-heap.
//!
//! The heap holds small keys (encoded deadline, sequence number, entry index); the wakers
//! sit in a slab of entries, each of which records where its key is in the heap. So a timer
//! is found by its entry index in O(1), removed in O(log n), and the first one is read in
//! O(1). The common case costs less than that: a timer set after the others (a deadline
//! no earlier than the last) stops after one comparison on the way up, and removing the
//! last key set moves nothing.
//!
//! An entry index is reused once its timer is gone, so every lookup checks the sequence
//! number, which is never reused: a stale [`TimerId`](super::TimerId) finds nothing.

use slab::Slab;
use std::task::Waker;

/// Children per node: a shallower tree than a binary heap's, whose four children sit in one
/// or two cache lines, for a comparison or two more per level on the way down.
const ARITY: usize = 4;

/// The order of timers: deadline first, then the order they were set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    /// `Timers::encode` of the deadline.
    pub(super) when: u64,
    /// The timer's `TimerId::seq`: unique, so no two keys are equal.
    pub(super) seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: Key,
    /// The timer's entry in `entries`.
    entry: u32,
}

#[derive(Debug)]
struct Entry {
    waker: Waker,
    /// Where the timer's key is in `heap`.
    position: u32,
}

/// A shard's timers, ordered by [`Key`].
#[derive(Debug)]
pub(super) struct TimerHeap {
    heap: Vec<Slot>,
    entries: Slab<Entry>,
}

impl TimerHeap {
    pub(super) fn new() -> TimerHeap {
        TimerHeap { heap: Vec::new(), entries: Slab::new() }
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The first timer's key.
    pub(super) fn first(&self) -> Option<Key> {
        self.heap.first().map(|slot| slot.key)
    }

    /// Adds a timer; returns the index of its entry.
    ///
    /// # Panics
    ///
    /// If the shard already holds `u32::MAX` timers.
    pub(super) fn insert(&mut self, key: Key, waker: Waker) -> u32 {
        let position = self.heap.len();
        let vacant = self.entries.vacant_entry();
        // Entries are reused before the slab grows, so there are no more of them than keys.
        let entry = u32::try_from(vacant.key()).expect("a timer shard holds at most u32::MAX timers");
        vacant.insert(Entry { waker, position: position as u32 });
        self.heap.push(Slot { key, entry });
        self.sift_up(position);
        entry
    }

    /// The heap position of the timer at `entry` with sequence number `seq`, if it is here.
    fn position(&self, entry: u32, seq: u64) -> Option<usize> {
        let position = self.entries.get(entry as usize)?.position as usize;
        (self.heap[position].key.seq == seq).then_some(position)
    }

    /// The waker of the timer at `entry` with sequence number `seq`, if it is here.
    pub(super) fn waker_mut(&mut self, entry: u32, seq: u64) -> Option<&mut Waker> {
        self.position(entry, seq)?;
        Some(&mut self.entries[entry as usize].waker)
    }

    /// Removes the timer at `entry` with sequence number `seq`, if it is here.
    pub(super) fn remove(&mut self, entry: u32, seq: u64) -> Option<Waker> {
        let position = self.position(entry, seq)?;
        Some(self.remove_at(position).1)
    }

    /// Removes and returns the first timer if `due` says so of its key.
    pub(super) fn pop_if(&mut self, due: impl FnOnce(&Key) -> bool) -> Option<(Key, Waker)> {
        let first = self.heap.first()?;
        if !due(&first.key) {
            return None;
        }
        Some(self.remove_at(0))
    }

    /// Empties the heap, handing back every waker.
    pub(super) fn take_all(&mut self) -> Vec<Waker> {
        self.heap.clear();
        self.entries.drain().map(|entry| entry.waker).collect()
    }

    /// Every timer's key and waker, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Key, &Waker)> {
        self.heap.iter().map(|slot| (slot.key, &self.entries[slot.entry as usize].waker))
    }

    /// Takes the key at `position` out of the heap and frees its entry.
    fn remove_at(&mut self, position: usize) -> (Key, Waker) {
        let removed = self.heap.swap_remove(position);
        if position < self.heap.len() {
            // The last key moved into the hole: it may belong above or below it (either
            // sift records its final position).
            let moved = self.heap[position].key;
            if position > 0 && moved < self.heap[(position - 1) / ARITY].key {
                self.sift_up(position);
            } else {
                self.sift_down(position);
            }
        }
        (removed.key, self.entries.remove(removed.entry as usize).waker)
    }

    /// Puts `slot` at `position` and records it in the slot's entry.
    fn place(&mut self, position: usize, slot: Slot) {
        self.heap[position] = slot;
        // Below u32::MAX: there are no more keys than entries, whose indices are u32.
        self.entries[slot.entry as usize].position = position as u32;
    }

    fn sift_up(&mut self, mut position: usize) {
        let slot = self.heap[position];
        while position > 0 {
            let parent = (position - 1) / ARITY;
            if self.heap[parent].key <= slot.key {
                break;
            }
            self.place(position, self.heap[parent]);
            position = parent;
        }
        self.place(position, slot);
    }

    fn sift_down(&mut self, mut position: usize) {
        let slot = self.heap[position];
        let len = self.heap.len();
        loop {
            let first_child = position * ARITY + 1;
            if first_child >= len {
                break;
            }
            let children = first_child..(first_child + ARITY).min(len);
            let smallest = children.min_by_key(|&child| self.heap[child].key).expect("at least one child");
            if slot.key <= self.heap[smallest].key {
                break;
            }
            self.place(position, self.heap[smallest]);
            position = smallest;
        }
        self.place(position, slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(when: u64, seq: u64) -> Key {
        Key { when, seq }
    }

    /// Checks the heap property and that every entry knows where its key is.
    fn assert_consistent(heap: &TimerHeap) {
        for (position, slot) in heap.heap.iter().enumerate() {
            if position > 0 {
                assert!(heap.heap[(position - 1) / ARITY].key < slot.key, "heap order at {position}");
            }
            assert_eq!(heap.entries[slot.entry as usize].position as usize, position);
        }
        assert_eq!(heap.entries.len(), heap.len());
    }

    #[test]
    fn pops_in_key_order_whatever_the_insertion_and_removal_order() {
        let mut heap = TimerHeap::new();
        let mut live = Vec::new();
        // A deterministic shuffle of deadlines, with repeats, and removals in between.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for seq in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let when = state % 300;
            let entry = heap.insert(key(when, seq), Waker::noop().clone());
            live.push((key(when, seq), entry));
            if state % 3 == 0 {
                let (removed, entry) = live.swap_remove((state / 3 % live.len() as u64) as usize);
                assert!(heap.remove(entry, removed.seq).is_some());
                assert!(heap.remove(entry, removed.seq).is_none(), "removed once");
            }
        }
        assert_consistent(&heap);
        live.sort();
        let mut popped = Vec::new();
        while let Some((key, _)) = heap.pop_if(|_| true) {
            popped.push(key);
        }
        assert_eq!(popped, live.iter().map(|(key, _)| *key).collect::<Vec<_>>());
        assert_eq!(heap.len(), 0);
    }

    #[test]
    fn a_reused_entry_does_not_answer_for_the_timer_that_left_it() {
        let mut heap = TimerHeap::new();
        let first = heap.insert(key(5, 0), Waker::noop().clone());
        assert!(heap.remove(first, 0).is_some());
        let second = heap.insert(key(9, 1), Waker::noop().clone());
        assert_eq!(first, second, "the freed entry is reused");
        assert!(heap.waker_mut(first, 0).is_none());
        assert!(heap.remove(first, 0).is_none());
        assert!(heap.waker_mut(second, 1).is_some());
        assert_eq!(heap.first(), Some(key(9, 1)));
        assert_consistent(&heap);
    }

    #[test]
    fn pop_if_stops_at_the_first_key_not_due() {
        let mut heap = TimerHeap::new();
        for (seq, when) in [30, 10, 20, 10].into_iter().enumerate() {
            heap.insert(key(when, seq as u64), Waker::noop().clone());
        }
        let mut due = Vec::new();
        while let Some((key, _)) = heap.pop_if(|key| key.when <= 20) {
            due.push(key);
        }
        assert_eq!(due, [key(10, 1), key(10, 3), key(20, 2)]);
        assert_eq!(heap.first(), Some(key(30, 0)));
        assert_eq!(heap.iter().count(), 1);
        assert_eq!(heap.take_all().len(), 1);
        assert_eq!(heap.len(), 0);
    }
}
