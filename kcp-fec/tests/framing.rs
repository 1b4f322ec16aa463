//! Framing behaviour: seqid wrap at paws, the parity time gap, OOB, demux.

use kcp_fec::{Decoded, Decoder, Encoder, FecConfig, FecError, PacketKind, paws};

fn datagram(ho: usize, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; ho + 8];
    d.extend_from_slice(payload);
    d
}

fn seqid(pkt: &[u8]) -> u32 {
    u32::from_le_bytes(pkt[..4].try_into().unwrap())
}

#[test]
fn seqid_wraps_at_paws_and_recovery_crosses_it() {
    let (d, p) = (10, 3);
    let cfg = FecConfig::new(d, p);
    let ss = (d + p) as u32;
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut dec = Decoder::new(&cfg).unwrap();
    let paws = paws(d, p);
    enc.set_next_seqid(paws - ss);
    let mut wire = Vec::new();
    for i in 0..2 * d {
        let mut dg = datagram(0, &[i as u8; 40]);
        let parity = enc.encode(&mut dg, i as u32).unwrap();
        let parity: Vec<Vec<u8>> = parity.iter().map(<[u8]>::to_vec).collect();
        wire.push(dg);
        wire.extend(parity);
    }
    let seqids: Vec<u32> = wire.iter().map(|w| seqid(w)).collect();
    let want: Vec<u32> = (paws - ss..paws).chain(0..ss).collect();
    assert_eq!(seqids, want);
    // Lose data shard 2 of each group: both rebuilt, across the wrap.
    let mut rebuilt = Vec::new();
    for (i, w) in wire.iter().enumerate() {
        if i % 13 == 2 {
            continue;
        }
        for r in dec.input(w).unwrap().recovered() {
            rebuilt.push(r.payload.to_vec());
        }
    }
    assert_eq!(rebuilt, vec![vec![2u8; 40], vec![12u8; 40]]);
    assert_eq!(dec.stats().recovered, 2);
}

#[test]
fn parity_skipped_after_a_gap_but_seqids_advance() {
    let cfg = FecConfig::new(2, 1);
    let mut enc = Encoder::new(&cfg).unwrap();
    // Clock near the u32 wrap: differences are wrapping.
    let t0 = u32::MAX - 100;
    assert!(
        enc.encode(&mut datagram(0, b"abcd"), t0)
            .unwrap()
            .is_empty()
    );
    // 500 ms later: gap == 500 ms, parity skipped, seqid 2 consumed.
    assert!(
        enc.encode(&mut datagram(0, b"abcd"), t0.wrapping_add(500))
            .unwrap()
            .is_empty()
    );
    assert_eq!(enc.next_seqid(), 3);
    assert_eq!(enc.stats().parity_skipped, 1);
    enc.encode(&mut datagram(0, b"abcd"), t0.wrapping_add(600))
        .unwrap();
    // 499 ms: parity sent, with seqid 5.
    let parity = enc
        .encode(&mut datagram(0, b"abcd"), t0.wrapping_add(1099))
        .unwrap();
    assert_eq!(parity.len(), 1);
    assert_eq!(seqid(parity.get(0).unwrap()), 5);
    // Counters: four data shards stamped, one parity sent, one group skipped.
    let st = *enc.stats();
    assert_eq!(
        (st.data_shards, st.parity_shards, st.parity_skipped),
        (4, 1, 1)
    );
    // kcp-go quirk: with one data shard, the very first group never gets
    // parity (its previous timestamp is 0).
    let mut enc = Encoder::new(&FecConfig::new(1, 1)).unwrap();
    assert!(enc.encode(&mut datagram(0, b"abcd"), 7).unwrap().is_empty());
    assert_eq!(enc.encode(&mut datagram(0, b"abcd"), 8).unwrap().len(), 1);
}

#[test]
fn encoder_takes_a_datagram_of_exactly_the_maximum() {
    let mut enc = Encoder::new(&FecConfig::new(2, 1)).unwrap();
    let mut max = vec![0u8; 1500];
    enc.encode(&mut max, 0).unwrap();
    let mut over = vec![0u8; 1501];
    assert!(enc.encode(&mut over, 0).is_err());
    assert_eq!(enc.stats().data_shards, 1);
}

