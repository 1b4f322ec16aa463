//! The driver task: one per UDP socket, owning the socket, one `Sleep`
//! and (behind the shared lock) the sans-IO state machine.
//!
//! Each poll: send what is left of the last batch, receive one batch
//! (`recvmmsg`/GRO through quinn-udp inside `UdpSocket::try_io`), service
//! the state machine under the lock (feed datagrams, run due timers, fill
//! the next send batch, collect the wakers of streams that can proceed),
//! wake those wakers after unlocking, send, and loop while there is more;
//! then re-arm the `Sleep` to the next deadline (or leave it unpolled when
//! idle) and return `Pending`. Streams wake the task through the waker it
//! leaves in the shared state ([`Locked::kick`]).
//!
//! A stream that queued data does not wait for that hop: it services the
//! state machine and sends the output from its own task
//! ([`send_from_caller`]), as the std adapter's writer does, and kicks the
//! driver only for what it could not finish (a full socket or batch, a
//! deadline earlier than the one the driver sleeps to). One send batch is
//! shared for this: whoever sends takes it out of [`Locked`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Sleep;

use crate::Timestamp;
use crate::net::clock::Clock;
use crate::net::udp_batch::{DgramSocket, IoCounters, RxBatch, SockIo, TxBatch};

/// Receive/service rounds per poll before the task yields to others (up to
/// 32 batches of 32 datagrams). The driver of a listener serves every one
/// of its sessions; yielding after 8 rounds put it behind a thousand
/// stream tasks in the run queue while its socket buffer overflowed (the
/// 1000-stream echo of `benches/examples/tokio_compare.rs` with
/// kernel-default buffers took 13.7–17.5 s; at 32 rounds 9.3 s twice at
/// load 3, 14.2 s at load 7 — noisy, but not worse). quinn's endpoint
/// driver bounds its receive loop similarly generously.
const ROUNDS: usize = 32;

impl DgramSocket for UdpSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.try_recv_from(buf)
    }
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.try_send_to(buf, to)
    }
}

/// What a service reports.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// When to service again (`None`: only on I/O or a kick).
    pub(crate) next: Option<Timestamp>,
    /// The send batch filled up with output still waiting.
    pub(crate) more_tx: bool,
    /// Everything is released: the task ends and the socket closes.
    pub(crate) finished: bool,
}

/// The sans-IO side of one socket (a client's connection or a listener's
/// endpoint) with its streams' adapter state.
pub(crate) trait Core: Send + 'static {
    /// Feeds `rx`, runs due timers, fills `tx` (unless `None`: the socket
    /// is blocked on send) and collects the wakers to wake in `wake`.
    fn service(
        &mut self,
        now: Timestamp,
        rx: &mut RxBatch,
        tx: Option<&mut TxBatch>,
        wake: &mut Vec<Waker>,
    ) -> Outcome;

    /// The driver task is gone (its runtime shut down): collect every
    /// waiting waker so that the waiters see the error.
    fn abandon(&mut self, wake: &mut Vec<Waker>);
}

/// The shared state under the lock.
pub(crate) struct Locked<C> {
    pub(crate) core: C,
    driver: Option<Waker>,
    kicked: bool,
    /// The send batch while nobody is sending from it (always empty here
    /// unless the driver is asked to send what a caller left).
    tx: Option<TxBatch>,
    /// Empty receive batch for services that bring no datagrams.
    no_rx: RxBatch,
    /// The deadline the driver last armed its `Sleep` for.
    next: Option<Timestamp>,
    /// The driver found the batch taken: it wants a kick when it is back.
    want_tx: bool,
    /// Wakers collected by a caller's service (kept for its capacity).
    wake: Vec<Waker>,
    /// The driver task ended without finishing (runtime shut down).
    pub(crate) dead: bool,
}

impl<C> Locked<C> {
    /// Asks the driver task for a service; returns the waker to wake once
    /// the lock is released (`None`: a kick is already pending).
    pub(crate) fn kick(&mut self) -> Option<Waker> {
        if self.kicked {
            return None;
        }
        self.kicked = true;
        self.driver.clone()
    }
}

