//! [`KcpListener`]: kcp-go's `Listener` on a tokio UDP socket — an
//! [`Endpoint`] demultiplexing every peer, serviced by one driver task,
//! sessions handed out as [`KcpStream`]s.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::driver::{self, Core, Outcome, Shared};
use super::session::SessState;
use super::stream::KcpStream;
use crate::net::clock::{Clock, millis};
use crate::net::session::{End, earliest};
use crate::net::udp_batch::{RxBatch, SockOpts, TxBatch, bind_socket};
use crate::net::{ListenerStats, NetConfig};
use crate::{Connection, ConnectionHandle, Endpoint, Event, Timestamp};

/// An accepted session's adapter state.
pub(crate) struct ServerSess {
    pub(crate) st: SessState,
    /// The connection, taken out of the endpoint after an idle timeout
    /// (so that its buffered data can still be read). Boxed: rare, large.
    pub(crate) detached: Option<Box<Connection>>,
    /// The stream's handles are gone.
    pub(crate) dropped: bool,
}

/// The listener's state under its lock.
pub(crate) struct ListenerCore {
    pub(crate) ep: Endpoint<SocketAddr>,
    pub(crate) sessions: HashMap<ConnectionHandle, ServerSess>,
    /// Sessions with deadlines to watch (lingering after a close, a
    /// shutdown waiting for acknowledgements).
    pub(crate) watch: Vec<ConnectionHandle>,
    /// The `KcpListener` was dropped: refuse new peers.
    pub(crate) closed: bool,
    next_sweep: Option<Timestamp>,
    accept_wakers: Vec<Waker>,
    idle_ms: Option<u32>,
}

impl ListenerCore {
    /// A session and its connection (the endpoint's, or the detached one).
    pub(crate) fn project(
        &mut self,
        h: ConnectionHandle,
    ) -> Option<(Option<&mut Connection>, &mut SessState)> {
        let ServerSess { st, detached, .. } = self.sessions.get_mut(&h)?;
        let conn = match detached.as_deref_mut() {
            Some(c) => Some(c),
            None => self.ep.connection_mut(h),
        };
        Some((conn, st))
    }

    /// Adds `h` to the watched sessions.
    pub(crate) fn watch(&mut self, h: ConnectionHandle) {
        if !self.watch.contains(&h) {
            self.watch.push(h);
        }
    }

    /// The stream's last handle dropped (after it started closing).
    pub(crate) fn drop_stream(&mut self, h: ConnectionHandle) {
        let watched = self.watch.contains(&h);
        if let Some(s) = self.sessions.get_mut(&h) {
            s.dropped = true;
            if s.st.meta.end == Some(End::Released) && !watched {
                // A reset session is already closed by the endpoint; an
                // idle one was detached; a lingered one was closed.
                self.sessions.remove(&h);
            }
        }
    }
}

