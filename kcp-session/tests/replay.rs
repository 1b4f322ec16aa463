//! Replay protection and probe resistance of the sans-IO `Endpoint` and a
//! client `Connection`, in simulated time: recorded datagrams replayed
//! after a session closed, during a transfer, from other addresses; kcp-go's
//! `dup` and network duplication; the exact number of datagrams a listener
//! sends to a source whose datagrams cannot open a session; the listener's
//! `MaxConn`/`CurrEstab`.

mod net_common;

use kcp_core::Timestamp;
use kcp_crypto::CryptName;
use kcp_session::replay::ReplayConfig;
use kcp_session::{
    Connection, ConnectionHandle, CryptConfig, DropReason, Endpoint, EndpointConfig, Event,
    SessionConfig,
};
use net_common::Rng;

const SERVER_CIPHERS: [CryptName; 5] = [
    CryptName::Aes,
    CryptName::Aes128Gcm,
    CryptName::Salsa20,
    CryptName::None,
    CryptName::Xor,
];

fn cfg(crypt: CryptName) -> SessionConfig {
    SessionConfig::fast3()
        .with_window(128, 128)
        .with_crypt(CryptConfig::new(crypt, [0x42; 32]))
}

/// One client (address 1 unless moved) and a listener, with every datagram
/// recorded in both directions.
struct World {
    now: Timestamp,
    ep: Endpoint<u32>,
    client: Connection,
    addr: u32,
    server: Option<ConnectionHandle>,
    to_server: Vec<Vec<u8>>,
    to_client: Vec<Vec<u8>>,
    /// Datagrams the endpoint sent, per destination address.
    sent_to: std::collections::HashMap<u32, u64>,
    received: Vec<u8>,
    buf: Vec<u8>,
}

impl World {
    fn new(ec: EndpointConfig, client_cfg: &SessionConfig) -> World {
        let now = Timestamp::from_millis(5_000);
        World {
            now,
            ep: Endpoint::new(ec).unwrap(),
            client: Connection::connect(0x1234_5678, client_cfg, now).unwrap(),
            addr: 1,
            server: None,
            to_server: Vec::new(),
            to_client: Vec::new(),
            sent_to: Default::default(),
            received: Vec::new(),
            buf: vec![0; 1500],
        }
    }

    /// Feeds a copy of `d` to the endpoint from `from`.
    fn inject(&mut self, from: u32, d: &[u8]) {
        let mut d = d.to_vec();
        self.ep.handle_datagram(self.now, from, &mut d);
    }

    /// Drains the endpoint's output, counting it per destination; what goes
    /// to the client's address is recorded and (unless `deliver` is false)
    /// delivered.
    fn drain_server(&mut self, deliver: bool) {
        while let Some((to, n)) = self.ep.poll_transmit(self.now, &mut self.buf) {
            *self.sent_to.entry(to).or_default() += 1;
            if to == self.addr {
                let d = self.buf[..n].to_vec();
                self.to_client.push(d.clone());
                if deliver {
                    let mut d = d;
                    self.client.handle_datagram(self.now, &mut d);
                }
            }
        }
    }

    /// One millisecond: client timers and output, endpoint input, accept,
    /// read everything the server session got, endpoint timers and output.
    fn step(&mut self) {
        if self
            .client
            .poll_timeout()
            .is_some_and(|t| self.now.reached(t))
        {
            self.client.handle_timeout(self.now);
        }
        while let Some(n) = self.client.poll_transmit(self.now, &mut self.buf) {
            let d = self.buf[..n].to_vec();
            self.to_server.push(d.clone());
            self.inject(self.addr, &d);
        }
        while let Some((h, _)) = self.ep.accept() {
            self.server = Some(h);
        }
        while let Some((h, ev)) = self.ep.poll_event() {
            if ev == Event::Readable {
                let mut b = vec![0u8; 1 << 16];
                let c = self.ep.connection_mut(h).unwrap();
                while let Ok(n) = c.recv(&mut b) {
                    self.received.extend_from_slice(&b[..n]);
                }
            }
        }
        if self.ep.poll_timeout().is_some_and(|t| self.now.reached(t)) {
            self.ep.handle_timeout(self.now);
        }
        self.drain_server(true);
        while self.client.poll_event().is_some() {}
        self.now = self.now.add_millis(1);
    }

