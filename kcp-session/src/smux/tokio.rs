//! The tokio driver of a [`Mux`] (feature `tokio`): an smux session over
//! any `AsyncRead + AsyncWrite` byte stream (a
//! [`KcpStream`](crate::tokio::KcpStream), a `tokio::net::TcpStream`, a
//! `tokio::io::DuplexStream`), optionally through kcptun's snappy framing,
//! with [`AsyncSmuxStream`]s that are `AsyncRead + AsyncWrite`.
//!
//! # Tasks and locking
//!
//! Each session has **one driver task**, spawned on the runtime that
//! created the session, driven the way quinn drives quinn-proto. The task
//! owns the transport (both directions) and one `tokio::time::Sleep`; the
//! [`Mux`] sits behind a `std::sync::Mutex` shared with the handles,
//! together with the wakers of the tasks waiting on it: per stream one
//! reader and one writer, the accepting tasks, the tasks in
//! [`AsyncSmuxSession::close`], and the driver's own.
//!
//! Each time the driver runs it reads the transport (no lock held),
//! decodes snappy (with compression), then under the lock feeds the mux
//! ([`Mux::handle_input`]), runs keepalive ([`Mux::handle_timeout`]) when
//! due, takes the next output batch ([`Mux::poll_output`]) if the last one
//! is written, and collects the wakers of the tasks whose streams became
//! readable or writable (or whose session ended). It wakes them after
//! unlocking, encodes and writes the batch (no lock held), and re-arms its
//! `Sleep` to [`Mux::poll_timeout`] (no deadline at all without keepalive).
//!
//! A stream operation locks, calls the mux once, and either finishes or
//! leaves its task's waker; if it produced output or freed receive budget
//! (a write, a read, a close, an accept) it wakes the driver task.
//!
//! # Backpressure
//!
//! Nothing is queued without bound. A write returns once the mux took the
//! bytes (at most [`MuxConfig::stream_send_buffer`] per stream, and the
//! peer's window in v2) and otherwise waits until the driver has framed
//! enough of them or the peer's UPD opened the window. The driver takes
//! the next output batch (about 64 KiB) only when the previous one is
//! written, so a transport that does not take bytes (a full KCP send
//! window) stops the writers. When [`Mux::handle_input`] stops consuming
//! (the session receive budget [`MuxConfig::max_receive_buffer`] is spent,
//! or [`MuxConfig::accept_backlog`] streams wait to be accepted) the
//! driver keeps the rest of what it read (at most one read's worth, or
//! what one read of snappy decodes to) and does not read the transport
//! until streams are read, closed or accepted: the backpressure goes on
//! into KCP's receive window (or TCP's), as with smux.
//!
//! # Cancellation
//!
//! Every async method and poll function is cancellation safe: a
//! `read` takes bytes only in the poll that returns them, a `write` queues
//! bytes only in the poll that returns `Ok(n)`, and
//! [`accept_stream`](AsyncSmuxSession::accept_stream) takes a stream only
//! in the poll that returns it; a future dropped before completing has
//! taken nothing. (`write_all` and `read_exact` are not, as for every
//! `AsyncRead`/`AsyncWrite`: they may have moved a prefix.)
//! [`close`](AsyncSmuxSession::close) dropped early still closes the
//! session, in the background.
//!
//! # Closing and dropping
//!
//! `poll_shutdown` (`AsyncWriteExt::shutdown`) on a stream is smux's
//! `Stream.Close`: the stream's queued data still goes out, then its FIN;
//! unread data is discarded. smux has **no half-close**: after shutdown
//! the stream can no longer be written (`BrokenPipe`) and reads end
//! (`Ok(0)`; smux's later reads after a close return EOF as well); the
//! peer reads everything sent before the FIN, then the end, and can no
//! longer write. Dropping a stream (both halves after
//! [`into_split`](AsyncSmuxStream::into_split)) closes it the same way.
//!
//! [`AsyncSmuxSession::close`] writes what is queued, shuts the transport
//! down (`poll_shutdown`) and waits for the driver task to end, for at
//! most [`CLOSE_FLUSH`] altogether: then it drops the transport as it is.
//! (A [`KcpStream`](crate::tokio::KcpStream)'s shutdown waits until what
//! was written is acknowledged: closed after its peer's KCP session is
//! gone, it waits out its linger. The std driver's close does not wait
//! for KCP; dropping the session closes in the background.)
//! When every [`AsyncSmuxSession`] clone and every stream is dropped, the
//! session closes the same way in the background (however long the
//! transport takes to accept the queued bytes, or until keepalive gives
//! up on a silent peer). Stream handles keep the session open after the
//! session handles are dropped; streams the peer opens meanwhile are
//! never accepted.
//!
//! A session dies on its own when the transport ends or fails, the peer
//! breaks the protocol (or sends corrupt snappy), or nothing arrives for a
//! keepalive period: the driver shuts the transport down and ends, and
//! streams return what they had buffered, then errors. Over a
//! [`KcpStream`](crate::tokio::KcpStream) the peer's end is only noticed
//! through the keepalive: KCP has no FIN.
//!
//! If the runtime shuts down first, its driver task is dropped: every
//! waiting task wakes and further operations fail with `NotConnected`
//! (as the tokio KCP adapter's). Nothing panics.
//!
//! # Errors
//!
//! The std driver's kinds ([`super::net`]):
//!
//! | situation | `io::ErrorKind` |
//! |---|---|
//! | read after the peer's FIN and its data | `Ok(0)` |
//! | read after this stream's shutdown | `Ok(0)` (std driver: `BrokenPipe`) |
//! | write after the peer's FIN, or after this stream's shutdown | `BrokenPipe` |
//! | session closed locally, or keepalive timeout | `ConnectionAborted` |
//! | transport ended or failed, protocol or snappy error from the peer | `ConnectionReset` |
//! | the driver task is gone (runtime shut down) | `NotConnected` |
//!
//! Errors of a dead mux carry the [`MuxError`] (and snappy errors the
//! `smux::snappy::SnappyError`) inside: `e.get_ref()` and
//! `downcast_ref`.
//!
//! # Time
//!
//! Keepalive runs on `tokio::time::Instant` (mapped to the mux's
//! millisecond [`Timestamp`]s), so a test runtime with
//! paused time (`#[tokio::test(start_paused = true)]`) drives it
//! deterministically.
//!
//! Needs a runtime with time enabled (`enable_time()` or `enable_all()`),
//! current thread or multi-thread.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use kcp_session::smux::MuxConfig;
//! use kcp_session::smux::tokio::AsyncSmuxSession;
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     // Any AsyncRead + AsyncWrite transport; a KcpStream in kcptun.
//!     let (a, b) = tokio::io::duplex(64 * 1024);
//!     let client = AsyncSmuxSession::client(a, MuxConfig::kcptun())?;
//!     let server = AsyncSmuxSession::server(b, MuxConfig::kcptun())?;
//!
//!     let mut s = client.open_stream().await?;
//!     s.write_all(b"ping").await?;
//!     let mut t = server.accept_stream().await?;
//!     let mut buf = [0u8; 4];
//!     t.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     s.shutdown().await?; // FIN: `t` reads the end
//!     assert_eq!(t.read(&mut buf).await?, 0);
//!     client.close().await?;
//!     server.close().await?;
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub use super::net::{CLOSE_FLUSH, SmuxStats};
use super::net::{Death, READ_BUF};
#[cfg(feature = "snappy")]
use super::snappy::{SnappyDecoder, SnappyEncoder};
use super::{Mux, MuxConfig, MuxError, MuxEvent, Role, StreamError, StreamId, Version};
use crate::Timestamp;
use crate::net::clock::Clock;