impl Core for ListenerCore {
    fn service(
        &mut self,
        now: Timestamp,
        rx: &mut RxBatch,
        tx: Option<&mut TxBatch>,
        wake: &mut Vec<Waker>,
    ) -> Outcome {
        rx.for_each(|from, d| {
            if let Some(h) = self.ep.handle_datagram(now, from, d)
                && let Some(s) = self.sessions.get_mut(&h)
            {
                s.st.meta.last_rx = now;
            }
        });
        rx.clear();
        if self.closed {
            while let Some((h, _)) = self.ep.accept() {
                self.ep.close(h, now);
            }
        } else if self.ep.backlog() > 0 {
            wake.append(&mut self.accept_wakers);
        }
        if self.ep.poll_timeout().is_some_and(|t| now.reached(t)) {
            self.ep.handle_timeout(now);
        }
        // Watched sessions: linger (release once acknowledged or out of
        // time) and shutdowns waiting for acknowledgements.
        let mut next = None;
        let mut i = 0;
        while i < self.watch.len() {
            let h = self.watch[i];
            let keep = match self.sessions.get_mut(&h) {
                None => false,
                Some(s) => {
                    let conn = match s.detached.as_deref() {
                        Some(c) => Some(c),
                        None => self.ep.connection(h),
                    };
                    let (released, keep) = s.st.watch(conn, now, &mut next, wake);
                    if released {
                        self.ep.close(h, now);
                        if s.dropped {
                            self.sessions.remove(&h);
                        }
                    }
                    keep
                }
            };
            if keep {
                i += 1;
            } else {
                self.watch.swap_remove(i);
            }
        }
        // Idle sweep.
        if let Some(idle) = self.idle_ms {
            if self.next_sweep.is_none_or(|t| now.reached(t)) {
                for (&h, s) in self.sessions.iter_mut() {
                    let m = &mut s.st.meta;
                    if m.end.is_none() && m.closing.is_none() && now.diff(m.last_rx) >= idle as i32
                    {
                        s.detached = self.ep.remove(h).map(Box::new);
                        m.end = Some(End::Idle);
                        s.st.wakers.take_all(wake);
                    }
                }
                self.next_sweep = Some(now.add_millis((idle / 4).clamp(10, 1000)));
            }
            if !self.sessions.is_empty() {
                next = earliest(next, self.next_sweep);
            }
        }
        let mut more_tx = false;
        if let Some(tx) = tx {
            while !tx.is_full() {
                if !tx.push_with(|b| self.ep.poll_transmit(now, b)) {
                    break;
                }
            }
            more_tx = tx.is_full();
        }
        while let Some((h, ev)) = self.ep.poll_event() {
            if let Some(s) = self.sessions.get_mut(&h) {
                if ev == Event::Closed && s.st.meta.end.is_none() {
                    s.st.meta.end = Some(End::Reset);
                }
                s.st.wakers.on_event(ev, wake);
            }
        }
        next = earliest(next, self.ep.poll_timeout());
        let finished = self.closed && self.sessions.is_empty() && self.ep.is_empty() && !more_tx;
        Outcome {
            next,
            more_tx,
            finished,
        }
    }

    fn abandon(&mut self, wake: &mut Vec<Waker>) {
        wake.append(&mut self.accept_wakers);
        for s in self.sessions.values_mut() {
            s.st.wakers.take_all(wake);
        }
    }
}

/// A KCP listener (kcp-go `ListenWithOptions`) on a tokio UDP socket:
/// every peer demultiplexed by address into its own session, all of them
/// serviced by one driver task spawned on the runtime that bound it.
///
/// New peers wait in a backlog of [`NetConfig::accept_backlog`] sessions;
/// beyond it their datagrams are dropped (and counted in
/// [`stats`](Self::stats)). Dropping the listener refuses new peers;
/// accepted streams keep working, and the driver task ends (closing the
/// socket) when the last of them is released.
///
/// Needs a tokio runtime with I/O and time enabled (`enable_all()`).
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use kcp_session::SessionConfig;
/// use kcp_session::tokio::{KcpListener, KcpStream};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let listener = KcpListener::bind("127.0.0.1:0", SessionConfig::fast2()).await?;
///     let mut client = KcpStream::connect(listener.local_addr(), SessionConfig::fast2()).await?;
///     client.write_all(b"hello").await?;
///     let (mut s, peer) = listener.accept().await?;
///     assert_eq!(peer.port(), client.local_addr().port());
///     let mut buf = [0u8; 5];
///     s.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     assert_eq!(s.conv(), client.conv());
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct KcpListener {
    shared: Arc<Shared<ListenerCore>>,
    linger_ms: u32,
}

impl std::fmt::Debug for KcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpListener")
            .field("local", &self.shared.local)
            .finish_non_exhaustive()
    }
}

