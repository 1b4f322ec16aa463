//! A double-ended queue whose removed elements stay in place for reuse.
//!
//! `VecDeque` moves an element out on `pop_front` and in on `push_back`; for
//! send segments that own a payload buffer this means a free list beside
//! the queue and two moves per segment. Here the element is initialised in
//! place by `push_back_with` (reusing whatever buffer the slot held last
//! time) and `pop_front` only advances the head.

use alloc::vec::Vec;
use core::ops::{Index, IndexMut};

#[derive(Debug, Default)]
pub(crate) struct Ring<T> {
    /// Power-of-two length (or empty); `[head, head + len)` modulo the
    /// length are live, the rest are retired elements kept for reuse.
    buf: Vec<T>,
    head: usize,
    len: usize,
}

impl<T: Default> Ring<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.buf.len().wrapping_sub(1)
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.buf[(self.head + i) & self.mask()])
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        let mask = self.mask();
        (i < self.len).then(|| &mut self.buf[(self.head + i) & mask])
    }

    pub(crate) fn back_mut(&mut self) -> Option<&mut T> {
        let i = self.len.checked_sub(1)?;
        self.get_mut(i)
    }

    /// Appends an element, set up by `init` from the retired element in
    /// that slot (or a default one).
    pub(crate) fn push_back_with(&mut self, init: impl FnOnce(&mut T)) {
        if self.len == self.buf.len() {
            self.resize((self.buf.len() * 2).max(16));
        }
        let i = (self.head + self.len) & self.mask();
        self.len += 1;
        init(&mut self.buf[i]);
    }

    /// Removes the first `n` elements (at most `len`), showing each to `f`.
    pub(crate) fn pop_front_n(&mut self, n: usize, mut f: impl FnMut(&mut T)) {
        let n = n.min(self.len);
        let mask = self.mask();
        for k in 0..n {
            f(&mut self.buf[(self.head + k) & mask]);
        }
        self.head = (self.head + n) & mask;
        self.len -= n;
    }

    /// Capacity (live plus retired slots).
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Re-lays the ring out with `cap` slots (a power of two, at least
    /// `len`): live elements first, in order, then retired ones while they
    /// fit (the rest are dropped), then defaults.
    pub(crate) fn resize(&mut self, cap: usize) {
        debug_assert!(cap.is_power_of_two() && cap >= self.len);
        let old_cap = self.buf.len();
        let mut old = core::mem::take(&mut self.buf);
        let mut buf = Vec::with_capacity(cap);
        for k in 0..old_cap.min(cap) {
            buf.push(core::mem::take(&mut old[(self.head + k) & (old_cap - 1)]));
        }
        buf.resize_with(cap, T::default);
        self.buf = buf;
        self.head = 0;
    }
}

impl<T: Default> Index<usize> for Ring<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("ring index out of range")
    }
}

impl<T: Default> IndexMut<usize> for Ring<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("ring index out of range")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_deque_and_reuses_slots() {
        let mut r: Ring<Vec<u32>> = Ring::default();
        let mut model = alloc::collections::VecDeque::new();
        let mut next = 0u32;
        for step in 0..2000u32 {
            if step % 7 < 4 {
                r.push_back_with(|v| {
                    v.clear();
                    v.push(next);
                });
                model.push_back(next);
                next += 1;
            } else {
                let n = (step % 3) as usize;
                let mut seen = Vec::new();
                r.pop_front_n(n, |v| seen.push(v[0]));
                let want: Vec<u32> = (0..n.min(model.len()))
                    .map(|_| model.pop_front().unwrap())
                    .collect();
                assert_eq!(seen, want);
            }
            assert_eq!(r.len(), model.len());
            for (i, &x) in model.iter().enumerate() {
                assert_eq!(r[i][0], x);
            }
            assert_eq!(r.get(0).map(|v| v[0]), model.front().copied());
        }
    }

    #[test]
    fn retired_slots_keep_their_buffers_and_resizing_keeps_order() {
        let mut r: Ring<Vec<u8>> = Ring::default();
        for k in 0..16u8 {
            r.push_back_with(|v| {
                v.clear();
                v.extend_from_slice(&[k; 100]);
            });
        }
        assert_eq!(r.capacity(), 16);
        r.pop_front_n(10, |_| {});
        for k in 16..26u8 {
            r.push_back_with(|v| {
                assert!(v.capacity() >= 100, "a retired buffer is reused");
                v.clear();
                v.push(k);
            });
        }
        assert_eq!(r.capacity(), 16);
        r.push_back_with(|v| {
            v.clear();
            v.push(26);
        });
        assert_eq!(r.capacity(), 32);
        let firsts: Vec<u8> = (0..r.len()).map(|i| r[i][0]).collect();
        assert_eq!(firsts, (10..27).collect::<Vec<u8>>());
        r.pop_front_n(15, |_| {});
        r.resize(16);
        assert_eq!((r.len(), r[0][0], r[1][0]), (2, 25, 26));
    }
}
