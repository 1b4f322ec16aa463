//! Hostile input: typed drops and counters, never a panic, bounded memory.

use kcp_fec::{Decoded, Decoder, FecConfig, FecError, ReedSolomon};

const MAX_GROUPS: usize = 4;

fn bound(max_datagram: usize) -> usize {
    // 5 group slots of (data + parity) rows, for any layout autotune may
    // adopt (at most 255 shards).
    5 * 255 * (max_datagram - 6 + 1 + 2)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn shard(seqid: u32, ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = seqid.to_le_bytes().to_vec();
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn short_and_long_datagrams_are_typed_drops() {
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    for len in 0..12 {
        let pkt = vec![0xF1; len];
        assert_eq!(
            dec.input(&pkt).unwrap_err(),
            FecError::DatagramTooShort { len, min: 12 }
        );
    }
    assert_eq!(dec.stats().too_short, 12);
    let long = shard(0, 0xF1, &[0; 1600]);
    assert_eq!(
        dec.input(&long).unwrap_err(),
        FecError::DatagramTooLong {
            len: 1606,
            max: 1500
        }
    );
    assert_eq!(dec.stats().too_long, 1);
    assert_eq!(dec.group_count(), 0);
}

#[test]
fn rebuilt_shard_with_bad_size_field_is_not_handed_up() {
    // A peer that writes size fields larger than the shard: the rebuilt
    // shard carries the bogus size and must be dropped and counted.
    let (d, p) = (3, 1);
    let rs = ReedSolomon::new(d, p).unwrap();
    let len = 30;
    let mut data: Vec<Vec<u8>> = (0..d).map(|i| vec![i as u8 + 1; len]).collect();
    data[0][..2].copy_from_slice(&0xFFFFu16.to_le_bytes()); // size > shard
    data[1][..2].copy_from_slice(&1u16.to_le_bytes()); // size < 2
    let mut parity = [vec![0u8; len]];
    {
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut outs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        rs.encode(&refs, &mut outs).unwrap();
    }
    for lost in 0..2 {
        let mut dec = Decoder::new(&FecConfig::new(d, p)).unwrap();
        for i in (0..d).filter(|&i| i != lost) {
            dec.input(&shard(i as u32, 0xF1, &data[i])).unwrap();
        }
        let pkt = shard(3, 0xF2, &parity[0]);
        let out = dec.input(&pkt).unwrap();
        assert!(out.recovered().is_empty());
        assert_eq!(dec.stats().recovered, 1);
        assert_eq!(dec.stats().recovered_invalid, 1);
    }
}

#[test]
fn random_floods_stay_bounded() {
    let max = 1500;
    for layout in [(10, 3), (1, 1), (3, 1)] {
        let mut dec = Decoder::new(&FecConfig::new(layout.0, layout.1)).unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ layout.0 as u64);
        for round in 0..20_000 {
            let len = 12 + (rng.next() % (max as u64 - 11)) as usize;
            let ty = match rng.next() % 4 {
                0 => 0xF1,
                1 => 0xF2,
                2 => 0xF3,
                _ => rng.next() as u16,
            };
            // Mix fully random seqids with near-sequential ones.
            let seq = if round % 3 == 0 {
                rng.next() as u32
            } else {
                (round / 2) as u32
            };
            let body: Vec<u8> = (0..len - 6).map(|_| rng.next() as u8).collect();
            let pkt = shard(seq, ty, &body);
            match dec.input(&pkt) {
                Ok(Decoded::Data { recovered, .. } | Decoded::Parity { recovered }) => {
                    for r in recovered {
                        assert!(r.payload.len() + 2 <= r.shard.len());
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("unexpected drop {e}"),
            }
            assert!(dec.group_count() <= MAX_GROUPS);
            assert!(dec.storage_bytes() <= bound(max), "{}", dec.storage_bytes());
        }
        let s = dec.stats();
        assert!(s.shard_sets <= MAX_GROUPS as u64);
        assert!(s.oob_packets > 0 && s.raw_packets > 0);
    }
}

#[test]
fn parity_only_flood_never_grows() {
    let (d, p) = (10, 3);
    let mut dec = Decoder::new(&FecConfig::new(d, p)).unwrap();
    let ss = (d + p) as u32;
    let mut peak = 0;
    for g in 0..50_000u32 {
        for k in 0..p as u32 {
            let pkt = shard(g * ss + d as u32 + k, 0xF2, &[0xAA; 1400]);
            let out = dec.input(&pkt).unwrap();
            assert!(out.recovered().is_empty());
        }
        assert!(dec.group_count() <= MAX_GROUPS);
        peak = peak.max(dec.storage_bytes());
    }
    assert_eq!(dec.stats().parity_shards, 150_000);
    assert_eq!(dec.stats().recovered, 0);
    // Five slots of 13 rows, whatever the flood's length.
    assert!(peak <= 5 * 13 * (1500 - 6 + 1 + 2), "{peak}");
}

#[test]
fn duplicates_are_ignored() {
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    let pkt = shard(0, 0xF1, &[14, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for _ in 0..100 {
        assert!(matches!(dec.input(&pkt).unwrap(), Decoded::Data { .. }));
    }
    assert_eq!(dec.stats().duplicates, 99);
    assert_eq!(dec.group_count(), 1);
}
