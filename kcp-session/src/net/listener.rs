//! [`KcpListener`]: kcp-go's `Listener` — one socket, an
//! [`Endpoint`](crate::Endpoint) demultiplexing every peer, sessions handed
//! out as [`KcpStream`]s.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mio::Token;

use super::NetConfig;
use super::clock::millis;
use super::reactor::{Driver, Outcome, Reactor};
use super::session::{End, Project, SessMeta, check_linger, earliest};
use super::stream::KcpStream;
use super::udp_batch::{IoCounters, IoStats, RxBatch, SockIo, SockOpts, TxBatch, bind_socket};
use crate::{Connection, ConnectionHandle, Endpoint, EndpointStats, Event, Stats, Timestamp};

/// An accepted session's adapter state.
struct ServerSess {
    meta: SessMeta,
    cond: Arc<Condvar>,
    /// The connection, taken out of the endpoint after an idle timeout
    /// (so its buffered data can still be read).
    /// Boxed: only sessions ended by an idle timeout use it, and a
    /// `Connection` is several kilobytes.
    detached: Option<Box<Connection>>,
    /// The stream's last handle is gone.
    dropped: bool,
}

/// The listener's state under its lock.
pub(crate) struct ListenerState {
    ep: Endpoint<SocketAddr>,
    sessions: HashMap<ConnectionHandle, ServerSess>,
    /// Sessions lingering after their stream closed.
    closing: Vec<ConnectionHandle>,
    /// The `KcpListener` was dropped: refuse new peers.
    closed: bool,
    next_sweep: Option<Timestamp>,
}

impl Project for ListenerState {
    type Key = ConnectionHandle;
    fn project(&mut self, h: ConnectionHandle) -> Option<(Option<&mut Connection>, &mut SessMeta)> {
        let ServerSess { meta, detached, .. } = self.sessions.get_mut(&h)?;
        let conn = match detached.as_deref_mut() {
            Some(c) => Some(c),
            None => self.ep.connection_mut(h),
        };
        Some((conn, meta))
    }
}

/// What the reactor and the streams share with a listener.
pub(crate) struct ListenerShared {
    state: Mutex<ListenerState>,
    accept_cv: Condvar,
    token: Token,
    pending: AtomicBool,
    local: SocketAddr,
    counters: Arc<IoCounters>,
    idle_ms: Option<u32>,
}

impl ListenerShared {
    pub(crate) fn state(&self) -> &Mutex<ListenerState> {
        &self.state
    }

