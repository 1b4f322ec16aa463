//! The blocking std driver of a [`Mux`]: an smux session over any
//! reliable byte stream ([`KcpStream`], [`TcpStream`], a Unix socket, or
//! any reader/writer pair), optionally through kcptun's snappy framing.
//!
//! # Threads and locking
//!
//! Each session runs two threads of its own:
//!
//! - **reader** (`smux-reader`): transport `read` (no lock held) →
//!   snappy decode (with compression) → [`Mux::handle_input`] under the
//!   session lock. When the mux stops consuming (the session receive
//!   budget is spent or the accept backlog is full), the reader keeps the
//!   rest and waits until streams are read, closed or accepted: it does
//!   not read the transport meanwhile, which pushes the backpressure into
//!   KCP's receive window (or TCP's), as smux does.
//! - **writer** (`smux-writer`): takes what [`Mux::poll_output`] has under
//!   the lock, then writes it to the transport **without** the lock (with
//!   compression: one snappy chunk per smux frame, as kcptun's
//!   `CompStream`), so a transport write that blocks (a full KCP send
//!   window) never stops input processing. Between batches it sleeps on a
//!   `Condvar` until there is output or [`Mux::poll_timeout`] (keepalive)
//!   passes.
//!
//! Application threads ([`SmuxStream`] reads and writes,
//! [`SmuxSession::accept_stream`]) lock the same mutex for one call on
//! the mux and park on a `Condvar` per stream (one for accepting) until
//! the mux reports the stream readable or writable, or the session ends.
//! Writes return once the mux took the bytes (at most
//! [`MuxConfig::stream_send_buffer`] queued per stream, and the peer's
//! window in v2); the writer thread sends them.
//!
//! # Closing
//!
//! [`SmuxStream::close`] (or dropping the last handle of a stream) sends
//! the stream's FIN after its queued data. smux has **no half-close**: a
//! closed stream can neither be read nor written, and the peer, once it
//! has read everything, sees the end (`Ok(0)`) and can no longer write.
//!
//! [`SmuxSession::close`] writes what is queued (for up to
//! [`CLOSE_FLUSH`]), then shuts the transport down and joins both
//! threads. The session also closes, in the background, when the session
//! handle and every stream handle are dropped: the writer thread still
//! sends what is queued (however long the transport takes), then shuts the
//! transport down. Stream handles keep the session open after the session
//! handle is dropped; streams the peer opens meanwhile are never accepted,
//! and once `accept_backlog` of them wait, input stops.
//!
//! A session dies on its own when the transport ends or fails, the peer
//! breaks the protocol, or nothing arrives for a keepalive period (smux
//! only stops reading on a protocol error; kcptun then closes the
//! session, and so does this driver): the transport is shut down, both
//! threads end, and streams return what they had buffered, then errors.
//! Over a [`KcpStream`] the peer's end is only ever noticed through the
//! keepalive: KCP has no FIN.
//!
//! # Errors
//!
//! | situation | `io::ErrorKind` |
//! |---|---|
//! | read after the peer's FIN and its data | `Ok(0)` |
//! | write after the peer's FIN | `BrokenPipe` |
//! | read or write after this stream's `close` | `BrokenPipe` |
//! | session closed locally, or keepalive timeout | `ConnectionAborted` |
//! | transport ended or failed, protocol or snappy error from the peer | `ConnectionReset` |
//! | read/write timeout ([`SmuxStream::set_read_timeout`]) | `TimedOut` |
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use kcp_session::smux::MuxConfig;
//! use kcp_session::smux::net::SmuxSession;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let client = TcpStream::connect(listener.local_addr()?)?;
//! let (server, _) = listener.accept()?;
//! // `true` would add kcptun's snappy framing (feature `snappy`).
//! let client = SmuxSession::client(client, MuxConfig::kcptun(), false)?;
//! let server = SmuxSession::server(server, MuxConfig::kcptun(), false)?;
//!
//! let mut a = client.open_stream()?;
//! a.write_all(b"ping")?;
//! let mut b = server.accept_stream()?;
//! let mut buf = [0u8; 4];
//! b.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"ping");
//! a.close()?; // FIN: `b` reads the end
//! assert_eq!(b.read(&mut buf)?, 0);
//! client.close()?;
//! server.close()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`KcpStream`]: crate::net::KcpStream

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(feature = "snappy")]
use super::snappy::{SnappyDecoder, SnappyEncoder, SnappyError};
use super::{Mux, MuxConfig, MuxError, MuxEvent, MuxStats, Role, StreamError, StreamId, Version};
use crate::net::KcpStream;
use crate::net::clock::Clock;

