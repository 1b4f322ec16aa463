//! Shutdown, close and drop with data in flight, idle timeout, peer reset,
//! OOB, message mode, and dropping the runtime under live handles — the
//! same io::ErrorKinds as the std adapter, on real loopback sockets.
#![cfg(feature = "tokio")]

mod net_common;

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::Duration;

use kcp_session::SessionConfig;
use kcp_session::tokio::{KcpListener, KcpStream, NetConfig};
use net_common::{Impair, Relay, Rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const GUARD: Duration = Duration::from_secs(30);

fn cfg() -> SessionConfig {
    let mut s = SessionConfig::fast3().with_window(128, 128);
    s.stream = true;
    s
}

async fn guard<T>(f: impl std::future::Future<Output = T>) -> T {
    timeout(GUARD, f).await.expect("hang guard")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_data_in_flight_delivers_it() {
    guard(async {
        let server_cfg = NetConfig::from(cfg()).with_idle_timeout(Duration::from_millis(600));
        let l = KcpListener::bind("127.0.0.1:0", server_cfg).await.unwrap();
        let relay = Relay::start(
            l.local_addr(),
            42,
            Impair {
                drop: 10,
                dup: 0,
                reorder: 5,
                replay: 0,
            },
        );
        let data = Rng::new(42).bytes(300 * 1024);
        let expect = data.clone();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut got = Vec::new();
            // The peer goes silent: after the idle timeout, EOF.
            s.read_to_end(&mut got).await.unwrap();
            let e = s.write(b"x").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
            got
        });
        let mut c = KcpStream::connect(relay.addr(), cfg()).await.unwrap();
        c.write_all(&data).await.unwrap();
        // Returns once everything written is acknowledged.
        c.shutdown().await.unwrap();
        assert_eq!(
            c.write(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        let got = server.await.unwrap();
        assert!(got == expect, "got {} of {}", got.len(), expect.len());
        drop(c);
    })
    .await;
}

#[tokio::test]
async fn close_while_in_flight_delivers_it() {
    guard(async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        let relay = Relay::start(
            l.local_addr(),
            3,
            Impair {
                drop: 10,
                dup: 3,
                reorder: 5,
                replay: 0,
            },
        );
        let data = Rng::new(3).bytes(200 * 1024);
        let mut c = KcpStream::connect(relay.addr(), cfg()).await.unwrap();
        let d2 = data.clone();
        let writer = tokio::spawn(async move {
            c.write_all(&d2).await.unwrap();
            c.close().await
        });
        let (mut s, _) = l.accept().await.unwrap();
        let mut got = vec![0u8; data.len()];
        s.read_exact(&mut got).await.unwrap();
        assert!(got == data);
        writer.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_while_in_flight_lingers_in_background() {
    guard(async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        let relay = Relay::start(
            l.local_addr(),
            7,
            Impair {
                drop: 10,
                dup: 3,
                reorder: 5,
                replay: 0,
            },
        );
        let data = Rng::new(7).bytes(200 * 1024);
        {
            let (_rd, mut wr) = KcpStream::connect(relay.addr(), cfg())
                .await
                .unwrap()
                .into_split();
            wr.write_all(&data).await.unwrap();
        } // both halves dropped with most of it unacknowledged
        let (mut s, _) = l.accept().await.unwrap();
        let mut got = vec![0u8; data.len()];
        s.read_exact(&mut got).await.unwrap();
        assert!(got == data);
    })
    .await;
}

#[tokio::test]
async fn client_idle_timeout_gives_eof_then_aborted() {
    guard(async {
        let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cfg = NetConfig::from(cfg()).with_idle_timeout(Duration::from_millis(200));
        let mut c = KcpStream::connect(hole.local_addr().unwrap(), cfg)
            .await
            .unwrap();
        assert_eq!(c.read(&mut [0u8; 4]).await.unwrap(), 0);
        assert_eq!(
            c.write(b"x").await.unwrap_err().kind(),
            ErrorKind::ConnectionAborted
        );
        assert!(c.recv_msg().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn shutdown_without_acks_times_out_after_linger() {
    guard(async {
        let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cfg = NetConfig::from(cfg().with_window(8, 8)).with_linger(Duration::from_millis(200));
        let mut c = KcpStream::connect(hole.local_addr().unwrap(), cfg)
            .await
            .unwrap();
        // The window fills (nothing is acknowledged): a write waits.
        let mut written = 0;
        while let Ok(r) = timeout(Duration::from_millis(50), c.write(&[7u8; 1000])).await {
            written += r.unwrap();
        }
        assert!(written <= 8 * 1400, "{written}");
        let e = c.shutdown().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert_eq!(c.close().await.unwrap_err().kind(), ErrorKind::TimedOut);
    })
    .await;
}

#[tokio::test]
async fn reconnect_resets_the_old_stream() {
    guard(async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        // Two convs from one address: a raw socket speaking KCP (null crypt).
        let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
        let seg = |conv: u32| {
            let mut d = Vec::new();
            d.extend_from_slice(&conv.to_le_bytes());
            d.extend_from_slice(&[81, 0, 32, 0]); // push, frg 0, wnd 32
            d.extend_from_slice(&0u32.to_le_bytes()); // ts
            d.extend_from_slice(&0u32.to_le_bytes()); // sn 0
            d.extend_from_slice(&0u32.to_le_bytes()); // una
            d.extend_from_slice(&1u32.to_le_bytes()); // len
            d.push(b'A');
            d
        };
        raw.send_to(&seg(1), l.local_addr()).unwrap();
        let (mut s1, _) = l.accept().await.unwrap();
        let mut b = [0u8; 1];
        s1.read_exact(&mut b).await.unwrap();
        raw.send_to(&seg(2), l.local_addr()).unwrap();
        let (s2, _) = l.accept().await.unwrap();
        assert_eq!(s2.conv(), 2);
        assert_eq!(
            s1.read(&mut b).await.unwrap_err().kind(),
            ErrorKind::ConnectionReset
        );
        assert_eq!(l.stats().endpoint.reconnects, 1);
    })
    .await;
}

#[tokio::test]
async fn oob_and_message_mode() {
    guard(async {
        let mut c3 = SessionConfig::fast3().with_fec(10, 3);
        c3.stream = false;
        let l = KcpListener::bind("127.0.0.1:0", c3.clone()).await.unwrap();
        let mut c = KcpStream::connect(l.local_addr(), c3.clone())
            .await
            .unwrap();
        assert!(c.oob_max_size() > 1000);
        c.send_oob(b"out of band").unwrap();
        c.send_msg(b"one").await.unwrap();
        c.send_msg(b"two!").await.unwrap();
        let (mut s, peer) = l.accept().await.unwrap();
        assert_eq!(peer.port(), c.local_addr().port());
        assert_eq!(s.conv(), c.conv());
        assert_eq!(&s.recv_oob().await.unwrap()[..], b"out of band");
        assert_eq!(&s.recv_msg().await.unwrap()[..], b"one");
        // A byte-stream read takes part of a message, recv_msg the rest.
        let mut two = [0u8; 2];
        s.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"tw");
        assert_eq!(&s.recv_msg().await.unwrap()[..], b"o!");
        // Too large an OOB payload; without FEC: refused.
        let big = vec![0u8; c.oob_max_size() + 1];
        assert_eq!(
            c.send_oob(&big).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let plain = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
        assert_eq!(
            plain.send_oob(b"x").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        // Split halves keep both.
        let (mut rd, wr) = s.into_split();
        wr.send_oob(b"back").unwrap();
        assert_eq!(&c.recv_oob().await.unwrap()[..], b"back");
        c.send_msg(b"three").await.unwrap();
        assert_eq!(&rd.recv_msg().await.unwrap()[..], b"three");
        assert_eq!(rd.stats().bytes_received, 12);
    })
    .await;
}

/// Dropping the runtime under live handles: no panic, no hang; handles
/// used afterwards (from another runtime) fail with `NotConnected`.
#[test]
fn runtime_dropped_under_live_handles() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (l, mut c, s) = rt.block_on(async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        let mut c = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
        c.write_all(b"x").await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (l, c, s)
    });
    drop(rt);
    let rt2 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt2.block_on(async {
        let e = c.write(b"y").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConnected);
        let e = timeout(GUARD, l.accept()).await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConnected);
    });
    drop((l, c, s));
    drop(rt2);
}

/// Everything dropped: the driver tasks end and release their sockets
/// (the listener's port can be bound again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_end_when_handles_are_gone() {
    guard(async {
        let cfg = NetConfig::from(cfg()).with_linger(Duration::from_millis(500));
        let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
        let addr = l.local_addr();
        let mut c = KcpStream::connect(addr, cfg).await.unwrap();
        c.write_all(b"data").await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.unwrap();
        drop((l, s, c));
        // The socket closes once the driver task has ended: poll for it.
        loop {
            if std::net::UdpSocket::bind(addr).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}
