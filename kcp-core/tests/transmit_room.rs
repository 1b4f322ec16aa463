//! Head and tail room around emitted datagrams, and the zero-copy path.
//!
//! Outer layers (FEC, crypto) frame a `Transmit` in place: the headroom in
//! front, the tailroom after. Without any room, a data segment that fills
//! a datagram alone is lent from its own buffer instead of copied. Neither
//! may change what goes on the wire: two worlds that differ only in room
//! must emit the same datagrams in the same order, and an outer layer that
//! scribbles over a datagram (encrypting it in place) must not change what
//! a later retransmission of it carries.

mod common;

use kcp_core::{Config, Kcp, Timestamp};

const HEAD: usize = 28;
const TAIL: usize = 16;

fn config(mtu: u32, head: usize, tail: usize) -> Config {
    let mut cfg = Config::new();
    cfg.set_nodelay(1, 10, 2, 1).set_window(64, 64);
    cfg.set_mtu(mtu).unwrap();
    cfg.set_headroom(head).set_tailroom(tail);
    cfg
}

struct World {
    a: Kcp,
    b: Kcp,
    head: usize,
    tail: usize,
}

impl World {
    fn new(mtu: u32, head: usize, tail: usize, now: Timestamp) -> World {
        World {
            a: Kcp::new(3, config(mtu, head, tail), now),
            b: Kcp::new(3, config(mtu, head, tail), now),
            head,
            tail,
        }
    }

    /// Flushes both ends; returns what each emitted (KCP bytes only), after
    /// checking the framing room and scribbling over every datagram as an
    /// in-place cipher would.
    fn step(&mut self, now: Timestamp) -> [Vec<Vec<u8>>; 2] {
        let (head, tail) = (self.head, self.tail);
        let mut out = [Vec::new(), Vec::new()];
        for (i, k) in [&mut self.a, &mut self.b].into_iter().enumerate() {
            k.handle_timeout(now);
            let pending = k.pending_transmits();
            let before = k.stats();
            let mut bytes = 0;
            while let Some(mut t) = k.poll_transmit() {
                let kcp = t.payload().to_vec();
                assert_eq!(t.headroom(), head);
                assert_eq!(t.framed().len(), head + kcp.len());
                assert_eq!(&t.framed()[head..], &kcp[..]);
                // The outer layer's header and trailer fit without growing.
                let buf = t.buffer_mut();
                assert!(
                    buf.len() >= head + kcp.len() + tail,
                    "room after the payload"
                );
                buf[..head].fill(0xEE);
                buf[head + kcp.len()..head + kcp.len() + tail].fill(0xDD);
                assert_eq!(
                    t.payload(),
                    &kcp[..],
                    "header and trailer left the payload alone"
                );
                // Encrypt in place: must not reach the retransmission buffer.
                for b in t.payload_mut() {
                    *b ^= 0x5A;
                }
                assert!(t.payload().iter().zip(&kcp).all(|(x, y)| *x == *y ^ 0x5A));
                bytes += kcp.len() as u64;
                out[i].push(kcp);
            }
            // Every datagram announced was handed out, and counted.
            assert_eq!(out[i].len(), pending);
            assert_eq!(k.pending_transmits(), 0);
            let after = k.stats();
            assert_eq!(after.out_pkts - before.out_pkts, pending as u64);
            assert_eq!(after.out_bytes - before.out_bytes, bytes);
        }
        out
    }
}