/// How long [`SmuxSession::close`] lets the writer thread send what is
/// queued before it shuts the transport down regardless.
pub const CLOSE_FLUSH: Duration = Duration::from_secs(5);

/// Bytes asked from the transport per read.
pub(super) const READ_BUF: usize = 64 * 1024;

/// A reliable byte stream an smux session can run over: readable and
/// writable from two threads at once (through a second handle), and shut
/// down from a third, which must wake a read or write blocked on it.
pub trait Transport: Read + Write + Send + Sized + 'static {
    /// A second handle to the same stream (the writer thread's).
    fn try_clone(&self) -> io::Result<Self>;
    /// Ends the stream both ways, waking blocked reads and writes (errors
    /// are ignored: the stream may already be gone).
    fn shutdown_both(&self);
}

impl Transport for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Transport for KcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        KcpStream::try_clone(self)
    }
    /// Stops reads and writes locally; the KCP session then lingers until
    /// what was written is acknowledged (KCP has no FIN).
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

/// Why a session ended (shared with the tokio driver).
#[derive(Clone, Debug)]
pub(super) enum Death {
    /// The mux failed (protocol error, keepalive timeout) or was closed.
    Mux(MuxError),
    /// The peer's snappy stream is corrupt or unsupported.
    #[cfg(feature = "snappy")]
    Snappy(SnappyError),
    /// The transport read EOF or failed.
    Transport(String),
}

impl Death {
    /// The error streams and the session report: the `MuxError` or
    /// `SnappyError` itself inside (`get_ref`), or the transport's
    /// message.
    pub(super) fn to_io(&self) -> io::Error {
        match self {
            Death::Mux(e @ (MuxError::Closed | MuxError::KeepaliveTimeout)) => {
                io::Error::new(io::ErrorKind::ConnectionAborted, *e)
            }
            Death::Mux(e) => io::Error::new(io::ErrorKind::ConnectionReset, *e),
            #[cfg(feature = "snappy")]
            Death::Snappy(e) => io::Error::new(io::ErrorKind::ConnectionReset, *e),
            Death::Transport(m) => io::Error::new(io::ErrorKind::ConnectionReset, m.clone()),
        }
    }
}

/// Everything behind the session lock.
struct State {
    mux: Mux,
    /// Set once: the session can exchange nothing more.
    dead: Option<Death>,
    /// Close requested: the writer sends what is queued, then ends it.
    closing: bool,
    /// The writer thread has ended.
    writer_done: bool,
    /// Condvars of streams with live handles.
    streams: HashMap<u32, Arc<Condvar>>,
    reader_waiting: bool,
    writer_waiting: bool,
    transport_in: u64,
    transport_out: u64,
}

type ShutdownFn = Box<dyn FnOnce() + Send>;

