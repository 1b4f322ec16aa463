//! The receive calls' errors and their agreement: `peek_size`, `recv`,
//! `recv_vec` and `recv_with` see the same queue.

mod common;

use kcp_core::{Config, Kcp, RecvError, Timestamp};

fn pair() -> (Kcp, Kcp, Timestamp) {
    let t = Timestamp::from_millis(0);
    let mut cfg = Config::new();
    cfg.set_mtu(200).unwrap();
    // No congestion window: everything queued goes out in the first flush.
    cfg.set_nodelay(1, 10, 2, 1);
    (Kcp::new(5, cfg.clone(), t), Kcp::new(5, cfg, t), t)
}

/// Delivers `a`'s queued datagrams to `b`, dropping those `drop` picks.
fn deliver(a: &mut Kcp, b: &mut Kcp, t: Timestamp, mut drop: impl FnMut(usize) -> bool) {
    a.handle_timeout(t);
    let mut i = 0;
    while let Some(d) = a.poll_transmit() {
        let d = d.payload().to_vec();
        if !drop(i) {
            b.input(&d, t).unwrap();
        }
        i += 1;
    }
}

#[test]
fn empty_incomplete_too_small_then_every_reader_agrees() {
    let (mut a, mut b, t) = pair();
    let mut buf = [0u8; 4096];
    assert_eq!(b.peek_size(), Err(RecvError::Empty));
    assert_eq!(b.recv(&mut buf), Err(RecvError::Empty));
    assert_eq!(
        b.recv_with(|_| panic!("nothing to hand out")),
        Err(RecvError::Empty)
    );

    // A 3-fragment message whose middle fragment is lost, then a 1-byte one.
    let msg: Vec<u8> = (0..400u32).map(|i| i as u8).collect();
    a.send(&msg).unwrap();
    a.send(b"z").unwrap();
    deliver(&mut a, &mut b, t, |i| i == 1);
    assert_eq!(b.state().rcv_queue, 1, "the first fragment is queued");
    assert_eq!(b.peek_size(), Err(RecvError::Incomplete));
    assert_eq!(b.recv(&mut buf), Err(RecvError::Incomplete));
    assert_eq!(
        b.recv_with(|_| panic!("incomplete")),
        Err(RecvError::Incomplete)
    );

    // The retransmission fills the hole: the whole message is readable.
    let t = t.add_millis(5_000);
    deliver(&mut a, &mut b, t, |_| false);
    assert_eq!(b.peek_size(), Ok(400));
    assert_eq!(
        b.recv(&mut buf[..399]),
        Err(RecvError::BufferTooSmall { needed: 400 })
    );
    let mut pieces = Vec::new();
    assert_eq!(b.recv_with(|f| pieces.extend_from_slice(f)), Ok(400));
    assert_eq!(pieces, msg);
    let mut v = Vec::new();
    assert_eq!(b.recv_vec(&mut v), Ok(1));
    assert_eq!(v, b"z");
    assert_eq!(b.recv(&mut buf), Err(RecvError::Empty));
}

/// kcp-go's fast recover: a read that reopens a full receive window makes
/// the next flush announce it (WINS), but not while segments already
/// waiting in the buffer refill the queue to the window at once.
#[test]
fn a_read_announces_the_window_only_when_it_reopens() {
    use kcp_core::{Command, OVERHEAD};
    let t = Timestamp::from_millis(0);
    let mut cfg = Config::new();
    cfg.set_window(32, 4).set_nodelay(1, 10, 0, 1);
    let mut k = Kcp::new(5, cfg, t);
    for sn in 0..6u32 {
        k.input(
            &common::wire::seg(5, Command::Push as u8, sn, 0, 32, 0, &[sn as u8]),
            t,
        )
        .unwrap();
    }
    k.flush(t);
    while k.poll_transmit().is_some() {}
    let wins_after_flush = |k: &mut Kcp| {
        k.flush(t);
        let mut wins = Vec::new();
        while let Some(d) = k.poll_transmit() {
            for h in d.payload().chunks(OVERHEAD) {
                if h[4] == Command::WindowTell as u8 {
                    wins.push(u16::from_le_bytes([h[6], h[7]]));
                }
            }
        }
        wins
    };
    // Queue 0..=3 (the window), buffer 4, 5. Each of the first two reads
    // frees a slot that sn 4, then 5, fills at once: no announcement.
    let mut buf = [0u8; 8];
    for sn in 0..2u8 {
        assert_eq!(k.recv(&mut buf), Ok(1));
        assert_eq!(buf[0], sn);
        assert_eq!(wins_after_flush(&mut k), [] as [u16; 0], "read {sn}");
    }
    // Now the buffer is empty: the next read reopens the window, announced
    // with one free slot.
    assert_eq!(k.recv(&mut buf), Ok(1));
    assert_eq!(wins_after_flush(&mut k), [1]);
}
