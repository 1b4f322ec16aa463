//! Prints bulk-transfer throughput of kcp-core against C ikcp and the `kcp`
//! crate, measured in the same run, with ratios.
//!
//! `cargo run --release -p kcp-benches --example bulk_ratio -- [MB] [rounds]`
//!
//! Two columns: "steady" times a pair's second transfer of MB (buffers
//! allocated, caches and page tables warm: what a long-lived connection
//! sees), "fresh pair" the first one (every allocation and first-touch page
//! fault included). A third argument runs one implementation only, for
//! profiling: `core`, `core0`, `core-ikcp`, `c-queue`, `c` or `kcp`, with a
//! `-fresh` suffix for a new pair per round.

use std::time::Instant;

use kcp_benches::peers::{Arq, CIkcp, Core, CoreZeroCopy, KcpCrate, Tuning};
use kcp_benches::transfer::{in_memory, in_memory_from};
use kcp_core::Profile;

/// One round: a fresh endpoint pair moves `total` bytes (cold: the first
/// transfer pays for every buffer the pair allocates and the page faults),
/// then the same pair moves `total` bytes again (warm: steady state).
/// Returns the two throughputs in GB/s.
fn cold_and_warm(total: usize, (mut a, mut b): (Box<dyn Arq>, Box<dyn Arq>)) -> (f64, f64) {
    let msg = vec![0xA5u8; 1376 * 4];
    let t = Instant::now();
    let o = in_memory(&mut *a, &mut *b, total, &msg, 1024);
    let cold = t.elapsed().as_secs_f64();
    assert_eq!(o.bytes, total);
    let start = u32::try_from(o.virtual_ms).expect("short run");
    let t = Instant::now();
    let o = in_memory_from(&mut *a, &mut *b, total, &msg, 1024, start);
    let warm = t.elapsed().as_secs_f64();
    assert_eq!(o.bytes, total);
    (total as f64 / cold / 1e9, total as f64 / warm / 1e9)
}

type Pair = (Box<dyn Arq>, Box<dyn Arq>);

/// A peer measured: key for the profiling mode, table label, and a maker of
/// fresh endpoint pairs.
type Peer = (&'static str, &'static str, Box<dyn Fn() -> Pair>);

fn peers(t: Tuning) -> [Peer; 6] {
    [
        (
            "core",
            "kcp-core (kcp-go profile)",
            Box::new(move || {
                (
                    Box::new(Core::new(1, Profile::KcpGo, t)),
                    Box::new(Core::new(1, Profile::KcpGo, t)),
                )
            }),
        ),
        (
            "core0",
            "kcp-core, recv_with (0-copy)",
            Box::new(move || {
                (
                    Box::new(CoreZeroCopy(Core::new(1, Profile::KcpGo, t))),
                    Box::new(CoreZeroCopy(Core::new(1, Profile::KcpGo, t))),
                )
            }),
        ),
        (
            "core-ikcp",
            "kcp-core (ikcp profile)",
            Box::new(move || {
                (
                    Box::new(Core::new(1, Profile::Ikcp, t)),
                    Box::new(Core::new(1, Profile::Ikcp, t)),
                )
            }),
        ),
        (
            "c-queue",
            "C ikcp, callback -> queue",
            Box::new(move || (Box::new(CIkcp::new(1, t)), Box::new(CIkcp::new(1, t)))),
        ),
        (
            "c",
            "C ikcp, callback -> peer",
            Box::new(move || {
                let (mut a, mut b) = (CIkcp::new(1, t), CIkcp::new(1, t));
                CIkcp::connect_direct(&mut a, &mut b);
                (Box::new(a), Box::new(b))
            }),
        ),
        (
            "kcp",
            "kcp crate 0.6",
            Box::new(move || (Box::new(KcpCrate::new(1, t)), Box::new(KcpCrate::new(1, t)))),
        ),
    ]
}

fn main() {
    kcp_benches::allocator::keep_heap();
    let mut args = std::env::args().skip(1);
    let mb: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(200);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
    let peers = peers(Tuning::turbo());
    if let Some(only) = args.next() {
        // Profiling aid: run one implementation only, on one pair (or on a
        // fresh pair per round with a `-fresh` suffix).
        let (name, fresh) = match only.strip_suffix("-fresh") {
            Some(n) => (n, true),
            None => (only.as_str(), false),
        };
        let Some((_, _, mk)) = peers.iter().find(|(key, ..)| *key == name) else {
            let keys: Vec<&str> = peers.iter().map(|(key, ..)| *key).collect();
            panic!("unknown peer {name}; one of {keys:?}");
        };
        let msg = vec![0xA5u8; 1376 * 4];
        let (mut a, mut b) = mk();
        let (mut best, mut clock) = (f64::MAX, 0u32);
        for _ in 0..rounds {
            if fresh {
                (a, b) = mk();
                clock = 0;
            }
            let t = Instant::now();
            let o = in_memory_from(&mut *a, &mut *b, mb << 20, &msg, 1024, clock);
            best = best.min(t.elapsed().as_secs_f64());
            clock = u32::try_from(o.virtual_ms).expect("short run");
        }
        println!("{only}: {:.2} GB/s", (mb << 20) as f64 / best / 1e9);
        return;
    }
    let total = mb << 20;
    // Interleave peers so machine noise hits all of them alike.
    let mut best = [(0.0f64, 0.0f64); 6];
    for _ in 0..rounds {
        for (i, (_, _, mk)) in peers.iter().enumerate() {
            let (cold, warm) = cold_and_warm(total, mk());
            best[i] = (best[i].0.max(cold), best[i].1.max(warm));
        }
    }
    // The bar: C ikcp feeding the peer's ikcp_input from its output
    // callback, no copy (the cheapest use of the C API).
    let c = best[peers
        .iter()
        .position(|(key, ..)| *key == "c")
        .expect("C peer")];
    println!(
        "one-way bulk transfer in memory, {mb} MiB, nodelay(1,10,2,1), wnd 1024, 5504-byte messages, best of {rounds}"
    );
    println!(
        "{:<28} {:>10} {:>8}   {:>10} {:>8}",
        "", "steady", "vs C", "fresh pair", "vs C"
    );
    for ((_, name, _), (cold, warm)) in peers.iter().zip(best) {
        println!(
            "{name:<28} {warm:>5.2} GB/s {:>7.2}x   {cold:>5.2} GB/s {:>7.2}x",
            warm / c.1,
            cold / c.0
        );
    }
    println!("(vs C = against C ikcp whose output callback feeds the peer directly)");
}