struct Shared {
    state: Mutex<State>,
    /// The reader thread waits here for receive budget or backlog room.
    reader_cond: Condvar,
    /// The writer thread waits here for output or keepalive.
    writer_cond: Condvar,
    /// `accept_stream` waits here.
    accept_cond: Condvar,
    /// `close` waits here for the writer thread to end.
    done_cond: Condvar,
    clock: Clock,
    /// The session handle plus stream handles; the session closes when
    /// the count drops to zero.
    handles: AtomicUsize,
    /// Shuts the transport down (taken and run once).
    shutdown: Mutex<Option<ShutdownFn>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock would be a bug in the mux; keep going
        // with its state rather than poisoning every handle.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Routes the mux's events to the threads waiting for them.
    fn dispatch(&self, st: &mut State) {
        while let Some(ev) = st.mux.poll_event() {
            match ev {
                MuxEvent::Incoming => self.accept_cond.notify_all(),
                MuxEvent::Readable(id) | MuxEvent::Writable(id) | MuxEvent::Finished(id) => {
                    if let Some(c) = st.streams.get(&id.0) {
                        c.notify_all();
                    }
                }
                MuxEvent::Dead(e) => {
                    st.dead.get_or_insert(Death::Mux(e));
                    self.wake_all(st);
                }
            }
        }
    }

    fn wake_all(&self, st: &State) {
        for c in st.streams.values() {
            c.notify_all();
        }
        self.accept_cond.notify_all();
        self.reader_cond.notify_all();
        self.writer_cond.notify_all();
        self.done_cond.notify_all();
    }

    /// Something may have been queued for sending.
    fn kick_writer(&self, st: &State) {
        if st.writer_waiting {
            self.writer_cond.notify_one();
        }
    }

    /// Receive budget or backlog room may have come back.
    fn kick_reader(&self, st: &State) {
        if st.reader_waiting {
            self.reader_cond.notify_one();
        }
    }

    /// The session ends (first cause wins): every waiter wakes and the
    /// transport is shut down.
    fn die(&self, why: Death) {
        {
            let mut st = self.lock();
            st.dead.get_or_insert(why);
            self.wake_all(&st);
        }
        self.shutdown_transport();
    }

    fn shutdown_transport(&self) {
        let f = self
            .shutdown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(f) = f {
            f();
        }
    }

    /// Asks for a close: the writer sends what is queued, then ends the
    /// session.
    fn begin_close(&self) {
        let mut st = self.lock();
        if !st.closing && st.dead.is_none() {
            st.closing = true;
            self.wake_all(&st);
        }
    }

    fn release(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.begin_close();
        }
    }
}

/// Counters of an [`SmuxSession`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmuxStats {
    /// The mux's own counters (frames, payload bytes, NOPs, ...).
    pub mux: MuxStats,
    /// Bytes read from the transport (compressed, with snappy).
    pub transport_in: u64,
    /// Bytes written to the transport (compressed, with snappy).
    pub transport_out: u64,
    /// Streams alive in the mux.
    pub streams: usize,
}

/// An smux session over a blocking transport, driven by two threads of
/// its own (see the [module docs](self)).
///
/// `&SmuxSession` is enough for every call: share it between threads
/// with an `Arc` or scoped threads.
pub struct SmuxSession {
    shared: Arc<Shared>,
    role: Role,
}

