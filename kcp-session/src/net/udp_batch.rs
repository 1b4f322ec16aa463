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
//!   On Linux a send batch that holds more than one run (several peers,
//!   the listener's case) leaves instead with one `sendmmsg` (see
//!   [`super::mmsg`]): every run is one message, GSO runs carry a
//!   `UDP_SEGMENT` cmsg, so a fan-out to 32 peers costs one syscall, not 32.
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
    pub(crate) read_buffer: BufSize,
    pub(crate) write_buffer: BufSize,
}

/// How large a socket buffer to ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum BufSize {
    /// Leave the OS default.
    #[default]
    Os,
    /// Exactly this (the kernel may cap it, at `rmem_max`/`wmem_max`).
    Exact(usize),
    /// At least this: raised if the OS default is smaller, never lowered.
    AtLeast(usize),
}

/// Largest buffer the automatic sizing asks for: kcptun's default
/// `--sockbuf`.
pub(crate) const AUTO_BUFFER_CAP: usize = 4 << 20;

/// The buffer a window of `wnd` datagrams of `mtu` bytes needs, capped.
fn for_window(wnd: u32, mtu: usize) -> BufSize {
    BufSize::AtLeast((wnd as usize).saturating_mul(mtu).min(AUTO_BUFFER_CAP))
}

impl From<&crate::SessionConfig> for SockOpts {
    /// `read_buffer`/`write_buffer` 0 means "sized for the window": a full
    /// window of datagrams arriving in one burst (which a KCP peer without
    /// congestion control sends) must fit, or the socket drops most of it
    /// and every drop stalls the stream until a retransmission (quic-go
    /// raises its buffers for the same reason).
    fn from(c: &crate::SessionConfig) -> Self {
        let pick = |n: usize, wnd: u32| match n {
            0 => for_window(wnd, c.mtu),
            n => BufSize::Exact(n),
        };
        SockOpts {
            dscp: c.dscp,
            read_buffer: pick(c.read_buffer, c.rcv_wnd),
            write_buffer: pick(c.write_buffer, c.snd_wnd),
        }
    }
}

/// Applies `want` with `get`/`set` (the kernel reports twice what was set,
/// on Linux; comparing against the reported size only ever skips raising a
/// buffer that is already large enough).
fn size_buffer(
    want: BufSize,
    get: impl FnOnce() -> io::Result<usize>,
    set: impl FnOnce(usize) -> io::Result<()>,
) -> io::Result<()> {
    match want {
        BufSize::Os => Ok(()),
        BufSize::Exact(n) => set(n),
        BufSize::AtLeast(n) => match get() {
            Ok(have) if have >= n => Ok(()),
            // Best effort: a failure to raise leaves a working socket.
            _ => {
                let _ = set(n);
                Ok(())
            }
        },
    }
}

/// A non-blocking UDP socket bound to `addr` with `opts` applied.
pub(crate) fn bind_socket(addr: SocketAddr, opts: SockOpts) -> io::Result<StdUdpSocket> {
    let domain = Domain::for_address(addr);
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    size_buffer(
        opts.read_buffer,
        || s.recv_buffer_size(),
        |n| s.set_recv_buffer_size(n),
    )?;
    size_buffer(
        opts.write_buffer,
        || s.send_buffer_size(),
        |n| s.set_send_buffer_size(n),
    )?;
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

    /// A batch with no room, for services that bring no datagrams.
    #[cfg(feature = "tokio")]
    pub(crate) fn empty() -> Self {
        RxBatch {
            buf: Vec::new(),
            items: Vec::new(),
            full: false,
            #[cfg(unix)]
            slot: 0,
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

/// What [`SockIo`] needs of a non-blocking UDP socket: the std adapter's
/// `mio` socket, the tokio adapter's `tokio::net::UdpSocket`.
#[cfg(unix)]
pub(crate) trait DgramSocket: std::os::fd::AsFd {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
}

/// What [`SockIo`] needs of a non-blocking UDP socket.
#[cfg(not(unix))]
pub(crate) trait DgramSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
}

impl DgramSocket for UdpSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        UdpSocket::recv_from(self, buf)
    }
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        UdpSocket::send_to(self, buf, to)
    }
}

/// One registered socket and its I/O path.
pub(crate) struct SockIo<S = UdpSocket> {
    pub(crate) sock: S,
    #[cfg(unix)]
    state: Option<quinn_udp::UdpSocketState>,
    pub(crate) counters: std::sync::Arc<IoCounters>,
    /// Send multi-run batches with `sendmmsg` (Linux, batched mode).
    #[cfg(target_os = "linux")]
    pub(crate) mmsg: bool,
    /// GSO still works for `sendmmsg` messages (cleared on EIO/EINVAL, as
    /// quinn-udp does for its own sends).
    #[cfg(target_os = "linux")]
    gso_ok: std::sync::atomic::AtomicBool,
}

