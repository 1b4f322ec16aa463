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

use alloc::collections::{BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;

/// `fastack` value kcp-go uses to mean "already fast-resent in this RTO cycle".
pub(crate) const FASTACK_SENTINEL: u32 = 0xFFFF_FFFF;

/// One data segment owned by the sender.
#[derive(Debug)]
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
    pub data: Vec<u8>,
}

impl TxSeg {
    pub(crate) fn new(frg: u8, data: Vec<u8>) -> Self {
        TxSeg {
            sn: 0,
            frg,
            ts: 0,
            resendts: 0,
            rto: 0,
            xmit: 0,
            fastack: 0,
            acked: false,
            in_fast: false,
            data,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SendBuffer {
    pub segs: VecDeque<TxSeg>,
    /// Sequence number of `segs[0]`; when empty, of the next segment admitted.
    pub base: u32,
    /// Tombstones (acknowledged, waiting for `una`) in `segs`.
    pub acked: usize,
    /// First sequence number never transmitted.
    pub sent_nxt: u32,
    /// (resend time on the extended clock, sn); stale entries are skipped.
    pub timers: BinaryHeap<Reverse<(i64, u32)>>,
    /// Sequence numbers whose fast-ack counter may trigger a resend.
    pub fast: Vec<u32>,
    /// Scratch list reused by every flush.
    pub scratch: Vec<u32>,
}

impl SendBuffer {
    pub(crate) fn len(&self) -> usize {
        self.segs.len()
    }

    /// Segments still waiting for an acknowledgement.
    pub(crate) fn unacked(&self) -> usize {
        self.segs.len() - self.acked
    }

    /// Sequence number after the last admitted segment (`snd_nxt`).
    pub(crate) fn end(&self) -> u32 {
        self.base.wrapping_add(self.segs.len() as u32)
    }

    pub(crate) fn index_of(&self, sn: u32) -> Option<usize> {
        let i = sn.wrapping_sub(self.base) as usize;
        (i < self.segs.len()).then_some(i)
    }

    pub(crate) fn push(&mut self, mut seg: TxSeg) {
        seg.sn = self.end();
        self.segs.push_back(seg);
    }

    /// Removes every segment with `sn < una`; returns how many, recycling
    /// payloads through `recycle`.
    pub(crate) fn remove_before(&mut self, una: u32, mut recycle: impl FnMut(Vec<u8>)) -> usize {
        let mut n = 0;
        while let Some(front) = self.segs.front() {
            if (una.wrapping_sub(front.sn) as i32) <= 0 {
                break;
            }
            let seg = self.segs.pop_front().expect("front exists");
            if seg.acked {
                self.acked -= 1;
            }
            recycle(seg.data);
            self.base = self.base.wrapping_add(1);
            n += 1;
        }
        if (self.sent_nxt.wrapping_sub(self.base) as i32) < 0 {
            self.sent_nxt = self.base;
        }
        n
    }

    /// Marks `sn` acknowledged (kcp-go keeps the tombstone; see module doc).
    pub(crate) fn mark_acked(&mut self, sn: u32, mut recycle: impl FnMut(Vec<u8>)) {
        if let Some(i) = self.index_of(sn) {
            let seg = &mut self.segs[i];
            if !seg.acked {
                seg.acked = true;
                recycle(core::mem::take(&mut seg.data));
                self.acked += 1;
            }
        }
    }

    /// Drops tombstones at the front (ikcp unlinks acked segments at once,
    /// so its `snd_una` is the first unacknowledged one).
    pub(crate) fn pop_acked_front(&mut self) {
        while self.segs.front().is_some_and(|s| s.acked) {
            self.segs.pop_front();
            self.acked -= 1;
            self.base = self.base.wrapping_add(1);
        }
        if (self.sent_nxt.wrapping_sub(self.base) as i32) < 0 {
            self.sent_nxt = self.base;
        }
    }

    /// Index of the first never-sent segment.
    pub(crate) fn first_unsent(&self) -> usize {
        (self.sent_nxt.wrapping_sub(self.base) as usize).min(self.segs.len())
    }

    /// Registers a (re)transmission's timer.
    pub(crate) fn arm(&mut self, resend_at: i64, sn: u32) {
        self.timers.push(Reverse((resend_at, sn)));
        // Stale entries are bounded by retransmissions in flight; compact if
        // they ever dominate (e.g. after a burst of selective acks).
        if self.timers.len() > 4 * self.segs.len() + 64 {
            let segs = &self.segs;
            let base = self.base;
            self.timers.retain(|Reverse((at, sn))| {
                let i = sn.wrapping_sub(base) as usize;
                segs.get(i)
                    .is_some_and(|s| !s.acked && s.xmit > 0 && s.resendts == *at as u32)
            });
        }
    }

    /// Is this heap entry the live timer of an unacknowledged segment?
    fn timer_is_live(&self, at: i64, sn: u32) -> bool {
        self.index_of(sn).is_some_and(|i| {
            let s = &self.segs[i];
            !s.acked && s.xmit > 0 && s.resendts == at as u32
        })
    }

    /// Earliest live resend time (extended clock), dropping stale entries.
    pub(crate) fn next_resend(&mut self) -> Option<i64> {
        while let Some(&Reverse((at, sn))) = self.timers.peek() {
            if self.timer_is_live(at, sn) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Fills `scratch` with the indices (sorted, unique, all below
    /// `first_unsent`) of sent segments that might be retransmitted at
    /// `now`: expired timers and fast-ack candidates. Clears the fast list;
    /// the caller re-lists candidates that stay candidates.
    pub(crate) fn collect_due(&mut self, now: i64) {
        self.scratch.clear();
        while let Some(&Reverse((at, sn))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.timer_is_live(at, sn) {
                self.scratch.push(sn.wrapping_sub(self.base));
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
