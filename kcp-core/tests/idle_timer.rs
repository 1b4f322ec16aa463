//! `poll_timeout` is `None` exactly when a kcp-go-profile endpoint has
//! nothing pending (no data queued or unacknowledged, no ACK owed, no window
//! probe, a usable window), so thousands of idle sessions need no timers;
//! each kind of pending work brings the timer back.

mod common;

use kcp_core::{Command, Config, Kcp, OVERHEAD, Timestamp};

const CONV: u32 = 4;

fn seg(cmd: Command, sn: u32, una: u32, wnd: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    common::wire::seg(CONV, cmd as u8, sn, una, wnd, ts, payload)
}

fn settle(k: &mut Kcp, t: Timestamp) -> usize {
    k.handle_timeout(t);
    let mut n = 0;
    while k.poll_transmit().is_some() {
        n += 1;
    }
    n
}

#[test]
fn idle_needs_no_timer_and_every_kind_of_work_brings_it_back() {
    for nc in [0, 1] {
        let mut t = Timestamp::from_millis(500);
        let mut cfg = Config::new();
        cfg.set_nodelay(1, 10, 2, nc);
        let mut k = Kcp::new(CONV, cfg, t);
        // Both references start with cwnd 0, raised to 1 by the first
        // flush: until then (with congestion control) the timer is wanted.
        assert_eq!(k.poll_timeout().is_some(), nc == 0, "nc {nc}: fresh");
        assert_eq!(settle(&mut k, t), 0);
        assert_eq!(k.poll_timeout(), None, "nc {nc}: after the first tick");

        // Data queued, then in flight, then acknowledged.
        k.send(b"hello").unwrap();
        assert_eq!(k.poll_timeout(), Some(t), "a write wants a flush now");
        assert_eq!(settle(&mut k, t), 1);
        assert!(
            k.poll_timeout().unwrap().is_after(t),
            "in flight: next tick"
        );
        t = t.add_millis(5);
        k.input(&seg(Command::Ack, 0, 1, 32, 500, &[]), t).unwrap();
        assert_eq!(k.poll_timeout(), None, "nc {nc}: acknowledged");

        // An ACK owed.
        k.input(&seg(Command::Push, 0, 1, 32, 1, b"x"), t).unwrap();
        assert!(k.poll_timeout().is_some(), "nc {nc}: an ACK is owed");
        t = t.add_millis(10);
        assert_eq!(settle(&mut k, t), 1);
        assert_eq!(k.poll_timeout(), None, "nc {nc}: ACK sent");

        // The peer asks for our window.
        k.input(&seg(Command::WindowAsk, 0, 1, 32, 2, &[]), t)
            .unwrap();
        assert!(k.poll_timeout().is_some(), "nc {nc}: WASK to answer");
        t = t.add_millis(10);
        let segs = k.stats().out_segs;
        assert_eq!(settle(&mut k, t), 1);
        assert_eq!(k.stats().out_segs, segs + 1, "nc {nc}: one WINS");
        assert_eq!(k.poll_timeout(), None, "nc {nc}: WINS sent");

        // The peer's window closes while data waits: probing needs the timer.
        k.input(&seg(Command::WindowTell, 0, 1, 0, 3, &[]), t)
            .unwrap();
        k.send(b"blocked").unwrap();
        t = t.add_millis(10);
        settle(&mut k, t);
        assert!(k.poll_timeout().is_some(), "nc {nc}: zero window");
        assert_eq!(k.state().rmt_wnd, 0);
        k.input(&seg(Command::WindowTell, 0, 1, 32, 4, &[]), t)
            .unwrap();
        t = t.add_millis(10);
        settle(&mut k, t);
        let sent_sn = k.state().snd_nxt - 1;
        k.input(
            &seg(Command::Ack, sent_sn, sent_sn + 1, 32, t.as_millis(), &[]),
            t,
        )
        .unwrap();
        settle(&mut k, t);
        assert_eq!(
            k.poll_timeout(),
            None,
            "nc {nc}: window open, all acknowledged"
        );
    }
}

/// While the peer's window stays shut, window probes (WASK) back off by
/// half each time from the profile's initial wait up to 120 s, and stay
/// there (`IKCP_PROBE_LIMIT`).
#[test]
fn zero_window_probes_back_off_to_two_minutes() {
    for (cfg, init) in [(Config::new(), 500u32), (Config::ikcp(), 7000)] {
        let mut t = Timestamp::from_millis(1);
        let mut k = Kcp::new(CONV, cfg, t);
        k.input(&seg(Command::WindowTell, 0, 0, 0, 0, &[]), t)
            .unwrap();
        k.send(b"waiting").unwrap();
        let mut probes = Vec::new();
        for _ in 0..(40 * 60 * 100) {
            k.handle_timeout(t);
            while let Some(d) = k.poll_transmit() {
                if d.payload()
                    .chunks(OVERHEAD)
                    .any(|h| h[4] == Command::WindowAsk as u8)
                {
                    probes.push(t.as_millis());
                }
            }
            t = t.add_millis(10);
        }
        // Nothing but the probes went out (OutSegs counts every segment).
        assert_eq!(k.stats().out_segs, probes.len() as u64);
        let gaps: Vec<u32> = probes.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() > 10, "{gaps:?}");
        // Each wait is the last plus half, never above the limit...
        let mut want = init + init / 2;
        for (i, &g) in gaps.iter().enumerate() {
            assert!(
                g.abs_diff(want) <= 110,
                "gap {i}: {g} ms, want {want}: {gaps:?}"
            );
            want = (want + want / 2).min(120_000);
        }
        // ...and the limit is reached and held.
        assert!(
            gaps.iter()
                .rev()
                .take(5)
                .all(|&g| g.abs_diff(120_000) <= 110),
            "{gaps:?}"
        );
    }
}