/// Read/service/write rounds per poll before the driver yields to other
/// tasks.
const ROUNDS: usize = 16;

/// Tasks waiting for the same thing (accepting, or the driver's end),
/// each under a key its future removes when dropped: a dropped future
/// leaves nothing behind.
#[derive(Default)]
struct Waiters {
    next: u64,
    map: HashMap<u64, Waker>,
}

impl Waiters {
    fn register(&mut self, key: &mut Option<u64>, cx: &Context<'_>) {
        let k = *key.get_or_insert_with(|| {
            self.next += 1;
            self.next
        });
        match self.map.get_mut(&k) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                self.map.insert(k, cx.waker().clone());
            }
        }
    }

    fn remove(&mut self, key: Option<u64>) {
        if let Some(k) = key {
            self.map.remove(&k);
        }
    }

    fn drain_into(&mut self, wake: &mut Vec<Waker>) {
        wake.extend(self.map.drain().map(|(_, w)| w));
    }
}

/// The wakers of one stream's reader and writer.
#[derive(Default)]
struct Slot {
    rd: Option<Waker>,
    wr: Option<Waker>,
}

/// Everything behind the session lock.
struct State {
    mux: Mux,
    /// Set once: the session can exchange nothing more.
    dead: Option<Death>,
    /// Close requested: the driver sends what is queued, then ends it.
    closing: bool,
    /// `close` stopped waiting: the driver drops the transport at once.
    abort: bool,
    /// The driver task has ended (finished, or dropped with its runtime).
    driver_done: bool,
    /// The driver task was dropped before it finished (runtime shut down).
    gone: bool,
    driver: Option<Waker>,
    /// The driver has been woken and has not serviced the mux since.
    kicked: bool,
    /// Streams with live handles.
    streams: HashMap<u32, Slot>,
    accept: Waiters,
    done: Waiters,
}

