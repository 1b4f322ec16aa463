//! The endpoint's timer heap on an extended (non-wrapping) millisecond
//! clock, with lazy deletion: re-arming pushes a new entry and the old one
//! is skipped when it surfaces, so idle sessions cost nothing per tick.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use kcp_core::Timestamp;

/// Maps wrapping [`Timestamp`]s onto a monotonic `i64` line anchored at the
/// latest `now` seen (deadlines are always within ±2^31 ms of it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExtClock {
    base: Timestamp,
    ext: i64,
}

impl ExtClock {
    pub(crate) fn new(now: Timestamp) -> Self {
        ExtClock { base: now, ext: 0 }
    }

    /// Moves the anchor forward to `now` (never back) and returns its value.
    pub(crate) fn update(&mut self, now: Timestamp) -> i64 {
        let d = now.diff(self.base);
        if d > 0 {
            self.base = now;
            self.ext += i64::from(d);
        }
        self.to_ext(now)
    }

    pub(crate) fn to_ext(self, t: Timestamp) -> i64 {
        self.ext + i64::from(t.diff(self.base))
    }

    pub(crate) fn to_ts(self, ext: i64) -> Timestamp {
        self.base.add_millis((ext - self.ext) as u32)
    }
}

/// `(deadline, slot index, slot generation)`, earliest first.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<(i64, u32, u32)>>,
}

impl TimerHeap {
    pub(crate) fn push(&mut self, at: i64, index: u32, generation: u32) {
        self.heap.push(Reverse((at, index, generation)));
    }

    pub(crate) fn peek(&self) -> Option<(i64, u32, u32)> {
        self.heap.peek().map(|r| r.0)
    }

    pub(crate) fn pop(&mut self) -> Option<(i64, u32, u32)> {
        self.heap.pop().map(|r| r.0)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Rebuilds from the live entries only (bounds memory under churn).
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = (i64, u32, u32)>) {
        self.heap.clear();
        self.heap.extend(live.map(Reverse));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint runs for months: the extended clock keeps counting
    /// across many wraps of the 32-bit one, in big steps and small, and a
    /// time slightly behind the latest reads as slightly in the past.
    #[test]
    fn counts_on_across_wraps_and_never_back() {
        let mut c = ExtClock::new(Timestamp::from_millis(u32::MAX - 5));
        let mut t = Timestamp::from_millis(u32::MAX - 5);
        let mut total = 0i64;
        for step in [1u32, 1 << 30, 1 << 30, (1 << 31) - 1, 7, 1 << 30, 1 << 29] {
            t = t.add_millis(step);
            total += i64::from(step);
            assert_eq!(c.update(t), total, "after +{step}");
        }
        assert!(total > 1i64 << 32, "more than one wrap");
        // An older time does not move the clock back.
        assert_eq!(c.update(t.add_millis(u32::MAX - 99)), total - 100);
        assert_eq!(c.to_ext(t), total);
        assert_eq!(c.to_ts(total + 50), t.add_millis(50));
    }

    #[test]
    fn clock_survives_the_wrap() {
        let mut c = ExtClock::new(Timestamp::from_millis(u32::MAX - 5));
        assert_eq!(c.update(Timestamp::from_millis(u32::MAX - 5)), 0);
        assert_eq!(c.update(Timestamp::from_millis(4)), 10);
        assert_eq!(c.to_ext(Timestamp::from_millis(u32::MAX)), 5);
        assert_eq!(c.to_ts(30), Timestamp::from_millis(24));
        // `now` never moves the anchor back.
        assert_eq!(c.update(Timestamp::from_millis(2)), 8);
        assert_eq!(c.to_ext(Timestamp::from_millis(4)), 10);
    }

    #[test]
    fn heap_orders_by_deadline() {
        let mut h = TimerHeap::default();
        h.push(30, 1, 0);
        h.push(10, 2, 0);
        h.push(20, 3, 0);
        assert_eq!(h.pop(), Some((10, 2, 0)));
        assert_eq!(h.peek(), Some((20, 3, 0)));
        assert_eq!(h.len(), 2);
    }
}
