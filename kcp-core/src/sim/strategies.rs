//! [Proptest](mod@proptest) strategies for simulator settings (feature `proptest`).
//!
//! Property tests over "any reasonable network" instead of a handful of
//! hand-picked links:
//!
//! ```
//! use kcp_core::sim::strategies::{lossy_link, sim_config};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(8))]
//!     // Put `#[test]` here in a real test module.
//!     fn links_stay_within_bounds(cfg in sim_config(lossy_link(0.3))) {
//!         prop_assert!(cfg.a_to_b.mean_loss() <= 0.3 + 1e-9);
//!     }
//! }
//! # links_stay_within_bounds();
//! ```
//!
//! Failing cases shrink toward a perfect, zero-delay link, so a minimal
//! counterexample names only the impairments that matter.
//!
//! A worked example: property-testing an application protocol over KCP.
//! The client sends numbered requests, the server answers each one; on any
//! link with up to 20% loss (bursts, jitter, reordering, duplication), every
//! reply must come back exactly once, in order.
//!
//! ```
//! use kcp_core::sim::strategies::{lossy_link, sim_config};
//! use kcp_core::sim::Sim;
//! use kcp_core::{Config, Kcp};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(8))]
//!     // Put `#[test]` here in a real test module.
//!     fn every_request_gets_its_reply(cfg in sim_config(lossy_link(0.2)), n in 1u32..20) {
//!         let start = cfg.start;
//!         let mut c = Config::new();
//!         c.set_nodelay(1, 10, 2, 1);
//!         let (client, server) = (Kcp::new(7, c.clone(), start), Kcp::new(7, c, start));
//!         let mut sim = Sim::with_config(client, server, cfg);
//!         for i in 0..n {
//!             sim.a_mut().send(format!("req {i}").as_bytes()).unwrap();
//!         }
//!         let mut replies = Vec::new();
//!         let mut buf = [0u8; 64];
//!         while replies.len() < n as usize && sim.elapsed_ms() < 3_600_000 {
//!             sim.step();
//!             while let Ok(len) = sim.b_mut().recv(&mut buf) {
//!                 let req = std::str::from_utf8(&buf[..len]).unwrap().to_owned();
//!                 sim.b_mut().send(req.replace("req", "rep").as_bytes()).unwrap();
//!             }
//!             while let Ok(len) = sim.a_mut().recv(&mut buf) {
//!                 replies.push(String::from_utf8(buf[..len].to_vec()).unwrap());
//!             }
//!         }
//!         let want: Vec<String> = (0..n).map(|i| format!("rep {i}")).collect();
//!         prop_assert_eq!(replies, want);
//!     }
//! }
//! # every_request_gets_its_reply();
//! ```

use proptest::option;
use proptest::prelude::*;

use super::SimConfig;
use super::link::{GilbertElliott, LinkConfig};
use crate::Timestamp;

/// `[0, max]`, with `max` clamped into `[0, 1]` (NaN → 0).
fn probability(max: f64) -> impl Strategy<Value = f64> + Clone {
    let max = if max >= 1.0 {
        1.0
    } else if max > 0.0 {
        max
    } else {
        0.0
    };
    (0u32..=1_000_000).prop_map(move |k| f64::from(k) / 1_000_000.0 * max)
}

/// A Gilbert burst-loss channel with long-run loss in `[0, max_mean_loss]`
/// and mean bursts of 1 to 10 datagrams.
pub fn gilbert_elliott(max_mean_loss: f64) -> impl Strategy<Value = GilbertElliott> + Clone {
    (probability(max_mean_loss), 1u32..=10)
        .prop_map(|(mean, burst)| GilbertElliott::from_mean(mean, f64::from(burst)))
}

