//! Property tests: random layouts, payload lengths (odd, empty) and erasures
//! of up to `parity` shards per group always give back every datagram.

use kcp_fec::{Codec, Decoded, Decoder, Encoder, FecConfig};
use proptest::prelude::*;

/// Encodes `payloads` (one datagram each), drops the shards `lose` says
/// (indexed by seqid), feeds the rest in order and returns every KCP
/// payload the decoder hands up, direct or recovered.
fn run(cfg: &FecConfig, payloads: &[Vec<u8>], lose: &dyn Fn(usize) -> bool) -> Vec<Vec<u8>> {
    let mut enc = Encoder::new(cfg).unwrap();
    let mut dec = Decoder::new(cfg).unwrap();
    let mut wire: Vec<Vec<u8>> = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let mut dg = vec![0u8; cfg.header_offset + 8];
        dg.extend_from_slice(p);
        let parity = enc.encode(&mut dg, i as u32).unwrap();
        let parity: Vec<Vec<u8>> = parity
            .iter()
            .map(|p| p[cfg.header_offset..].to_vec())
            .collect();
        wire.push(dg[cfg.header_offset..].to_vec());
        wire.extend(parity);
    }
    let mut got = Vec::new();
    for (seq, dg) in wire.iter().enumerate() {
        if lose(seq) {
            continue;
        }
        // Datagrams under 12 bytes are dropped (kcp-go's minimum); only the
        // zero-length test makes any.
        let Ok(out) = dec.input(dg) else { continue };
        if let Decoded::Data { kcp, .. } = &out {
            got.push(kcp.to_vec());
        }
        for r in out.recovered() {
            got.push(r.payload.to_vec());
        }
    }
    got
}

fn layout() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        4 => (1usize..=12, 1usize..=6),
        1 => (1usize..=200, 1usize..=56),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn erasures_up_to_parity_are_recovered(
        (d, p) in layout(),
        groups in 1usize..4,
        seed in any::<u64>(),
        header_offset in prop_oneof![Just(0usize), Just(12), Just(20)],
        simd in any::<bool>(),
    ) {
        let cfg = FecConfig {
            header_offset,
            parity_skip_gap_ms: None,
            codec: if simd && cfg!(feature = "rs-simd") { Codec::RsSimd } else { Codec::KcpGo },
            ..FecConfig::new(d, p)
        };
        let mut rng = Rng(seed | 1);
        // Lengths 4..=300 (odd included) and a few 4-byte minimum KCP
        // payloads: 8 + 4 = 12 is the smallest datagram kcp-go accepts.
        let payloads: Vec<Vec<u8>> = (0..groups * d)
            .map(|_| {
                let len = if rng.next().is_multiple_of(5) { 4 } else { 4 + (rng.next() % 297) as usize };
                (0..len).map(|_| rng.next() as u8).collect()
            })
            .collect();
        let n = d + p;
        let mut lost = vec![false; groups * n];
        for g in 0..groups {
            let k = (rng.next() as usize) % (p + 1);
            for _ in 0..k {
                lost[g * n + (rng.next() as usize) % n] = true;
            }
        }
        let got = run(&cfg, &payloads, &|s| lost[s]);
        for (i, want) in payloads.iter().enumerate() {
            prop_assert!(got.contains(want), "payload {} of {} missing ({}+{})", i, payloads.len(), d, p);
        }
    }
}

#[test]
fn zero_length_kcp_payloads_round_trip() {
    // An empty KCP payload makes an 8-byte datagram: size field 2. The
    // decoder drops it (kcp-go's 12-byte minimum) but it still counts in
    // the parity, and a rebuilt one has size 2 and an empty payload.
    let cfg = FecConfig {
        parity_skip_gap_ms: None,
        ..FecConfig::new(3, 1)
    };
    let payloads = vec![vec![], vec![1, 2, 3, 4, 5], vec![9; 7]];
    let got = run(&cfg, &payloads, &|s| s == 0);
    assert!(got.contains(&vec![]));
    assert!(got.contains(&payloads[1]) && got.contains(&payloads[2]));
}

/// xorshift64, so the test needs no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
