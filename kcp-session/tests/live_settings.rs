//! kcp-go's setters on a live session (`SetNoDelay`, `SetWindowSize`,
//! `SetMtu`, `SetStreamMode`, `SetACKNoDelay`, `SetDUP`, `SetRateLimit`)
//! take effect on the running `Connection`, and its flow-control queries
//! (`wait_snd`, `is_writable`, `has_pending_transmit`, `is_drained`) say
//! exactly what the next calls will do.

use kcp_core::Timestamp;
use kcp_crypto::CryptName;
use kcp_session::{ConfigError, Connection, CryptConfig, SessionConfig};

const T0: Timestamp = Timestamp::from_millis(0);

fn cfg() -> SessionConfig {
    SessionConfig::fast3()
        .with_window(128, 128)
        .with_crypt(CryptConfig::new(CryptName::Aes128Gcm, [3; 32]))
        .with_fec(10, 3)
}

fn pair() -> (Connection, Connection) {
    (
        Connection::connect(1, &cfg(), T0).unwrap(),
        Connection::accept(1, &cfg(), T0).unwrap(),
    )
}

/// Hands out every datagram `from` has at `now` (after its timer), into `to`.
fn pump(from: &mut Connection, to: &mut Connection, now: Timestamp) -> Vec<usize> {
    from.handle_timeout(now);
    let mut wire = [0u8; 1500];
    let mut sizes = Vec::new();
    while let Some(n) = from.poll_transmit(now, &mut wire) {
        sizes.push(n);
        to.handle_datagram(now, &mut wire[..n]);
    }
    sizes
}

#[test]
fn setters_reach_the_running_kcp() {
    let (mut a, _) = pair();
    a.set_nodelay(0, 40, 5, 0);
    a.set_stream(true);
    a.set_ack_nodelay(true);
    a.set_window(64, 200);
    let c = a.kcp().config();
    assert_eq!(
        (c.nodelay(), c.interval(), c.resend(), c.nc()),
        (0, 40, 5, false)
    );
    assert!(c.stream() && c.ack_nodelay());
    assert_eq!((c.snd_wnd(), c.rcv_wnd()), (64, 200));
    a.set_nodelay(-1, -1, -1, 1);
    a.set_stream(false);
    a.set_ack_nodelay(false);
    a.set_window(0, 0);
    let c = a.kcp().config();
    assert_eq!(
        (c.nodelay(), c.interval(), c.resend(), c.nc()),
        (0, 40, 5, true)
    );
    assert!(!c.stream() && !c.ack_nodelay());
    assert_eq!((c.snd_wnd(), c.rcv_wnd()), (64, 200), "0 keeps the window");
}

/// kcp-go's `Write` blocks once `WaitSnd() >= snd_wnd`: `is_writable`
/// turns false exactly there, following a window changed on the fly.
#[test]
fn writability_follows_the_send_window() {
    let (mut a, _) = pair();
    a.set_window(8, 0);
    for i in 0..8 {
        assert!(a.is_writable(), "after {i} messages");
        a.send(b"m").unwrap();
        assert_eq!(a.wait_snd(), i + 1);
    }
    assert!(!a.is_writable());
    a.set_window(9, 0);
    assert!(a.is_writable());
    a.send(b"m").unwrap();
    assert!(!a.is_writable());
    a.close(T0);
    a.set_window(100, 0);
    assert!(!a.is_writable(), "closed");
}

/// `SetMtu`: the session MTU includes every header and the AEAD tag; KCP
/// gets what is left (1000 - 12 - 8 - 16 here), and the smallest MTU
/// accepted leaves KCP one byte of payload.
#[test]
fn mtu_counts_every_layer() {
    let (mut a, mut b) = pair();
    let overhead = 12 + 8 + 16;
    a.set_mtu(1000).unwrap();
    assert_eq!(
        (a.max_datagram_size(), a.mss()),
        (1000, 1000 - overhead - 24)
    );
    a.send(&[7u8; 5000]).unwrap();
    let sizes = pump(&mut a, &mut b, T0);
    assert!(sizes.iter().all(|&n| n <= 1000), "{sizes:?}");
    assert!(sizes.contains(&1000), "full datagrams: {sizes:?}");
    assert!(matches!(
        a.set_mtu(overhead + 24),
        Err(ConfigError::Mtu {
            mtu: 60,
            overhead: 36
        })
    ));
    assert_eq!(a.max_datagram_size(), 1000, "a refused MTU changes nothing");
    a.set_mtu(overhead + 25).unwrap();
    assert_eq!(a.mss(), 1);
    a.set_mtu(9000).unwrap();
    assert_eq!(a.max_datagram_size(), 1500, "kcp-go's mtuLimit");
}

