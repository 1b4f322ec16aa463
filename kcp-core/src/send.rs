//! The send side: the queue of segments not yet admitted to the window, and
//! the in-flight buffer with its retransmission timers.
//!
//! `snd_buf` holds segments with consecutive sequence numbers starting at
//! `base` (`snd_una`), so a segment is found by index, never by a scan.
//! Acknowledged segments stay in place as tombstones until the cumulative
//! `una` passes them, exactly as kcp-go keeps them (its `acked` flag).
//!
//! A flush must only visit what is due: segments never sent (a suffix of
//! the buffer), segments whose RTO expired (a min-heap of resend times with
//! lazy deletion), and segments with a non-zero fast-ack count (a candidate
//! list). Everything else is provably untouched by a reference flush.

use alloc::collections::BinaryHeap;
use alloc::collections::binary_heap::PeekMut as BinaryHeapPeekMut;
use alloc::vec::Vec;
use core::cmp::Reverse;

use crate::ring::Ring;
use crate::segment::OVERHEAD;

/// `fastack` value kcp-go uses to mean "already fast-resent in this RTO cycle".
pub(crate) const FASTACK_SENTINEL: u32 = 0xFFFF_FFFF;

/// One data segment owned by the sender.
#[derive(Debug, Default)]
pub(crate) struct TxSeg {
    pub sn: u32,
    pub frg: u8,
    pub ts: u32,
    pub resendts: u32,
    pub rto: u32,
    pub xmit: u32,
    pub fastack: u32,
    pub acked: bool,
    /// Listed in `SendBuffer::fast` (avoids duplicate entries).
    pub in_fast: bool,
    /// `OVERHEAD` bytes of room for the header, then the payload, so a
    /// segment that fills a datagram can be sent from here without a copy.
    pub data: Vec<u8>,
}

impl TxSeg {
    pub(crate) fn payload_len(&self) -> usize {
        self.data.len() - OVERHEAD
    }

    pub(crate) fn payload(&self) -> &[u8] {
        &self.data[OVERHEAD..]
    }

    /// Makes this (new or retired) segment a fresh one carrying `payload`,
    /// reusing its buffer. `room` is the payload size the buffer should have room for (the
    /// MSS: stream mode appends to a queued segment up to it), so a new
    /// buffer is allocated once, at its final size.
    pub(crate) fn reset(&mut self, frg: u8, payload: &[u8], room: usize) {
        let data = core::mem::take(&mut self.data);
        *self = TxSeg {
            frg,
            data,
            ..TxSeg::default()
        };
        self.data.clear();
        self.data.reserve(OVERHEAD + room.max(payload.len()));
        self.data.extend_from_slice(&[0u8; OVERHEAD]);
        self.data.extend_from_slice(payload);
    }
}

#[derive(Debug, Default)]
pub(crate) struct SendBuffer {
    /// The window (`snd_buf`, the first `admitted` entries) followed by the
    /// queue of segments not yet admitted (`snd_queue`): one deque, so
    /// admission moves a boundary instead of the segment.
    pub segs: Ring<TxSeg>,
    /// Ring capacity kept when the queue drains (retired slots keep their
    /// buffers for reuse; beyond this the ring shrinks back).
    keep: usize,
    /// Segments in the window.
    admitted: usize,
    /// Sequence number of `segs[0]`; when the window is empty, of the next
    /// segment admitted.
    pub base: u32,
    /// Tombstones (acknowledged, waiting for `una`) in `segs`.
    pub acked: usize,
    /// First sequence number never transmitted.
    pub sent_nxt: u32,
    /// (resend time on the extended clock, first sn, count): segments sent
    /// in one flush share a resend time and mostly consecutive sequence
    /// numbers, so one entry covers a run. Entries whose segments were
    /// acknowledged or retransmitted since are stale and skipped.
    pub timers: BinaryHeap<Reverse<(i64, u32, u32)>>,
    /// The run being built by the current flush, not yet in `timers`.
    pending: Option<(i64, u32, u32)>,
    /// Sequence numbers whose fast-ack counter may trigger a resend.
    pub fast: Vec<u32>,
    /// Scratch list reused by every flush.
    pub scratch: Vec<u32>,
}

