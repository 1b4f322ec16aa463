//! The shared reactor: one I/O thread multiplexing every socket of every
//! listener and client stream with `mio`, one timer heap over all of them.
//!
//! Application threads never touch sockets. They change a session under
//! its lock, then ask the reactor to service the socket
//! ([`Reactor::service`], deduplicated by a per-socket flag and one
//! `Waker` write). The reactor reads datagrams in batches, hands them to
//! the socket's [`Driver`] (which feeds the sans-IO state machine, runs
//! due timers, fills the send batch and signals waiting threads through
//! their `Condvar`s), sends the batch, and sleeps in `poll` until the
//! earliest deadline any driver reported — forever when all are idle.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kcp_core::Timestamp;
use mio::{Events, Interest, Poll, Token, Waker};

use super::clock::Clock;
use super::udp_batch::{RxBatch, SockIo, TxBatch};

const WAKER: Token = Token(0);
/// Receive/service rounds per socket before others get a turn.
const ROUNDS: usize = 8;

/// What a driver reports after a service.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// When to service again (`None`: only on I/O or a request).
    pub(crate) next: Option<Timestamp>,
    /// The send batch filled up with output still waiting.
    pub(crate) more_tx: bool,
    /// Everything is released: close the socket and forget the driver.
    pub(crate) finished: bool,
}

/// The owner of one socket's sessions (a client stream or a listener).
pub(crate) trait Driver: Send + Sync {
    /// Feeds the received datagrams, runs due timers, fills `tx` (unless
    /// `None`: the socket is blocked on send) and wakes waiting threads.
    fn service(&self, now: Timestamp, rx: &mut RxBatch, tx: Option<&mut TxBatch>) -> Outcome;
}

enum Cmd {
    Add(Token, SockIo, Arc<dyn Driver>),
    Service(Token),
}

/// Handle to the reactor thread.
pub(crate) struct Reactor {
    cmds: Mutex<Vec<Cmd>>,
    waker: Waker,
    clock: Clock,
    next_token: AtomicUsize,
}

static GLOBAL: OnceLock<Option<Reactor>> = OnceLock::new();
static STARTED: OnceLock<()> = OnceLock::new();

