//! Property: random message sequences, both directions at once, over random
//! lossy links (up to 30% loss, reordering, duplication) arrive exactly once
//! and in order, in message and in stream mode, and the run finishes.
#![cfg(feature = "proptest")]

use std::collections::VecDeque;

use kcp_core::sim::{LinkConfig, Sim, SimConfig, strategies};
use kcp_core::{Config, Kcp, Profile, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// One side's application: what it still has to send and what it expects.
#[derive(Default)]
struct App {
    outbox: VecDeque<Vec<u8>>,
    /// Messages (message mode) the peer must deliver, in order.
    expect_msgs: VecDeque<Vec<u8>>,
    /// Bytes (stream mode) the peer must deliver, in order.
    expect_bytes: VecDeque<u8>,
    delivered: usize,
}

fn pump_sends(k: &mut Kcp, app: &mut App) {
    // Back-pressure like kcp-go's session Write: wait while the window is full.
    while k.wait_snd() < 2 * k.config().snd_wnd() as usize {
        let Some(msg) = app.outbox.pop_front() else {
            break;
        };
        let n = k.send(&msg).expect("message fits the configured limits");
        assert_eq!(n, msg.len());
    }
}

fn drain_recv(k: &mut Kcp, peer_app: &mut App, stream: bool, buf: &mut [u8]) {
    while let Ok(n) = k.recv(buf) {
        if stream {
            for &b in &buf[..n] {
                assert_eq!(Some(b), peer_app.expect_bytes.pop_front(), "stream byte");
            }
        } else {
            let want = peer_app.expect_msgs.pop_front().expect("no extra message");
            assert_eq!(&buf[..n], &want[..], "message content");
        }
        peer_app.delivered += n;
    }
}

fn config(profile: Profile, preset: u8, stream: bool, window: Option<i32>) -> Config {
    let mut c = Config::with_profile(profile);
    match preset {
        0 => {}
        1 => {
            c.set_nodelay(1, 10, 2, 1).set_window(128, 128);
        }
        2 => {
            c.set_nodelay(0, 40, 0, 0);
        }
        _ => {
            c.set_nodelay(1, 20, 2, 1).set_window(64, 64);
        }
    }
    if let Some(w) = window {
        // Both directions; the receive ring rounds its size up to a power
        // of two, so windows like 100 or 300 leave slots past the window.
        c.set_window(w, w);
    }
    c.set_stream(stream);
    c
}

/// The preset's window most of the time, else one that is not a power of
/// two (or a random one) on both peers.
fn windows() -> impl Strategy<Value = Option<i32>> {
    prop_oneof![
        2 => Just(None),
        1 => prop::sample::select(vec![100, 127, 300]).prop_map(Some),
        1 => (16i32..400).prop_map(Some),
    ]
}

fn messages(seed: u64, count: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut rng = kcp_core::sim::SimRng::new(seed);
    (0..count)
        .map(|_| {
            let len = rng.gen_range(1..=max_len as u64) as usize;
            (0..len).map(|_| rng.next_u32() as u8).collect()
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run(
    profile: Profile,
    (preset, window): (u8, Option<i32>),
    stream: bool,
    link_ab: LinkConfig,
    link_ba: LinkConfig,
    start: Timestamp,
    seed: u64,
    count: usize,
) {
    let ca = config(profile, preset, stream, window);
    let cb = config(profile, preset, stream, window);
    // Keep every message within the peer's receive window (fragment rule).
    let max_len = (ca.rcv_wnd().min(16) as usize - 1) * ca.mss() as usize;
    let conv = seed as u32;
    let a = Kcp::new(conv, ca, start);
    let b = Kcp::new(conv, cb, start);
    let cfg = SimConfig::new()
        .seed(seed)
        .start(start)
        .a_to_b(link_ab)
        .b_to_a(link_ba);
    let mut sim = Sim::with_config(a, b, cfg);

    let mut app_a = App::default();
    let mut app_b = App::default();
    for (app, s) in [(&mut app_a, seed ^ 1), (&mut app_b, seed ^ 2)] {
        for m in messages(s, count, max_len) {
            if stream {
                app.expect_bytes.extend(&m);
            } else {
                app.expect_msgs.push_back(m.clone());
            }
            app.outbox.push_back(m);
        }
    }
    let total_a: usize = app_a.outbox.iter().map(Vec::len).sum();
    let total_b: usize = app_b.outbox.iter().map(Vec::len).sum();

    let mut buf = vec![0u8; 1 << 20];
    // Virtual time is cheap (idle gaps are skipped). Classic ikcp doubles a
    // segment's RTO on every timeout without a cap, and a per-datagram burst
    // channel stays "bad" across those sparse retransmissions, so some
    // seeded links legitimately take many simulated minutes to recover.
    let limit_ms: u64 = std::env::var("KCP_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(86_400_000);
    while sim.elapsed_ms() < limit_ms {
        pump_sends(sim.a_mut(), &mut app_a);
        pump_sends(sim.b_mut(), &mut app_b);
        let progressed = sim.step();
        drain_recv(sim.b_mut(), &mut app_a, stream, &mut buf);
        drain_recv(sim.a_mut(), &mut app_b, stream, &mut buf);
        let done = app_a.delivered == total_a && app_b.delivered == total_b;
        if done {
            break;
        }
        assert!(
            progressed || !app_a.outbox.is_empty() || !app_b.outbox.is_empty(),
            "stalled with data outstanding at {} ms",
            sim.elapsed_ms()
        );
    }
    assert_eq!(
        app_a.delivered, total_a,
        "A->B complete within {limit_ms} ms"
    );
    assert_eq!(
        app_b.delivered, total_b,
        "B->A complete within {limit_ms} ms"
    );
    assert!(app_a.expect_msgs.is_empty() && app_a.expect_bytes.is_empty());
    assert!(app_b.expect_msgs.is_empty() && app_b.expect_bytes.is_empty());
    // Nothing delivered twice: the queues were empty when checked above, and
    // any extra message would have failed `expect("no extra message")`.
    for _ in 0..1000 {
        sim.step();
    }
    assert!(sim.a_mut().recv(&mut buf).is_err() && sim.b_mut().recv(&mut buf).is_err());
}

fn lossy() -> impl Strategy<Value = LinkConfig> {
    strategies::lossy_link(0.30)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // Deterministic: the same cases on every run and in CI.
        rng_seed: RngSeed::Fixed(std::env::var("KCP_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x006b_6370)),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn kcp_go_profile_delivers_exactly_once_in_order(
        preset in 0u8..4,
        window in windows(),
        stream in any::<bool>(),
        ab in lossy(),
        ba in lossy(),
        start in strategies::start_time(),
        seed in any::<u64>(),
        count in 1usize..40,
    ) {
        run(Profile::KcpGo, (preset, window), stream, ab, ba, start, seed, count);
    }

    #[test]
    fn ikcp_profile_delivers_exactly_once_in_order(
        preset in 0u8..4,
        window in windows(),
        stream in any::<bool>(),
        ab in lossy(),
        ba in lossy(),
        start in strategies::start_time(),
        seed in any::<u64>(),
        count in 1usize..30,
    ) {
        let (mut ab, mut ba) = (ab, ba);
        if preset == 0 {
            // Classic ikcp in normal mode doubles each segment's RTO on every
            // timeout, uncapped; a per-datagram burst channel then stays in
            // its bad state across retransmissions minutes apart and the run
            // can exceed any budget (seen: > 24 h simulated). Independent loss
            // only for that one combination.
            ab.burst = None;
            ba.burst = None;
        }
        run(Profile::Ikcp, (preset, window), stream, ab, ba, start, seed, count);
    }
}

#[test]
fn thirty_percent_loss_with_duplication_and_reordering_completes() {
    let link = LinkConfig::lossy(0.30, 20)
        .jitter_ms(15)
        .reorder(0.1, 40)
        .duplicate(0.1);
    for (i, profile) in [Profile::KcpGo, Profile::Ikcp].into_iter().enumerate() {
        for stream in [false, true] {
            run(
                profile,
                (1, None),
                stream,
                link.clone(),
                link.clone(),
                Timestamp::from_millis(0xFFFF_F000),
                77 + i as u64,
                60,
            );
        }
    }
}
