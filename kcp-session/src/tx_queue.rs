//! Sealed datagrams waiting to be handed out (parity, duplicates, OOB),
//! in recycled fixed-size buffers.

use std::collections::VecDeque;

/// Size of every pooled buffer: kcp-go's `mtuLimit`.
pub(crate) const BUF_SIZE: usize = kcp_fec::MTU_LIMIT;
/// kcp-go's `devBacklog`: beyond this many queued datagrams new ones are dropped.
pub(crate) const MAX_QUEUED: usize = 2048;

#[derive(Debug)]
pub(crate) struct TxQueue {
    ready: VecDeque<(Vec<u8>, usize)>,
    free: Vec<Vec<u8>>,
    cap: usize,
}

impl TxQueue {
    /// A queue holding at most `cap` datagrams.
    pub(crate) fn with_cap(cap: usize) -> Self {
        TxQueue {
            ready: VecDeque::new(),
            free: Vec::new(),
            cap,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    /// A cleared buffer of [`BUF_SIZE`] bytes, or `None` when the queue is full.
    pub(crate) fn take_buf(&mut self) -> Option<Vec<u8>> {
        if self.ready.len() >= self.cap {
            return None;
        }
        Some(self.free.pop().unwrap_or_else(|| vec![0; BUF_SIZE]))
    }

    pub(crate) fn push(&mut self, buf: Vec<u8>, len: usize) {
        self.ready.push_back((buf, len));
    }

    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.free.len() < self.cap {
            self.free.push(buf);
        }
    }

    /// Copies `data` into a pooled buffer and queues it; `false` if full,
    /// or if `data` is longer than a pooled buffer (callers count that).
    pub(crate) fn push_copy(&mut self, data: &[u8]) -> bool {
        if data.len() > BUF_SIZE {
            return false;
        }
        match self.take_buf() {
            Some(mut b) => {
                b[..data.len()].copy_from_slice(data);
                self.push(b, data.len());
                true
            }
            None => false,
        }
    }

    /// Copies the oldest datagram into `out`.
    pub(crate) fn pop_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let (buf, len) = self.ready.pop_front()?;
        out[..len].copy_from_slice(&buf[..len]);
        self.recycle(buf);
        Some(len)
    }

    /// Copies the oldest datagram into `out`, truncated to `out`'s length;
    /// returns the datagram's full length.
    pub(crate) fn pop_into_truncated(&mut self, out: &mut [u8]) -> Option<usize> {
        let (buf, len) = self.ready.pop_front()?;
        let n = len.min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.recycle(buf);
        Some(len)
    }
}
