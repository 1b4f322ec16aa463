//! kcp-go's `Read` on a `Connection`: partial reads keep the rest of the
//! message for the next call and `peek_size` says how much is left; a
//! zero-length message (an ikcp peer can send one) is never read as
//! end-of-stream; a reader that fell behind announces its reopened window
//! as soon as the queue drops below a quarter; `BytesReceived` counts
//! every byte handed out, whichever path.

use kcp_core::{Command, Header, OVERHEAD, Timestamp};
use kcp_session::{Connection, OobError, ReadError, SessionConfig};

const T0: Timestamp = Timestamp::from_millis(0);

/// No crypt, no FEC: the plaintext on the wire is KCP itself.
fn plain() -> SessionConfig {
    SessionConfig::fast3().with_window(32, 32)
}

fn push(sn: u32, payload: &[u8]) -> Vec<u8> {
    segment(Command::Push, sn, payload)
}

/// One KCP segment from the peer (conv 1, window 32, una 0).
fn segment(cmd: Command, sn: u32, payload: &[u8]) -> Vec<u8> {
    let h = Header {
        conv: 1,
        cmd: cmd as u8,
        frg: 0,
        wnd: 32,
        ts: 0,
        sn,
        una: 0,
        len: payload.len() as u32,
    };
    let mut d = vec![0u8; OVERHEAD];
    h.encode((&mut d[..]).try_into().unwrap());
    d.extend_from_slice(payload);
    d
}

#[test]
fn partial_reads_keep_the_rest_and_peek_says_how_much() {
    let mut b = Connection::accept(1, &plain(), T0).unwrap();
    assert_eq!(b.peek_size(), None);
    b.handle_datagram(T0, &mut push(0, b"hello"));
    b.handle_datagram(T0, &mut push(1, b"world!"));
    assert_eq!(b.peek_size(), Some(5));
    let mut two = [0u8; 2];
    assert_eq!(b.recv(&mut two), Ok(2));
    assert_eq!(&two, b"he");
    assert_eq!(b.peek_size(), Some(3), "the rest of the message");
    let mut big = [0u8; 64];
    assert_eq!(b.recv(&mut big), Ok(3), "never spans two messages");
    assert_eq!(&big[..3], b"llo");
    assert_eq!(b.peek_size(), Some(6));
    assert_eq!(b.recv(&mut big), Ok(6));
    assert_eq!(b.peek_size(), None);
    assert_eq!(b.recv(&mut big), Err(ReadError::WouldBlock));
    assert_eq!(b.stats().bytes_received, 11);

    // Closed: what was partly read is still handed out, then nothing.
    b.handle_datagram(T0, &mut push(2, b"tail"));
    assert_eq!(b.recv(&mut two), Ok(2));
    b.close(T0);
    assert_eq!(b.peek_size(), Some(2));
    assert_eq!(b.recv(&mut big), Ok(2));
    assert_eq!(b.peek_size(), None);
    assert_eq!(b.recv(&mut big), Err(ReadError::Closed));
    assert_eq!(b.stats().bytes_received, 15);
}

#[test]
fn a_zero_length_message_is_not_end_of_stream() {
    let mut b = Connection::accept(1, &plain(), T0).unwrap();
    b.handle_datagram(T0, &mut push(0, b""));
    b.handle_datagram(T0, &mut push(1, b"after"));
    assert_eq!(b.peek_size(), None);
    let mut buf = [0u8; 16];
    // kcp-go stalls behind it the same way; what matters is no Ok(0).
    assert_eq!(b.recv(&mut buf), Err(ReadError::WouldBlock));
    assert_eq!(b.stats().bytes_received, 0);
}