    fn run(&mut self, ms: u32) {
        for _ in 0..ms {
            self.step();
        }
    }

    fn dropped(&self, r: DropReason) -> u64 {
        self.ep.stats().dropped(r)
    }

    /// Datagrams sent to `addr` by the endpoint after running `ms` more
    /// milliseconds of timers (nothing else happens meanwhile).
    fn answers_to(&mut self, addr: u32, ms: u32) -> u64 {
        let before = self.sent_to.get(&addr).copied().unwrap_or(0);
        for _ in 0..ms {
            while self.ep.accept().is_some() {}
            if self.ep.poll_timeout().is_some_and(|t| self.now.reached(t)) {
                self.ep.handle_timeout(self.now);
            }
            self.drain_server(false);
            self.now = self.now.add_millis(1);
        }
        self.sent_to.get(&addr).copied().unwrap_or(0) - before
    }
}

/// Opens a session with one message, closes it on both sides and waits
/// until the endpoint freed it.
fn open_then_close(w: &mut World) {
    w.client.send(b"hello").unwrap();
    w.run(200);
    assert_eq!(w.received, b"hello");
    let h = w.server.expect("session accepted");
    w.ep.close(h, w.now);
    w.client.close(w.now);
    w.run(3_000);
    assert!(w.ep.is_empty(), "session freed");
}

#[test]
fn a_replayed_opening_datagram_opens_nothing_and_draws_no_answer() {
    for crypt in SERVER_CIPHERS {
        let mut w = World::new(EndpointConfig::new(cfg(crypt)), &cfg(crypt));
        open_then_close(&mut w);
        let opening = w.to_server[0].clone();
        let created = w.ep.stats().sessions_created;
        // From the same address and from three others, twice each.
        for from in [1, 7, 8, 9, 1, 7, 8, 9] {
            w.inject(from, &opening);
        }
        assert_eq!(w.dropped(DropReason::Replay), 8, "{crypt:?}");
        assert_eq!(w.ep.stats().sessions_created, created, "{crypt:?}");
        for from in [1, 7, 8, 9] {
            assert_eq!(w.answers_to(from, 1_000), 0, "{crypt:?}: answer to {from}");
        }
        assert!(w.ep.is_empty());
    }
}

#[test]
fn without_the_filter_the_same_replay_opens_a_session_and_is_answered() {
    // kcp-go's behaviour, which the test above rules out.
    let mut ec = EndpointConfig::new(cfg(CryptName::Aes));
    ec.replay = ReplayConfig::disabled();
    let mut w = World::new(ec, &cfg(CryptName::Aes));
    open_then_close(&mut w);
    let opening = w.to_server[0].clone();
    w.inject(7, &opening);
    assert_eq!(w.dropped(DropReason::Replay), 0);
    assert_eq!(w.ep.len(), 1, "a session opened for the replay");
    assert!(w.answers_to(7, 1_000) >= 1, "and it answers");
}

#[test]
fn a_replayed_mid_session_datagram_cannot_open_a_session() {
    // A short horizon (16 nonces) that the transfer leaves far behind: the
    // strict opening rule is what refuses the replay.
    let mut ec = EndpointConfig::new(cfg(CryptName::Aes));
    ec.replay.recent = 16;
    let mut w = World::new(ec.clone(), &cfg(CryptName::Aes));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    w.client.send(&data).unwrap();
    w.run(2_000);
    assert_eq!(w.received, data);
    let middle = w.to_server[w.to_server.len() / 2].clone();
    assert!(w.to_server.len() > 64, "{}", w.to_server.len());
    w.inject(7, &middle);
    assert_eq!(w.dropped(DropReason::NotOpening), 1);
    assert_eq!(w.answers_to(7, 1_000), 0);
    assert_eq!(w.ep.len(), 1);

    // kcp-go's rule (any well-formed datagram opens) with the same filter:
    // the replay opens a session and draws an answer.
    ec.strict_open = false;
    let mut w = World::new(ec, &cfg(CryptName::Aes));
    w.client.send(&data).unwrap();
    w.run(2_000);
    let middle = w.to_server[w.to_server.len() / 2].clone();
    w.inject(7, &middle);
    assert_eq!(w.ep.len(), 2);
    assert!(w.answers_to(7, 1_000) >= 1);
}

