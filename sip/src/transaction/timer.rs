//! Timers as data: the RFC 3261 §17 timer kinds, a per-transaction deadline
//! table, and the layer-wide queue that finds the next deadline.
//!
//! The queue is a min-heap with lazy deletion: stopping a timer only clears
//! the transaction's table entry, and heap entries that no longer agree with
//! their table are discarded when they reach the top. That keeps arm/stop at
//! O(log n)/O(1) without a remove-by-key on the heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::TxId;

/// The timers of RFC 3261 §17 and RFC 6026 (Table 4 of RFC 3261, plus L and M).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE client: request retransmission (UDP only), doubling, uncapped.
    A,
    /// INVITE client: transaction timeout in Calling (64*T1).
    B,
    /// INVITE client: wait for response retransmissions in Completed.
    D,
    /// Non-INVITE client: request retransmission (UDP only), doubling to T2.
    E,
    /// Non-INVITE client: transaction timeout (64*T1).
    F,
    /// INVITE server: final response retransmission (UDP only), doubling to T2.
    G,
    /// INVITE server: wait for ACK (64*T1).
    H,
    /// INVITE server: absorb ACK retransmissions in Confirmed (T4 on UDP).
    I,
    /// Non-INVITE server: absorb request retransmissions in Completed.
    J,
    /// Non-INVITE client: absorb response retransmissions in Completed (T4 on UDP).
    K,
    /// INVITE server (RFC 6026): how long Accepted absorbs INVITE retransmissions.
    L,
    /// INVITE client (RFC 6026): how long Accepted passes 2xx responses to the TU.
    M,
    /// INVITE client: give up 64*T1 after a CANCEL was sent for it and no
    /// final response came (RFC 3261 §9.1).
    Cancelled,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Timer; 13] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
        Timer::Cancelled,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// One transaction's armed deadlines, indexed by timer kind.
#[derive(Clone, Debug, Default)]
pub struct TimerTable {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.index()]
    }

    /// Arms (or re-arms) `timer` for `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }
}

/// The layer-wide queue of `(deadline, transaction, timer)`, earliest first.
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, TxId, Timer)>>,
}

impl TimerQueue {
    /// Records that `tx` armed `timer` for `at`.
    pub fn push(&mut self, at: Instant, tx: TxId, timer: Timer) {
        self.heap.push(Reverse((at, tx, timer)));
    }

    /// The earliest entry, live or stale.
    pub fn peek(&self) -> Option<(Instant, TxId, Timer)> {
        self.heap.peek().map(|Reverse(entry)| *entry)
    }

    /// Removes the earliest entry.
    pub fn pop(&mut self) -> Option<(Instant, TxId, Timer)> {
        self.heap.pop().map(|Reverse(entry)| entry)
    }

    /// Number of entries, live and stale.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries for which `live` holds (an O(n) compaction,
    /// run when stale entries dominate).
    pub fn retain(&mut self, mut live: impl FnMut(Instant, TxId, Timer) -> bool) {
        self.heap
            .retain(|Reverse((at, tx, timer))| live(*at, *tx, *timer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn table_set_get_stop() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.get(Timer::B), None);
        table.set(Timer::B, t0 + Duration::from_secs(32));
        table.set(Timer::A, t0 + Duration::from_millis(500));
        assert_eq!(table.get(Timer::A), Some(t0 + Duration::from_millis(500)));
        table.stop(Timer::A);
        assert_eq!(table.get(Timer::A), None);
        assert_eq!(table.get(Timer::B), Some(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn every_timer_has_its_own_slot() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        for (i, timer) in Timer::ALL.iter().enumerate() {
            table.set(*timer, t0 + Duration::from_millis(i as u64));
        }
        for (i, timer) in Timer::ALL.iter().enumerate() {
            assert_eq!(
                table.get(*timer),
                Some(t0 + Duration::from_millis(i as u64))
            );
        }
    }

    #[test]
    fn queue_pops_earliest_first_and_retain_drops() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        q.push(t0 + Duration::from_secs(3), TxId(1), Timer::B);
        q.push(t0 + Duration::from_secs(1), TxId(2), Timer::E);
        q.push(t0 + Duration::from_secs(2), TxId(3), Timer::G);
        assert_eq!(
            q.peek(),
            Some((t0 + Duration::from_secs(1), TxId(2), Timer::E))
        );
        q.retain(|_, tx, _| tx != TxId(3));
        assert_eq!(q.len(), 2);
        assert_eq!(
            q.pop(),
            Some((t0 + Duration::from_secs(1), TxId(2), Timer::E))
        );
        assert_eq!(
            q.pop(),
            Some((t0 + Duration::from_secs(3), TxId(1), Timer::B))
        );
        assert_eq!(q.pop(), None);
    }
}
