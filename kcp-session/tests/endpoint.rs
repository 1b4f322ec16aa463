//! `Endpoint` against many clients through an in-test router (addresses
//! are `u32`): echo for 1000 sessions, the accept backlog bound, floods of
//! garbage and of valid-looking datagrams, and kcp-go's reconnect rule.

use std::collections::HashMap;

use kcp_core::Timestamp;
use kcp_crypto::CryptName;
use kcp_session::{
    Connection, ConnectionHandle, CryptConfig, DropReason, Endpoint, EndpointConfig, EndpointStats,
    Event, SessionConfig,
};

struct Client {
    addr: u32,
    conn: Connection,
    expect: Vec<u8>,
    got: Vec<u8>,
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

struct World {
    now: Timestamp,
    ep: Endpoint<u32>,
    clients: Vec<Client>,
    by_addr: HashMap<u32, usize>,
    accepting: bool,
    /// Lose every n-th datagram (both directions); 0 = lossless.
    lose_every: u64,
    routed: u64,
    buf: Vec<u8>,
    rbuf: Vec<u8>,
}

impl World {
    fn new(cfg: &SessionConfig, backlog: usize) -> Self {
        let mut ec = EndpointConfig::new(cfg.clone());
        ec.accept_backlog = backlog;
        World {
            now: Timestamp::from_millis(1_000),
            ep: Endpoint::new(ec).unwrap(),
            clients: Vec::new(),
            by_addr: HashMap::new(),
            accepting: true,
            lose_every: 0,
            routed: 0,
            buf: vec![0; 1500],
            rbuf: vec![0; 1 << 16],
        }
    }

    fn add_client(&mut self, cfg: &SessionConfig, addr: u32, conv: u32, msg: Vec<u8>) {
        let mut conn = Connection::connect(conv, cfg, self.now).unwrap();
        conn.send(&msg).unwrap();
        self.by_addr.insert(addr, self.clients.len());
        self.clients.push(Client {
            addr,
            conn,
            expect: msg,
            got: Vec::new(),
        });
    }

    /// One millisecond of the whole world.
    fn tick(&mut self) {
        let now = self.now;
        for c in &mut self.clients {
            if c.conn.poll_timeout().is_some_and(|t| now.reached(t)) {
                c.conn.handle_timeout(now);
            }
            while let Some(n) = c.conn.poll_transmit(now, &mut self.buf) {
                self.routed += 1;
                // `is_multiple_of(0)` is false for the non-zero count: lossless.
                if !self.routed.is_multiple_of(self.lose_every) {
                    self.ep.handle_datagram(now, c.addr, &mut self.buf[..n]);
                }
            }
        }
        if self.accepting {
            while self.ep.accept().is_some() {}
        }
        self.serve();
        if self.ep.poll_timeout().is_some_and(|t| now.reached(t)) {
            self.ep.handle_timeout(now);
        }
        while let Some((to, n)) = self.ep.poll_transmit(now, &mut self.buf) {
            self.routed += 1;
            if self.routed.is_multiple_of(self.lose_every) {
                continue;
            }
            if let Some(&i) = self.by_addr.get(&to) {
                let c = &mut self.clients[i];
                c.conn.handle_datagram(now, &mut self.buf[..n]);
                while let Ok(k) = c.conn.recv(&mut self.rbuf) {
                    c.got.extend_from_slice(&self.rbuf[..k]);
                }
            }
        }
        self.now = now.add_millis(1);
    }

    /// The server application: echo everything readable.
    fn serve(&mut self) {
        while let Some((h, ev)) = self.ep.poll_event() {
            if ev == Event::Readable {
                echo(&mut self.ep, h, &mut self.rbuf);
            }
        }
    }

    fn run_until_echoed(&mut self, max_ms: u32) -> bool {
        for _ in 0..max_ms {
            self.tick();
            if self.clients.iter().all(|c| c.got == c.expect) {
                return true;
            }
        }
        false
    }

