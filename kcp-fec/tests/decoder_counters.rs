//! What an operator reads off a decoder (`DecoderStats`, `group_count`,
//! `storage_bytes`) and what KCP receives, asserted to the exact value for
//! duplicates, bursts of whole lost groups, late and out-of-range shards.

use kcp_fec::{
    Decoded, Decoder, DecoderStats, Encoder, FecConfig, OOB_SEQID, PacketKind, TYPE_DATA, TYPE_OOB,
    TYPE_PARITY, packet_kind, paws,
};

const D: usize = 10;
const P: usize = 3;
/// Bytes one group slot holds with the default 1500-byte `max_datagram`:
/// `D + P` rows of `1500 - 6 + 1` bytes plus a u16 length per row.
const SLOT_BYTES: usize = (D + P) * (1500 - 6 + 1) + 2 * (D + P);

/// One encoded group: its data datagrams, their KCP bytes, and its parity.
struct Group {
    data: Vec<Vec<u8>>,
    bodies: Vec<Vec<u8>>,
    parity: Vec<Vec<u8>>,
}

fn encode_group(enc: &mut Encoder, g: usize) -> Group {
    let mut out = Group {
        data: Vec::new(),
        bodies: Vec::new(),
        parity: Vec::new(),
    };
    for i in 0..D {
        let body: Vec<u8> = (0..30 + (g * 5 + i * 11) % 60)
            .map(|k| (g * 13 + i * 29 + k) as u8)
            .collect();
        let mut dgram = vec![0u8; 8];
        dgram.extend_from_slice(&body);
        let parity = enc.encode(&mut dgram, 0).unwrap();
        out.parity.extend(parity.iter().map(<[u8]>::to_vec));
        out.data.push(dgram);
        out.bodies.push(body);
    }
    assert_eq!(out.parity.len(), P);
    out
}

/// Feeds `pkt`, returning the (index, payload) pairs it rebuilt.
fn feed(dec: &mut Decoder, pkt: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let out = dec.input(pkt).unwrap();
    out.recovered()
        .iter()
        .map(|r| (r.index, r.payload.to_vec()))
        .collect()
}

/// A duplicated data shard neither counts towards the group nor stops
/// recovery: with shard 3 arriving twice and shard 9 lost, the group still
/// lacks one shard until the first parity packet, which rebuilds shard 9.
#[test]
fn duplicate_shard_is_counted_once_and_loss_is_still_rebuilt() {
    let mut enc = Encoder::new(&FecConfig::new(D, P)).unwrap();
    let mut dec = Decoder::new(&FecConfig::new(D, P)).unwrap();
    let g = encode_group(&mut enc, 0);
    for i in 0..9 {
        let out = dec.input(&g.data[i]).unwrap();
        assert!(
            matches!(out, Decoded::Data { kcp, recovered } if kcp == &g.bodies[i][..] && recovered.is_empty())
        );
        if i == 3 {
            // The duplicate is still handed to KCP (which drops repeats).
            let again = dec.input(&g.data[3]).unwrap();
            assert!(matches!(again, Decoded::Data { kcp, .. } if kcp == &g.bodies[3][..]));
        }
    }
    assert_eq!(dec.stats().duplicates, 1);
    // Nine distinct data shards: nothing to rebuild yet, however the
    // duplicate is counted.
    assert_eq!(dec.stats().recovered, 0);
    assert_eq!(dec.stats().full_shard_sets, 0);
    let out = dec.input(&g.parity[0]).unwrap();
    let recovered = out.recovered();
    assert!(!recovered.is_empty());
    assert_eq!(recovered.len(), 1);
    let mut it = recovered.iter();
    assert_eq!(it.size_hint(), (1, Some(1)));
    let r = it.next().unwrap();
    assert_eq!((r.index, r.payload), (9, &g.bodies[9][..]));
    assert_eq!(it.size_hint(), (0, Some(0)));
    assert!(it.next().is_none());
    for par in &g.parity[1..] {
        assert!(feed(&mut dec, par).is_empty());
    }
    let s = *dec.stats();
    assert_eq!(
        s,
        DecoderStats {
            parity_shards: 3,
            recovered: 1,
            shard_sets: 1,
            shard_sets_opened: 1,
            duplicates: 1,
            ..DecoderStats::default()
        }
    );
    assert_eq!(dec.group_count(), 1);
    assert_eq!(dec.storage_bytes(), SLOT_BYTES);
}

