//! Datagram assembly and the queue of datagrams waiting for `poll_transmit`.
//!
//! A flush appends whole segments to the current datagram and starts a new one
//! when the next segment would exceed the MTU (the reference `makeSpace`).
//! Each datagram buffer reserves `headroom` bytes in front and `tailroom`
//! after, so outer layers (FEC, crypto) frame it in place. Without head or
//! tail room, a data segment that fills a datagram alone is not copied at
//! all: the queue records a reference and the segment's buffer is lent.

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
    repr: Repr<'a>,
}

#[derive(Debug)]
enum Repr<'a> {
    /// An output buffer: `[headroom][payload len][tailroom..]`.
    Owned {
        buf: &'a mut [u8],
        headroom: usize,
        len: usize,
    },
    /// A segment's own buffer, lent read-only; mutable access copies it into
    /// `scratch` first so a later retransmission still has the original.
    Lent {
        data: &'a [u8],
        scratch: &'a mut Vec<u8>,
    },
}

impl<'a> Transmit<'a> {
    /// The KCP datagram (segments only).
    pub fn payload(&self) -> &[u8] {
        match &self.repr {
            Repr::Owned { buf, headroom, len } => &buf[*headroom..*headroom + *len],
            Repr::Lent { data, .. } => data,
        }
    }

    /// Bytes reserved in front of the payload.
    pub fn headroom(&self) -> usize {
        match &self.repr {
            Repr::Owned { headroom, .. } => *headroom,
            Repr::Lent { .. } => 0,
        }
    }

    /// The KCP datagram, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (buf, headroom, len) = self.owned();
        &mut buf[headroom..headroom + len]
    }

    /// The whole buffer: headroom, payload, then at least the configured
    /// tailroom. Outer layers write their framing here.
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        self.owned().0
    }

    /// Headroom plus payload: the datagram once outer headers are written.
    pub fn framed(&self) -> &[u8] {
        match &self.repr {
            Repr::Owned { buf, headroom, len } => &buf[..*headroom + *len],
            Repr::Lent { data, .. } => data,
        }
    }

    fn owned(&mut self) -> (&mut [u8], usize, usize) {
        if let Repr::Lent { .. } = self.repr {
            let Repr::Lent { data, scratch } = core::mem::replace(
                &mut self.repr,
                Repr::Owned {
                    buf: &mut [],
                    headroom: 0,
                    len: 0,
                },
            ) else {
                unreachable!("checked above")
            };
            scratch.clear();
            scratch.extend_from_slice(data);
            let len = data.len();
            self.repr = Repr::Owned {
                buf: scratch.as_mut_slice(),
                headroom: 0,
                len,
            };
        }
        match &mut self.repr {
            Repr::Owned { buf, headroom, len } => (&mut **buf, *headroom, *len),
            Repr::Lent { .. } => unreachable!("converted above"),
        }
    }
}

/// What the next queued datagram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// Assembled in an output buffer.
    Owned,
    /// The buffer of segment `sn`, valid while its transmit count is `xmit`.
    Lent { sn: u32, xmit: u32 },
}

#[derive(Debug)]
enum Entry {
    Owned {
        buf: Vec<u8>,
        start: usize,
        len: usize,
    },
    Lent {
        sn: u32,
        xmit: u32,
    },
}

#[derive(Debug)]
pub(crate) struct Output {
    ready: VecDeque<Entry>,
    free: Vec<Vec<u8>>,
    cur: Option<Vec<u8>>,
    cur_len: usize,
    polled: Option<Vec<u8>>,
    scratch: Vec<u8>,
    pub mtu: usize,
    pub headroom: usize,
    pub tailroom: usize,
    /// Datagrams and bytes handed to the caller so far.
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
            scratch: Vec::new(),
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
        self.ready.push_back(Entry::Owned {
            buf,
            start: self.headroom,
            len: self.cur_len,
        });
        self.cur_len = 0;
    }

    /// Can a data segment of `len` payload bytes go out as its own datagram
    /// straight from its buffer? Only if no framing room is wanted, nothing
    /// is being assembled, and no further segment (not even a bare header)
    /// could share its datagram, so packing is exactly the reference's.
    pub(crate) fn can_lend(&self, len: usize) -> bool {
        self.headroom == 0
            && self.tailroom == 0
            && self.cur_len == 0
            && 2 * OVERHEAD + len > self.mtu
    }

    /// Queues segment `sn` (transmission number `xmit`) as a lent datagram.
    pub(crate) fn lend(&mut self, sn: u32, xmit: u32) {
        self.ready.push_back(Entry::Lent { sn, xmit });
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

    pub(crate) fn front(&self) -> Option<Ready> {
        Some(match self.ready.front()? {
            Entry::Owned { .. } => Ready::Owned,
            Entry::Lent { sn, xmit } => Ready::Lent {
                sn: *sn,
                xmit: *xmit,
            },
        })
    }

    pub(crate) fn pop_lent(&mut self) {
        self.recycle_polled();
        let e = self.ready.pop_front();
        debug_assert!(matches!(e, Some(Entry::Lent { .. })));
    }

    pub(crate) fn count(&mut self, len: usize) {
        self.pkts += 1;
        self.bytes += len as u64;
    }

    /// A transmit lending `data` (a segment's buffer), already popped.
    pub(crate) fn lent_transmit<'a>(&'a mut self, data: &'a [u8]) -> Transmit<'a> {
        self.count(data.len());
        Transmit {
            repr: Repr::Lent {
                data,
                scratch: &mut self.scratch,
            },
        }
    }

    fn recycle_polled(&mut self) {
        if let Some(b) = self.polled.take() {
            if b.len() == self.buf_size() {
                self.free.push(b);
            }
        }
    }

    pub(crate) fn poll_owned(&mut self) -> Option<Transmit<'_>> {
        self.recycle_polled();
        let Some(Entry::Owned { buf, start, len }) = self.ready.pop_front() else {
            return None;
        };
        self.count(len);
        let buf = self.polled.insert(buf);
        Some(Transmit {
            repr: Repr::Owned {
                buf: buf.as_mut_slice(),
                headroom: start,
                len,
            },
        })
    }

    pub(crate) fn poll_owned_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let Some(Entry::Owned { buf, start, len }) = self.ready.front() else {
            return None;
        };
        let (start, len) = (*start, *len);
        if out.len() < len {
            return None;
        }
        out[..len].copy_from_slice(&buf[start..start + len]);
        let Some(Entry::Owned { buf, .. }) = self.ready.pop_front() else {
            unreachable!("front was owned")
        };
        if buf.len() == self.buf_size() {
            self.free.push(buf);
        }
        self.count(len);
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