#[test]
fn replays_during_a_transfer_change_nothing() {
    for crypt in [CryptName::Aes, CryptName::Aes128Gcm, CryptName::Salsa20] {
        let c = cfg(crypt).with_fec(10, 3);
        let mut w = World::new(EndpointConfig::new(c.clone()), &c);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        w.client.send(&data).unwrap();
        let mut rng = Rng::new(0x5eed ^ crypt as u64);
        let (mut to_server, mut to_client) = (0u64, 0u64);
        for _ in 0..3_000 {
            w.step();
            // Replay two recorded datagrams each way, picked at random from
            // everything so far.
            for _ in 0..2 {
                if !w.to_server.is_empty() {
                    let d = w.to_server[rng.below(w.to_server.len() as u64) as usize].clone();
                    w.inject(1, &d);
                    to_server += 1;
                }
                if !w.to_client.is_empty() {
                    let mut d = w.to_client[rng.below(w.to_client.len() as u64) as usize].clone();
                    w.client.handle_datagram(w.now, &mut d);
                    to_client += 1;
                }
            }
            w.drain_server(true);
        }
        assert_eq!(w.received, data, "{crypt:?}: byte-exact");
        // Every replay was recognised, none of the originals was.
        assert_eq!(w.dropped(DropReason::Replay), to_server, "{crypt:?}");
        assert_eq!(w.client.replayed_datagrams(), to_client, "{crypt:?}");
        assert_eq!(w.ep.stats().sessions_created, 1);
        assert!(to_server > 5_000 && to_client > 5_000);
    }
}

#[test]
fn dup_and_network_duplication_lose_nothing() {
    // kcp-go's `dup` sends every datagram twice, byte for byte; the network
    // duplicates every third one again. KCP would discard every copy; the
    // filter drops them first, exactly once each.
    let mut c = cfg(CryptName::Aes).with_fec(10, 3);
    c.dup = 1;
    let mut w = World::new(EndpointConfig::new(c.clone()), &c);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13) as u8).collect();
    w.client.send(&data).unwrap();
    let mut extra = 0u64;
    for k in 0..3_000u32 {
        let before = w.to_server.len();
        w.step();
        for i in before..w.to_server.len() {
            if (i as u32 + k).is_multiple_of(3) {
                let d = w.to_server[i].clone();
                w.inject(1, &d);
                extra += 1;
            }
        }
    }
    assert_eq!(w.received, data);
    let sent = w.to_server.len() as u64;
    // `dup` 1: every data shard is sent twice in a row, byte for byte
    // (parity shards once, as kcp-go does).
    let copies = w.to_server.windows(2).filter(|p| p[0] == p[1]).count() as u64;
    assert!(copies * 2 > sent * 3 / 5, "{copies} of {sent}");
    assert_eq!(w.dropped(DropReason::Replay), copies + extra);
    assert_eq!(w.ep.stats().delivered, sent - copies);
}