/// `SetDUP(n)`: every datagram leaves n + 1 times.
#[test]
fn dup_sends_every_datagram_again() {
    for dup in [0usize, 1, 3] {
        let (mut a, mut b) = pair();
        a.set_dup(dup);
        a.send(&[1u8; 100]).unwrap();
        let sizes = pump(&mut a, &mut b, T0);
        // One data datagram and, with FEC 10/3, no parity yet.
        assert_eq!(sizes.len(), dup + 1, "dup {dup}");
        let s = a.stats();
        assert_eq!(s.out_pkts, sizes.len() as u64);
        assert_eq!(s.out_bytes, sizes.iter().sum::<usize>() as u64);
    }
}

/// `SetRateLimit`: after kcp-go's burst (64 datagrams of 1500 bytes), at
/// most the rate per second leaves.
#[test]
fn rate_limit_paces_the_output() {
    let (mut a, mut b) = pair();
    a.set_window(1024, 1024);
    b.set_window(1024, 1024);
    a.set_rate_limit(100_000);
    let mut now = T0;
    let mut sink = [0u8; 4096];
    // Keeps `a`'s window full for `ms` milliseconds; returns the bytes it sent.
    let mut run = |a: &mut Connection, b: &mut Connection, ms: u32| {
        let mut sent = 0usize;
        for _ in 0..ms {
            while a.is_writable() {
                a.send(&[9u8; 1000]).unwrap();
            }
            sent += pump(a, b, now).iter().sum::<usize>();
            pump(b, a, now);
            while b.recv(&mut sink).is_ok() {}
            now = now.add_millis(1);
        }
        sent
    };
    let sent = run(&mut a, &mut b, 2000);
    // Two seconds: the burst plus 200 KB, give or take one datagram.
    assert!(
        (200_000..=64 * 1500 + 200_000 + 1500).contains(&sent),
        "{sent} bytes in 2 s at 100 KB/s"
    );
    a.set_rate_limit(0);
    let unlimited = run(&mut a, &mut b, 200);
    assert!(
        unlimited > 1_000_000,
        "{unlimited} bytes in 0.2 s unlimited"
    );
}

/// `has_pending_transmit` is true exactly when `poll_transmit` has a
/// datagram; `is_drained` only once closed and emptied.
#[test]
fn pending_and_drained_say_what_poll_transmit_will_do() {
    let (mut a, _) = pair();
    let mut wire = [0u8; 1500];
    assert!(!a.has_pending_transmit());
    // Duplicates (and parity) wait in the session's own queue after the
    // KCP datagram they follow has left: pending counts them too.
    a.set_dup(1);
    a.send(&[1u8; 3000]).unwrap();
    a.handle_timeout(T0);
    loop {
        let pending = a.has_pending_transmit();
        let got = a.poll_transmit(T0, &mut wire).is_some();
        assert_eq!(pending, got);
        if !got {
            break;
        }
    }
    assert!(!a.is_drained(), "open");
    a.send(&[2u8; 10]).unwrap();
    a.close(T0);
    assert!(a.has_pending_transmit(), "close flushes");
    assert!(!a.is_drained(), "closed, not drained");
    while a.poll_transmit(T0, &mut wire).is_some() {
        assert_eq!(a.is_drained(), !a.has_pending_transmit());
    }
    assert!(a.is_drained());
    assert!(!a.has_pending_transmit());
}

