//! Hostile input: random bytes, truncated headers, lengths past the end,
//! wrong conv, unknown commands, huge sn/una/wnd, floods of out-of-window
//! segments. Every case gets a typed error or a counted drop, never a panic,
//! and memory stays bounded (queue sizes asserted).

mod common;

use common::wire::Rng;
use kcp_core::{Command, Config, InputError, Kcp, MAX_ACKLIST, OVERHEAD, Profile, Timestamp};

const CONV: u32 = 0xC0FFEE;

fn seg(cmd: u8, sn: u32, una: u32, wnd: u16, payload: &[u8]) -> Vec<u8> {
    common::wire::seg(CONV, cmd, sn, una, wnd, 0, payload)
}

fn endpoints() -> Vec<Kcp> {
    let t = Timestamp::from_millis(0xFFFF_FF00);
    [Profile::KcpGo, Profile::Ikcp]
        .into_iter()
        .map(|p| Kcp::new(CONV, Config::with_profile(p), t))
        .collect()
}

fn assert_bounded(k: &Kcp) {
    let s = k.state();
    let rcv_wnd = k.config().rcv_wnd() as usize;
    assert!(s.rcv_buf <= rcv_wnd, "rcv_buf {} > {rcv_wnd}", s.rcv_buf);
    assert!(s.rcv_queue <= rcv_wnd, "rcv_queue {}", s.rcv_queue);
    assert!(s.acklist <= MAX_ACKLIST);
    assert!(s.snd_buf <= k.config().snd_wnd() as usize);
}

#[test]
fn malformed_datagrams_get_typed_errors() {
    for mut k in endpoints() {
        let now = Timestamp::from_millis(5);
        assert_eq!(k.input(&[], now), Err(InputError::TooShort));
        assert_eq!(k.input(&[0x51; 23], now), Err(InputError::TooShort));
        let mut wrong = seg(81, 0, 0, 32, b"x");
        wrong[0] ^= 1;
        assert_eq!(
            k.input(&wrong, now),
            Err(InputError::ConvMismatch { got: CONV ^ 1 })
        );
        let mut long = seg(81, 0, 0, 32, b"abc");
        long.truncate(OVERHEAD + 2);
        assert_eq!(k.input(&long, now), Err(InputError::Truncated));
        let mut huge = seg(81, 0, 0, 32, b"");
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(k.input(&huge, now), Err(InputError::Truncated));
        assert_eq!(
            k.input(&seg(85, 0, 0, 32, b""), now),
            Err(InputError::UnknownCommand(85))
        );
        // Segments before the bad one are applied (reference behaviour).
        let mut two = seg(Command::Push as u8, 0, 0, 32, b"ok");
        two.extend(seg(9, 1, 0, 32, b""));
        assert_eq!(k.input(&two, now), Err(InputError::UnknownCommand(9)));
        let mut buf = [0u8; 8];
        assert_eq!(k.recv(&mut buf), Ok(2));
        // Trailing garbage shorter than a header is ignored.
        let mut tail = seg(Command::Push as u8, 1, 0, 32, b"t");
        tail.extend_from_slice(&[1, 2, 3]);
        assert_eq!(k.input(&tail, now), Ok(()));
        assert_eq!(k.stats().in_errs, 7);
        assert_bounded(&k);
    }
}

#[test]
fn random_bytes_never_panic_and_memory_stays_bounded() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for mut k in endpoints() {
        k.send(&[7u8; 5000]).unwrap();
        let mut now = Timestamp::from_millis(0xFFFF_FF00);
        for i in 0..20_000u32 {
            let len = (rng.next() % 1500) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Half of them carry our conv and a valid command so they get deep.
            if i % 2 == 0 && d.len() >= OVERHEAD {
                d[..4].copy_from_slice(&CONV.to_le_bytes());
                d[4] = 81 + (rng.next() % 4) as u8;
                let room = (d.len() - OVERHEAD) as u32;
                let l = if room == 0 {
                    0
                } else {
                    (rng.next() as u32) % room
                };
                d[20..24].copy_from_slice(&l.to_le_bytes());
            }
            let _ = k.input(&d, now);
            if i % 16 == 0 {
                now = now.add_millis(10);
                k.handle_timeout(now);
                while k.poll_transmit().is_some() {}
            }
            let mut buf = vec![0u8; 1 << 16];
            while k.recv(&mut buf).is_ok() {}
            assert_bounded(&k);
        }
        assert!(k.stats().in_errs > 0);
    }
}

