//! [`KcpStream`]: one session as a tokio `AsyncRead + AsyncWrite` stream,
//! either dialled ([`KcpStream::connect`], its own socket and driver task)
//! or accepted from a [`KcpListener`](super::KcpListener) (the listener's).

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::client::ClientCore;
use super::driver::{self, Shared, register};
use super::listener::ListenerCore;
use super::session::SessState;
use crate::net::NetConfig;
use crate::net::clock::{Clock, millis};
use crate::net::session::{End, try_read, try_write};
use crate::net::udp_batch::{IoCounters, IoStats, SockOpts, bind_socket};
use crate::{Connection, ConnectionHandle, MAX_DATAGRAM, OobError, Stats, Timestamp};

/// Which driver a session lives in.
enum Link {
    Client(Arc<Shared<ClientCore>>),
    Server(Arc<Shared<ListenerCore>>, ConnectionHandle),
}

/// What a session operation asks of the driver once the lock is released.
#[derive(Default)]
struct Ctl {
    /// Service the session (output to send, timers moved).
    kick: bool,
    /// Watch the session's deadlines (linger, shutdown).
    watch: bool,
}

/// A projected session: its connection (`None` once released) and state;
/// `None` when the session is gone altogether.
type Sess<'a> = Option<(Option<&'a mut Connection>, &'a mut SessState)>;

/// Shared by a stream and its halves; the last one dropped closes the
/// session (with linger).
struct Inner {
    link: Link,
    conv: u32,
    peer: SocketAddr,
    linger_ms: u32,
}

impl Inner {
    fn now(&self) -> Timestamp {
        match &self.link {
            Link::Client(s) => s.now(),
            Link::Server(s, _) => s.now(),
        }
    }

