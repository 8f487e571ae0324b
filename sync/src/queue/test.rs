use super::{LifoQueue, PriorityQueue, Queue};
use crate::error::{QueueShutDown, TryGetError, TryPutError};
use crate::test_support::poll_once as poll;
use std::pin::pin;
use std::task::Poll;

#[test]
fn each_queue_hands_items_out_in_its_own_order() {
    let fifo = Queue::new(0);
    let lifo = LifoQueue::new(0);
    let priority = PriorityQueue::new(0);
    for n in [3, 1, 2] {
        fifo.try_put(n).unwrap();
        lifo.try_put(n).unwrap();
        priority.try_put(n).unwrap();
    }
    let drain = |get: &dyn Fn() -> Result<i32, TryGetError>| (0..3).map(|_| get().unwrap()).collect::<Vec<_>>();
    assert_eq!(drain(&|| fifo.try_get()), [3, 1, 2]);
    assert_eq!(drain(&|| lifo.try_get()), [2, 1, 3]);
    assert_eq!(drain(&|| priority.try_get()), [1, 2, 3]);
}

#[test]
fn an_item_handed_to_a_getter_is_not_available_to_try_get() {
    let queue = Queue::new(0);
    let mut getter = pin!(queue.get());
    assert!(poll(getter.as_mut()).is_pending());
    queue.try_put(1).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.try_get(), Err(TryGetError::Empty));
    assert_eq!(poll(getter.as_mut()), Poll::Ready(Ok(1)));
    assert_eq!(queue.len(), 0);
}

#[test]
fn an_item_in_flight_takes_room_until_its_getter_resumes() {
    let queue = Queue::new(1);
    let mut getter = pin!(queue.get());
    assert!(poll(getter.as_mut()).is_pending());
    queue.try_put(1).unwrap();
    assert!(queue.is_full());
    assert_eq!(queue.try_put(2), Err(TryPutError::Full(2)));
    assert!(poll(getter.as_mut()).is_ready());
    assert_eq!(queue.try_put(2), Ok(()));
}

#[test]
fn a_getter_dropped_with_an_item_passes_it_to_the_next_getter() {
    let queue = Queue::new(0);
    let mut first = Box::pin(queue.get());
    let mut second = pin!(queue.get());
    assert!(poll(first.as_mut()).is_pending());
    assert!(poll(second.as_mut()).is_pending());
    queue.try_put(1).unwrap();
    drop(first);
    assert_eq!(poll(second.as_mut()), Poll::Ready(Ok(1)));
}

#[test]
fn a_getter_dropped_with_an_item_puts_it_back_in_front() {
    let queue = Queue::new(0);
    let mut getter = Box::pin(queue.get());
    assert!(poll(getter.as_mut()).is_pending());
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    drop(getter);
    assert_eq!(queue.try_get(), Ok(1));
    assert_eq!(queue.try_get(), Ok(2));
}

#[test]
fn a_lifo_getter_dropped_with_an_item_puts_it_under_newer_ones() {
    let queue = LifoQueue::new(0);
    let mut getter = Box::pin(queue.get());
    assert!(poll(getter.as_mut()).is_pending());
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    drop(getter);
    assert_eq!(queue.try_get(), Ok(2));
    assert_eq!(queue.try_get(), Ok(1));
}

#[test]
fn room_freed_by_a_get_is_reserved_for_the_oldest_putter() {
    let queue = Queue::new(1);
    queue.try_put(1).unwrap();
    let mut putter = pin!(queue.put(2));
    assert!(poll(putter.as_mut()).is_pending());
    assert_eq!(queue.try_get(), Ok(1));
    // The slot is the waiting putter's, not a newcomer's.
    assert_eq!(queue.try_put(3), Err(TryPutError::Full(3)));
    assert_eq!(poll(putter.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(queue.try_get(), Ok(2));
}

#[test]
fn a_putter_dropped_with_a_reserved_slot_passes_it_on() {
    let queue = Queue::new(1);
    queue.try_put(1).unwrap();
    let mut first = Box::pin(queue.put(2));
    let mut second = pin!(queue.put(3));
    assert!(poll(first.as_mut()).is_pending());
    assert!(poll(second.as_mut()).is_pending());
    assert_eq!(queue.try_get(), Ok(1));
    drop(first);
    assert_eq!(poll(second.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(queue.try_get(), Ok(3));
}

#[test]
fn shutdown_refuses_waiting_putters_and_wakes_waiting_getters() {
    let full = Queue::new(1);
    full.try_put(1).unwrap();
    let mut putter = pin!(full.put(2));
    assert!(poll(putter.as_mut()).is_pending());
    full.shutdown(false);
    let Poll::Ready(Err(err)) = poll(putter.as_mut()) else { panic!("putter not refused") };
    assert_eq!(err.into_inner(), 2);
    assert_eq!(full.try_get(), Ok(1));

    let empty = Queue::<u8>::new(0);
    let mut getter = pin!(empty.get());
    assert!(poll(getter.as_mut()).is_pending());
    empty.shutdown(false);
    assert_eq!(poll(getter.as_mut()), Poll::Ready(Err(QueueShutDown)));
}

#[test]
fn immediate_shutdown_discards_items_and_releases_join() {
    let queue = Queue::new(0);
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    let mut join = pin!(queue.join());
    assert!(poll(join.as_mut()).is_pending());
    queue.shutdown(true);
    assert!(poll(join.as_mut()).is_ready());
    assert_eq!(queue.try_get(), Err(TryGetError::ShutDown));
    assert!(queue.is_empty());
}

#[test]
fn join_waits_for_every_task_done() {
    let queue = Queue::new(0);
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    let mut join = pin!(queue.join());
    assert!(poll(join.as_mut()).is_pending());
    queue.try_get().unwrap();
    queue.task_done().unwrap();
    assert!(poll(join.as_mut()).is_pending());
    queue.try_get().unwrap();
    queue.task_done().unwrap();
    assert!(poll(join.as_mut()).is_ready());
    assert!(queue.task_done().is_err());
}