impl State {
    /// Asks the driver task to run (woken once the lock is released).
    fn kick(&mut self, wake: &mut Vec<Waker>) {
        if !self.kicked {
            self.kicked = true;
            if let Some(w) = &self.driver {
                wake.push(w.clone());
            }
        }
    }

    /// Collects every waiting task, and the driver.
    fn wake_all(&mut self, wake: &mut Vec<Waker>) {
        for s in self.streams.values_mut() {
            wake.extend(s.rd.take());
            wake.extend(s.wr.take());
        }
        self.accept.drain_into(wake);
        self.done.drain_into(wake);
        self.kick(wake);
    }

    /// The session ends (the first cause wins).
    fn fail(&mut self, why: Death, wake: &mut Vec<Waker>) {
        if self.dead.is_none() {
            self.dead = Some(why);
            self.wake_all(wake);
        }
    }

    /// Routes the mux's events to the tasks waiting for them.
    fn dispatch(&mut self, wake: &mut Vec<Waker>) {
        while let Some(ev) = self.mux.poll_event() {
            match ev {
                MuxEvent::Incoming => self.accept.drain_into(wake),
                MuxEvent::Readable(id) => {
                    if let Some(s) = self.streams.get_mut(&id.0) {
                        wake.extend(s.rd.take());
                    }
                }
                MuxEvent::Writable(id) => {
                    if let Some(s) = self.streams.get_mut(&id.0) {
                        wake.extend(s.wr.take());
                    }
                }
                MuxEvent::Finished(id) => {
                    if let Some(s) = self.streams.get_mut(&id.0) {
                        wake.extend(s.rd.take());
                        wake.extend(s.wr.take());
                    }
                }
                MuxEvent::Dead(e) => self.fail(Death::Mux(e), wake),
            }
        }
    }

    /// Why the session can take no new work, if it cannot.
    fn session_error(&self) -> Option<io::Error> {
        if let Some(d) = &self.dead {
            return Some(d.to_io());
        }
        if self.gone {
            return Some(driver_gone());
        }
        if self.closing {
            return Some(Death::Mux(MuxError::Closed).to_io());
        }
        None
    }

    /// A stream error as the std driver reports it.
    fn stream_error(&self, e: StreamError) -> io::Error {
        match e {
            StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "stream closed"),
            StreamError::Finished => {
                io::Error::new(io::ErrorKind::BrokenPipe, "stream closed by the peer")
            }
            StreamError::Consumed => io::Error::new(io::ErrorKind::InvalidData, e),
            StreamError::Session(m) => self.dead.clone().unwrap_or(Death::Mux(m)).to_io(),
            StreamError::Blocked => io::ErrorKind::WouldBlock.into(),
            _ => self
                .session_error()
                .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotConnected, e)),
        }
    }
}

fn driver_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the smux driver task is gone (its runtime shut down)",
    )
}

/// Registers `cx`'s waker in `slot` (cloning only if it changed).
fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// What the driver task and the handles share.
struct Shared {
    state: Mutex<State>,
    clock: Clock,
    /// Session handles plus stream handles; the session closes when the
    /// count drops to zero.
    handles: AtomicUsize,
    transport_in: AtomicU64,
    transport_out: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock would be a bug in the mux; keep going
        // with its state rather than poisoning every handle.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` under the lock, then wakes the wakers it collected.
    fn with<R>(&self, f: impl FnOnce(&mut State, &mut Vec<Waker>) -> R) -> R {
        let mut wake = Vec::new();
        let r = f(&mut self.lock(), &mut wake);
        for w in wake {
            w.wake();
        }
        r
    }

    fn now(&self) -> Timestamp {
        self.clock.ts(Instant::now().into_std())
    }

    /// Asks for a close: the driver sends what is queued, then ends the
    /// session. Waiting tasks wake (and fail with `ConnectionAborted`).
    fn begin_close(&self) {
        self.with(|st, wake| {
            if !st.closing && st.dead.is_none() && !st.gone {
                st.closing = true;
                st.wake_all(wake);
            }
        });
    }

    fn release(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.begin_close();
        }
    }
}

/// A waiter key in [`State::accept`] or [`State::done`], removed when the
/// future holding it is dropped.
struct WaiterGuard<'a> {
    shared: &'a Shared,
    accept: bool,
    key: Option<u64>,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        if self.key.is_some() {
            let mut st = self.shared.lock();
            if self.accept {
                st.accept.remove(self.key);
            } else {
                st.done.remove(self.key);
            }
        }
    }
}

