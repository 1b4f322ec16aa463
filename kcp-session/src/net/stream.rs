//! [`KcpStream`]: one session as a blocking `Read + Write` stream, either
//! dialled ([`KcpStream::connect`], its own socket) or accepted from a
//! [`KcpListener`](super::KcpListener) (the listener's socket).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use mio::Token;

use super::NetConfig;
use super::clock::millis;
use super::listener::ListenerShared;
use super::reactor::{Driver, Outcome, Reactor};
use super::session::{
    End, Project, Sess, SessMeta, block_on, check_linger, check_timeout, earliest, try_read,
    try_write,
};
use super::udp_batch::{IoCounters, IoStats, RxBatch, SockIo, SockOpts, TxBatch, bind_socket};
use crate::{Connection, ConnectionHandle, OobError, Stats, Timestamp};

/// A client session's state under its lock.
pub(crate) struct ClientState {
    conn: Connection,
    meta: SessMeta,
}

impl Project for ClientState {
    type Key = ();
    fn project(&mut self, _: ()) -> Option<(Option<&mut Connection>, &mut SessMeta)> {
        Some((Some(&mut self.conn), &mut self.meta))
    }
}

/// A dialled session: its own socket, driven by the reactor.
pub(crate) struct ClientShared {
    state: Mutex<ClientState>,
    cond: Condvar,
    token: Token,
    pending: AtomicBool,
    peer: SocketAddr,
    local: SocketAddr,
    counters: Arc<IoCounters>,
    idle_ms: Option<u32>,
}

impl Driver for ClientShared {
    fn service(&self, now: Timestamp, rx: &mut RxBatch, tx: Option<&mut TxBatch>) -> Outcome {
        self.pending.store(false, Ordering::Release);
        let Ok(mut g) = self.state.lock() else {
            return Outcome {
                finished: true,
                ..Outcome::default()
            };
        };
        let ClientState { conn, meta } = &mut *g;
        let mut signal = false;
        let peer = self.peer;
        let live = meta.end.is_none();
        rx.for_each(|from, d| {
            if from != peer {
                conn.count_foreign_datagram();
                self.counters.foreign.fetch_add(1, Ordering::Relaxed);
            } else if live {
                conn.handle_datagram(now, d);
                meta.last_rx = now;
            }
        });
        let mut next = None;
        if meta.end.is_none() {
            if conn.poll_timeout().is_some_and(|t| now.reached(t)) {
                conn.handle_timeout(now);
            }
            if check_linger(conn, meta, now) {
                signal = true;
            } else if let Some(idle) = self.idle_ms {
                let at = meta.last_rx.add_millis(idle);
                if now.reached(at) {
                    meta.end = Some(End::Idle);
                    signal = true;
                } else {
                    next = Some(at);
                }
            }
        }
        if meta.end == Some(End::Released) && !conn.is_closed() {
            conn.close(now);
        }
        let mut more_tx = false;
        if let Some(tx) = tx {
            while !tx.is_full() {
                if !tx.push_with(|b| conn.poll_transmit(now, b).map(|n| (peer, n))) {
                    break;
                }
            }
            more_tx = tx.is_full() && conn.has_pending_transmit();
        }
        while conn.poll_event().is_some() {
            signal = true;
        }
        if signal {
            self.cond.notify_all();
        }
        let finished = meta.end == Some(End::Released) && conn.is_drained() && !more_tx;
        if meta.end.is_none() || meta.end == Some(End::Released) {
            next = earliest(next, conn.poll_timeout());
            next = earliest(next, meta.closing.filter(|_| meta.end.is_none()));
        }
        Outcome {
            next,
            more_tx,
            finished,
        }
    }
}

/// Which session a stream is.
enum Inner {
    Client(Arc<ClientShared>),
    Server {
        listener: Arc<ListenerShared>,
        handle: ConnectionHandle,
        cond: Arc<Condvar>,
        peer: SocketAddr,
    },
}

/// Shared by all clones of one stream; dropping the last one closes it.
struct Handle {
    inner: Inner,
    reactor: &'static Reactor,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
    nonblocking: AtomicBool,
    linger_ms: u32,
    conv: u32,
}

