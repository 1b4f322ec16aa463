//! Steady state allocates nothing per packet: after a warm-up, a long
//! two-way exchange (sends, flushes, inputs, acks, receives, and a lossy
//! phase with retransmissions) performs zero heap allocations.
//!
//! This binary has a counting global allocator, so it holds this one test.

mod common;

use common::thread_allocs::{ThreadCounting, allocs};
use kcp_core::{Config, Kcp, Profile, Timestamp};

/// Counts the test thread's allocations only (the harness's own threads
/// may allocate).
#[global_allocator]
static GLOBAL: ThreadCounting = ThreadCounting;

/// Moves `rounds` messages each way through an in-memory link that drops
/// every `drop_every`-th datagram (0 = none), advancing 10 ms per round.
/// `copy_out` takes datagrams with `poll_transmit_into` (as the session
/// layer does) instead of borrowing them.
#[allow(clippy::too_many_arguments)]
fn exchange(
    copy_out: bool,
    a: &mut Kcp,
    b: &mut Kcp,
    now: &mut Timestamp,
    rounds: usize,
    drop_every: usize,
    link: &mut Vec<(bool, Vec<u8>)>,
    buf: &mut [u8],
) -> usize {
    let msg = [0x5Au8; 3000];
    let mut delivered = 0;
    let mut counter = 0usize;
    for _ in 0..rounds {
        for k in [&mut *a, &mut *b] {
            if k.wait_snd() < 64 {
                k.send(&msg).unwrap();
            }
            k.handle_timeout(*now);
        }
        // Datagrams cross in place: link slots are reused, never freed.
        let mut n = 0;
        for (from_a, k) in [(true, &mut *a), (false, &mut *b)] {
            loop {
                if n == link.len() {
                    link.push((false, Vec::with_capacity(2048)));
                }
                let slot = &mut link[n];
                slot.0 = from_a;
                if copy_out {
                    slot.1.resize(2048, 0);
                    let Some(len) = k.poll_transmit_into(&mut slot.1) else {
                        break;
                    };
                    slot.1.truncate(len);
                } else {
                    let Some(t) = k.poll_transmit() else { break };
                    slot.1.clear();
                    slot.1.extend_from_slice(t.payload());
                }
                n += 1;
            }
        }
        for (from_a, d) in &link[..n] {
            counter += 1;
            if drop_every != 0 && counter % drop_every == 0 {
                continue;
            }
            let to = if *from_a { &mut *b } else { &mut *a };
            to.input(d, *now).unwrap();
        }
        for k in [&mut *a, &mut *b] {
            while let Ok(m) = k.recv(buf) {
                delivered += m;
            }
        }
        *now = now.add_millis(10);
    }
    delivered
}

#[test]
fn steady_state_allocates_nothing() {
    // The counter works: this allocation is seen.
    let before = allocs();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert_eq!(allocs(), before + 1);
    let modes = [
        (Profile::KcpGo, false, 0),
        (Profile::Ikcp, false, 0),
        // The session layer's way: framing room, datagrams copied out.
        (Profile::KcpGo, true, 28),
        (Profile::KcpGo, true, 0),
    ];
    for (profile, copy_out, room) in modes {
        let mut cfg = Config::with_profile(profile);
        cfg.set_nodelay(1, 10, 2, 1).set_window(128, 128);
        cfg.set_headroom(room).set_tailroom(room / 2);
        let mut now = Timestamp::from_millis(0xFFFF_0000);
        let mut a = Kcp::new(1, cfg.clone(), now);
        let mut b = Kcp::new(1, cfg, now);
        let mut link = Vec::new();
        let mut buf = vec![0u8; 1 << 16];

        // Warm-up: pools, rings, heaps and lists reach their working size,
        // with and without loss.
        exchange(
            copy_out, &mut a, &mut b, &mut now, 400, 0, &mut link, &mut buf,
        );
        exchange(
            copy_out, &mut a, &mut b, &mut now, 400, 7, &mut link, &mut buf,
        );
        exchange(
            copy_out, &mut a, &mut b, &mut now, 400, 0, &mut link, &mut buf,
        );

        let before = allocs();
        let clean = exchange(
            copy_out, &mut a, &mut b, &mut now, 500, 0, &mut link, &mut buf,
        );
        let lossy = exchange(
            copy_out, &mut a, &mut b, &mut now, 500, 7, &mut link, &mut buf,
        );
        let after = allocs();

        assert!(clean > 1_000_000 && lossy > 1_000_000, "{clean} {lossy}");
        assert!(a.stats().retrans_segs > 0, "the lossy phase retransmitted");
        assert_eq!(
            after - before,
            0,
            "{profile:?} copy_out {copy_out} room {room}: allocations in steady state"
        );
    }
}
