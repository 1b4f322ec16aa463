//! FEC benchmarks, in kcp-go's shapes (`BenchmarkFECEncode`,
//! `BenchmarkFECDecode`), plus the bare 10+3 codec on every kernel and on
//! the published crates.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kcp_fec::{Backend, Codec, Decoder, Encoder, FecConfig, ReedSolomon};

const DATA: usize = 10;
const PARITY: usize = 3;
const PACKET: usize = 1500;
const SHARD: usize = 1400;

/// xorshift64: seeded, so every run drops the same packets.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn filled(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..len).map(|_| r.next() as u8).collect()
}

/// kcp-go `BenchmarkFECEncode`: one 1500-byte packet per iteration into a
/// 10+3 encoder; parity every 10th; bytes = input packets.
fn fec_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_encode");
    g.throughput(Throughput::Bytes(PACKET as u64));
    // The default kernel, the GFNI kernel for CPUs without AVX-512, and
    // the optional GF(2^16) codec.
    let variants = [
        ("kcp-rs", Codec::KcpGo, None),
        ("kcp-rs_gfni_avx2", Codec::KcpGo, Some(Backend::GfniAvx2)),
        ("kcp-rs_rs-simd", Codec::RsSimd, None),
    ];
    for (name, codec, backend) in variants {
        if backend.is_some_and(|b: Backend| !b.is_available()) {
            continue;
        }
        let cfg = FecConfig {
            codec,
            backend,
            ..FecConfig::new(DATA, PARITY)
        };
        let mut enc = Encoder::new(&cfg).unwrap();
        let mut pkt = filled(PACKET, 7);
        let mut now = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                now = now.wrapping_add(1);
                let parity = enc.encode(black_box(&mut pkt), now).unwrap();
                black_box(parity.len());
            })
        });
    }
    g.finish();
}

/// kcp-go `BenchmarkFECDecode`: one 1500-byte shard of consecutive 10+3
/// groups per iteration, 1 in 13 dropped at random; bytes = input packets
/// (dropped iterations included, as in kcp-go).
fn fec_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_decode");
    g.throughput(Throughput::Bytes(PACKET as u64));
    for (name, codec) in [("kcp-rs", Codec::KcpGo), ("kcp-rs_rs-simd", Codec::RsSimd)] {
        let cfg = FecConfig {
            codec,
            parity_skip_gap_ms: None,
            ..FecConfig::new(DATA, PARITY)
        };
        // Real groups (valid parity and size fields) so recovery does real
        // work; the seqid is rewritten per packet to keep it consecutive.
        let mut enc = Encoder::new(&cfg).unwrap();
        let mut ring: Vec<Vec<u8>> = Vec::new();
        for i in 0..16 * DATA {
            let mut pkt = filled(PACKET, i as u64);
            let parity: Vec<Vec<u8>> = enc
                .encode(&mut pkt, 0)
                .unwrap()
                .iter()
                .map(<[u8]>::to_vec)
                .collect();
            ring.push(pkt);
            ring.extend(parity);
        }
        let mut dec = Decoder::new(&cfg).unwrap();
        let mut rng = Rng(0x5EED);
        let mut seq = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                let i = seq;
                seq = seq.wrapping_add(1);
                if rng.next() % 13 == 0 {
                    return;
                }
                let n = ring.len();
                let pkt = &mut ring[i as usize % n];
                pkt[..4].copy_from_slice(&i.to_le_bytes());
                let out = dec.input(black_box(pkt)).unwrap();
                black_box(out.recovered().len());
            })
        });
        let s = dec.stats();
        eprintln!(
            "fec_decode/{name}: recovered {} full {} errors {}",
            s.recovered, s.full_shard_sets, s.errors
        );
    }
    g.finish();
}

/// The bare codec: 10+3 shards of 1400 bytes; encode, and rebuild 3 lost
/// data shards. Bytes = the 14000 data bytes.
fn fec_codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_codec");
    g.throughput(Throughput::Bytes((DATA * SHARD) as u64));
    let lost = [0usize, 4, 7];
    let mut present = [true; DATA + PARITY];
    for l in lost {
        present[l] = false;
    }
    let stride = SHARD;
    let mut group = filled((DATA + PARITY) * stride, 99);

    for backend in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let mut rs = ReedSolomon::with_backend(DATA, PARITY, backend).unwrap();
        g.bench_function(format!("encode/{backend}"), |b| {
            b.iter(|| {
                rs.encode_strided(black_box(&mut group), stride, SHARD)
                    .unwrap()
            })
        });
        rs.encode_strided(&mut group, stride, SHARD).unwrap();
        let want = group.clone();
        g.bench_function(format!("decode/{backend}"), |b| {
            b.iter(|| {
                rs.reconstruct_data_strided(black_box(&mut group), stride, SHARD, &present)
                    .unwrap()
            })
        });
        assert_eq!(group, want, "{backend} rebuilt the wrong bytes");
    }

    // reed-solomon-erasure 6: identical parity to kcp-go. Pure Rust by
    // default; with this crate's `rse-simd-accel` feature its C SIMD backend
    // (cargo unifies features, so the two variants need two runs).
    let rse_name = if cfg!(feature = "rse-simd-accel") {
        "reed-solomon-erasure_simd-accel"
    } else {
        "reed-solomon-erasure_pure"
    };
    {
        let rse = reed_solomon_erasure::galois_8::ReedSolomon::new(DATA, PARITY).unwrap();
        let mut shards: Vec<Vec<u8>> = (0..DATA + PARITY)
            .map(|i| group[i * stride..][..SHARD].to_vec())
            .collect();
        g.bench_function(format!("encode/{rse_name}"), |b| {
            b.iter(|| rse.encode(black_box(&mut shards)).unwrap())
        });
        let mut tagged: Vec<(Vec<u8>, bool)> = shards.iter().cloned().map(|s| (s, true)).collect();
        g.bench_function(format!("decode/{rse_name}"), |b| {
            b.iter(|| {
                for l in lost {
                    tagged[l].1 = false;
                }
                rse.reconstruct_data(black_box(&mut tagged)).unwrap();
            })
        });
        assert!(tagged.iter().zip(&shards).all(|((a, _), b)| a == b));
    }

    // reed-solomon-simd 3 (GF(2^16)): different parity, not kcp-go compatible.
    {
        use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
        let data: Vec<&[u8]> = (0..DATA).map(|i| &group[i * stride..][..SHARD]).collect();
        let mut enc = ReedSolomonEncoder::new(DATA, PARITY, SHARD).unwrap();
        g.bench_function("encode/reed-solomon-simd", |b| {
            b.iter(|| {
                for d in &data {
                    enc.add_original_shard(d).unwrap();
                }
                black_box(enc.encode().unwrap().recovery(0).map(|r| r[0]));
            })
        });
        for d in &data {
            enc.add_original_shard(d).unwrap();
        }
        let recovery: Vec<Vec<u8>> = enc
            .encode()
            .unwrap()
            .recovery_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let mut dec = ReedSolomonDecoder::new(DATA, PARITY, SHARD).unwrap();
        g.bench_function("decode/reed-solomon-simd", |b| {
            b.iter(|| {
                for (i, d) in data.iter().enumerate().filter(|(i, _)| !lost.contains(i)) {
                    dec.add_original_shard(i, d).unwrap();
                }
                for (k, r) in recovery.iter().enumerate() {
                    dec.add_recovery_shard(k, r).unwrap();
                }
                black_box(dec.decode().unwrap().restored_original(0).map(|r| r[0]));
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = fec_encode, fec_decode, fec_codec
}
criterion_main!(benches);
