//! Issue 16 audit: every KCP header field at its extremes (0, 1, 2,
//! 0x7fff_fffe, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe,
//! 0xffff_ffff and any value; u16 and u8 fields at theirs), clocks near the
//! u32 wrap. The test profile has overflow checks on, so any unchecked
//! arithmetic on a wire value panics here. Invariants: typed errors in the
//! reference check order, `in_errs` counts them, queues stay within their
//! windows, emitted datagrams are well formed, and an honest exchange still
//! works after a barrage that injects no data.

use kcp_core::segment::{ParseError, segments};
use kcp_core::{
    Command, Config, Header, InputError, Kcp, MAX_ACKLIST, OVERHEAD, Profile, Timestamp,
};
use proptest::prelude::*;

const CONV: u32 = 0x3141_5926;

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
        3 => prop::sample::select(vec![0u8, 1, 2, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff]),
        1 => any::<u8>(),
    ]
}

fn cmd() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => 81u8..=84,
        1 => u8_field(),
    ]
}

/// One segment: a header whose `len` is either the payload's length or an
/// extreme value (usually larger than what follows), and its payload.
#[derive(Clone, Debug)]
struct Seg {
    h: Header,
    payload: Vec<u8>,
}

fn seg(conv: impl Strategy<Value = u32>) -> impl Strategy<Value = Seg> {
    (
        conv,
        cmd(),
        u8_field(),
        u16_field(),
        u32_field(),
        u32_field(),
        u32_field(),
        prop::collection::vec(any::<u8>(), 0..48),
        prop_oneof![4 => Just(None), 1 => u32_field().prop_map(Some)],
    )
        .prop_map(|(conv, cmd, frg, wnd, ts, sn, una, payload, len)| Seg {
            h: Header {
                conv,
                cmd,
                frg,
                wnd,
                ts,
                sn,
                una,
                len: len.unwrap_or(payload.len() as u32),
            },
            payload,
        })
}

/// Our conv most of the time (so the segment is processed), else extreme.
fn conv() -> impl Strategy<Value = u32> {
    prop_oneof![6 => Just(CONV), 1 => u32_field()]
}

/// A datagram of 1..=4 segments, optionally cut short or with a trailing
/// fragment shorter than a header.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(seg(conv()), 1..=4),
        prop_oneof![6 => Just(None), 1 => (0usize..=OVERHEAD + 2).prop_map(Some)],
        prop::collection::vec(any::<u8>(), 0..OVERHEAD),
    )
        .prop_map(|(segs, cut, tail)| {
            let mut d = encode(&segs);
            if let Some(c) = cut {
                d.truncate(c);
            } else {
                d.extend_from_slice(&tail);
            }
            d
        })
}

fn encode(segs: &[Seg]) -> Vec<u8> {
    let mut d = Vec::new();
    for s in segs {
        let mut hdr = [0u8; OVERHEAD];
        s.h.encode(&mut hdr);
        d.extend_from_slice(&hdr);
        d.extend_from_slice(&s.payload);
    }
    d
}

/// Clock steps: small, around 2^31 (the signed-difference horizon) and the
/// full wrap, backwards included.
fn clock_step() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..200,
        1 => u32_field(),
    ]
}

fn start_time() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(0x7fff_ff00),
        Just(0xffff_ff00),
        Just(0xffff_ffff),
        any::<u32>(),
    ]
}

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![Just(Profile::KcpGo), Just(Profile::Ikcp)]
}

/// The error `Kcp::input` must return for `d`, by the references' check
/// order: length of the whole datagram, then per segment conv, `len`
/// against what is left, command.
fn expected_error(d: &[u8]) -> Option<InputError> {
    if d.len() < OVERHEAD {
        return Some(InputError::TooShort);
    }
    let mut rest = d;
    while let Some(h) = Header::decode(rest) {
        rest = &rest[OVERHEAD..];
        if h.conv != CONV {
            return Some(InputError::ConvMismatch { got: h.conv });
        }
        if (rest.len() as u64) < u64::from(h.len) {
            return Some(InputError::Truncated);
        }
        if h.command().is_none() {
            return Some(InputError::UnknownCommand(h.cmd));
        }
        rest = &rest[h.len as usize..];
    }
    None
}

