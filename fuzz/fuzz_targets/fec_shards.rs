//! Structure-aware FEC input: runs of consecutive seqids generated with
//! `arbitrary` (bases near 0, 2^31, 2^32 and the layout's `paws`; data and
//! parity patterns of any layout, so the decoder re-tunes mid-stream;
//! duplicates and holes), into a `kcp_fec::Decoder` and, framed with a KCP
//! segment, into a server `kcp_session::Endpoint`.
//!
//! Must hold: no panic (overflow checks are on in fuzz builds), at most 4
//! groups and bounded storage, every datagram accounted for by the
//! endpoint, and, whatever came before, an honest 10/3 stream that first
//! arrives whole for one autotune window then loses one data shard per
//! group gets every lost shard rebuilt, byte for byte.
#![no_main]

use arbitrary::Arbitrary;
use kcp_fec::{Decoded, Decoder, Encoder, FecConfig, paws};
use kcp_session::{Endpoint, EndpointConfig, SessionConfig, Timestamp};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Base {
    NearZero(u16),
    NearHalf(i16),
    NearMax(i16),
    /// Near `paws` of the run's own layout.
    NearPaws(i16),
    Any(u32),
}

#[derive(Arbitrary, Debug)]
enum Types {
    /// Data then parity as the run's layout says.
    Layout,
    AllData,
    AllParity,
    /// Bit i of the mask: data (1) or parity (0).
    Mask(u64),
}

#[derive(Arbitrary, Debug)]
struct Run {
    base: Base,
    /// The layout whose pattern the run follows: (1 + d % 32, 1 + p % 16).
    layout: (u8, u8),
    count: u8,
    types: Types,
    /// Bit i set: shard i of the run is not sent.
    holes: u64,
    /// Bit i set: shard i is sent twice.
    dups: u64,
    body_len: u8,
    fill: u8,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The decoder's own layout, (1 + d % 32, 1 + p % 16).
    layout: (u8, u8),
    runs: Vec<Run>,
}

fn layout((d, p): (u8, u8)) -> (usize, usize) {
    (1 + d as usize % 32, 1 + p as usize % 16)
}

impl Run {
    fn base(&self) -> u32 {
        let (d, p) = layout(self.layout);
        match self.base {
            Base::NearZero(x) => u32::from(x),
            Base::NearHalf(x) => 0x8000_0000u32.wrapping_add(x as i32 as u32),
            Base::NearMax(x) => u32::MAX.wrapping_add(x as i32 as u32),
            Base::NearPaws(x) => paws(d, p).wrapping_add(x as i32 as u32),
            Base::Any(x) => x,
        }
    }

    /// The run's shards, as plaintext FEC datagrams.
    fn shards(&self) -> Vec<Vec<u8>> {
        let (d, p) = layout(self.layout);
        let base = self.base();
        let mut out = Vec::new();
        for i in 0..u32::from(self.count).min(200) {
            let bit = 1u64 << (i % 64);
            if self.holes & bit != 0 {
                continue;
            }
            let seqid = base.wrapping_add(i);
            let is_data = match self.types {
                Types::Layout => (seqid % (d + p) as u32) < d as u32,
                Types::AllData => true,
                Types::AllParity => false,
                Types::Mask(m) => m & bit != 0,
            };
            let ty: u16 = if is_data { 0xF1 } else { 0xF2 };
            let mut pkt = seqid.to_le_bytes().to_vec();
            pkt.extend_from_slice(&ty.to_le_bytes());
            let body = 2 + self.body_len as usize;
            pkt.extend_from_slice(&(body as u16).to_le_bytes());
            pkt.extend((0..self.body_len).map(|k| self.fill.wrapping_add(k)));
            out.push(pkt.clone());
            if self.dups & bit != 0 {
                out.push(pkt);
            }
        }
        out
    }
}

