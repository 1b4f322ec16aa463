//! Settings changed on a live endpoint take effect at once, as kcp-go's
//! setters do on a running session.

use kcp_core::{Command, Config, Header, Kcp, OVERHEAD, Timestamp};

const CONV: u32 = 9;

fn push(sn: u32, ts: u32) -> Vec<u8> {
    let h = Header {
        conv: CONV,
        cmd: Command::Push as u8,
        frg: 0,
        wnd: 32,
        ts,
        sn,
        una: 0,
        len: 1,
    };
    let mut v = vec![0u8; OVERHEAD];
    h.encode((&mut v[..]).try_into().unwrap());
    v.push(b'x');
    v
}

fn ack(sn: u32, ts: u32) -> Vec<u8> {
    let h = Header {
        conv: CONV,
        cmd: Command::Ack as u8,
        frg: 0,
        wnd: 32,
        ts,
        sn,
        una: sn + 1,
        len: 0,
    };
    let mut v = vec![0u8; OVERHEAD];
    h.encode((&mut v[..]).try_into().unwrap());
    v
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