/// A reader that fell behind (queue at or above half the window of 32
/// when last told) and then reads the queue below a quarter (8) before the
/// next flush announces the window at that flush: a WINS with 13 reads
/// (7 left), none with 12 (8 left).
#[test]
fn a_reader_that_caught_up_announces_its_window() {
    for (reads, want) in [(12usize, 0usize), (13, 1)] {
        let mut b = Connection::accept(1, &plain(), T0).unwrap();
        for sn in 0..20 {
            b.handle_datagram(T0, &mut push(sn, &[sn as u8]));
        }
        let mut wire = [0u8; 1500];
        b.handle_timeout(T0);
        while b.poll_transmit(T0, &mut wire).is_some() {}
        let mut buf = [0u8; 4];
        for _ in 0..reads {
            assert_eq!(b.recv(&mut buf), Ok(1));
        }
        b.handle_timeout(T0);
        let mut wins = 0;
        while let Some(n) = b.poll_transmit(T0, &mut wire) {
            wins += wire[..n]
                .chunks(OVERHEAD)
                .filter(|h| h.len() == OVERHEAD && h[4] == Command::WindowTell as u8)
                .count();
        }
        assert_eq!(wins, want, "{reads} reads");
    }
}

#[test]
fn oob_payload_up_to_the_limit() {
    let cfg = SessionConfig::fast3().with_fec(10, 3);
    let mut a = Connection::connect(1, &cfg, T0).unwrap();
    let max = a.oob_max_size();
    assert!(max > 1000);
    assert_eq!(a.send_oob(&vec![1u8; max]), Ok(()));
    assert_eq!(
        a.send_oob(&vec![1u8; max + 1]),
        Err(OobError::TooLong { len: max + 1, max })
    );
    let mut b = Connection::accept(1, &cfg, T0).unwrap();
    let mut wire = [0u8; 1500];
    while let Some(n) = a.poll_transmit(T0, &mut wire) {
        b.handle_datagram(T0, &mut wire[..n]);
    }
    let mut got = [0u8; 1500];
    assert_eq!(b.recv_oob(&mut got), Some(max));
    assert_eq!(b.stats().oob_packets, 1);
}

/// Datagram counters on the FEC path: every datagram in `InPkts` and
/// `InBytes`; a data shard whose KCP packet is refused, and one rebuilt
/// from parity whose KCP packet is refused, each in `KCPInErrors`.
#[test]
fn fec_path_counts_every_datagram_and_refused_packet() {
    use kcp_fec::{Encoder, FecConfig};
    let cfg = SessionConfig::fast3().with_fec(10, 3);
    let mut b = Connection::accept(1, &cfg, T0).unwrap();
    let mut enc = Encoder::new(&FecConfig::new(10, 3)).unwrap();
    let mut data = Vec::new();
    let mut parity = Vec::new();
    for i in 0..10u8 {
        // A KCP header for conv 99: refused by KCP (conv mismatch).
        let mut d = vec![0u8; 8];
        d.extend(push(u32::from(i), &[i; 3]));
        d[8..12].copy_from_slice(&99u32.to_le_bytes());
        let p = enc.encode(&mut d, 0).unwrap();
        parity.extend(p.iter().map(<[u8]>::to_vec));
        data.push(d);
    }
    assert_eq!(parity.len(), 3);
    let mut bytes = 0;
    for d in data.iter().take(9).chain(&parity[..1]) {
        bytes += d.len() as u64;
        b.handle_datagram(T0, &mut d.clone());
    }
    let s = b.stats();
    assert_eq!((s.in_pkts, s.in_bytes), (10, bytes));
    assert_eq!(s.fec_recovered, 1, "the tenth shard rebuilt");
    assert_eq!(s.kcp_in_errors, 9 + 1, "nine received, one rebuilt");
    assert_eq!((s.in_errs, s.in_csum_errors), (0, 0));
}