fuzz_target!(|input: Input| {
    let (d, p) = layout(input.layout);
    let Ok(mut dec) = Decoder::new(&FecConfig::new(d, p)) else {
        return;
    };
    let mut ep = endpoint();
    let mut now = Timestamp::from_millis(u32::MAX - 10_000);
    let mut out = vec![0u8; 1500];
    let mut fed = 0u64;
    // A valid opening datagram, so the endpoint's session gets the shards.
    let mut open = opening_shard();
    ep.handle_datagram(now, 1, &mut open);
    fed += 1;

    for run in input.runs.iter().take(64) {
        for mut pkt in run.shards() {
            if let Ok(out) = dec.input(&pkt) {
                if let Decoded::Data { kcp, .. } = &out {
                    assert_eq!(kcp.len() + 8, pkt.len());
                }
                for r in out.recovered() {
                    assert!(r.payload.len() + 2 <= r.shard.len());
                }
            }
            assert!(dec.group_count() <= 4);
            assert!(dec.storage_bytes() <= 5 * 48 * 1500);

            ep.handle_datagram(now, 1, &mut pkt);
            fed += 1;
            let st = ep.stats();
            assert_eq!(st.received, fed);
            assert_eq!(st.delivered + st.total_dropped(), st.received);
        }
        now = now.add_millis(7);
        ep.handle_timeout(now);
        while ep.poll_transmit(now, &mut out).is_some() {}
    }

    honest_stream_recovers(&mut dec);
});

fn endpoint() -> Endpoint<u8> {
    let mut cfg = EndpointConfig::new(SessionConfig::fast3().with_fec(10, 3));
    cfg.accept_backlog = 4;
    cfg.max_sessions = 4;
    Endpoint::new(cfg).unwrap()
}

/// A data shard (seqid 0) carrying a KCP PUSH with sn 0 for conv 1.
fn opening_shard() -> Vec<u8> {
    let mut kcp = Vec::new();
    kcp.extend_from_slice(&1u32.to_le_bytes()); // conv
    kcp.extend_from_slice(&[81, 0]); // PUSH, frg 0
    kcp.extend_from_slice(&128u16.to_le_bytes()); // wnd
    kcp.extend_from_slice(&[0; 12]); // ts, sn, una
    kcp.extend_from_slice(&4u32.to_le_bytes());
    kcp.extend_from_slice(b"open");
    let mut pkt = 0u32.to_le_bytes().to_vec();
    pkt.extend_from_slice(&0xF1u16.to_le_bytes());
    pkt.extend_from_slice(&((2 + kcp.len()) as u16).to_le_bytes());
    pkt.extend_from_slice(&kcp);
    pkt
}

/// After any input, an honest 10/3 peer at seqid 0x4000_0000: 22 whole
/// groups (more than autotune's 258 samples, so stale samples leave its
/// ring and a re-tune can settle), then 10 groups each losing data shard 3.
/// From then on the layout must be 10/3, every lost shard must be rebuilt,
/// and every rebuilt payload must be the one sent at its index.
fn honest_stream_recovers(dec: &mut Decoder) {
    let mut enc = Encoder::new(&FecConfig::new(10, 3)).unwrap();
    enc.set_next_seqid(0x4000_0000 / 13 * 13);
    let mut lost = 0;
    let mut rebuilt = 0;
    for g in 0..32usize {
        let bodies: Vec<Vec<u8>> = (0..10)
            .map(|i| (0..16 + (g + i) % 40).map(|k| (g * 13 + i + k) as u8).collect())
            .collect();
        let mut missing = [false; 10];
        for (i, body) in bodies.iter().enumerate() {
            let mut dgram = vec![0u8; 8];
            dgram.extend_from_slice(body);
            let parity: Vec<Vec<u8>> = enc
                .encode(&mut dgram, 0)
                .unwrap()
                .iter()
                .map(<[u8]>::to_vec)
                .collect();
            if g == 22 && i == 0 {
                assert_eq!(dec.layout(), (10, 3), "{:?}", dec.stats());
            }
            let losing = g >= 22 && i == 3;
            let mut pkts = Vec::new();
            if losing {
                lost += 1;
                missing[i] = true;
            } else {
                pkts.push(dgram);
            }
            pkts.extend(parity);
            for pkt in &pkts {
                let out = dec.input(pkt).unwrap();
                for r in out.recovered() {
                    if g < 22 {
                        // Until autotune has settled, groups may mix two
                        // layouts and "recover" noise, as in kcp-go (KCP
                        // then rejects it: wrong conv or length).
                        continue;
                    }
                    assert_eq!(r.payload, &bodies[r.index][..]);
                    if std::mem::take(&mut missing[r.index]) {
                        rebuilt += 1;
                    }
                }
            }
        }
    }
    assert_eq!(dec.layout(), (10, 3));
    assert_eq!(rebuilt, lost, "FEC recovery did not resume: {:?}", dec.stats());
}