impl SendBuffer {
    /// An empty send side keeping `keep` segment slots once used (see
    /// [`set_keep`](Self::set_keep)).
    pub(crate) fn new(keep: usize) -> Self {
        let mut b = SendBuffer::default();
        b.set_keep(keep);
        b
    }

    /// Segments in the window (`len(snd_buf)`).
    pub(crate) fn len(&self) -> usize {
        self.admitted
    }

    /// Segments queued behind the window (`len(snd_queue)`).
    pub(crate) fn queued(&self) -> usize {
        self.segs.len() - self.admitted
    }

    /// Segments in the window still waiting for an acknowledgement.
    pub(crate) fn unacked(&self) -> usize {
        self.admitted - self.acked
    }

    /// Sequence number after the last admitted segment (`snd_nxt`).
    pub(crate) fn end(&self) -> u32 {
        self.base.wrapping_add(self.admitted as u32)
    }

    pub(crate) fn index_of(&self, sn: u32) -> Option<usize> {
        let i = sn.wrapping_sub(self.base) as usize;
        (i < self.admitted).then_some(i)
    }

    /// Sets how many segment slots (with their buffers) stay allocated
    /// when the queue drains.
    pub(crate) fn set_keep(&mut self, segments: usize) {
        self.keep = segments.next_power_of_two();
    }

    /// Appends a segment carrying `payload` to the queue behind the window.
    /// `room`: see [`TxSeg::reset`].
    pub(crate) fn enqueue(&mut self, frg: u8, payload: &[u8], room: usize) {
        self.segs
            .push_back_with(|seg| seg.reset(frg, payload, room));
    }

    /// Gives memory back after a burst: shrinks the ring once it is more
    /// than four times larger than needed and than `keep`.
    fn shrink_if_idle(&mut self) {
        let cap = self.segs.capacity();
        if cap > self.keep && self.segs.len() <= cap / 4 {
            let want = (2 * self.segs.len()).max(16).next_power_of_two();
            self.segs.resize(want.max(self.keep));
        }
    }

    /// The last queued (not admitted) segment, for stream-mode coalescing.
    pub(crate) fn last_queued_mut(&mut self) -> Option<&mut TxSeg> {
        if self.segs.len() > self.admitted {
            self.segs.back_mut()
        } else {
            None
        }
    }

    /// Admits the first queued segment into the window, giving it the next
    /// sequence number; returns its index.
    pub(crate) fn admit_next(&mut self) -> Option<usize> {
        let i = self.admitted;
        let sn = self.end();
        let seg = self.segs.get_mut(i)?;
        seg.sn = sn;
        self.admitted += 1;
        Some(i)
    }

    /// Removes every segment with `sn < una` (their slots keep the buffers
    /// for reuse); returns how many.
    pub(crate) fn remove_before(&mut self, una: u32) -> usize {
        // `segs[i].sn == base + i` for every admitted segment.
        let ahead = una.wrapping_sub(self.base) as i32;
        let n = if ahead > 0 {
            (ahead as usize).min(self.admitted)
        } else {
            0
        };
        if n > 0 {
            let mut tombstones = 0;
            self.segs
                .pop_front_n(n, |seg| tombstones += usize::from(seg.acked));
            self.admitted -= n;
            self.acked -= tombstones;
            self.base = self.base.wrapping_add(n as u32);
            self.shrink_if_idle();
        }
        if (self.sent_nxt.wrapping_sub(self.base) as i32) < 0 {
            self.sent_nxt = self.base;
        }
        n
    }