#[test]
fn encoder_rejects_bad_buffers_with_typed_errors() {
    let cfg = FecConfig {
        header_offset: 20,
        ..FecConfig::new(3, 1)
    };
    let mut enc = Encoder::new(&cfg).unwrap();
    assert_eq!(
        enc.encode(&mut [0u8; 27], 0).unwrap_err(),
        FecError::DatagramTooShort { len: 27, min: 28 }
    );
    assert_eq!(
        enc.encode(&mut [0u8; 1501], 0).unwrap_err(),
        FecError::DatagramTooLong {
            len: 1501,
            max: 1500
        }
    );
    assert_eq!(enc.next_seqid(), 0);
    assert!(Encoder::new(&FecConfig::new(0, 3)).is_err());
    assert!(Encoder::new(&FecConfig::new(250, 7)).is_err());
    assert!(Decoder::new(&FecConfig::new(3, 0)).is_err());
}

#[test]
fn header_offset_leaves_head_room_on_every_packet() {
    let cfg = FecConfig {
        header_offset: 20,
        ..FecConfig::new(2, 2)
    };
    let mut enc = Encoder::new(&cfg).unwrap();
    assert_eq!(enc.header_offset(), 20);
    let mut a = datagram(20, &[7; 30]);
    a[..20].fill(0xEE);
    enc.encode(&mut a, 0).unwrap();
    assert_eq!(&a[..20], &[0xEE; 20]);
    assert_eq!(&a[20..28], &[0, 0, 0, 0, 0xF1, 0, 32, 0]);
    let mut b = datagram(20, &[9; 10]);
    let mut parity = enc.encode(&mut b, 1).unwrap();
    for (k, pkt) in parity.iter_mut().enumerate() {
        assert_eq!(pkt.len(), a.len());
        assert_eq!(seqid(&pkt[20..]), 2 + k as u32);
        pkt[..20].fill(0xAB); // an outer layer may write its header in place
    }
}

