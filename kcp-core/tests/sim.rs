//! Tests of the deterministic network simulator itself, driven by trivial
//! endpoints (no KCP involved). Every test is a pure function of its seed:
//! the statistical bounds are loose, but the outcome never changes.
#![cfg(feature = "sim")]

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use kcp_core::Timestamp;
use kcp_core::sim::{
    Direction, Endpoint, Fate, GilbertElliott, IN_FLIGHT_OVERHEAD, LinkConfig, LinkStats, Sim,
    SimConfig,
};

/// Header of every test datagram: sending order and sending time.
const HEADER: usize = 12;

/// One received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rx {
    at: Timestamp,
    index: u64,
    sent_at: Timestamp,
    len: usize,
}

impl Rx {
    fn latency(&self) -> i32 {
        self.at.diff(self.sent_at)
    }
}

/// A test endpoint: emits `remaining` numbered datagrams every `interval` ms
/// (all at once if 0) starting at `next_send`, cycling through `sizes`;
/// records what it receives; optionally echoes everything back.
#[derive(Clone, Debug)]
struct Node {
    next_send: Timestamp,
    interval: u32,
    remaining: u64,
    sizes: Vec<usize>,
    next_index: u64,
    outbox: VecDeque<Vec<u8>>,
    echo: bool,
    received: Vec<Rx>,
}

impl Node {
    fn sink() -> Self {
        Node {
            next_send: Timestamp::from_millis(0),
            interval: 0,
            remaining: 0,
            sizes: vec![HEADER],
            next_index: 0,
            outbox: VecDeque::new(),
            echo: false,
            received: Vec::new(),
        }
    }

    fn echo() -> Self {
        Node {
            echo: true,
            ..Node::sink()
        }
    }

    fn sender(start: Timestamp, count: u64, interval: u32, size: usize) -> Self {
        Node {
            next_send: start,
            interval,
            remaining: count,
            sizes: vec![size.max(HEADER)],
            ..Node::sink()
        }
    }

    fn sizes(mut self, sizes: Vec<usize>) -> Self {
        self.sizes = sizes.into_iter().map(|s| s.max(HEADER)).collect();
        self
    }

    fn datagram(&mut self, now: Timestamp) -> Vec<u8> {
        let size = self.sizes[(self.next_index % self.sizes.len() as u64) as usize];
        let mut d = vec![0u8; size];
        d[..8].copy_from_slice(&self.next_index.to_le_bytes());
        d[8..12].copy_from_slice(&now.as_millis().to_le_bytes());
        for (i, b) in d[HEADER..].iter_mut().enumerate() {
            *b = (i as u64 ^ self.next_index) as u8;
        }
        self.next_index += 1;
        d
    }

    /// Queues one datagram right now, outside the schedule (as an app would).
    fn send_now(&mut self, now: Timestamp) {
        let d = self.datagram(now);
        self.outbox.push_back(d);
    }

    fn indices(&self) -> Vec<u64> {
        self.received.iter().map(|r| r.index).collect()
    }

    fn latencies(&self) -> Vec<i32> {
        self.received.iter().map(Rx::latency).collect()
    }
}

impl Endpoint for Node {
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp) {
        if datagram.len() >= HEADER {
            let index = u64::from_le_bytes(datagram[..8].try_into().unwrap());
            let sent_at = u32::from_le_bytes(datagram[8..12].try_into().unwrap());
            self.received.push(Rx {
                at: now,
                index,
                sent_at: Timestamp::from_millis(sent_at),
                len: datagram.len(),
            });
        }
        if self.echo {
            self.outbox.push_back(datagram.to_vec());
        }
    }

    fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        let d = self.outbox.pop_front()?;
        buf[..d.len()].copy_from_slice(&d);
        Some(d.len())
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        (self.remaining > 0).then_some(self.next_send)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        while self.remaining > 0 && now.reached(self.next_send) {
            let d = self.datagram(now);
            self.outbox.push_back(d);
            self.remaining -= 1;
            self.next_send = self.next_send.add_millis(self.interval);
        }
    }

    fn max_datagram_size(&self) -> usize {
        70_000
    }
}

fn cfg(seed: u64, ab: LinkConfig) -> SimConfig {
    SimConfig::new().seed(seed).a_to_b(ab)
}

/// Runs `count` datagrams of `size` bytes every `interval` ms from A to a
/// sink B over `link`, until idle.
fn one_way(seed: u64, link: LinkConfig, count: u64, interval: u32, size: usize) -> Sim<Node, Node> {
    let a = Node::sender(Timestamp::from_millis(0), count, interval, size);
    let mut sim = Sim::with_config(a, Node::sink(), cfg(seed, link));
    assert!(sim.run_until_idle(100_000_000), "did not go idle");
    sim
}