    fn assert_accounting(&self) {
        let s = self.ep.stats();
        assert_eq!(s.received, s.delivered + s.total_dropped(), "{s:?}");
    }
}

fn echo(ep: &mut Endpoint<u32>, h: ConnectionHandle, rbuf: &mut [u8]) {
    let Some(conn) = ep.connection_mut(h) else {
        return;
    };
    while let Ok(n) = conn.recv(rbuf) {
        conn.send(&rbuf[..n]).unwrap();
    }
}

fn cfg(crypt: CryptName, fec: bool) -> SessionConfig {
    let c = SessionConfig::fast3()
        .with_window(64, 64)
        .with_crypt(CryptConfig::new(crypt, [0x42; 32]));
    if fec { c.with_fec(10, 3) } else { c }
}

#[test]
fn thousand_clients_echo() {
    let cfg = cfg(CryptName::Aes, false);
    let mut w = World::new(&cfg, 1024);
    let mut rng = Rng(1);
    for i in 0..1000u32 {
        let len = 1 + (rng.next() % 3000) as usize;
        let msg = rng.bytes(len);
        w.add_client(&cfg, 10_000 + i, rng.next() as u32, msg);
    }
    assert!(w.run_until_echoed(5_000), "not every client got its echo");
    assert_eq!(w.ep.len(), 1000);
    assert!(!w.ep.is_empty());
    assert_eq!(w.ep.stats().sessions_created, 1000);
    assert_eq!(w.ep.stats().total_dropped(), 0);
    w.assert_accounting();
    let snmp = w.ep.snmp();
    assert_eq!((snmp.passive_opens, snmp.curr_estab), (1000, 1000));
    assert_eq!(snmp.in_csum_errors + snmp.kcp_in_errors, 0);
    // Idle sessions need no timer once everything is acknowledged.
    for _ in 0..200 {
        w.tick();
    }
    assert_eq!(w.ep.poll_timeout(), None);
}

#[test]
fn fec_clients_echo() {
    let cfg = cfg(CryptName::Aes128Gcm, true);
    let mut w = World::new(&cfg, 128);
    // The millisecond clock wraps during the run; one datagram in 23 is lost.
    w.now = Timestamp::from_millis(u32::MAX - 20);
    w.lose_every = 23;
    let mut rng = Rng(2);
    for i in 0..100u32 {
        let msg = rng.bytes(20_000);
        w.add_client(&cfg, 500 + i, 7_000 + i, msg);
    }
    assert!(w.run_until_echoed(10_000));
    for _ in 0..300 {
        w.tick();
    }
    assert!(w.now.as_millis() < 10_000, "wrapped");
    // Sessions created before the wrap keep working after it.
    for c in &mut w.clients {
        let more = rng.bytes(10_000);
        c.conn.send(&more).unwrap();
        c.expect.extend_from_slice(&more);
    }
    assert!(w.run_until_echoed(10_000));
    w.assert_accounting();
    let snmp = w.ep.snmp();
    assert!(
        snmp.fec_full_shard_set > 0 && snmp.fec_recovered > 0,
        "{snmp:?}"
    );
    for _ in 0..300 {
        w.tick();
    }
    assert_eq!(w.ep.poll_timeout(), None, "all idle after the wrap");
}

#[test]
fn backlog_bounds_new_sessions() {
    let cfg = cfg(CryptName::Aes, false);
    let mut w = World::new(&cfg, 16);
    w.accepting = false;
    let mut rng = Rng(3);
    for i in 0..50u32 {
        let msg = rng.bytes(100);
        w.add_client(&cfg, i, 100 + i, msg);
    }
    for _ in 0..50 {
        w.tick();
    }
    assert_eq!(w.ep.len(), 16);
    assert_eq!(w.ep.backlog(), 16);
    assert!(w.ep.stats().dropped(DropReason::BacklogFull) >= 34);
    w.assert_accounting();
    // Accepting drains the queue; retransmissions open the rest.
    w.accepting = true;
    assert!(w.run_until_echoed(30_000));
    assert_eq!(w.ep.len(), 50);
    w.assert_accounting();
}

fn flood(crypt: CryptName) {
    let cfg = cfg(crypt, true);
    let mut w = World::new(&cfg, 128);
    let mut rng = Rng(4);
    for i in 0..20u32 {
        let msg = rng.bytes(5_000);
        w.add_client(&cfg, i, 1 + i, msg);
    }
    assert!(w.run_until_echoed(5_000));
    w.accepting = false;
    let legit = w.ep.len();

    // Garbage from 20 000 addresses.
    let mut buf = vec![0u8; 1500];
    for k in 0..20_000u32 {
        let n = (rng.next() % 1500) as usize;
        for b in &mut buf[..n] {
            *b = rng.next() as u8;
        }
        w.ep.handle_datagram(w.now, 1_000_000 + k, &mut buf[..n]);
    }
    // Valid-looking datagrams (first flush of fresh sessions, random convs)
    // from 2 000 more addresses.
    for k in 0..2_000u32 {
        let mut c = Connection::connect(rng.next() as u32, &cfg, w.now).unwrap();
        c.send(b"knock knock").unwrap();
        c.handle_timeout(w.now);
        let n = c.poll_transmit(w.now, &mut buf).unwrap();
        w.ep.handle_datagram(w.now, 2_000_000 + k, &mut buf[..n]);
    }
    assert!(w.ep.len() <= legit + 128, "{} sessions", w.ep.len());
    assert_eq!(w.ep.backlog(), 128);
    assert!(w.ep.stats().dropped(DropReason::BacklogFull) >= 2_000 - 128);
    w.assert_accounting();

    // The legitimate sessions keep working.
    let mut rng2 = Rng(5);
    for c in &mut w.clients {
        let more = rng2.bytes(3_000);
        c.conn.send(&more).unwrap();
        c.expect.extend_from_slice(&more);
    }
    assert!(w.run_until_echoed(5_000));
    w.assert_accounting();
}

#[test]
fn flood_aes() {
    flood(CryptName::Aes);
}

#[test]
fn flood_null() {
    flood(CryptName::Null);
}

#[test]
fn forged_datagrams_never_open_sessions() {
    let cfg = cfg(CryptName::Aes, true);
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg.clone())).unwrap();
    let t = Timestamp::from_millis(0);
    let mut other = cfg.clone();
    other.crypt = CryptConfig::new(CryptName::Aes, [0x43; 32]); // wrong key
    let mut c = Connection::connect(5, &other, t).unwrap();
    c.send(b"hi").unwrap();
    c.handle_timeout(t);
    let mut buf = vec![0u8; 1500];
    let n = c.poll_transmit(t, &mut buf).unwrap();
    assert_eq!(ep.handle_datagram(t, 1, &mut buf[..n]), None);
    assert_eq!(ep.handle_datagram(t, 2, &mut buf[..10]), None);
    assert_eq!(ep.stats().dropped(DropReason::Checksum), 1);
    assert_eq!(ep.stats().dropped(DropReason::CryptTooShort), 1);
    assert_eq!(ep.snmp().in_csum_errors, 1);

    // Parity cannot open a session; null crypt, raw garbage neither.
    let null = SessionConfig::fast3().with_fec(2, 1); // nc = 1: no cwnd
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(null.clone())).unwrap();
    let mut c = Connection::connect(5, &null, t).unwrap();
    c.send(b"a").unwrap();
    c.handle_timeout(t);
    c.send(b"b").unwrap();
    c.handle_timeout(t);
    let mut dgrams = Vec::new();
    while let Some(n) = c.poll_transmit(t, &mut buf) {
        dgrams.push(buf[..n].to_vec());
    }
    let parity = dgrams
        .iter()
        .find(|d| d[4] == 0xF2)
        .expect("a parity packet")
        .clone();
    assert_eq!(ep.handle_datagram(t, 9, &mut parity.clone()), None);
    assert_eq!(ep.stats().dropped(DropReason::NoConv), 1);
    let mut junk = [0x51u8; 30]; // cmd 81 but nonsense lengths
    assert_eq!(ep.handle_datagram(t, 9, &mut junk), None);
    assert_eq!(ep.stats().dropped(DropReason::Malformed), 1);
    assert!(ep.is_empty());
}