#[test]
fn room_and_lending_emit_exactly_the_same_datagrams() {
    let rooms = [(HEAD, TAIL), (HEAD, 0), (0, TAIL)];
    for (mtu, (head, tail)) in [1400u32, 200, 71]
        .into_iter()
        .flat_map(|m| rooms.map(|r| (m, r)))
    {
        let mut now = Timestamp::from_millis(u32::MAX - 3000);
        let mut bare = World::new(mtu, 0, 0, now);
        let mut framed = World::new(mtu, head, tail, now);
        let mss = mtu as usize - 24;
        let mut got = [Vec::new(), Vec::new()];
        let mut sent = [Vec::new(), Vec::new()];
        let mut dropped = 0usize;
        let mut emitted = 0usize;
        for round in 0..400u32 {
            // Both directions carry data, so ACKs and full-size segments
            // leave in the same flush; sizes cross the lending boundary.
            if round % 3 == 0 && round < 300 {
                for (dir, len) in [(0usize, 3 * mss + 7), (1, mss - 24 + (round as usize % 50))] {
                    let msg: Vec<u8> = (0..len).map(|i| (i as u32 * 7 + round) as u8).collect();
                    for w in [&mut bare, &mut framed] {
                        let k = if dir == 0 { &mut w.a } else { &mut w.b };
                        k.send(&msg).unwrap();
                    }
                    sent[dir].extend_from_slice(&msg);
                }
            }
            let x = bare.step(now);
            let y = framed.step(now);
            assert_eq!(x, y, "mtu {mtu} round {round}: room changed the wire");
            for (from, datagrams) in x.iter().enumerate() {
                for (i, d) in datagrams.iter().enumerate() {
                    emitted += 1;
                    // Deterministic loss, to exercise retransmission of lent buffers.
                    if (round as usize + i * 7 + from) % 5 == 0 {
                        dropped += 1;
                        continue;
                    }
                    for w in [&mut bare, &mut framed] {
                        let k = if from == 0 { &mut w.b } else { &mut w.a };
                        k.input(d, now).unwrap();
                    }
                }
            }
            for (dir, w) in [(1usize, 0usize), (0, 1)] {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let r0 = if w == 0 {
                        bare.a.recv(&mut buf)
                    } else {
                        bare.b.recv(&mut buf)
                    };
                    let Ok(n) = r0 else { break };
                    let mut buf1 = vec![0u8; 1 << 16];
                    let n1 = if w == 0 {
                        framed.a.recv(&mut buf1)
                    } else {
                        framed.b.recv(&mut buf1)
                    }
                    .unwrap();
                    assert_eq!(&buf[..n], &buf1[..n1]);
                    got[dir].extend_from_slice(&buf[..n]);
                }
            }
            now = now.add_millis(10);
        }
        assert!(
            dropped > 20 && emitted > 200,
            "mtu {mtu}: {dropped}/{emitted}"
        );
        assert_eq!(got[0], sent[0], "mtu {mtu}: a to b");
        assert_eq!(got[1], sent[1], "mtu {mtu}: b to a");
    }
}

/// Segments queued before the MTU shrinks keep their size: their datagrams
/// outgrow the new buffer size and must still come with the full room,
/// whichever room is asked for and however little the MTU shrank (here by
/// less than the tailroom, or to a seventh).
#[test]
fn segments_queued_before_an_mtu_shrink_keep_their_room() {
    let now = Timestamp::from_millis(0);
    let msg: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    for (head, tail) in [(HEAD, TAIL), (HEAD, 0), (0, TAIL)] {
        for shrunk in [200, 1390] {
            let mut w = World::new(1400, head, tail, now);
            w.a.send(&msg).unwrap();
            w.a.set_mtu(shrunk).unwrap();
            w.b.set_mtu(shrunk).unwrap();
            let [from_a, _] = w.step(now);
            let sizes: Vec<usize> = from_a.iter().map(Vec::len).collect();
            assert_eq!(sizes, [1400, 1400, 1400, 24 + 5000 - 3 * 1376]);
            for d in &from_a {
                w.b.input(d, now).unwrap();
            }
            let mut buf = vec![0u8; 8192];
            assert_eq!(w.b.recv(&mut buf), Ok(5000));
            assert_eq!(&buf[..5000], &msg[..]);
        }
    }
}