impl std::fmt::Debug for SmuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmuxSession")
            .field("role", &self.role)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl SmuxSession {
    /// A client session (`smux.Client`: opens odd stream ids) over
    /// `transport`; `compress` adds kcptun's snappy framing (kcptun
    /// without `--nocomp`; needs the `snappy` feature, `Unsupported`
    /// otherwise).
    pub fn client<T: Transport>(
        transport: T,
        cfg: MuxConfig,
        compress: bool,
    ) -> io::Result<SmuxSession> {
        Self::new(Role::Client, transport, cfg, compress)
    }

    /// A server session (`smux.Server`), as [`client`](Self::client).
    pub fn server<T: Transport>(
        transport: T,
        cfg: MuxConfig,
        compress: bool,
    ) -> io::Result<SmuxSession> {
        Self::new(Role::Server, transport, cfg, compress)
    }

    /// A session of either role over `transport`.
    pub fn new<T: Transport>(
        role: Role,
        transport: T,
        cfg: MuxConfig,
        compress: bool,
    ) -> io::Result<SmuxSession> {
        let writer = transport.try_clone()?;
        let closer = transport.try_clone()?;
        Self::from_parts(
            role,
            transport,
            writer,
            move || closer.shutdown_both(),
            cfg,
            compress,
        )
    }

    /// A session over any reader/writer pair: `shutdown` is called once
    /// when the session ends and must make a blocked `reader.read` and
    /// `writer.write` return (an error or `Ok(0)`), or the threads stay
    /// until the transport ends by itself.
    pub fn from_parts<R, W, F>(
        role: Role,
        reader: R,
        writer: W,
        shutdown: F,
        cfg: MuxConfig,
        compress: bool,
    ) -> io::Result<SmuxSession>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
        F: FnOnce() + Send + 'static,
    {
        if compress && !cfg!(feature = "snappy") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "smux compression needs kcp-session's `snappy` feature",
            ));
        }
        let clock = Clock::new();
        let version = cfg.version;
        let mux = Mux::new(role, cfg, clock.now())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                mux,
                dead: None,
                closing: false,
                writer_done: false,
                streams: HashMap::new(),
                reader_waiting: false,
                writer_waiting: false,
                transport_in: 0,
                transport_out: 0,
            }),
            reader_cond: Condvar::new(),
            writer_cond: Condvar::new(),
            accept_cond: Condvar::new(),
            done_cond: Condvar::new(),
            clock,
            handles: AtomicUsize::new(1),
            shutdown: Mutex::new(Some(Box::new(shutdown))),
            threads: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let w = std::thread::Builder::new()
            .name("smux-writer".into())
            .spawn(move || writer_loop(&s, writer, compress, version))?;
        let s = shared.clone();
        let r = match std::thread::Builder::new()
            .name("smux-reader".into())
            .spawn(move || reader_loop(&s, reader, compress))
        {
            Ok(r) => r,
            Err(e) => {
                shared.die(Death::Mux(MuxError::Closed));
                let _ = w.join();
                return Err(e);
            }
        };
        shared
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend([w, r]);
        Ok(SmuxSession { shared, role })
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Opens a stream (smux `OpenStream`). Its SYN is queued ahead of
    /// anything written to it; there is no answer to wait for.
    pub fn open_stream(&self) -> io::Result<SmuxStream> {
        let mut st = self.shared.lock();
        check_session(&st)?;
        let id = st.mux.open_stream().map_err(|e| match e {
            MuxError::GoAway | MuxError::TooManyStreams => io::Error::other(e),
            e => Death::Mux(e).to_io(),
        })?;
        self.shared.kick_writer(&st);
        Ok(SmuxStream::new(&self.shared, &mut st, id))
    }

    /// Waits for a stream the peer opened (smux `AcceptStream`); fails
    /// once the session is dead or closed.
    pub fn accept_stream(&self) -> io::Result<SmuxStream> {
        self.accept_inner(None)
    }

    /// [`accept_stream`](Self::accept_stream) giving up after `timeout`
    /// (`TimedOut`).
    pub fn accept_stream_timeout(&self, timeout: Duration) -> io::Result<SmuxStream> {
        self.accept_inner(Some(Instant::now() + timeout))
    }

    fn accept_inner(&self, deadline: Option<Instant>) -> io::Result<SmuxStream> {
        let sh = &self.shared;
        let mut st = sh.lock();
        loop {
            if let Some(id) = st.mux.accept_stream() {
                sh.kick_reader(&st);
                return Ok(SmuxStream::new(sh, &mut st, id));
            }
            check_session(&st)?;
            st = wait(&sh.accept_cond, st, deadline)?;
        }
    }

    /// Closes the session: what is queued (data, FINs) is written for up
    /// to [`CLOSE_FLUSH`], then the transport is shut down and both
    /// threads are joined. Every stream fails afterwards
    /// (`ConnectionAborted`). Closing twice is fine.
    pub fn close(&self) -> io::Result<()> {
        let sh = &self.shared;
        sh.begin_close();
        let deadline = Instant::now() + CLOSE_FLUSH;
        let mut st = sh.lock();
        while !st.writer_done && st.dead.is_none() {
            match wait(&sh.done_cond, st, Some(deadline)) {
                Ok(g) => st = g,
                Err(_) => {
                    // The transport does not take the bytes: give up on them.
                    st = sh.lock();
                    st.mux.close();
                    sh.dispatch(&mut st);
                    break;
                }
            }
        }
        drop(st);
        sh.die(Death::Mux(MuxError::Closed));
        let threads: Vec<_> = sh
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }

    /// Whether the session is still up (not closed, not dead).
    pub fn is_alive(&self) -> bool {
        let st = self.shared.lock();
        st.dead.is_none() && !st.closing
    }

    /// Why the session ended, as the error its streams return; `None`
    /// while it is alive.
    pub fn error(&self) -> Option<io::Error> {
        self.shared.lock().dead.as_ref().map(Death::to_io)
    }

    /// Counters.
    pub fn stats(&self) -> SmuxStats {
        let st = self.shared.lock();
        SmuxStats {
            mux: st.mux.stats(),
            transport_in: st.transport_in,
            transport_out: st.transport_out,
            streams: st.mux.stream_count(),
        }
    }
}