impl Handle {
    fn with<R>(
        &self,
        timeout: Option<Duration>,
        nonblocking: bool,
        f: impl FnMut(Sess<'_>) -> Option<io::Result<R>>,
    ) -> io::Result<R> {
        match &self.inner {
            Inner::Client(c) => block_on(&c.state, &c.cond, (), timeout, nonblocking, f),
            Inner::Server {
                listener,
                handle,
                cond,
                ..
            } => block_on(listener.state(), cond, *handle, timeout, nonblocking, f),
        }
    }

    /// Runs `f` once, without waiting.
    fn now<R>(&self, mut f: impl FnMut(Sess<'_>) -> R) -> io::Result<R> {
        let mut out = None;
        let r = self.with(None, true, |s| {
            out = Some(f(s));
            Some(Ok(()))
        });
        r.map(|()| out.expect("ran once"))
    }

    fn kick(&self) {
        match &self.inner {
            Inner::Client(c) => self.reactor.service(c.token, &c.pending),
            Inner::Server { listener, .. } => listener.kick(self.reactor),
        }
    }

    fn begin_close(&self) {
        let now = self.reactor.now();
        let linger = self.linger_ms;
        let _ = self.now(|s| {
            if let Some((_, meta)) = s {
                match meta.end {
                    Some(End::Released) => {}
                    Some(_) => meta.end = Some(End::Released),
                    None if meta.closing.is_none() => meta.closing = Some(now.add_millis(linger)),
                    None => {}
                }
            }
        });
        if let Inner::Server {
            listener, handle, ..
        } = &self.inner
        {
            listener.note_closing(*handle);
        }
        self.kick();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.begin_close();
        if let Inner::Server {
            listener, handle, ..
        } = &self.inner
        {
            listener.drop_stream(*handle);
        }
    }
}

/// A KCP session as a blocking byte stream (kcp-go's `UDPSession`).
///
/// Reads return the session's messages in order (in stream mode, a byte
/// stream); writes block while the send window is full. All I/O happens on
/// the shared reactor thread; these calls only lock the session and wait
/// on its `Condvar`.
///
/// **Closing.** KCP has no FIN: the peer is never told that a session
/// ended. Dropping the last handle (or [`close`](Self::close)) stops
/// reading and writing, keeps the session running for up to
/// [`NetConfig::linger`] until everything written is acknowledged, then
/// releases it (the client socket closes, a listener forgets the peer).
/// The peer notices through its own idle timeout
/// ([`NetConfig::idle_timeout`]): once nothing arrived for that long,
/// reads return what was buffered and then `Ok(0)` (EOF), writes fail with
/// `ConnectionAborted`. A listener session replaced because its peer
/// reconnected with a new conv fails with `ConnectionReset`.
///
/// ```
/// use std::io::{Read, Write};
/// use kcp_session::SessionConfig;
/// use kcp_session::net::{KcpListener, KcpStream};
///
/// let cfg = SessionConfig::fast3();
/// let listener = KcpListener::bind("127.0.0.1:0", cfg.clone())?;
/// let addr = listener.local_addr();
/// let server = std::thread::spawn(move || -> std::io::Result<()> {
///     let (mut s, _peer) = listener.accept()?;
///     let mut buf = [0u8; 64];
///     let n = s.read(&mut buf)?;
///     s.write_all(&buf[..n])?; // echo
///     s.close()
/// });
/// let mut c = KcpStream::connect(addr, cfg)?;
/// c.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
/// c.write_all(b"ping")?;
/// let mut buf = [0u8; 4];
/// c.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// server.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct KcpStream {
    h: Arc<Handle>,
}

impl std::fmt::Debug for KcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpStream")
            .field("conv", &self.h.conv)
            .field("peer", &self.peer_addr())
            .finish_non_exhaustive()
    }
}

