//! A flood of random datagrams and of valid-looking KCP datagrams with
//! random convs, from many ports, against a listener: the sessions stay
//! within the backlog, memory stays bounded, every datagram read is
//! accounted for by the endpoint, and a legitimate session keeps working.

mod net_common;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::net::{KcpListener, KcpStream, NetConfig};
use net_common::Rng;

const FLOOD: usize = 100_000;
const PORTS: usize = 200;
const BACKLOG: usize = 128;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn echo(c: &KcpStream, s: &KcpStream, tag: u8) {
    let m = vec![tag; 3000];
    (&*c).write_all(&m).unwrap();
    let mut got = vec![0u8; m.len()];
    (&*s).read_exact(&mut got).unwrap();
    (&*s).write_all(&got).unwrap();
    (&*c).read_exact(&mut got).unwrap();
    assert!(got == m);
}

#[test]
fn flood_keeps_sessions_bounded_and_accounted() {
    let mut sc = SessionConfig::fast3();
    sc.read_buffer = 8 << 20;
    let cfg = NetConfig::from(sc.clone()).with_accept_backlog(BACKLOG);
    let listener = KcpListener::bind("127.0.0.1:0", cfg).unwrap();
    let addr = listener.local_addr();
    let c = KcpStream::connect(addr, sc.clone()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (&c).write_all(b"hi").unwrap();
    let (s, _) = listener.accept_timeout(Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hi = [0u8; 2];
    (&s).read_exact(&mut hi).unwrap();
    echo(&c, &s, 1);
    let rss0 = rss_kib();

    let t0 = Instant::now();
    let mut rng = Rng::new(0xF100D);
    let socks: Vec<UdpSocket> = (0..PORTS)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut buf = [0u8; 1500];
    let (mut junk, mut kcp_like) = (0, 0);
    for i in 0..FLOOD {
        let sock = &socks[rng.below(PORTS as u64) as usize];
        let n = if rng.chance(50) {
            junk += 1;
            let n = 1 + rng.below(1500) as usize;
            rng.fill(&mut buf[..n]);
            n
        } else {
            kcp_like += 1;
            // conv, cmd push, frg 0, wnd, ts, sn (0 or random), una, len, payload
            let conv = rng.next_u64() as u32;
            let sn = if rng.chance(50) {
                0
            } else {
                rng.next_u64() as u32
            };
            let len = rng.below(64) as u32;
            let mut d = Vec::with_capacity(24 + len as usize);
            d.extend_from_slice(&conv.to_le_bytes());
            d.extend_from_slice(&[81, 0, 128, 0]);
            d.extend_from_slice(&(rng.next_u64() as u32).to_le_bytes());
            d.extend_from_slice(&sn.to_le_bytes());
            d.extend_from_slice(&0u32.to_le_bytes());
            d.extend_from_slice(&len.to_le_bytes());
            d.resize(24 + len as usize, 0xAB);
            buf[..d.len()].copy_from_slice(&d);
            d.len()
        };
        sock.send_to(&buf[..n], addr).unwrap();
        if i % 2000 == 1999 {
            // Pace: let the reactor keep up (no kernel drops).
            std::thread::sleep(Duration::from_millis(2));
            let st = listener.stats();
            assert!(st.backlog <= BACKLOG);
            assert!(st.sessions <= BACKLOG + 1, "{}", st.sessions);
        }
    }
    let send_time = t0.elapsed();
    // Quiesce, then the legitimate session still works.
    std::thread::sleep(Duration::from_millis(300));
    echo(&c, &s, 2);
    std::thread::sleep(Duration::from_millis(100));
    let st = listener.stats();
    let rss1 = rss_kib();
    let legit = c.io_stats().datagrams_out;
    eprintln!(
        "flood of {FLOOD} ({junk} junk, {kcp_like} kcp-like) from {PORTS} ports sent in {send_time:?}; \
         listener read {} datagrams ({} from the legit client), endpoint {:?}, sessions {} backlog {}, RSS {rss0} -> {rss1} KiB",
        st.io.datagrams_in, legit, st.endpoint, st.sessions, st.backlog
    );
    // Every datagram read went to the endpoint, which delivered or
    // dropped each one, for a counted reason.
    assert_eq!(st.io.datagrams_in, st.endpoint.received);
    assert_eq!(
        st.endpoint.received,
        st.endpoint.delivered + st.endpoint.total_dropped()
    );
    // Nothing lost on the way (paced, 8 MiB receive buffer) — allow 1%.
    let sent = FLOOD as u64 + legit;
    assert!(st.io.datagrams_in <= sent);
    assert!(
        st.io.datagrams_in * 100 >= sent * 99,
        "{} of {sent}",
        st.io.datagrams_in
    );
    assert!(st.sessions <= BACKLOG + 1);
    assert!(st.endpoint.dropped(kcp_session::DropReason::BacklogFull) > 0);
    // Memory bounded: the sessions are capped, not the datagrams.
    assert!(rss1 < rss0 + 64 * 1024, "RSS grew {rss0} -> {rss1} KiB");
}