/// An smux session over a tokio byte stream, driven by a task of its own
/// (see the [module docs](self)).
///
/// Clones are handles to the same session: `&self` is enough for every
/// call, so one task can accept while others open streams. The session
/// closes when every clone and every stream is dropped, or on
/// [`close`](Self::close).
///
/// kcptun's layering, smux over a KCP stream (the workspace README's
/// example):
///
/// ```
/// use kcp_session::SessionConfig;
/// use kcp_session::smux::MuxConfig;
/// use kcp_session::smux::tokio::AsyncSmuxSession;
/// use kcp_session::tokio::{KcpListener, KcpStream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// async fn tunnel_once() -> std::io::Result<()> {
///     let mut cfg = SessionConfig::fast3().with_fec(10, 3);
///     cfg.stream = true; // kcptun runs KCP in stream mode
///     let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
///     let kcp = KcpStream::connect(listener.local_addr(), cfg).await?;
///     let client = AsyncSmuxSession::client(kcp, MuxConfig::kcptun())?;
///     let mut stream = client.open_stream().await?; // its SYN reaches the listener
///     stream.write_all(b"ping").await?;
///     let (kcp, _peer) = listener.accept().await?;
///     let server = AsyncSmuxSession::server(kcp, MuxConfig::kcptun())?;
///     let mut incoming = server.accept_stream().await?;
///     let mut buf = [0u8; 4];
///     incoming.read_exact(&mut buf).await?;
///     incoming.write_all(&buf).await?; // echo
///     stream.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     stream.shutdown().await?; // FIN: `incoming` reads the end
///     assert_eq!(incoming.read(&mut buf).await?, 0);
///     client.close().await // queued frames out, then the KCP stream shut down
/// }
///
/// fn main() -> std::io::Result<()> {
///     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
///     rt.block_on(tunnel_once())
/// }
/// ```
pub struct AsyncSmuxSession {
    shared: Arc<Shared>,
    role: Role,
}

impl std::fmt::Debug for AsyncSmuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSmuxSession")
            .field("role", &self.role)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl Clone for AsyncSmuxSession {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::AcqRel);
        AsyncSmuxSession {
            shared: self.shared.clone(),
            role: self.role,
        }
    }
}

impl Drop for AsyncSmuxSession {
    fn drop(&mut self) {
        self.shared.release();
    }
}