    /// Runs `f` on the session under its driver's lock; then, if `f`
    /// queued output, services and sends it from this task
    /// ([`Shared::send_from_caller`](driver::Shared::send_from_caller)), or
    /// kicks the driver if `f` only asked for a watch.
    fn with<R>(&self, f: impl FnOnce(Sess<'_>, &mut Ctl) -> R) -> io::Result<R> {
        let mut ctl = Ctl::default();
        match &self.link {
            Link::Client(s) => {
                let mut g = s.lock()?;
                if g.dead {
                    return Err(driver::driver_gone());
                }
                let c = &mut g.core;
                let r = f(Some((Some(&mut c.conn), &mut c.sess)), &mut ctl);
                finish(s, g, &ctl);
                Ok(r)
            }
            Link::Server(s, h) => {
                let mut g = s.lock()?;
                if g.dead {
                    return Err(driver::driver_gone());
                }
                let r = f(g.core.project(*h), &mut ctl);
                if ctl.watch {
                    g.core.watch(*h);
                }
                finish(s, g, &ctl);
                Ok(r)
            }
        }
    }

    /// Like [`with`](Self::with) for a poll function.
    fn poll<R>(
        &self,
        f: impl FnOnce(Sess<'_>, &mut Ctl) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match self.with(f) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_read(&self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll(|s, ctl| match s {
            Some((Some(c), st)) => {
                // Reading may free the receive window: KCP then owes the
                // peer a window update, which the driver sends only if it
                // learns that the session's timer moved earlier (an idle
                // session has none at all).
                let before = c.poll_timeout();
                let r = try_read(Some((Some(&mut *c), &mut st.meta)), dst);
                ctl.kick = match (before, c.poll_timeout()) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(b), Some(a)) => a.diff(b) < 0,
                };
                match r {
                    Some(r) => Poll::Ready(r),
                    None => {
                        register(&mut st.wakers.rd, cx);
                        Poll::Pending
                    }
                }
            }
            Some((None, st)) => match try_read(Some((None, &mut st.meta)), dst) {
                Some(r) => Poll::Ready(r),
                None => Poll::Ready(Ok(0)),
            },
            None => Poll::Ready(Ok(0)),
        })
    }

    fn poll_recv_msg(&self, cx: &mut Context<'_>) -> Poll<io::Result<Bytes>> {
        let mut msg = BytesMut::new();
        let p = self.poll(|s, ctl| {
            let (c, st) = match s {
                Some((Some(c), st)) => (c, st),
                Some((None, st)) => {
                    return match try_read(Some((None, &mut st.meta)), &mut [0u8]) {
                        Some(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Ready(Ok(0)),
                    };
                }
                None => return Poll::Ready(Ok(0)),
            };
            let before = c.poll_timeout();
            // A whole message or nothing: its size first. Nothing ready:
            // a 1-byte read takes nothing and reports EOF, an error or
            // "wait" (and re-arms the connection's readable event).
            let r = match c.peek_size() {
                Some(n) if !st.meta.rd_shut => {
                    msg.resize(n, 0);
                    try_read(Some((Some(&mut *c), &mut st.meta)), &mut msg)
                }
                _ => try_read(Some((Some(&mut *c), &mut st.meta)), &mut [0u8; 1]),
            };
            ctl.kick = match (before, c.poll_timeout()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(b), Some(a)) => a.diff(b) < 0,
            };
            match r {
                Some(r) => Poll::Ready(r),
                None => {
                    register(&mut st.wakers.rd, cx);
                    Poll::Pending
                }
            }
        });
        p.map_ok(|n| {
            msg.truncate(n);
            msg.freeze()
        })
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll(|s, ctl| {
            let Some((c, st)) = s else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            match try_write(Some((c, &mut st.meta)), buf) {
                Some(Ok(n)) => {
                    ctl.kick = n > 0;
                    Poll::Ready(Ok(n))
                }
                Some(Err(e)) => Poll::Ready(Err(e)),
                None => {
                    register(&mut st.wakers.wr, cx);
                    Poll::Pending
                }
            }
        })
    }

    fn poll_send_msg(&self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        self.poll(|s, ctl| {
            let Some((c, st)) = s else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            let Some(c) = c else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            // The same checks as a write (shut down, closed, ended).
            if let Some(Err(e)) = try_write(Some((Some(&mut *c), &mut st.meta)), &[]) {
                return Poll::Ready(Err(e));
            }
            if msg.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if !c.is_writable() {
                register(&mut st.wakers.wr, cx);
                return Poll::Pending;
            }
            ctl.kick = true;
            Poll::Ready(
                c.send(msg)
                    .map(drop)
                    .map_err(|_| io::ErrorKind::BrokenPipe.into()),
            )
        })
    }

    fn poll_recv_oob(&self, cx: &mut Context<'_>) -> Poll<io::Result<Bytes>> {
        self.poll(|s, _| match s {
            Some((Some(c), st)) => {
                let mut buf = [0u8; MAX_DATAGRAM];
                match c.recv_oob(&mut buf) {
                    Some(n) => Poll::Ready(Ok(Bytes::copy_from_slice(&buf[..n]))),
                    None if st.meta.end.is_some() || st.meta.rd_shut => {
                        Poll::Ready(Ok(Bytes::new()))
                    }
                    None => {
                        register(&mut st.wakers.oob, cx);
                        Poll::Pending
                    }
                }
            }
            _ => Poll::Ready(Ok(Bytes::new())),
        })
    }

    fn send_oob(&self, payload: &[u8]) -> io::Result<()> {
        let r = self.with(|s, ctl| match s {
            Some((Some(c), st)) if st.meta.end.is_none() && st.meta.closing.is_none() => {
                ctl.kick = true;
                c.send_oob(payload)
            }
            _ => Err(OobError::Closed),
        })?;
        match r {
            Ok(()) => Ok(()),
            Err(OobError::Closed) => Err(io::ErrorKind::NotConnected.into()),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
    }

    /// Shutdown: no more writes, then wait until everything written is
    /// acknowledged (`Ok`) or the linger passed (`TimedOut`).
    fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let now = self.now();
        let linger = self.linger_ms;
        self.poll(|s, ctl| {
            let Some((c, st)) = s else {
                return Poll::Ready(Ok(()));
            };
            if st.flush_by.is_none() {
                st.meta.wr_shut = true;
                st.flush_by = Some(now.add_millis(linger));
                ctl.kick = true;
            }
            if c.as_deref().is_none_or(|c| c.wait_snd() == 0) {
                return Poll::Ready(Ok(()));
            }
            match st.meta.end {
                Some(End::Reset) => return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
                Some(End::Idle) => {
                    return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
                }
                Some(End::Released) => {
                    return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
                }
                None => {}
            }
            if st.flush_by.is_some_and(|by| now.reached(by)) {
                return Poll::Ready(Err(unflushed()));
            }
            register(&mut st.wakers.shut, cx);
            st.flush_watch = true;
            ctl.watch = true;
            Poll::Pending
        })
    }

    /// Starts closing: no more reads or writes, linger in the driver.
    fn begin_close(&self) {
        let now = self.now();
        let linger = self.linger_ms;
        let _ = self.with(|s, ctl| {
            if let Some((_, st)) = s {
                match st.meta.end {
                    Some(End::Released) => {}
                    Some(_) => st.meta.end = Some(End::Released),
                    None if st.meta.closing.is_none() => {
                        st.meta.closing = Some(now.add_millis(linger));
                        ctl.watch = true;
                    }
                    None => {}
                }
            }
            ctl.kick = true;
        });
    }

    fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        self.poll(|s, _| match s {
            Some((_, st)) if st.meta.end == Some(End::Released) => Poll::Ready(Ok(st.meta.flushed)),
            Some((_, st)) => {
                register(&mut st.wakers.shut, cx);
                Poll::Pending
            }
            None => Poll::Ready(Ok(true)),
        })
    }

    fn stats(&self) -> Stats {
        self.with(|s, _| {
            s.and_then(|(c, _)| c.map(|c| c.stats()))
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    fn oob_max_size(&self) -> usize {
        self.with(|s, _| {
            s.and_then(|(c, _)| c.map(|c| c.oob_max_size()))
                .unwrap_or(0)
        })
        .unwrap_or(0)
    }

    fn local_addr(&self) -> SocketAddr {
        match &self.link {
            Link::Client(s) => s.local,
            Link::Server(s, _) => s.local,
        }
    }

    fn io_stats(&self) -> IoStats {
        match &self.link {
            Link::Client(s) => s.counters.snapshot(),
            Link::Server(s, _) => s.counters.snapshot(),
        }
    }
}

/// What [`Inner::with`] does after `f`: send now, kick, or nothing.
fn finish<C: driver::Core>(
    s: &driver::Shared<C>,
    mut g: std::sync::MutexGuard<'_, driver::Locked<C>>,
    ctl: &Ctl,
) {
    if ctl.kick {
        s.send_from_caller(g);
    } else if ctl.watch {
        let w = g.kick();
        drop(g);
        if let Some(w) = w {
            w.wake();
        }
    }
}

fn unflushed() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "linger ended with unacknowledged data",
    )
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.begin_close();
        let waker = match &self.link {
            Link::Client(s) => s.lock().ok().and_then(|mut g| {
                g.core.dropped = true;
                g.kick()
            }),
            Link::Server(s, h) => s.lock().ok().and_then(|mut g| {
                g.core.drop_stream(*h);
                g.kick()
            }),
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A KCP session as a tokio byte stream (kcp-go's `UDPSession`).
///
/// Reads return the session's data in order ([`AsyncRead`]); writes wait
/// while the send window is full ([`AsyncWrite`]). Datagrams move in the
/// socket's driver task; these calls only lock the session's state, copy,
/// and park on a waker. [`recv_msg`](Self::recv_msg) /
/// [`send_msg`](Self::send_msg) keep message boundaries (message mode,
/// `stream = false`), [`send_oob`](Self::send_oob) /
/// [`recv_oob`](Self::recv_oob) carry kcp-go's unreliable out-of-band
/// datagrams, [`into_split`](Self::into_split) gives a reader and a
/// writer for two tasks.
///
/// **Closing.** KCP has no FIN: the peer is never told that a session
/// ended. [`poll_shutdown`](AsyncWrite::poll_shutdown) (`AsyncWriteExt::shutdown`) stops writing
/// and waits until everything written is acknowledged (`Ok`) or
/// [`NetConfig::linger`] passed (`TimedOut`); reading goes on.
/// [`close`](Self::close) is the std adapter's `close`: no more reads or
/// writes, the same wait, then the session is released. Dropping the
/// stream (both halves) closes it the same way in the background: the
/// driver keeps it running for up to the linger to get its data
/// acknowledged. The peer notices through its own idle timeout
/// ([`NetConfig::idle_timeout`]): once nothing arrived for that long,
/// reads return what was buffered and then EOF, writes fail with
/// `ConnectionAborted`. A listener session replaced because its peer
/// reconnected with a new conv fails with `ConnectionReset`. If the
/// runtime running the driver task shuts down, operations fail with
/// `NotConnected`.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use kcp_session::SessionConfig;
/// use kcp_session::tokio::{KcpListener, KcpStream};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let cfg = SessionConfig::fast3();
///     let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
///     let addr = listener.local_addr();
///     let server = tokio::spawn(async move {
///         let (mut s, _peer) = listener.accept().await?;
///         let mut buf = [0u8; 64];
///         let n = s.read(&mut buf).await?;
///         s.write_all(&buf[..n]).await?; // echo
///         s.close().await
///     });
///     let mut c = KcpStream::connect(addr, cfg).await?;
///     c.write_all(b"ping").await?;
///     let mut buf = [0u8; 4];
///     c.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     server.await.unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct KcpStream {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpStream")
            .field("conv", &self.inner.conv)
            .field("peer", &self.inner.peer)
            .finish_non_exhaustive()
    }
}

impl KcpStream {
    /// Opens a session to `addr` (the first address it resolves to) on a
    /// new socket bound to an ephemeral port (kcp-go `DialWithOptions`),
    /// with a random conv (4 bytes from the OS RNG, little-endian), and
    /// spawns its driver task on the current runtime. Nothing is sent
    /// until the first write: KCP has no handshake.
    ///
    /// Cancellation safe: dropped before it completes, nothing was bound
    /// (the only wait is the address lookup).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use kcp_session::CryptConfig;
    /// use kcp_session::tokio::NetConfig;
    /// use kcp_crypto::CryptName;
    /// use std::time::Duration;
    /// // kcptun's `--crypt aes --key secret --mode fast3 --ds 10 --ps 3`:
    /// let cfg = SessionConfig::fast3()
    ///     .with_crypt(CryptConfig::from_passphrase(CryptName::Aes, "secret"))
    ///     .with_fec(10, 3);
    /// let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    /// let net = NetConfig::from(cfg).with_idle_timeout(Duration::from_secs(30));
    /// let c = KcpStream::connect(l.local_addr(), net).await?;
    /// assert_eq!(c.peer_addr(), l.local_addr());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(
        addr: impl tokio::net::ToSocketAddrs,
        config: impl Into<NetConfig>,
    ) -> io::Result<Self> {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| io::Error::other(e.to_string()))?;
        Self::connect_with_conv(addr, u32::from_le_bytes(b), config).await
    }

    /// [`connect`](Self::connect) with a chosen conv.
    ///
    /// Cancellation safe, as [`connect`](Self::connect).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect_with_conv(l.local_addr(), 0x1122_3344, SessionConfig::fast3()).await?;
    /// assert_eq!(c.conv(), 0x1122_3344);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect_with_conv(
        addr: impl tokio::net::ToSocketAddrs,
        conv: u32,
        config: impl Into<NetConfig>,
    ) -> io::Result<Self> {
        let cfg: NetConfig = config.into();
        driver::check_runtime()?;
        let peer = tokio::net::lookup_host(addr)
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let clock = Clock::new();
        let conn = Connection::connect(conv, &cfg.session, clock.now())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let bind: SocketAddr = if peer.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = bind_socket(bind, SockOpts::from(&cfg.session))?;
        let counters = Arc::new(IoCounters::default());
        let core = ClientCore {
            conn,
            sess: SessState::new(clock.now()),
            peer,
            idle_ms: cfg.idle_timeout.map(millis),
            counters: counters.clone(),
            dropped: false,
        };
        let shared = driver::spawn(core, sock, &cfg, clock, counters)?;
        Ok(KcpStream {
            inner: Arc::new(Inner {
                link: Link::Client(shared),
                conv,
                peer,
                linger_ms: millis(cfg.linger),
            }),
        })
    }

    pub(crate) fn accepted(
        listener: Arc<Shared<ListenerCore>>,
        handle: ConnectionHandle,
        peer: SocketAddr,
        linger_ms: u32,
        conv: u32,
    ) -> Self {
        KcpStream {
            inner: Arc::new(Inner {
                link: Link::Server(listener, handle),
                conv,
                peer,
                linger_ms,
            }),
        }
    }

    /// The conversation id.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.write_all(b"hi").await?;
    /// let (s, peer) = l.accept().await?;
    /// assert_eq!(s.conv(), c.conv());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn conv(&self) -> u32 {
        self.inner.conv
    }

    /// The peer's address.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.write_all(b"hi").await?;
    /// let (s, peer) = l.accept().await?;
    /// assert_eq!(s.peer_addr(), peer);
    /// assert_eq!(c.peer_addr(), l.local_addr());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// The local socket's address (the listener's for accepted streams).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.write_all(b"hi").await?;
    /// let (s, peer) = l.accept().await?;
    /// assert_eq!(s.local_addr(), l.local_addr());
    /// assert_eq!(c.local_addr().port(), peer.port());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    /// The session's kcp-go SNMP counters (zero once released).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.write_all(b"hi").await?;
    /// let (s, peer) = l.accept().await?;
    /// assert_eq!(c.stats().bytes_sent, 2);
    /// assert_eq!(c.stats().active_opens, 1);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Socket counters: this stream's own socket, or the listener's.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.write_all(b"hi").await?;
    /// let (s, peer) = l.accept().await?;
    /// assert!(c.io_stats().datagrams_out >= 1);
    /// assert_eq!(s.io_stats(), l.stats().io);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_stats(&self) -> IoStats {
        self.inner.io_stats()
    }

    /// Receives one whole message (message mode): the next message KCP
    /// reassembled, or the rest of one a byte-stream read left partly
    /// read. An empty `Bytes` is the end of the stream (idle timeout or
    /// closed), as `Ok(0)` is for a read. In stream mode
    /// (`SessionConfig::stream`) it returns what is queued, up to one
    /// segment's worth per call.
    ///
    /// Cancellation safe: a message is taken only in the poll that
    /// returns it.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let mut cfg = SessionConfig::fast3();
    /// cfg.stream = false; // message mode (kcp-go's default)
    /// let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), cfg).await?;
    /// c.send_msg(b"one").await?;
    /// c.send_msg(b"two").await?;
    /// let (mut s, _) = l.accept().await?;
    /// assert_eq!(&s.recv_msg().await?[..], b"one");
    /// assert_eq!(&s.recv_msg().await?[..], b"two");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_msg(&mut self) -> io::Result<Bytes> {
        poll_fn(|cx| self.inner.poll_recv_msg(cx)).await
    }

    /// Sends `msg` as one write (kcp-go's `Write`): waits while the send
    /// window is full, then queues all of it at once. Up to
    /// [`Connection::mss`] bytes arrive as one [`recv_msg`](Self::recv_msg)
    /// at the peer; kcp-go cuts longer writes into segment-size messages.
    ///
    /// Cancellation safe: either all of `msg` was queued (the future
    /// returned) or none of it.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.send_msg(&[7u8; 1000]).await?;
    /// let (mut s, _) = l.accept().await?;
    /// assert_eq!(s.recv_msg().await?.len(), 1000);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send_msg(&mut self, msg: &[u8]) -> io::Result<()> {
        poll_fn(|cx| self.inner.poll_send_msg(cx, msg)).await
    }

    /// Sends an out-of-band datagram (kcp-go `SendOOB`): needs FEC, at
    /// most [`oob_max_size`](Self::oob_max_size) bytes, never
    /// retransmitted, dropped if the output queue is full. Never waits.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let cfg = SessionConfig::fast3().with_fec(10, 3); // OOB needs FEC
    /// let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), cfg).await?;
    /// c.send_msg(b"hello").await?; // KCP data opens the session
    /// let (mut s, _) = l.accept().await?;
    /// c.send_oob(b"unreliable")?;
    /// assert_eq!(&s.recv_oob().await?[..], b"unreliable");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_oob(&self, payload: &[u8]) -> io::Result<()> {
        self.inner.send_oob(payload)
    }

    /// Receives the next OOB payload; an empty `Bytes` once the session
    /// ended.
    ///
    /// Cancellation safe: a payload is taken only in the poll that
    /// returns it.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let cfg = SessionConfig::fast3().with_fec(4, 2);
    /// let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), cfg).await?;
    /// c.send_msg(b"hello").await?;
    /// let (mut s, _) = l.accept().await?;
    /// s.send_oob(b"ping")?;
    /// assert_eq!(&c.recv_oob().await?[..], b"ping");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_oob(&mut self) -> io::Result<Bytes> {
        poll_fn(|cx| self.inner.poll_recv_oob(cx)).await
    }

    /// The largest OOB payload (0 without FEC).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let plain = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// assert_eq!(plain.oob_max_size(), 0);
    /// let fec = KcpStream::connect(l.local_addr(), SessionConfig::fast3().with_fec(10, 3)).await?;
    /// assert!(fec.oob_max_size() > 1000);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn oob_max_size(&self) -> usize {
        self.inner.oob_max_size()
    }

    /// Closes the session (the std adapter's `close`): no more reads or
    /// writes, then lingers until everything written was acknowledged
    /// (`Ok`) or [`NetConfig::linger`] passed (`TimedOut`), and releases
    /// it. The peer is not told (KCP has no FIN).
    ///
    /// Cancellation safe in effect: the close has started when the future
    /// is first polled, and dropping it leaves the linger to the driver
    /// (as dropping the stream does).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let reader = tokio::spawn(async move {
    ///     let (mut s, _) = l.accept().await?;
    ///     let mut all = vec![0u8; 100_000];
    ///     s.read_exact(&mut all).await.map(|_| all)
    /// });
    /// c.write_all(&[1u8; 100_000]).await?;
    /// c.close().await?; // returns once everything written was acknowledged
    /// assert_eq!(reader.await.unwrap()?, vec![1u8; 100_000]);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(self) -> io::Result<()> {
        self.inner.begin_close();
        let flushed = poll_fn(|cx| self.inner.poll_closed(cx)).await?;
        if flushed { Ok(()) } else { Err(unflushed()) }
    }

    /// Splits the stream into a reader and a writer that can move to
    /// different tasks. The session closes (with linger, as a drop of the
    /// stream) when both are dropped.
    ///
    /// ```
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    ///     let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    ///     let (mut rd, mut wr) = c.into_split();
    ///     let writer = tokio::spawn(async move { wr.write_all(b"split").await });
    ///     let (mut s, _) = l.accept().await?;
    ///     let mut buf = [0u8; 5];
    ///     s.read_exact(&mut buf).await?;
    ///     s.write_all(&buf).await?;
    ///     rd.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"split");
    ///     writer.await.unwrap()
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                inner: self.inner.clone(),
            },
            OwnedWriteHalf { inner: self.inner },
        )
    }
}