impl Drop for SmuxSession {
    fn drop(&mut self) {
        self.shared.release();
    }
}

fn check_session(st: &State) -> io::Result<()> {
    if let Some(d) = &st.dead {
        return Err(d.to_io());
    }
    if st.closing {
        return Err(Death::Mux(MuxError::Closed).to_io());
    }
    Ok(())
}

/// Waits on `cond` until notified or `deadline` (`TimedOut`).
fn wait<'a>(
    cond: &Condvar,
    g: MutexGuard<'a, State>,
    deadline: Option<Instant>,
) -> io::Result<MutexGuard<'a, State>> {
    match deadline {
        None => Ok(cond.wait(g).unwrap_or_else(|p| p.into_inner())),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return Err(io::ErrorKind::TimedOut.into());
            }
            Ok(cond
                .wait_timeout(g, d - now)
                .unwrap_or_else(|p| p.into_inner())
                .0)
        }
    }
}

#[cfg_attr(not(feature = "snappy"), allow(unused_variables))]
fn reader_loop<R: Read>(sh: &Shared, mut rd: R, compress: bool) {
    let mut buf = vec![0u8; READ_BUF];
    #[cfg(feature = "snappy")]
    let mut dec = compress.then(SnappyDecoder::new);
    #[cfg(feature = "snappy")]
    let mut plain = Vec::new();
    let why = 'outer: loop {
        let n = match rd.read(&mut buf) {
            Ok(0) => break Death::Transport("transport closed".into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Death::Transport(format!("transport read: {e}")),
        };
        #[cfg(feature = "snappy")]
        let input: &[u8] = match &mut dec {
            Some(d) => {
                plain.clear();
                if let Err(e) = d.decode(&buf[..n], &mut plain) {
                    break Death::Snappy(e);
                }
                &plain
            }
            None => &buf[..n],
        };
        #[cfg(not(feature = "snappy"))]
        let input: &[u8] = &buf[..n];
        let mut st = sh.lock();
        st.transport_in += n as u64;
        let mut off = 0;
        loop {
            if let Some(d) = &st.dead {
                break 'outer d.clone();
            }
            if st.closing {
                // Input no longer matters; the writer ends the session
                // once it has sent what is queued.
                return;
            }
            let r = st.mux.handle_input(&input[off..]);
            sh.dispatch(&mut st);
            match r {
                Ok(k) => off += k,
                Err(e) => break 'outer Death::Mux(e),
            }
            if off == input.len() {
                break;
            }
            // The receive budget is spent or the backlog is full: wait
            // for reads, closes or accepts before offering the rest.
            st.reader_waiting = true;
            st = sh.reader_cond.wait(st).unwrap_or_else(|p| p.into_inner());
            st.reader_waiting = false;
        }
    };
    sh.die(why);
}