fn assert_conserved(s: &LinkStats, in_flight: usize) {
    assert_eq!(
        s.sent + s.duplicated,
        s.delivered + s.dropped_loss + s.dropped_mtu + s.dropped_queue + in_flight as u64,
        "{s:?}"
    );
}

#[test]
fn perfect_link_delivers_everything_in_order_with_the_exact_delay() {
    let sim = one_way(1, LinkConfig::delayed(40), 100, 10, 100);
    let b = sim.b();
    assert_eq!(b.indices(), (0..100).collect::<Vec<_>>());
    assert!(b.latencies().iter().all(|&l| l == 40));
    let s = sim.stats(Direction::AtoB);
    assert_eq!((s.sent, s.delivered, s.reordered), (100, 100, 0));
    assert_eq!((s.bytes_sent, s.bytes_delivered), (10_000, 10_000));
    assert_eq!(*sim.stats(Direction::BtoA), LinkStats::default());
    // Last datagram at 990 ms, + 40 ms.
    assert_eq!(sim.elapsed_ms(), 1030);
    assert!(sim.is_idle());
}

#[test]
fn default_link_is_instant() {
    let sim = one_way(1, LinkConfig::default(), 10, 5, 20);
    assert!(sim.b().latencies().iter().all(|&l| l == 0));
    assert_eq!(sim.elapsed_ms(), 45);
}

#[test]
fn delay_and_jitter_bounds_are_respected_and_jitter_reorders() {
    let sim = one_way(2, LinkConfig::delayed(50).jitter_ms(20), 5000, 1, 50);
    let lat = sim.b().latencies();
    assert_eq!(lat.len(), 5000);
    assert!(lat.iter().all(|l| (50..=70).contains(l)));
    // Uniform over 21 values: both extremes show up, the mean is central.
    assert_eq!(*lat.iter().min().unwrap(), 50);
    assert_eq!(*lat.iter().max().unwrap(), 70);
    let mean = lat.iter().map(|&l| f64::from(l)).sum::<f64>() / lat.len() as f64;
    assert!((59.0..61.0).contains(&mean), "mean latency {mean}");
    let s = sim.stats(Direction::AtoB);
    assert!(s.reordered > 500, "{s:?}");
    assert!(sim.b().indices().windows(2).any(|w| w[1] < w[0]));
}

#[test]
fn loss_rate_is_near_the_configured_rate() {
    let sim = one_way(3, LinkConfig::lossy(0.1, 5), 20_000, 1, 20);
    let s = *sim.stats(Direction::AtoB);
    assert_eq!(s.sent, 20_000);
    assert_eq!(s.delivered + s.dropped_loss, s.sent);
    assert_eq!(s.delivered, sim.b().received.len() as u64);
    let rate = s.dropped_loss as f64 / s.sent as f64;
    assert!((0.085..0.115).contains(&rate), "loss rate {rate}");
    assert_conserved(&s, 0);
}

#[test]
fn duplicates_arrive_with_their_own_delay() {
    let sim = one_way(
        4,
        LinkConfig::delayed(10).jitter_ms(10).duplicate(0.2),
        10_000,
        2,
        20,
    );
    let s = *sim.stats(Direction::AtoB);
    assert!((1800..2200).contains(&s.duplicated), "{s:?}");
    assert_eq!(s.delivered, s.sent + s.duplicated);
    let mut arrivals: BTreeMap<u64, Vec<Timestamp>> = BTreeMap::new();
    for r in &sim.b().received {
        arrivals.entry(r.index).or_default().push(r.at);
    }
    let twice: Vec<_> = arrivals.values().filter(|v| v.len() == 2).collect();
    assert_eq!(twice.len() as u64, s.duplicated);
    assert!(arrivals.values().all(|v| v.len() <= 2));
    // Independent jitter: most copies do not arrive with their original.
    let apart = twice.iter().filter(|v| v[0] != v[1]).count();
    assert!(apart > twice.len() / 2, "{apart} of {}", twice.len());
    assert!(sim.b().latencies().iter().all(|l| (10..=20).contains(l)));
}

#[test]
fn explicit_reordering_holds_back_a_fraction_by_the_extra_delay() {
    let sim = one_way(5, LinkConfig::delayed(20).reorder(0.1, 30), 5000, 5, 20);
    let lat = sim.b().latencies();
    assert_eq!(lat.len(), 5000);
    assert!(lat.iter().all(|&l| l == 20 || l == 50));
    let held = lat.iter().filter(|&&l| l == 50).count();
    assert!((400..600).contains(&held), "{held}");
    let s = sim.stats(Direction::AtoB);
    // Each held datagram is overtaken by the next ones (30 ms > 5 ms gap).
    assert_eq!(s.reordered, held as u64);
    assert!(sim.b().indices().windows(2).any(|w| w[1] < w[0]));
}

