//! Every retransmission is counted under its cause, as kcp-go's SNMP does:
//! `FastRetransSegs` (duplicate ACKs reached `resend`), `EarlyRetransSegs`
//! (kcp-go: a later segment was acknowledged and nothing new goes out),
//! `LostSegs` (the RTO expired), and `RetransSegs` their sum.

mod common;

use kcp_core::{Command, Config, Kcp, OVERHEAD, Profile, Stats, Timestamp};

fn ack(sn: u32, ts: u32) -> Vec<u8> {
    common::wire::seg(2, Command::Ack as u8, sn, 0, 128, ts, &[])
}

/// Sends five one-byte messages at t = 0, acknowledges `acked` one per
/// datagram 5 ms later, then lets `wait` ms pass; returns the counters
/// and the sns sent after the first flush.
fn run(profile: Profile, resend: i32, acked: &[u32], wait: u32) -> (Stats, Vec<u32>) {
    let mut t = Timestamp::from_millis(0);
    let mut cfg = Config::with_profile(profile);
    cfg.set_nodelay(1, 10, resend, 1).set_window(128, 128);
    let mut k = Kcp::new(2, cfg, t);
    for i in 0..5u8 {
        k.send(&[i]).unwrap();
    }
    k.handle_timeout(t);
    while k.poll_transmit().is_some() {}
    t = t.add_millis(5);
    for &sn in acked {
        k.input(&ack(sn, 0), t).unwrap();
    }
    let mut again = Vec::new();
    for _ in 0..=wait / 5 {
        k.handle_timeout(t);
        while let Some(d) = k.poll_transmit() {
            for h in d.payload().chunks(OVERHEAD + 1) {
                if h[4] == Command::Push as u8 {
                    again.push(u32::from_le_bytes(h[12..16].try_into().unwrap()));
                }
            }
        }
        t = t.add_millis(5);
    }
    (k.stats(), again)
}

fn causes(s: &Stats) -> [u64; 4] {
    // Every data segment that left is in OutSegs: five first sends plus the
    // retransmissions (no ACKs: nothing was received).
    assert_eq!(s.out_segs, 5 + s.retrans_segs);
    [
        s.fast_retrans_segs,
        s.early_retrans_segs,
        s.lost_segs,
        s.retrans_segs,
    ]
}

#[test]
fn fast_retransmissions_are_counted() {
    for profile in [Profile::KcpGo, Profile::Ikcp] {
        // sn 0 skipped by two later ACKs: resent once, by the next flush
        // (ikcp's interval is 10 ms), long before its RTO.
        let (s, again) = run(profile, 2, &[1, 2], 10);
        assert_eq!(again, [0], "{profile:?}");
        assert_eq!(causes(&s), [1, 0, 0, 1], "{profile:?}");
    }
}

#[test]
fn early_retransmissions_are_counted_by_kcp_go() {
    // Fast resend off, one later ACK, nothing new to send: kcp-go resends
    // sn 0 early; ikcp waits for the RTO.
    let (s, again) = run(Profile::KcpGo, 0, &[1], 10);
    assert_eq!((again, causes(&s)), (vec![0], [0, 1, 0, 1]));
    let (s, again) = run(Profile::Ikcp, 0, &[1], 10);
    assert_eq!((again, causes(&s)), (vec![], [0, 0, 0, 0]));
}

#[test]
fn timeouts_are_counted_as_lost() {
    for profile in [Profile::KcpGo, Profile::Ikcp] {
        // Nothing acknowledged; the first RTO (200 ms) expires once.
        let (s, again) = run(profile, 0, &[], 250);
        assert_eq!(again, [0, 1, 2, 3, 4], "{profile:?}");
        assert_eq!(causes(&s), [0, 0, 5, 5], "{profile:?}");
    }
}
