//! Message latency and fairness through the deterministic simulator:
//! kcp-core (kcp-go and ikcp profiles) against the C reference ikcp, under
//! the same seeded links. Prints markdown tables.
//!
//! 1. Latency: A sends a 64-byte message every 16 ms to B with
//!    nodelay(1, 10, 2, 1), windows 128; each message's delay is measured
//!    from `send` to the `recv` that returns it (virtual ms, 1 ms timer
//!    resolution: every peer is updated every millisecond).
//! 2. Fairness: two bulk flows (conv 1 and conv 2) share one bottleneck
//!    (bandwidth-limited link with a tail-drop queue). Each side of the
//!    simulator is a composite endpoint holding both flows' KCP state,
//!    demultiplexed by conv. Flow 2 starts late; goodput per interval and
//!    Jain's fairness index over the shared period.
//!
//! ```text
//! cargo run --release -p kcp-benches --example latency            # full
//! cargo run --release -p kcp-benches --example latency -- --quick # CI
//! ```

use std::collections::VecDeque;

use kcp_benches::peers::{Arq, CIkcp, Core, Tuning};
use kcp_benches::transfer::SimPeer;
use kcp_core::Profile;
use kcp_core::Timestamp;
use kcp_core::sim::{Direction, Endpoint, LinkConfig, Sim, SimConfig};

// ---------------------------------------------------------------------------
// Peers.

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    CoreKcpGo,
    CoreIkcp,
    C,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::CoreKcpGo => "kcp-core (kcp-go profile)",
            Impl::CoreIkcp => "kcp-core (ikcp profile)",
            Impl::C => "C ikcp",
        }
    }
    fn make(self, conv: u32, t: Tuning) -> Box<dyn Arq> {
        match self {
            Impl::CoreKcpGo => Box::new(Core::new(conv, Profile::KcpGo, t)),
            Impl::CoreIkcp => Box::new(Core::new(conv, Profile::Ikcp, t)),
            Impl::C => Box::new(CIkcp::new(conv, t)),
        }
    }
}

/// `SimPeer` wants a sized `Arq`; forward to a boxed one.
struct Dyn(Box<dyn Arq>);

impl Arq for Dyn {
    fn send(&mut self, d: &[u8]) -> bool {
        self.0.send(d)
    }
    fn recv(&mut self, b: &mut [u8]) -> Option<usize> {
        self.0.recv(b)
    }
    fn input(&mut self, d: &[u8], now: u32) {
        self.0.input(d, now)
    }
    fn update(&mut self, now: u32) {
        self.0.update(now)
    }
    fn wait_snd(&self) -> usize {
        self.0.wait_snd()
    }
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) {
        self.0.drain(f)
    }
}

fn game_tuning() -> Tuning {
    Tuning {
        wnd: 128,
        ..Tuning::turbo()
    }
}

// ---------------------------------------------------------------------------
// 1. Latency of small periodic messages.

const MSG_EVERY_MS: u64 = 16;
const MSG_LEN: usize = 64;

struct Latency {
    sorted: Vec<u64>,
    sent: u64,
    datagrams: u64,
}