#[test]
fn bandwidth_limit_serializes_a_burst() {
    // 100 kB/s: a 1000-byte datagram occupies the link for 10 ms.
    let sim = one_way(6, LinkConfig::constrained(100_000, 10), 10, 0, 1000);
    let lat = sim.b().latencies();
    assert_eq!(lat, (1..=10).map(|k| 10 * k + 10).collect::<Vec<_>>());
    assert_eq!(sim.stats(Direction::AtoB).dropped_queue, 0);
}

#[test]
fn bandwidth_limit_caps_throughput_and_the_queue_tail_drops() {
    // Offer 200 kB/s for 10 s to a 100 kB/s link with a 10 kB queue.
    let link = LinkConfig::constrained(100_000, 0).max_queue_bytes(10_000);
    let sim = one_way(7, link, 2000, 5, 1000);
    let s = *sim.stats(Direction::AtoB);
    assert!((950..1050).contains(&s.delivered), "{s:?}");
    assert_eq!(s.delivered + s.dropped_queue, 2000);
    // Never more than ~one queue's worth of delay.
    assert!(
        sim.b().latencies().iter().all(|&l| l <= 110),
        "{:?}",
        sim.b().latencies().iter().max()
    );
    // Delivered throughput over the run: at most the link rate.
    let span = sim
        .b()
        .received
        .last()
        .unwrap()
        .at
        .diff(sim.b().received[0].at);
    assert!(s.bytes_delivered as f64 / f64::from(span) <= 100.0 + 1.0);
}