#[test]
fn reconnect_rule() {
    let cfg = cfg(CryptName::Aes, false);
    let t = Timestamp::from_millis(0);
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg.clone())).unwrap();
    let mut buf = vec![0u8; 1500];
    let mut first_datagrams = |conv: u32, msgs: &[&[u8]]| {
        let mut c = Connection::connect(conv, &cfg, t).unwrap();
        let mut out = Vec::new();
        for m in msgs {
            c.send(m).unwrap();
            c.handle_timeout(t);
            while let Some(n) = c.poll_transmit(t, &mut buf) {
                out.push(buf[..n].to_vec());
            }
        }
        out
    };
    let a = first_datagrams(1, &[b"one", b"more"]);
    let b = first_datagrams(2, &[b"two"]);
    let c = first_datagrams(3, &[b"x", b"y"]);
    let d = first_datagrams(4, &[b"z"]);
    assert_eq!(c.len(), 2);

    let h1 = ep.handle_datagram(t, 7, &mut a[0].clone()).unwrap();
    assert_eq!(ep.accept(), Some((h1, 7)));
    // Same address, same conv: same session.
    assert_eq!(ep.handle_datagram(t, 7, &mut a[1].clone()), Some(h1));
    // The same datagram again is a replay (kcp-go would process it again).
    assert_eq!(ep.handle_datagram(t, 7, &mut a[1].clone()), None);
    assert_eq!(ep.stats().dropped(DropReason::Replay), 1);
    // Different conv with sn != 0: dropped.
    assert_eq!(ep.handle_datagram(t, 7, &mut c[1].clone()), None);
    assert_eq!(ep.stats().dropped(DropReason::ConvMismatch), 1);
    assert_eq!(ep.handle_of(&7), Some(h1));
    // Different conv with sn == 0: the peer reconnected; the old session
    // is closed and a new one opens.
    let h2 = ep.handle_datagram(t, 7, &mut b[0].clone()).unwrap();
    assert_ne!(h1, h2);
    assert_eq!(ep.stats().reconnects, 1);
    assert_eq!(ep.poll_event(), Some((h1, Event::Closed)));
    assert_eq!(ep.accept(), Some((h2, 7)));
    assert_eq!(ep.connection(h2).unwrap().conv(), 2);
    assert!(ep.connection(h1).is_none_or(Connection::is_closed));
    // Drain: the closed session goes away for good.
    while ep.poll_transmit(t, &mut buf).is_some() {}
    assert!(ep.connection(h1).is_none());
    let mut msg = [0u8; 8];
    let n = ep.connection_mut(h2).unwrap().recv(&mut msg).unwrap();
    assert_eq!(&msg[..n], b"two");

    // Conv 3 replaces h2 (accepted: a Closed event), then conv 4 replaces
    // conv 3's session before the application accepted it: no event for a
    // handle it never saw, and only the newest waits in the accept queue.
    let h3 = ep.handle_datagram(t, 7, &mut c[0].clone()).unwrap();
    let h4 = ep.handle_datagram(t, 7, &mut d[0].clone()).unwrap();
    assert_ne!(h3, h4);
    let closed = |ep: &mut Endpoint<u32>| {
        let mut v = Vec::new();
        while let Some((h, e)) = ep.poll_event() {
            if e == Event::Closed {
                v.push(h);
            }
        }
        v
    };
    assert_eq!(closed(&mut ep), [h2]);
    assert_eq!(ep.accept(), Some((h4, 7)));
    assert_eq!(ep.accept(), None);
    // The application's own close raises no Closed event either.
    ep.close(h4, t);
    assert_eq!(closed(&mut ep), []);
}