/// What the driver task and the handles (listener, streams) share.
pub(crate) struct Shared<C> {
    state: Mutex<Locked<C>>,
    io: SockIo<UdpSocket>,
    clock: Clock,
    pub(crate) local: SocketAddr,
    pub(crate) counters: Arc<IoCounters>,
}

impl<C> Shared<C> {
    pub(crate) fn lock(&self) -> io::Result<MutexGuard<'_, Locked<C>>> {
        self.state
            .lock()
            .map_err(|_| io::Error::other("kcp driver lock poisoned"))
    }

    /// The driver's clock: every timestamp of its state machine.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl<C: Core> Shared<C> {
    /// Services the state machine under `g` and sends its output from the
    /// calling task (a stream that just queued data), saving the hop to
    /// the driver task and back. Kicks the driver for whatever is left:
    /// output beyond one batch or a full socket, a deadline earlier than
    /// the driver's, a driver that wanted the batch. If the driver holds
    /// the batch, this is a plain kick.
    pub(crate) fn send_from_caller(&self, mut g: MutexGuard<'_, Locked<C>>) {
        let Some(mut tx) = g.tx.take() else {
            let w = g.kick();
            drop(g);
            if let Some(w) = w {
                w.wake();
            }
            return;
        };
        let now = self.now();
        let mut wake = std::mem::take(&mut g.wake);
        let l = &mut *g;
        let out = l.core.service(now, &mut l.no_rx, Some(&mut tx), &mut wake);
        let earlier = match (out.next, l.next) {
            (Some(a), Some(b)) => a.diff(b) < 0,
            (Some(_), None) => true,
            (None, _) => false,
        };
        drop(g);
        for w in wake.drain(..) {
            w.wake();
        }
        if !tx.is_empty() {
            // Whatever does not fit the socket now is the driver's to send.
            let _ = self
                .io
                .sock
                .try_io(Interest::WRITABLE, || self.io.send(&mut tx));
        }
        let Ok(mut g) = self.state.lock() else {
            return;
        };
        let need = !tx.is_empty() || out.more_tx || out.finished || earlier || g.want_tx;
        g.want_tx = false;
        g.tx = Some(tx);
        g.wake = wake;
        let w = if need { g.kick() } else { None };
        drop(g);
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// Registers `cx`'s waker in `slot` (cloning only if it changed).
pub(crate) fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The error of a handle whose driver task is gone.
pub(crate) fn driver_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the kcp driver task is gone (its runtime shut down)",
    )
}

/// Binds a tokio socket from a std one (non-blocking, options applied) and
/// spawns its driver on the current runtime.
pub(crate) fn spawn<C: Core>(
    core: C,
    sock: std::net::UdpSocket,
    cfg: &crate::net::NetConfig,
    clock: Clock,
    counters: Arc<IoCounters>,
) -> io::Result<Arc<Shared<C>>> {
    let sock = UdpSocket::from_std(sock)?;
    let local = sock.local_addr()?;
    let io = SockIo::with_socket(sock, cfg.io_mode, counters.clone())?;
    let shared = Arc::new(Shared {
        state: Mutex::new(Locked {
            core,
            driver: None,
            kicked: false,
            tx: Some(TxBatch::new()),
            no_rx: RxBatch::empty(),
            next: None,
            want_tx: false,
            wake: Vec::new(),
            dead: false,
        }),
        io,
        clock,
        local,
        counters,
    });
    let driver = Driver {
        rx: RxBatch::new(shared.io.gro_segments()),
        tx: None,
        shared: shared.clone(),
        sleep: Box::pin(tokio::time::sleep_until(far_future())),
        armed: None,
        wake: Vec::new(),
        done: false,
    };
    tokio::spawn(driver);
    Ok(shared)
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Ensures a tokio runtime is there before anything needs one.
pub(crate) fn check_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|e| io::Error::other(e.to_string()))
}

