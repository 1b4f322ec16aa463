//! An honest FEC peer for the hostile-input tests.

use kcp_fec::{Decoder, Encoder, FecConfig};

/// Sends `groups` whole groups of an honest `(d, p)` stream from seqid
/// `start` into `dec`, dropping the data shards `lose(group, index)` picks.
///
/// With `check`, every rebuilt payload must equal the one sent at its index
/// (a decoder may also rebuild a shard that arrived while its group was
/// being dropped: KCP discards such repeats). Without it, rebuilt payloads
/// are not compared: until autotune settles, or where forged shards already
/// occupy a group, FEC (which has no integrity of its own) rebuilds noise
/// that KCP or the crypt layer rejects. The decoder never holds more than 4
/// groups. Returns (lost, lost shards rebuilt).
pub fn honest_stream(
    dec: &mut Decoder,
    (d, p): (usize, usize),
    start: u32,
    groups: usize,
    check: bool,
    lose: impl Fn(usize, usize) -> bool,
) -> (usize, usize) {
    let mut enc = Encoder::new(&FecConfig::new(d, p)).unwrap();
    enc.set_next_seqid(start);
    let (mut lost, mut rebuilt) = (0, 0);
    for g in 0..groups {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        let mut missing = vec![false; d];
        for i in 0..d {
            let body: Vec<u8> = (0..20 + (g * 7 + i) % 50)
                .map(|k| (g * 31 + i * 7 + k) as u8)
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
            let mut feed = |pkt: &[u8], missing: &mut [bool]| {
                let out = dec.input(pkt).unwrap();
                for r in out.recovered() {
                    if check {
                        assert_eq!(r.payload, bodies[r.index], "group {g}, shard {}", r.index);
                    }
                    if missing.get_mut(r.index).is_some_and(std::mem::take) {
                        rebuilt += 1;
                    }
                }
                assert!(dec.group_count() <= 4, "{} groups", dec.group_count());
            };
            if lose(g, i) {
                lost += 1;
                missing[i] = true;
            } else {
                feed(&dgram, &mut missing);
            }
            for par in &parity {
                feed(par, &mut missing);
            }
        }
    }
    (lost, rebuilt)
}
