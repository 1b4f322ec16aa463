//! Replay protection through the std adapter on real sockets: a relay that
//! duplicates datagrams and replays recorded ones during a transfer (which
//! still arrives byte-exact), then the recorded opening datagram sent to the
//! listener from a new socket after the session closed: no session, no
//! answer, one `Replay` drop.

mod net_common;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use kcp_crypto::CryptName;
use kcp_session::net::{KcpListener, KcpStream, ListenerStats, NetConfig};
use kcp_session::{CryptConfig, DropReason, SessionConfig};
use net_common::{Impair, Relay, Rng};

const BULK: usize = 512 * 1024;

/// Waits (bounded) until `cond` holds for the listener's stats.
fn wait_for(l: &KcpListener, what: &str, cond: impl Fn(&ListenerStats) -> bool) -> ListenerStats {
    let t0 = Instant::now();
    loop {
        let s = l.stats();
        if cond(&s) {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run(crypt: CryptName, seed: u64) {
    let mut s = SessionConfig::fast3()
        .with_window(256, 256)
        .with_fec(10, 3)
        .with_crypt(CryptConfig::from_passphrase(crypt, "replay test"));
    s.stream = true;
    let cfg = NetConfig::from(s).with_linger(Duration::from_secs(3));
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).unwrap();
    let relay = Relay::start(
        listener.local_addr(),
        seed,
        Impair {
            drop: 2,
            dup: 3,
            reorder: 0,
            replay: 20,
        },
    );
    let c = KcpStream::connect(relay.addr(), cfg).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    (&c).write_all(b"hello").unwrap();
    let (s, _) = listener.accept_timeout(Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut five = [0u8; 5];
    (&s).read_exact(&mut five).unwrap();
    assert_eq!(&five, b"hello");

    // Bulk one way through duplication and replays; the server echoes.
    let data = Rng::new(seed).bytes(BULK);
    let echo = std::thread::spawn(move || {
        let mut buf = vec![0u8; 8192];
        let mut total = 0;
        while total < BULK {
            let n = (&s).read(&mut buf).unwrap();
            assert!(n > 0);
            (&s).write_all(&buf[..n]).unwrap();
            total += n;
        }
        s
    });
    let writer = {
        let c = c.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            for chunk in data.chunks(7000) {
                (&c).write_all(chunk).unwrap();
            }
        })
    };
    let mut back = vec![0u8; BULK];
    (&c).read_exact(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == data, "{crypt:?}: echo differs");
    let s = echo.join().unwrap();

    let replayed = relay
        .stats
        .replayed
        .load(std::sync::atomic::Ordering::Relaxed);
    let copies = relay
        .stats
        .copies_to_server
        .load(std::sync::atomic::Ordering::Relaxed);
    let st = listener.stats();
    let drops = st.endpoint.dropped(DropReason::Replay);
    assert!(replayed > 100, "{crypt:?}: {replayed} replays");
    // Every extra copy that reached the listener was dropped as a replay
    // (the kernel may have dropped a few of them on the way).
    assert!(
        drops > 0 && drops <= copies,
        "{crypt:?}: {drops} of {copies}"
    );
    assert_eq!(st.sessions, 1);

    // Close both ends; wait until the listener freed the session.
    s.close().unwrap();
    c.close().unwrap();
    wait_for(&listener, "the session to go", |s| s.sessions == 0);
    let opening = relay.first_to_server()[0].clone();
    drop(relay);

    // The opening datagram again, from a socket the listener never saw.
    let before = listener.stats();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.send_to(&opening, listener.local_addr()).unwrap();
    let after = wait_for(&listener, "the probe", |s| {
        s.endpoint.received > before.endpoint.received
    });
    assert_eq!(
        after.endpoint.dropped(DropReason::Replay),
        before.endpoint.dropped(DropReason::Replay) + 1,
        "{crypt:?}"
    );
    assert_eq!(after.sessions, 0);
    assert_eq!(
        after.endpoint.sessions_created,
        before.endpoint.sessions_created
    );
    probe
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1500];
    assert!(
        probe.recv_from(&mut b).is_err(),
        "{crypt:?}: the listener answered a replay"
    );
}

#[test]
fn replays_through_a_relay_aes() {
    run(CryptName::Aes, 1);
}

#[test]
fn replays_through_a_relay_aes_gcm() {
    run(CryptName::Aes128Gcm, 2);
}

#[test]
fn replays_through_a_relay_salsa20() {
    run(CryptName::Salsa20, 3);
}