impl SockIo {
    pub(crate) fn new(
        sock: StdUdpSocket,
        mode: IoMode,
        counters: std::sync::Arc<IoCounters>,
    ) -> io::Result<Self> {
        Self::with_socket(UdpSocket::from_std(sock), mode, counters)
    }
}

impl<S: DgramSocket> SockIo<S> {
    /// Wraps an already non-blocking socket.
    pub(crate) fn with_socket(
        sock: S,
        mode: IoMode,
        counters: std::sync::Arc<IoCounters>,
    ) -> io::Result<Self> {
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
            #[cfg(target_os = "linux")]
            mmsg: true,
            #[cfg(target_os = "linux")]
            gso_ok: std::sync::atomic::AtomicBool::new(true),
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

    /// Receives up to one batch into `rx` (cleared first).
    /// `Err(WouldBlock)` (with an empty batch) means the socket is drained;
    /// `Ok` with an empty batch that an error was skipped (try again).
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
        let mut drained = false;
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surfacing on an unconnected socket: skip.
                Err(_) => continue,
            }
        }
        rx.full = rx.items.len() == BATCH;
        IoCounters::add(&self.counters.recv_calls, calls);
        IoCounters::add(&self.counters.datagrams_in, rx.items.len());
        if drained && rx.items.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
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

    /// Most datagrams per GSO send of `size`-byte segments (1: no GSO).
    fn gso_max(&self, size: usize) -> usize {
        #[cfg(unix)]
        if let Some(state) = &self.state {
            return state.max_gso_segments().min(64_000 / size.max(1)).max(1);
        }
        let _ = size;
        1
    }

    /// Length of the run starting at item `from`: consecutive equal-size
    /// datagrams to one peer (the last may be shorter), at most `max`.
    fn run_len(tx: &TxBatch, from: usize, max: usize) -> usize {
        let (to, ref r) = tx.items[from];
        let size = r.len();
        let mut count = 1;
        while count < max && from + count < tx.items.len() {
            let (t2, ref r2) = tx.items[from + count];
            let prev_len = tx.items[from + count - 1].1.len();
            if t2 != to || r2.len() > size || prev_len != size {
                break;
            }
            count += 1;
        }
        count
    }

    fn send_inner(&self, tx: &mut TxBatch) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.mmsg && self.state.is_some() {
            return self.send_mmsg(tx);
        }
        while tx.sent < tx.items.len() {
            let (to, ref r) = tx.items[tx.sent];
            let count = Self::run_len(tx, tx.sent, self.gso_max(r.len()));
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

    /// Linux batched send: the batch split into runs (GSO where a run has
    /// several datagrams); a single run leaves through quinn-udp as on the
    /// other unix systems, several runs through one `sendmmsg`. A partial
    /// send goes on with the rest; `WouldBlock` (EAGAIN) leaves the rest in
    /// `tx` for when the socket is writable; any other error (ENOBUFS,
    /// EMSGSIZE, ICMP-reported errors...) drops the run it concerns, as
    /// the single-run path does, and goes on: KCP retransmits. (ENOBUFS is
    /// not kept for "writable": on UDP it reports a full device queue, not
    /// a full socket buffer, so no writable edge would follow.)
    #[cfg(target_os = "linux")]
    fn send_mmsg(&self, tx: &mut TxBatch) -> io::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;

        use super::mmsg::{Msg, sendmmsg};

        while tx.sent < tx.items.len() {
            // Runs from `tx.sent`: (first item, datagrams).
            let mut runs = [(0usize, 0usize); BATCH];
            let mut nruns = 0;
            let mut i = tx.sent;
            let gso = self.gso_ok.load(Relaxed);
            while i < tx.items.len() && nruns < BATCH {
                let size = tx.items[i].1.len();
                let max = if gso { self.gso_max(size) } else { 1 };
                let c = Self::run_len(tx, i, max);
                runs[nruns] = (i, c);
                nruns += 1;
                i += c;
            }
            if nruns == 1 {
                let (to, ref r) = tx.items[tx.sent];
                let count = runs[0].1;
                let end = tx.items[tx.sent + count - 1].1.end;
                match self.send_one(to, &tx.buf[r.start..end], r.len(), count) {
                    Ok(()) => IoCounters::add(&self.counters.datagrams_out, count),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => IoCounters::add(&self.counters.send_errors, count),
                }
                IoCounters::add(&self.counters.send_calls, 1);
                tx.sent += count;
                continue;
            }
            // Slots past `nruns` are placeholders, never sent.
            let msgs: [Msg<'_>; BATCH] = std::array::from_fn(|k| {
                let (first, count) = runs[k.min(nruns - 1)];
                let (to, ref r) = tx.items[first];
                let end = tx.items[first + count - 1].1.end;
                Msg {
                    to,
                    contents: &tx.buf[r.start..end],
                    segment: (count > 1).then_some(r.len() as u16),
                }
            });
            let res = sendmmsg(self.sock.as_fd(), &msgs[..nruns]);
            match res {
                Ok(n) => {
                    let n = n.clamp(1, nruns);
                    let dgrams: usize = runs[..n].iter().map(|r| r.1).sum();
                    IoCounters::add(&self.counters.datagrams_out, dgrams);
                    tx.sent += dgrams;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) => {
                    let count = runs[0].1;
                    if count > 1 && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) {
                        // The device cannot segment: no GSO from now on.
                        self.gso_ok.store(false, Relaxed);
                    }
                    IoCounters::add(&self.counters.send_errors, count);
                    tx.sent += count;
                }
            }
            IoCounters::add(&self.counters.send_calls, 1);
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

