//! Congestion window growth as kcp-go computes it (Reno in mss units):
//! slow start below `ssthresh` (2 at first), then `incr += mss²/incr +
//! mss/16` with `cwnd = ceil(incr / mss)` once it passes the next segment,
//! capped by the peer's window. A window that lands exactly on the peer's
//! keeps its `incr`; only an overshoot is clamped to `rmt_wnd * mss`.

mod common;

use kcp_core::{Command, Config, Kcp, Timestamp};

fn una_from_peer(una: u32, wnd: u16) -> Vec<u8> {
    common::wire::seg(1, Command::WindowTell as u8, 0, una, wnd, 0, &[])
}

fn grow(rmt_wnd: u16) -> Vec<(u32, u32)> {
    let mut t = Timestamp::from_millis(0);
    let mut k = Kcp::new(1, Config::new(), t);
    k.input(&una_from_peer(0, rmt_wnd), t).unwrap();
    for _ in 0..16 {
        k.send(&[0u8; 100]).unwrap();
    }
    let mut seen = Vec::new();
    for una in 1..=5 {
        k.handle_timeout(t);
        while k.poll_transmit().is_some() {}
        t = t.add_millis(10);
        k.input(&una_from_peer(una, rmt_wnd), t).unwrap();
        let s = k.state();
        seen.push((s.cwnd, s.incr));
    }
    seen
}

#[test]
fn cwnd_grows_as_kcp_go_and_stops_at_the_peer_window() {
    let mss = 1376;
    assert_eq!(mss * mss / 2752 + mss / 16, 774);
    // Slow start to 2, then avoidance: 2752 -> 3526 -> 4148, which passes
    // 3 * mss, so cwnd = ceil(4148 / 1376) = 4; then 4690, 5179 < 5 * mss.
    assert_eq!(
        grow(32),
        [(2, 2752), (2, 3526), (4, 4148), (4, 4690), (4, 5179)]
    );
    // Landing exactly on a window of 4: incr kept, then no more growth.
    assert_eq!(
        grow(4),
        [(2, 2752), (2, 3526), (4, 4148), (4, 4148), (4, 4148)]
    );
    // Overshooting a window of 3: clamped, incr = 3 * mss.
    assert_eq!(
        grow(3),
        [
            (2, 2752),
            (2, 3526),
            (3, 3 * mss),
            (3, 3 * mss),
            (3, 3 * mss)
        ]
    );
}

/// After the MTU is raised mid-flight, `incr` (counted in old, smaller
/// segments) is first lifted to one new mss: the window does not jump.
#[test]
fn an_mtu_raise_does_not_inflate_the_window() {
    let mut t = Timestamp::from_millis(0);
    let mut cfg = Config::new();
    cfg.set_mtu(200).unwrap();
    let mut k = Kcp::new(1, cfg, t);
    k.input(&una_from_peer(0, 32), t).unwrap();
    for _ in 0..16 {
        k.send(&[0u8; 100]).unwrap();
    }
    let mut step = |k: &mut Kcp, una: u32| {
        k.handle_timeout(t);
        while k.poll_transmit().is_some() {}
        t = t.add_millis(10);
        k.input(&una_from_peer(una, 32), t).unwrap();
        let s = k.state();
        (s.cwnd, s.incr)
    };
    assert_eq!(step(&mut k, 1), (2, 352));
    k.set_mtu(1400).unwrap();
    // incr 352 < mss 1376: lifted to 1376, then + 1376 + 86.
    assert_eq!(step(&mut k, 2), (2, 1376 + 1376 + 86));
}
