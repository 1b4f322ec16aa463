//! The receive side: a reorder window indexed by sequence number and the
//! ordered queue the application reads from.
//!
//! kcp-go keeps out-of-order segments in a heap plus a hash set, ikcp in a
//! sorted list; both only ever store `rcv_nxt <= sn < rcv_nxt + rcv_wnd`,
//! so a ring of `rcv_wnd` slots holds the same set with O(1) insert,
//! duplicate check and in-order release.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A received data segment; its sn is implied by its position. The payload
/// is `data[start..]`: `start` is 0 for a copied payload, and the payload's
/// offset when the segment kept the whole datagram buffer it arrived in.
#[derive(Debug)]
pub(crate) struct RxSeg {
    pub frg: u8,
    pub start: usize,
    pub data: Vec<u8>,
}

impl RxSeg {
    pub(crate) fn payload(&self) -> &[u8] {
        &self.data[self.start..]
    }
}

#[derive(Debug, Default)]
pub(crate) struct RecvBuffer {
    /// Reorder ring: slot `(head + (sn - rcv_nxt)) & (slots.len() - 1)`; the
    /// length is a power of two at least `rcv_wnd`.
    slots: Vec<Option<RxSeg>>,
    head: usize,
    /// Segments held in `slots` (`len(rcv_buf)`).
    pub buffered: usize,
    /// Ordered, complete-or-not segments the application reads (`rcv_queue`).
    pub queue: VecDeque<RxSeg>,
    /// Next sequence number expected in order.
    pub rcv_nxt: u32,
}

/// What happened to an incoming data segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    New,
    Duplicate,
    OutOfWindow,
}

impl RecvBuffer {
    pub(crate) fn new(rcv_wnd: u32) -> Self {
        let mut r = RecvBuffer::default();
        r.reserve_window(rcv_wnd);
        r
    }

    /// Makes room for a window of `rcv_wnd` slots (never shrinks, so segments
    /// stored under a larger window keep their place).
    pub(crate) fn reserve_window(&mut self, rcv_wnd: u32) {
        let want = (rcv_wnd as usize).max(1).next_power_of_two();
        let cap = self.slots.len();
        if want <= cap {
            return;
        }
        let mut slots: Vec<Option<RxSeg>> = Vec::with_capacity(want);
        for i in 0..cap {
            slots.push(self.slots[(self.head + i) % cap].take());
        }
        slots.resize_with(want, || None);
        self.slots = slots;
        self.head = 0;
        self.queue
            .reserve(want.saturating_sub(self.queue.capacity()));
    }

    /// Stores a data segment if it is new and inside the window, copying its
    /// payload with `copy` (called only for new segments, like kcp-go).
    pub(crate) fn insert(
        &mut self,
        sn: u32,
        frg: u8,
        rcv_wnd: u32,
        copy: impl FnOnce() -> Vec<u8>,
    ) -> Stored {
        let off = sn.wrapping_sub(self.rcv_nxt);
        if (off as i32) < 0 || (sn.wrapping_sub(self.rcv_nxt.wrapping_add(rcv_wnd)) as i32) >= 0 {
            return Stored::OutOfWindow;
        }
        // In-order arrival with nothing held back: straight to the queue
        // (what storing it and releasing in order would do, minus a move).
        if off == 0 && self.buffered == 0 && self.queue.len() < rcv_wnd as usize {
            self.queue.push_back(RxSeg {
                frg,
                start: 0,
                data: copy(),
            });
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            let mask = self.slots.len() - 1;
            self.head = (self.head + 1) & mask;
            return Stored::New;
        }
        let mask = self.slots.len() - 1;
        let slot = &mut self.slots[(self.head + off as usize) & mask];
        if slot.is_some() {
            return Stored::Duplicate;
        }
        *slot = Some(RxSeg {
            frg,
            start: 0,
            data: copy(),
        });
        self.buffered += 1;
        Stored::New
    }

    /// Moves in-order segments to the queue while it has fewer than
    /// `rcv_wnd` entries.
    pub(crate) fn release_in_order(&mut self, rcv_wnd: u32) {
        let mask = self.slots.len() - 1;
        while self.buffered > 0 && self.queue.len() < rcv_wnd as usize {
            let Some(seg) = self.slots[self.head].take() else {
                break;
            };
            self.queue.push_back(seg);
            self.buffered -= 1;
            self.head = (self.head + 1) & mask;
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        }
    }

    /// Free receive slots to advertise (`wnd_unused`), truncated to u16 as
    /// both references do.
    pub(crate) fn wnd_unused(&self, rcv_wnd: u32) -> u16 {
        let q = self.queue.len();
        if q < rcv_wnd as usize {
            (rcv_wnd as usize - q) as u16
        } else {
            0
        }
    }

    /// Size of the next message, or `None` if the queue is empty or the head
    /// message is not complete.
    pub(crate) fn peek_size(&self) -> Option<usize> {
        let head = self.queue.front()?;
        if head.frg == 0 {
            return Some(head.payload().len());
        }
        if self.queue.len() < head.frg as usize + 1 {
            return None;
        }
        let mut len = 0;
        for seg in &self.queue {
            len += seg.payload().len();
            if seg.frg == 0 {
                break;
            }
        }
        Some(len)
    }

    /// Pops one message into `buf` (which the caller sized with
    /// `peek_size`), recycling payloads.
    pub(crate) fn pop_message(&mut self, buf: &mut [u8], mut recycle: impl FnMut(RxSeg)) -> usize {
        let mut n = 0;
        while let Some(seg) = self.queue.pop_front() {
            let payload = seg.payload();
            buf[n..n + payload.len()].copy_from_slice(payload);
            n += payload.len();
            let last = seg.frg == 0;
            recycle(seg);
            if last {
                break;
            }
        }
        n
    }

    /// Visits the next message's fragments without copying or popping.
    pub(crate) fn message_fragments(&self) -> impl Iterator<Item = &[u8]> {
        let mut done = false;
        self.queue.iter().map_while(move |seg| {
            if done {
                return None;
            }
            done = seg.frg == 0;
            Some(seg.payload())
        })
    }

    /// Pops the next message without copying, recycling payloads.
    pub(crate) fn discard_message(&mut self, mut recycle: impl FnMut(RxSeg)) {
        while let Some(seg) = self.queue.pop_front() {
            let last = seg.frg == 0;
            recycle(seg);
            if last {
                break;
            }
        }
    }

    /// The stored segment `sn`, wherever it is (reorder ring or queue).
    pub(crate) fn locate_mut(&mut self, sn: u32) -> Option<&mut RxSeg> {
        let ahead = sn.wrapping_sub(self.rcv_nxt);
        if (ahead as i32) >= 0 {
            let mask = self.slots.len() - 1;
            let slot = self.slots.get_mut((self.head + ahead as usize) & mask)?;
            return slot.as_mut();
        }
        // The queue holds rcv_nxt - queue.len() .. rcv_nxt, in order.
        let behind = self.rcv_nxt.wrapping_sub(sn) as usize;
        let i = self.queue.len().checked_sub(behind)?;
        self.queue.get_mut(i)
    }
}
