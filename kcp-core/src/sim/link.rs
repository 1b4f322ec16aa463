//! One direction of a simulated network path: what can happen to a datagram
//! between `poll_transmit` on one side and `handle_input` on the other.

use super::rng::SimRng;

/// Default bottleneck queue size for a bandwidth-limited link (256 KiB, a
/// few hundred full-size KCP datagrams, like a modest router buffer).
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 256 * 1024;

/// Two-state Gilbert–Elliott burst-loss channel.
///
/// The channel is either *good* or *bad*. Before each datagram is put on the
/// wire the state moves (good→bad with `p_good_to_bad`, bad→good with
/// `p_bad_to_good`), then the datagram is lost with the loss probability of
/// the new state. The state advances per datagram, not per millisecond, so a
/// burst is "the next few datagrams", whatever the sending rate.
///
/// Long-run loss rate: `π_bad·loss_bad + (1−π_bad)·loss_good` with
/// `π_bad = p_good_to_bad / (p_good_to_bad + p_bad_to_good)`; the mean time
/// spent in the bad state is `1 / p_bad_to_good` datagrams.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct GilbertElliott {
    /// Probability, per datagram, of moving from the good to the bad state.
    pub p_good_to_bad: f64,
    /// Probability, per datagram, of moving from the bad to the good state.
    pub p_bad_to_good: f64,
    /// Loss probability while in the good state (usually 0).
    pub loss_good: f64,
    /// Loss probability while in the bad state (usually 1).
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// A channel with the given transition probabilities that loses every
    /// datagram in the bad state and none in the good state (the Gilbert model).
    pub fn new(p_good_to_bad: f64, p_bad_to_good: f64) -> Self {
        GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// Same transitions, with explicit loss probabilities for each state.
    #[must_use]
    pub fn with_loss(mut self, loss_good: f64, loss_bad: f64) -> Self {
        self.loss_good = loss_good;
        self.loss_bad = loss_bad;
        self
    }

    /// A Gilbert channel (all-or-nothing loss) with the given long-run loss
    /// rate and mean burst length in datagrams (clamped to at least 1).
    pub fn from_mean(mean_loss: f64, mean_burst_len: f64) -> Self {
        let mean_loss = clamp01(mean_loss).min(0.999_999);
        let p_bad_to_good = 1.0 / mean_burst_len.max(1.0);
        let p_good_to_bad = (mean_loss * p_bad_to_good / (1.0 - mean_loss)).min(1.0);
        GilbertElliott::new(p_good_to_bad, p_bad_to_good)
    }

    /// The stationary (long-run) loss probability of this channel alone.
    pub fn mean_loss(&self) -> f64 {
        let (gb, bg) = (clamp01(self.p_good_to_bad), clamp01(self.p_bad_to_good));
        let pi_bad = if gb + bg > 0.0 { gb / (gb + bg) } else { 0.0 };
        pi_bad * clamp01(self.loss_bad) + (1.0 - pi_bad) * clamp01(self.loss_good)
    }
}

/// Probabilities outside `[0, 1]` behave like the nearest bound; NaN like 0.
fn clamp01(p: f64) -> f64 {
    if p >= 1.0 {
        1.0
    } else if p > 0.0 {
        p
    } else {
        0.0
    }
}