/// Any link whose long-run wire loss is at most `max_loss`: independent
/// and/or burst loss, delay 0–200 ms, jitter 0–50 ms, explicit reordering
/// (up to 10 %, 0–100 ms extra) and duplication (up to 5 %). No bandwidth
/// limit and no MTU, so every datagram that is not lost arrives.
pub fn lossy_link(max_loss: f64) -> impl Strategy<Value = LinkConfig> + Clone {
    // Half the budget each, so the combined rate stays under `max_loss`.
    let half = if max_loss > 0.0 { max_loss / 2.0 } else { 0.0 };
    (
        probability(half),
        option::of(gilbert_elliott(half)),
        0u32..=200,
        0u32..=50,
        (probability(0.1), 0u32..=100),
        probability(0.05),
    )
        .prop_map(|(loss, burst, delay, jitter, (reorder, extra), dup)| {
            let mut link = LinkConfig::default()
                .loss(loss)
                .delay_ms(delay)
                .jitter_ms(jitter)
                .reorder(reorder, extra)
                .duplicate(dup);
            link.burst = burst;
            link
        })
}

/// [`lossy_link`] (up to 10 % loss) behind a bottleneck of 10 kB/s–10 MB/s
/// with a 4 KiB–1 MiB queue and an MTU between 576 and 65 535 bytes.
pub fn constrained_link() -> impl Strategy<Value = LinkConfig> + Clone {
    (
        lossy_link(0.1),
        10_000u64..=10_000_000,
        4096usize..=(1 << 20),
        576usize..=65_535,
    )
        .prop_map(|(link, bw, queue, mtu)| link.bandwidth(bw).max_queue_bytes(queue).mtu(mtu))
}

/// Any link: perfect with a delay, [`lossy_link`] up to 30 % loss, or
/// [`constrained_link`].
pub fn any_link() -> impl Strategy<Value = LinkConfig> + Clone {
    prop_oneof![
        (0u32..=200).prop_map(LinkConfig::delayed),
        lossy_link(0.3),
        constrained_link(),
    ]
}

/// A start time for the virtual clock: anywhere, 0, or within a minute
/// before the u32 wrap (where timer bugs hide).
pub fn start_time() -> impl Strategy<Value = Timestamp> + Clone {
    prop_oneof![Just(0u32), (u32::MAX - 60_000)..=u32::MAX, any::<u32>(),]
        .prop_map(Timestamp::from_millis)
}

/// A whole [`SimConfig`]: any seed, a [`start_time`], and a link drawn
/// independently from `link` for each direction.
pub fn sim_config<S>(link: S) -> impl Strategy<Value = SimConfig>
where
    S: Strategy<Value = LinkConfig> + Clone,
{
    (any::<u64>(), start_time(), link.clone(), link).prop_map(|(seed, start, ab, ba)| {
        SimConfig::new()
            .seed(seed)
            .start(start)
            .a_to_b(ab)
            .b_to_a(ba)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn mean_losses(strategy: impl Strategy<Value = LinkConfig>, n: usize) -> Vec<f64> {
        let mut runner = TestRunner::deterministic();
        (0..n)
            .map(|_| {
                strategy
                    .new_tree(&mut runner)
                    .unwrap()
                    .current()
                    .mean_loss()
            })
            .collect()
    }

    /// The link strategies cover their documented range: never past the
    /// bound, and near it for some draws. A strategy stuck at no loss would
    /// let every property test built on it pass without testing loss.
    #[test]
    fn lossy_links_cover_their_loss_range() {
        for max in [0.1, 0.3] {
            let losses = mean_losses(lossy_link(max), 500);
            assert!(losses.iter().all(|&l| (0.0..=max + 1e-9).contains(&l)));
            let top = losses.iter().copied().fold(0.0, f64::max);
            assert!(top > 0.7 * max, "max {max}: highest mean loss {top}");
            let lossless = losses.iter().filter(|&&l| l == 0.0).count();
            assert!(lossless < 25, "max {max}: {lossless} of 500 lossless");
        }
        // A bound at or below 0 (or NaN) allows no loss at all.
        for max in [0.0, -1.0, f64::NAN] {
            assert!(mean_losses(lossy_link(max), 100).iter().all(|&l| l == 0.0));
        }
        // Above 1, each half of the budget clamps to a certainty.
        let losses = mean_losses(lossy_link(5.0), 200);
        assert!(losses.iter().all(|&l| (0.0..=1.0).contains(&l)));
        assert!(losses.iter().any(|&l| l > 0.9));
    }
}