#[test]
fn floods_of_out_of_window_and_extreme_values_are_bounded() {
    for mut k in endpoints() {
        let now = Timestamp::from_millis(1);
        let rcv_wnd = k.config().rcv_wnd();
        // Far-future and far-past sequence numbers, huge una and window.
        for sn in [rcv_wnd, rcv_wnd + 1, u32::MAX / 2, u32::MAX, 0x8000_0000] {
            k.input(&seg(81, sn, u32::MAX, u16::MAX, b"zz"), now)
                .unwrap();
        }
        assert_eq!(k.state().rcv_buf, 0, "nothing outside the window is kept");
        assert_eq!(k.stats().repeat_segs, 5);
        // One datagram packed with in-window data fills the window at most.
        let mut d = Vec::new();
        for sn in 1..(rcv_wnd * 4) {
            d.extend(seg(81, sn, 0, 0, b"p"));
        }
        k.input(&d, now).unwrap();
        assert_eq!(k.state().rcv_buf as u32, rcv_wnd - 1);
        // A flood of stale (below rcv_nxt) and duplicate PUSHes without any
        // flush: the ACK list is capped.
        let dup = seg(81, 1, 0, 0, b"d");
        let mut big = Vec::new();
        for _ in 0..50 {
            big.extend_from_slice(&dup);
        }
        for _ in 0..1000 {
            let _ = k.input(&big, now);
            while k.poll_transmit().is_some() {}
        }
        assert_bounded(&k);
        // Forged ACK/una for sequence numbers never sent change nothing.
        k.input(&seg(82, 12345, 999, 5, b""), now).unwrap();
        assert_eq!(k.state().snd_una, 0);
        assert_eq!(k.state().snd_nxt, 0);
        // Window 0 from the peer: probing starts, data stays queued.
        k.send(b"queued").unwrap();
        k.input(&seg(84, 0, 0, 0, b""), now).unwrap();
        k.handle_timeout(now);
        assert_eq!(k.state().rmt_wnd, 0);
        assert!(k.state().probe_wait > 0);
        assert_eq!(k.state().snd_queue, 1);
    }
}

/// A flood of segments between two flushes: the ikcp profile queues at
/// most `MAX_ACKLIST` (16 Ki) ACKs, counts every one beyond in
/// `acks_dropped`, and its next update answers exactly the ACKs kept; the
/// kcp-go profile never gets there, it flushes ACKs from `input` once an
/// MTU's worth is pending (ack clocking) and drops none.
#[test]
fn ack_flood_is_capped_and_counted() {
    assert_eq!(MAX_ACKLIST, 16 * 1024);
    for mut k in endpoints() {
        let now = Timestamp::from_millis(5);
        let ikcp = k.config().profile() == Profile::Ikcp;
        let count_acks = |k: &mut Kcp| {
            let mut acks = 0;
            while let Some(t) = k.poll_transmit() {
                acks += t
                    .payload()
                    .chunks(OVERHEAD)
                    .filter(|h| h[4] == Command::Ack as u8)
                    .count();
            }
            acks
        };
        // 400 datagrams of 50 PUSH segments each, sn 1..=31 over and over
        // (sn 0 never arrives, so nothing is below `una`): 20,000 ACKs owed.
        let mut sn = 0;
        let mut acks = 0;
        for _ in 0..400 {
            let datagram: Vec<u8> = (0..50)
                .flat_map(|_| {
                    sn = sn % 31 + 1;
                    seg(81, sn, 0, 32, b"d")
                })
                .collect();
            k.input(&datagram, now).unwrap();
            acks += count_acks(&mut k);
            if !ikcp {
                assert!(k.state().acklist < 1400 / OVERHEAD, "ack clocking");
            }
        }
        let s = k.stats();
        assert_eq!(s.in_segs, 20_000);
        assert_eq!(s.repeat_segs, 20_000 - 31, "31 kept, the rest duplicates");
        let kept = if ikcp { MAX_ACKLIST } else { 20_000 };
        assert_eq!(s.acks_dropped, 20_000 - kept as u64);
        assert_eq!(acks + k.state().acklist, kept);
        // (ikcp's `flush` does nothing before the first `update`.)
        k.handle_timeout(now);
        acks += count_acks(&mut k);
        assert_eq!(acks, kept);
        assert_eq!(k.state().acklist, 0);
        let s = k.stats();
        assert_eq!((s.out_segs, s.acks_elided), (kept as u64, 0));
    }
}

/// kcp-go sends no ACK for a segment below `una` (the header's una already
/// says so), except the last of a flush; ikcp sends them all. OutSegs
/// counts what went out, `acks_elided` what did not.
#[test]
fn acks_below_una_are_elided_by_kcp_go_only() {
    for mut k in endpoints() {
        let now = Timestamp::from_millis(5);
        let ikcp = k.config().profile() == Profile::Ikcp;
        // sn 0 three times, then sn 1 and sn 0 again: ACKs owed for
        // 0, 0, 0, 1, 0 with una 2 at flush time.
        let d: Vec<u8> = [0, 0, 0, 1, 0]
            .iter()
            .flat_map(|&sn| seg(81, sn, 0, 32, b"z"))
            .collect();
        k.input(&d, now).unwrap();
        k.handle_timeout(now);
        let mut acked = Vec::new();
        while let Some(t) = k.poll_transmit() {
            for h in t.payload().chunks(OVERHEAD) {
                if h[4] == Command::Ack as u8 {
                    acked.push(u32::from_le_bytes(h[12..16].try_into().unwrap()));
                }
            }
        }
        let s = k.stats();
        if ikcp {
            assert_eq!(acked, [0, 0, 0, 1, 0]);
            assert_eq!((s.out_segs, s.acks_elided), (5, 0));
        } else {
            assert_eq!(acked, [0], "only the last, below una too");
            assert_eq!((s.out_segs, s.acks_elided), (1, 4));
        }
    }
}