impl KcpListener {
    /// Binds a UDP socket to `addr` (the first address it resolves to;
    /// the config's DSCP and buffer sizes applied) and spawns its driver
    /// task on the current runtime.
    ///
    /// Cancellation safe: dropped before it completes, nothing was bound
    /// (the only wait is the address lookup).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, NetConfig};
    /// // kcptun's server preset, with a bigger accept backlog.
    /// let cfg = NetConfig::from(SessionConfig::kcptun_server()).with_accept_backlog(1024);
    /// let l = KcpListener::bind("127.0.0.1:0", cfg).await?;
    /// assert_ne!(l.local_addr().port(), 0);
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        config: impl Into<NetConfig>,
    ) -> io::Result<Self> {
        let cfg: NetConfig = config.into();
        driver::check_runtime()?;
        let addr = tokio::net::lookup_host(addr)
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let ep = Endpoint::new(cfg.endpoint_config())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let sock = bind_socket(addr, SockOpts::from(&cfg.session))?;
        let core = ListenerCore {
            ep,
            sessions: HashMap::new(),
            watch: Vec::new(),
            closed: false,
            next_sweep: None,
            accept_wakers: Vec::new(),
            idle_ms: cfg.idle_timeout.map(millis),
        };
        let shared = driver::spawn(core, sock, &cfg, Clock::new(), Default::default())?;
        Ok(KcpListener {
            shared,
            linger_ms: millis(cfg.linger),
        })
    }

    /// The bound address.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::KcpListener;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// assert!(l.local_addr().ip().is_loopback());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Waits for the next new peer's session.
    ///
    /// Cancellation safe: a session is taken from the backlog only in the
    /// poll that returns it, so dropping the future (in `select!`, under a
    /// timeout) loses no peer; the next call returns it. Several tasks may
    /// wait at once.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # rt.block_on(async {
    /// use kcp_session::SessionConfig;
    /// use kcp_session::tokio::{KcpListener, KcpStream};
    /// use std::time::Duration;
    /// use tokio::io::AsyncWriteExt;
    /// let l = KcpListener::bind("127.0.0.1:0", SessionConfig::fast3()).await?;
    /// // Nobody yet: the timed-out accept is dropped, and loses nothing.
    /// assert!(tokio::time::timeout(Duration::from_millis(10), l.accept()).await.is_err());
    /// let mut c = KcpStream::connect(l.local_addr(), SessionConfig::fast3()).await?;
    /// c.write_all(b"hi").await?; // KCP has no handshake: data opens the session
    /// let (s, peer) = l.accept().await?;
    /// assert_eq!((s.conv(), peer.port()), (c.conv(), c.local_addr().port()));
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn accept(&self) -> io::Result<(KcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next new peer's session (what [`accept`](Self::accept)
    /// awaits).
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
    /// let (s, _) = std::future::poll_fn(|cx| l.poll_accept(cx)).await?;
    /// assert_eq!(s.conv(), c.conv());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(KcpStream, SocketAddr)>> {
        let mut g = match self.shared.lock() {
            Ok(g) => g,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if g.dead {
            return Poll::Ready(Err(driver::driver_gone()));
        }
        let now = self.shared.now();
        let core = &mut g.core;
        if let Some((h, addr)) = core.ep.accept() {
            let conv = core.ep.connection(h).map_or(0, Connection::conv);
            core.sessions.insert(
                h,
                ServerSess {
                    st: SessState::new(now),
                    detached: None,
                    dropped: false,
                },
            );
            drop(g);
            let s = KcpStream::accepted(self.shared.clone(), h, addr, self.linger_ms, conv);
            return Poll::Ready(Ok((s, addr)));
        }
        if !core.accept_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            core.accept_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Datagram accounting (every datagram read is delivered or dropped
    /// for a counted reason), kcp-go's SNMP sum over all sessions, and the
    /// socket counters.
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
    /// let _s = l.accept().await?;
    /// let st = l.stats();
    /// assert_eq!((st.endpoint.sessions_created, st.sessions, st.backlog), (1, 1, 0));
    /// assert_eq!(st.endpoint.received, st.endpoint.delivered + st.endpoint.total_dropped());
    /// # Ok::<_, std::io::Error>(())
    /// # })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> ListenerStats {
        let io = self.shared.counters.snapshot();
        match self.shared.lock() {
            Ok(g) => ListenerStats {
                endpoint: *g.core.ep.stats(),
                snmp: g.core.ep.snmp(),
                io,
                sessions: g.core.ep.len(),
                backlog: g.core.ep.backlog(),
            },
            Err(_) => ListenerStats {
                io,
                ..ListenerStats::default()
            },
        }
    }
}

impl Drop for KcpListener {
    fn drop(&mut self) {
        let waker = match self.shared.lock() {
            Ok(mut g) => {
                g.core.closed = true;
                g.kick()
            }
            Err(_) => None,
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}
