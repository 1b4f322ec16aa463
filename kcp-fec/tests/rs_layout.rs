//! `ReedSolomon`'s public API on layouts a caller can get wrong: every
//! mis-shaped call is a typed error that leaves the buffers alone, and the
//! edge layouts that are valid (rows exactly `stride` long, a buffer ending
//! exactly at the last row) encode and rebuild like the slice API.

use kcp_fec::{FecError, ReedSolomon};

fn rows(d: usize, len: usize) -> Vec<Vec<u8>> {
    (0..d)
        .map(|i| (0..len).map(|k| (k * 31 + i * 7 + 1) as u8).collect())
        .collect()
}

#[test]
fn shape_is_reported() {
    let rs = ReedSolomon::new(10, 3).unwrap();
    assert_eq!((rs.data_shards(), rs.parity_shards()), (10, 3));
    let rs = ReedSolomon::new(1, 7).unwrap();
    assert_eq!((rs.data_shards(), rs.parity_shards()), (1, 7));
}

#[test]
fn encode_refuses_wrong_counts_and_lengths() {
    let rs = ReedSolomon::new(4, 2).unwrap();
    let data = rows(4, 16);
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let mut parity = vec![vec![0xEEu8; 16]; 2];
    let mut p: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
    // One data shard short, or one parity shard short: either count alone.
    assert_eq!(rs.encode(&refs[..3], &mut p), Err(FecError::ShardLength));
    assert_eq!(rs.encode(&refs, &mut p[..1]), Err(FecError::ShardLength));
    // One short data shard, or one short parity shard: either length alone.
    let mut short = data.clone();
    short[2].pop();
    let short_refs: Vec<&[u8]> = short.iter().map(Vec::as_slice).collect();
    assert_eq!(rs.encode(&short_refs, &mut p), Err(FecError::ShardLength));
    let mut parity_short = [vec![0xEEu8; 16], vec![0xEEu8; 15]];
    let mut ps: Vec<&mut [u8]> = parity_short.iter_mut().map(Vec::as_mut_slice).collect();
    assert_eq!(rs.encode(&refs, &mut ps), Err(FecError::ShardLength));
    assert!(
        parity.iter().flatten().all(|&b| b == 0xEE),
        "refused calls write nothing"
    );
}

#[test]
fn reconstruct_refuses_wrong_counts_and_lengths() {
    let mut rs = ReedSolomon::new(4, 2).unwrap();
    let mut shards = rows(6, 16);
    let mut s: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
    let present = [true, false, true, true, true, true];
    assert_eq!(
        rs.reconstruct_data(&mut s[..5], &present[..5]),
        Err(FecError::ShardLength)
    );
    assert_eq!(
        rs.reconstruct_data(&mut s, &present[..5]),
        Err(FecError::ShardLength)
    );
    assert_eq!(
        rs.reconstruct_data(&mut s[..5], &present),
        Err(FecError::ShardLength)
    );
    let mut uneven = rows(6, 16);
    uneven[5].pop();
    let mut u: Vec<&mut [u8]> = uneven.iter_mut().map(Vec::as_mut_slice).collect();
    assert_eq!(
        rs.reconstruct_data(&mut u, &present),
        Err(FecError::ShardLength)
    );
}

/// Strided layouts: rows `stride` apart, `len` long. A row longer than the
/// stride, or a buffer that ends before the last row does, is refused; a
/// row exactly `stride` long and a buffer ending exactly at the last row
/// work, and agree with the slice API.
#[test]
fn strided_layouts_are_checked_at_their_edges() {
    let (d, p, len) = (4, 3, 40);
    let data = rows(d, len);
    for stride in [len, len + 24] {
        let exact = (d + p - 1) * stride + len;
        let mut buf = vec![0u8; exact];
        for (i, row) in data.iter().enumerate() {
            buf[i * stride..i * stride + len].copy_from_slice(row);
        }
        let mut rs = ReedSolomon::new(d, p).unwrap();
        assert_eq!(
            rs.encode_strided(&mut buf, stride, stride + 1),
            Err(FecError::ShardLength)
        );
        assert_eq!(
            rs.encode_strided(&mut buf[..exact - 1], stride, len),
            Err(FecError::ShardLength)
        );
        rs.encode_strided(&mut buf, stride, len).unwrap();

        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut parity = vec![vec![0u8; len]; p];
        let mut pr: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        rs.encode(&refs, &mut pr).unwrap();
        for (k, row) in parity.iter().enumerate() {
            let at = (d + k) * stride;
            assert_eq!(&buf[at..at + len], &row[..], "stride {stride}, parity {k}");
        }

        // Lose data rows 0 and 2; rebuild them in place.
        let mut present = vec![true; d + p];
        present[0] = false;
        present[2] = false;
        let mut damaged = buf.clone();
        damaged[..len].fill(0);
        damaged[2 * stride..2 * stride + len].fill(0);
        let before = damaged.clone();
        assert_eq!(
            rs.reconstruct_data_strided(&mut damaged, stride, len, &present[..d + p - 1]),
            Err(FecError::ShardLength)
        );
        assert_eq!(
            rs.reconstruct_data_strided(&mut damaged[..exact - 1], stride, len, &present),
            Err(FecError::ShardLength)
        );
        assert_eq!(
            rs.reconstruct_data_strided(&mut damaged, stride, stride + 1, &present),
            Err(FecError::ShardLength)
        );
        assert_eq!(damaged, before, "refused calls write nothing");
        rs.reconstruct_data_strided(&mut damaged, stride, len, &present)
            .unwrap();
        for (i, row) in data.iter().enumerate() {
            assert_eq!(
                &damaged[i * stride..i * stride + len],
                &row[..],
                "stride {stride}, row {i}"
            );
        }
    }
}

/// The slice API rebuilds lost data shards from any `data_shards` of the
/// rest (parity shards lost too are left alone), for every loss pattern of
/// up to `parity_shards` shards in a small group.
#[test]
fn reconstruct_data_rebuilds_every_loss_pattern() {
    let (d, p, len) = (4, 2, 24);
    let rs0 = ReedSolomon::new(d, p).unwrap();
    let data = rows(d, len);
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let mut parity = vec![vec![0u8; len]; p];
    let mut pr: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
    rs0.encode(&refs, &mut pr).unwrap();
    let full: Vec<Vec<u8>> = data.iter().chain(parity.iter()).cloned().collect();
    let mut rs = ReedSolomon::new(d, p).unwrap();
    for mask in 0u32..(1 << (d + p)) {
        if mask.count_ones() as usize > p {
            continue;
        }
        let present: Vec<bool> = (0..d + p).map(|i| mask & (1 << i) == 0).collect();
        let mut shards: Vec<Vec<u8>> = full
            .iter()
            .zip(&present)
            .map(|(s, &ok)| if ok { s.clone() } else { vec![0xA5; len] })
            .collect();
        let mut s: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
        rs.reconstruct_data(&mut s, &present).unwrap();
        for i in 0..d {
            assert_eq!(shards[i], full[i], "lost {mask:06b}, data row {i}");
        }
        for i in d..d + p {
            let want = if present[i] {
                full[i].clone()
            } else {
                vec![0xA5; len]
            };
            assert_eq!(
                shards[i], want,
                "lost {mask:06b}, parity row {i} left alone"
            );
        }
    }
}