/// How one direction of the simulated path treats datagrams.
///
/// `Default` (and [`LinkConfig::perfect`]) is a perfect link: no loss, no
/// delay, no limit. Build anything else with the chained methods:
///
/// ```
/// use kcp_core::sim::LinkConfig;
/// let wan = LinkConfig::lossy(0.02, 40)   // 2% loss, 40 ms one way
///     .jitter_ms(10)                      // + uniform 0..=10 ms
///     .duplicate(0.01)
///     .bandwidth(1_000_000)               // 1 MB/s bottleneck
///     .mtu(1400);
/// assert_eq!(wan.delay_ms, 40);
/// ```
///
/// What happens to a datagram handed to the link, in this order:
/// 1. larger than [`mtu`](Self::mtu) → dropped (`dropped_mtu`);
/// 2. bandwidth limit: it joins a FIFO bottleneck queue and occupies the link
///    for `len × 1000 / bandwidth` ms (microsecond resolution); if the queue
///    already holds bytes and adding this one would exceed `max_queue_bytes`,
///    it is tail-dropped (`dropped_queue`). A datagram reaching an idle link
///    is always accepted;
/// 3. loss: the Gilbert–Elliott state advances and may lose it, then the
///    independent `loss` may lose it (`dropped_loss`); a lost datagram still
///    used its share of bandwidth;
/// 4. with probability `duplicate` a second copy is made (`duplicated`);
/// 5. each copy independently gets `delay_ms + U[0, jitter_ms]`, plus
///    `reorder_delay_ms` with probability `reorder`, added to the instant its
///    serialization finished (rounded up to the next millisecond).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Independent loss probability per datagram.
    pub loss: f64,
    /// Bursty loss, applied before (and in addition to) `loss`.
    pub burst: Option<GilbertElliott>,
    /// Fixed one-way propagation delay in milliseconds.
    pub delay_ms: u32,
    /// Extra delay drawn uniformly from `0..=jitter_ms` for every datagram
    /// (and every duplicate) independently; jitter larger than the sending
    /// interval reorders datagrams.
    pub jitter_ms: u32,
    /// Probability that a datagram is held back by `reorder_delay_ms` extra.
    pub reorder: f64,
    /// The extra delay of a datagram picked by `reorder`.
    pub reorder_delay_ms: u32,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Bottleneck bandwidth in bytes per second; `None` (or `Some(0)`) is
    /// unlimited, with no queueing at all.
    pub bandwidth: Option<u64>,
    /// Capacity of the bottleneck queue in bytes (only with `bandwidth`).
    pub max_queue_bytes: usize,
    /// Largest datagram the path carries; `None` is unlimited.
    pub mtu: Option<usize>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            burst: None,
            delay_ms: 0,
            jitter_ms: 0,
            reorder: 0.0,
            reorder_delay_ms: 0,
            duplicate: 0.0,
            bandwidth: None,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            mtu: None,
        }
    }
}

impl LinkConfig {
    /// A perfect link: instant, lossless, unlimited (same as `Default`).
    pub fn perfect() -> Self {
        LinkConfig::default()
    }

    /// A lossless link with a fixed one-way delay.
    pub fn delayed(delay_ms: u32) -> Self {
        LinkConfig::default().delay_ms(delay_ms)
    }

    /// Independent loss `loss` and a fixed one-way delay.
    pub fn lossy(loss: f64, delay_ms: u32) -> Self {
        LinkConfig::default().loss(loss).delay_ms(delay_ms)
    }

    /// Bursty (Gilbert) loss with long-run rate `mean_loss` in bursts of
    /// `mean_burst_len` datagrams on average, and a fixed one-way delay.
    pub fn bursty(mean_loss: f64, mean_burst_len: f64, delay_ms: u32) -> Self {
        LinkConfig::default()
            .burst_loss(GilbertElliott::from_mean(mean_loss, mean_burst_len))
            .delay_ms(delay_ms)
    }

    /// A bandwidth bottleneck (bytes/second) with the default queue and a
    /// fixed one-way delay.
    pub fn constrained(bytes_per_sec: u64, delay_ms: u32) -> Self {
        LinkConfig::default()
            .bandwidth(bytes_per_sec)
            .delay_ms(delay_ms)
    }

    /// A link that loses everything (a partition; swap it in with
    /// `Sim::set_link` and back out to heal).
    pub fn down() -> Self {
        LinkConfig::default().loss(1.0)
    }

    /// Sets the independent loss probability.
    #[must_use]
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Sets Gilbert–Elliott burst loss (in addition to `loss`).
    #[must_use]
    pub fn burst_loss(mut self, channel: GilbertElliott) -> Self {
        self.burst = Some(channel);
        self
    }

    /// Sets the fixed one-way delay.
    #[must_use]
    pub fn delay_ms(mut self, ms: u32) -> Self {
        self.delay_ms = ms;
        self
    }

    /// Sets the uniform jitter bound (`0..=ms` extra per datagram).
    #[must_use]
    pub fn jitter_ms(mut self, ms: u32) -> Self {
        self.jitter_ms = ms;
        self
    }

    /// Holds back a fraction `p` of datagrams by `extra_ms` more.
    #[must_use]
    pub fn reorder(mut self, p: f64, extra_ms: u32) -> Self {
        self.reorder = p;
        self.reorder_delay_ms = extra_ms;
        self
    }

    /// Sets the duplication probability.
    #[must_use]
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Limits the link to `bytes_per_sec` (0 = unlimited).
    #[must_use]
    pub fn bandwidth(mut self, bytes_per_sec: u64) -> Self {
        self.bandwidth = (bytes_per_sec > 0).then_some(bytes_per_sec);
        self
    }

