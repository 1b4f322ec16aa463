//! `input_buffer` (the zero-copy receive) behaves exactly like `input`:
//! same return values, state, counters, delivered bytes and replies, for
//! any datagram (one or several segments, every command, truncated,
//! garbage) at any offset in any buffer. And it keeps its documented
//! contract: a datagram that is exactly one new data segment, in a buffer
//! of sane size, is taken without a copy; anything else leaves the caller's
//! buffer where it is (a huge buffer is never pinned by the receive queue).

mod common;

use common::wire::Rng;
use kcp_core::{Command, Config, Header, Kcp, Timestamp};

const CONV: u32 = 0x1234;

fn segment(cmd: Command, frg: u8, sn: u32, una: u32, payload: &[u8]) -> Vec<u8> {
    let h = Header {
        conv: CONV,
        cmd: cmd as u8,
        frg,
        wnd: 64,
        ts: sn.wrapping_mul(3),
        sn,
        una,
        len: 0,
    };
    common::wire::segment(h, payload)
}

/// One to three segments around the receiver's `rcv_nxt`: old, next,
/// out of order, beyond the window.
fn datagram(rng: &mut Rng, rcv_nxt: u32) -> Vec<u8> {
    let mut d = Vec::new();
    for _ in 0..=rng.below(3) / 2 {
        let sn = match rng.below(4) {
            0 => rcv_nxt.wrapping_sub(1 + rng.below(5) as u32),
            1 => rcv_nxt.wrapping_add(rng.below(70) as u32),
            _ => rcv_nxt,
        };
        let len = [0, 1, 7, 100, 1376][rng.below(5) as usize];
        let payload: Vec<u8> = (0..len).map(|i| (i as u32 ^ sn) as u8).collect();
        let cmd = match rng.below(8) {
            0 => Command::Ack,
            1 => Command::WindowAsk,
            2 => Command::WindowTell,
            _ => Command::Push,
        };
        let frg = if rng.below(8) == 0 { 1 } else { 0 };
        d.extend(segment(cmd, frg, sn, 0, &payload));
    }
    match rng.below(20) {
        0 => d.truncate(rng.below(d.len() as u64) as usize),
        1 => d.iter_mut().for_each(|b| *b = rng.next() as u8),
        _ => {}
    }
    d
}

fn endpoint(t: Timestamp) -> Kcp {
    let mut cfg = Config::new();
    cfg.set_window(64, 64).set_nodelay(1, 10, 2, 1);
    Kcp::new(CONV, cfg, t)
}

fn drain(k: &mut Kcp) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(t) = k.poll_transmit() {
        out.push(t.payload().to_vec());
    }
    out
}

#[test]
fn input_buffer_matches_input_for_any_datagram() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut t = Timestamp::from_millis(u32::MAX - 500);
    let (mut a, mut b) = (endpoint(t), endpoint(t));
    let (mut bytes, mut errs, mut stolen) = (0u64, 0u64, 0);
    let mut buf: Vec<u8> = Vec::new();
    for round in 0..4000 {
        let d = datagram(&mut rng, b.state().rcv_nxt);
        let start = rng.below(3) as usize * 13;
        let cap = [0, 1500, 1 << 20][rng.below(3) as usize];
        // A fresh buffer unless the last one came back large enough.
        if buf.capacity() > cap.max(1500) || buf.capacity() < cap {
            buf = Vec::with_capacity(cap);
        }
        buf.extend((0..start).map(|_| 0xEE));
        buf.extend_from_slice(&d);
        let before = buf.as_ptr();
        let ra = a.input(&d, t);
        let rb = b.input_buffer(&mut buf, start, t);
        assert_eq!(ra, rb, "round {round}");
        assert!(buf.is_empty(), "the buffer comes back empty");
        stolen += usize::from(buf.as_ptr() != before);
        bytes += d.len() as u64;
        errs += u64::from(ra.is_err());
        assert_eq!(a.state(), b.state(), "round {round}");
        assert_eq!(a.stats(), b.stats(), "round {round}");
        let mut out_a = Vec::new();
        let mut out_b = Vec::new();
        while a.recv_vec(&mut out_a).is_ok() {}
        while b.recv_vec(&mut out_b).is_ok() {}
        assert_eq!(out_a, out_b, "round {round}: delivered bytes");
        if round % 7 == 0 {
            t = t.add_millis(10);
            a.handle_timeout(t);
            b.handle_timeout(t);
        }
        assert_eq!(drain(&mut a), drain(&mut b), "round {round}: replies");
    }
    let s = b.stats();
    assert_eq!((s.in_pkts, s.in_bytes, s.in_errs), (4000, bytes, errs));
    assert!(errs > 100 && errs < 2000, "{errs} errors");
    assert!(stolen > 300, "only {stolen} datagrams taken without a copy");
}

#[test]
fn only_one_new_data_segment_in_a_sane_buffer_is_taken() {
    let t = Timestamp::from_millis(0);
    let mut k = endpoint(t);
    let one = segment(Command::Push, 0, 0, 0, &[5u8; 1000]);
    let two = [
        segment(Command::Push, 0, 1, 0, &[6u8; 10]),
        segment(Command::Ack, 0, 0, 0, &[]),
    ]
    .concat();
    let empty = segment(Command::Push, 0, 2, 0, &[]);
    let wins = segment(Command::WindowTell, 0, 0, 0, &[1]);
    let cases: [(&[u8], usize, bool); 6] = [
        (&one, 1500, true),
        // The same segment again is a duplicate: nothing to keep.
        (&one, 1500, false),
        (&two, 1500, false),
        (&empty, 1500, false),
        (&wins, 1500, false),
        (
            &segment(Command::Push, 0, 3, 0, &[7u8; 1000]),
            1 << 20,
            false,
        ),
    ];
    for (i, (d, cap, taken)) in cases.into_iter().enumerate() {
        let mut buf = Vec::with_capacity(cap);
        buf.extend_from_slice(d);
        let p = buf.as_ptr();
        let _ = k.input_buffer(&mut buf, 0, t);
        assert_eq!(buf.as_ptr() != p, taken, "case {i}");
        assert!(buf.is_empty() && buf.capacity() >= cap, "case {i}");
    }
    let mut got = Vec::new();
    while k.recv_vec(&mut got).is_ok() {}
    let want = [vec![5u8; 1000], vec![6u8; 10]].concat();
    assert_eq!(got[..1010], want[..]);
}