/// `poll_transmit_into` copies a datagram into a buffer of exactly its size;
/// a smaller buffer gets nothing and the datagram stays queued.
#[test]
fn poll_transmit_into_takes_an_exact_fit_and_keeps_what_does_not_fit() {
    let now = Timestamp::from_millis(0);
    let mut a = Kcp::new(3, config(200, HEAD, TAIL), now);
    a.send(&[7u8; 100]).unwrap();
    a.send(&[8u8; 10]).unwrap();
    a.flush(now);
    assert_eq!(a.pending_transmits(), 1);
    let len = 24 + 100 + 24 + 10;
    let mut small = vec![0u8; len - 1];
    assert_eq!(a.poll_transmit_into(&mut small), None);
    assert_eq!(a.pending_transmits(), 1, "kept for a bigger buffer");
    let mut exact = vec![0u8; len];
    assert_eq!(a.poll_transmit_into(&mut exact), Some(len));
    assert_eq!(&exact[24..124], &[7u8; 100]);
    assert_eq!(&exact[148..], &[8u8; 10]);
    assert_eq!(a.pending_transmits(), 0);
    assert_eq!(a.poll_transmit_into(&mut exact), None);
    assert_eq!(a.stats().out_pkts, 1);
    assert_eq!(a.stats().out_bytes, len as u64);

    // The same for a datagram lent from its segment (no room configured).
    let mut b = Kcp::new(3, config(200, 0, 0), now);
    b.send(&[9u8; 176]).unwrap();
    b.flush(now);
    let mut small = [0u8; 199];
    assert_eq!(b.poll_transmit_into(&mut small), None);
    assert_eq!(b.pending_transmits(), 1);
    let mut exact = [0u8; 200];
    assert_eq!(b.poll_transmit_into(&mut exact), Some(200));
    assert_eq!(exact[24..], [9u8; 176]);
    assert_eq!((b.stats().out_pkts, b.pending_transmits()), (1, 0));
}

/// A lent datagram whose segment was acknowledged before the application
/// polled it is obsolete and skipped, by both polling calls; the copy made
/// for a retransmission that was itself superseded is skipped too.
#[test]
fn obsolete_lent_datagrams_are_skipped() {
    use kcp_core::Command;
    for copy_out in [false, true] {
        let now = Timestamp::from_millis(0);
        let mut a = Kcp::new(3, config(200, 0, 0), now);
        // Two full segments (lent), then one small one.
        a.send(&[1u8; 176]).unwrap();
        a.send(&[2u8; 176]).unwrap();
        a.send(&[3u8; 10]).unwrap();
        a.handle_timeout(now);
        assert_eq!(a.pending_transmits(), 3);
        // The peer acknowledges sn 0 before anything was polled.
        let d = common::wire::seg(3, Command::Ack as u8, 0, 0, 64, 0, &[]);
        a.input(&d, now).unwrap();
        let mut sns = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let p = if copy_out {
                match a.poll_transmit_into(&mut buf) {
                    Some(n) => buf[..n].to_vec(),
                    None => break,
                }
            } else {
                match a.poll_transmit() {
                    Some(t) => t.payload().to_vec(),
                    None => break,
                }
            };
            sns.push(u32::from_le_bytes(p[12..16].try_into().unwrap()));
        }
        assert_eq!(sns, [1, 2], "copy_out {copy_out}: sn 0 was acknowledged");
        assert_eq!(a.stats().out_pkts, 2);
    }
}

/// In the simulator, the MTU may change after the simulation was built:
/// raised (bigger datagrams) or lowered with big segments still queued;
/// the transfer completes either way.
#[cfg(feature = "sim")]
#[test]
fn the_simulator_carries_datagrams_after_mtu_changes() {
    use kcp_core::sim::{LinkConfig, Sim, SimConfig};
    for (first, second) in [(1400u32, 9000u32), (9000, 200)] {
        let now = Timestamp::from_millis(0);
        let a = Kcp::new(3, config(first, 0, 0), now);
        let b = Kcp::new(3, config(first, 0, 0), now);
        let mut sim = Sim::with_config(a, b, SimConfig::new().link(LinkConfig::delayed(5)));
        let msg: Vec<u8> = (0..60_000u32).map(|i| (i * 31) as u8).collect();
        for m in msg.chunks(20_000) {
            sim.a_mut().send(m).unwrap();
        }
        sim.a_mut().set_mtu(second).unwrap();
        sim.b_mut().set_mtu(second).unwrap();
        // (Messages of fewer fragments than the receive window of 64.)
        for m in msg.chunks(5_000) {
            sim.a_mut().send(m).unwrap();
        }
        let mut got = Vec::new();
        for ms in (10..5_000).step_by(10) {
            sim.run_until(now.add_millis(ms));
            while sim.b_mut().recv_vec(&mut got).is_ok() {}
        }
        assert_eq!(got.len(), 2 * msg.len(), "mtu {first} -> {second}");
        assert_eq!(got[..msg.len()], msg[..]);
        assert_eq!(got[msg.len()..], msg[..]);
    }
}