/// Datagrams sent to a probing source, case by case: none at all.
#[test]
fn a_listener_never_answers_what_cannot_open_a_session() {
    let c = cfg(CryptName::Aes);
    let mut ec = EndpointConfig::new(c.clone());
    ec.accept_backlog = 1;
    ec.max_sessions = 2;
    let mut w = World::new(ec, &c);
    let mut rng = Rng::new(99);

    // Control: a real client is answered.
    w.client.send(b"hi").unwrap();
    w.run(100);
    assert_eq!(w.received, b"hi");
    assert!(w.sent_to[&1] >= 1);
    let opening = w.to_server[0].clone();

    // 1. Failing authentication: random bytes of every length, and a real
    //    datagram with one bit flipped.
    for len in 0..1600usize {
        let d: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        w.inject(10, &d);
    }
    let mut flipped = w.to_server[0].clone();
    flipped[30] ^= 1;
    w.inject(10, &flipped);
    assert_eq!(w.answers_to(10, 500), 0, "bad authentication");
    // 2. Too short for the crypt header.
    for len in 0..20 {
        w.inject(11, &opening[..len]);
    }
    assert_eq!(w.answers_to(11, 500), 0, "too short");
    assert_eq!(w.dropped(DropReason::CryptTooShort), 20 + 20);
    // 3. Replays, from the client's address and from others.
    for from in [1, 12, 13] {
        w.inject(from, &opening);
    }
    assert_eq!(w.answers_to(12, 500) + w.answers_to(13, 500), 0, "replays");
    assert_eq!(w.dropped(DropReason::Replay), 3);

    // Fresh, well-formed openings from other clients (same key).
    let fresh = |conv: u32, now: Timestamp| {
        let mut c2 = Connection::connect(conv, &c, now).unwrap();
        c2.send(b"x").unwrap();
        c2.handle_timeout(now);
        let mut b = vec![0u8; 1500];
        let n = c2.poll_transmit(now, &mut b).unwrap();
        b.truncate(n);
        (c2, b)
    };
    // 4. Backlog full: the client's session was accepted by `step`; one
    //    more opening fills the backlog of 1; the next is refused.
    let (_a, d) = fresh(0xA, w.now);
    w.inject(20, &d);
    assert_eq!(w.ep.backlog(), 1);
    let (_b, d) = fresh(0xB, w.now);
    w.inject(21, &d);
    assert_eq!(w.dropped(DropReason::BacklogFull), 1);
    assert_eq!(w.answers_to(21, 0), 0, "backlog full");
    // 5. Session limit (2 live): accept the waiting one, then try again.
    assert!(w.ep.accept().is_some());
    let (_c, d) = fresh(0xC, w.now);
    w.inject(22, &d);
    assert_eq!(w.dropped(DropReason::TooManySessions), 1);
    assert_eq!(w.answers_to(22, 0), 0, "session limit");
    // 6. A new conv with sn != 0 from an address that has a session: the
    //    client's own later datagram re-labelled is not authentic, so use a
    //    second real client's mid-stream datagram sent from address 1.
    let mut d2 = Connection::connect(0xD, &c, w.now).unwrap();
    d2.send(&[0u8; 5000]).unwrap();
    d2.handle_timeout(w.now);
    let mut b = vec![0u8; 1500];
    let mut mid = Vec::new();
    while let Some(n) = d2.poll_transmit(w.now, &mut b) {
        mid.push(b[..n].to_vec());
    }
    assert!(mid.len() >= 3);
    let before = w.sent_to[&1];
    w.inject(1, &mid[2]);
    assert_eq!(w.dropped(DropReason::ConvMismatch), 1);
    assert_eq!(
        w.sent_to[&1] - before + w.answers_to(1, 0),
        0,
        "conv mismatch"
    );
    // 7. Not an opening: another mid-stream datagram, from a new address
    //    (the same one again would be a replay).
    w.inject(23, &mid[1]);
    assert_eq!(w.dropped(DropReason::NotOpening), 1);
    assert_eq!(w.answers_to(23, 500), 0, "not opening");

    // Nothing but the client's own session and the accepted one was ever
    // answered, and every datagram is accounted for.
    let addrs: Vec<u32> = w.sent_to.keys().copied().collect();
    assert!(addrs.iter().all(|a| [1, 20].contains(a)), "{addrs:?}");
    let s = w.ep.stats();
    assert_eq!(s.received, s.delivered + s.total_dropped());
}