/// A group whose data shards all arrive is a full shard set: nothing is
/// rebuilt, its parity is counted, and the newest group plus the three
/// behind it stay held (late shards of those still help).
#[test]
fn loss_free_stream_counts_full_sets_and_holds_four_groups() {
    let mut enc = Encoder::new(&FecConfig::new(D, P)).unwrap();
    let mut dec = Decoder::new(&FecConfig::new(D, P)).unwrap();
    for gi in 0..6 {
        let g = encode_group(&mut enc, gi);
        for pkt in g.data.iter().chain(&g.parity) {
            assert!(feed(&mut dec, pkt).is_empty());
        }
        assert_eq!(dec.group_count(), (gi + 1).min(4), "after group {gi}");
        assert_eq!(dec.stats().shard_sets, dec.group_count() as u64);
    }
    let s = *dec.stats();
    assert_eq!(
        s,
        DecoderStats {
            full_shard_sets: 6,
            parity_shards: 18,
            shard_sets: 4,
            shard_sets_opened: 6,
            ..DecoderStats::default()
        }
    );
    // Five slots at most ever get storage; six groups went through four
    // live ones plus the one a new group opens in.
    assert_eq!(dec.storage_bytes(), 5 * SLOT_BYTES);
}

/// Bursts that lose two whole groups at once (every data and parity
/// shard) must not leak group slots: after many bursts the decoder still
/// holds at most four groups, storage stays at five slots, and each group
/// between bursts still has its lost shard rebuilt.
#[test]
fn bursts_of_two_lost_groups_never_leak_a_slot() {
    let mut enc = Encoder::new(&FecConfig::new(D, P)).unwrap();
    let mut dec = Decoder::new(&FecConfig::new(D, P)).unwrap();
    let (mut sent_groups, mut rebuilt) = (0, 0);
    for gi in 0..200 {
        let g = encode_group(&mut enc, gi);
        // Groups 3k+1 and 3k+2 vanish entirely; group 3k loses shard 5.
        if gi % 3 != 0 {
            continue;
        }
        sent_groups += 1;
        for (i, pkt) in g.data.iter().enumerate() {
            if i != 5 {
                assert!(feed(&mut dec, pkt).is_empty());
            }
        }
        let got = feed(&mut dec, &g.parity[0]);
        assert_eq!(got, vec![(5, g.bodies[5].clone())], "group {gi}");
        rebuilt += got.len();
        for par in &g.parity[1..] {
            assert!(feed(&mut dec, par).is_empty());
        }
        // Each arrival is three groups past the previous one: only the
        // group one arrival back (3 groups behind) is still in range.
        assert_eq!(dec.group_count(), if gi == 0 { 1 } else { 2 }, "group {gi}");
        assert!(dec.storage_bytes() <= 5 * SLOT_BYTES);
    }
    assert_eq!(rebuilt, sent_groups);
    let s = dec.stats();
    assert_eq!(s.recovered, sent_groups as u64);
    assert_eq!(s.shard_sets_opened, sent_groups as u64);
    assert_eq!(s.stale_shards, 0);
    assert_eq!(s.resyncs, 0);
}