#[test]
fn a_full_queue_drops_the_tail_of_a_burst() {
    let link = LinkConfig::constrained(100_000, 0).max_queue_bytes(5000);
    let sim = one_way(8, link, 20, 0, 1000);
    let s = sim.stats(Direction::AtoB);
    // One on the wire + 4 waiting fill 5000 bytes; the other 15 are dropped.
    assert_eq!((s.delivered, s.dropped_queue), (5, 15));
    assert_eq!(sim.b().indices(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn oversized_datagrams_are_dropped_by_the_mtu() {
    let a = Node::sender(Timestamp::from_millis(0), 100, 1, 0).sizes(vec![400, 600, 500, 501]);
    let mut sim = Sim::with_config(a, Node::sink(), cfg(9, LinkConfig::default().mtu(500)));
    assert!(sim.run_until_idle(10_000));
    let s = sim.stats(Direction::AtoB);
    assert_eq!((s.delivered, s.dropped_mtu), (50, 50));
    // Exactly the MTU passes.
    assert!(
        sim.b()
            .received
            .iter()
            .all(|r| r.len == 400 + 50 * (r.index % 4) as usize && r.index % 2 == 0)
    );
}

/// Every datagram duplicated, no jitter: each copy arrives right behind
/// its original, so nothing counts as reordered.
#[test]
fn duplicates_in_order_are_not_reordering() {
    let sim = one_way(4, LinkConfig::delayed(10).duplicate(1.0), 200, 1, 20);
    let s = sim.stats(Direction::AtoB);
    assert_eq!((s.delivered, s.duplicated, s.reordered), (400, 200, 0));
    let with_jitter = one_way(4, LinkConfig::delayed(10).jitter_ms(30), 200, 1, 20);
    assert!(with_jitter.stats(Direction::AtoB).reordered > 0);
}

/// `mean_loss` predicts what the links do: the measured loss of long runs
/// through the simulator (its closed forms are unit-tested in `link.rs`).
#[test]
fn mean_loss_predicts_the_measured_loss() {
    let ge = GilbertElliott::new(0.1, 0.3).with_loss(0.05, 0.8);
    let n = 100_000;
    for link in [
        LinkConfig::lossy(0.1, 0).burst_loss(ge),
        LinkConfig::default().burst_loss(ge),
        LinkConfig::bursty(0.3, 5.0, 0),
        LinkConfig::default().burst_loss(GilbertElliott::new(0.02, 0.5).with_loss(0.01, 0.5)),
    ] {
        let sim = one_way(21, link.clone(), n, 1, 20);
        let measured = sim.stats(Direction::AtoB).dropped_loss as f64 / n as f64;
        assert!(
            (measured - link.mean_loss()).abs() < 0.01,
            "{link:?}: measured {measured}, predicted {}",
            link.mean_loss()
        );
    }
}

/// Mean length of the runs of consecutive lost datagrams.
fn mean_loss_run(received: &[u64], sent: u64) -> f64 {
    let mut got = vec![false; sent as usize];
    for &i in received {
        got[i as usize] = true;
    }
    let (mut runs, mut lost, mut in_run) = (0u64, 0u64, false);
    for g in got {
        if !g {
            lost += 1;
            runs += u64::from(!in_run);
        }
        in_run = !g;
    }
    lost as f64 / runs.max(1) as f64
}

#[test]
fn bursty_loss_has_longer_loss_runs_than_independent_loss_at_the_same_rate() {
    let n = 50_000;
    let indep = one_way(10, LinkConfig::lossy(0.1, 0), n, 1, 20);
    let bursty = one_way(10, LinkConfig::bursty(0.1, 8.0, 0), n, 1, 20);
    for sim in [&indep, &bursty] {
        let s = sim.stats(Direction::AtoB);
        let rate = s.dropped_loss as f64 / n as f64;
        assert!((0.08..0.12).contains(&rate), "loss rate {rate}");
    }
    let run_indep = mean_loss_run(&indep.b().indices(), n);
    let run_bursty = mean_loss_run(&bursty.b().indices(), n);
    assert!(run_indep < 1.3, "{run_indep}");
    assert!(run_bursty > 6.0, "{run_bursty}");
}

/// A busy two-way run: A sends, B echoes, every impairment on.
fn echo_run(seed: u64, start: Timestamp) -> Sim<Node, Node> {
    let mut sim = echo_sim(seed, start);
    assert!(sim.run_until_idle(1_000_000));
    sim
}

/// The simulation [`echo_run`] runs, not started.
fn echo_sim(seed: u64, start: Timestamp) -> Sim<Node, Node> {
    let link = LinkConfig::lossy(0.05, 20)
        .jitter_ms(15)
        .duplicate(0.05)
        .reorder(0.05, 40)
        .bandwidth(200_000)
        .mtu(1200);
    let a = Node::sender(start, 2000, 2, 0).sizes(vec![100, 700, 1300]);
    let config = SimConfig::new().seed(seed).start(start).link(link);
    Sim::with_config(a, Node::echo(), config)
}

#[test]
fn the_same_seed_gives_the_same_run_byte_for_byte() {
    let start = Timestamp::from_millis(1234);
    let x = echo_run(11, start);
    let y = echo_run(11, start);
    assert_eq!(x.delivery_hash(), y.delivery_hash());
    assert_eq!(x.stats(Direction::AtoB), y.stats(Direction::AtoB));
    assert_eq!(x.stats(Direction::BtoA), y.stats(Direction::BtoA));
    assert_eq!(x.a().received, y.a().received);
    assert_eq!(x.elapsed_ms(), y.elapsed_ms());
    // The hash moved off the FNV offset basis (something was delivered).
    assert_ne!(x.delivery_hash(), 0xcbf2_9ce4_8422_2325);
}

/// 64-bit FNV-1a, written out from its definition for the test below.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    hash
}

/// `delivery_hash` is what its documentation says (64-bit FNV-1a over each
/// delivery's arrival time, direction, length and bytes), so a run can be
/// compared with one recorded elsewhere, e.g. by a tap writing a trace.
#[test]
fn the_delivery_hash_is_fnv1a_over_every_delivery() {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    // The published test vector: FNV-1a 64 of "a".
    assert_eq!(fnv1a(OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    let traced = Rc::new(RefCell::new((OFFSET, 0u64)));
    let mut sim = echo_sim(11, Timestamp::from_millis(1234));
    let t = Rc::clone(&traced);
    sim.set_tap(move |dir, at, bytes, fate| {
        if let Fate::Delivered { .. } = fate {
            let (mut h, n) = *t.borrow();
            h = fnv1a(h, &at.as_millis().to_le_bytes());
            h = fnv1a(h, &[u8::from(dir == Direction::BtoA)]);
            h = fnv1a(h, &(bytes.len() as u64).to_le_bytes());
            *t.borrow_mut() = (fnv1a(h, bytes), n + 1);
        }
    });
    assert!(sim.run_until_idle(1_000_000));
    let (hash, deliveries) = *traced.borrow();
    let s = [Direction::AtoB, Direction::BtoA].map(|d| sim.stats(d).delivered);
    assert_eq!(deliveries, s[0] + s[1]);
    assert!(s[0] > 1000 && s[1] > 1000, "{s:?}");
    assert_eq!(hash, sim.delivery_hash());
    assert_eq!(
        hash,
        echo_run(11, Timestamp::from_millis(1234)).delivery_hash()
    );
}

/// `flush_transmits` says whether either side put anything on the wire,
/// and `step` whether anything happened (false only once idle, with the
/// clock left alone).
#[test]
fn flush_and_step_report_whether_anything_happened() {
    let t0 = Timestamp::from_millis(0);
    let config = SimConfig::new().link(LinkConfig::delayed(5));
    let mut sim = Sim::with_config(Node::sink(), Node::sink(), config);
    assert!(!sim.flush_transmits());
    for (a, b) in [(true, true), (true, false), (false, true)] {
        if a {
            sim.a_mut().send_now(t0);
        }
        if b {
            sim.b_mut().send_now(t0);
        }
        assert!(sim.flush_transmits(), "a {a}, b {b}");
        assert!(!sim.flush_transmits());
    }
    assert_eq!(sim.in_flight(Direction::AtoB), 2);
    assert_eq!(sim.in_flight(Direction::BtoA), 2);
    assert!(sim.step());
    assert_eq!(sim.elapsed_ms(), 5);
    assert_eq!(sim.b().received.len(), 2);
    assert_eq!(sim.a().received.len(), 2);
    assert!(!sim.step());
    assert_eq!(sim.elapsed_ms(), 5);
}

/// A cleared tap is never called again; the run goes on without it.
#[test]
fn a_cleared_tap_hears_nothing_more() {
    let calls = Rc::new(RefCell::new(0u64));
    let mut sim = echo_sim(3, Timestamp::from_millis(0));
    let c = Rc::clone(&calls);
    sim.set_tap(move |_, _, _, _| *c.borrow_mut() += 1);
    sim.run_for(500);
    let heard = *calls.borrow();
    assert!(heard > 0);
    sim.clear_tap();
    assert!(sim.run_until_idle(1_000_000));
    assert_eq!(*calls.borrow(), heard);
    assert!(sim.stats(Direction::AtoB).delivered > heard);
}

#[test]
fn a_different_seed_gives_a_different_run() {
    let start = Timestamp::from_millis(1234);
    let x = echo_run(11, start);
    let z = echo_run(12, start);
    assert_ne!(x.delivery_hash(), z.delivery_hash());
    assert_ne!(x.a().received, z.a().received);
}

#[test]
fn a_run_across_the_u32_wrap_point_works() {
    let start = Timestamp::from_millis(0xFFFF_FC00);
    let sim = echo_run(13, start);
    // 2000 datagrams every 2 ms = 4 s: the clock wrapped during the run.
    assert!(sim.elapsed_ms() > 0x400);
    assert_eq!(sim.now(), start.add_millis(sim.elapsed_ms() as u32));
    assert!(sim.now().as_millis() < 0x1000);
    let ab = *sim.stats(Direction::AtoB);
    let ba = *sim.stats(Direction::BtoA);
    assert_conserved(&ab, 0);
    assert_conserved(&ba, 0);
    assert!(ab.dropped_mtu > 0 && ab.dropped_loss > 0 && ab.duplicated > 0);
    // Round trips measured with wrapping time: 2×20 ms, 2×(0..=15 jitter),
    // up to 2×40 ms reorder hold, plus some bottleneck queueing.
    let rtts = sim.a().latencies();
    assert_eq!(rtts.len() as u64, ba.delivered);
    assert!(
        rtts.iter().all(|l| (40..400).contains(l)),
        "{:?}",
        rtts.iter().minmax()
    );
    assert!(
        sim.a()
            .received
            .iter()
            .any(|r| r.sent_at.as_millis() > 0xFFFF_0000 && r.at.as_millis() < 0x1000)
    );
}

/// A tiny `minmax` so failure messages show the range.
trait MinMax {
    fn minmax(self) -> (Option<i32>, Option<i32>);
}
impl<'a, I: Iterator<Item = &'a i32> + Clone> MinMax for I {
    fn minmax(self) -> (Option<i32>, Option<i32>) {
        (self.clone().min().copied(), self.max().copied())
    }
}

#[test]
fn run_until_handles_a_deadline_after_the_wrap() {
    let start = Timestamp::from_millis(u32::MAX - 99);
    let a = Node::sender(start, 1000, 10, 20);
    let mut sim = Sim::with_config(
        a,
        Node::sink(),
        SimConfig::new().start(start).link(LinkConfig::delayed(5)),
    );
    sim.run_until(Timestamp::from_millis(200));
    assert_eq!(sim.now(), Timestamp::from_millis(200));
    assert_eq!(sim.elapsed_ms(), 300);
    // Sends at elapsed 0, 10, ..., 300; arrivals up to 295 are in.
    assert_eq!(sim.b().received.len(), 30);
    // A deadline "in the past" is a no-op.
    sim.run_until(Timestamp::from_millis(150));
    assert_eq!(sim.elapsed_ms(), 300);
    // So is one at the present instant: not even a queued datagram moves.
    assert_eq!(sim.in_flight(Direction::AtoB), 1);
    let now = sim.now();
    sim.a_mut().send_now(now);
    sim.run_until(now);
    assert_eq!(sim.in_flight(Direction::AtoB), 1);
    sim.run_for(50);
    assert_eq!(sim.elapsed_ms(), 350);
    assert_eq!(sim.b().received.len(), 36);
}

/// An endpoint whose timer never disarms.
#[derive(Debug, Default)]
struct Ticker {
    next: Timestamp,
    ticks: u32,
}

impl Endpoint for Ticker {
    fn handle_input(&mut self, _: &[u8], _: Timestamp) {}
    fn poll_transmit(&mut self, _: Timestamp, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Some(self.next)
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        if now.reached(self.next) {
            self.ticks += 1;
            self.next = now.add_millis(10);
        }
    }
}

#[test]
fn run_until_idle_gives_up_when_a_timer_stays_armed() {
    let mut sim = Sim::new(Ticker::default(), Node::sink());
    assert!(!sim.run_until_idle(1000));
    assert_eq!(sim.elapsed_ms(), 1000);
    assert_eq!(sim.a().ticks, 101);
    assert!(!sim.is_idle());
}

#[test]
fn step_reports_idleness_without_moving_the_clock() {
    let mut sim = Sim::new(Node::sink(), Node::sink());
    assert!(sim.is_idle());
    assert!(!sim.step());
    assert_eq!(sim.elapsed_ms(), 0);
    assert!(sim.run_until_idle(0));
}

#[test]
fn run_until_condition_stops_as_soon_as_it_holds() {
    let a = Node::sender(Timestamp::from_millis(0), 100, 10, 20);
    let mut sim = Sim::with_config(a, Node::sink(), cfg(14, LinkConfig::delayed(7)));
    assert!(sim.run_until_condition(10_000, |s| s.b().received.len() >= 10));
    assert_eq!(sim.elapsed_ms(), 90 + 7);
    assert_eq!(sim.b().received.len(), 10);
    // A condition that never holds runs out of time.
    assert!(!sim.run_until_condition(50, |_| false));
    assert_eq!(sim.elapsed_ms(), 147);
    // ...including when the simulation is idle.
    assert!(sim.run_until_idle(10_000));
    let t = sim.elapsed_ms();
    assert!(!sim.run_until_condition(100, |_| false));
    assert_eq!(sim.elapsed_ms(), t + 100);
}

#[test]
fn data_queued_between_steps_goes_out_on_the_next_step() {
    let config = SimConfig::new().seed(15).link(LinkConfig::delayed(20));
    let mut sim = Sim::with_config(Node::sink(), Node::sink(), config);
    sim.run_for(100);
    let now = sim.now();
    sim.a_mut().send_now(now);
    sim.b_mut().send_now(now);
    // One step sends both and jumps to their arrival.
    assert!(sim.step());
    assert_eq!(sim.elapsed_ms(), 120);
    assert_eq!(sim.in_flight(Direction::AtoB), 0);
    assert!(sim.is_idle());
    assert_eq!(sim.a().received.len(), 1);
    assert_eq!(sim.b().received.len(), 1);

    // flush_transmits sends without moving the clock.
    let now = sim.now();
    sim.a_mut().send_now(now);
    assert!(sim.flush_transmits());
    assert!(!sim.flush_transmits());
    assert_eq!(sim.in_flight(Direction::AtoB), 1);
    assert_eq!(sim.elapsed_ms(), 120);
    let (_a, b) = {
        assert!(sim.run_until_idle(1000));
        sim.into_endpoints()
    };
    assert_eq!(b.received.len(), 2);
}

#[test]
fn simultaneous_arrivals_are_delivered_in_sending_order() {
    let sim = one_way(16, LinkConfig::delayed(3), 50, 0, 20);
    assert_eq!(sim.b().indices(), (0..50).collect::<Vec<_>>());
    assert!(
        sim.b()
            .received
            .iter()
            .all(|r| r.at == Timestamp::from_millis(3))
    );
}

#[test]
fn the_tap_sees_every_fate_and_agrees_with_the_stats() {
    #[derive(Default, Debug)]
    struct Seen {
        scheduled: u64,
        duplicated: u64,
        delivered: u64,
        reordered: u64,
        loss: u64,
        mtu: u64,
        queue: u64,
    }
    let seen = Rc::new(RefCell::new(Seen::default()));
    let link = LinkConfig::lossy(0.1, 10)
        .jitter_ms(10)
        .duplicate(0.1)
        .mtu(1000)
        .bandwidth(30_000)
        .max_queue_bytes(3000);
    let a = Node::sender(Timestamp::from_millis(0), 3000, 5, 0).sizes(vec![200, 500, 1100]);
    let mut sim = Sim::with_config(a, Node::sink(), cfg(17, link));
    let tap_seen = Rc::clone(&seen);
    sim.set_tap(move |dir, _at, bytes, fate| {
        assert_eq!(dir, Direction::AtoB);
        assert!(!bytes.is_empty());
        let mut s = tap_seen.borrow_mut();
        match fate {
            Fate::Scheduled { .. } => s.scheduled += 1,
            Fate::Duplicated { .. } => s.duplicated += 1,
            Fate::Delivered { reordered } => {
                s.delivered += 1;
                s.reordered += u64::from(reordered);
            }
            Fate::DroppedLoss => s.loss += 1,
            Fate::DroppedMtu => s.mtu += 1,
            Fate::DroppedQueue => s.queue += 1,
            _ => unreachable!(),
        }
    });
    assert!(sim.run_until_idle(1_000_000));
    let s = *sim.stats(Direction::AtoB);
    let seen = seen.borrow();
    assert_eq!(seen.scheduled + seen.loss + seen.mtu + seen.queue, s.sent);
    assert_eq!(seen.duplicated, s.duplicated);
    assert_eq!(seen.delivered, s.delivered);
    assert_eq!(seen.reordered, s.reordered);
    assert_eq!(
        (seen.loss, seen.mtu, seen.queue),
        (s.dropped_loss, s.dropped_mtu, s.dropped_queue)
    );
    assert!(
        seen.loss > 0 && seen.mtu == 1000 && seen.queue > 0 && seen.duplicated > 0,
        "{seen:?}"
    );
    assert_conserved(&s, 0);
    sim.clear_tap();
}

#[test]
fn the_tap_reports_when_each_datagram_will_arrive() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let a = Node::sender(Timestamp::from_millis(0), 200, 3, 20);
    let mut sim = Sim::with_config(
        a,
        Node::sink(),
        cfg(18, LinkConfig::delayed(10).jitter_ms(8)),
    );
    let tap_log = Rc::clone(&log);
    sim.set_tap(move |_, at, bytes, fate| {
        let index = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        tap_log.borrow_mut().push((index, at, fate));
    });
    assert!(sim.run_until_idle(10_000));
    let log = log.borrow();
    for (index, at, fate) in log.iter() {
        if let Fate::Scheduled { deliver_at } = fate {
            let delivered = log
                .iter()
                .find(|(i, _, f)| i == index && matches!(f, Fate::Delivered { .. }))
                .unwrap();
            assert_eq!(delivered.1, *deliver_at);
            assert!((10..=18).contains(&deliver_at.diff(*at)));
        }
    }
}

#[test]
fn a_partition_loses_everything_until_healed() {
    let a = Node::sender(Timestamp::from_millis(0), 300, 10, 20);
    let mut sim = Sim::with_config(a, Node::sink(), cfg(19, LinkConfig::delayed(5)));
    sim.run_for(1000);
    sim.set_link(Direction::AtoB, LinkConfig::down());
    assert_eq!(sim.link(Direction::AtoB).loss, 1.0);
    sim.run_for(1000);
    sim.set_link(Direction::AtoB, LinkConfig::delayed(5));
    assert!(sim.run_until_idle(10_000));
    let s = sim.stats(Direction::AtoB);
    assert_eq!(s.dropped_loss, 100);
    // `run_for` includes events at its deadline: #100 (sent at 1000 ms)
    // left before the switch, #101..=#200 (1010..=2000 ms) were lost.
    let expected: Vec<u64> = (0..=100).chain(201..300).collect();
    assert_eq!(sim.b().indices(), expected);
}

#[test]
fn conservation_holds_for_assorted_links() {
    let links = [
        LinkConfig::perfect(),
        LinkConfig::lossy(0.3, 50).jitter_ms(30),
        LinkConfig::bursty(0.2, 4.0, 10).duplicate(0.3),
        LinkConfig::constrained(20_000, 30)
            .max_queue_bytes(2000)
            .mtu(600)
            .reorder(0.2, 25),
        LinkConfig::down(),
    ];
    for (seed, link) in links.into_iter().enumerate() {
        let a = Node::sender(Timestamp::from_millis(0), 500, 3, 0).sizes(vec![50, 400, 800]);
        let mut sim = Sim::with_config(
            a,
            Node::echo(),
            SimConfig::new().seed(seed as u64).link(link),
        );
        // Conservation holds mid-run too, with datagrams in flight.
        sim.run_for(700);
        assert_conserved(sim.stats(Direction::AtoB), sim.in_flight(Direction::AtoB));
        assert_conserved(sim.stats(Direction::BtoA), sim.in_flight(Direction::BtoA));
        assert!(sim.run_until_idle(1_000_000));
        assert_conserved(sim.stats(Direction::AtoB), 0);
        assert_conserved(sim.stats(Direction::BtoA), 0);
        assert_eq!(
            sim.stats(Direction::BtoA).sent,
            sim.stats(Direction::AtoB).delivered
        );
    }
}

#[test]
fn zero_delay_echo_ping_pong_cannot_livelock_the_clock() {
    let config = SimConfig::new().max_steps_per_instant(100);
    let mut sim = Sim::with_config(Node::echo(), Node::echo(), config);
    let now = sim.now();
    sim.a_mut().send_now(now);
    sim.run_for(5);
    assert_eq!(sim.elapsed_ms(), 5);
    assert!(sim.forced_advances() >= 5);
    // Every step moved the datagram across exactly once.
    assert!(sim.b().received.len() >= 5 * 50);
}

/// When `on`, an endpoint that never stops transmitting and lies about
/// lengths; when off, silent.
#[derive(Debug)]
struct Flood {
    on: bool,
}

impl Endpoint for Flood {
    fn handle_input(&mut self, _: &[u8], _: Timestamp) {}
    fn poll_transmit(&mut self, _: Timestamp, buf: &mut [u8]) -> Option<usize> {
        self.on.then_some(buf.len() + 1000)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
    fn handle_timeout(&mut self, _: Timestamp) {}
    fn max_datagram_size(&self) -> usize {
        16
    }
}

#[test]
fn a_flooding_endpoint_is_bounded_in_memory_and_time() {
    let config = SimConfig::new()
        .link(LinkConfig::delayed(1000))
        .max_in_flight_bytes(100_000)
        .max_steps_per_instant(2);
    let mut sim = Sim::with_config(Flood { on: true }, Flood { on: false }, config);
    sim.run_for(2);
    let s = *sim.stats(Direction::AtoB);
    assert!(s.sent > 100_000, "{s:?}");
    // Lengths were clamped to the buffer (16 bytes), memory to the cap.
    assert_eq!(s.bytes_sent, s.sent * 16);
    assert!(sim.in_flight(Direction::AtoB) <= 100_000 / (16 + 1));
    assert!(s.dropped_queue > 0);
    assert_conserved(&s, sim.in_flight(Direction::AtoB));
    assert!(!sim.is_idle());
}

/// The in-flight cap is exact: datagrams whose charges add up to it fit,
/// the next one is dropped and counted, and delivery frees the room.
#[test]
fn the_in_flight_cap_admits_exactly_up_to_it() {
    let charge = 100 + IN_FLIGHT_OVERHEAD;
    let config = SimConfig::new()
        .link(LinkConfig::delayed(10))
        .max_in_flight_bytes(3 * charge);
    let a = Node::sink().sizes(vec![100]);
    let mut sim = Sim::with_config(a, Node::sink(), config);
    let send = |sim: &mut Sim<Node, Node>, n: usize| {
        let now = sim.now();
        for _ in 0..n {
            sim.a_mut().send_now(now);
        }
        sim.flush_transmits();
    };
    // Two now and two 5 ms later: the fourth would pass the cap.
    send(&mut sim, 2);
    sim.run_for(5);
    send(&mut sim, 2);
    assert_eq!(sim.in_flight(Direction::AtoB), 3);
    assert_eq!(sim.stats(Direction::AtoB).dropped_queue, 1);
    // The first two arrive and free exactly their share: two of three fit.
    sim.run_for(5);
    assert_eq!(sim.b().indices(), [0, 1]);
    assert_eq!(sim.in_flight(Direction::AtoB), 1);
    send(&mut sim, 3);
    assert_eq!(sim.in_flight(Direction::AtoB), 3);
    assert_eq!(sim.stats(Direction::AtoB).dropped_queue, 2);
    assert!(sim.run_until_idle(1000));
    assert_eq!(sim.b().indices(), [0, 1, 2, 4, 5]);
}

/// An endpoint with absurd size claims and a deadline always in the past.
#[derive(Debug, Default)]
struct Stuck {
    inputs: u64,
}

impl Endpoint for Stuck {
    fn handle_input(&mut self, _: &[u8], _: Timestamp) {
        self.inputs += 1;
    }
    fn poll_transmit(&mut self, _: Timestamp, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Some(Timestamp::from_millis(0))
    }
    fn handle_timeout(&mut self, _: Timestamp) {}
    fn max_datagram_size(&self) -> usize {
        usize::MAX
    }
}

#[test]
fn an_endpoint_whose_timer_never_clears_does_not_hang_the_run() {
    let config = SimConfig::new().max_steps_per_instant(10);
    let mut sim = Sim::with_config(Stuck::default(), Stuck::default(), config);
    sim.run_for(20);
    assert_eq!(sim.elapsed_ms(), 20);
    assert!(sim.forced_advances() >= 20);
    assert!(!sim.run_until_idle(5));
}

#[cfg(feature = "proptest")]
mod properties {
    use super::*;
    use kcp_core::sim::strategies::{any_link, sim_config};
    use proptest::prelude::*;

    fn run(config: SimConfig) -> Sim<Node, Node> {
        let start = config.start;
        let a = Node::sender(start, 200, 4, 0).sizes(vec![20, 300, 1500]);
        let mut sim = Sim::with_config(a, Node::echo(), config);
        assert!(sim.run_until_idle(10_000_000));
        sim
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_network_conserves_datagrams_and_replays_identically(config in sim_config(any_link())) {
            let x = run(config.clone());
            for dir in [Direction::AtoB, Direction::BtoA] {
                let s = *x.stats(dir);
                prop_assert_eq!(s.sent + s.duplicated,
                    s.delivered + s.dropped_loss + s.dropped_mtu + s.dropped_queue);
            }
            prop_assert_eq!(x.stats(Direction::BtoA).sent, x.stats(Direction::AtoB).delivered);
            for r in &x.b().received {
                let min = config.a_to_b.delay_ms as i32;
                prop_assert!(r.latency() >= min);
            }
            let y = run(config);
            prop_assert_eq!(x.delivery_hash(), y.delivery_hash());
            prop_assert_eq!(&x.a().received, &y.a().received);
        }
    }
}