    /// Marks `sn` acknowledged (kcp-go keeps the tombstone; see module doc).
    pub(crate) fn mark_acked(&mut self, sn: u32) {
        if let Some(i) = self.index_of(sn) {
            let seg = &mut self.segs[i];
            if !seg.acked {
                seg.acked = true;
                self.acked += 1;
            }
        }
    }

    /// Drops tombstones at the front (ikcp unlinks acked segments at once,
    /// so its `snd_una` is the first unacknowledged one).
    pub(crate) fn pop_acked_front(&mut self) {
        let run = (0..self.admitted)
            .take_while(|&i| self.segs[i].acked)
            .count();
        self.remove_before(self.base.wrapping_add(run as u32));
    }

    /// Index of the first never-sent segment.
    pub(crate) fn first_unsent(&self) -> usize {
        (self.sent_nxt.wrapping_sub(self.base) as usize).min(self.admitted)
    }

    /// Registers a (re)transmission's timer; runs of consecutive sequence
    /// numbers with the same resend time share one heap entry.
    #[inline]
    pub(crate) fn arm(&mut self, resend_at: i64, sn: u32) {
        if let Some((at, first, count)) = &mut self.pending {
            if *at == resend_at && first.wrapping_add(*count) == sn {
                *count += 1;
                return;
            }
        }
        self.flush_pending();
        self.pending = Some((resend_at, sn, 1));
    }

    /// Moves the run under construction into the heap.
    fn flush_pending(&mut self) {
        let Some(run) = self.pending.take() else {
            return;
        };
        self.timers.push(Reverse(run));
        // Stale entries are bounded by retransmissions in flight; compact if
        // they ever dominate (e.g. after a burst of selective acks).
        if self.timers.len() > 2 * self.admitted + 64 {
            let (segs, base) = (&self.segs, self.base);
            self.timers.retain(|&Reverse((at, first, count))| {
                (0..count).any(|k| live(segs, base, at, first.wrapping_add(k)))
            });
        }
    }

    /// Earliest live resend time (extended clock), dropping stale entries.
    ///
    /// The earliest run is trimmed to start at its first live segment: the
    /// ones before it are acknowledged or were retransmitted since (their
    /// timer moved to a later run), and never become live in this run again.
    /// Without the trim, every flush while a window drains would rescan the
    /// acknowledged prefix of the run (quadratic in the window).
    pub(crate) fn next_resend(&mut self) -> Option<i64> {
        self.flush_pending();
        while let Some(mut top) = self.timers.peek_mut() {
            let Reverse((at, first, count)) = *top;
            let (segs, base) = (&self.segs, self.base);
            // Segments below `base` are gone: skip them without a lookup.
            let skip = match base.wrapping_sub(first) {
                d if (d as i32) > 0 => d.min(count),
                _ => 0,
            };
            match (skip..count).find(|&k| live(segs, base, at, first.wrapping_add(k))) {
                Some(0) => return Some(at),
                Some(k) => {
                    *top = Reverse((at, first.wrapping_add(k), count - k));
                    drop(top);
                    return Some(at);
                }
                None => {
                    BinaryHeapPeekMut::pop(top);
                }
            }
        }
        None
    }

    /// Fills `scratch` with the indices (sorted, unique, all below
    /// `first_unsent`) of sent segments that might be retransmitted at
    /// `now`: expired timers and fast-ack candidates. Clears the fast list;
    /// the caller re-lists candidates that stay candidates.
    pub(crate) fn collect_due(&mut self, now: i64) {
        self.flush_pending();
        self.scratch.clear();
        while let Some(&Reverse((at, first, count))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            for k in 0..count {
                let sn = first.wrapping_add(k);
                if live(&self.segs, self.base, at, sn) {
                    self.scratch.push(sn.wrapping_sub(self.base));
                }
            }
        }
        for k in 0..self.fast.len() {
            let sn = self.fast[k];
            if let Some(i) = self.index_of(sn) {
                let s = &mut self.segs[i];
                s.in_fast = false;
                if !s.acked && s.xmit > 0 {
                    self.scratch.push(i as u32);
                }
            }
        }
        self.fast.clear();
        self.scratch.sort_unstable();
        self.scratch.dedup();
    }