    /// Sets the bottleneck queue capacity in bytes.
    #[must_use]
    pub fn max_queue_bytes(mut self, bytes: usize) -> Self {
        self.max_queue_bytes = bytes;
        self
    }

    /// Drops datagrams longer than `bytes`.
    #[must_use]
    pub fn mtu(mut self, bytes: usize) -> Self {
        self.mtu = Some(bytes);
        self
    }

    /// The long-run fraction of datagrams lost on the wire (burst and
    /// independent loss combined; not counting MTU or queue drops).
    pub fn mean_loss(&self) -> f64 {
        let burst = self.burst.map_or(0.0, |ge| ge.mean_loss());
        1.0 - (1.0 - burst) * (1.0 - clamp01(self.loss))
    }
}

/// Counters for one direction of the path. At any instant
/// `sent + duplicated == delivered + dropped_loss + dropped_mtu +
/// dropped_queue + in flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Datagrams handed to the link by the sending endpoint.
    pub sent: u64,
    /// Datagrams (including duplicates) handed to the receiving endpoint.
    pub delivered: u64,
    /// Datagrams lost on the wire (independent or burst loss).
    pub dropped_loss: u64,
    /// Datagrams dropped for exceeding the MTU.
    pub dropped_mtu: u64,
    /// Datagrams tail-dropped by a full bottleneck queue, or refused because
    /// the simulator's in-flight memory cap was reached.
    pub dropped_queue: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Deliveries that arrived after a datagram sent later had already been
    /// delivered (whatever the cause: jitter, `reorder`, duplication delay).
    pub reordered: u64,
    /// Payload bytes handed to the link.
    pub bytes_sent: u64,
    /// Payload bytes handed to the receiver.
    pub bytes_delivered: u64,
}

/// What the link decided for a datagram.
pub(crate) enum Verdict {
    DroppedMtu,
    DroppedQueue,
    DroppedLoss,
    /// Deliver at `at` (and a duplicate at `dup_at`), elapsed milliseconds.
    /// `index` orders datagrams by sending time for reorder detection.
    Deliver {
        index: u64,
        at: u64,
        dup_at: Option<u64>,
    },
}

/// The mutable state of one direction.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) stats: LinkStats,
    rng: SimRng,
    ge_bad: bool,
    /// When the bottleneck finishes serializing everything queued, in
    /// elapsed microseconds.
    busy_until_us: u64,
    next_index: u64,
    highest_delivered: Option<u64>,
}

impl Link {
    pub(crate) fn new(config: LinkConfig, rng: SimRng) -> Self {
        Link {
            config,
            stats: LinkStats::default(),
            rng,
            ge_bad: false,
            busy_until_us: 0,
            next_index: 0,
            highest_delivered: None,
        }
    }

