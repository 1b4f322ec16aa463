//! A free list of payload buffers, so steady-state traffic allocates nothing.

use alloc::vec::Vec;

use crate::segment::OVERHEAD;

/// Recycled `Vec<u8>` buffers. Bounded: beyond `max_free` buffers, returned
/// ones are dropped, so a burst does not pin memory forever.
#[derive(Debug)]
pub(crate) struct Pool {
    free: Vec<Vec<u8>>,
    capacity: usize,
    max_free: usize,
}

impl Pool {
    pub(crate) fn new(capacity: usize, max_free: usize) -> Self {
        Pool {
            free: Vec::new(),
            capacity,
            max_free,
        }
    }

    /// An empty buffer with room for at least one segment payload.
    pub(crate) fn get(&mut self) -> Vec<u8> {
        match self.free.pop() {
            Some(mut v) => {
                v.clear();
                v
            }
            None => Vec::with_capacity(self.capacity),
        }
    }

    /// A buffer holding `OVERHEAD` zero bytes of header room, then `data`.
    pub(crate) fn get_with_header_room(&mut self, data: &[u8]) -> Vec<u8> {
        let mut v = self.get();
        v.extend_from_slice(&[0u8; OVERHEAD]);
        v.extend_from_slice(data);
        v
    }

    pub(crate) fn put(&mut self, v: Vec<u8>) {
        if self.free.len() < self.max_free && v.capacity() >= self.capacity {
            self.free.push(v);
        }
    }

    /// Payload capacity changed (MTU change): drop buffers that are too small.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.free.retain(|v| v.capacity() >= capacity);
    }

    pub(crate) fn set_max_free(&mut self, max_free: usize) {
        self.max_free = max_free;
        self.free.truncate(max_free);
    }
}