impl AsyncSmuxSession {
    /// A client session (`smux.Client`: opens odd stream ids) over `io`,
    /// without compression. Spawns the driver task on the current runtime
    /// (an error outside one); `InvalidInput` for a config smux refuses.
    pub fn client<T>(io: T, cfg: MuxConfig) -> io::Result<AsyncSmuxSession>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::new(Role::Client, io, cfg, false)
    }

    /// A server session (`smux.Server`: accepts), as
    /// [`client`](Self::client).
    pub fn server<T>(io: T, cfg: MuxConfig) -> io::Result<AsyncSmuxSession>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::new(Role::Server, io, cfg, false)
    }

    /// A session of either role over `io`; `compress` adds kcptun's snappy
    /// framing (kcptun without `--nocomp`; needs the `snappy` feature,
    /// `Unsupported` otherwise), as
    /// [`SmuxSession::new`](super::net::SmuxSession::new).
    pub fn new<T>(role: Role, io: T, cfg: MuxConfig, compress: bool) -> io::Result<AsyncSmuxSession>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        if compress && !cfg!(feature = "snappy") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "smux compression needs kcp-session's `snappy` feature",
            ));
        }
        let rt =
            tokio::runtime::Handle::try_current().map_err(|e| io::Error::other(e.to_string()))?;
        let clock = Clock::starting_at(Instant::now().into_std());
        let version = cfg.version;
        let mux = Mux::new(role, cfg, clock.ts(Instant::now().into_std()))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                mux,
                dead: None,
                closing: false,
                abort: false,
                driver_done: false,
                gone: false,
                driver: None,
                kicked: false,
                streams: HashMap::new(),
                accept: Waiters::default(),
                done: Waiters::default(),
            }),
            clock,
            handles: AtomicUsize::new(1),
            transport_in: AtomicU64::new(0),
            transport_out: AtomicU64::new(0),
        });
        let driver = Driver {
            shared: shared.clone(),
            io: Box::pin(io),
            version,
            compressed: compress,
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            plain: Vec::new(),
            in_pos: 0,
            in_end: 0,
            batch: Vec::new(),
            wire: Vec::new(),
            wpos: 0,
            need_flush: false,
            #[cfg(feature = "snappy")]
            enc: compress.then(SnappyEncoder::new),
            #[cfg(feature = "snappy")]
            dec: compress.then(SnappyDecoder::new),
            sleep: Box::pin(tokio::time::sleep_until(far_future())),
            armed: None,
            read_done: false,
            shutting_down: None,
            finished: false,
            wake: Vec::new(),
        };
        rt.spawn(driver);
        Ok(AsyncSmuxSession { shared, role })
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Opens a stream (smux `OpenStream`). Its SYN is queued ahead of
    /// anything written to it; there is no answer to wait for, so this
    /// completes at once (cancellation safe: nothing happens until then).
    /// `Other` errors when the stream ids are used up or
    /// [`MuxConfig::max_streams`] streams are open.
    pub async fn open_stream(&self) -> io::Result<AsyncSmuxStream> {
        self.shared.with(|st, wake| {
            if let Some(e) = st.session_error() {
                return Err(e);
            }
            let id = st.mux.open_stream().map_err(|e| match e {
                MuxError::GoAway | MuxError::TooManyStreams => io::Error::other(e),
                e => Death::Mux(e).to_io(),
            })?;
            st.kick(wake);
            Ok(AsyncSmuxStream::new(&self.shared, st, id))
        })
    }

    /// Waits for a stream the peer opened (smux `AcceptStream`), oldest
    /// first; fails once the session is dead or closed (streams opened
    /// before that are still handed out first).
    ///
    /// Cancellation safe: a stream is taken only in the poll that returns
    /// it. Any number of tasks may wait at once.
    pub async fn accept_stream(&self) -> io::Result<AsyncSmuxStream> {
        let mut guard = WaiterGuard {
            shared: &self.shared,
            accept: true,
            key: None,
        };
        poll_fn(|cx| {
            self.shared.with(|st, wake| {
                if let Some(id) = st.mux.accept_stream() {
                    // Backlog room: input may resume.
                    st.kick(wake);
                    return Poll::Ready(Ok(AsyncSmuxStream::new(&self.shared, st, id)));
                }
                if let Some(e) = st.session_error() {
                    return Poll::Ready(Err(e));
                }
                st.accept.register(&mut guard.key, cx);
                Poll::Pending
            })
        })
        .await
    }

    /// Closes the session: what is queued (data, FINs) is written, the
    /// transport is shut down and the driver task ends, for at most
    /// [`CLOSE_FLUSH`]; after that the transport is dropped as it is.
    /// Every stream fails afterwards (`ConnectionAborted`). Closing twice,
    /// or a dead session, is fine.
    ///
    /// Cancellation safe: the close begins in the first poll and goes on in
    /// the background if the future is dropped.
    pub async fn close(&self) -> io::Result<()> {
        self.shared.begin_close();
        let mut guard = WaiterGuard {
            shared: &self.shared,
            accept: false,
            key: None,
        };
        let done = poll_fn(|cx| {
            let mut st = self.shared.lock();
            if st.driver_done {
                return Poll::Ready(());
            }
            st.done.register(&mut guard.key, cx);
            Poll::Pending
        });
        if tokio::time::timeout(CLOSE_FLUSH, done).await.is_err() {
            // The transport does not take the bytes: give up on them.
            self.shared.with(|st, wake| {
                st.abort = true;
                st.mux.close();
                st.dispatch(wake);
                st.fail(Death::Mux(MuxError::Closed), wake);
                st.kick(wake);
            });
        }
        Ok(())
    }

    /// Whether the session is still up (not closed, not dead).
    pub fn is_alive(&self) -> bool {
        let st = self.shared.lock();
        st.dead.is_none() && !st.closing && !st.gone
    }

    /// Why the session ended, as the error its streams return; `None`
    /// while it is alive (or closing).
    pub fn error(&self) -> Option<io::Error> {
        let st = self.shared.lock();
        match &st.dead {
            Some(d) => Some(d.to_io()),
            None if st.gone => Some(driver_gone()),
            None => None,
        }
    }

    /// Counters.
    pub fn stats(&self) -> SmuxStats {
        let st = self.shared.lock();
        SmuxStats {
            mux: st.mux.stats(),
            transport_in: self.shared.transport_in.load(Ordering::Relaxed),
            transport_out: self.shared.transport_out.load(Ordering::Relaxed),
            streams: st.mux.stream_count(),
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// What one driver round did.
enum Step {
    /// Something moved: go around again.
    Progress,
    /// Waiting for I/O, a kick or the timer (all registered).
    Idle,
    /// The task ends.
    Finished,
}

/// The driver task's future.
struct Driver<T> {
    shared: Arc<Shared>,
    io: Pin<Box<T>>,
    #[cfg_attr(not(feature = "snappy"), allow(dead_code))]
    version: Version,
    /// Snappy framing on the transport.
    compressed: bool,
    /// Transport reads; without compression also the mux's pending input
    /// (`rbuf[in_pos..in_end]`).
    rbuf: Box<[u8]>,
    /// With compression: decoded input, pending at `plain[in_pos..in_end]`.
    plain: Vec<u8>,
    in_pos: usize,
    in_end: usize,
    /// Mux output not yet encoded.
    batch: Vec<u8>,
    /// Bytes being written to the transport (`wire[wpos..]`).
    wire: Vec<u8>,
    wpos: usize,
    need_flush: bool,
    #[cfg(feature = "snappy")]
    enc: Option<SnappyEncoder>,
    #[cfg(feature = "snappy")]
    dec: Option<SnappyDecoder>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// The transport's input ended (or failed) while closing.
    read_done: bool,
    /// Shutting the transport down, until this deadline.
    shutting_down: Option<Instant>,
    finished: bool,
    /// Wakers collected under the lock, woken after it.
    wake: Vec<Waker>,
}

impl<T: AsyncRead + AsyncWrite> Driver<T> {
    /// Reads the transport into the pending input (or, with `discard`,
    /// drops what it read): `Ok(0)` is its end.
    fn read(&mut self, cx: &mut Context<'_>, discard: bool) -> Poll<Result<usize, Death>> {
        let mut rb = ReadBuf::new(&mut self.rbuf);
        match self.io.as_mut().poll_read(cx, &mut rb) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Err(e)) => {
                return Poll::Ready(Err(Death::Transport(format!("transport read: {e}"))));
            }
            Poll::Ready(Ok(())) => {}
        }
        let n = rb.filled().len();
        if n == 0 {
            return Poll::Ready(Ok(0));
        }
        self.shared
            .transport_in
            .fetch_add(n as u64, Ordering::Relaxed);
        self.in_pos = 0;
        if discard {
            self.in_end = 0;
            return Poll::Ready(Ok(n));
        }
        #[cfg(feature = "snappy")]
        if let Some(dec) = &mut self.dec {
            self.plain.clear();
            dec.decode(&self.rbuf[..n], &mut self.plain)
                .map_err(Death::Snappy)?;
            self.in_end = self.plain.len();
            return Poll::Ready(Ok(n));
        }
        self.in_end = n;
        Poll::Ready(Ok(n))
    }

    /// Turns `batch` into transport bytes in `wire`.
    fn encode(&mut self) {
        #[cfg(feature = "snappy")]
        if let Some(enc) = &mut self.enc {
            // The mux hands out whole frames: every one becomes its own
            // snappy chunk, as kcptun's CompStream writes them.
            let taken = enc.encode_frames(&self.batch, self.version, &mut self.wire);
            self.batch.drain(..taken);
            return;
        }
        if self.wire.is_empty() {
            std::mem::swap(&mut self.wire, &mut self.batch);
        } else {
            self.wire.append(&mut self.batch);
        }
    }

    /// Writes `wire` and flushes. `Ok(true)`: bytes moved.
    fn write(&mut self, cx: &mut Context<'_>) -> Result<bool, Death> {
        let mut moved = false;
        while self.wpos < self.wire.len() {
            match self.io.as_mut().poll_write(cx, &self.wire[self.wpos..]) {
                Poll::Ready(Ok(0)) => {
                    return Err(Death::Transport("transport write: wrote 0 bytes".into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.wpos += n;
                    moved = true;
                    self.shared
                        .transport_out
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    return Err(Death::Transport(format!("transport write: {e}")));
                }
                Poll::Pending => break,
            }
        }
        if self.wpos == self.wire.len() && !self.wire.is_empty() {
            self.wire.clear();
            self.wpos = 0;
            self.need_flush = true;
        }
        if self.need_flush && self.wire.is_empty() {
            match self.io.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.need_flush = false,
                Poll::Ready(Err(e)) => {
                    return Err(Death::Transport(format!("transport flush: {e}")));
                }
                Poll::Pending => {}
            }
        }
        Ok(moved)
    }

    /// One round: read, service the mux, write, arm the timer.
    fn step(&mut self, cx: &mut Context<'_>) -> Step {
        if let Some(deadline) = self.shutting_down {
            return self.shut_down(cx, deadline);
        }
        let mut progress = false;
        let mut failure = None;
        let closing = self.shared.lock().closing;
        if !self.read_done && self.in_pos == self.in_end {
            // While closing, input no longer matters, but is still read
            // (and dropped): a peer blocked writing to us could otherwise
            // stop reading what we flush. Its end is then no failure.
            match self.read(cx, closing) {
                Poll::Ready(Ok(0) | Err(_)) if closing => self.read_done = true,
                Poll::Ready(Ok(0)) => failure = Some(Death::Transport("transport closed".into())),
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(d)) => failure = Some(d),
                Poll::Pending => {}
            }
        }

        let now = self.shared.now();
        let (dead, next) = {
            let mut st = self.shared.lock();
            st.kicked = false;
            register(&mut st.driver, cx);
            if st.abort {
                return Step::Finished;
            }
            if let Some(d) = failure {
                st.fail(d, &mut self.wake);
            }
            if st.closing {
                self.in_pos = self.in_end;
            }
            if st.dead.is_none() && self.in_pos < self.in_end {
                let src: &[u8] = if self.compressed {
                    &self.plain
                } else {
                    &self.rbuf
                };
                match st.mux.handle_input(&src[self.in_pos..self.in_end]) {
                    Ok(k) => {
                        self.in_pos += k;
                        progress |= k > 0;
                    }
                    Err(e) => st.fail(Death::Mux(e), &mut self.wake),
                }
            }
            if st.dead.is_none() {
                if st.mux.poll_timeout().is_some_and(|t| now.reached(t)) {
                    st.mux.handle_timeout(now);
                }
                // (Keepalive may just have killed the mux: then nothing
                // more goes out.)
                if st.mux.is_alive() && self.wpos == self.wire.len() && self.batch.is_empty() {
                    if let Some(out) = st.mux.poll_output() {
                        self.batch.extend_from_slice(out);
                        let n = out.len();
                        st.mux.advance_output(n);
                        progress = true;
                    } else if st.closing {
                        // Everything queued is written: end the session.
                        st.mux.close();
                    }
                }
            }
            st.dispatch(&mut self.wake);
            (st.dead.is_some(), st.mux.poll_timeout())
        };
        for w in self.wake.drain(..) {
            w.wake();
        }
        if dead {
            return self.begin_shutdown();
        }

        if !self.batch.is_empty() {
            self.encode();
        }
        match self.write(cx) {
            Ok(moved) => progress |= moved,
            Err(d) => {
                self.shared.with(|st, wake| st.fail(d, wake));
                return self.begin_shutdown();
            }
        }
        if progress {
            return Step::Progress;
        }
        let Some(next) = next else {
            self.armed = None;
            return Step::Idle;
        };
        // At least 1 ms ahead: a deadline that keeps reading as "now" must
        // not spin the task.
        let now_i = Instant::now();
        let now_ts = self.shared.clock.ts(now_i.into_std());
        let at = Instant::from_std(Clock::instant(now_i.into_std(), now_ts, next))
            .max(now_i + Duration::from_millis(1));
        if self.armed != Some(at) {
            self.armed = Some(at);
            self.sleep.as_mut().reset(at);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.armed = None;
            return Step::Progress;
        }
        Step::Idle
    }

    /// The session is over: drop what is unsent and shut the transport
    /// down, for at most [`CLOSE_FLUSH`].
    fn begin_shutdown(&mut self) -> Step {
        self.wire.clear();
        self.wpos = 0;
        self.batch.clear();
        self.shutting_down = Some(Instant::now() + CLOSE_FLUSH);
        Step::Progress
    }

    fn shut_down(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Step {
        {
            let mut st = self.shared.lock();
            register(&mut st.driver, cx);
            st.kicked = false;
            if st.abort {
                return Step::Finished;
            }
        }
        if self.io.as_mut().poll_shutdown(cx).is_ready() {
            return Step::Finished;
        }
        if self.armed != Some(deadline) {
            self.armed = Some(deadline);
            self.sleep.as_mut().reset(deadline);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Step::Finished;
        }
        Step::Idle
    }
}

impl<T: AsyncRead + AsyncWrite> Future for Driver<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..ROUNDS {
            match this.step(cx) {
                Step::Progress => {}
                Step::Idle => return Poll::Pending,
                Step::Finished => {
                    this.finished = true;
                    return Poll::Ready(());
                }
            }
        }
        // More work: let other tasks run first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T> Drop for Driver<T> {
    fn drop(&mut self) {
        let mut wake = std::mem::take(&mut self.wake);
        {
            let mut st = self.shared.lock();
            st.driver = None;
            st.driver_done = true;
            if !self.finished && st.dead.is_none() {
                // The runtime shut down under a live session.
                st.gone = true;
            }
            st.wake_all(&mut wake);
        }
        for w in wake {
            w.wake();
        }
    }
}