#[test]
fn close_unregisters_and_frees() {
    let cfg = cfg(CryptName::Salsa20, true);
    let t = Timestamp::from_millis(0);
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg.clone())).unwrap();
    let mut c = Connection::connect(1, &cfg, t).unwrap();
    c.send(b"hello").unwrap();
    c.handle_timeout(t);
    let mut buf = vec![0u8; 1500];
    let n = c.poll_transmit(t, &mut buf).unwrap();
    let first = buf[..n].to_vec();
    // The same client's first datagram again, with a fresh nonce (as its
    // retransmission would be): the filter drops exact repeats.
    let fresh = || {
        let mut c = Connection::connect(1, &cfg, t).unwrap();
        c.send(b"hello").unwrap();
        c.handle_timeout(t);
        let mut b = vec![0u8; 1500];
        let n = c.poll_transmit(t, &mut b).unwrap();
        b.truncate(n);
        b
    };

    let h = ep.handle_datagram(t, 3, &mut first.clone()).unwrap();
    assert_eq!(ep.accept(), Some((h, 3)));
    // The session owes an ACK (and sends a reply) when the application
    // closes it: both still leave, then the slot is freed.
    ep.connection_mut(h).unwrap().send(b"bye").unwrap();
    ep.close(h, t);
    assert_eq!(ep.handle_of(&3), None);
    assert!(ep.connection(h).is_some(), "kept until drained");
    let mut last = Vec::new();
    while let Some((to, n)) = ep.poll_transmit(t, &mut buf) {
        assert_eq!(to, 3);
        last.push(buf[..n].to_vec());
    }
    assert!(!last.is_empty(), "the final flush left");
    for mut d in last {
        c.handle_datagram(t, &mut d);
    }
    let mut got = [0u8; 8];
    assert_eq!(c.recv(&mut got), Ok(3));
    assert_eq!(&got[..3], b"bye");
    assert!(ep.connection(h).is_none());
    assert!(ep.is_empty());
    assert_eq!(ep.snmp().passive_opens, 1);
    assert_eq!(ep.snmp().curr_estab, 0);

    // A replay of the opening datagram opens nothing.
    assert_eq!(ep.handle_datagram(t, 3, &mut first.clone()), None);
    assert_eq!(ep.stats().dropped(DropReason::Replay), 1);
    // kcp-go: a later opening datagram from the address opens a new session.
    let h2 = ep.handle_datagram(t, 3, &mut fresh()).unwrap();
    assert_ne!(h, h2);
    assert_eq!(ep.accept(), Some((h2, 3)));
    // Closing through the connection itself also unregisters it.
    ep.connection_mut(h2).unwrap().close(t);
    while ep.poll_transmit(t, &mut buf).is_some() {}
    assert_eq!(ep.handle_of(&3), None);
    assert!(ep.is_empty());
    // `remove` hands the connection back at once.
    let h3 = ep.handle_datagram(t, 4, &mut fresh()).unwrap();
    let conn = ep.remove(h3).unwrap();
    assert_eq!(conn.conv(), 1);
    assert!(ep.is_empty() && ep.backlog() == 0 && ep.accept().is_none());
    assert_eq!(ep.stats().sessions_created, 3);
}