/// A datagram the adapter received from another address than the peer's
/// is dropped and counted in `InErrs` (kcp-go spec §5), nothing else.
#[test]
fn foreign_datagrams_count_as_in_errs() {
    let (mut a, _) = pair();
    let before = a.stats();
    a.count_foreign_datagram();
    a.count_foreign_datagram();
    let after = a.stats();
    assert_eq!(after.in_errs, before.in_errs + 2);
    assert_eq!(after.in_pkts, before.in_pkts);
}

/// What the crypt layer refuses is counted as kcp-go counts it: a failed
/// checksum or tag, and a datagram longer than the crypt layer takes (a
/// UDP payload's limit here; kcp-go's read would cut it, then fail the
/// check), in `InCsumErrors`; one shorter than the crypt header is dropped
/// silently.
#[test]
fn refused_datagrams_are_counted_like_kcp_go() {
    let (_, mut b) = pair();
    b.handle_datagram(T0, &mut [0x55u8; 100]); // tag fails
    b.handle_datagram(T0, &mut [0x55u8; 1501]); // tag fails
    b.handle_datagram(T0, &mut vec![0x55u8; 65_508]); // too long
    b.handle_datagram(T0, &mut [0x55u8; 5]); // shorter than the header
    let s = b.stats();
    assert_eq!((s.in_csum_errors, s.in_errs, s.kcp_in_errors), (3, 0, 0));
}

/// `has_events` is true exactly when `poll_event` has one.
#[test]
fn has_events_says_what_poll_event_will_do() {
    let (mut a, mut b) = pair();
    assert!(!b.has_events());
    a.send(b"x").unwrap();
    pump(&mut a, &mut b, T0);
    loop {
        let said = b.has_events();
        assert_eq!(said, b.poll_event().is_some());
        if !said {
            break;
        }
    }
}

/// Under a rate limit `poll_timeout` is the earlier of KCP's own timer and
/// the moment the bucket lets the next datagram go: an event loop that
/// sleeps until it never finds a datagram it could have sent earlier, nor
/// misses KCP's timer (here 100 ms, longer than the pacing gaps).
#[test]
fn poll_timeout_wakes_for_the_rate_limit_and_for_kcp() {
    let (mut a, mut b) = pair();
    a.set_window(1024, 1024);
    b.set_window(1024, 1024);
    a.set_nodelay(0, 100, 0, 0);
    a.set_rate_limit(200_000);
    a.send(&vec![5u8; 400_000]).unwrap();
    let mut now = T0;
    let mut wire = [0u8; 1500];
    let mut sink = vec![0u8; 1 << 16];
    let (mut sent, mut early_wakeups) = (0usize, 0);
    for _ in 0..3000 {
        let deadline = a.poll_timeout();
        if let (Some(d), Some(k)) = (deadline, a.kcp().poll_timeout()) {
            assert!(k.reached(d), "at {now}: {d} is after KCP's timer {k}");
        }
        if deadline.is_some_and(|d| now.reached(d)) {
            a.handle_timeout(now);
        }
        let mut any = false;
        while let Some(n) = a.poll_transmit(now, &mut wire) {
            if !any {
                assert!(
                    deadline.is_some_and(|d| now.reached(d)),
                    "at {now}: a datagram was ready, the timer said {deadline:?}"
                );
                any = true;
            }
            sent += n;
            b.handle_datagram(now, &mut wire[..n]);
        }
        early_wakeups += usize::from(any && deadline.is_some_and(|d| d.diff(now) < 0));
        pump(&mut b, &mut a, now);
        // An event loop drains transmits after every input, as here; what
        // is left waits for the rate limit.
        while let Some(n) = a.poll_transmit(now, &mut wire) {
            sent += n;
            b.handle_datagram(now, &mut wire[..n]);
        }
        while b.recv(&mut sink).is_ok() {}
        now = now.add_millis(1);
    }
    // Three seconds at 200 KB/s after the 96 KB burst: paced, not stalled.
    assert!(
        sent > 500_000 && sent < 96_000 + 600_000 + 1500,
        "{sent} bytes"
    );
    assert!(early_wakeups < 3000);
}