impl KcpStream {
    /// Opens a session to `addr` on a new socket bound to an ephemeral
    /// port (kcp-go `DialWithOptions`), with a random conv (4 bytes from
    /// the OS RNG, little-endian). Nothing is sent until the first write:
    /// KCP has no handshake.
    pub fn connect(addr: impl ToSocketAddrs, config: impl Into<NetConfig>) -> io::Result<Self> {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| io::Error::other(e.to_string()))?;
        Self::connect_with_conv(addr, u32::from_le_bytes(b), config)
    }

    /// [`connect`](Self::connect) with a chosen conv.
    pub fn connect_with_conv(
        addr: impl ToSocketAddrs,
        conv: u32,
        config: impl Into<NetConfig>,
    ) -> io::Result<Self> {
        let cfg: NetConfig = config.into();
        let peer = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let reactor = Reactor::global()?;
        let now = reactor.now();
        let conn = Connection::connect(conv, &cfg.session, now)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let bind: SocketAddr = if peer.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = bind_socket(bind, SockOpts::from(&cfg.session))?;
        let local = sock.local_addr()?;
        let counters = Arc::new(IoCounters::default());
        let io = SockIo::new(sock, cfg.io_mode, counters.clone())?;
        let token = reactor.token();
        let shared = Arc::new(ClientShared {
            state: Mutex::new(ClientState {
                conn,
                meta: SessMeta::new(now),
            }),
            cond: Condvar::new(),
            token,
            pending: AtomicBool::new(false),
            peer,
            local,
            counters,
            idle_ms: cfg.idle_timeout.map(millis),
        });
        reactor.add(token, io, shared.clone())?;
        Ok(Self::new(Inner::Client(shared), reactor, &cfg, conv))
    }

    pub(crate) fn accepted(
        listener: Arc<ListenerShared>,
        handle: ConnectionHandle,
        cond: Arc<Condvar>,
        peer: SocketAddr,
        reactor: &'static Reactor,
        cfg: &NetConfig,
        conv: u32,
    ) -> Self {
        let inner = Inner::Server {
            listener,
            handle,
            cond,
            peer,
        };
        Self::new(inner, reactor, cfg, conv)
    }

    fn new(inner: Inner, reactor: &'static Reactor, cfg: &NetConfig, conv: u32) -> Self {
        KcpStream {
            h: Arc::new(Handle {
                inner,
                reactor,
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
                nonblocking: AtomicBool::new(false),
                linger_ms: millis(cfg.linger),
                conv,
            }),
        }
    }

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.h.conv
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        match &self.h.inner {
            Inner::Client(c) => c.peer,
            Inner::Server { peer, .. } => *peer,
        }
    }

    /// The local socket's address (a listener's for accepted streams).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.h.inner {
            Inner::Client(c) => c.local,
            Inner::Server { listener, .. } => listener.local_addr(),
        }
    }

    /// The session's kcp-go SNMP counters (zero once released).
    pub fn stats(&self) -> Stats {
        self.h
            .now(|s| {
                s.and_then(|(c, _)| c.map(|c| c.stats()))
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Socket counters: this stream's own socket, or the listener's.
    pub fn io_stats(&self) -> IoStats {
        match &self.h.inner {
            Inner::Client(c) => c.counters.snapshot(),
            Inner::Server { listener, .. } => listener.io_stats(),
        }
    }

    /// Timeout for [`read`](Read::read) and [`recv_oob`](Self::recv_oob):
    /// `TimedOut` on expiry; `None` blocks forever; a zero duration is
    /// `InvalidInput`, as for std sockets.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self.h.read_timeout.lock().expect("timeout lock") = t;
        Ok(())
    }

    /// Timeout for [`write`](Write::write) while the send window is full:
    /// `TimedOut` on expiry.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self.h.write_timeout.lock().expect("timeout lock") = t;
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self.h.read_timeout.lock().expect("timeout lock"))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self.h.write_timeout.lock().expect("timeout lock"))
    }

    /// Non-blocking mode: reads and writes that would wait return
    /// `WouldBlock` instead.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.h.nonblocking.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Another handle to the same session (shares timeouts and mode, like
    /// a duplicated socket); the session closes when the last one drops.
    pub fn try_clone(&self) -> io::Result<KcpStream> {
        Ok(KcpStream { h: self.h.clone() })
    }

    /// Shuts reading (later reads return `Ok(0)`), writing (later writes
    /// fail with `BrokenPipe`) or both, locally: KCP has no FIN, so the peer
    /// is not told, and what was written is still delivered.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.h.now(|s| {
            if let Some((_, m)) = s {
                m.rd_shut |= matches!(how, Shutdown::Read | Shutdown::Both);
                m.wr_shut |= matches!(how, Shutdown::Write | Shutdown::Both);
            }
        })?;
        self.notify();
        Ok(())
    }

    /// Sends an out-of-band datagram (kcp-go `SendOOB`): needs FEC, at
    /// most [`oob_max_size`](Self::oob_max_size) bytes, never retransmitted.
    pub fn send_oob(&self, payload: &[u8]) -> io::Result<()> {
        let r = self.h.now(|s| match s {
            Some((Some(c), m)) if m.end.is_none() && m.closing.is_none() => c.send_oob(payload),
            _ => Err(OobError::Closed),
        })?;
        match r {
            Ok(()) => {
                self.h.kick();
                Ok(())
            }
            Err(OobError::Closed) => Err(io::ErrorKind::NotConnected.into()),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
    }

    /// The largest OOB payload (0 without FEC).
    pub fn oob_max_size(&self) -> usize {
        self.h
            .now(|s| {
                s.and_then(|(c, _)| c.map(|c| c.oob_max_size()))
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Receives the next OOB payload into `buf` (truncated), blocking like
    /// [`read`](Read::read); `Ok(0)` once the session ended.
    pub fn recv_oob(&self, buf: &mut [u8]) -> io::Result<usize> {
        let t = self.read_timeout()?;
        let nb = self.h.nonblocking.load(Ordering::Relaxed);
        self.h.with(t, nb, |s| match s {
            Some((Some(c), m)) => match c.recv_oob(buf) {
                Some(n) => Some(Ok(n)),
                None if m.end.is_some() || m.rd_shut => Some(Ok(0)),
                None => None,
            },
            _ => Some(Ok(0)),
        })
    }

    /// Closes the session for every handle: no more reads or writes, then
    /// lingers until everything written was acknowledged (`Ok`) or
    /// [`NetConfig::linger`] passed (`TimedOut`). The peer is not told
    /// (KCP has no FIN). Dropping the last handle does the same without
    /// waiting.
    pub fn close(self) -> io::Result<()> {
        self.h.begin_close();
        let wait = Duration::from_millis(u64::from(self.h.linger_ms) + 1000);
        let flushed = self.h.with(Some(wait), false, |s| match s {
            Some((_, m)) if m.end == Some(End::Released) => Some(Ok(m.flushed)),
            Some(_) => None,
            None => Some(Ok(true)),
        })?;
        if flushed {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "linger ended with unacknowledged data",
            ))
        }
    }

    fn notify(&self) {
        match &self.h.inner {
            Inner::Client(c) => c.cond.notify_all(),
            Inner::Server { cond, .. } => cond.notify_all(),
        }
    }

    fn read_impl(&self, buf: &mut [u8]) -> io::Result<usize> {
        let t = self.read_timeout()?;
        let nb = self.h.nonblocking.load(Ordering::Relaxed);
        let mut wake = false;
        let r = self.h.with(t, nb, |s| match s {
            Some((Some(c), m)) => {
                // Reading may free the receive window: KCP then owes the
                // peer a window update, which the reactor sends only if it
                // learns that the session's timer moved earlier (an idle
                // session has none at all).
                let before = c.poll_timeout();
                let r = try_read(Some((Some(&mut *c), m)), buf);
                wake = match (before, c.poll_timeout()) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(b), Some(a)) => a.diff(b) < 0,
                };
                r
            }
            s => try_read(s, buf),
        });
        if wake {
            self.h.kick();
        }
        r
    }

    fn write_impl(&self, buf: &[u8]) -> io::Result<usize> {
        let t = self.write_timeout()?;
        let nb = self.h.nonblocking.load(Ordering::Relaxed);
        let n = self.h.with(t, nb, |s| try_write(s, buf))?;
        if n > 0 {
            self.h.kick();
        }
        Ok(n)
    }
}

impl Read for KcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Read for &KcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Write for KcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }
    /// Data leaves at once (the reactor flushes after every write); this
    /// does not wait for acknowledgements.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &KcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