/// The first datagram of a fresh client (its PUSH with `sn` 0) for `conv`.
fn opening_datagram(cfg: &SessionConfig, conv: u32, t: Timestamp) -> Vec<u8> {
    let mut c = Connection::connect(conv, cfg, t).unwrap();
    c.send(b"hello").unwrap();
    c.handle_timeout(t);
    let mut buf = vec![0u8; 1500];
    let n = c.poll_transmit(t, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Every drop reason a listener reports, to the exact count, for one
/// sequence: a datagram under the wrong key (AEAD: `Auth`; CFB: `Checksum`,
/// both kcp-go's `InCsumErrors`), one longer than any UDP payload, one too
/// short for the crypt header, exactly `accept_backlog` new peers waiting
/// and the next one refused, the same datagram sent again, and a new peer
/// once the application accepted one.
fn exact_endpoint_accounting(crypt: CryptName, bad_key: DropReason) {
    let cfg = cfg(crypt, false);
    let mut ec = EndpointConfig::new(cfg.clone());
    ec.accept_backlog = 3;
    let mut ep: Endpoint<u32> = Endpoint::new(ec).unwrap();
    let t = Timestamp::from_millis(0);

    let mut wrong = cfg.clone();
    wrong.crypt = CryptConfig::new(crypt, [0x43; 32]);
    assert_eq!(
        ep.handle_datagram(t, 50, &mut opening_datagram(&wrong, 9, t)),
        None
    );
    assert_eq!(ep.handle_datagram(t, 51, &mut vec![0u8; 65_508]), None);
    assert_eq!(ep.handle_datagram(t, 52, &mut [0u8; 4]), None);

    let mut first = Vec::new();
    for i in 1..=3u32 {
        let d = opening_datagram(&cfg, 100 + i, t);
        assert!(
            ep.handle_datagram(t, i, &mut d.clone()).is_some(),
            "peer {i}"
        );
        first.push(d);
    }
    assert_eq!(ep.backlog(), 3);
    // The fourth new peer finds the backlog full.
    let mut d4 = opening_datagram(&cfg, 104, t);
    assert_eq!(ep.handle_datagram(t, 4, &mut d4), None);
    assert_eq!((ep.len(), ep.backlog()), (3, 3));
    // Peer 1's first datagram again, byte for byte (a replay, or the
    // network duplicating it): not delivered twice.
    assert_eq!(ep.handle_datagram(t, 1, &mut first[0].clone()), None);
    // Accepting one session frees one backlog place for a new peer.
    let (_, addr) = ep.accept().unwrap();
    assert_eq!(addr, 1);
    let mut d5 = opening_datagram(&cfg, 105, t);
    assert!(ep.handle_datagram(t, 5, &mut d5).is_some());
    assert_eq!((ep.len(), ep.backlog()), (4, 3));

    let mut dropped = [0u64; DropReason::COUNT];
    for r in [
        bad_key,
        DropReason::CryptTooLong,
        DropReason::CryptTooShort,
        DropReason::BacklogFull,
        DropReason::Replay,
    ] {
        dropped[DropReason::ALL.iter().position(|&x| x == r).unwrap()] = 1;
    }
    assert_eq!(
        *ep.stats(),
        EndpointStats {
            received: 9,
            delivered: 4,
            dropped,
            sessions_created: 4,
            reconnects: 0,
        }
    );
    let snmp = ep.snmp();
    assert_eq!((snmp.passive_opens, snmp.in_csum_errors), (4, 1));
}

#[test]
fn exact_endpoint_accounting_aead() {
    exact_endpoint_accounting(CryptName::Aes128Gcm, DropReason::Auth);
}

#[test]
fn exact_endpoint_accounting_cfb() {
    exact_endpoint_accounting(CryptName::Aes, DropReason::Checksum);
}

/// kcp-go's floor on a decrypted datagram is 12 bytes, an empty OOB packet:
/// one byte less is dropped as too short, whatever it starts with; the
/// empty OOB packet itself may open a session.
#[test]
fn plaintexts_below_twelve_bytes_are_too_short_and_an_empty_oob_opens() {
    let cfg = SessionConfig::fast3().with_fec(10, 3); // null crypt
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg)).unwrap();
    let t = Timestamp::from_millis(0);
    // seqid 0xFFFF_FFFF, OOB, size 6 (nothing after the conv), conv 7.
    let oob = [0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0, 6, 0, 7, 0, 0, 0];
    for len in [0, 6, 11] {
        assert_eq!(ep.handle_datagram(t, 1, &mut oob[..len].to_vec()), None);
    }
    assert_eq!(ep.stats().dropped(DropReason::PlaintextTooShort), 3);
    let h = ep.handle_datagram(t, 2, &mut oob.to_vec()).expect("opens");
    assert_eq!(ep.connection(h).unwrap().conv(), 7);
    assert_eq!(ep.stats().sessions_created, 1);
    assert_eq!(ep.stats().total_dropped(), 3);
}