/// Several OOB packets before the application looks: one `OobReceived`
/// event, every payload kept in order.
#[test]
fn oob_packets_raise_one_event_until_read() {
    use kcp_session::Event;
    let cfg = SessionConfig::fast3().with_fec(10, 3);
    let mut a = Connection::connect(1, &cfg, T0).unwrap();
    let mut b = Connection::accept(1, &cfg, T0).unwrap();
    a.send_oob(b"one").unwrap();
    a.send_oob(b"two").unwrap();
    let mut wire = [0u8; 1500];
    while let Some(n) = a.poll_transmit(T0, &mut wire) {
        b.handle_datagram(T0, &mut wire[..n]);
    }
    assert_eq!(b.poll_event(), Some(Event::OobReceived));
    assert_eq!(b.poll_event(), None);
    let mut buf = [0u8; 16];
    assert_eq!(b.recv_oob(&mut buf), Some(3));
    assert_eq!(&buf[..3], b"one");
    assert_eq!(b.recv_oob(&mut buf), Some(3));
    assert_eq!(&buf[..3], b"two");
    assert_eq!(b.stats().oob_packets, 2);
}

/// kcp-go's notifications: `Writable` once when a full send window frees
/// a slot (not while it is still full), `Readable` once per batch of new
/// data (never for a zero-length message), `DeadLink` once.
#[test]
fn writable_readable_and_dead_link_events_fire_once_at_the_right_moment() {
    use kcp_session::Event;
    let cfg = SessionConfig::fast3().with_window(4, 32);
    let mut a = Connection::connect(1, &cfg, T0).unwrap();
    let mut b = Connection::accept(1, &cfg, T0).unwrap();
    for _ in 0..4 {
        a.send(b"x").unwrap();
    }
    assert!(!a.is_writable());
    let mut wire = [0u8; 1500];
    a.handle_timeout(T0);
    let mut to_b = Vec::new();
    while let Some(n) = a.poll_transmit(T0, &mut wire) {
        to_b.push(wire[..n].to_vec());
    }
    // A datagram that acknowledges nothing leaves the window full: no event.
    let t = T0.add_millis(5);
    let mut wins = segment(Command::WindowTell, 0, &[]);
    a.handle_datagram(t, &mut wins);
    assert_eq!(a.wait_snd(), 4);
    assert_eq!(a.poll_event(), None, "still full");
    // b acknowledges; a's window frees four slots at once: one event.
    for mut d in to_b {
        b.handle_datagram(t, &mut d);
    }
    assert_eq!(b.poll_event(), Some(Event::Readable));
    assert_eq!(b.poll_event(), None, "one Readable for the batch");
    b.handle_timeout(t.add_millis(20));
    while let Some(n) = b.poll_transmit(t, &mut wire) {
        a.handle_datagram(t, &mut wire[..n]);
    }
    assert_eq!(a.wait_snd(), 0);
    assert_eq!(a.poll_event(), Some(Event::Writable));
    assert_eq!(a.poll_event(), None);

    // A zero-length message raises no Readable.
    let mut c = Connection::accept(1, &plain(), T0).unwrap();
    c.handle_datagram(T0, &mut push(0, b""));
    assert_eq!(c.poll_event(), None);

    // Nobody answers: after `dead_link` transmissions, one DeadLink.
    let mut lone = Connection::connect(1, &cfg, T0).unwrap();
    lone.send(b"anyone?").unwrap();
    let mut now = T0;
    let mut dead = 0;
    for _ in 0..200_000 {
        lone.handle_timeout(now);
        while lone.poll_transmit(now, &mut wire).is_some() {}
        while let Some(e) = lone.poll_event() {
            dead += usize::from(e == Event::DeadLink);
        }
        now = now.add_millis(100);
    }
    assert!(lone.kcp().is_dead());
    assert_eq!(dead, 1);
}

/// The session's clock follows the latest time it was given: a write at
/// 500 ms asks for a flush at 500 ms, not at the session's birth.
#[test]
fn a_write_asks_for_a_flush_at_the_latest_time_seen() {
    let mut cfg = SessionConfig::fast3();
    cfg.write_delay = true;
    let mut a = Connection::connect(1, &cfg, T0).unwrap();
    let t = T0.add_millis(500);
    a.handle_datagram(t, &mut [0u8; 3]); // any input moves the clock
    a.set_window(1, 0);
    a.send(b"fill").unwrap();
    assert_eq!(a.poll_timeout(), Some(t));
}
