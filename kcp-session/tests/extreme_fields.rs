//! Issue 16 audit: datagrams whose KCP, FEC and OOB header fields take
//! extreme values (0, 1, 2, 0x7fff_fffe, 0x7fff_ffff, 0x8000_0000,
//! 0x8000_0001, 0xffff_fffe, 0xffff_ffff and any; u16/u8 fields at their
//! own boundaries), lengths around 12 bytes and the 1500-byte limit, sealed
//! with the listener's cipher, into an `Endpoint` and a `Connection` with
//! the clock near the u32 wrap. The test profile has overflow checks on.
//! Invariants: every datagram is delivered or dropped for one reason,
//! sessions and backlog stay within their limits, and a new client still
//! gets its message echoed afterwards.

use kcp_core::segment::Header;
use kcp_core::{OVERHEAD, Timestamp};
use kcp_crypto::{Crypt, CryptName};
use kcp_session::{Connection, CryptConfig, Endpoint, EndpointConfig, SessionConfig};
use proptest::prelude::*;

const KEY: [u8; 32] = [0x42; 32];
const CONVS: [u32; 2] = [0x1000_0001, 0x8000_0000];

fn u32_field() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0u32,
            1,
            2,
            0x7fff_fffe,
            0x7fff_ffff,
            0x8000_0000,
            0x8000_0001,
            0xffff_fffe,
            0xffff_ffff,
        ]),
        1 => any::<u32>(),
    ]
}

fn u16_field() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => prop::sample::select(vec![0u16, 1, 2, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff]),
        1 => any::<u16>(),
    ]
}

fn u8_field() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(vec![0u8, 1, 2, 0x7f, 0x80, 0xfe, 0xff]),
        1 => any::<u8>(),
    ]
}

/// One KCP segment: conv mostly one of the sessions', any other field
/// extreme, `len` the payload's or extreme.
fn kcp_segment() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![4 => prop::sample::select(CONVS.to_vec()), 1 => u32_field()],
        prop_oneof![4 => 81u8..=84, 1 => u8_field()],
        u8_field(),
        u16_field(),
        (u32_field(), u32_field(), u32_field()),
        prop::collection::vec(any::<u8>(), 0..40),
        prop_oneof![4 => Just(None), 1 => u32_field().prop_map(Some)],
    )
        .prop_map(|(conv, cmd, frg, wnd, (ts, sn, una), payload, len)| {
            let h = Header {
                conv,
                cmd,
                frg,
                wnd,
                ts,
                sn,
                una,
                len: len.unwrap_or(payload.len() as u32),
            };
            let mut d = vec![0u8; OVERHEAD];
            h.encode((&mut d[..]).try_into().unwrap());
            d.extend_from_slice(&payload);
            d
        })
}

fn kcp_datagram() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(kcp_segment(), 1..=3).prop_map(|s| s.concat())
}

fn fec_header(seqid: u32, ty: u16, size: u16) -> Vec<u8> {
    let mut h = seqid.to_le_bytes().to_vec();
    h.extend_from_slice(&ty.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h
}

/// Padding that may push a datagram past 1500 bytes.
fn padding() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => Just(0usize),
        1 => prop::sample::select(vec![1usize, 1400, 1460, 1480, 1500, 3000]),
    ]
}

/// A plaintext: raw KCP, an FEC data shard carrying KCP, parity, OOB (its
/// payload up to twice the 1500-byte read), or short random bytes.
fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => kcp_datagram(),
        3 => (u32_field(), u16_field(), kcp_datagram(), padding()).prop_map(|(seqid, size, kcp, pad)| {
            let mut d = fec_header(seqid, 0xF1, size);
            d.extend_from_slice(&kcp);
            d.resize(d.len() + pad, 0);
            d
        }),
        2 => (u32_field(), prop::collection::vec(any::<u8>(), 0..60), padding()).prop_map(|(seqid, body, pad)| {
            let mut d = seqid.to_le_bytes().to_vec();
            d.extend_from_slice(&0xF2u16.to_le_bytes());
            d.extend_from_slice(&body);
            d.resize(d.len() + pad, 0);
            d
        }),
        2 => (
            prop_oneof![3 => Just(0xffff_ffffu32), 1 => u32_field()],
            u16_field(),
            prop_oneof![4 => prop::sample::select(CONVS.to_vec()), 1 => u32_field()],
            prop_oneof![Just(0usize), 1usize..64, Just(1488), Just(1489), Just(1500), Just(1501), Just(2988)],
        )
            .prop_map(|(seqid, size, conv, len)| {
                let mut d = fec_header(seqid, 0xF3, size);
                d.extend_from_slice(&conv.to_le_bytes());
                d.extend((0..len).map(|i| i as u8));
                d
            }),
        1 => prop::collection::vec(any::<u8>(), 0..30),
    ]
}

