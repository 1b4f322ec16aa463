//! Issue 16 audit: FEC header fields at their extremes (seqid 0, 1, 2,
//! 0x7fff_fffe, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe,
//! 0xffff_ffff, the `paws` boundary and any value; type 0xF1/0xF2/0xF3 or
//! any; `size` at the u16 boundaries; lengths around 12 and the 1500-byte
//! limit), runs of consecutive seqids whose data/parity pattern re-tunes the
//! decoder mid-stream, then an honest 10/3 stream losing one data shard per
//! group: recovery must resume once the decoder has re-tuned back. The test
//! profile has overflow checks on.

mod common;

use common::honest_stream;
use kcp_fec::{
    Decoded, Decoder, Encoder, FecConfig, FecError, MIN_DATAGRAM, MTU_LIMIT, TYPE_DATA, TYPE_OOB,
    TYPE_PARITY, paws,
};
use proptest::prelude::*;

const EDGES: [u32; 9] = [
    0,
    1,
    2,
    0x7fff_fffe,
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xffff_fffe,
    0xffff_ffff,
];

fn u32_field() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => prop::sample::select(EDGES.to_vec()),
        1 => any::<u32>(),
    ]
}

fn u16_field() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => prop::sample::select(vec![0u16, 1, 2, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff]),
        1 => any::<u16>(),
    ]
}

fn ty() -> impl Strategy<Value = u16> {
    prop_oneof![
        2 => Just(TYPE_DATA),
        2 => Just(TYPE_PARITY),
        1 => Just(TYPE_OOB),
        1 => u16_field(),
    ]
}

/// Datagram lengths around the 12-byte minimum and the 1500-byte limit.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => 0usize..=MIN_DATAGRAM + 2,
        2 => 8usize..200,
        1 => prop::sample::select(vec![MTU_LIMIT - 1, MTU_LIMIT, MTU_LIMIT + 1, MTU_LIMIT + 6, 65_541]),
    ]
}

/// A (data, parity) layout: kcp-go's usual ones or any valid small one.
fn layout() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        Just((10, 3)),
        Just((1, 1)),
        Just((20, 10)),
        (1usize..=24, 1usize..=12),
    ]
}

/// seqid bases: the edges, the `paws` boundary of a layout, any.
fn base(layout: (usize, usize)) -> impl Strategy<Value = u32> {
    let p = paws(layout.0, layout.1);
    prop_oneof![
        2 => prop::sample::select(EDGES.to_vec()),
        2 => (0u32..64).prop_map(move |k| p.wrapping_sub(k)),
        1 => (0u32..64).prop_map(move |k| p.wrapping_add(k)),
        1 => any::<u32>(),
    ]
}

fn packet(seqid: u32, ty: u16, size: u16, len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(151) ^ 0x5a)
        .collect();
    let head = seqid
        .to_le_bytes()
        .into_iter()
        .chain(ty.to_le_bytes())
        .chain(size.to_le_bytes());
    for (b, h) in p.iter_mut().zip(head) {
        *b = h;
    }
    p
}

/// A forged run: `len` consecutive seqids from `base` (wrapping), typed by
/// the pattern of `pattern` (data for the first `d` of every `d + p`),
/// bodies of `body` bytes.
#[derive(Clone, Debug)]
struct Run {
    base: u32,
    pattern: (usize, usize),
    len: u32,
    body: usize,
}

fn run() -> impl Strategy<Value = Run> {
    layout().prop_flat_map(|pattern| {
        (base(pattern), 1u32..300, 4usize..60).prop_map(move |(base, len, body)| Run {
            base,
            pattern,
            len,
            body,
        })
    })
}

fn feed_run(dec: &mut Decoder, r: &Run) {
    let n = (r.pattern.0 + r.pattern.1) as u32;
    for k in 0..r.len {
        let seqid = r.base.wrapping_add(k);
        let ty = if seqid % n < r.pattern.0 as u32 {
            TYPE_DATA
        } else {
            TYPE_PARITY
        };
        let pkt = packet(seqid, ty, (2 + r.body) as u16, 8 + r.body);
        let out = dec.input(&pkt).expect("well-sized shard");
        for rec in out.recovered() {
            assert!(rec.payload.len() + 2 <= rec.shard.len());
        }
        assert!(dec.group_count() <= 4, "{} groups", dec.group_count());
    }
}

