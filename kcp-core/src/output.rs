//! Datagram assembly and the queue of datagrams waiting for `poll_transmit`.
//!
//! A flush appends whole segments to the current datagram and starts a new one
//! when the next segment would exceed the MTU (the reference `makeSpace`).
//! Each datagram buffer reserves `headroom` bytes in front and `tailroom`
//! after, so outer layers (FEC, crypto) frame it in place.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::segment::{Header, OVERHEAD};

/// A datagram ready to leave, borrowed from the endpoint until the next
/// `poll_transmit` call.
///
/// ```
/// # use kcp_core::{Config, Kcp, Timestamp};
/// let mut cfg = Config::new();
/// cfg.set_headroom(28).set_nodelay(1, 10, 0, 1);
/// let mut kcp = Kcp::new(1, cfg, Timestamp::from_millis(0));
/// kcp.send(b"hi").unwrap();
/// kcp.flush(Timestamp::from_millis(0));
/// let mut t = kcp.poll_transmit().unwrap();
/// assert_eq!(t.payload().len(), 24 + 2);
/// assert_eq!(t.headroom(), 28);
/// // An outer layer writes its header in front of the payload, no copy:
/// t.buffer_mut()[..4].copy_from_slice(b"FEC!");
/// assert_eq!(&t.framed()[..4], b"FEC!");
/// ```
#[derive(Debug)]
pub struct Transmit<'a> {
    buf: &'a mut [u8],
    headroom: usize,
    len: usize,
}

impl Transmit<'_> {
    /// The KCP datagram (segments only).
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.headroom..self.headroom + self.len]
    }

    /// The KCP datagram, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.headroom..self.headroom + self.len]
    }

    /// Bytes reserved in front of the payload.
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// The whole buffer: headroom, payload, then at least the configured
    /// tailroom. Outer layers write their framing here.
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        self.buf
    }

    /// Headroom plus payload: the datagram once outer headers are written.
    pub fn framed(&self) -> &[u8] {
        &self.buf[..self.headroom + self.len]
    }
}

#[derive(Debug)]
pub(crate) struct Output {
    ready: VecDeque<(Vec<u8>, usize, usize)>,
    free: Vec<Vec<u8>>,
    cur: Option<Vec<u8>>,
    cur_len: usize,
    polled: Option<Vec<u8>>,
    pub mtu: usize,
    pub headroom: usize,
    pub tailroom: usize,
    /// Datagrams and bytes emitted so far.
    pub pkts: u64,
    pub bytes: u64,
}

impl Output {
    pub(crate) fn new(mtu: usize, headroom: usize, tailroom: usize) -> Self {
        Output {
            ready: VecDeque::new(),
            free: Vec::new(),
            cur: None,
            cur_len: 0,
            polled: None,
            mtu,
            headroom,
            tailroom,
            pkts: 0,
            bytes: 0,
        }
    }

    fn buf_size(&self) -> usize {
        self.headroom + self.mtu + self.tailroom
    }

    /// Emits the current datagram if `n` more bytes would not fit the MTU.
    pub(crate) fn make_space(&mut self, n: usize) {
        if self.cur_len + n > self.mtu {
            self.finish();
        }
    }

    /// Queues the datagram under construction, if it holds anything.
    pub(crate) fn finish(&mut self) {
        if self.cur_len == 0 {
            return;
        }
        let buf = self.cur.take().expect("cur_len > 0 implies a buffer");
        self.pkts += 1;
        self.bytes += self.cur_len as u64;
        self.ready.push_back((buf, self.headroom, self.cur_len));
        self.cur_len = 0;
    }

    fn reserve(&mut self, n: usize) -> &mut [u8] {
        let size = self.buf_size();
        let start = self.headroom + self.cur_len;
        let cur = match &mut self.cur {
            Some(b) => b,
            slot => {
                let mut b = self.free.pop().unwrap_or_default();
                if b.len() != size {
                    b.resize(size, 0);
                }
                slot.insert(b)
            }
        };
        // Only after an MTU shrink can a queued segment exceed the buffer.
        if cur.len() < start + n + self.tailroom {
            cur.resize(start + n + self.tailroom, 0);
        }
        self.cur_len += n;
        &mut cur[start..start + n]
    }

    pub(crate) fn write_header(&mut self, h: &Header) {
        let dst: &mut [u8; OVERHEAD] = self.reserve(OVERHEAD).try_into().expect("24 bytes");
        h.encode(dst);
    }

    pub(crate) fn write_payload(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.reserve(data.len()).copy_from_slice(data);
        }
    }

    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    fn recycle_polled(&mut self) {
        if let Some(b) = self.polled.take() {
            if b.len() == self.buf_size() {
                self.free.push(b);
            }
        }
    }

    pub(crate) fn poll(&mut self) -> Option<Transmit<'_>> {
        self.recycle_polled();
        let (buf, headroom, len) = self.ready.pop_front()?;
        let buf = self.polled.insert(buf);
        Some(Transmit {
            buf: buf.as_mut_slice(),
            headroom,
            len,
        })
    }

    pub(crate) fn poll_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let &(ref buf, start, len) = self.ready.front()?;
        if out.len() < len {
            return None;
        }
        out[..len].copy_from_slice(&buf[start..start + len]);
        let (buf, _, _) = self.ready.pop_front().expect("front exists");
        if buf.len() == self.buf_size() {
            self.free.push(buf);
        }
        Some(len)
    }

    /// New MTU or framing room: future buffers get the new size.
    pub(crate) fn reconfigure(&mut self, mtu: usize, headroom: usize, tailroom: usize) {
        self.finish();
        self.mtu = mtu;
        self.headroom = headroom;
        self.tailroom = tailroom;
        self.free.clear();
    }
}