    /// Decides the fate of a `len`-byte datagram sent at `now_ms` (elapsed)
    /// and updates the counters for everything but in-flight overflow.
    pub(crate) fn admit(&mut self, now_ms: u64, len: usize) -> Verdict {
        self.stats.sent += 1;
        self.stats.bytes_sent = self.stats.bytes_sent.saturating_add(len as u64);
        let cfg = &self.config;

        if cfg.mtu.is_some_and(|mtu| len > mtu) {
            self.stats.dropped_mtu += 1;
            return Verdict::DroppedMtu;
        }

        let now_us = now_ms.saturating_mul(1000);
        let mut leaves_us = now_us;
        if let Some(bw) = cfg.bandwidth.filter(|&bw| bw > 0) {
            let start_us = self.busy_until_us.max(now_us);
            let backlog_us = start_us - now_us;
            // Bytes still waiting in front of this datagram.
            let backlog = (u128::from(backlog_us) * u128::from(bw) / 1_000_000) as u64;
            if backlog > 0 && backlog.saturating_add(len as u64) > cfg.max_queue_bytes as u64 {
                self.stats.dropped_queue += 1;
                return Verdict::DroppedQueue;
            }
            let serialize_us = (len as u64).saturating_mul(1_000_000).div_ceil(bw);
            leaves_us = start_us.saturating_add(serialize_us);
            self.busy_until_us = leaves_us;
        }
        let leaves_ms = leaves_us.div_ceil(1000);

        let mut lost = false;
        if let Some(ge) = cfg.burst {
            let flip = if self.ge_bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if self.rng.chance(flip) {
                self.ge_bad = !self.ge_bad;
            }
            let p = if self.ge_bad {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            lost |= self.rng.chance(p);
        }
        lost |= self.rng.chance(cfg.loss);
        if lost {
            self.stats.dropped_loss += 1;
            return Verdict::DroppedLoss;
        }

        let duplicate = self.rng.chance(cfg.duplicate);
        let at = self.propagate(leaves_ms);
        let dup_at = if duplicate {
            self.stats.duplicated += 1;
            Some(self.propagate(leaves_ms))
        } else {
            None
        };
        let index = self.next_index;
        self.next_index += 1;
        Verdict::Deliver { index, at, dup_at }
    }

    /// Arrival time of one copy that left the bottleneck at `leaves_ms`.
    fn propagate(&mut self, leaves_ms: u64) -> u64 {
        let cfg = &self.config;
        let jitter = self.rng.gen_range(0..=u64::from(cfg.jitter_ms));
        let held = if self.rng.chance(cfg.reorder) {
            u64::from(cfg.reorder_delay_ms)
        } else {
            0
        };
        leaves_ms
            .saturating_add(u64::from(cfg.delay_ms))
            .saturating_add(jitter)
            .saturating_add(held)
    }

    /// Records a delivery of the datagram with sending order `index`; returns
    /// whether it was overtaken by a later one.
    pub(crate) fn delivered(&mut self, index: u64, len: usize) -> bool {
        self.stats.delivered += 1;
        self.stats.bytes_delivered = self.stats.bytes_delivered.saturating_add(len as u64);
        let reordered = self.highest_delivered.is_some_and(|h| index < h);
        if reordered {
            self.stats.reordered += 1;
        } else {
            self.highest_delivered = Some(index);
        }
        reordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_loss_of_constructors() {
        let l = LinkConfig::bursty(0.1, 5.0, 0);
        assert!((l.mean_loss() - 0.1).abs() < 1e-9, "{}", l.mean_loss());
        assert!((LinkConfig::lossy(0.25, 0).mean_loss() - 0.25).abs() < 1e-12);
        assert_eq!(LinkConfig::down().mean_loss(), 1.0);
        assert_eq!(LinkConfig::perfect().mean_loss(), 0.0);
        assert_eq!(GilbertElliott::new(0.0, 0.0).mean_loss(), 0.0);
        assert_eq!(LinkConfig::default().loss(f64::NAN).mean_loss(), 0.0);
        let ge = GilbertElliott::new(0.1, 0.3).with_loss(0.05, 0.8);
        // In the bad state a quarter of the time: 0.25 * 0.8 + 0.75 * 0.05.
        assert!((ge.mean_loss() - 0.2375).abs() < 1e-12);
        // Never leaving the bad state, or never entering it.
        assert_eq!(GilbertElliott::new(0.1, 0.0).mean_loss(), 1.0);
        assert_eq!(GilbertElliott::new(0.0, 0.5).mean_loss(), 0.0);
        assert!((GilbertElliott::from_mean(0.1, 4.0).mean_loss() - 0.1).abs() < 1e-12);
        // Burst and independent loss combine as independent events.
        let both = LinkConfig::lossy(0.1, 0).burst_loss(ge);
        assert!((both.mean_loss() - (1.0 - 0.7625 * 0.9)).abs() < 1e-12);
    }

    #[test]
    fn bandwidth_zero_is_unlimited() {
        assert_eq!(LinkConfig::default().bandwidth(0).bandwidth, None);
        // Set directly, as the field's documentation allows.
        let mut config = LinkConfig::delayed(3);
        config.bandwidth = Some(0);
        let mut link = Link::new(config, SimRng::new(1));
        for len in [0, 1500, 65_000] {
            assert!(matches!(
                link.admit(7, len),
                Verdict::Deliver {
                    at: 10,
                    dup_at: None,
                    ..
                }
            ));
        }
    }

    /// A datagram reaching an idle bottleneck is accepted whatever its
    /// size; one arriving behind a backlog must fit the queue with it.
    #[test]
    fn an_idle_bottleneck_takes_any_datagram() {
        let config = LinkConfig::constrained(1000, 0).max_queue_bytes(100);
        let mut link = Link::new(config, SimRng::new(1));
        // 500 bytes at 1000 B/s: on the wire for 500 ms.
        assert!(matches!(
            link.admit(0, 500),
            Verdict::Deliver { at: 500, .. }
        ));
        // 100 ms later 400 bytes are still waiting; 1 more byte overflows.
        assert!(matches!(link.admit(100, 1), Verdict::DroppedQueue));
        assert!(matches!(
            link.admit(500, 100),
            Verdict::Deliver { at: 600, .. }
        ));
        assert_eq!(link.stats.dropped_queue, 1);
    }
}
