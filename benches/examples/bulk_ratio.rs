//! Prints bulk-transfer throughput of kcp-core against C ikcp and the `kcp`
//! crate, measured in the same run, with ratios.
//!
//! `cargo run --release -p kcp-benches --example bulk_ratio -- [MB] [rounds]`

use std::time::Instant;

use kcp_benches::peers::{Arq, CIkcp, Core, CoreZeroCopy, KcpCrate, Tuning};
use kcp_benches::transfer::in_memory;
use kcp_core::Profile;

fn best_of(
    rounds: usize,
    total: usize,
    mut mk: impl FnMut() -> (Box<dyn Arq>, Box<dyn Arq>),
) -> f64 {
    let msg = vec![0xA5u8; 1376 * 4];
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let (mut a, mut b) = mk();
        let t = Instant::now();
        let o = in_memory(&mut *a, &mut *b, total, &msg, 1024);
        assert_eq!(o.bytes, total);
        best = best.min(t.elapsed().as_secs_f64());
    }
    total as f64 / best / 1e9
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(200);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
    if let Some(only) = args.next() {
        // Profiling aid: run one implementation only.
        let (mut a, mut b): (Box<dyn Arq>, Box<dyn Arq>) = match only.as_str() {
            "core" => (
                Box::new(Core::new(1, Profile::KcpGo, Tuning::turbo())),
                Box::new(Core::new(1, Profile::KcpGo, Tuning::turbo())),
            ),
            "c" => {
                let (mut a, mut b) = (
                    CIkcp::new(1, Tuning::turbo()),
                    CIkcp::new(1, Tuning::turbo()),
                );
                CIkcp::connect_direct(&mut a, &mut b);
                (Box::new(a), Box::new(b))
            }
            "core0" => (
                Box::new(CoreZeroCopy(Core::new(1, Profile::KcpGo, Tuning::turbo()))),
                Box::new(CoreZeroCopy(Core::new(1, Profile::KcpGo, Tuning::turbo()))),
            ),
            other => panic!("unknown peer {other}"),
        };
        let msg = vec![0xA5u8; 1376 * 4];
        let mut best = f64::MAX;
        for _ in 0..rounds {
            let t = Instant::now();
            in_memory(&mut *a, &mut *b, mb << 20, &msg, 1024);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{only}: {:.2} GB/s", (mb << 20) as f64 / best / 1e9);
        return;
    }
    let total = mb << 20;
    let t = Tuning::turbo();
    // Interleave peers so machine noise hits all of them alike.
    let mut rows: Vec<(&str, f64)> = Vec::new();
    for _ in 0..rounds {
        let r = [
            (
                "kcp-core (kcp-go profile)",
                best_of(1, total, || {
                    (
                        Box::new(Core::new(1, Profile::KcpGo, t)),
                        Box::new(Core::new(1, Profile::KcpGo, t)),
                    )
                }),
            ),
            (
                "kcp-core, recv_with (0-copy)",
                best_of(1, total, || {
                    (
                        Box::new(CoreZeroCopy(Core::new(1, Profile::KcpGo, t))),
                        Box::new(CoreZeroCopy(Core::new(1, Profile::KcpGo, t))),
                    )
                }),
            ),
            (
                "kcp-core (ikcp profile)",
                best_of(1, total, || {
                    (
                        Box::new(Core::new(1, Profile::Ikcp, t)),
                        Box::new(Core::new(1, Profile::Ikcp, t)),
                    )
                }),
            ),
            (
                "C ikcp, callback -> queue",
                best_of(1, total, || {
                    (Box::new(CIkcp::new(1, t)), Box::new(CIkcp::new(1, t)))
                }),
            ),
            (
                "C ikcp, callback -> peer",
                best_of(1, total, || {
                    let (mut a, mut b) = (CIkcp::new(1, t), CIkcp::new(1, t));
                    CIkcp::connect_direct(&mut a, &mut b);
                    (Box::new(a), Box::new(b))
                }),
            ),
            (
                "kcp crate 0.6",
                best_of(1, total, || {
                    (Box::new(KcpCrate::new(1, t)), Box::new(KcpCrate::new(1, t)))
                }),
            ),
        ];
        for (i, (name, v)) in r.into_iter().enumerate() {
            if rows.len() <= i {
                rows.push((name, v));
            } else if v > rows[i].1 {
                rows[i].1 = v;
            }
        }
    }
    // The bar: C ikcp feeding the peer's ikcp_input from its output
    // callback, no copy (the cheapest use of the C API).
    let c = rows[4].1;
    println!(
        "one-way bulk transfer in memory, {mb} MiB, nodelay(1,10,2,1), wnd 1024, 5504-byte messages, best of {rounds}"
    );
    for (name, v) in &rows {
        println!(
            "{name:<28} {v:>6.2} GB/s   {:>5.2}x C ikcp (callback -> peer)",
            v / c
        );
    }
}
