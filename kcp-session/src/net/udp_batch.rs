//! Datagram I/O for the reactor: sockets built with the session's socket
//! options, and batched receive/send.
//!
//! Two paths, chosen per socket ([`IoMode`]):
//!
//! * **Batched** (unix): `quinn-udp` — `recvmmsg` with UDP GRO on receive
//!   (one buffer may hold several equal-size datagrams from one peer,
//!   split by `stride`), `sendmsg` with UDP GSO on send (consecutive
//!   equal-size datagrams to one peer in one syscall, the last may be
//!   shorter). quinn-udp also sets don't-fragment (`IP_PMTUDISC_PROBE`):
//!   a datagram larger than the interface MTU fails instead of being
//!   fragmented, so keep the session MTU below the path MTU (kcptun's
//!   1350 is).
//! * **Portable**: one `recv_from` / `send_to` per datagram.
//!
//! Both fill and drain the same [`RxBatch`] / [`TxBatch`], so the reactor
//! does not care which one runs.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use mio::net::UdpSocket;
use socket2::{Domain, Protocol, Socket, Type};

use crate::MAX_DATAGRAM;

/// Which datagram I/O path a socket uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum IoMode {
    /// Batched syscalls with GSO/GRO where the platform has them
    /// (`quinn-udp`), otherwise the portable path.
    #[default]
    Batched,
    /// One `recv_from`/`send_to` per datagram, everywhere.
    Portable,
}

/// Datagrams most per receive or send batch.
pub(crate) const BATCH: usize = 32;

/// Socket-level counters of one socket (a listener's or a client stream's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Datagrams received from the socket (GRO-coalesced ones counted one by one).
    pub datagrams_in: u64,
    /// Datagrams handed to the socket (GSO-coalesced ones counted one by one).
    pub datagrams_out: u64,
    /// Receive syscalls that returned data.
    pub recv_calls: u64,
    /// Send syscalls.
    pub send_calls: u64,
    /// Datagrams the socket refused with an error other than "would block"
    /// (dropped; KCP retransmits).
    pub send_errors: u64,
    /// Datagrams a client socket received from an address other than its
    /// peer (dropped and counted as the session's `InErrs`).
    pub foreign: u64,
}

/// Atomic [`IoStats`], shared between the reactor and the handles.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    datagrams_in: AtomicU64,
    datagrams_out: AtomicU64,
    recv_calls: AtomicU64,
    send_calls: AtomicU64,
    send_errors: AtomicU64,
    pub(crate) foreign: AtomicU64,
}

