//! Loopback datagram throughput, 1400-byte datagrams: plain `send_to` /
//! `recv_from` vs batched receive (`recvmmsg` via quinn-udp) vs GSO send
//! with GRO receive; then a KCP bulk transfer through `KcpStream` with
//! each `IoMode`.
//!
//! `cargo run --release -p kcp-session --example udp_batch_bench [secs]`

use std::io::{IoSliceMut, Read, Write};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::net::{IoMode, KcpListener, KcpStream, NetConfig};
use quinn_udp::{RecvMeta, Transmit, UdpSocketState};

const SIZE: usize = 1400;

#[derive(Clone, Copy, Debug)]
enum Send {
    Plain,
    Gso,
}

#[derive(Clone, Copy, Debug)]
enum Recv {
    Plain,
    Batched,
}

/// Sends for `secs`, returns (sent MB/s, received MB/s, recv syscalls per datagram).
fn udp(send: Send, recv: Recv, secs: f64) -> (f64, f64, f64) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = socket2::SockRef::from(&rx).set_recv_buffer_size(8 << 20);
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let to = rx.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rstop = stop.clone();
    let receiver = std::thread::spawn(move || {
        let state = UdpSocketState::new((&rx).into()).unwrap();
        let gro = state.gro_segments().max(1);
        let (mut bytes, mut calls) = (0u64, 0u64);
        let mut bufs = vec![vec![0u8; 1500 * gro]; 32];
        let mut metas = [RecvMeta::default(); 32];
        while !rstop.load(Ordering::Relaxed) {
            match recv {
                Recv::Plain => {
                    if let Ok((n, _)) = rx.recv_from(&mut bufs[0]) {
                        bytes += n as u64;
                        calls += 1;
                    }
                }
                Recv::Batched => {
                    let mut slices: Vec<IoSliceMut<'_>> =
                        bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
                    if let Ok(n) = state.recv((&rx).into(), &mut slices, &mut metas) {
                        calls += 1;
                        bytes += metas[..n].iter().map(|m| m.len as u64).sum::<u64>();
                    }
                }
            }
        }
        (bytes, calls)
    });
    let state = UdpSocketState::new((&tx).into()).unwrap();
    let segs = state.max_gso_segments().clamp(1, 40);
    let payload = vec![0x5Au8; SIZE * segs];
    let t0 = Instant::now();
    let mut sent = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            match send {
                Send::Plain => {
                    if tx.send_to(&payload[..SIZE], to).is_ok() {
                        sent += SIZE as u64;
                    }
                }
                Send::Gso => {
                    let t = Transmit {
                        destination: to,
                        ecn: None,
                        contents: &payload,
                        segment_size: (segs > 1).then_some(SIZE),
                        src_ip: None,
                    };
                    if state.try_send((&tx).into(), &t).is_ok() {
                        sent += payload.len() as u64;
                    }
                }
            }
        }
    }
    let el = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let (bytes, calls) = receiver.join().unwrap();
    let dgrams = (bytes / SIZE as u64).max(1);
    (
        sent as f64 / el / 1e6,
        bytes as f64 / el / 1e6,
        calls as f64 / dgrams as f64,
    )
}

/// KCP bulk transfer (null crypt, no FEC, windows 1024) with `mode`: MB/s.
fn kcp(mode: IoMode, bytes: usize) -> (f64, String) {
    let mut s = SessionConfig::fast3().with_window(1024, 1024);
    s.stream = true;
    s.read_buffer = 4 << 20;
    s.write_buffer = 4 << 20;
    let cfg = NetConfig::from(s).with_io_mode(mode);
    let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).unwrap();
    let c = KcpStream::connect(l.local_addr(), cfg).unwrap();
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || {
        let chunk = vec![0xA5u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            (&c).write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        c
    });
    let (srv, _) = l.accept_timeout(Duration::from_secs(5)).unwrap();
    srv.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < bytes {
        got += (&srv).read(&mut buf).unwrap();
    }
    let el = t0.elapsed().as_secs_f64();
    let c = writer.join().unwrap();
    let io = c.io_stats();
    let note = format!(
        "client: {} datagrams in {} send calls; server: {} datagrams in {} recv calls; retrans {}",
        io.datagrams_out,
        io.send_calls,
        srv.io_stats().datagrams_in,
        srv.io_stats().recv_calls,
        c.stats().retrans_segs
    );
    (bytes as f64 / el / 1e6, note)
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    println!("loopback UDP, {SIZE}-byte datagrams, {secs} s each");
    for (send, recv) in [
        (Send::Plain, Recv::Plain),
        (Send::Plain, Recv::Batched),
        (Send::Gso, Recv::Batched),
    ] {
        let (s, r, calls) = udp(send, recv, secs);
        println!(
            "  send {send:?}, recv {recv:?}: sent {s:8.1} MB/s, received {r:8.1} MB/s, {calls:.3} recv syscalls/datagram"
        );
    }
    println!("KCP bulk transfer through KcpStream (null crypt, no FEC, wnd 1024), 64 MB:");
    for mode in [IoMode::Portable, IoMode::Batched] {
        let (mbs, note) = kcp(mode, 64 << 20);
        println!("  {mode:?}: {mbs:8.1} MB/s ({note})");
    }
}
