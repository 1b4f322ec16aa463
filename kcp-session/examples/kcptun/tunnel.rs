//! kcptun's client and server, as `kcptun` (main.rs) runs them and the
//! `kcptun_tunnel` test drives them: TCP connections carried as smux
//! streams over KCP sessions (spec smux-kcptun.md §9).
//!
//! Kept beside the example rather than in the library: it is application
//! policy (which sessions to dial, when to redial, how to relay), not
//! protocol, and everything protocol-related it uses (`KcpStream`,
//! `SmuxSession`) is in the library already.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use kcp_session::net::{KcpListener, KcpStream, NetConfig};
use kcp_session::smux::MuxConfig;
use kcp_session::smux::net::{SmuxSession, SmuxStats, SmuxStream};

/// Everything both ends need.
#[derive(Clone, Debug)]
pub struct Options {
    /// KCP sessions (crypt, FEC, mode, windows, MTU, socket options).
    pub net: NetConfig,
    /// smux settings (`--smuxver`, `--smuxbuf`, `--streambuf`,
    /// `--framesize`, `--keepalive`).
    pub smux: MuxConfig,
    /// Snappy framing (kcptun without `--nocomp`).
    pub compress: bool,
    /// Client: KCP sessions used in turn (`--conn`).
    pub conn: usize,
    /// No per-session lines on stderr (`--quiet`).
    pub quiet: bool,
}

/// Totals over the tunnel's life.
#[derive(Debug, Default)]
pub struct Counters {
    /// smux sessions started.
    pub sessions: AtomicU64,
    /// Streams relayed.
    pub streams: AtomicU64,
    /// Bytes from the client-side TCP connections into the tunnel.
    pub bytes_up: AtomicU64,
    /// Bytes out of the tunnel to the client-side TCP connections (on the
    /// server: to the target connections, and back).
    pub bytes_down: AtomicU64,
    /// Sessions that could not be dialled, streams that could not be
    /// opened, targets that could not be reached.
    pub failures: AtomicU64,
    /// smux frames and transport bytes of sessions that ended.
    pub frames_in: AtomicU64,
    /// See `frames_in`.
    pub frames_out: AtomicU64,
    /// Transport bytes read by sessions that ended (compressed).
    pub transport_in: AtomicU64,
    /// Transport bytes written by sessions that ended (compressed).
    pub transport_out: AtomicU64,
}

impl Counters {
    fn add_session(&self, s: &SmuxStats) {
        self.frames_in.fetch_add(s.mux.frames_in, Ordering::Relaxed);
        self.frames_out
            .fetch_add(s.mux.frames_out, Ordering::Relaxed);
        self.transport_in
            .fetch_add(s.transport_in, Ordering::Relaxed);
        self.transport_out
            .fetch_add(s.transport_out, Ordering::Relaxed);
    }

    /// One line per counter.
    pub fn print(&self, title: &str) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        println!("{title}:");
        println!("  sessions        {}", g(&self.sessions));
        println!("  streams         {}", g(&self.streams));
        println!("  bytes up        {}", g(&self.bytes_up));
        println!("  bytes down      {}", g(&self.bytes_down));
        println!("  failures        {}", g(&self.failures));
        println!(
            "  smux frames     {} in, {} out",
            g(&self.frames_in),
            g(&self.frames_out)
        );
        println!(
            "  transport bytes {} in, {} out",
            g(&self.transport_in),
            g(&self.transport_out)
        );
    }
}

/// Ends a running [`Client`] or [`Server`] from another thread.
#[derive(Clone, Debug)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    /// A client's TCP listener, connected to once to wake its `accept`.
    wake: Option<SocketAddr>,
}

impl Stopper {
    /// Asks the tunnel to stop: no new connections; running sessions are
    /// closed and relays end.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some(a) = self.wake {
            let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
        }
    }
}

