//! `Connection` behaviours of kcp-go's `UDPSession`: write splitting,
//! partial reads, stream mode, write-delay, events, close, counters.

use kcp_core::Timestamp;
use kcp_core::segment::segments;
use kcp_crypto::{Crypt, CryptName};
use kcp_session::{
    Connection, CryptConfig, Event, ReadError, SessionConfig, Side, Stats, WriteError,
};

const T0: Timestamp = Timestamp::from_millis(0);

fn cfg() -> SessionConfig {
    SessionConfig::fast3()
        .with_window(128, 128)
        .with_crypt(CryptConfig::new(CryptName::Aes, [3; 32]))
        .with_fec(10, 3)
}

/// Moves every datagram of `from` into `to`; returns the datagrams.
fn pump(from: &mut Connection, to: &mut Connection, now: Timestamp) -> Vec<Vec<u8>> {
    from.handle_timeout(now);
    let mut wire = [0u8; 1500];
    let mut out = Vec::new();
    while let Some(n) = from.poll_transmit(now, &mut wire) {
        out.push(wire[..n].to_vec());
        to.handle_datagram(now, &mut wire[..n]);
    }
    out
}

#[test]
fn long_writes_become_mss_sized_messages_with_frg_0() {
    let (mut a, mut b) = (
        Connection::connect(1, &cfg(), T0).unwrap(),
        Connection::accept(1, &cfg(), T0).unwrap(),
    );
    assert_eq!(a.mss(), 1348);
    let msg: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    assert_eq!(a.send(&msg), Ok(3000));
    let sent = pump(&mut a, &mut b, T0);
    let opener = Crypt::new(CryptName::Aes, &[3; 32]).unwrap();
    for mut d in sent {
        let plain = opener.open(&mut d).unwrap();
        if plain[4] == 0xF1 {
            for seg in segments(&plain[8..]) {
                assert_eq!(seg.unwrap().0.frg, 0);
            }
        }
    }
    assert_eq!(b.poll_event(), Some(Event::Readable));
    let mut buf = vec![0u8; 4096];
    let mut reads = Vec::new();
    while let Ok(n) = b.recv(&mut buf) {
        reads.push(buf[..n].to_vec());
    }
    assert_eq!(
        reads.iter().map(Vec::len).collect::<Vec<_>>(),
        [1348, 1348, 304]
    );
    assert_eq!(reads.concat(), msg);
    assert_eq!(b.stats().bytes_received, 3000);
    assert_eq!(a.stats().bytes_sent, 3000);
}

#[test]
fn a_small_buffer_reads_a_message_in_parts() {
    let (mut a, mut b) = (
        Connection::connect(1, &cfg(), T0).unwrap(),
        Connection::accept(1, &cfg(), T0).unwrap(),
    );
    a.send(b"hello world").unwrap();
    a.send(b"next").unwrap();
    pump(&mut a, &mut b, T0);
    let mut small = [0u8; 4];
    let mut parts = Vec::new();
    while let Ok(n) = b.recv(&mut small) {
        parts.push(String::from_utf8(small[..n].to_vec()).unwrap());
    }
    // A read never spans two messages.
    assert_eq!(parts, ["hell", "o wo", "rld", "next"]);
    assert_eq!(b.recv(&mut small), Err(ReadError::WouldBlock));
}

#[test]
fn stream_mode_coalesces_writes() {
    let c = cfg().with_fec(0, 0);
    let mut c = c;
    c.stream = true;
    let (mut a, mut b) = (
        Connection::connect(1, &c, T0).unwrap(),
        Connection::accept(1, &c, T0).unwrap(),
    );
    for _ in 0..10 {
        a.send(b"0123456789").unwrap();
    }
    let sent = pump(&mut a, &mut b, T0);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 20 + 24 + 100);
    let mut buf = [0u8; 256];
    assert_eq!(b.recv(&mut buf), Ok(100));
}

#[test]
fn write_delay_waits_for_the_timer_or_a_full_window() {
    let mut c = cfg();
    c.write_delay = true;
    c.snd_wnd = 4;
    let mut a = Connection::connect(1, &c, T0).unwrap();
    let mut b = Connection::accept(1, &c, T0).unwrap();
    // The initial flush happens at creation time.
    pump(&mut a, &mut b, T0);
    let t1 = T0.add_millis(1);
    a.send(b"x").unwrap();
    // Not due before the interval timer.
    assert!(a.poll_timeout().is_none_or(|t| t.diff(t1) > 0));
    for _ in 0..3 {
        a.send(b"y").unwrap();
    }
    // Window full: flush now.
    assert!(!a.is_writable());
    assert!(a.poll_timeout().is_some_and(|t| t1.reached(t)));
    let sent = pump(&mut a, &mut b, t1);
    assert!(!sent.is_empty());
    // ACKs come back, the window reopens: Writable.
    pump(&mut b, &mut a, t1.add_millis(1));
    assert_eq!(a.poll_event(), Some(Event::Writable));
    assert!(a.is_writable());
}

#[test]
fn close_is_final_and_counted() {
    let mut a = Connection::connect(1, &cfg(), T0).unwrap();
    assert_eq!(a.side(), Side::Client);
    a.send(b"bye").unwrap();
    a.close(T0);
    a.close(T0);
    assert!(a.is_closed());
    assert_eq!(a.send(b"more"), Err(WriteError::Closed));
    let mut buf = [0u8; 8];
    assert_eq!(a.recv(&mut buf), Err(ReadError::Closed));
    // The final flush still leaves.
    let mut wire = [0u8; 1500];
    assert!(a.poll_transmit(T0, &mut wire).is_some());
    while a.poll_transmit(T0, &mut wire).is_some() {}
    assert!(a.is_drained());
    assert_eq!(a.poll_timeout(), None);
    let s = a.stats();
    assert_eq!((s.active_opens, s.curr_estab), (1, 0));
}

