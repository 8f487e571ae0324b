//! The three orders a queue can hand items out in.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Where a queue keeps the items nobody is waiting for yet.
pub(crate) trait Store<T>: Default {
    fn push(&mut self, item: T);

    /// The next item in this store's order.
    fn pop(&mut self) -> Option<T>;

    /// Puts back an item that was handed to a getter who left without it.
    /// It was put before everything the store holds now (a getter only waits
    /// while the store is empty), so it goes where the oldest item goes.
    fn push_oldest(&mut self, item: T);

    fn len(&self) -> usize;
}

/// First in, first out: asyncio's `Queue`.
#[derive(Debug)]
pub(crate) struct Fifo<T>(VecDeque<T>);

/// Last in, first out: asyncio's `LifoQueue`.
#[derive(Debug)]
pub(crate) struct Lifo<T>(Vec<T>);

/// Smallest first: asyncio's `PriorityQueue`, which is a min-heap.
#[derive(Debug)]
pub(crate) struct Priority<T>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Fifo<T> {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Lifo<T> {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Priority<T> {
        Priority(BinaryHeap::new())
    }
}

impl<T> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn push_oldest(&mut self, item: T) {
        self.0.push_front(item);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    fn push_oldest(&mut self, item: T) {
        // Rare (a getter cancelled right after a hand-off), so the shift is
        // cheaper overall than a deque on every push and pop.
        self.0.insert(0, item);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }

    fn push_oldest(&mut self, item: T) {
        self.push(item);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}
