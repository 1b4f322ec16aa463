//! The receive side keeps segment buffers up to a size that follows the
//! MTU: after `set_mtu` raises it, full-size segments reuse their buffers
//! (no allocation per segment); after `set_mtu` lowers it, buffers larger
//! than the new limit are released once read instead of staying pinned.
//!
//! Allocations are counted per thread, so the tests here may run in
//! parallel.

mod common;

use common::thread_allocs::{ThreadCounting, alloc_bytes, allocs};
use kcp_core::{Config, Kcp, Timestamp};

#[global_allocator]
static GLOBAL: ThreadCounting = ThreadCounting;

/// `a` sends `rounds` copies of `msg` to `b` over a lossless
/// in-memory link (10 ms per round); returns the bytes `b` received and
/// the segments that crossed to `b`.
fn one_way(
    a: &mut Kcp,
    b: &mut Kcp,
    now: &mut Timestamp,
    rounds: usize,
    msg: &[u8],
    link: &mut Vec<(bool, Vec<u8>)>,
    buf: &mut [u8],
) -> (usize, usize) {
    let (mut delivered, mut to_b) = (0, 0);
    for _ in 0..rounds {
        if a.wait_snd() < 32 {
            a.send(msg).unwrap();
        }
        a.handle_timeout(*now);
        b.handle_timeout(*now);
        let mut n = 0;
        for (from_a, k) in [(true, &mut *a), (false, &mut *b)] {
            while let Some(t) = k.poll_transmit() {
                if n == link.len() {
                    link.push((false, Vec::with_capacity(1 << 14)));
                }
                let slot = &mut link[n];
                slot.0 = from_a;
                slot.1.clear();
                slot.1.extend_from_slice(t.payload());
                n += 1;
            }
        }
        for (from_a, d) in &link[..n] {
            if *from_a {
                to_b += 1;
                b.input(d, *now).unwrap();
            } else {
                a.input(d, *now).unwrap();
            }
        }
        while let Ok(m) = b.recv(buf) {
            delivered += m;
        }
        *now = now.add_millis(10);
    }
    (delivered, to_b)
}

fn pair(now: Timestamp, mtu: u32) -> (Kcp, Kcp) {
    let mut cfg = Config::new();
    cfg.set_nodelay(1, 10, 2, 1).set_window(128, 128);
    cfg.set_mtu(mtu).unwrap();
    (Kcp::new(7, cfg.clone(), now), Kcp::new(7, cfg, now))
}

#[test]
fn raised_mtu_keeps_full_size_receive_buffers() {
    let mut now = Timestamp::from_millis(0);
    // Made with the default MTU (1400), raised afterwards on both sides:
    // the 8000-byte segments must be received into reused buffers.
    let (mut a, mut b) = pair(now, 1400);
    a.set_mtu(9000).unwrap();
    b.set_mtu(9000).unwrap();
    let (mut link, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
    let msg = vec![0xA5u8; 8000];
    one_way(&mut a, &mut b, &mut now, 400, &msg, &mut link, &mut buf);

    let before = allocs();
    let (delivered, segments) = one_way(&mut a, &mut b, &mut now, 400, &msg, &mut link, &mut buf);
    let spent = allocs() - before;
    assert_eq!(delivered, 400 * 8000, "one 8000-byte segment per round");
    assert!(segments >= 400);
    assert_eq!(spent, 0, "allocations receiving full-size segments");
}

#[test]
fn lowered_mtu_releases_large_receive_buffers() {
    let mut now = Timestamp::from_millis(0);
    // Made with MTU 9000 this time, so lowering it is the only change.
    let (mut a, mut b) = pair(now, 9000);
    let (mut link, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
    let msg = vec![0xA5u8; 8000];
    one_way(&mut a, &mut b, &mut now, 400, &msg, &mut link, &mut buf);
    // The receiver goes back to 1400; a peer still sending 8000-byte
    // segments no longer gets them kept: each one read frees its buffer,
    // so each one received needs a fresh one.
    b.set_mtu(1400).unwrap();
    // Buffers still held from before are reused once, then released.
    one_way(&mut a, &mut b, &mut now, 100, &msg, &mut link, &mut buf);
    let before = allocs();
    let (delivered, _) = one_way(&mut a, &mut b, &mut now, 200, &msg, &mut link, &mut buf);
    let spent = allocs() - before;
    assert_eq!(delivered, 200 * 8000);
    assert!(
        spent >= 200,
        "only {spent} allocations: large buffers stayed pinned"
    );
}

/// A queued segment holds one MTU's worth of buffer (header and payload;
/// framing room lives in the output buffers), not more: a write of 250
/// full segments asks the allocator for 250 MTUs plus the segment ring.
#[test]
fn queued_segments_are_sized_to_the_mtu() {
    for (mtu, room) in [(1400u32, 0usize), (1400, 44), (200, 0)] {
        let now = Timestamp::from_millis(0);
        let mut cfg = Config::new();
        cfg.set_window(1024, 1024).set_max_frag(255).unwrap();
        cfg.set_mtu(mtu).unwrap();
        cfg.set_headroom(room - room / 4).set_tailroom(room / 4);
        let mut a = Kcp::new(7, cfg, now);
        let mss = mtu as usize - 24;
        let msg = vec![1u8; 250 * mss];
        let before = alloc_bytes();
        a.send(&msg).unwrap();
        let spent = (alloc_bytes() - before) as usize;
        let floor = 250 * mtu as usize;
        // On top: the segment ring's slots as it doubles to 256 (28 KiB
        // measured, all steps together).
        assert!(
            spent >= floor && spent <= floor + 48 * 1024,
            "mtu {mtu} room {room}: {spent} bytes for {floor} of segments"
        );
    }
}

/// Segments cut before the MTU shrinks still leave whole, each in a
/// datagram buffer grown to its size plus the framing room: the flush that
/// sends them asks the allocator for about that much, not a multiple.
#[test]
fn datagrams_of_segments_cut_before_a_shrink_are_sized_to_them() {
    let now = Timestamp::from_millis(0);
    let (head, tail) = (28, 16);
    let mut cfg = Config::new();
    cfg.set_nodelay(1, 10, 2, 1).set_window(128, 128);
    cfg.set_mtu(9000).unwrap();
    cfg.set_headroom(head).set_tailroom(tail);
    let mut a = Kcp::new(7, cfg, now);
    a.send(&vec![3u8; 4 * 8976]).unwrap();
    a.set_mtu(1400).unwrap();
    let before = alloc_bytes();
    a.handle_timeout(now);
    let mut sizes = Vec::new();
    while let Some(t) = a.poll_transmit() {
        sizes.push(t.payload().len());
    }
    let spent = (alloc_bytes() - before) as usize;
    assert_eq!(sizes, [9000; 4]);
    // Four buffers of head + 9000 + tail (each first made at the new MTU's
    // size, then grown), plus the transmit queue's slots.
    let datagrams = 4 * (head + 1400 + tail) + 4 * (head + 9000 + tail);
    assert!(
        spent >= 4 * (head + 9000 + tail) && spent <= datagrams + 4096,
        "{spent} bytes for four 9000-byte datagrams"
    );
}