/// Listener settings exercised: no crypt, `none` (CRC only, no key),
/// AES-CFB, AES-GCM; with and without FEC.
fn mode() -> impl Strategy<Value = (CryptName, bool)> {
    prop::sample::select(vec![
        (CryptName::Null, false),
        (CryptName::Null, true),
        (CryptName::None, true),
        (CryptName::Aes, true),
        (CryptName::Aes128Gcm, false),
    ])
}

fn session_config((name, fec): (CryptName, bool)) -> SessionConfig {
    let c = SessionConfig::fast3().with_crypt(CryptConfig::new(name, KEY));
    if fec { c.with_fec(10, 3) } else { c }
}

/// `plain` sealed with `crypt` (when it fits), else as is: the bytes an
/// attacker who knows the key (or needs none) puts on the wire.
fn seal(crypt: &mut Crypt, plain: &[u8]) -> Vec<u8> {
    let h = crypt.header_len();
    let mut buf = vec![0u8; h + plain.len() + crypt.tail_len()];
    buf[h..h + plain.len()].copy_from_slice(plain);
    match crypt.seal(&mut buf, plain.len()) {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => plain.to_vec(),
    }
}

fn start_time() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(0x7fff_ff00),
        Just(0xffff_ff00),
        any::<u32>(),
    ]
}

fn clock_step() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..100,
        1 => u32_field(),
    ]
}

fn assert_accounted(ep: &Endpoint<u8>, cfg: &EndpointConfig) {
    let st = ep.stats();
    assert_eq!(st.delivered + st.total_dropped(), st.received);
    assert!(ep.len() <= cfg.max_sessions, "{} sessions", ep.len());
    assert!(
        ep.backlog() <= cfg.accept_backlog,
        "backlog {}",
        ep.backlog()
    );
}

/// Drains everything the endpoint has for the application and the wire.
fn service(ep: &mut Endpoint<u8>, now: Timestamp, accept: bool, out: &mut [u8]) {
    ep.handle_timeout(now);
    while ep.poll_transmit(now, out).is_some() {}
    while ep.poll_event().is_some() {}
    if accept {
        while let Some((h, _)) = ep.accept() {
            if let Some(c) = ep.connection_mut(h) {
                let mut buf = [0u8; 256];
                while c.recv(&mut buf).is_ok() {}
                while c.recv_oob(&mut buf).is_some() {}
            }
        }
    }
}