#[test]
fn oob_round_trip_and_demux() {
    let cfg = FecConfig {
        header_offset: 4,
        ..FecConfig::new(10, 3)
    };
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut pkt = vec![0u8; 4 + 12];
    pkt.extend_from_slice(b"urgent");
    enc.encode_oob(&mut pkt, 0xDEADBEEF).unwrap();
    assert_eq!(enc.next_seqid(), 0);
    assert_eq!(kcp_fec::packet_kind(&pkt[4..]), Some(PacketKind::Oob));
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    match dec.input(&pkt[4..]).unwrap() {
        Decoded::Oob { conv, payload } => {
            assert_eq!(conv, 0xDEADBEEF);
            assert_eq!(payload, b"urgent");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dec.stats().oob_packets, 1);
    assert!(enc.encode_oob(&mut [0u8; 15], 1).is_err());
}

#[test]
fn raw_kcp_datagrams_pass_through_mixed_with_fec() {
    let cfg = FecConfig::new(2, 1);
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut dec = Decoder::new(&cfg).unwrap();
    // A 24-byte KCP header: conv, cmd=81 (push), frg=0, ...
    let mut raw = vec![0x44, 0x33, 0x22, 0x11, 81, 0, 0, 1];
    raw.resize(24, 0);
    let mut a = datagram(0, &raw);
    enc.encode(&mut a, 0).unwrap();
    match dec.input(&raw).unwrap() {
        Decoded::Raw(r) => assert_eq!(r, raw.as_slice()),
        other => panic!("{other:?}"),
    }
    match dec.input(&a).unwrap() {
        Decoded::Data { kcp, recovered } => {
            assert_eq!(kcp, raw.as_slice());
            assert!(recovered.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dec.stats().raw_packets, 1);
}

#[test]
fn autotune_follows_a_peer_with_another_layout() {
    // Peer sends 5+2, we expect 10+3.
    let mut enc = Encoder::new(&FecConfig {
        parity_skip_gap_ms: None,
        ..FecConfig::new(5, 2)
    })
    .unwrap();
    let mut dec = Decoder::new(&FecConfig::new(10, 3)).unwrap();
    let mut recovered = 0;
    for i in 0..200u32 {
        let mut dg = datagram(0, &[i as u8; 20]);
        let parity = enc.encode(&mut dg, i).unwrap();
        let parity: Vec<Vec<u8>> = parity.iter().map(<[u8]>::to_vec).collect();
        // Lose data shard 1 of every group once the layout is learnt
        // (detection needs a run of consecutive seqids, as in kcp-go).
        if i < 50 || i % 5 != 1 {
            dec.input(&dg).unwrap();
        }
        for p in &parity {
            recovered += dec.input(p).unwrap().recovered().len();
        }
    }
    assert_eq!(dec.layout(), (5, 2));
    assert_eq!(dec.stats().retunes, 1);
    // Every group after the retune rebuilds its lost shard.
    assert!(recovered >= 25, "recovered {recovered}");
}

/// The parity packets' accessors agree: `len`/`is_empty`, `get`, `get_mut`,
/// `iter`, `iter_mut` all see the same packets in seqid order, and bytes
/// written through one are read through the others.
#[test]
fn parity_packet_accessors_agree() {
    let mut enc = Encoder::new(&FecConfig::new(2, 3)).unwrap();
    let first = enc.encode(&mut datagram(0, &[1; 40]), 0).unwrap();
    assert!(first.is_empty() && first.get(0).is_none());
    let mut p = enc.encode(&mut datagram(0, &[2; 30]), 1).unwrap();
    assert_eq!(p.len(), 3);
    assert!(!p.is_empty());
    let all: Vec<Vec<u8>> = p.iter().map(<[u8]>::to_vec).collect();
    for (i, want) in all.iter().enumerate() {
        assert_eq!(want.len(), 8 + 40, "padded to the longest shard");
        assert_eq!(seqid(want), 2 + i as u32);
        assert_eq!(p.get(i), Some(&want[..]));
        assert_eq!(p.get_mut(i).map(|b| b.to_vec()), Some(want.clone()));
    }
    assert!(p.get(3).is_none() && p.get_mut(3).is_none());
    p.get_mut(1).unwrap()[8] ^= 0xFF;
    assert_eq!(p.get(1).unwrap()[8], all[1][8] ^ 0xFF);
    for (i, b) in p.iter_mut().enumerate() {
        b[9] = i as u8;
    }
    let now: Vec<u8> = p.iter().map(|b| b[9]).collect();
    assert_eq!(now, [0, 1, 2]);
    assert_eq!(p.get(0).unwrap()[10..], all[0][10..], "the rest untouched");
}

/// OOB packets: 12-byte header (seqid 0xFFFFFFFF, type 0xF3, size, conv)
/// after the head room; from an empty payload up to a 16-bit size; counted.
#[test]
fn oob_packets_from_empty_to_the_size_limit() {
    let cfg = FecConfig {
        header_offset: 4,
        ..FecConfig::new(10, 3)
    };
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut short = vec![0u8; 4 + 11];
    assert!(enc.encode_oob(&mut short, 1).is_err());
    let mut empty = vec![0u8; 4 + 12];
    enc.encode_oob(&mut empty, 0xA1B2C3D4).unwrap();
    assert_eq!(
        empty[4..],
        [
            0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0, 6, 0, 0xD4, 0xC3, 0xB2, 0xA1
        ]
    );
    let mut largest = vec![0u8; 4 + 6 + 65535];
    enc.encode_oob(&mut largest, 1).unwrap();
    assert_eq!(largest[4 + 6..4 + 8], [0xFF, 0xFF]);
    let mut over = vec![0u8; 4 + 6 + 65536];
    assert!(enc.encode_oob(&mut over, 1).is_err());
    assert_eq!(enc.stats().oob_packets, 2);
}