/// The part of a stream its halves share.
struct StreamInner {
    shared: Arc<Shared>,
    id: StreamId,
    /// Shut down locally (changed under the session lock).
    closed: AtomicBool,
}

/// One smux stream: `AsyncRead + AsyncWrite`.
///
/// A read returns at most one received frame's payload; `Ok(0)` is the
/// end of the stream (the peer's FIN after all its data, or this stream's
/// shutdown). A write returns once the session took the bytes (possibly
/// fewer than given, as a socket's); `poll_flush` does nothing (the driver
/// writes at once). `poll_shutdown` closes the stream both ways (FIN; no
/// half-close in smux). Dropping it closes it too. See the
/// [module docs](self) for errors and cancellation safety.
pub struct AsyncSmuxStream {
    inner: Arc<StreamInner>,
}

/// The reading half of an [`AsyncSmuxStream`]
/// ([`AsyncSmuxStream::into_split`]).
pub struct OwnedReadHalf {
    inner: Arc<StreamInner>,
}

/// The writing half of an [`AsyncSmuxStream`]
/// ([`AsyncSmuxStream::into_split`]); its shutdown closes the stream both
/// ways, so the reading half then reads the end.
pub struct OwnedWriteHalf {
    inner: Arc<StreamInner>,
}

macro_rules! debug_by_id {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("id", &self.inner.id.0)
                    .finish_non_exhaustive()
            }
        }
    )*};
}
debug_by_id!(AsyncSmuxStream, OwnedReadHalf, OwnedWriteHalf);