impl IoCounters {
    pub(crate) fn snapshot(&self) -> IoStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        IoStats {
            datagrams_in: l(&self.datagrams_in),
            datagrams_out: l(&self.datagrams_out),
            recv_calls: l(&self.recv_calls),
            send_calls: l(&self.send_calls),
            send_errors: l(&self.send_errors),
            foreign: l(&self.foreign),
        }
    }

    fn add(a: &AtomicU64, n: usize) {
        a.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Socket options from [`SessionConfig`](crate::SessionConfig).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SockOpts {
    pub(crate) dscp: u8,
    pub(crate) read_buffer: usize,
    pub(crate) write_buffer: usize,
}

/// A non-blocking UDP socket bound to `addr` with `opts` applied.
pub(crate) fn bind_socket(addr: SocketAddr, opts: SockOpts) -> io::Result<StdUdpSocket> {
    let domain = Domain::for_address(addr);
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if opts.read_buffer > 0 {
        s.set_recv_buffer_size(opts.read_buffer)?;
    }
    if opts.write_buffer > 0 {
        s.set_send_buffer_size(opts.write_buffer)?;
    }
    if opts.dscp > 0 {
        let tos = u32::from(opts.dscp) << 2;
        // kcp-go sets both on an IPv6 socket and ignores the failure of
        // the one that does not apply.
        if addr.is_ipv4() {
            s.set_tos_v4(tos)?;
        } else {
            #[cfg(unix)]
            let _ = s.set_tclass_v6(tos);
        }
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Received datagrams: one buffer, a source address and range each.
pub(crate) struct RxBatch {
    buf: Vec<u8>,
    /// Source and byte range of each datagram in `buf`.
    pub(crate) items: Vec<(SocketAddr, Range<usize>)>,
    /// The last receive filled every slot: more may be waiting.
    pub(crate) full: bool,
    #[cfg(unix)]
    slot: usize,
}

impl RxBatch {
    pub(crate) fn new(gro_segments: usize) -> Self {
        let slot = MAX_DATAGRAM * gro_segments.max(1);
        RxBatch {
            buf: vec![0; slot * BATCH],
            items: Vec::with_capacity(BATCH * gro_segments.max(1)),
            full: false,
            #[cfg(unix)]
            slot,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.full = false;
    }

    /// The datagrams, mutable (sessions decrypt in place).
    pub(crate) fn for_each(&mut self, mut f: impl FnMut(SocketAddr, &mut [u8])) {
        for (addr, r) in &self.items {
            f(*addr, &mut self.buf[r.clone()]);
        }
    }
}

/// Datagrams to send, stored back to back so equal-size runs to one peer
/// can leave as one GSO send.
pub(crate) struct TxBatch {
    buf: Vec<u8>,
    items: Vec<(SocketAddr, Range<usize>)>,
    /// Items before this one are sent.
    sent: usize,
}

impl TxBatch {
    pub(crate) fn new() -> Self {
        TxBatch {
            buf: Vec::with_capacity(MAX_DATAGRAM * BATCH),
            items: Vec::with_capacity(BATCH),
            sent: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sent == self.items.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.items.len() >= BATCH
    }

    /// Appends one datagram written by `fill` into a `MAX_DATAGRAM` buffer
    /// (it returns the destination and length, or `None` for nothing).
    pub(crate) fn push_with(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Option<(SocketAddr, usize)>,
    ) -> bool {
        let start = self.buf.len();
        self.buf.resize(start + MAX_DATAGRAM, 0);
        match fill(&mut self.buf[start..]) {
            Some((to, n)) => {
                self.buf.truncate(start + n);
                self.items.push((to, start..start + n));
                true
            }
            None => {
                self.buf.truncate(start);
                false
            }
        }
    }

    fn reset_if_done(&mut self) {
        if self.is_empty() {
            self.buf.clear();
            self.items.clear();
            self.sent = 0;
        }
    }
}

/// One registered socket and its I/O path.
pub(crate) struct SockIo {
    pub(crate) sock: UdpSocket,
    #[cfg(unix)]
    state: Option<quinn_udp::UdpSocketState>,
    pub(crate) counters: std::sync::Arc<IoCounters>,
}

impl SockIo {
    pub(crate) fn new(
        sock: StdUdpSocket,
        mode: IoMode,
        counters: std::sync::Arc<IoCounters>,
    ) -> io::Result<Self> {
        let sock = UdpSocket::from_std(sock);
        #[cfg(unix)]
        let state = match mode {
            IoMode::Batched => quinn_udp::UdpSocketState::new((&sock).into()).ok(),
            IoMode::Portable => None,
        };
        #[cfg(not(unix))]
        let _ = mode;
        Ok(SockIo {
            sock,
            #[cfg(unix)]
            state,
            counters,
        })
    }

    /// GRO segments per receive buffer this socket may deliver.
    pub(crate) fn gro_segments(&self) -> usize {
        #[cfg(unix)]
        if let Some(s) = &self.state {
            return s.gro_segments();
        }
        1
    }

    /// Receives up to one batch into `rx` (cleared first). `Ok` with an
    /// empty batch means the socket is drained.
    pub(crate) fn recv(&self, rx: &mut RxBatch) -> io::Result<()> {
        rx.clear();
        #[cfg(unix)]
        if let Some(state) = &self.state {
            return self.recv_batched(state, rx);
        }
        self.recv_portable(rx)
    }

    fn recv_portable(&self, rx: &mut RxBatch) -> io::Result<()> {
        let mut calls = 0;
        for i in 0..BATCH {
            let start = i * MAX_DATAGRAM;
            match self
                .sock
                .recv_from(&mut rx.buf[start..start + MAX_DATAGRAM])
            {
                Ok((n, from)) => {
                    calls += 1;
                    rx.items.push((from, start..start + n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surfacing on an unconnected socket: skip.
                Err(_) => continue,
            }
        }
        rx.full = rx.items.len() == BATCH;
        IoCounters::add(&self.counters.recv_calls, calls);
        IoCounters::add(&self.counters.datagrams_in, rx.items.len());
        Ok(())
    }

    #[cfg(unix)]
    fn recv_batched(&self, state: &quinn_udp::UdpSocketState, rx: &mut RxBatch) -> io::Result<()> {
        use std::io::IoSliceMut;
        let slot = rx.slot;
        let mut metas = [quinn_udp::RecvMeta::default(); BATCH];
        let mut slices: Vec<IoSliceMut<'_>> =
            rx.buf.chunks_mut(slot).map(IoSliceMut::new).collect();
        let n = loop {
            match state.recv((&self.sock).into(), &mut slices, &mut metas) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Ok(()),
            }
        };
        drop(slices);
        for (i, m) in metas[..n].iter().enumerate() {
            let base = i * slot;
            let stride = m.stride.max(1);
            let mut off = 0;
            while off < m.len {
                let end = (off + stride).min(m.len);
                rx.items.push((m.addr, base + off..base + end));
                off = end;
            }
        }
        rx.full = n == BATCH;
        IoCounters::add(&self.counters.recv_calls, 1);
        IoCounters::add(&self.counters.datagrams_in, rx.items.len());
        Ok(())
    }

    /// Sends what `tx` holds. `Err(WouldBlock)` leaves the unsent rest in
    /// `tx` (send again when the socket is writable); other errors drop the
    /// datagram concerned and go on.
    pub(crate) fn send(&self, tx: &mut TxBatch) -> io::Result<()> {
        let r = self.send_inner(tx);
        tx.reset_if_done();
        r
    }

    fn send_inner(&self, tx: &mut TxBatch) -> io::Result<()> {
        while tx.sent < tx.items.len() {
            let (to, ref r) = tx.items[tx.sent];
            // A run of equal-size datagrams to one peer (the last may be shorter).
            let mut count = 1;
            #[cfg(unix)]
            if let Some(state) = &self.state {
                let size = r.len();
                let max = state.max_gso_segments().min(64_000 / size.max(1)).max(1);
                while count < max && tx.sent + count < tx.items.len() {
                    let (t2, ref r2) = tx.items[tx.sent + count];
                    let prev_len = tx.items[tx.sent + count - 1].1.len();
                    if t2 != to || r2.len() > size || prev_len != size {
                        break;
                    }
                    count += 1;
                }
            }
            let end = tx.items[tx.sent + count - 1].1.end;
            let contents = &tx.buf[r.start..end];
            let res = self.send_one(to, contents, r.len(), count);
            match res {
                Ok(()) => {
                    IoCounters::add(&self.counters.datagrams_out, count);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => IoCounters::add(&self.counters.send_errors, count),
            }
            IoCounters::add(&self.counters.send_calls, 1);
            tx.sent += count;
        }
        Ok(())
    }

    fn send_one(
        &self,
        to: SocketAddr,
        contents: &[u8],
        segment: usize,
        count: usize,
    ) -> io::Result<()> {
        #[cfg(unix)]
        if let Some(state) = &self.state {
            let t = quinn_udp::Transmit {
                destination: to,
                ecn: None,
                contents,
                segment_size: (count > 1).then_some(segment),
                src_ip: None,
            };
            return state.try_send((&self.sock).into(), &t);
        }
        let _ = (segment, count);
        self.sock.send_to(contents, to).map(|_| ())
    }
}
