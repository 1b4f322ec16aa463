//! Helpers shared by the `net_*` tests: a seeded RNG and an in-process
//! lossy UDP relay on 127.0.0.1.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// xorshift64*: deterministic, seeded.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// `true` with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u64() as u8;
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}

/// Impairment of a relay, in percent per datagram.
#[derive(Clone, Copy, Debug)]
pub struct Impair {
    pub drop: u64,
    pub dup: u64,
    pub reorder: u64,
    /// After forwarding a datagram, also send one recorded earlier in the
    /// same direction (a replay), picked at random.
    pub replay: u64,
}

/// Counters of one relay.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
    pub replayed: AtomicU64,
    /// Extra copies (duplicates and replays) sent towards the server.
    pub copies_to_server: AtomicU64,
}

/// A lossy relay between one client and one server: clients send to
/// `addr()`, the relay forwards to `server` from its own server-facing
/// socket, and back. Two threads (one per direction), stopped on drop.
pub struct Relay {
    front: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub stats: Arc<RelayStats>,
    /// The first datagrams forwarded towards the server, in order.
    to_server: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// Datagrams kept per direction for replays.
const RECORDED: usize = 4096;

impl Relay {
    pub fn start(server: SocketAddr, seed: u64, imp: Impair) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        front
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        back.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let front_addr = front.local_addr().unwrap();
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RelayStats::default());
        let to_server: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let front = Arc::new(front);
        let back = Arc::new(back);
        let mut threads = Vec::new();
        for dir in 0..2 {
            let (front, back, client, stop, stats, to_server) = (
                front.clone(),
                back.clone(),
                client.clone(),
                stop.clone(),
                stats.clone(),
                to_server.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut rng = Rng::new(seed * 2 + dir);
                let mut log: Vec<Vec<u8>> = Vec::new();
                let extra = |n: u64| {
                    if dir == 0 {
                        stats.copies_to_server.fetch_add(n, Ordering::Relaxed);
                    }
                };
                let mut buf = [0u8; 2048];
                let mut held: Option<Vec<u8>> = None;
                let (rx, tx) = if dir == 0 {
                    (&front, &back)
                } else {
                    (&back, &front)
                };
                while !stop.load(Ordering::Relaxed) {
                    let (n, from) = match rx.recv_from(&mut buf) {
                        Ok(x) => x,
                        Err(_) => {
                            // Idle: release a held datagram.
                            if let Some(h) = held.take() {
                                send(tx, dir, &h, server, &client);
                            }
                            continue;
                        }
                    };
                    if dir == 0 {
                        *client.lock().unwrap() = Some(from);
                    }
                    let d = &buf[..n];
                    if rng.chance(imp.drop) {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if rng.chance(imp.reorder) && held.is_none() {
                        stats.reordered.fetch_add(1, Ordering::Relaxed);
                        held = Some(d.to_vec());
                        continue;
                    }
                    send(tx, dir, d, server, &client);
                    stats.forwarded.fetch_add(1, Ordering::Relaxed);
                    if rng.chance(imp.dup) {
                        stats.duplicated.fetch_add(1, Ordering::Relaxed);
                        extra(1);
                        send(tx, dir, d, server, &client);
                    }
                    if imp.replay > 0 {
                        if rng.chance(imp.replay) && !log.is_empty() {
                            let old = &log[rng.below(log.len() as u64) as usize];
                            stats.replayed.fetch_add(1, Ordering::Relaxed);
                            extra(1);
                            send(tx, dir, old, server, &client);
                        }
                        if log.len() < RECORDED {
                            log.push(d.to_vec());
                        }
                    }
                    if dir == 0 {
                        let mut t = to_server.lock().unwrap();
                        if t.len() < 16 {
                            t.push(d.to_vec());
                        }
                    }
                    if let Some(h) = held.take() {
                        send(tx, dir, &h, server, &client);
                    }
                }
            }));
        }
        Relay {
            front: front_addr,
            stop,
            threads,
            stats,
            to_server,
        }
    }

    /// The first (up to 16) datagrams forwarded towards the server.
    pub fn first_to_server(&self) -> Vec<Vec<u8>> {
        self.to_server.lock().unwrap().clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.front
    }
}

fn send(
    tx: &UdpSocket,
    dir: u64,
    d: &[u8],
    server: SocketAddr,
    client: &Mutex<Option<SocketAddr>>,
) {
    let to = if dir == 0 {
        Some(server)
    } else {
        *client.lock().unwrap()
    };
    if let Some(to) = to {
        let _ = tx.send_to(d, to);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Threads of this process (Linux: /proc/self/task).
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}