    /// After a flush visited segment `i` (kcp-go profile): keeps it listed
    /// while its fast-ack count can still trigger a fast resend.
    pub(crate) fn relist_if_fast_candidate(&mut self, i: usize) {
        let fastack = self.segs[i].fastack;
        if fastack > 0 && fastack != FASTACK_SENTINEL {
            self.list_fast(i);
        }
    }

    /// Lists `sn` as a fast-retransmit candidate (idempotent).
    pub(crate) fn list_fast(&mut self, i: usize) {
        let s = &mut self.segs[i];
        if !s.in_fast {
            s.in_fast = true;
            let sn = s.sn;
            self.fast.push(sn);
        }
    }
}

/// Is `at` the live timer of segment `sn` (unacknowledged, sent, not
/// retransmitted since)? Queued segments are never sent (`xmit == 0`).
fn live(segs: &Ring<TxSeg>, base: u32, at: i64, sn: u32) -> bool {
    let i = sn.wrapping_sub(base) as usize;
    segs.get(i)
        .is_some_and(|s| !s.acked && s.xmit > 0 && s.resendts == at as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_gives_memory_back_after_a_burst_but_keeps_a_window() {
        let mut b = SendBuffer::new(100); // keeps 128 slots
        for _ in 0..5000 {
            b.enqueue(0, &[1u8; 1000], 1000);
        }
        while b.admit_next().is_some() {}
        assert_eq!((b.len(), b.segs.capacity()), (5000, 8192));
        // Acknowledge all but the last 10: the ring shrinks, keeping order.
        assert_eq!(b.remove_before(b.base.wrapping_add(4990)), 4990);
        assert_eq!(b.segs.capacity(), 128);
        assert_eq!(b.len(), 10);
        for i in 0..10 {
            assert_eq!(b.segs[i].sn, 4990 + i as u32);
            assert_eq!(b.segs[i].payload(), &[1u8; 1000][..]);
        }
        // Below `keep` it never shrinks: steady traffic reuses the slots.
        assert_eq!(b.remove_before(b.end()), 10);
        assert_eq!(b.segs.capacity(), 128);
    }

    #[test]
    fn a_shrunk_ring_keeps_room_for_twice_what_is_left() {
        let mut b = SendBuffer::new(16);
        for _ in 0..5000 {
            b.enqueue(0, b"x", 10);
        }
        while b.admit_next().is_some() {}
        // 2048 left of 8192: not yet a quarter, so no reallocation.
        b.remove_before(b.base.wrapping_add(5000 - 2049));
        assert_eq!(b.segs.capacity(), 8192);
        // 300 left: room for 600, rounded up, so refilling to twice the
        // remainder does not grow the ring again.
        b.remove_before(b.base.wrapping_add(2049 - 300));
        assert_eq!((b.len(), b.segs.capacity()), (300, 1024));
    }

    #[test]
    fn remove_before_counts_tombstones_and_ignores_stale_una() {
        let mut b = SendBuffer::new(16);
        for _ in 0..8 {
            b.enqueue(0, b"x", 100);
            b.admit_next();
        }
        b.mark_acked(2);
        b.mark_acked(6);
        assert_eq!(b.acked, 2);
        assert_eq!(b.remove_before(0), 0);
        assert_eq!(b.remove_before(4), 4);
        assert_eq!((b.base, b.acked, b.unacked()), (4, 1, 3));
        assert_eq!(b.remove_before(3), 0, "an old una changes nothing");
        assert_eq!(
            b.remove_before(100),
            4,
            "una beyond the window stops at its end"
        );
        assert_eq!((b.len(), b.acked), (0, 0));
    }
}