/// A group-aligned honest start seqid near the interesting places.
fn honest_start() -> impl Strategy<Value = u32> {
    let p = paws(10, 3);
    prop_oneof![
        Just(0u32),
        (1u32..8).prop_map(move |k| p - 13 * k),
        (0u32..p / 13).prop_map(|g| g * 13),
        Just(0x7fff_ffff / 13 * 13),
        Just(0x8000_0000u32.div_ceil(13) * 13),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any header values and lengths: a typed drop (too short, too long)
    /// or a classified datagram, each counted once, and bounded groups.
    #[test]
    fn extreme_headers_are_counted_drops_or_classified(
        layout in layout(),
        pkts in prop::collection::vec((u32_field(), ty(), u16_field(), length()), 1..40),
    ) {
        let mut dec = Decoder::new(&FecConfig::new(layout.0, layout.1)).unwrap();
        let (mut short, mut long, mut oob, mut raw) = (0u64, 0u64, 0u64, 0u64);
        for &(seqid, ty, size, len) in &pkts {
            let pkt = packet(seqid, ty, size, len);
            match dec.input(&pkt) {
                Err(FecError::DatagramTooShort { len: l, min }) => {
                    prop_assert_eq!((l, min), (len, MIN_DATAGRAM));
                    short += 1;
                }
                Err(FecError::DatagramTooLong { len: l, max }) => {
                    prop_assert_eq!((l, max), (len, MTU_LIMIT));
                    prop_assert!(ty == TYPE_DATA || ty == TYPE_PARITY);
                    long += 1;
                }
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
                Ok(Decoded::Raw(d)) => {
                    prop_assert!(![TYPE_DATA, TYPE_PARITY, TYPE_OOB].contains(&ty));
                    prop_assert_eq!(d.len(), len);
                    raw += 1;
                }
                Ok(Decoded::Oob { conv, payload }) => {
                    prop_assert_eq!(ty, TYPE_OOB);
                    prop_assert_eq!(payload.len(), len - 12);
                    prop_assert_eq!(conv.to_le_bytes(), [pkt[8], pkt[9], pkt[10], pkt[11]]);
                    oob += 1;
                }
                Ok(Decoded::Data { kcp, recovered }) => {
                    prop_assert_eq!(ty, TYPE_DATA);
                    prop_assert_eq!(kcp, &pkt[8..]);
                    for r in recovered {
                        prop_assert!((2..=r.shard.len()).contains(&(r.payload.len() + 2)));
                    }
                }
                Ok(Decoded::Parity { recovered }) => {
                    prop_assert_eq!(ty, TYPE_PARITY);
                    for r in recovered {
                        prop_assert!((2..=r.shard.len()).contains(&(r.payload.len() + 2)));
                    }
                }
            }
            prop_assert!(dec.group_count() <= 4);
        }
        let st = dec.stats();
        prop_assert_eq!((st.too_short, st.too_long, st.oob_packets, st.raw_packets), (short, long, oob, raw));
        prop_assert!(st.shard_sets <= 4);
    }

    /// Runs of consecutive seqids from bases near 0, 2^31, 2^32 and `paws`
    /// whose data/parity patterns re-tune the decoder (possibly several
    /// times), then an honest 10/3 stream: once it has re-tuned back to
    /// 10/3, one lost data shard per group is rebuilt again.
    #[test]
    fn recovery_resumes_after_layout_changes_mid_stream(
        start_layout in layout(),
        runs in prop::collection::vec(run(), 1..4),
        start in honest_start(),
    ) {
        let mut dec = Decoder::new(&FecConfig::new(start_layout.0, start_layout.1)).unwrap();
        for r in &runs {
            feed_run(&mut dec, r);
        }
        // 26 whole groups (338 shards): autotune may skip shards until
        // every forged sample has left its 258-sample window (a single
        // forged shard of the wrong type is enough to start that, as in
        // kcp-go), then it re-tunes to 10/3 if the decoder is elsewhere;
        // after that a newest group forged far ahead may still need two
        // groups' worth of stale shards to be re-based.
        let (lost, _) = honest_stream(&mut dec, (10, 3), start, 26, false, |_, _| false);
        prop_assert_eq!(lost, 0);
        prop_assert_eq!(dec.layout(), (10, 3));
        let before = dec.stats().recovered;
        let next = (start as u64 + 26 * 13) % paws(10, 3) as u64;
        let (lost, rebuilt) = honest_stream(&mut dec, (10, 3), next as u32, 20, true, |g, i| i == g % 10);
        prop_assert_eq!(lost, 20);
        prop_assert_eq!(rebuilt, 20, "stats {:?}", dec.stats());
        prop_assert!(dec.stats().recovered - before >= 20);
        prop_assert!(dec.group_count() <= 4);
    }

    /// The encoder's seqids stay below `paws` and consecutive modulo it
    /// from any start (data, then parity, skipped parity included).
    #[test]
    fn encoder_seqids_wrap_at_paws_from_any_start(
        layout in layout(),
        start in u32_field(),
        gaps in prop::collection::vec(prop_oneof![Just(0u32), Just(499), Just(500), u32_field()], 1..60),
    ) {
        let (d, p) = layout;
        let wrap = paws(d, p);
        let mut enc = Encoder::new(&FecConfig::new(d, p)).unwrap();
        enc.set_next_seqid(start);
        let mut expect = start % wrap;
        let mut now = 0u32;
        for (i, gap) in gaps.iter().enumerate() {
            now = now.wrapping_add(*gap);
            let mut dgram = vec![0u8; 8 + i % 30];
            let parity: Vec<Vec<u8>> = enc.encode(&mut dgram, now).unwrap().iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(u32::from_le_bytes(dgram[..4].try_into().unwrap()), expect);
            expect = ((expect as u64 + 1) % wrap as u64) as u32;
            for par in &parity {
                prop_assert_eq!(u32::from_le_bytes(par[..4].try_into().unwrap()), expect);
                expect = ((expect as u64 + 1) % wrap as u64) as u32;
            }
            if (i + 1) % d == 0 && parity.is_empty() {
                expect = ((expect as u64 + p as u64) % wrap as u64) as u32;
            }
            prop_assert_eq!(enc.next_seqid(), expect);
            prop_assert!(enc.next_seqid() < wrap);
        }
    }
}

/// `paws` is a public helper: any shard counts, no overflow or division
/// by a truncated zero.
#[test]
fn paws_takes_any_counts() {
    assert_eq!(paws(0, 0), 0xffff_ffff);
    assert_eq!(paws(10, 3), 0xffff_ffff / 13 * 13);
    assert_eq!(paws(usize::MAX, 1), 0xffff_ffff);
    assert_eq!(paws(usize::MAX, usize::MAX), 0xffff_ffff);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(paws(1 << 32, 0), 0xffff_ffff);
}

/// Forged 10/3 shards at seqids 0..40, then an honest 10/3 stream about
/// 2^31 seqids away (group aligned): every honest shard is stale until two
/// groups' worth re-base the newest group. The re-base must leave at most
/// 4 groups (the forged ones are out of the new horizon), so the next
/// honest group finds a free slot and recovery resumes.
#[test]
fn resync_far_from_forged_groups_keeps_four_slots_and_recovers() {
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    feed_run(
        &mut dec,
        &Run {
            base: 0,
            pattern: (10, 3),
            len: 40,
            body: 4,
        },
    );
    let start = 0x8000_0029; // 165_191_053 * 13
    assert_eq!(start % 13, 0);
    let (lost, _) = honest_stream(&mut dec, (10, 3), start, 2, false, |_, _| false);
    assert_eq!(lost, 0);
    assert_eq!(dec.stats().resyncs, 1);
    assert!(
        dec.group_count() <= 4,
        "{} groups after the re-base",
        dec.group_count()
    );
    let (lost, rebuilt) =
        honest_stream(&mut dec, (10, 3), start + 26, 20, true, |g, i| i == g % 10);
    assert_eq!((lost, rebuilt), (20, 20), "{:?}", dec.stats());
}

/// The same with the forged groups just across the seqid wrap from the
/// honest stream (seqids 0xffff_fffe.. wrapping to 0..40; honest from two
/// groups before `paws`).
#[test]
fn resync_across_the_wrap_keeps_four_slots_and_recovers() {
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    feed_run(
        &mut dec,
        &Run {
            base: 0xffff_fffe,
            pattern: (10, 3),
            len: 42,
            body: 4,
        },
    );
    let start = paws(10, 3) - 26;
    let (lost, _) = honest_stream(&mut dec, (10, 3), start, 21, false, |_, _| false);
    assert_eq!(lost, 0);
    let next = (u64::from(start) + 21 * 13) % u64::from(paws(10, 3));
    let (lost, rebuilt) =
        honest_stream(&mut dec, (10, 3), next as u32, 20, true, |g, i| i == g % 10);
    assert_eq!((lost, rebuilt), (20, 20), "{:?}", dec.stats());
}