    pub(crate) fn kick(&self, reactor: &Reactor) {
        reactor.service(self.token, &self.pending);
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub(crate) fn io_stats(&self) -> IoStats {
        self.counters.snapshot()
    }

    /// A stream started lingering: watch it.
    pub(crate) fn note_closing(&self, h: ConnectionHandle) {
        if let Ok(mut st) = self.state.lock() {
            let lingering = st
                .sessions
                .get(&h)
                .is_some_and(|s| s.meta.closing.is_some() && s.meta.end.is_none());
            if lingering && !st.closing.contains(&h) {
                st.closing.push(h);
            }
        }
    }

    /// The stream's last handle dropped.
    pub(crate) fn drop_stream(&self, h: ConnectionHandle) {
        if let Ok(mut st) = self.state.lock()
            && let Some(s) = st.sessions.get_mut(&h)
        {
            s.dropped = true;
            if s.meta.end == Some(End::Released) && !st.closing.contains(&h) {
                // A reset session is already closed by the endpoint; an
                // idle one was detached; a lingered one was closed.
                st.sessions.remove(&h);
            }
        }
    }
}

impl Driver for ListenerShared {
    fn service(&self, now: Timestamp, rx: &mut RxBatch, tx: Option<&mut TxBatch>) -> Outcome {
        self.pending.store(false, Ordering::Release);
        let Ok(mut g) = self.state.lock() else {
            return Outcome {
                finished: true,
                ..Outcome::default()
            };
        };
        let st = &mut *g;
        rx.for_each(|from, d| {
            if let Some(h) = st.ep.handle_datagram(now, from, d)
                && let Some(s) = st.sessions.get_mut(&h)
            {
                s.meta.last_rx = now;
            }
        });
        if st.closed {
            while let Some((h, _)) = st.ep.accept() {
                st.ep.close(h, now);
            }
        } else if st.ep.backlog() > 0 {
            self.accept_cv.notify_all();
        }
        if st.ep.poll_timeout().is_some_and(|t| now.reached(t)) {
            st.ep.handle_timeout(now);
        }
        // Lingering sessions: release once acknowledged or out of time.
        let mut next = None;
        let mut i = 0;
        while i < st.closing.len() {
            let h = st.closing[i];
            let done = match st.sessions.get_mut(&h) {
                None => true,
                Some(s) => match st.ep.connection(h) {
                    Some(c) if s.meta.end.is_none() => {
                        if check_linger(c, &mut s.meta, now) {
                            true
                        } else {
                            next = earliest(next, s.meta.closing);
                            false
                        }
                    }
                    _ => {
                        s.meta.end = Some(End::Released);
                        true
                    }
                },
            };
            if done {
                st.closing.swap_remove(i);
                st.ep.close(h, now);
                if let Some(s) = st.sessions.get(&h) {
                    s.cond.notify_all();
                    if s.dropped {
                        st.sessions.remove(&h);
                    }
                }
            } else {
                i += 1;
            }
        }
        // Idle sweep.
        if let Some(idle) = self.idle_ms {
            if st.next_sweep.is_none_or(|t| now.reached(t)) {
                for (&h, s) in st.sessions.iter_mut() {
                    let m = &mut s.meta;
                    if m.end.is_none() && m.closing.is_none() && now.diff(m.last_rx) >= idle as i32
                    {
                        s.detached = st.ep.remove(h).map(Box::new);
                        m.end = Some(End::Idle);
                        s.cond.notify_all();
                    }
                }
                st.next_sweep = Some(now.add_millis((idle / 4).clamp(10, 1000)));
            }
            if !st.sessions.is_empty() {
                next = earliest(next, st.next_sweep);
            }
        }
        let mut more_tx = false;
        if let Some(tx) = tx {
            while !tx.is_full() {
                if !tx.push_with(|b| st.ep.poll_transmit(now, b)) {
                    break;
                }
            }
            more_tx = tx.is_full();
        }
        while let Some((h, ev)) = st.ep.poll_event() {
            if let Some(s) = st.sessions.get_mut(&h) {
                if ev == Event::Closed && s.meta.end.is_none() {
                    s.meta.end = Some(End::Reset);
                }
                s.cond.notify_all();
            }
        }
        next = earliest(next, st.ep.poll_timeout());
        let finished = st.closed && st.sessions.is_empty() && st.ep.is_empty() && !more_tx;
        Outcome {
            next,
            more_tx,
            finished,
        }
    }
}

/// Listener statistics: the endpoint's datagram accounting, the sessions'
/// kcp-go SNMP sum and the socket counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Every datagram the endpoint saw: delivered or dropped, with reasons.
    pub endpoint: EndpointStats,
    /// kcp-go's SNMP counters summed over all sessions, past and present.
    pub snmp: Stats,
    /// Socket-level counters.
    pub io: IoStats,
    /// Live sessions (accepted or waiting in the backlog).
    pub sessions: usize,
    /// Sessions waiting to be accepted.
    pub backlog: usize,
}

/// A KCP listener (kcp-go `ListenWithOptions`): one UDP socket, every
/// peer demultiplexed by address into its own session, driven by the
/// shared reactor thread.
///
/// New peers wait in a backlog of [`NetConfig::accept_backlog`] sessions;
/// beyond it their datagrams are dropped (and counted). Dropping the
/// listener refuses new peers; accepted streams keep working, and the
/// socket closes when the last of them is released.
///
/// ```
/// use std::io::{Read, Write};
/// use kcp_session::SessionConfig;
/// use kcp_session::net::{KcpListener, KcpStream};
///
/// let listener = KcpListener::bind("127.0.0.1:0", SessionConfig::fast2())?;
/// let mut client = KcpStream::connect(listener.local_addr(), SessionConfig::fast2())?;
/// client.write_all(b"hello")?;
/// let (mut s, peer) = listener.accept()?;
/// assert_eq!(peer.port(), client.local_addr().port());
/// s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
/// let mut buf = [0u8; 5];
/// s.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(s.conv(), client.conv());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct KcpListener {
    shared: Arc<ListenerShared>,
    reactor: &'static Reactor,
    cfg: NetConfig,
}