/// The task future.
struct Driver<C: Core> {
    shared: Arc<Shared<C>>,
    rx: RxBatch,
    /// The send batch while this task holds it (see [`Locked::tx`]).
    tx: Option<TxBatch>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// Wakers collected under the lock, woken after it.
    wake: Vec<Waker>,
    done: bool,
}

impl<C: Core> Driver<C> {
    /// Receives one batch into `rx`. `true`: there may be more to read
    /// (go around again); `false`: drained, and the task's waker is
    /// registered for readability.
    fn recv(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let (io, rx) = (&self.shared.io, &mut self.rx);
            match io.sock.try_io(Interest::READABLE, || io.recv(rx)) {
                Ok(()) => return true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.rx.clear();
                    match self.shared.io.sock.poll_recv_ready(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(_)) | Poll::Pending => return false,
                    }
                }
                Err(_) => {
                    self.rx.clear();
                    return false;
                }
            }
        }
    }

    /// Sends what `tx` holds. `false`: the socket is full and the task's
    /// waker is registered for writability.
    fn send(&mut self, cx: &mut Context<'_>) -> bool {
        let io = &self.shared.io;
        let Some(tx) = self.tx.as_mut() else {
            return true;
        };
        while !tx.is_empty() {
            match io.sock.try_io(Interest::WRITABLE, || io.send(tx)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match io.sock.poll_send_ready(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(_)) | Poll::Pending => return false,
                    }
                }
                // `send` reports nothing else (other errors drop the
                // datagram concerned and are counted).
                Err(_) => return false,
            }
        }
        true
    }

    /// One service under the lock; wakes the collected wakers after it.
    fn service(&mut self, cx: &Context<'_>, can_send: bool) -> Outcome {
        let now = self.shared.now();
        let out = match self.shared.lock() {
            Ok(mut g) => {
                g.kicked = false;
                register(&mut g.driver, cx);
                if self.tx.is_none() {
                    self.tx = g.tx.take();
                }
                g.want_tx = self.tx.is_none();
                let tx = self.tx.as_mut().filter(|_| can_send);
                let out = g.core.service(now, &mut self.rx, tx, &mut self.wake);
                g.next = out.next;
                out
            }
            Err(_) => Outcome {
                finished: true,
                ..Outcome::default()
            },
        };
        for w in self.wake.drain(..) {
            w.wake();
        }
        out
    }
}

impl<C: Core> Future for Driver<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..ROUNDS {
            let can_send = this.send(cx);
            let more_rx = this.recv(cx);
            let out = this.service(cx, can_send);
            let can_send = this.send(cx);
            let sent = this.tx.as_ref().is_none_or(TxBatch::is_empty);
            if out.finished && sent {
                this.done = true;
                return Poll::Ready(());
            }
            if more_rx || (out.more_tx && can_send) {
                continue;
            }
            this.give_back_tx();
            let Some(next) = out.next else {
                this.armed = None;
                return Poll::Pending;
            };
            // At least 1 ms ahead: a state machine that keeps reporting
            // "now" must not spin the task.
            let now = Instant::now();
            let now_ts = this.shared.clock.ts(now);
            let at = Clock::instant(now, now_ts, next).max(now + Duration::from_millis(1));
            if this.armed != Some(at) {
                this.armed = Some(at);
                this.sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(at));
            }
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.armed = None;
        }
        // More work: let other tasks run first.
        this.give_back_tx();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<C: Core> Driver<C> {
    /// Returns the send batch for streams to send from, once it is empty
    /// (a batch the socket has not taken yet stays with this task).
    fn give_back_tx(&mut self) {
        if self.tx.as_ref().is_some_and(TxBatch::is_empty)
            && let Some(tx) = self.tx.take()
            && let Ok(mut g) = self.shared.state.lock()
        {
            g.tx = Some(tx);
        }
    }
}

impl<C: Core> Drop for Driver<C> {
    fn drop(&mut self) {
        let mut wake = std::mem::take(&mut self.wake);
        if let Ok(mut g) = self.shared.state.lock() {
            g.driver = None;
            if !self.done {
                g.dead = true;
                g.core.abandon(&mut wake);
            }
        }
        for w in wake {
            w.wake();
        }
    }
}