#[test]
fn malformed_plaintexts_are_counted_like_kcp_go() {
    let c = SessionConfig::fast3(); // null crypt: plaintext on the wire
    let mut b = Connection::accept(7, &c, T0).unwrap();
    b.handle_datagram(T0, &mut [0u8; 11]); // < 12: KCPInErrors
    let mut wrong_conv = [0u8; 24];
    wrong_conv[0] = 8;
    wrong_conv[4] = 81;
    b.handle_datagram(T0, &mut wrong_conv); // conv 8 != 7: KCPInErrors
    let s = b.stats();
    assert_eq!((s.kcp_in_errors, s.in_pkts), (2, 1));
    // A session that never enabled FEC builds a decoder for FEC frames.
    assert_eq!(b.fec_decoder_layout(), None);
    let mut fec = [0u8; 8 + 24];
    fec[4] = 0xF1;
    fec[6] = 26;
    fec[8] = 7;
    fec[12] = 81;
    b.handle_datagram(T0, &mut fec);
    assert_eq!(b.fec_decoder_layout(), Some((1, 1)));
    assert_eq!(b.stats().kcp_in_errors, 2);
}

#[test]
fn stats_header_matches_kcp_go() {
    assert_eq!(Stats::HEADER.len(), 30);
    assert_eq!(Stats::HEADER[0], "BytesSent");
    assert_eq!(Stats::HEADER[8], "KCPInErrors");
    assert_eq!(Stats::HEADER[20], "FECFullShards");
    assert_eq!(Stats::HEADER[29], "OOBPackets");
    let s = Stats {
        oob_packets: 5,
        bytes_sent: 1,
        ..Stats::default()
    };
    assert_eq!(s.to_array()[29], 5);
    assert_eq!(s.to_array()[0], 1);
}

#[test]
fn live_setters() {
    let mut a = Connection::connect(1, &cfg(), T0).unwrap();
    a.set_mtu(1200).unwrap();
    assert_eq!(a.mss(), 1200 - 28 - 24);
    assert!(a.set_mtu(40).is_err());
    a.set_window(512, 512);
    a.set_nodelay(0, 40, 2, 1);
    a.set_stream(true);
    a.set_ack_nodelay(true);
    a.set_dup(0);
    assert_eq!(a.max_datagram_size(), 1200);
}

/// The I/O adapter moves sessions and endpoints into its threads.
#[test]
fn types_are_send() {
    fn send<T: Send>() {}
    send::<Connection>();
    send::<kcp_session::Endpoint<std::net::SocketAddr>>();
    send::<kcp_session::ConnectionHandle>();
}

/// Plain sessions (no crypt, no FEC): datagrams are bare KCP.
fn plain() -> SessionConfig {
    SessionConfig::fast3().with_window(128, 128)
}

/// Commands of the KCP segments in `datagrams`, with their `wnd` fields.
fn commands(datagrams: &[Vec<u8>]) -> Vec<(u8, u16)> {
    datagrams
        .iter()
        .flat_map(|d| segments(d).map(|s| s.unwrap().0))
        .map(|h| (h.cmd, h.wnd))
        .collect()
}

#[test]
fn a_reader_that_drains_a_half_full_window_announces_it_at_once() {
    let (mut a, mut b) = (
        Connection::connect(1, &plain(), T0).unwrap(),
        Connection::accept(1, &plain(), T0).unwrap(),
    );
    for _ in 0..100 {
        a.send(&[9u8; 1000]).unwrap();
    }
    // The peer learns b's window from each ACK; b does not read, so its
    // queue grows to 100 of 128 (the first flush sends 32: kcp-go's
    // initial remote window).
    let mut acks = Vec::new();
    let mut now = T0;
    for _ in 0..8 {
        now = now.add_millis(20);
        pump(&mut a, &mut b, now);
        let got = pump(&mut b, &mut a, now);
        if !got.is_empty() {
            acks = got;
        }
    }
    assert_eq!(commands(&acks).last(), Some(&(82, 128 - 100)));
    // Nothing in flight or owed: b's session is idle (no timer at all).
    let idle = b.poll_timeout();
    assert!(idle.is_none_or(|t| t.diff(now) > 0));

    let mut buf = [0u8; 2000];
    // Reading down to 40 queued (still ≥ a quarter of 128): nothing to say yet.
    for _ in 0..60 {
        b.recv(&mut buf).unwrap();
    }
    assert_eq!(b.poll_timeout(), idle);
    // Below a quarter: the window is announced now, not at the next tick.
    for _ in 0..10 {
        b.recv(&mut buf).unwrap();
    }
    let due = b.poll_timeout().unwrap();
    assert!(due.diff(now) <= 0, "flush due at once");
    let tell = pump(&mut b, &mut a, now);
    assert_eq!(
        commands(&tell),
        [(84, 128 - 30)],
        "one WINS with the freed window"
    );
    // Only once per drain: further reads wait for the timer again.
    b.recv(&mut buf).unwrap();
    assert_eq!(b.poll_timeout(), idle);
}