/// Batched sending on one socket without a reactor, for benchmarks and
/// tests of the send paths (not a stable API).
#[doc(hidden)]
pub struct BatchSender {
    io: SockIo,
    tx: TxBatch,
}

impl BatchSender {
    /// Datagrams most per batch.
    pub const BATCH: usize = BATCH;

    /// Wraps `sock` (made non-blocking). With `mmsg` false, Linux sends
    /// as the other unix systems do: quinn-udp, one syscall per run.
    pub fn new(sock: StdUdpSocket, mode: IoMode, mmsg: bool) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        #[allow(unused_mut)]
        let mut io = SockIo::new(sock, mode, Default::default())?;
        #[cfg(target_os = "linux")]
        {
            io.mmsg = mmsg;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = mmsg;
        Ok(BatchSender {
            io,
            tx: TxBatch::new(),
        })
    }

    /// Queues one datagram; `false` when the batch is full (flush first).
    pub fn push(&mut self, to: SocketAddr, data: &[u8]) -> bool {
        if self.tx.is_full() || data.len() > MAX_DATAGRAM {
            return false;
        }
        self.tx.push_with(|b| {
            b[..data.len()].copy_from_slice(data);
            Some((to, data.len()))
        })
    }

    /// Sends the queued datagrams; `Err(WouldBlock)` keeps the rest queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.io.send(&mut self.tx)
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    /// Counters of this socket.
    pub fn stats(&self) -> IoStats {
        self.io.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sends `dgrams` (destination index, bytes) to `peers` through a
    /// sender in `mode`; returns what each peer received, and the stats.
    fn fan_out(
        mode: IoMode,
        mmsg: bool,
        dgrams: &[(usize, Vec<u8>)],
        peers: &[StdUdpSocket],
    ) -> (Vec<Vec<Vec<u8>>>, IoStats) {
        let sock = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let mut s = BatchSender::new(sock, mode, mmsg).unwrap();
        let addrs: Vec<SocketAddr> = peers.iter().map(|p| p.local_addr().unwrap()).collect();
        let mut it = dgrams.iter().peekable();
        while it.peek().is_some() || !s.is_empty() {
            while let Some((to, d)) = it.peek() {
                if !s.push(addrs[*to], d) {
                    break;
                }
                it.next();
            }
            match s.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        let mut got = vec![Vec::new(); peers.len()];
        let expect: Vec<usize> = (0..peers.len())
            .map(|p| dgrams.iter().filter(|(to, _)| *to == p).count())
            .collect();
        let mut buf = vec![0u8; 70_000];
        for (p, sock) in peers.iter().enumerate() {
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            while got[p].len() < expect[p] {
                let (n, _) = sock.recv_from(&mut buf).unwrap();
                got[p].push(buf[..n].to_vec());
            }
        }
        (got, s.stats())
    }

    /// A destination the socket refuses in the middle of a batch: the
    /// kernel sends the messages before it (a partial `sendmmsg`), the
    /// refused one is dropped and counted, the rest still leave.
    #[test]
    fn refused_datagram_mid_batch_is_dropped_alone() {
        let peers: Vec<StdUdpSocket> = (0..8)
            .map(|_| StdUdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let bad: SocketAddr = "[::1]:9".parse().unwrap(); // IPv6 on an IPv4 socket
        for (mode, mmsg) in [(IoMode::Portable, false), (IoMode::Batched, true)] {
            let sock = StdUdpSocket::bind("127.0.0.1:0").unwrap();
            let mut s = BatchSender::new(sock, mode, mmsg).unwrap();
            for (i, p) in peers.iter().enumerate() {
                assert!(s.push(p.local_addr().unwrap(), &[i as u8; 100]));
                if i == 3 {
                    assert!(s.push(bad, &[0xEE; 100]));
                }
            }
            s.flush().unwrap();
            assert!(s.is_empty());
            let st = s.stats();
            assert_eq!(
                (st.datagrams_out, st.send_errors),
                (8, 1),
                "{mode:?}: {st:?}"
            );
            let mut buf = [0u8; 200];
            for (i, p) in peers.iter().enumerate() {
                p.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let (n, _) = p.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], &[i as u8; 100], "{mode:?}");
            }
        }
    }

    #[test]
    fn buffers_default_to_the_window_and_are_never_lowered() {
        let recv_size = |opts: SockOpts| {
            let s = bind_socket("127.0.0.1:0".parse().unwrap(), opts).unwrap();
            socket2::SockRef::from(&s).recv_buffer_size().unwrap()
        };
        let os = recv_size(SockOpts::default());
        // A 1024 × 1400 window asks for 1.4 MB: the same as asking exactly
        // (whatever the kernel caps that at), unless the default is larger.
        let cfg = crate::SessionConfig::default()
            .with_window(1024, 1024)
            .with_mtu(1400);
        let auto = SockOpts::from(&cfg);
        assert_eq!(auto.read_buffer, BufSize::AtLeast(1024 * 1400));
        let exact = recv_size(SockOpts {
            read_buffer: BufSize::Exact(1024 * 1400),
            ..SockOpts::default()
        });
        assert_eq!(recv_size(auto), exact.max(os));
        // A small window never shrinks the OS default.
        let small = SockOpts::from(&crate::SessionConfig::default().with_window(4, 4));
        assert_eq!(recv_size(small), os);
        // Huge windows are capped at kcptun's 4 MiB; an explicit size wins.
        let huge = SockOpts::from(&crate::SessionConfig::default().with_window(65535, 65535));
        assert_eq!(huge.write_buffer, BufSize::AtLeast(AUTO_BUFFER_CAP));
        let mut set = cfg.clone();
        set.read_buffer = 65536;
        assert_eq!(SockOpts::from(&set).read_buffer, BufSize::Exact(65536));
    }

    #[test]
    fn many_peer_batches_arrive_byte_exact() {
        let peers: Vec<StdUdpSocket> = (0..64)
            .map(|_| {
                let s = StdUdpSocket::bind("127.0.0.1:0").unwrap();
                let _ = socket2::SockRef::from(&s).set_recv_buffer_size(1 << 20);
                s
            })
            .collect();
        // Round-robin singles to every peer, then GSO-able runs (3 × 1200
        // + a shorter tail) to a few peers, then mixed sizes.
        let mut dgrams = Vec::new();
        let mut k = 0u32;
        let mut data = |len: usize| {
            k += 1;
            (0..len)
                .map(|i| (i as u32 * 31 + k * 7) as u8)
                .collect::<Vec<u8>>()
        };
        for round in 0..4 {
            for p in 0..64 {
                dgrams.push((p, data(1400 - round * 100 - p)));
            }
        }
        for p in [3, 9, 27] {
            for _ in 0..3 {
                dgrams.push((p, data(1200)));
            }
            dgrams.push((p, data(500)));
        }
        for p in 0..64 {
            dgrams.push((p, data(1 + p * 20)));
        }
        let (portable, _) = fan_out(IoMode::Portable, false, &dgrams, &peers);
        let (batched, stats) = fan_out(IoMode::Batched, true, &dgrams, &peers);
        for p in 0..64 {
            let want: Vec<&Vec<u8>> = dgrams.iter().filter(|d| d.0 == p).map(|d| &d.1).collect();
            assert_eq!(
                portable[p].iter().collect::<Vec<_>>(),
                want,
                "portable, peer {p}"
            );
            assert_eq!(
                batched[p].iter().collect::<Vec<_>>(),
                want,
                "batched, peer {p}"
            );
        }
        assert_eq!(stats.datagrams_out, dgrams.len() as u64);
        assert_eq!(stats.send_errors, 0);
        #[cfg(target_os = "linux")]
        assert!(
            stats.send_calls * 8 <= dgrams.len() as u64,
            "sendmmsg should batch: {stats:?}"
        );
    }
}