impl std::fmt::Debug for KcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpListener")
            .field("local", &self.shared.local)
            .finish_non_exhaustive()
    }
}

impl KcpListener {
    /// Binds a UDP socket to `addr` (with the config's DSCP and buffer
    /// sizes) and starts listening.
    pub fn bind(addr: impl ToSocketAddrs, config: impl Into<NetConfig>) -> io::Result<Self> {
        let cfg: NetConfig = config.into();
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let reactor = Reactor::global()?;
        let ep = Endpoint::new(cfg.endpoint_config())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let sock = bind_socket(addr, SockOpts::from(&cfg.session))?;
        let local = sock.local_addr()?;
        let counters = Arc::new(IoCounters::default());
        let io = SockIo::new(sock, cfg.io_mode, counters.clone())?;
        let token = reactor.token();
        let shared = Arc::new(ListenerShared {
            state: Mutex::new(ListenerState {
                ep,
                sessions: HashMap::new(),
                closing: Vec::new(),
                closed: false,
                next_sweep: None,
            }),
            accept_cv: Condvar::new(),
            token,
            pending: AtomicBool::new(false),
            local,
            counters,
            idle_ms: cfg.idle_timeout.map(millis),
        });
        reactor.add(token, io, shared.clone())?;
        Ok(KcpListener {
            shared,
            reactor,
            cfg,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Waits for the next new peer's session.
    pub fn accept(&self) -> io::Result<(KcpStream, SocketAddr)> {
        self.accept_inner(None)
    }

    /// [`accept`](Self::accept) giving up with `TimedOut` after `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(KcpStream, SocketAddr)> {
        self.accept_inner(Some(Instant::now() + timeout))
    }

    fn accept_inner(&self, deadline: Option<Instant>) -> io::Result<(KcpStream, SocketAddr)> {
        fn poisoned<T>(_: T) -> io::Error {
            io::Error::other("listener lock poisoned")
        }
        let mut g = self.shared.state.lock().map_err(poisoned)?;
        loop {
            if let Some((h, addr)) = g.ep.accept() {
                let now = self.reactor.now();
                let conv = g.ep.connection(h).map_or(0, Connection::conv);
                let cond = Arc::new(Condvar::new());
                g.sessions.insert(
                    h,
                    ServerSess {
                        meta: SessMeta::new(now),
                        cond: cond.clone(),
                        detached: None,
                        dropped: false,
                    },
                );
                drop(g);
                let s = KcpStream::accepted(
                    self.shared.clone(),
                    h,
                    cond,
                    addr,
                    self.reactor,
                    &self.cfg,
                    conv,
                );
                return Ok((s, addr));
            }
            g = match deadline {
                None => self.shared.accept_cv.wait(g).map_err(poisoned)?,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "accept timed out"));
                    }
                    self.shared
                        .accept_cv
                        .wait_timeout(g, d - now)
                        .map_err(poisoned)?
                        .0
                }
            };
        }
    }

    /// An endless iterator over [`accept`](Self::accept)ed streams.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Datagram accounting, SNMP sum and socket counters.
    pub fn stats(&self) -> ListenerStats {
        let st = self.shared.state.lock().expect("listener lock");
        ListenerStats {
            endpoint: *st.ep.stats(),
            snmp: st.ep.snmp(),
            io: self.shared.io_stats(),
            sessions: st.ep.len(),
            backlog: st.ep.backlog(),
        }
    }
}

impl Drop for KcpListener {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.closed = true;
        }
        self.shared.accept_cv.notify_all();
        self.shared.kick(self.reactor);
    }
}

/// Iterator over a listener's new streams ([`KcpListener::incoming`]).
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a KcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<KcpStream>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