impl Reactor {
    /// The process-wide reactor, started on first use (one thread, for
    /// the life of the process).
    pub(crate) fn global() -> io::Result<&'static Reactor> {
        let slot = GLOBAL.get_or_init(|| {
            let poll = Poll::new().ok()?;
            let waker = Waker::new(poll.registry(), WAKER).ok()?;
            POLL.lock().expect("poll slot").replace(poll);
            Some(Reactor {
                cmds: Mutex::new(Vec::new()),
                waker,
                clock: Clock::new(),
                next_token: AtomicUsize::new(1),
            })
        });
        let r = slot
            .as_ref()
            .ok_or_else(|| io::Error::other("kcp reactor failed to start"))?;
        STARTED.get_or_init(|| {
            let poll = POLL
                .lock()
                .expect("poll slot")
                .take()
                .expect("poll created");
            std::thread::Builder::new()
                .name("kcp-reactor".into())
                .spawn(move || Loop::new(poll, r).run())
                .expect("spawn the kcp reactor thread");
        });
        Ok(r)
    }

    /// The reactor's clock (the epoch of every session it drives).
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A fresh token for a socket.
    pub(crate) fn token(&self) -> Token {
        Token(self.next_token.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers `io` with its driver; the reactor services it at once.
    pub(crate) fn add(&self, token: Token, io: SockIo, driver: Arc<dyn Driver>) -> io::Result<()> {
        self.push(Cmd::Add(token, io, driver))
    }

    /// Asks for a service of `token` soon (after application writes,
    /// closes, OOB sends). `pending` deduplicates requests: it is cleared
    /// by the driver's next service.
    pub(crate) fn service(&self, token: Token, pending: &AtomicBool) {
        if !pending.swap(true, Ordering::AcqRel) {
            let _ = self.push(Cmd::Service(token));
        }
    }

    fn push(&self, cmd: Cmd) -> io::Result<()> {
        let first = {
            let mut q = self.cmds.lock().expect("reactor queue");
            q.push(cmd);
            q.len() == 1
        };
        if first {
            self.waker.wake()?;
        }
        Ok(())
    }
}

static POLL: Mutex<Option<Poll>> = Mutex::new(None);

struct Entry {
    io: SockIo,
    driver: Arc<dyn Driver>,
    tx: TxBatch,
    blocked: bool,
    armed: Option<Instant>,
}

struct Loop {
    poll: Poll,
    reactor: &'static Reactor,
    entries: HashMap<Token, Entry>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    rx: RxBatch,
    rx_gro: usize,
    again: Vec<Token>,
}

impl Loop {
    fn new(poll: Poll, reactor: &'static Reactor) -> Self {
        Loop {
            poll,
            reactor,
            entries: HashMap::new(),
            timers: BinaryHeap::new(),
            // GRO delivers at most 64 segments per buffer (Linux).
            rx: RxBatch::new(1),
            rx_gro: 1,
            again: Vec::new(),
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut ready: Vec<(Token, bool, bool)> = Vec::new();
        let mut due: Vec<Token> = Vec::new();
        loop {
            let timeout = if self.again.is_empty() {
                self.timers
                    .peek()
                    .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    // Nothing sensible to do but retry after a pause.
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            ready.clear();
            for ev in events.iter() {
                if ev.token() != WAKER {
                    ready.push((ev.token(), ev.is_readable(), ev.is_writable()));
                }
            }
            let cmds = std::mem::take(&mut *self.reactor.cmds.lock().expect("reactor queue"));
            for cmd in cmds {
                match cmd {
                    Cmd::Add(token, mut io, driver) => {
                        if self
                            .poll
                            .registry()
                            .register(&mut io.sock, token, Interest::READABLE | Interest::WRITABLE)
                            .is_err()
                        {
                            continue;
                        }
                        if io.gro_segments() > 1 && self.rx_gro() < io.gro_segments() {
                            self.rx = RxBatch::new(io.gro_segments());
                            self.rx_gro = io.gro_segments();
                        }
                        self.entries.insert(
                            token,
                            Entry {
                                io,
                                driver,
                                tx: TxBatch::new(),
                                blocked: false,
                                armed: None,
                            },
                        );
                        // Datagrams may have arrived before registration.
                        self.drive(token, true, false);
                    }
                    Cmd::Service(token) => self.drive(token, false, false),
                }
            }
            for &(token, readable, writable) in &ready {
                self.drive(token, readable, writable);
            }
            for token in std::mem::take(&mut self.again) {
                self.drive(token, true, false);
            }
            let now = Instant::now();
            due.clear();
            while let Some(&Reverse((at, t))) = self.timers.peek() {
                if at > now {
                    break;
                }
                self.timers.pop();
                if let Some(e) = self.entries.get_mut(&Token(t))
                    && e.armed == Some(at)
                {
                    e.armed = None;
                    due.push(Token(t));
                }
            }
            for &token in &due {
                self.drive(token, false, false);
            }
        }
    }

    fn rx_gro(&self) -> usize {
        self.rx_gro
    }

    /// Services one socket: receive batches (if `readable`), resend a
    /// blocked batch (if `writable`), run the driver, send its output.
    fn drive(&mut self, token: Token, mut readable: bool, writable: bool) {
        let Some(e) = self.entries.get_mut(&token) else {
            return;
        };
        if writable
            && e.blocked
            && !matches!(e.io.send(&mut e.tx), Err(ref x) if x.kind() == io::ErrorKind::WouldBlock)
        {
            e.blocked = false;
        }
        let mut rounds = 0;
        loop {
            if readable {
                let _ = e.io.recv(&mut self.rx);
            } else {
                self.rx.clear();
            }
            let now = self.reactor.clock.now();
            let tx = (!e.blocked).then_some(&mut e.tx);
            // A panicking driver loses its own sessions, not the reactor.
            let rx = &mut self.rx;
            let driver = &e.driver;
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                driver.service(now, rx, tx)
            }))
            .unwrap_or(Outcome {
                finished: true,
                ..Outcome::default()
            });
            if !e.blocked
                && !e.tx.is_empty()
                && let Err(x) = e.io.send(&mut e.tx)
            {
                e.blocked = x.kind() == io::ErrorKind::WouldBlock;
            }
            if out.finished {
                let mut e = self.entries.remove(&token).expect("entry");
                let _ = self.poll.registry().deregister(&mut e.io.sock);
                return;
            }
            rounds += 1;
            readable = self.rx.full;
            let more = readable || (out.more_tx && !e.blocked);
            if !more || rounds >= ROUNDS {
                if more {
                    self.again.push(token);
                }
                // Arm the timer (at least 1 ms ahead: a driver that keeps
                // reporting "now" must not spin the reactor).
                let now_i = Instant::now();
                let at = out.next.map(|d| {
                    let now_ts = self.reactor.clock.ts(now_i);
                    Clock::instant(now_i, now_ts, d).max(now_i + Duration::from_millis(1))
                });
                if at != e.armed {
                    e.armed = at;
                    if let Some(at) = at {
                        self.timers.push(Reverse((at, token.0)));
                    }
                }
                return;
            }
        }
    }
}
