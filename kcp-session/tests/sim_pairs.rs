//! Two `Connection`s through kcp-core's deterministic simulator over a
//! lossy link (loss, duplication, reordering, jitter): echo and bulk
//! transfer are byte-exact for every crypt × FEC combination.

use kcp_core::Timestamp;
use kcp_core::sim::{Direction, Endpoint, LinkConfig, Sim, SimConfig};
use kcp_crypto::CryptName;
use kcp_session::{Connection, CryptConfig, Event, SessionConfig};

/// A session plus the application on top of it.
struct Peer {
    conn: Connection,
    /// Echo every message back (server) or collect it (client / sink).
    echo: bool,
    received: Vec<u8>,
    messages: usize,
    to_send: Vec<u8>,
    sent: usize,
    /// Bytes per `send` call.
    chunk: usize,
    scratch: Vec<u8>,
    rx: Vec<u8>,
}

impl Peer {
    fn new(conn: Connection, echo: bool) -> Self {
        Peer {
            conn,
            echo,
            received: Vec::new(),
            messages: 0,
            to_send: Vec::new(),
            sent: 0,
            chunk: 4096,
            scratch: vec![0; 1 << 16],
            rx: Vec::with_capacity(1500),
        }
    }

    /// Reads what arrived (echoing it if asked) and writes while the
    /// window has room, as kcp-go's blocking Read/Write would.
    fn pump(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            assert_ne!(ev, Event::DeadLink);
        }
        while let Ok(n) = self.conn.recv(&mut self.scratch) {
            self.messages += 1;
            if self.echo {
                self.conn.send(&self.scratch[..n]).unwrap();
            } else {
                self.received.extend_from_slice(&self.scratch[..n]);
            }
        }
        while self.sent < self.to_send.len() && self.conn.is_writable() {
            let end = (self.sent + self.chunk).min(self.to_send.len());
            self.conn.send(&self.to_send[self.sent..end]).unwrap();
            self.sent = end;
        }
    }
}

impl Endpoint for Peer {
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp) {
        // The simulator lends datagrams read-only; decryption is in place.
        self.rx.clear();
        self.rx.extend_from_slice(datagram);
        self.conn.handle_datagram(now, &mut self.rx);
        self.pump();
    }

    fn poll_transmit(&mut self, now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        self.conn.poll_transmit(now, buf)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        self.conn.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.conn.handle_timeout(now);
        self.pump();
    }

    fn max_datagram_size(&self) -> usize {
        self.conn.max_datagram_size()
    }
}

fn lossy() -> LinkConfig {
    LinkConfig::lossy(0.05, 20)
        .jitter_ms(5)
        .duplicate(0.02)
        .reorder(0.05, 15)
}

fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const CRYPTS: [CryptName; 4] = [
    CryptName::Null,
    CryptName::Aes,
    CryptName::Aes128Gcm,
    CryptName::Salsa20,
];

fn config(crypt: CryptName, fec: bool) -> SessionConfig {
    let c = SessionConfig::fast3()
        .with_window(128, 128)
        .with_crypt(CryptConfig::from_passphrase(crypt, "sim secret"));
    if fec { c.with_fec(10, 3) } else { c }
}

fn pair(crypt: CryptName, fec: bool, seed: u64, server_echoes: bool) -> Sim<Peer, Peer> {
    let cfg = config(crypt, fec);
    let t0 = Timestamp::from_millis(u32::MAX - 2_000); // wraps during the run
    let client = Connection::connect(0xC0FFEE, &cfg, t0).unwrap();
    let server = Connection::accept(0xC0FFEE, &cfg, t0).unwrap();
    let sim_cfg = SimConfig::new().seed(seed).start(t0).link(lossy());
    Sim::with_config(
        Peer::new(client, false),
        Peer::new(server, server_echoes),
        sim_cfg,
    )
}

fn check_fec(sim: &Sim<Peer, Peer>, fec: bool) {
    for s in [sim.a().conn.stats(), sim.b().conn.stats()] {
        assert_eq!(s.in_csum_errors, 0);
        assert_eq!(s.kcp_in_errors, 0);
        if fec {
            assert!(s.fec_parity_shards > 0);
        } else {
            assert_eq!(s.fec_parity_shards, 0);
        }
    }
}

#[test]
fn echo_every_crypt_and_fec() {
    for (i, crypt) in CRYPTS.into_iter().enumerate() {
        for fec in [false, true] {
            let mut sim = pair(crypt, fec, 100 + i as u64, true);
            // Messages of many sizes, some longer than mss (split by send).
            let mut expected = Vec::new();
            for k in 0..60u32 {
                let m = data(1 + (k as usize * 97) % 3000, k);
                expected.extend_from_slice(&m);
                sim.a_mut().to_send.extend_from_slice(&m);
            }
            sim.a_mut().chunk = 1500;
            sim.a_mut().pump();
            let want = expected.len();
            let done = sim.run_until_condition(120_000, |s| s.a().received.len() >= want);
            assert!(done, "{crypt:?} fec={fec}: echo incomplete");
            assert_eq!(sim.a().received, expected, "{crypt:?} fec={fec}");
            check_fec(&sim, fec);
        }
    }
}