fn latency(imp: Impl, link: &LinkConfig, seed: u64, seconds: u64) -> Latency {
    let t = game_tuning();
    let cfg = SimConfig::new().seed(seed).link(link.clone());
    let a = SimPeer::new(Dyn(imp.make(1, t)));
    let b = SimPeer::new(Dyn(imp.make(1, t)));
    let mut sim = Sim::with_config(a, b, cfg);
    let (mut msg, mut buf) = ([0u8; MSG_LEN], [0u8; 2048]);
    let (mut sent, mut next_send) = (0u64, 0u64);
    let mut samples = Vec::new();
    let end = seconds * 1000;
    // Sending stops at `end`; then a grace period lets the last messages in.
    loop {
        let waiting = (samples.len() as u64) < sent;
        if sim.elapsed_ms() >= end && (!waiting || sim.elapsed_ms() >= end + 5_000) {
            break;
        }
        let now = sim.elapsed_ms();
        if now >= next_send && now < end {
            msg[..8].copy_from_slice(&now.to_le_bytes());
            assert!(sim.a_mut().arq.send(&msg));
            sent += 1;
            next_send += MSG_EVERY_MS;
        }
        sim.step(); // 1 ms at most: every peer has a timer each millisecond
        while let Some(n) = sim.b_mut().arq.recv(&mut buf) {
            assert_eq!(n, MSG_LEN);
            let at = u64::from_le_bytes(buf[..8].try_into().unwrap());
            samples.push(sim.elapsed_ms() - at);
        }
    }
    samples.sort_unstable();
    Latency {
        sorted: samples,
        sent,
        datagrams: sim.stats(Direction::AtoB).sent + sim.stats(Direction::BtoA).sent,
    }
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// 2. Fairness: two flows, one link.

/// One side of the shared path: two KCP flows, demultiplexed by conv (the
/// first 4 bytes of every KCP datagram, little-endian). Output of the two
/// flows is interleaved datagram by datagram, so neither gets first pick of
/// the bottleneck queue. Every flow is updated every millisecond.
struct Duo {
    flows: Vec<(u32, Box<dyn Arq>)>,
    out: Vec<VecDeque<Vec<u8>>>,
    free: Vec<Vec<u8>>,
    turn: usize,
    next: Timestamp,
}

impl Duo {
    fn new(flows: Vec<(u32, Box<dyn Arq>)>) -> Duo {
        let out = flows.iter().map(|_| VecDeque::new()).collect();
        Duo {
            flows,
            out,
            free: Vec::new(),
            turn: 0,
            next: Timestamp::from_millis(0),
        }
    }
    fn collect(&mut self, i: usize) {
        let (out, free) = (&mut self.out[i], &mut self.free);
        self.flows[i].1.drain(&mut |d| {
            let mut b = free.pop().unwrap_or_default();
            b.clear();
            b.extend_from_slice(d);
            out.push_back(b);
        });
    }
}

impl Endpoint for Duo {
    fn handle_input(&mut self, d: &[u8], now: Timestamp) {
        let Some(conv) = d
            .get(..4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        else {
            return;
        };
        if let Some(i) = self.flows.iter().position(|(c, _)| *c == conv) {
            self.flows[i].1.input(d, now.as_millis());
            self.collect(i);
        }
    }
    fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        for k in 0..self.out.len() {
            let i = (self.turn + k) % self.out.len();
            if let Some(d) = self.out[i].pop_front() {
                self.turn = i + 1;
                buf[..d.len()].copy_from_slice(&d);
                let n = d.len();
                self.free.push(d);
                return Some(n);
            }
        }
        None
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Some(self.next)
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        for i in 0..self.flows.len() {
            self.flows[i].1.update(now.as_millis());
            self.collect(i);
        }
        self.next = now.add_millis(1);
    }
}

struct Fairness {
    /// Goodput (bytes) per flow per bucket.
    buckets: Vec<[u64; 2]>,
    /// Goodput per flow while both were sending.
    shared: [u64; 2],
    jain: f64,
    queue_drops: u64,
}

#[derive(Clone, Copy)]
struct FairSetup {
    seconds: u64,
    late_start_ms: u64,
    bucket_ms: u64,
}

fn fairness(imps: [Impl; 2], t: Tuning, link: &LinkConfig, seed: u64, s: &FairSetup) -> Fairness {
    let convs = [1u32, 2];
    let side = |_| {
        Duo::new(vec![
            (convs[0], imps[0].make(convs[0], t)),
            (convs[1], imps[1].make(convs[1], t)),
        ])
    };
    let cfg = SimConfig::new()
        .seed(seed)
        .a_to_b(link.clone())
        .b_to_a(LinkConfig::delayed(link.delay_ms));
    let mut sim = Sim::with_config(side(0), side(1), cfg);
    let chunk = vec![0x5Au8; 1024];
    let mut buf = vec![0u8; 1 << 16];
    let end = s.seconds * 1000;
    let mut buckets = vec![[0u64; 2]; end.div_ceil(s.bucket_ms) as usize];
    let mut shared = [0u64; 2];
    while sim.elapsed_ms() < end {
        let now = sim.elapsed_ms();
        for f in 0..2 {
            if f == 1 && now < s.late_start_ms {
                continue;
            }
            let arq = &mut sim.a_mut().flows[f].1;
            while arq.wait_snd() < 2 * usize::from(t.wnd) && arq.send(&chunk) {}
        }
        sim.step();
        let at = sim.elapsed_ms().min(end - 1);
        for f in 0..2 {
            while let Some(n) = sim.b_mut().flows[f].1.recv(&mut buf) {
                buckets[(at / s.bucket_ms) as usize][f] += n as u64;
                if at >= s.late_start_ms {
                    shared[f] += n as u64;
                }
            }
        }
    }
    let (x, y) = (shared[0] as f64, shared[1] as f64);
    let jain = if x + y > 0.0 {
        (x + y).powi(2) / (2.0 * (x * x + y * y))
    } else {
        0.0
    };
    Fairness {
        buckets,
        shared,
        jain,
        queue_drops: sim.stats(Direction::AtoB).dropped_queue,
    }
}

// ---------------------------------------------------------------------------

const HELP: &str = "\
latency: message latency percentiles (kcp-core kcp-go/ikcp profiles vs C ikcp)
and two-flow fairness on a shared bottleneck, through the seeded simulator.

  --seconds N   virtual seconds per latency run             [60]
  --seeds N     seeds per latency cell (samples pooled)      [3]
  --quick       10 s, 1 seed, shorter fairness runs (CI)
";

fn main() {
    let (mut seconds, mut seeds, mut quick) = (60u64, 3u64, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || args.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(1);
        match a.as_str() {
            "--seconds" => seconds = num().max(1),
            "--seeds" => seeds = num().max(1),
            "--quick" => (seconds, seeds, quick) = (10, 1, true),
            _ => {
                print!("{HELP}");
                std::process::exit(if a == "-h" || a == "--help" { 0 } else { 2 });
            }
        }
    }

    // --- latency ---
    let links = [
        ("40 ms RTT, 0% loss", LinkConfig::delayed(20)),
        ("40 ms RTT, 1% loss", LinkConfig::lossy(0.01, 20)),
        ("40 ms RTT, 5% loss", LinkConfig::lossy(0.05, 20)),
        ("40 ms RTT, 10% loss", LinkConfig::lossy(0.10, 20)),
        (
            "40 ms RTT, bursty 5% (bursts of 4)",
            LinkConfig::bursty(0.05, 4.0, 20),
        ),
    ];
    let imps = [Impl::CoreKcpGo, Impl::CoreIkcp, Impl::C];
    println!(
        "### Message latency\n\n{MSG_LEN}-byte message every {MSG_EVERY_MS} ms, nodelay(1, 10, 2, 1), \
         windows 128, both directions same link; {seconds} s virtual x {seeds} seeds per cell; \
         virtual ms from send() to recv().\n"
    );
    println!("| link | implementation | p50 | p90 | p99 | max | datagrams/msg |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, link) in &links {
        for imp in imps {
            let mut all = Vec::new();
            let (mut sent, mut datagrams) = (0, 0);
            for seed in 1..=seeds {
                let l = latency(imp, link, seed, seconds);
                assert_eq!(l.sorted.len() as u64, l.sent, "every message delivered");
                all.extend(l.sorted);
                sent += l.sent;
                datagrams += l.datagrams;
            }
            all.sort_unstable();
            println!(
                "| {name} | {} | {} | {} | {} | {} | {:.2} |",
                imp.name(),
                pct(&all, 0.5),
                pct(&all, 0.9),
                pct(&all, 0.99),
                pct(&all, 1.0),
                datagrams as f64 / sent as f64
            );
        }
    }

    // --- fairness ---
    let setup = if quick {
        FairSetup {
            seconds: 6,
            late_start_ms: 2000,
            bucket_ms: 1000,
        }
    } else {
        FairSetup {
            seconds: 30,
            late_start_ms: 5000,
            bucket_ms: 5000,
        }
    };
    let bottleneck = LinkConfig::constrained(500_000, 20).max_queue_bytes(50_000);
    println!(
        "\n### Fairness: two flows on one bottleneck\n\n500 kB/s A->B bottleneck, 50 kB tail-drop \
         queue, 40 ms RTT (clean return path), windows 128, 1 KiB messages kept queued; \
         flow 2 starts at {} s; {} s in all. Goodput in kB/s per {} s interval (flow 1 / flow 2); \
         Jain's index over the shared period (1.0 = equal shares, 0.5 = one flow starved); \
         the time series, shares, Jain and queue drops are seed 1's (other seeds \
         start flow 2 137 ms later each). kcp-core is the kcp-go profile unless named.\n",
        setup.late_start_ms / 1000,
        setup.seconds,
        setup.bucket_ms / 1000
    );
    let pairs = [
        ([Impl::CoreKcpGo, Impl::CoreKcpGo], "kcp-core vs kcp-core"),
        ([Impl::CoreKcpGo, Impl::C], "kcp-core vs C ikcp"),
        ([Impl::C, Impl::C], "C ikcp vs C ikcp"),
        (
            [Impl::CoreIkcp, Impl::C],
            "kcp-core (ikcp profile) vs C ikcp",
        ),
        (
            [Impl::CoreKcpGo, Impl::CoreIkcp],
            "kcp-core: kcp-go vs ikcp profile",
        ),
    ];
    let tunings = [
        (
            "nodelay(1,10,2,1), no cwnd",
            Tuning {
                wnd: 128,
                ..Tuning::turbo()
            },
        ),
        (
            "nodelay(1,10,2,0), cwnd on",
            Tuning {
                wnd: 128,
                nc: 0,
                ..Tuning::turbo()
            },
        ),
    ];
    let nb = setup.seconds * 1000 / setup.bucket_ms;
    let mut head = "| flows | settings |".to_string();
    let mut rule = "|---|---|".to_string();
    for i in 0..nb {
        head += &format!(
            " {}-{} s |",
            i * setup.bucket_ms / 1000,
            (i + 1) * setup.bucket_ms / 1000
        );
        rule += "---:|";
    }
    println!(
        "{head} shared kB/s | Jain | Jain mean / min, {seeds} seeds | queue drops |\n{rule}---:|---:|---:|---:|"
    );
    for (t_name, t) in &tunings {
        for (imps, name) in &pairs {
            let f = fairness(*imps, *t, &bottleneck, 1, &setup);
            let jains: Vec<f64> = (1..=seeds)
                .map(|seed| match seed {
                    1 => f.jain,
                    // The bottleneck has no random element: vary the phase
                    // of flow 2's start instead.
                    _ => {
                        let shifted = FairSetup {
                            late_start_ms: setup.late_start_ms + (seed - 1) * 137,
                            ..setup
                        };
                        fairness(*imps, *t, &bottleneck, seed, &shifted).jain
                    }
                })
                .collect();
            let mean = jains.iter().sum::<f64>() / jains.len() as f64;
            let min = jains.iter().copied().fold(f64::MAX, f64::min);
            let kbs = |b: u64, ms: u64| b as f64 / ms as f64; // bytes/ms = kB/s
            let mut row = format!("| {name} | {t_name} |");
            for b in &f.buckets {
                row += &format!(
                    " {:.0} / {:.0} |",
                    kbs(b[0], setup.bucket_ms),
                    kbs(b[1], setup.bucket_ms)
                );
            }
            let shared_ms = setup.seconds * 1000 - setup.late_start_ms;
            println!(
                "{row} {:.0} / {:.0} | {:.3} | {mean:.3} / {min:.3} | {} |",
                kbs(f.shared[0], shared_ms),
                kbs(f.shared[1], shared_ms),
                f.jain,
                f.queue_drops
            );
        }
    }
}
