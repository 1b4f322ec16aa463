//! Settings changed on a live endpoint take effect at once, as kcp-go's
//! setters do on a running session.

mod common;

use kcp_core::{Command, Config, Kcp, Timestamp};

const CONV: u32 = 9;

fn push(sn: u32, ts: u32) -> Vec<u8> {
    common::wire::seg(CONV, Command::Push as u8, sn, 0, 32, ts, b"x")
}

fn ack(sn: u32, ts: u32) -> Vec<u8> {
    common::wire::seg(CONV, Command::Ack as u8, sn, sn + 1, 32, ts, &[])
}

#[test]
fn ack_nodelay_switched_on_answers_from_input() {
    let t = Timestamp::from_millis(100);
    let mut k = Kcp::new(CONV, Config::new(), t);
    k.input(&push(0, 50), t).unwrap();
    assert_eq!(k.pending_transmits(), 0, "one ACK waits for the interval");
    k.set_ack_nodelay(true);
    assert!(k.config().ack_nodelay());
    k.input(&push(1, 60), t).unwrap();
    assert_eq!(k.pending_transmits(), 1, "the ACKs leave from input");
    k.set_ack_nodelay(false);
    k.input(&push(2, 70), t).unwrap();
    assert_eq!(k.pending_transmits(), 1, "back to waiting");
}

/// The RTO floor follows `nodelay` (30 ms on, 100 ms off) when it is
/// changed on a live endpoint, and stays when the argument is negative.
#[test]
fn nodelay_changes_move_the_rto_floor() {
    let mut t = Timestamp::from_millis(0);
    let mut cfg = Config::new();
    cfg.set_nodelay(1, 10, 0, 1);
    let mut k = Kcp::new(CONV, cfg, t);
    let mut sn = 0;
    let mut sample = |k: &mut Kcp, t: &mut Timestamp| {
        // One segment out, acknowledged 2 ms later: tiny RTT samples.
        k.send(b"p").unwrap();
        k.flush(*t);
        while k.poll_transmit().is_some() {}
        let sent = t.as_millis();
        *t = t.add_millis(2);
        k.input(&ack(sn, sent), *t).unwrap();
        sn += 1;
    };
    for _ in 0..20 {
        sample(&mut k, &mut t);
    }
    assert_eq!(k.rto(), 30, "nodelay floor");
    k.set_nodelay(0, -1, -1, -1);
    sample(&mut k, &mut t);
    assert_eq!(k.rto(), 100, "normal floor once nodelay is off");
    k.set_nodelay(-1, 20, 2, -1);
    sample(&mut k, &mut t);
    assert_eq!(k.rto(), 100, "a negative nodelay keeps the floor");
    k.set_nodelay(1, -1, -1, -1);
    sample(&mut k, &mut t);
    assert_eq!(k.rto(), 30);
}

/// kcp-go's `SetWriteDelay`: off (default), a write asks for a flush now;
/// on, data waits for the next interval tick. The ikcp profile always
/// waits for `update`.
#[test]
fn write_delay_decides_whether_a_write_flushes_now() {
    for (delay, want_now) in [(false, true), (true, false)] {
        let t = Timestamp::from_millis(1000);
        let mut cfg = Config::new();
        cfg.set_nodelay(1, 20, 0, 1).set_write_delay(delay);
        let mut k = Kcp::new(CONV, cfg, t);
        // The first tick has passed; the next one is 20 ms away.
        k.handle_timeout(t);
        let t = t.add_millis(5);
        k.send(b"hello").unwrap();
        let due = k.poll_timeout().unwrap();
        // (A time not after `t` means "now".)
        assert_eq!(t.reached(due), want_now, "write_delay {delay}: due {due:?}");
        if !want_now {
            assert_eq!(due, Timestamp::from_millis(1020));
        }
        k.handle_timeout(t);
        assert_eq!(k.pending_transmits(), usize::from(want_now));
    }
}

/// A datagram rebuilt by FEC (kcp-go's `IKCP_PACKET_FEC`) may be old: in
/// the kcp-go profile it neither updates the peer's window nor gives an
/// RTT sample nor counts a repeat; its data and ACKs still count.
#[test]
fn recovered_datagrams_leave_window_rtt_and_repeats_alone() {
    use kcp_core::Origin;
    let t0 = Timestamp::from_millis(0);
    for origin in [Origin::Regular, Origin::Recovered] {
        let regular = origin == Origin::Regular;
        let mut k = Kcp::new(CONV, Config::new(), t0);
        k.send(b"ping").unwrap();
        k.handle_timeout(t0);
        assert_eq!(k.pending_transmits(), 1);
        while k.poll_transmit().is_some() {}
        let t = t0.add_millis(40);
        let mut d = push(0, 0);
        d.extend(push(0, 0)); // a duplicate
        let mut a = ack(0, 0);
        a[6..8].copy_from_slice(&7u16.to_le_bytes()); // wnd 7
        d.extend(a);
        k.input_from(&d, t, origin).unwrap();
        let st = k.state();
        assert_eq!(st.snd_una, 1, "{origin:?}: the ACK counts");
        assert_eq!(st.rcv_nxt, 1, "{origin:?}: the data counts");
        assert_eq!(st.rmt_wnd, if regular { 7 } else { 32 }, "{origin:?}");
        assert_eq!(k.srtt(), if regular { 40 } else { 0 }, "{origin:?}");
        assert_eq!(k.stats().repeat_segs, u64::from(regular), "{origin:?}");
    }
}