impl AsyncSmuxStream {
    fn new(shared: &Arc<Shared>, st: &mut State, id: StreamId) -> AsyncSmuxStream {
        st.streams.insert(id.0, Slot::default());
        shared.handles.fetch_add(1, Ordering::AcqRel);
        AsyncSmuxStream {
            inner: Arc::new(StreamInner {
                shared: shared.clone(),
                id,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The stream id (odd when the client opened it, even for the server).
    pub fn id(&self) -> StreamId {
        self.inner.id
    }

    /// Whether the peer closed the stream (its FIN arrived; buffered data
    /// may still be readable).
    pub fn is_finished(&self) -> bool {
        self.inner.shared.lock().mux.is_finished(self.inner.id)
    }

    /// Splits the stream into a reader and a writer that can move to
    /// different tasks. The stream closes when both are dropped, or when
    /// the writer shuts down.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                inner: self.inner.clone(),
            },
            OwnedWriteHalf { inner: self.inner },
        )
    }
}

impl OwnedReadHalf {
    /// The stream id.
    pub fn id(&self) -> StreamId {
        self.inner.id
    }
}

impl OwnedWriteHalf {
    /// The stream id.
    pub fn id(&self) -> StreamId {
        self.inner.id
    }
}

impl StreamInner {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        self.shared.with(|st, wake| {
            if self.closed.load(Ordering::Relaxed) {
                // smux discarded what was unread at the close.
                return Poll::Ready(Ok(()));
            }
            match st.mux.recv(self.id, buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    if n > 0 {
                        // An UPD may be due, and receive budget is back.
                        st.kick(wake);
                    }
                    Poll::Ready(Ok(()))
                }
                Err(StreamError::Blocked) => {
                    if let Some(e) = st.session_error() {
                        return Poll::Ready(Err(e));
                    }
                    if let Some(s) = st.streams.get_mut(&self.id.0) {
                        register(&mut s.rd, cx);
                    }
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(st.stream_error(e))),
            }
        })
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.shared.with(|st, wake| {
            if self.closed.load(Ordering::Relaxed) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "stream closed",
                )));
            }
            if let Some(e) = st.session_error() {
                return Poll::Ready(Err(e));
            }
            match st.mux.send(self.id, buf) {
                Ok(n) => {
                    if n > 0 {
                        st.kick(wake);
                    }
                    Poll::Ready(Ok(n))
                }
                Err(StreamError::Blocked) => {
                    if let Some(s) = st.streams.get_mut(&self.id.0) {
                        register(&mut s.wr, cx);
                    }
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(st.stream_error(e))),
            }
        })
    }

    /// smux `Stream.Close`: queued data, then the FIN; unread data goes.
    fn close(&self) {
        self.shared.with(|st, wake| {
            if self.closed.swap(true, Ordering::Relaxed) {
                return;
            }
            // Unknown once the session closed: nothing left to send.
            let _ = st.mux.close_stream(self.id);
            if let Some(s) = st.streams.get_mut(&self.id.0) {
                wake.extend(s.rd.take());
                wake.extend(s.wr.take());
            }
            st.kick(wake);
        });
    }
}

impl Drop for StreamInner {
    fn drop(&mut self) {
        self.close();
        self.shared.lock().streams.remove(&self.id.0);
        self.shared.release();
    }
}

impl AsyncRead for AsyncSmuxStream {
    /// Cancellation safe: bytes are taken only in the poll that returns
    /// them.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.poll_read(cx, buf)
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.poll_read(cx, buf)
    }
}

impl AsyncWrite for AsyncSmuxStream {
    /// Cancellation safe: bytes are queued only in the poll that returns
    /// `Ok(n)`.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    /// Nothing to do: the driver writes what streams queue at once.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the stream (FIN after its queued data; no half-close):
    /// completes at once.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.close();
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.close();
        Poll::Ready(Ok(()))
    }
}