fn loopback_of(mut a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

/// Relays `tcp` ⇄ `stream` until either direction ends, then closes both
/// (kcptun's `std.Pipe` with closewait 0: no TCP half-close is carried).
/// Returns the bytes copied (tcp → stream, stream → tcp).
pub fn pipe(tcp: TcpStream, stream: SmuxStream) -> (u64, u64) {
    let end = || {
        let _ = stream.close();
        let _ = tcp.shutdown(Shutdown::Both);
    };
    std::thread::scope(|s| {
        let up = s.spawn(|| {
            let n = copy(&mut &tcp, &mut &stream);
            end();
            n
        });
        let down = copy(&mut &stream, &mut &tcp);
        end();
        (up.join().unwrap_or(0), down)
    })
}

/// Copies until EOF or an error on either side; returns the bytes copied.
fn copy(r: &mut impl Read, w: &mut impl Write) -> u64 {
    // Go's io.Copy buffer size: a TCP read of up to 32 KiB becomes one
    // smux write (four 8 KiB frames with kcptun's settings).
    let mut buf = vec![0u8; 32 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return total,
        };
        if w.write_all(&buf[..n]).is_err() {
            return total;
        }
        total += n as u64;
    }
}

/// kcptun's client: TCP connections accepted on a local listener, each
/// carried as one smux stream of one of `conn` KCP sessions (round
/// robin), to a kcptun server at `remote`.
pub struct Client {
    listener: TcpListener,
    remote: String,
    opts: Options,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Client {
    /// A client for `remote` (`host:port` of a kcptun server).
    pub fn new(listener: TcpListener, remote: &str, opts: Options) -> Client {
        Client {
            listener,
            remote: remote.to_string(),
            opts,
            counters: Arc::default(),
            stop: Arc::default(),
        }
    }

    /// The totals (updated as relays end).
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// A handle that ends [`run`](Self::run).
    pub fn stopper(&self) -> io::Result<Stopper> {
        Ok(Stopper {
            flag: self.stop.clone(),
            wake: Some(loopback_of(self.listener.local_addr()?)),
        })
    }

    /// Serves until stopped, then closes every session and waits for the
    /// relays to end.
    pub fn run(self) -> io::Result<()> {
        let n = self.opts.conn.max(1);
        let mut slots: Vec<Option<Arc<SmuxSession>>> = vec![None; n];
        let mut next = 0usize;
        let mut relays: Vec<JoinHandle<()>> = Vec::new();
        for tcp in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(tcp) = tcp else { continue };
            let _ = tcp.set_nodelay(true);
            let slot = &mut slots[next % n];
            next = next.wrapping_add(1);
            let stream = match self.stream(slot) {
                Ok(s) => s,
                Err(e) => {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    if !self.opts.quiet {
                        eprintln!("kcptun client: {e}");
                    }
                    continue; // drops (closes) the TCP connection
                }
            };
            self.counters.streams.fetch_add(1, Ordering::Relaxed);
            let c = self.counters.clone();
            relays.retain(|h| !h.is_finished());
            relays.push(std::thread::spawn(move || {
                let (up, down) = pipe(tcp, stream);
                c.bytes_up.fetch_add(up, Ordering::Relaxed);
                c.bytes_down.fetch_add(down, Ordering::Relaxed);
            }));
        }
        for s in slots.into_iter().flatten() {
            let _ = s.close();
            self.counters.add_session(&s.stats());
        }
        for r in relays {
            let _ = r.join();
        }
        Ok(())
    }

    /// A stream on the slot's session, (re)dialling it when it is empty
    /// or dead.
    fn stream(&self, slot: &mut Option<Arc<SmuxSession>>) -> io::Result<SmuxStream> {
        if let Some(s) = slot.as_ref()
            && s.is_alive()
        {
            match s.open_stream() {
                Ok(st) => return Ok(st),
                Err(_) => {
                    // Dead meanwhile, or out of ids: a new session.
                    if let Some(old) = slot.take() {
                        self.counters.add_session(&old.stats());
                    }
                }
            }
        } else if let Some(old) = slot.take() {
            self.counters.add_session(&old.stats());
        }
        let kcp = KcpStream::connect(self.remote.as_str(), self.opts.net.clone())?;
        if !self.opts.quiet {
            eprintln!(
                "kcptun client: session {:#010x} to {} from {}",
                kcp.conv(),
                kcp.peer_addr(),
                kcp.local_addr()
            );
        }
        let s = Arc::new(SmuxSession::client(
            kcp,
            self.opts.smux.clone(),
            self.opts.compress,
        )?);
        self.counters.sessions.fetch_add(1, Ordering::Relaxed);
        let st = s.open_stream()?;
        *slot = Some(s);
        Ok(st)
    }
}

