//! Forged shard sequences that move the newest group or re-tune the layout
//! (issue 16): never a panic (this test profile has overflow checks on),
//! and FEC recovery of an honest stream resumes afterwards.

mod common;

use common::honest_stream;
use kcp_fec::{Decoded, Decoder, FecConfig, paws};

/// The `fec_decode` fuzz target's framing: `[d, p]` picks the decoder's
/// layout, then `[len u16 LE][bytes]` records (a short tail is one more).
fn replay_fuzz_input(input: &[u8]) -> Decoder {
    let [d, p, rest @ ..] = input else {
        panic!("input too short")
    };
    let cfg = FecConfig::new(1 + (*d as usize % 32), 1 + (*p as usize % 16));
    let mut dec = Decoder::new(&cfg).unwrap();
    let mut rest = rest;
    while !rest.is_empty() {
        let (pkt, tail) = match rest {
            [a, b, tail @ ..] => {
                let len = (u16::from_le_bytes([*a, *b]) as usize).min(tail.len());
                tail.split_at(len)
            }
            _ => (rest, &[][..]),
        };
        rest = tail;
        let _ = dec.input(pkt);
        assert!(dec.group_count() <= 4);
    }
    dec
}

/// The reproducer filed with issue 16 (the `fec_decode` target): 18 shards
/// from seqid 0x7fff_ff01 into a (1, 1) decoder whose data/parity pattern
/// re-tunes it to (10, 3); the old code then multiplied the (1, 1) group id
/// by 13 and overflowed.
const ISSUE_16_FEC_DECODE: &str = "00000c0001ffff7ff2000600000000000c0002ffff7ff2000600000000000c0003ffff7ff2000600000000000c0004ffff7ff1000600000000000c0005ffff7ff1000600000000000c0006ffff7ff1000600000000000c0007ffff7ff1000600000000000c0008ffff7ff1000600000000000c0009ffff7ff1000600000000000c000affff7ff1000600000000000c000bffff7ff1000600000000000c000cffff7ff1000600000000000c000dffff7ff1000600000000000c000effff7ff2000600000000000c000fffff7ff2000600000000000c0010ffff7ff2000600000000000c0011ffff7ff1000600000000000c0012ffff7ff100060000000000";

fn one_lost_per_group(_: usize, i: usize) -> bool {
    i == 3
}

#[test]
fn issue_16_reproducer_retunes_without_overflow() {
    let input = hex::decode(ISSUE_16_FEC_DECODE).unwrap();
    let mut dec = replay_fuzz_input(&input);
    assert_eq!(dec.layout(), (10, 3), "the forged pattern re-tunes to 10/3");
    assert_eq!(dec.stats().retunes, 1);
    // The re-tune forgot the old layout's newest group, but the last two
    // forged shards, read under 10/3, opened a group near 0x7fff_ff0c. An
    // honest 10/3 stream from seqid 0 is stale against it until two groups'
    // worth of shards re-base the newest group; from then on every lost
    // shard is rebuilt.
    let (lost, rebuilt) = honest_stream(&mut dec, (10, 3), 0, 20, true, one_lost_per_group);
    assert_eq!(lost, 20);
    assert!(rebuilt >= 18, "only {rebuilt} of 20 lost shards rebuilt");
    assert_eq!(dec.stats().resyncs, 1);
}

#[test]
fn fresh_decoder_recovers_every_lost_shard() {
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    let (lost, rebuilt) = honest_stream(&mut dec, (10, 3), 0, 20, true, one_lost_per_group);
    assert_eq!((lost, rebuilt), (20, 20));
    let st = dec.stats();
    assert_eq!(st.recovered, 20);
    assert_eq!(st.parity_shards, 20 * 3);
    assert_eq!(st.stale_shards, 0);
    assert_eq!(st.resyncs, 0);
}

