//! A flood of random datagrams and of valid-looking KCP datagrams with
//! random convs, from many ports, against a tokio listener: every
//! datagram read is accounted for by the endpoint, sessions stay within
//! the backlog, and a legitimate stream keeps working throughout.
#![cfg(feature = "tokio")]

mod net_common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::tokio::{KcpListener, KcpStream, NetConfig};
use net_common::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const FLOOD: usize = 50_000;
const PORTS: usize = 200;
const BACKLOG: usize = 128;
const CHUNKS: usize = 100;

async fn echo(c: &mut KcpStream, s: &mut KcpStream, tag: u8) {
    let m = vec![tag; 3000];
    c.write_all(&m).await.unwrap();
    let mut got = vec![0u8; m.len()];
    s.read_exact(&mut got).await.unwrap();
    s.write_all(&got).await.unwrap();
    c.read_exact(&mut got).await.unwrap();
    assert!(got == m);
}

/// The flood, from a plain thread: half junk, half KCP-looking segments,
/// in `CHUNKS` chunks, each started by `go` and reported on `done`.
fn flood(
    addr: std::net::SocketAddr,
    go: std::sync::mpsc::Receiver<()>,
    done: tokio::sync::mpsc::UnboundedSender<usize>,
) {
    let mut rng = Rng::new(0xF100D);
    let socks: Vec<UdpSocket> = (0..PORTS)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut buf = [0u8; 1500];
    for i in 0..FLOOD {
        if i % (FLOOD / CHUNKS) == 0 && go.recv().is_err() {
            return;
        }
        let sock = &socks[rng.below(PORTS as u64) as usize];
        let n = if rng.chance(50) {
            let n = 1 + rng.below(1500) as usize;
            rng.fill(&mut buf[..n]);
            n
        } else {
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
        if (i + 1) % (FLOOD / CHUNKS) == 0 {
            let _ = done.send(i + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_is_accounted_for_and_the_stream_keeps_working() {
    timeout(Duration::from_secs(40), async {
        let mut sc = SessionConfig::fast3();
        sc.read_buffer = 16 << 20;
        let cfg = NetConfig::from(sc.clone()).with_accept_backlog(BACKLOG);
        let listener = KcpListener::bind("127.0.0.1:0", cfg).await.unwrap();
        let addr = listener.local_addr();
        let mut c = KcpStream::connect(addr, sc.clone()).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let mut hi = [0u8; 2];
        s.read_exact(&mut hi).await.unwrap();
        echo(&mut c, &mut s, 1).await;

        let t0 = Instant::now();
        let (go, go_rx) = std::sync::mpsc::channel();
        let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
        let flooder = std::thread::spawn(move || flood(addr, go_rx, done_tx));
        // The legitimate stream echoes after every chunk of the flood.
        let mut sent = 0;
        for tag in 0..CHUNKS as u8 {
            go.send(()).unwrap();
            sent = done.recv().await.unwrap();
            echo(&mut c, &mut s, tag).await;
            let st = listener.stats();
            assert!(st.backlog <= BACKLOG);
            assert!(st.sessions <= BACKLOG + 1, "{}", st.sessions);
        }
        flooder.join().unwrap();
        let flood_time = t0.elapsed();
        let legit = c.io_stats().datagrams_out;
        // The socket's queue is FIFO: once an echo sent after the flood
        // came back, the listener has read the whole flood. Read the
        // counters when the driver is between batches (they agree then).
        let st = loop {
            let st = listener.stats();
            if st.io.datagrams_in == st.endpoint.received {
                break st;
            }
            tokio::task::yield_now().await;
        };
        eprintln!(
            "flood of {sent} from {PORTS} ports and {CHUNKS} echoes in {flood_time:?}; \
             listener read {} datagrams ({legit}+ from the legit client), endpoint {:?}, sessions {} backlog {}",
            st.io.datagrams_in,
            st.endpoint,
            st.sessions,
            st.backlog
        );
        // Every datagram read went to the endpoint, which delivered or
        // dropped each one, for a counted reason.
        assert_eq!(st.io.datagrams_in, st.endpoint.received);
        assert_eq!(
            st.endpoint.received,
            st.endpoint.delivered + st.endpoint.total_dropped()
        );
        assert!(st.endpoint.total_dropped() > 0);
        assert!(st.endpoint.dropped(kcp_session::DropReason::BacklogFull) > 0);
        assert!(st.sessions <= BACKLOG + 1);
        assert!(st.io.datagrams_in >= legit);
        assert_eq!(sent, FLOOD);
        // Loopback, paced by chunks: (nearly) nothing lost on the way.
        assert!(
            st.io.datagrams_in * 100 >= (FLOOD as u64 + legit) * 99,
            "{} of {}",
            st.io.datagrams_in,
            FLOOD as u64 + legit
        );
    })
    .await
    .expect("hang guard");
}