fn assert_bounded(k: &Kcp) {
    let s = k.state();
    let cfg = k.config();
    let (rcv_wnd, snd_wnd) = (cfg.rcv_wnd() as usize, cfg.snd_wnd() as usize);
    assert!(s.rcv_buf <= rcv_wnd, "rcv_buf {} > {rcv_wnd}", s.rcv_buf);
    assert!(
        s.rcv_queue <= rcv_wnd,
        "rcv_queue {} > {rcv_wnd}",
        s.rcv_queue
    );
    assert!(s.acklist <= MAX_ACKLIST, "acklist {}", s.acklist);
    assert!(
        s.snd_buf <= snd_wnd.max(1),
        "snd_buf {} > {snd_wnd}",
        s.snd_buf
    );
}

/// Drains `k`'s output, checking each datagram parses as our conv's
/// segments within the MTU; returns them.
fn drain(k: &mut Kcp) -> Vec<Vec<u8>> {
    let mtu = k.config().mtu() as usize;
    let mut out = Vec::new();
    while let Some(t) = k.poll_transmit() {
        let d = t.payload().to_vec();
        assert!(d.len() <= mtu, "datagram of {} > mtu {mtu}", d.len());
        for s in segments(&d) {
            let (h, _) = s.expect("emitted datagrams parse");
            assert_eq!(h.conv, CONV);
        }
        out.push(d);
    }
    out
}

fn read_all(k: &mut Kcp) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = k.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