#[cfg_attr(not(feature = "snappy"), allow(unused_variables))]
fn writer_loop<W: Write>(sh: &Shared, mut wr: W, compress: bool, version: Version) {
    #[cfg(feature = "snappy")]
    let mut enc = compress.then(SnappyEncoder::new);
    #[cfg(feature = "snappy")]
    let mut wire = Vec::new();
    let mut batch: Vec<u8> = Vec::new();
    let why = 'outer: loop {
        {
            let mut st = sh.lock();
            loop {
                if let Some(d) = &st.dead {
                    break 'outer d.clone();
                }
                let now = sh.clock.now();
                if st.mux.poll_timeout().is_some_and(|t| now.reached(t)) {
                    st.mux.handle_timeout(now);
                }
                if let Some(out) = st.mux.poll_output() {
                    batch.extend_from_slice(out);
                    let n = out.len();
                    st.mux.advance_output(n);
                    sh.dispatch(&mut st);
                    break;
                }
                sh.dispatch(&mut st);
                if st.dead.is_some() {
                    continue;
                }
                if st.closing {
                    // Everything queued is written: end the session.
                    st.mux.close();
                    sh.dispatch(&mut st);
                    break 'outer Death::Mux(MuxError::Closed);
                }
                st.writer_waiting = true;
                st = match st.mux.poll_timeout() {
                    Some(t) => {
                        let ms = t.diff(now).max(0) as u64 + 1;
                        sh.writer_cond
                            .wait_timeout(st, Duration::from_millis(ms))
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                    None => sh.writer_cond.wait(st).unwrap_or_else(|p| p.into_inner()),
                };
                st.writer_waiting = false;
            }
        }
        #[cfg(feature = "snappy")]
        let r = match &mut enc {
            Some(enc) => {
                wire.clear();
                let taken = enc.encode_frames(&batch, version, &mut wire);
                batch.drain(..taken);
                wr.write_all(&wire).map(|()| wire.len())
            }
            None => {
                let r = wr.write_all(&batch).map(|()| batch.len());
                batch.clear();
                r
            }
        };
        #[cfg(not(feature = "snappy"))]
        let r = {
            let r = wr.write_all(&batch).map(|()| batch.len());
            batch.clear();
            r
        };
        match r.and_then(|n| wr.flush().map(|()| n)) {
            Ok(n) => sh.lock().transport_out += n as u64,
            Err(e) => break Death::Transport(format!("transport write: {e}")),
        }
    };
    {
        let mut st = sh.lock();
        st.writer_done = true;
        sh.done_cond.notify_all();
    }
    sh.die(why);
}

/// The part of a stream all its handles share.
struct StreamInner {
    shared: Arc<Shared>,
    id: StreamId,
    cond: Arc<Condvar>,
    /// Closed locally (under the session lock).
    closed: AtomicBool,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

/// One smux stream: `Read` + `Write` (also through `&SmuxStream`, so one
/// thread can read while another writes).
///
/// `read` returns at most one received frame's payload; `Ok(0)` is the
/// end of the stream (the peer's FIN after all its data). `write` returns
/// once the session took the bytes (possibly fewer than given, as a
/// socket's); `flush` does nothing. There is no half-close:
/// [`close`](Self::close) ends both directions. See the
/// [module docs](self) for the errors.
pub struct SmuxStream {
    inner: Arc<StreamInner>,
}

impl std::fmt::Debug for SmuxStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmuxStream")
            .field("id", &self.inner.id.0)
            .finish_non_exhaustive()
    }
}

impl SmuxStream {
    fn new(shared: &Arc<Shared>, st: &mut State, id: StreamId) -> SmuxStream {
        let cond = Arc::new(Condvar::new());
        st.streams.insert(id.0, cond.clone());
        shared.handles.fetch_add(1, Ordering::AcqRel);
        SmuxStream {
            inner: Arc::new(StreamInner {
                shared: shared.clone(),
                id,
                cond,
                closed: AtomicBool::new(false),
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
            }),
        }
    }