/// A shard of a group more than three groups behind the newest is stale:
/// it is still handed to KCP, counted, and no group is kept for it.
#[test]
fn late_shard_beyond_three_groups_is_stale_but_delivered() {
    let mut enc = Encoder::new(&FecConfig::new(D, P)).unwrap();
    let mut dec = Decoder::new(&FecConfig::new(D, P)).unwrap();
    let groups: Vec<Group> = (0..5).map(|gi| encode_group(&mut enc, gi)).collect();
    // Group 0 loses shard 0 on the way; groups 1..=4 arrive whole.
    for (gi, g) in groups.iter().enumerate() {
        for (i, pkt) in g.data.iter().enumerate() {
            if (gi, i) != (0, 0) {
                feed(&mut dec, pkt);
            }
        }
    }
    assert_eq!(dec.group_count(), 4);
    // Group 1 is exactly three behind group 4: its late parity is kept.
    let late_in_range = dec.input(&groups[1].parity[0]).unwrap();
    assert!(matches!(late_in_range, Decoded::Parity { recovered } if recovered.is_empty()));
    assert_eq!(dec.stats().stale_shards, 0);
    // Group 0 is four behind: the retransmitted shard is stale.
    let out = dec.input(&groups[0].data[0]).unwrap();
    assert!(
        matches!(out, Decoded::Data { kcp, recovered } if kcp == &groups[0].bodies[0][..] && recovered.is_empty())
    );
    let s = dec.stats();
    assert_eq!(s.stale_shards, 1);
    assert_eq!(s.resyncs, 0);
    assert_eq!(s.shard_sets_opened, 6, "group 0 was reopened, then dropped");
    assert_eq!(dec.group_count(), 4);
}

/// Shards at or above `paws` are outside the seqid space: counted in
/// `beyond_paws` and not stored, but a data shard still reaches KCP.
#[test]
fn seqids_at_or_above_paws_are_counted_and_ignored() {
    let mut dec = Decoder::new(&FecConfig::new(D, P)).unwrap();
    let top = paws(D, P);
    let shard = |seqid: u32, ty: u16| {
        let mut pkt = seqid.to_le_bytes().to_vec();
        pkt.extend_from_slice(&ty.to_le_bytes());
        pkt.extend_from_slice(&[7, 0, 1, 2, 3, 4, 5]);
        pkt
    };
    // The last in-range seqid opens a group (a parity position: paws is a
    // multiple of 13, so paws - 1 is index 12).
    assert!(matches!(
        dec.input(&shard(top - 1, TYPE_PARITY)).unwrap(),
        Decoded::Parity { .. }
    ));
    assert_eq!(dec.stats().beyond_paws, 0);
    assert_eq!(dec.group_count(), 1);
    for seqid in [top, top + 1, u32::MAX - 1] {
        let pkt = shard(seqid, TYPE_DATA);
        let out = dec.input(&pkt).unwrap();
        assert!(matches!(
            out,
            Decoded::Data {
                kcp: [1, 2, 3, 4, 5],
                ..
            }
        ));
    }
    assert!(matches!(
        dec.input(&shard(top, TYPE_PARITY)).unwrap(),
        Decoded::Parity { .. }
    ));
    let s = dec.stats();
    assert_eq!(s.beyond_paws, 4);
    assert_eq!(s.shard_sets_opened, 1);
    assert_eq!(s.parity_shards, 1);
    assert_eq!(s.duplicates, 0);
    assert_eq!(dec.group_count(), 1);
}

