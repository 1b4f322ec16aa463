//! The receive side: one ring of slots indexed by sequence number that holds
//! both the ordered queue the application reads from and the reorder window.
//!
//! kcp-go keeps out-of-order segments in a heap plus a hash set and the
//! readable ones in a queue, ikcp both in lists. Here sequence number `sn`
//! always lives in slot `sn & mask`:
//!
//! ```text
//!   read ........ rcv_nxt ............ rcv_nxt + rcv_wnd
//!   [ queue: readable ) [ reorder window: sparse ]
//! ```
//!
//! so insertion, the duplicate check, in-order release and reading are
//! O(1) per segment and nothing moves. Each slot owns its payload buffer
//! and keeps it after the segment is read, for the next segment that lands
//! in it: no free list, no allocation once every slot was used once.
//!
//! The ring starts small and doubles when a segment lands beyond it, so an
//! idle session with a large window costs a few hundred bytes rather than
//! two windows of slots; it never shrinks, so a busy session stops
//! allocating once it has seen its largest reach.

use alloc::vec::Vec;

/// Slots a new ring starts with.
const MIN_SLOTS: usize = 8;

/// One slot of the ring. Its sequence number is implied by its position.
#[derive(Debug, Default)]
struct Slot {
    /// Holds a segment (queued or waiting in the reorder window).
    filled: bool,
    frg: u8,
    /// Offset of the payload in `data`: 0 for a copied payload, the KCP
    /// header's end for a datagram buffer taken by `input_buffer`.
    start: u32,
    data: Vec<u8>,
}

impl Slot {
    fn payload(&self) -> &[u8] {
        self.data.get(self.start as usize..).unwrap_or(&[])
    }
}

#[derive(Debug)]
pub(crate) struct RecvBuffer {
    /// Power-of-two ring covering every live sequence number, i.e.
    /// `[read, sn]` for the highest `sn` stored; grows on demand, bounded by
    /// twice the largest receive window used (the queue holds at most one
    /// window, the reorder window another).
    slots: Vec<Slot>,
    /// First sequence number in the queue (the next one to read).
    read: u32,
    /// Next sequence number expected in order; `[read, rcv_nxt)` is the queue.
    pub rcv_nxt: u32,
    /// Filled slots at or after `rcv_nxt` (kcp-go's `len(rcv_buf)`).
    pub buffered: usize,
    /// Slot buffers larger than this are dropped once read, so hostile
    /// oversized segments do not pin memory.
    max_keep: usize,
}

/// What [`RecvBuffer::insert`] did with a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    New,
    Duplicate,
    OutOfWindow,
}

impl RecvBuffer {
    pub(crate) fn new(max_keep: usize) -> Self {
        let mut slots = Vec::new();
        slots.resize_with(MIN_SLOTS, Slot::default);
        RecvBuffer {
            slots,
            read: 0,
            rcv_nxt: 0,
            buffered: 0,
            max_keep,
        }
    }