/// kcptun's server: every KCP session accepted runs an smux server
/// session; every stream on it is relayed to a new TCP connection to
/// `target`.
pub struct Server {
    listener: KcpListener,
    target: String,
    opts: Options,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// A server relaying to `target` (`host:port`).
    pub fn new(listener: KcpListener, target: &str, opts: Options) -> Server {
        Server {
            listener,
            target: target.to_string(),
            opts,
            counters: Arc::default(),
            stop: Arc::default(),
        }
    }

    /// The totals (updated as relays end).
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// A handle that ends [`run`](Self::run) (within 100 ms).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            flag: self.stop.clone(),
            wake: None,
        }
    }

    /// Serves until stopped, then closes every session and waits for its
    /// relays to end.
    pub fn run(self) -> io::Result<()> {
        let live: Arc<Mutex<Vec<Weak<SmuxSession>>>> = Arc::default();
        let mut handlers: Vec<JoinHandle<()>> = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            let (kcp, peer) = match self.listener.accept_timeout(Duration::from_millis(100)) {
                Ok(x) => x,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let conv = kcp.conv();
            let sess = match SmuxSession::server(kcp, self.opts.smux.clone(), self.opts.compress) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("kcptun server: session {conv:#010x}: {e}");
                    continue;
                }
            };
            if !self.opts.quiet {
                eprintln!("kcptun server: session {conv:#010x} from {peer}");
            }
            self.counters.sessions.fetch_add(1, Ordering::Relaxed);
            {
                let mut l = live.lock().unwrap_or_else(|p| p.into_inner());
                l.retain(|w| w.strong_count() > 0);
                l.push(Arc::downgrade(&sess));
            }
            handlers.retain(|h| !h.is_finished());
            let (target, counters, quiet) =
                (self.target.clone(), self.counters.clone(), self.opts.quiet);
            handlers.push(std::thread::spawn(move || {
                serve_session(&sess, &target, &counters);
                let _ = sess.close();
                let st = sess.stats();
                counters.add_session(&st);
                if !quiet {
                    let why = sess.error().map(|e| e.to_string()).unwrap_or_default();
                    eprintln!(
                        "kcptun server: session {conv:#010x} ended ({why}): \
                         {} frames in, {} out; {} transport bytes in, {} out",
                        st.mux.frames_in, st.mux.frames_out, st.transport_in, st.transport_out
                    );
                }
            }));
        }
        for s in live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .filter_map(|w| w.upgrade())
        {
            let _ = s.close();
        }
        for h in handlers {
            let _ = h.join();
        }
        Ok(())
    }
}

/// Accepts streams until the session ends; each is relayed to a new
/// connection to `target` (a stream whose target cannot be reached is
/// closed at once: its FIN tells the client).
fn serve_session(sess: &SmuxSession, target: &str, counters: &Arc<Counters>) {
    let mut relays: Vec<JoinHandle<()>> = Vec::new();
    while let Ok(stream) = sess.accept_stream() {
        counters.streams.fetch_add(1, Ordering::Relaxed);
        let (target, c) = (target.to_string(), counters.clone());
        relays.retain(|h| !h.is_finished());
        relays.push(std::thread::spawn(move || {
            match TcpStream::connect(&target) {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    let (to_target, from_target) = pipe(tcp, stream);
                    c.bytes_up.fetch_add(to_target, Ordering::Relaxed);
                    c.bytes_down.fetch_add(from_target, Ordering::Relaxed);
                }
                Err(_) => {
                    c.failures.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.close();
                }
            }
        }));
    }
    for r in relays {
        let _ = r.join();
    }
}