impl AsyncRead for KcpStream {
    /// Returns the session's data in order, at most one KCP message per
    /// call (a segment's worth from kcp-go peers, which cut writes into
    /// segment-size messages); EOF (`Ok` with nothing read) after an idle
    /// timeout or a close.
    ///
    /// Cancellation safe: data is taken only in the poll that returns it.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_into(&self.inner, cx, buf)
    }
}

impl AsyncWrite for KcpStream {
    /// Queues at most what the free send window holds (at least one
    /// segment), like a socket's partial write; waits while it is full.
    ///
    /// Cancellation safe: a `write` future queues bytes only in the poll
    /// that returns `Ok(n)`; dropped before, it queued nothing. (`write_all`
    /// is not, as for every `AsyncWrite`: it may have written a prefix.)
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    /// Data leaves at once (the driver flushes after every write); this
    /// does not wait for acknowledgements.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Stops writing and waits until everything written is acknowledged
    /// (`Ok`) or the linger passed (`TimedOut`); see [`KcpStream`].
    ///
    /// Cancellation safe: the first poll shuts writing and starts the
    /// linger clock; a `shutdown` future dropped before it finishes leaves
    /// the data in flight, and the next call waits for the same deadline.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_shutdown(cx)
    }
}

fn read_into(inner: &Inner, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    let dst = buf.initialize_unfilled();
    match inner.poll_read(cx, dst) {
        Poll::Ready(Ok(n)) => {
            buf.advance(n);
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// The reading half of a [`KcpStream`] ([`KcpStream::into_split`]).
pub struct OwnedReadHalf {
    inner: Arc<Inner>,
}

/// The writing half of a [`KcpStream`] ([`KcpStream::into_split`]).
pub struct OwnedWriteHalf {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("conv", &self.inner.conv)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("conv", &self.inner.conv)
            .finish_non_exhaustive()
    }
}

impl OwnedReadHalf {
    /// [`KcpStream::recv_msg`]. Cancellation safe.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let conv = c.conv();
    /// let (mut rd, mut wr) = c.into_split();
    /// wr.write_all(b"hi").await?;
    /// let (mut s, peer) = l.accept().await?;
    /// s.send_msg(b"reply").await?;
    /// assert_eq!(&rd.recv_msg().await?[..], b"reply");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_msg(&mut self) -> io::Result<Bytes> {
        poll_fn(|cx| self.inner.poll_recv_msg(cx)).await
    }

    /// [`KcpStream::recv_oob`]. Cancellation safe.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let cfg = SessionConfig::fast3().with_fec(10, 3);
    /// let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    /// let (mut rd, mut wr) = KcpStream::connect(l.local_addr(), cfg).await?.into_split();
    /// wr.send_msg(b"x").await?;
    /// let (s, _) = l.accept().await?;
    /// s.send_oob(b"oob")?;
    /// assert_eq!(&rd.recv_oob().await?[..], b"oob");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_oob(&mut self) -> io::Result<Bytes> {
        poll_fn(|cx| self.inner.poll_recv_oob(cx)).await
    }

    /// The conversation id.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let conv = c.conv();
    /// let (mut rd, mut wr) = c.into_split();
    /// wr.write_all(b"hi").await?;
    /// let (mut s, peer) = l.accept().await?;
    /// assert_eq!(rd.conv(), conv);
    /// assert_eq!(s.conv(), conv);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn conv(&self) -> u32 {
        self.inner.conv
    }

    /// The peer's address.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let conv = c.conv();
    /// let (mut rd, mut wr) = c.into_split();
    /// wr.write_all(b"hi").await?;
    /// let (mut s, peer) = l.accept().await?;
    /// assert_eq!(rd.peer_addr(), l.local_addr());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// The local socket's address.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let conv = c.conv();
    /// let (mut rd, mut wr) = c.into_split();
    /// wr.write_all(b"hi").await?;
    /// let (mut s, peer) = l.accept().await?;
    /// assert_eq!(rd.local_addr().port(), peer.port());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    /// The session's kcp-go SNMP counters.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let conv = c.conv();
    /// let (mut rd, mut wr) = c.into_split();
    /// wr.write_all(b"hi").await?;
    /// let (mut s, peer) = l.accept().await?;
    /// assert_eq!(rd.stats().bytes_sent, 2);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }
}