#[test]
fn listener_snmp_counts_peak_and_live_sessions() {
    let c = cfg(CryptName::Aes);
    let mut ec = EndpointConfig::new(c.clone());
    ec.accept_backlog = 200;
    let mut ep: Endpoint<u32> = Endpoint::new(ec).unwrap();
    let mut now = Timestamp::from_millis(0);
    let mut buf = vec![0u8; 1500];
    let mut clients: Vec<Connection> = (0..100)
        .map(|i| {
            let mut k = Connection::connect(1000 + i, &c, now).unwrap();
            k.send(b"hello").unwrap();
            k
        })
        .collect();
    let mut handles = Vec::new();
    for _ in 0..300 {
        for (a, k) in clients.iter_mut().enumerate() {
            if k.poll_timeout().is_some_and(|t| now.reached(t)) {
                k.handle_timeout(now);
            }
            while let Some(n) = k.poll_transmit(now, &mut buf) {
                ep.handle_datagram(now, a as u32, &mut buf[..n]);
            }
        }
        while let Some((h, _)) = ep.accept() {
            handles.push(h);
        }
        if ep.poll_timeout().is_some_and(|t| now.reached(t)) {
            ep.handle_timeout(now);
        }
        while let Some((to, n)) = ep.poll_transmit(now, &mut buf) {
            clients[to as usize].handle_datagram(now, &mut buf[..n]);
        }
        now = now.add_millis(1);
    }
    assert_eq!(handles.len(), 100);
    let s = ep.snmp();
    assert_eq!((s.curr_estab, s.max_conn, s.passive_opens), (100, 100, 100));
    for &h in &handles[..60] {
        ep.close(h, now);
    }
    let s = ep.snmp();
    assert_eq!((s.curr_estab, s.max_conn), (40, 100));
    for &h in &handles[60..] {
        ep.close(h, now);
    }
    for _ in 0..5_000 {
        if ep.poll_timeout().is_some_and(|t| now.reached(t)) {
            ep.handle_timeout(now);
        }
        while ep.poll_transmit(now, &mut buf).is_some() {}
        now = now.add_millis(1);
    }
    assert!(ep.is_empty());
    let s = ep.snmp();
    assert_eq!((s.curr_estab, s.max_conn, s.passive_opens), (0, 100, 100));
}

#[test]
fn an_oob_packet_may_open_a_session_once() {
    // kcp-go clients may send an OOB packet before any data; it opens a
    // session (which sends nothing by itself), and its replay opens nothing.
    let c = cfg(CryptName::Aes).with_fec(10, 3);
    let mut w = World::new(EndpointConfig::new(c.clone()), &c);
    w.client.send_oob(b"state").unwrap();
    w.client.handle_timeout(w.now);
    let mut b = vec![0u8; 1500];
    let n = w.client.poll_transmit(w.now, &mut b).unwrap();
    let oob = b[..n].to_vec();
    w.inject(1, &oob);
    assert_eq!(w.ep.stats().sessions_created, 1);
    let h = w.ep.accept().unwrap().0;
    let mut got = [0u8; 16];
    let k = w.ep.connection_mut(h).unwrap().recv_oob(&mut got).unwrap();
    assert_eq!(&got[..k], b"state");
    assert_eq!(w.answers_to(1, 1_000), 0, "an OOB-opened session is silent");
    w.inject(5, &oob);
    assert_eq!(w.dropped(DropReason::Replay), 1);
    assert_eq!(w.ep.stats().sessions_created, 1);
    assert_eq!(w.answers_to(5, 1_000), 0);
}

/// What the documentation promises about the filters' cost and accuracy:
/// 32 bytes per remembered nonce in each filter (2 MiB + 8 MiB by
/// default), and a false-positive bound of 2 × 2^18 / 2^64 = 2^-45.
#[test]
fn filter_memory_and_false_positive_bound_are_as_documented() {
    let d = ReplayConfig::default();
    assert_eq!((d.recent, d.openers), (1 << 16, 1 << 18));
    assert_eq!(d.memory_bytes(), (32 << 16) + (32 << 18));
    let only_recent = ReplayConfig {
        recent: 1 << 10,
        openers: 0,
    };
    assert_eq!(only_recent.memory_bytes(), 32 << 10);
    assert_eq!(kcp_session::replay::FALSE_POSITIVE_BOUND, 2f64.powi(-45));
}
