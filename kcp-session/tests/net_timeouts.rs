//! Timeouts, non-blocking mode, shutdown, OOB, close/drop while data is
//! in flight, idle timeout (EOF) — real sockets on 127.0.0.1.

mod net_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, UdpSocket};
use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::net::{KcpListener, KcpStream, NetConfig};
use net_common::{Impair, Relay, Rng};

fn cfg() -> SessionConfig {
    let mut s = SessionConfig::fast3().with_window(128, 128);
    s.stream = true;
    s
}

#[test]
fn read_timeout_expires_with_timed_out() {
    let l = KcpListener::bind("127.0.0.1:0", cfg()).unwrap();
    let c = KcpStream::connect(l.local_addr(), cfg()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    let t = Instant::now();
    let e = (&c).read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(150) && el < Duration::from_secs(10),
        "{el:?}"
    );
    // Zero is rejected, as by std sockets.
    assert_eq!(
        c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // Non-blocking: WouldBlock at once.
    c.set_nonblocking(true).unwrap();
    assert_eq!(
        (&c).read(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(150)));
}

#[test]
fn write_blocks_on_full_window_then_times_out() {
    // A peer that never acknowledges: a bare socket.
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let c = KcpStream::connect(hole.local_addr().unwrap(), cfg().with_window(8, 8)).unwrap();
    c.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![7u8; 1000];
    let t = Instant::now();
    let mut written = 0;
    let err = loop {
        match (&c).write(&chunk) {
            Ok(n) => written += n,
            Err(e) => break e,
        }
        assert!(t.elapsed() < Duration::from_secs(10));
    };
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // At most the window's worth (8 segments) was accepted.
    assert!(written <= 8 * 1400, "{written}");
    c.set_nonblocking(true).unwrap();
    assert_eq!(
        (&c).write(&chunk).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    // Close cannot get acknowledgements: linger expires.
    drop(hole);
}

#[test]
fn close_while_in_flight_delivers_everything() {
    let server_cfg = NetConfig::from(cfg()).with_idle_timeout(Duration::from_millis(600));
    let l = KcpListener::bind("127.0.0.1:0", server_cfg).unwrap();
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
    let n = data.len();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept_timeout(Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        // The peer is gone: after the idle timeout, EOF.
        (&s).read_to_end(&mut got).unwrap();
        assert_eq!(
            (&s).write(b"x").unwrap_err().kind(),
            ErrorKind::ConnectionAborted
        );
        got
    });
    let c = KcpStream::connect(relay.addr(), NetConfig::from(cfg())).unwrap();
    (&c).write_all(&data).unwrap();
    // close() right away: returns once all is acknowledged.
    let t = Instant::now();
    c.close().unwrap();
    eprintln!("close lingered {:?} for {n} bytes", t.elapsed());
    let got = server.join().unwrap();
    assert!(got == data, "got {} of {}", got.len(), data.len());
}

#[test]
fn drop_while_in_flight_lingers_in_background() {
    let l = KcpListener::bind("127.0.0.1:0", cfg()).unwrap();
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
        let c = KcpStream::connect(relay.addr(), cfg()).unwrap();
        (&c).write_all(&data).unwrap();
    } // dropped with most of it unacknowledged
    // Up to a receive window (128 segments) waits in the unaccepted
    // session; the rest follows once it is read.
    let (s, _) = l.accept_timeout(Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = vec![0u8; data.len()];
    (&s).read_exact(&mut got).unwrap();
    assert!(got == data);
}

#[test]
fn shutdown_and_oob() {
    let c3 = cfg().with_fec(10, 3);
    let l = KcpListener::bind("127.0.0.1:0", c3.clone()).unwrap();
    let c = KcpStream::connect(l.local_addr(), c3).unwrap();
    assert!(c.oob_max_size() > 1000);
    c.send_oob(b"out of band").unwrap();
    (&c).write_all(b"in band").unwrap();
    let (s, peer) = l.accept_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(peer.port(), c.local_addr().port());
    assert_eq!(s.conv(), c.conv());
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let n = s.recv_oob(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"out of band");
    let mut ib = [0u8; 7];
    (&s).read_exact(&mut ib).unwrap();
    assert_eq!(&ib, b"in band");
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    s.shutdown(Shutdown::Read).unwrap();
    assert_eq!((&s).read(&mut buf).unwrap(), 0);
    // Too large an OOB payload.
    let big = vec![0u8; c.oob_max_size() + 1];
    assert_eq!(
        c.send_oob(&big).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // Without FEC: refused.
    let plain = KcpStream::connect(l.local_addr(), cfg()).unwrap();
    assert_eq!(
        plain.send_oob(b"x").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn client_idle_timeout_gives_eof() {
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let c = KcpStream::connect(
        hole.local_addr().unwrap(),
        NetConfig::from(cfg()).with_idle_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    assert_eq!((&c).read(&mut [0u8; 4]).unwrap(), 0);
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        (&c).write(b"x").unwrap_err().kind(),
        ErrorKind::ConnectionAborted
    );
}

#[test]
fn reconnect_resets_the_old_stream() {
    let l = KcpListener::bind("127.0.0.1:0", cfg()).unwrap();
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
    let (s1, _) = l.accept_timeout(Duration::from_secs(5)).unwrap();
    s1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 1];
    (&s1).read_exact(&mut b).unwrap();
    raw.send_to(&seg(2), l.local_addr()).unwrap();
    let (s2, _) = l.accept_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(s2.conv(), 2);
    assert_eq!(
        (&s1).read(&mut b).unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(l.stats().endpoint.reconnects, 1);
}