impl OwnedWriteHalf {
    /// [`KcpStream::send_msg`]. Cancellation safe.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// let c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// let conv = c.conv();
    /// let (mut rd, mut wr) = c.into_split();
    /// wr.write_all(b"hi").await?;
    /// let (mut s, peer) = l.accept().await?;
    /// wr.send_msg(b"more").await?;
    /// let mut six = [0u8; 6];
    /// tokio::io::AsyncReadExt::read_exact(&mut s, &mut six).await?;
    /// assert_eq!(&six, b"himore");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send_msg(&mut self, msg: &[u8]) -> io::Result<()> {
        poll_fn(|cx| self.inner.poll_send_msg(cx, msg)).await
    }

    /// [`KcpStream::send_oob`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// let cfg = SessionConfig::fast3().with_fec(10, 3);
    /// let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    /// let (_rd, mut wr) = KcpStream::connect(l.local_addr(), cfg).await?.into_split();
    /// wr.send_msg(b"hello").await?;
    /// let (mut s, _) = l.accept().await?;
    /// wr.send_oob(b"oob")?;
    /// assert_eq!(&s.recv_oob().await?[..], b"oob");
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_oob(&self, payload: &[u8]) -> io::Result<()> {
        self.inner.send_oob(payload)
    }

    /// The session's conversation id (see [`OwnedReadHalf::conv`]).
    pub fn conv(&self) -> u32 {
        self.inner.conv
    }

    /// The peer's address (see [`OwnedReadHalf::peer_addr`]).
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// The local socket's address (see [`OwnedReadHalf::local_addr`]).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    /// The session's kcp-go SNMP counters (see [`OwnedReadHalf::stats`]).
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }
}

impl AsyncRead for OwnedReadHalf {
    /// Cancellation safe: data is taken only in the poll that returns it.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_into(&self.inner, cx, buf)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    /// As [`KcpStream`]'s `poll_write`.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    /// Nothing to flush: data leaves at once.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// As [`KcpStream`]'s `poll_shutdown`: stops writing and waits for
    /// acknowledgements up to the linger; the read half keeps reading.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_shutdown(cx)
    }
}