#[test]
fn bulk_every_crypt_and_fec() {
    for (i, crypt) in CRYPTS.into_iter().enumerate() {
        for fec in [false, true] {
            let mut sim = pair(crypt, fec, 200 + i as u64, false);
            let payload = data(300_000, 7 + i as u32);
            // The client (a) writes, the server (b) collects.
            sim.a_mut().to_send = payload.clone();
            sim.a_mut().pump();
            let want = payload.len();
            let done = sim.run_until_condition(300_000, |s| s.b().received.len() >= want);
            assert!(done, "{crypt:?} fec={fec}: bulk incomplete");
            assert!(
                sim.b().received == payload,
                "{crypt:?} fec={fec}: bytes differ"
            );
            check_fec(&sim, fec);
            let ab = sim.stats(Direction::AtoB);
            assert!(
                ab.sent > 200 && ab.dropped_loss > 5 && ab.duplicated > 0,
                "{ab:?}"
            );
            assert!(sim.a().conn.stats().retrans_segs > 0);
            if fec {
                assert!(
                    sim.b().conn.stats().fec_recovered > 0,
                    "{crypt:?}: 5% loss should give FEC something to rebuild"
                );
            }
            // Message mode: every read is one piece of at most mss bytes.
            let mss = sim.a().conn.mss();
            assert_eq!(
                sim.b().messages,
                want.div_ceil(4096) * 4096_usize.div_ceil(mss) - extra(want, mss)
            );
        }
    }
}

/// Pieces saved because the last 4096-byte write is shorter.
fn extra(total: usize, mss: usize) -> usize {
    let last = total % 4096;
    if last == 0 {
        0
    } else {
        4096_usize.div_ceil(mss) - last.div_ceil(mss)
    }
}

/// A session without FEC talking to one with FEC builds a decoder on the
/// fly and autotunes it to the sender's layout (spec §4.3). Autotune needs
/// a gap-free run of seqids (as in kcp-go), so the link only delays.
#[test]
fn lazy_decoder_follows_the_peer() {
    let t0 = Timestamp::from_millis(0);
    let with = config(CryptName::Aes, true);
    let without = config(CryptName::Aes, false);
    let client = Connection::connect(1, &with, t0).unwrap();
    let server = Connection::accept(1, &without, t0).unwrap();
    let mut sim = Sim::with_config(
        Peer::new(client, false),
        Peer::new(server, false),
        SimConfig::new().seed(5).link(LinkConfig::delayed(20)),
    );
    let payload = data(100_000, 3);
    sim.a_mut().to_send = payload.clone();
    sim.a_mut().pump();
    assert!(sim.run_until_condition(100_000, |s| s.b().received.len() >= payload.len()));
    assert!(sim.b().received == payload);
    assert_eq!(sim.b().conn.fec_decoder_layout(), Some((10, 3)));
    assert!(sim.b().conn.stats().fec_full_shard_set > 0);
}

/// OOB datagrams cross the lossless link, encrypted, and are counted.
#[test]
fn oob_round_trip() {
    let t0 = Timestamp::from_millis(0);
    let cfg = config(CryptName::Aes128Gcm, true);
    let mut a = Connection::connect(9, &cfg, t0).unwrap();
    let mut b = Connection::accept(9, &cfg, t0).unwrap();
    assert_eq!(a.oob_max_size(), 1364 - 4);
    a.send_oob(b"out of band").unwrap();
    assert!(a.send_oob(&vec![0; 1361]).is_err());
    let mut wire = [0u8; 1500];
    let n = a.poll_transmit(t0, &mut wire).unwrap();
    assert_eq!(n, 12 + 12 + 11 + 16);
    b.handle_datagram(t0, &mut wire[..n]);
    assert_eq!(b.poll_event(), Some(Event::OobReceived));
    let mut got = [0u8; 64];
    let len = b.recv_oob(&mut got).unwrap();
    assert_eq!(&got[..len], b"out of band");
    assert_eq!(b.stats().oob_packets, 1);
    let plain = Connection::connect(9, &config(CryptName::Aes, false), t0).unwrap();
    let mut plain = plain;
    assert!(plain.send_oob(b"x").is_err());
}

/// The rate limit paces output by `now`; dup sends extra copies.
#[test]
fn rate_limit_and_dup() {
    let t0 = Timestamp::from_millis(0);
    let mut cfg = config(CryptName::Null, false);
    cfg.rate_limit = 100_000; // 100 bytes per ms
    cfg.dup = 2;
    cfg.snd_wnd = 1024;
    cfg.nc = 1;
    let mut a = Connection::connect(3, &cfg, t0).unwrap();
    a.send(&vec![1u8; 200 * 1376]).unwrap();
    a.handle_timeout(t0);
    let mut wire = [0u8; 1500];
    let mut bytes = 0;
    let mut first = Vec::new();
    while let Some(n) = a.poll_transmit(t0, &mut wire) {
        if first.len() < 3 {
            first.push(wire[..n].to_vec());
        }
        bytes += n;
    }
    // Each datagram and its two copies, byte for byte.
    assert!(first[0] == first[1] && first[1] == first[2]);
    // The 96 000-byte burst, overdrawn by at most one datagram.
    assert!((96_000..96_000 + 1400).contains(&bytes), "{bytes}");
    let wake = a.poll_timeout().unwrap();
    assert!(wake.diff(t0) > 0 && wake.diff(t0) <= 14, "{wake:?}");
    let later = t0.add_millis(100);
    let mut more = 0;
    while let Some(n) = a.poll_transmit(later, &mut wire) {
        more += n;
    }
    // 10 000 bytes refilled, minus the debt, plus one overdraw.
    assert!((10_000 - 1400..10_000 + 1400).contains(&more), "{more}");
}