/// The release-mode symptom the issue measured: forged shards far ahead
/// of the honest stream (same layout, so no re-tune) made every honest
/// group stale on arrival. Recovery must come back within two groups.
#[test]
fn recovery_resumes_after_forged_far_ahead_shards() {
    let input = hex::decode(ISSUE_16_FEC_DECODE).unwrap();
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    for pkt in input[2..].chunks(14) {
        let _ = dec.input(&pkt[2..]);
    }
    assert_eq!(dec.layout(), (10, 3));
    let (lost, rebuilt) = honest_stream(&mut dec, (10, 3), 0, 20, true, one_lost_per_group);
    assert_eq!(lost, 20);
    assert!(rebuilt >= 18, "only {rebuilt} of 20 lost shards rebuilt");
    let st = dec.stats();
    assert_eq!(st.resyncs, 1);
    // Rebuilt shards also count one that arrived while its group was stale.
    assert!(st.recovered as usize >= rebuilt);
    assert_eq!(st.stale_shards, 2 * 13);
    assert!(dec.group_count() <= 4);
}

/// A hand-written case near the seqid wrap: a 10/3 stream crossing `paws`
/// back to 0, then a peer switching to 4/2 (a layout change forces a
/// re-tune; the old newest group, near 2^32, must not leak into the new
/// layout's arithmetic), then a 4/2 stream near the wrap again.
#[test]
fn layout_change_near_the_seqid_wrap() {
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    let wrap = paws(10, 3);
    let (lost, rebuilt) = honest_stream(
        &mut dec,
        (10, 3),
        wrap - 5 * 13,
        10,
        true,
        one_lost_per_group,
    );
    assert_eq!((lost, rebuilt), (10, 10), "recovery across the wrap");

    // The peer switches to 4/2, its seqids crossing the wrap again. Its
    // first groups arrive whole: autotune needs an unbroken run of seqids in
    // its 258 samples, so the re-tune waits until the 10/3 samples (with
    // their gaps) have left them, as in kcp-go. Meanwhile shards are skipped.
    let start = paws(4, 2) - 30 * 6;
    let (lost, _) = honest_stream(&mut dec, (4, 2), start, 50, true, |_, _| false);
    assert_eq!(lost, 0);
    assert_eq!(dec.layout(), (4, 2));
    assert_eq!(dec.stats().retunes, 1);
    let (lost, rebuilt) = honest_stream(&mut dec, (4, 2), 20 * 6, 16, true, |_, i| i == 1);
    assert_eq!(
        (lost, rebuilt),
        (16, 16),
        "recovery after the re-tune and the wrap"
    );
    assert!(dec.group_count() <= 4);
}

/// Every seqid base near the boundaries, forged groups first then honest
/// groups from 0: no overflow, bounded groups, and recovery comes back.
#[test]
fn forged_bases_near_boundaries_never_stop_recovery() {
    for base in [
        0x7fff_fef0u32,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fff0,
        paws(10, 3) - 13,
        paws(10, 3) - 1,
        (u32::MAX / 2) / 13 * 13 + 1,
    ] {
        for layout in [(10, 3), (1, 1), (3, 7)] {
            let mut dec = Decoder::new(&FecConfig::new(layout.0, layout.1)).unwrap();
            for k in 0..40u32 {
                let seqid = base.wrapping_add(k);
                let ty: u16 = if k % 13 < 10 { 0xF1 } else { 0xF2 };
                let mut pkt = seqid.to_le_bytes().to_vec();
                pkt.extend_from_slice(&ty.to_le_bytes());
                pkt.extend_from_slice(&[6, 0, 0, 0, 0, 0]);
                if let Ok(Decoded::Data { kcp, .. }) = dec.input(&pkt) {
                    assert_eq!(kcp.len(), 4);
                }
                assert!(dec.group_count() <= 4);
            }
            // 3 whole groups let autotune settle on 10/3, then losses.
            honest_stream(&mut dec, (10, 3), 0, 3, true, |_, _| false);
            let (lost, rebuilt) =
                honest_stream(&mut dec, (10, 3), 39, 20, true, one_lost_per_group);
            assert_eq!(dec.layout(), (10, 3), "base {base:#x}, layout {layout:?}");
            assert_eq!(lost, 20);
            assert!(
                rebuilt >= 18,
                "base {base:#x}, layout {layout:?}: {rebuilt} of 20 rebuilt"
            );
        }
    }
}