/// `packet_kind` reads what the encoder stamped, exactly: data shards,
/// parity shards, OOB packets and plain KCP datagrams.
#[test]
fn packet_kind_classifies_what_the_encoder_stamps() {
    let mut enc = Encoder::new(&FecConfig::new(2, 1)).unwrap();
    let mut a = vec![0u8; 8 + 24];
    let mut b = vec![0u8; 8 + 24];
    assert!(enc.encode(&mut a, 0).unwrap().is_empty());
    let parity = enc.encode(&mut b, 0).unwrap().get(0).unwrap().to_vec();
    assert_eq!(packet_kind(&a), Some(PacketKind::Data));
    assert_eq!(packet_kind(&b), Some(PacketKind::Data));
    assert_eq!(packet_kind(&parity), Some(PacketKind::Parity));
    let mut oob = vec![0u8; 12 + 3];
    enc.encode_oob(&mut oob, 0x1234).unwrap();
    assert_eq!(packet_kind(&oob), Some(PacketKind::Oob));
    assert_eq!(oob[..4], OOB_SEQID.to_le_bytes());
    // Six bytes are enough to classify; the type alone decides.
    assert_eq!(
        packet_kind(&[9, 9, 9, 9, 0xF2, 0]),
        Some(PacketKind::Parity)
    );
    assert_eq!(packet_kind(&[0, 0, 0, 0, 0xF1, 0]), Some(PacketKind::Data));
    let [lo, hi] = TYPE_OOB.to_le_bytes();
    assert_eq!(
        packet_kind(&[0xF1, 0, 0xF2, 0, lo, hi]),
        Some(PacketKind::Oob)
    );
    // A KCP header: conv, then cmd 81 (PUSH), frg 0.
    assert_eq!(
        packet_kind(&[1, 0, 0, 0, 81, 0, 0, 1]),
        Some(PacketKind::Raw)
    );
    assert_eq!(packet_kind(&[0, 0, 0, 0, 0xF4, 0]), Some(PacketKind::Raw));
    assert_eq!(packet_kind(&[0, 0, 0, 0, 0xF2, 1]), Some(PacketKind::Raw));
    assert_eq!(packet_kind(&[0, 0, 0, 0, 0xF2]), None);
    assert_eq!(packet_kind(&[]), None);
}

/// A peer whose layout differs (32 data + 8 parity against our 10 + 3):
/// every shard from the first one whose type contradicts our layout until
/// autotune adopts the peer's is skipped (`tune_skipped`), none after, and
/// recovery then works under the peer's layout. 32 x 8 is above 256 while
/// 32 + 8 is far below the 256-shard limit: such a layout is followed.
#[test]
fn autotune_skips_shards_until_it_adopts_the_peer_layout() {
    let (d, p) = (32usize, 8usize);
    let mut enc = Encoder::new(&FecConfig {
        parity_skip_gap_ms: None,
        ..FecConfig::new(d, p)
    })
    .unwrap();
    let mut dec = Decoder::new(&FecConfig::new(D, P)).unwrap();
    // Seqids go out in order, one per shard: the first whose type our
    // layout reads differently.
    let first_mismatch = (0..)
        .find(|&s: &usize| (s % (D + P) < D) != (s % (d + p) < d))
        .unwrap();
    let (mut fed, mut retuned_at, mut lost, mut rebuilt) = (0, None, 0, 0);
    for gi in 0..40usize {
        let mut bodies = Vec::new();
        for i in 0..d {
            let body: Vec<u8> = (0..20 + (gi + i) % 40)
                .map(|k| (gi * 3 + i + k) as u8)
                .collect();
            let mut dgram = vec![0u8; 8];
            dgram.extend_from_slice(&body);
            bodies.push(body);
            let parity: Vec<Vec<u8>> = enc
                .encode(&mut dgram, 0)
                .unwrap()
                .iter()
                .map(<[u8]>::to_vec)
                .collect();
            // Once re-tuned (and from the next whole group on), shard 1 of
            // every group is lost.
            let lose = retuned_at.is_some_and(|at| at < gi * (d + p)) && i == 1;
            let mut pkts = Vec::new();
            if lose {
                lost += 1;
                fed += 1; // its seqid is spent all the same
            } else {
                pkts.push(dgram);
            }
            pkts.extend(parity);
            for pkt in &pkts {
                let out = dec.input(pkt).unwrap();
                for r in out.recovered() {
                    assert_eq!((r.index, r.payload), (1, &bodies[1][..]), "group {gi}");
                    rebuilt += 1;
                }
                if retuned_at.is_none() && dec.stats().retunes == 1 {
                    retuned_at = Some(fed);
                }
                fed += 1;
            }
        }
    }
    let at = retuned_at.expect("autotune adopted the peer's layout");
    assert_eq!(dec.layout(), (d, p));
    let s = dec.stats();
    assert_eq!(s.retunes, 1);
    assert_eq!(s.tune_skipped, (at - first_mismatch + 1) as u64);
    assert!(lost >= 30, "{lost}");
    assert_eq!(rebuilt, lost);
    assert_eq!(s.recovered, lost as u64);
}