/// A fresh client from a new address sends `msg`; the server echoes it.
fn echo_round_trip(ep: &mut Endpoint<u8>, cfg: &SessionConfig, now: &mut Timestamp) -> bool {
    const ADDR: u8 = 200;
    let msg = b"still serving after the barrage";
    let mut client = Connection::connect(0x0c0d_e000, cfg, *now).unwrap();
    client.send(msg).unwrap();
    let mut wire = vec![0u8; 1500];
    let mut server = None;
    for _ in 0..500 {
        client.handle_timeout(*now);
        while let Some(n) = client.poll_transmit(*now, &mut wire) {
            let mut d = wire[..n].to_vec();
            ep.handle_datagram(*now, ADDR, &mut d);
        }
        ep.handle_timeout(*now);
        while let Some((h, _)) = ep.accept() {
            if ep.addr(h) == Some(ADDR) {
                server = Some(h);
            }
        }
        if let Some(c) = server.and_then(|h| ep.connection_mut(h)) {
            let mut buf = [0u8; 256];
            while let Ok(n) = c.recv(&mut buf) {
                c.send(&buf[..n]).unwrap();
            }
        }
        while let Some((to, n)) = ep.poll_transmit(*now, &mut wire) {
            if to == ADDR {
                let mut d = wire[..n].to_vec();
                client.handle_datagram(*now, &mut d);
            }
        }
        let mut buf = [0u8; 256];
        if let Ok(n) = client.recv(&mut buf) {
            return &buf[..n] == msg;
        }
        *now = now.add_millis(10);
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The whole receive path of a listener under extreme header values.
    #[test]
    fn endpoint_accounts_for_extreme_datagrams_and_keeps_serving(
        mode in mode(),
        t0 in start_time(),
        steps in prop::collection::vec((0u8..4, plaintext(), clock_step(), any::<bool>()), 1..40),
    ) {
        let session = session_config(mode);
        let mut cfg = EndpointConfig::new(session.clone());
        cfg.accept_backlog = 3;
        cfg.max_sessions = 64;
        let mut ep = Endpoint::<u8>::new(cfg.clone()).unwrap();
        let mut attacker = Crypt::new(mode.0, &KEY).unwrap();
        let mut now = Timestamp::from_millis(t0);
        let mut out = vec![0u8; 1500];
        for (from, plain, step, accept) in &steps {
            now = now.add_millis(*step);
            let mut d = seal(&mut attacker, plain);
            ep.handle_datagram(now, *from, &mut d);
            service(&mut ep, now, *accept, &mut out);
            assert_accounted(&ep, &cfg);
        }
        prop_assert_eq!(ep.stats().received, steps.len() as u64);
        // Time runs on (retransmissions, probes) across the wrap.
        for _ in 0..10 {
            now = now.add_millis(0x1000_0000);
            service(&mut ep, now, true, &mut out);
            assert_accounted(&ep, &cfg);
        }
        prop_assert!(echo_round_trip(&mut ep, &session, &mut now), "no echo after the barrage");
        assert_accounted(&ep, &cfg);
    }

    /// A client `Connection` fed the same datagrams directly: counters add
    /// up and its timers keep running.
    #[test]
    fn connection_survives_extreme_datagrams(
        mode in mode(),
        t0 in start_time(),
        steps in prop::collection::vec((plaintext(), clock_step()), 1..40),
    ) {
        let session = session_config(mode);
        let mut now = Timestamp::from_millis(t0);
        let mut conn = Connection::connect(CONVS[0], &session, now).unwrap();
        conn.send(&[7u8; 3000]).unwrap();
        let mut attacker = Crypt::new(mode.0, &KEY).unwrap();
        let mut out = vec![0u8; 1500];
        let mut buf = [0u8; 2048];
        for (plain, step) in &steps {
            now = now.add_millis(*step);
            let mut d = seal(&mut attacker, plain);
            conn.handle_datagram(now, &mut d);
            conn.handle_timeout(now);
            while conn.poll_transmit(now, &mut out).is_some() {}
            while conn.recv(&mut buf).is_ok() {}
            while let Some(n) = conn.recv_oob(&mut buf) {
                prop_assert!(n <= 1500, "an OOB payload of {} was queued", n);
            }
            while conn.poll_event().is_some() {}
            let _ = conn.poll_timeout();
        }
        // Each datagram is counted at most once as received or as a
        // checksum failure.
        let st = conn.stats();
        prop_assert!(st.in_pkts + st.in_csum_errors <= steps.len() as u64, "{:?}", st);
    }
}

/// An OOB packet longer than kcp-go's 1500-byte read (the crypt layer
/// accepts up to 65507 bytes, and a GRO or loopback receive can deliver
/// one) used to overrun the 1500-byte OOB queue buffer: now an InErrs drop.
#[test]
fn oversized_oob_is_a_counted_drop() {
    for name in [CryptName::Null, CryptName::None] {
        let cfg = session_config((name, true));
        let now = Timestamp::from_millis(u32::MAX);
        let mut conn = Connection::accept(CONVS[0], &cfg, now).unwrap();
        let mut attacker = Crypt::new(name, &KEY).unwrap();
        for (len, queued) in [
            (1488usize, true),
            (1500, true),
            (1501, false),
            (2988, false),
        ] {
            let mut plain = fec_header(0xffff_ffff, 0xF3, 0);
            plain.extend_from_slice(&CONVS[0].to_le_bytes());
            plain.resize(12 + len, 0xAB);
            let mut d = seal(&mut attacker, &plain);
            let errs = conn.stats().in_errs;
            conn.handle_datagram(now, &mut d);
            let mut buf = vec![0u8; 4096];
            assert_eq!(
                conn.recv_oob(&mut buf),
                queued.then_some(len),
                "{name:?} {len}"
            );
            assert_eq!(
                conn.stats().in_errs,
                errs + u64::from(!queued),
                "{name:?} {len}"
            );
        }
        // Through a listener: the packet opens a session (it carries a
        // conv), which drops the payload and counts it.
        let mut ep = Endpoint::<u8>::new(EndpointConfig::new(cfg.clone())).unwrap();
        let mut plain = fec_header(0xffff_ffff, 0xF3, 0);
        plain.extend_from_slice(&CONVS[1].to_le_bytes());
        plain.resize(12 + 3000, 1);
        let mut d = seal(&mut attacker, &plain);
        let h = ep.handle_datagram(now, 1, &mut d).expect("delivered");
        let c = ep.connection_mut(h).unwrap();
        assert_eq!(c.recv_oob(&mut [0u8; 64]), None);
        assert_eq!(c.stats().in_errs, 1);
    }
}
