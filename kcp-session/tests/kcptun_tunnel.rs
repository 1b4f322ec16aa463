//! The kcptun tunnel end to end over loopback: TCP client → tunnel client
//! → lossy UDP relay → tunnel server → TCP echo server, bytes verified
//! exactly, with and without compression. The tunnel logic is the
//! `kcptun` example's own (`examples/kcptun/tunnel.rs`).
#![cfg(feature = "snappy")]

mod net_common;
#[path = "../examples/kcptun/tunnel.rs"]
mod tunnel;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use kcp_session::SessionConfig;
use kcp_session::net::{KcpListener, NetConfig};
use kcp_session::smux::MuxConfig;
use net_common::{Impair, Relay, Rng};
use tunnel::{Client, Counters, Options, Server, Stopper};

/// A TCP echo server: every connection gets back what it sends.
struct Echo {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start() -> Echo {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            for c in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut c) = c else { continue };
                conns.push(std::thread::spawn(move || {
                    let mut buf = vec![0u8; 32 * 1024];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c.shutdown(Shutdown::Both);
                }));
            }
            for c in conns {
                c.join().unwrap();
            }
        });
        Echo {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn options(server: bool, compress: bool, conn: usize) -> Options {
    // kcptun's defaults on each side (mode fast, FEC 10/3, AES, MTU 1350,
    // windows 128/512 or 1024/1024), smux v2 with kcptun's buffers.
    let s = if server {
        SessionConfig::kcptun_server()
    } else {
        SessionConfig::kcptun_client()
    };
    Options {
        net: NetConfig::from(s),
        smux: MuxConfig::kcptun(),
        compress,
        conn,
        quiet: true,
    }
}

/// Half random, half repetitive: snappy compresses some chunks and
/// stores others.
fn payload(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut v = Vec::with_capacity(n);
    let mut i = 0u64;
    while v.len() < n {
        let k = (n - v.len()).min(1000 + rng.below(7000) as usize);
        if i.is_multiple_of(2) {
            v.extend(rng.bytes(k));
        } else {
            let len = 1 + rng.below(16) as usize;
            let word = rng.bytes(len);
            v.extend(word.iter().cycle().take(k));
        }
        i += 1;
    }
    v
}

struct Tunnel {
    client_addr: SocketAddr,
    client: (Stopper, JoinHandle<()>, Arc<Counters>),
    server: (Stopper, JoinHandle<()>, Arc<Counters>),
    _relay: Option<Relay>,
    _echo: Echo,
}

impl Tunnel {
    fn start(compress: bool, conn: usize, lossy: bool) -> Tunnel {
        let echo = Echo::start();
        let kl = KcpListener::bind("127.0.0.1:0", options(true, compress, 1).net).unwrap();
        let server_addr = kl.local_addr();
        let srv = Server::new(kl, &echo.addr.to_string(), options(true, compress, 1));
        let server = (srv.stopper(), srv.counters());
        let st = std::thread::spawn(move || srv.run().unwrap());
        // The relay serves one client socket: one KCP session.
        let relay = lossy.then(|| {
            Relay::start(
                server_addr,
                42,
                Impair {
                    drop: 2,
                    dup: 1,
                    reorder: 2,
                    replay: 0,
                },
            )
        });
        let remote = relay.as_ref().map_or(server_addr, |r| r.addr());
        let tl = TcpListener::bind("127.0.0.1:0").unwrap();
        let client_addr = tl.local_addr().unwrap();
        let cli = Client::new(tl, &remote.to_string(), options(false, compress, conn));
        let client = (cli.stopper().unwrap(), cli.counters());
        let ct = std::thread::spawn(move || cli.run().unwrap());
        Tunnel {
            client_addr,
            client: (client.0, ct, client.1),
            server: (server.0, st, server.1),
            _relay: relay,
            _echo: echo,
        }
    }

    /// `conns` parallel TCP connections through the tunnel, `size` bytes
    /// each way on each, verified.
    fn echo(&self, conns: usize, size: usize, seed: u64) {
        let mut ts = Vec::new();
        for i in 0..conns {
            let addr = self.client_addr;
            ts.push(std::thread::spawn(move || {
                let data = payload(seed + i as u64, size);
                let c = TcpStream::connect(addr).unwrap();
                let mut w = c.try_clone().unwrap();
                let out = data.clone();
                let writer = std::thread::spawn(move || w.write_all(&out).unwrap());
                let mut got = vec![0u8; size];
                (&c).read_exact(&mut got).unwrap();
                writer.join().unwrap();
                assert!(got == data, "connection {i}: echo differs");
            }));
        }
        for t in ts {
            t.join().unwrap();
        }
    }

    /// Stops both ends; returns (client, server) counters.
    fn stop(self) -> (Arc<Counters>, Arc<Counters>) {
        self.client.0.stop();
        self.client.1.join().unwrap();
        self.server.0.stop();
        self.server.1.join().unwrap();
        (self.client.2, self.server.2)
    }
}

fn run(compress: bool, conns: usize, size: usize, conn: usize, lossy: bool) {
    let t = Tunnel::start(compress, conn, lossy);
    t.echo(conns, size, 1000 * conns as u64 + size as u64);
    if let Some(r) = &t._relay {
        // Seeded 2% loss over thousands of datagrams.
        assert!(r.stats.dropped.load(Ordering::Relaxed) > 0);
    }
    let (c, s) = t.stop();
    let total = (conns * size) as u64;
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(g(&c.streams), conns as u64);
    assert_eq!(g(&c.bytes_up), total);
    assert_eq!(g(&c.bytes_down), total);
    assert_eq!(g(&s.streams), conns as u64);
    assert_eq!(g(&s.bytes_up), total);
    assert_eq!(g(&s.bytes_down), total);
    assert_eq!(g(&c.failures) + g(&s.failures), 0);
    assert_eq!(g(&c.sessions), conn.min(conns) as u64);
    if compress {
        // Half the payload is repetitive: fewer bytes on the wire.
        assert!(g(&c.transport_out) < total, "compression saved nothing");
    } else {
        assert!(g(&c.transport_out) > total);
    }
}

#[test]
fn ten_megabytes_compressed_lossy() {
    run(true, 1, 10 << 20, 1, true);
}

#[test]
fn ten_megabytes_plain_lossy() {
    run(false, 1, 10 << 20, 1, true);
}

#[test]
fn thirty_two_connections_compressed_lossy() {
    run(true, 32, 10 << 20, 1, true);
}

#[test]
fn thirty_two_connections_plain_lossy() {
    run(false, 32, 4 << 20, 1, true);
}

#[test]
fn several_sessions_round_robin() {
    // --conn 3: connections spread over three KCP sessions (direct, the
    // relay serves a single client socket).
    run(true, 12, 64 << 10, 3, false);
}

#[test]
fn unreachable_target_closes_the_connection() {
    let echo = Echo::start();
    let kl = KcpListener::bind("127.0.0.1:0", options(true, true, 1).net).unwrap();
    let server_addr = kl.local_addr();
    // A target nobody listens on: bind, note the port, close.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let srv = Server::new(kl, &dead.to_string(), options(true, true, 1));
    let (sstop, scount) = (srv.stopper(), srv.counters());
    let st = std::thread::spawn(move || srv.run().unwrap());
    let tl = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tl.local_addr().unwrap();
    let cli = Client::new(tl, &server_addr.to_string(), options(false, true, 1));
    let cstop = cli.stopper().unwrap();
    let ct = std::thread::spawn(move || cli.run().unwrap());
    let mut c = TcpStream::connect(addr).unwrap();
    let _ = c.write_all(b"hello?");
    // The server's FIN for the stream ends the relay: EOF (or a reset).
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(buf.is_empty());
    cstop.stop();
    ct.join().unwrap();
    sstop.stop();
    st.join().unwrap();
    assert_eq!(scount.failures.load(Ordering::Relaxed), 1);
    drop(echo);
}
