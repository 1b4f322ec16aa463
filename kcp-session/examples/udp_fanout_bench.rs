//! Many-peer fan-out on loopback (the listener's send pattern): one socket
//! sends 1400-byte datagrams round-robin to 64 receiver sockets through
//! `kcp_session::net::BatchSender` (the reactor's send path), with
//!
//! * `portable`: one `send_to` per datagram,
//! * `quinn-udp`: one `sendmsg` per run of datagrams to one peer (GSO when
//!   a run has several), as on non-Linux unix,
//! * `sendmmsg`: the Linux path, one `sendmmsg` per 32-datagram batch (runs
//!   to one peer still GSO-coalesced inside it).
//!
//! `run` is how many consecutive datagrams go to one peer before the next
//! (1: pure round-robin).
//!
//! `cargo run --release -p kcp-session --example udp_fanout_bench [secs]`

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kcp_session::net::{BatchSender, IoMode};

const SIZE: usize = 1400;
const PEERS: usize = 64;

fn fan_out(mode: IoMode, mmsg: bool, run: usize, secs: f64) -> (f64, f64, f64, f64) {
    let peers: Vec<UdpSocket> = (0..PEERS)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let _ = socket2::SockRef::from(&s).set_recv_buffer_size(1 << 20);
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let addrs: Vec<SocketAddr> = peers.iter().map(|p| p.local_addr().unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let rstop = stop.clone();
    // One thread drains every receiver (non-blocking sweeps).
    let receiver = std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        let mut got = 0u64;
        while !rstop.load(Ordering::Relaxed) {
            let mut idle = true;
            for p in &peers {
                while p.recv_from(&mut buf).is_ok() {
                    got += 1;
                    idle = false;
                }
            }
            if idle {
                std::thread::yield_now();
            }
        }
        got
    });
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = socket2::SockRef::from(&sock).set_send_buffer_size(4 << 20);
    let mut s = BatchSender::new(sock, mode, mmsg).unwrap();
    let payload = vec![0x5Au8; SIZE];
    let (mut peer, mut in_run) = (0usize, 0usize);
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        for _ in 0..16 {
            while s.push(addrs[peer], &payload) {
                in_run += 1;
                if in_run == run {
                    in_run = 0;
                    peer = (peer + 1) % PEERS;
                }
            }
            if s.flush().is_err() {
                std::thread::yield_now();
            }
        }
    }
    let el = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let got = receiver.join().unwrap();
    let st = s.stats();
    let sent = st.datagrams_out as f64;
    (
        sent / el,
        sent * SIZE as f64 / el / 1e6,
        got as f64 / el,
        st.send_calls as f64 / sent.max(1.0),
    )
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    println!(
        "loopback fan-out: 1 sender -> {PEERS} receivers, {SIZE}-byte datagrams, batches of {}, {secs} s each",
        BatchSender::BATCH
    );
    for run in [1, 4] {
        for (name, mode, mmsg) in [
            ("portable", IoMode::Portable, false),
            ("quinn-udp", IoMode::Batched, false),
            ("sendmmsg", IoMode::Batched, true),
        ] {
            let (dps, mbs, rx, calls) = fan_out(mode, mmsg, run, secs);
            println!(
                "  run {run} {name:>9}: sent {:8.0} kdgram/s {mbs:8.1} MB/s, received {:8.0} kdgram/s, {calls:.3} send syscalls/datagram",
                dps / 1e3,
                rx / 1e3
            );
        }
    }
}