    pub(crate) fn set_max_keep(&mut self, max_keep: usize) {
        self.max_keep = max_keep;
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn slot(&self, sn: u32) -> &Slot {
        &self.slots[sn as usize & self.mask()]
    }

    /// Segments ready to read (kcp-go's `len(rcv_queue)`).
    pub(crate) fn queued(&self) -> usize {
        self.rcv_nxt.wrapping_sub(self.read) as usize
    }

    /// Grows the ring to at least `need` slots (rounded up to a power of
    /// two). Every live sn lies in `[read, read + cap)`: each old slot moves
    /// to the position of the one sn of that range it stands for.
    fn grow(&mut self, need: usize) {
        let cap = self.slots.len();
        let want = need.next_power_of_two();
        if want <= cap {
            return;
        }
        let mut slots: Vec<Slot> = Vec::with_capacity(want);
        slots.resize_with(want, Slot::default);
        let (new_mask, old) = (want - 1, core::mem::take(&mut self.slots));
        for (i, slot) in old.into_iter().enumerate() {
            let sn = self
                .read
                .wrapping_add((i.wrapping_sub(self.read as usize) & (cap - 1)) as u32);
            slots[sn as usize & new_mask] = slot;
        }
        self.slots = slots;
    }

    /// Stores segment `sn` if it is inside the window and new. Its payload
    /// is copied unless `take` (the caller then puts a buffer in the slot
    /// with [`give_buffer`](Self::give_buffer)).
    pub(crate) fn insert(
        &mut self,
        sn: u32,
        frg: u8,
        rcv_wnd: u32,
        payload: &[u8],
        take: bool,
    ) -> Stored {
        let off = sn.wrapping_sub(self.rcv_nxt);
        if (off as i32) < 0 || (sn.wrapping_sub(self.rcv_nxt.wrapping_add(rcv_wnd)) as i32) >= 0 {
            return Stored::OutOfWindow;
        }
        self.grow(sn.wrapping_sub(self.read) as usize + 1);
        let mask = self.mask();
        let slot = &mut self.slots[sn as usize & mask];
        if slot.filled {
            return Stored::Duplicate;
        }
        slot.filled = true;
        slot.frg = frg;
        slot.start = 0;
        slot.data.clear();
        if !take {
            slot.data.extend_from_slice(payload);
        }
        self.buffered += 1;
        Stored::New
    }

    /// Puts `buf` (payload at `start..`) into the slot of `sn`, which
    /// [`insert`](Self::insert) just filled with `take`, and returns the
    /// slot's previous buffer (empty).
    pub(crate) fn give_buffer(&mut self, sn: u32, buf: Vec<u8>, start: usize) -> Vec<u8> {
        let mask = self.mask();
        let slot = &mut self.slots[sn as usize & mask];
        debug_assert!(slot.filled && slot.data.is_empty());
        slot.start = start as u32;
        let mut old = core::mem::replace(&mut slot.data, buf);
        old.clear();
        old
    }

    /// Moves in-order segments from the reorder window to the queue while
    /// the queue is shorter than `rcv_wnd`.
    pub(crate) fn release_in_order(&mut self, rcv_wnd: u32) {
        let mask = self.mask();
        while self.buffered > 0
            && self.queued() < rcv_wnd as usize
            && self.slots[self.rcv_nxt as usize & mask].filled
        {
            self.buffered -= 1;
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        }
    }

    /// Free queue space announced to the peer.
    pub(crate) fn wnd_unused(&self, rcv_wnd: u32) -> u16 {
        let q = self.queued();
        if q < rcv_wnd as usize {
            // Truncated to the 16-bit wire field, as kcp-go's
            // `uint16(int(rcv_wnd) - len(rcv_queue))` and ikcp's cast do
            // (only a local rcv_wnd above 65535 can reach it).
            (rcv_wnd as usize - q) as u16
        } else {
            0
        }
    }

    /// Is the message at the head of the queue complete (its first
    /// fragment, numbered `frg`, has `frg` more queued behind it)? With
    /// nothing queued the head slot is stale, and `0 > frg` says no.
    fn head_complete(&self) -> bool {
        self.queued() > self.slot(self.read).frg as usize
    }

    /// Size of the complete message at the head of the queue. A message
    /// ends at the first fragment numbered 0 (or at the end of the queue,
    /// for a peer that numbers fragments inconsistently).
    pub(crate) fn peek_size(&self) -> Option<usize> {
        if !self.head_complete() {
            return None;
        }
        let mut len = 0;
        for k in 0..self.queued() as u32 {
            let slot = self.slot(self.read.wrapping_add(k));
            len += slot.payload().len();
            if slot.frg == 0 {
                break;
            }
        }
        Some(len)
    }

    /// Hands the complete message at the head of the queue to `f` fragment
    /// by fragment and removes it; returns its length, or `None` if there
    /// is no complete message.
    pub(crate) fn pop_message_with(&mut self, mut f: impl FnMut(&[u8])) -> Option<usize> {
        if !self.head_complete() {
            return None;
        }
        let (mask, max_keep) = (self.mask(), self.max_keep);
        let mut len = 0;
        while self.read != self.rcv_nxt {
            let slot = &mut self.slots[self.read as usize & mask];
            let payload = slot.payload();
            len += payload.len();
            f(payload);
            let last = slot.frg == 0;
            slot.filled = false;
            if slot.data.capacity() > max_keep {
                slot.data = Vec::new();
            }
            self.read = self.read.wrapping_add(1);
            if last {
                break;
            }
        }
        Some(len)
    }

    /// The payload buffer of filled slot `sn`, if any (tests and checks).
    #[cfg(test)]
    fn payload_of(&self, sn: u32) -> Option<&[u8]> {
        let slot = self.slot(sn);
        slot.filled.then(|| slot.payload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(r: &mut RecvBuffer) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        r.pop_message_with(|p| out.extend_from_slice(p))?;
        Some(out)
    }

    #[test]
    fn reorders_and_reads_messages() {
        let mut r = RecvBuffer::new(4096);
        assert_eq!(r.insert(1, 0, 4, b"b", false), Stored::New);
        r.release_in_order(4);
        assert_eq!((r.queued(), r.buffered), (0, 1));
        assert_eq!(r.peek_size(), None);
        assert_eq!(r.insert(0, 1, 4, b"a", false), Stored::New);
        assert_eq!(r.insert(0, 1, 4, b"a", false), Stored::Duplicate);
        r.release_in_order(4);
        assert_eq!((r.queued(), r.buffered, r.rcv_nxt), (2, 0, 2));
        assert_eq!(r.peek_size(), Some(2));
        assert_eq!(collect(&mut r).as_deref(), Some(&b"ab"[..]));
        assert_eq!(collect(&mut r), None);
        assert_eq!(r.insert(1, 0, 4, b"x", false), Stored::OutOfWindow);
        assert_eq!(r.insert(6, 0, 4, b"x", false), Stored::OutOfWindow);
    }

    #[test]
    fn queue_full_holds_segments_back() {
        let mut r = RecvBuffer::new(4096);
        for sn in 0..2 {
            r.insert(sn, 0, 2, b"q", false);
            r.release_in_order(2);
        }
        assert_eq!((r.queued(), r.wnd_unused(2)), (2, 0));
        assert_eq!(r.insert(2, 0, 2, b"w", false), Stored::New);
        r.release_in_order(2);
        assert_eq!((r.queued(), r.buffered), (2, 1));
        collect(&mut r).unwrap();
        r.release_in_order(2);
        assert_eq!((r.queued(), r.buffered, r.rcv_nxt), (2, 0, 3));
    }

    #[test]
    fn growing_keeps_every_segment_across_the_wrap() {
        let mut r = RecvBuffer::new(4096);
        let start = u32::MAX - 2;
        r.read = start;
        r.rcv_nxt = start;
        for k in [0u32, 1, 3] {
            assert_eq!(
                r.insert(start.wrapping_add(k), 0, 4, &[k as u8], false),
                Stored::New
            );
        }
        r.release_in_order(4);
        assert_eq!((r.queued(), r.buffered), (2, 1));
        assert_eq!(r.slots.len(), MIN_SLOTS);
        // A window of 64: sn start+40 lands beyond the ring, which grows
        // (to 64 slots, covering [read, start+40]) and keeps what it held.
        let far = start.wrapping_add(40);
        assert_eq!(r.insert(far, 0, 64, &[40], false), Stored::New);
        assert_eq!(r.slots.len(), 64);
        for k in [0u32, 1, 3, 40] {
            assert_eq!(r.payload_of(start.wrapping_add(k)), Some(&[k as u8][..]));
        }
        assert_eq!(r.payload_of(start.wrapping_add(2)), None);
        for k in (4..40u32).chain([2]) {
            assert_eq!(
                r.insert(start.wrapping_add(k), 0, 64, &[k as u8], false),
                Stored::New
            );
        }
        r.release_in_order(64);
        assert_eq!((r.queued(), r.buffered), (41, 0));
        for k in 0..41u8 {
            assert_eq!(collect(&mut r).as_deref(), Some(&[k][..]));
        }
        assert_eq!(r.slots.len(), 64, "the ring never shrinks");
    }

    #[test]
    fn oversized_buffers_are_not_kept() {
        let mut r = RecvBuffer::new(100);
        r.insert(0, 0, 4, &[1u8; 1000], false);
        r.release_in_order(4);
        assert_eq!(collect(&mut r).map(|v| v.len()), Some(1000));
        assert_eq!(r.slots[0].data.capacity(), 0);
    }
}