/// Runs `a` and `b` against each other (no loss) until `done` or a virtual
/// minute passed; returns whether `done` held.
fn pump(
    a: &mut Kcp,
    b: &mut Kcp,
    now: &mut Timestamp,
    mut done: impl FnMut(&mut Kcp, &mut Kcp) -> bool,
) -> bool {
    let deadline = now.add_millis(60_000);
    loop {
        a.handle_timeout(*now);
        b.handle_timeout(*now);
        for _ in 0..8 {
            let (da, db) = (drain(a), drain(b));
            if da.is_empty() && db.is_empty() {
                break;
            }
            for d in da {
                b.input(&d, *now).expect("honest datagram");
            }
            for d in db {
                a.input(&d, *now).expect("honest datagram");
            }
        }
        if done(a, b) {
            return true;
        }
        if now.reached(deadline) {
            return false;
        }
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .filter(|t| t.is_after(*now))
            .min_by(|x, y| x.diff(*y).cmp(&0))
            .unwrap_or(now.add_millis(10));
        *now = if next.diff(*now) > 1000 {
            now.add_millis(1000)
        } else {
            next
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any header values, clocks anywhere and jumping across the wrap: a
    /// typed error in reference order or success, counted, and bounded state.
    #[test]
    fn extreme_headers_get_typed_errors_and_bounded_state(
        profile in profile(),
        t0 in start_time(),
        steps in prop::collection::vec((datagram(), clock_step()), 1..10),
    ) {
        let mut now = Timestamp::from_millis(t0);
        let mut k = Kcp::new(CONV, Config::with_profile(profile), now);
        k.send(b"in flight").unwrap();
        let mut errs = 0u64;
        for (i, (d, step)) in steps.iter().enumerate() {
            now = now.add_millis(*step);
            let got = if i % 2 == 0 {
                k.input(d, now)
            } else {
                let mut buf = d.clone();
                k.input_buffer(&mut buf, 0, now)
            };
            prop_assert_eq!(got.err(), expected_error(d), "datagram {}", i);
            errs += u64::from(got.is_err());
            prop_assert_eq!(k.stats().in_errs, errs);
            prop_assert_eq!(k.stats().in_pkts, i as u64 + 1);
            k.handle_timeout(now);
            drain(&mut k);
            read_all(&mut k);
            let _ = k.poll_timeout();
            assert_bounded(&k);
        }
        // Time keeps going (ACK-clocked flushes, RTOs from hostile samples).
        for _ in 0..20 {
            now = now.add_millis(k.rto().max(1));
            k.handle_timeout(now);
            drain(&mut k);
            assert_bounded(&k);
        }
    }

    /// The stateless parser agrees with `input` on what is wrong with a
    /// datagram whose segments all carry our conv (`len` any extreme).
    #[test]
    fn segment_iterator_agrees_with_input(
        segs in prop::collection::vec(seg(Just(CONV)), 1..=4),
        cut in prop::option::of(0usize..200),
    ) {
        let mut d = encode(&segs);
        if let Some(c) = cut {
            d.truncate(c);
        }
        // A `len` shorter than the payload makes payload bytes the next
        // header, with any conv: the parser does not check convs.
        prop_assume!(!matches!(expected_error(&d), Some(InputError::ConvMismatch { .. })));
        let parsed: Result<Vec<_>, ParseError> = segments(&d).collect();
        let mut k = Kcp::new(CONV, Config::new(), Timestamp::from_millis(0xffff_fff0));
        let got = k.input(&d, Timestamp::from_millis(0xffff_fff0));
        match (parsed, got) {
            (Ok(_), Ok(())) => {}
            (Err(ParseError::TooShort), Err(InputError::TooShort)) => {}
            (Err(ParseError::Truncated), Err(InputError::Truncated)) => {}
            (Err(ParseError::UnknownCommand(a)), Err(InputError::UnknownCommand(b))) => {
                prop_assert_eq!(a, b)
            }
            (p, g) => prop_assert!(false, "parser {:?} but input {:?}", p, g),
        }
    }

    /// A barrage that injects no data (control commands with any sn, una,
    /// ts, wnd; data for another conv; unknown commands; lengths past the
    /// end) leaves both directions of an honest exchange working, with the
    /// clock near the wrap.
    #[test]
    fn honest_exchange_survives_an_extreme_barrage(
        profile in profile(),
        t0 in start_time(),
        barrage in prop::collection::vec(
            prop_oneof![
                seg(Just(CONV)).prop_filter("no data", |s| s.h.cmd != Command::Push as u8),
                seg(u32_field().prop_filter("other conv", |&c| c != CONV)),
            ],
            1..24,
        ),
    ) {
        let mut now = Timestamp::from_millis(t0);
        let mut cfg = Config::with_profile(profile);
        cfg.set_nodelay(1, 10, 2, 1);
        let mut a = Kcp::new(CONV, cfg.clone(), now);
        let mut b = Kcp::new(CONV, cfg, now);
        // Get traffic going both ways first so the barrage meets live state.
        a.send(b"warm up").unwrap();
        prop_assert!(pump(&mut a, &mut b, &mut now, |_, b| !read_all(b).is_empty()));
        for s in &barrage {
            let _ = b.input(&encode(std::slice::from_ref(s)), now);
            now = now.add_millis(1);
            b.handle_timeout(now);
            drain(&mut b); // the attacker eats b's replies
            assert_bounded(&b);
        }
        let msgs: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 100 + 700 * i as usize]).collect();
        for m in &msgs {
            a.send(m).unwrap();
            b.send(m).unwrap();
        }
        let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
        let ok = pump(&mut a, &mut b, &mut now, |a, b| {
            at_a.extend(read_all(a));
            at_b.extend(read_all(b));
            at_a.len() == msgs.len() && at_b.len() == msgs.len()
        });
        prop_assert!(ok, "exchange stalled: a got {}, b got {}", at_a.len(), at_b.len());
        prop_assert_eq!(&at_a, &msgs);
        prop_assert_eq!(&at_b, &msgs);
    }
}

/// Sequence numbers and acknowledgements across the u32 wrap, driven by
/// forged ACK/una values at each boundary, with the clock at the wrap too.
#[test]
fn boundary_una_and_sn_never_overflow() {
    const EDGES: [u32; 9] = [
        0,
        1,
        2,
        0x7fff_fffe,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_fffe,
        0xffff_ffff,
    ];
    for profile in [Profile::KcpGo, Profile::Ikcp] {
        for &t in &EDGES {
            let mut now = Timestamp::from_millis(t);
            let mut k = Kcp::new(CONV, Config::with_profile(profile), now);
            for _ in 0..40 {
                k.send(&[0u8; 2000]).unwrap();
            }
            for &v in &EDGES {
                for cmd in 81..=84u8 {
                    let h = Header {
                        conv: CONV,
                        cmd,
                        frg: v as u8,
                        wnd: v as u16,
                        ts: v,
                        sn: v,
                        una: v,
                        len: 0,
                    };
                    let mut d = [0u8; OVERHEAD];
                    h.encode(&mut d);
                    k.input(&d, now).unwrap();
                    k.handle_timeout(now);
                    drain(&mut k);
                    assert_bounded(&k);
                    now = now.add_millis(v);
                }
            }
        }
    }
}