    /// The stream id (odd when the client opened it, even for the server).
    pub fn id(&self) -> StreamId {
        self.inner.id
    }

    /// Another handle to the same stream; the stream closes when the last
    /// one is dropped.
    pub fn try_clone(&self) -> io::Result<SmuxStream> {
        Ok(SmuxStream {
            inner: self.inner.clone(),
        })
    }

    /// Closes the stream for every handle (smux `Stream.Close`): unread
    /// data is discarded, queued data still goes out, then a FIN. Blocked
    /// reads and writes return `BrokenPipe`. There is no half-close.
    /// Closing again does nothing.
    pub fn close(&self) -> io::Result<()> {
        self.inner.close();
        Ok(())
    }

    /// Whether the peer closed the stream (its FIN arrived; buffered data
    /// may still be readable).
    pub fn is_finished(&self) -> bool {
        let st = self.inner.shared.lock();
        st.mux.is_finished(self.inner.id)
    }

    /// Timeout for reads (`TimedOut`); `None` blocks forever.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// Timeout for writes waiting for room (`TimedOut`).
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        *self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }
}

impl StreamInner {
    fn deadline(t: &Mutex<Option<Duration>>) -> Option<Instant> {
        t.lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|d| Instant::now() + d)
    }

    fn map_err(&self, e: StreamError, st: &State) -> io::Error {
        match e {
            StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "stream closed"),
            StreamError::Finished => {
                io::Error::new(io::ErrorKind::BrokenPipe, "stream closed by the peer")
            }
            StreamError::Consumed => io::Error::new(io::ErrorKind::InvalidData, e),
            StreamError::Session(m) => st.dead.clone().unwrap_or(Death::Mux(m)).to_io(),
            StreamError::Blocked => io::ErrorKind::WouldBlock.into(),
            _ => match &st.dead {
                Some(d) => d.to_io(),
                None => io::Error::new(io::ErrorKind::NotConnected, e),
            },
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Self::deadline(&self.read_timeout);
        let sh = &self.shared;
        let mut st = sh.lock();
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream closed"));
            }
            match st.mux.recv(self.id, buf) {
                Ok(n) => {
                    if n > 0 {
                        // An UPD may be due, and receive budget is back.
                        sh.kick_writer(&st);
                        sh.kick_reader(&st);
                    }
                    return Ok(n);
                }
                Err(StreamError::Blocked) => {
                    if let Some(d) = &st.dead {
                        return Err(d.to_io());
                    }
                    if st.closing {
                        return Err(Death::Mux(MuxError::Closed).to_io());
                    }
                }
                Err(e) => return Err(self.map_err(e, &st)),
            }
            st = wait(&self.cond, st, deadline)?;
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = Self::deadline(&self.write_timeout);
        let sh = &self.shared;
        let mut st = sh.lock();
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream closed"));
            }
            check_session(&st)?;
            match st.mux.send(self.id, buf) {
                Ok(n) => {
                    sh.kick_writer(&st);
                    return Ok(n);
                }
                Err(StreamError::Blocked) => {}
                Err(e) => return Err(self.map_err(e, &st)),
            }
            st = wait(&self.cond, st, deadline)?;
        }
    }

    fn close(&self) {
        let sh = &self.shared;
        let mut st = sh.lock();
        if self.closed.swap(true, Ordering::Relaxed) {
            return;
        }
        // Unknown once the session closed: nothing left to send.
        let _ = st.mux.close_stream(self.id);
        sh.kick_writer(&st);
        sh.kick_reader(&st);
        self.cond.notify_all();
    }
}

impl Drop for StreamInner {
    fn drop(&mut self) {
        self.close();
        self.shared.lock().streams.remove(&self.id.0);
        self.shared.release();
    }
}

impl Read for SmuxStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Read for &SmuxStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for SmuxStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &SmuxStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
