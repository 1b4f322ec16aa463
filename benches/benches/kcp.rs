//! kcp-core benchmarks, peers measured in the same run:
//! - `flush`: kcp-go's BenchmarkFlush shape (1024 segments in flight, none due).
//! - `bulk_in_memory`: one-way transfer, datagrams handed straight to the
//!   peer, for kcp-core (both profiles), C ikcp and the `kcp` crate.
//! - `bulk_sim`: the same through the simulator, no loss and 5% loss.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kcp_benches::peers::{Arq, CIkcp, Core, KcpCrate, Tuning};
use kcp_benches::transfer::{in_memory, simulated};
use kcp_core::sim::LinkConfig;
use kcp_core::{Config, Header, Kcp, OVERHEAD, Profile, Timestamp};

/// A kcp-core endpoint with 1024 segments in flight, none due for 10 s.
fn loaded_sender() -> (Kcp, Timestamp) {
    let t0 = Timestamp::from_millis(1000);
    let mut c = Config::new();
    c.set_nodelay(0, 100, 0, 1).set_window(1024, 1024);
    let mut k = Kcp::new(1, c, t0);
    // The peer announces a window of 1024 so all segments enter flight.
    let mut wins = [0u8; OVERHEAD];
    Header {
        conv: 1,
        cmd: 84,
        wnd: 1024,
        ..Header::default()
    }
    .encode(&mut wins);
    k.input(&wins, t0).unwrap();
    for _ in 0..1024 {
        k.send(&[0u8; 64]).unwrap();
    }
    k.flush(t0);
    while k.poll_transmit().is_some() {}
    assert_eq!(k.state().snd_buf, 1024);
    (k, t0.add_millis(1))
}

fn flush(c: &mut Criterion) {
    let mut g = c.benchmark_group("flush");
    let (mut k, now) = loaded_sender();
    g.bench_function("kcp-core_1024_in_flight", |b| {
        b.iter(|| {
            let d = k.flush(now);
            debug_assert!(k.poll_transmit().is_none());
            d
        })
    });
    g.finish();
}

const TOTAL: usize = 16 << 20;
const MSG: usize = 1376 * 4;

fn bulk_in_memory(c: &mut Criterion) {
    kcp_benches::allocator::keep_heap();
    let t = Tuning::turbo();
    let msg = vec![0xA5u8; MSG];
    let wnd = usize::from(t.wnd);
    let mut g = c.benchmark_group("bulk_in_memory");
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.sample_size(10);
    macro_rules! peer {
        ($name:expr, $mk:expr) => {
            g.bench_function($name, |b| {
                b.iter_batched(
                    || $mk,
                    |(mut x, mut y)| in_memory(&mut x, &mut y, TOTAL, &msg, wnd),
                    BatchSize::PerIteration,
                )
            });
        };
    }
    peer!(
        "kcp-core_kcp-go",
        (
            Core::new(1, Profile::KcpGo, t),
            Core::new(1, Profile::KcpGo, t)
        )
    );
    peer!(
        "kcp-core_ikcp",
        (
            Core::new(1, Profile::Ikcp, t),
            Core::new(1, Profile::Ikcp, t)
        )
    );
    peer!("c_ikcp", {
        let (mut a, mut b) = (CIkcp::new(1, t), CIkcp::new(1, t));
        CIkcp::connect_direct(&mut a, &mut b);
        (a, b)
    });
    peer!("kcp_crate", (KcpCrate::new(1, t), KcpCrate::new(1, t)));
    g.finish();
}

fn bulk_sim(c: &mut Criterion) {
    kcp_benches::allocator::keep_heap();
    let t = Tuning::turbo();
    let msg = vec![0x5Au8; MSG];
    let wnd = usize::from(t.wnd);
    let total = 4 << 20;
    for (label, loss) in [("bulk_sim_noloss", 0.0), ("bulk_sim_loss5", 0.05)] {
        let mut g = c.benchmark_group(label);
        g.throughput(Throughput::Bytes(total as u64));
        g.sample_size(10);
        let link = LinkConfig::lossy(loss, 10);
        fn run<A: Arq, B: Arq>(
            a: A,
            b: B,
            link: &LinkConfig,
            total: usize,
            msg: &[u8],
            wnd: usize,
        ) {
            simulated(a, b, link.clone(), 7, total, msg, wnd);
        }
        g.bench_function("kcp-core_kcp-go", |b| {
            b.iter(|| {
                run(
                    Core::new(1, Profile::KcpGo, t),
                    Core::new(1, Profile::KcpGo, t),
                    &link,
                    total,
                    &msg,
                    wnd,
                )
            })
        });
        g.bench_function("kcp-core_ikcp", |b| {
            b.iter(|| {
                run(
                    Core::new(1, Profile::Ikcp, t),
                    Core::new(1, Profile::Ikcp, t),
                    &link,
                    total,
                    &msg,
                    wnd,
                )
            })
        });
        g.bench_function("c_ikcp", |b| {
            b.iter(|| run(CIkcp::new(1, t), CIkcp::new(1, t), &link, total, &msg, wnd))
        });
        g.bench_function("kcp_crate", |b| {
            b.iter(|| {
                run(
                    KcpCrate::new(1, t),
                    KcpCrate::new(1, t),
                    &link,
                    total,
                    &msg,
                    wnd,
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, flush, bulk_in_memory, bulk_sim);
criterion_main!(benches);
