//! kcp-go's FEC decoder (spec session.md §4.3), sans-IO.

use alloc::vec;
use alloc::vec::Vec;

use crate::autotune::AutoTune;
use crate::config::FecConfig;
use crate::error::FecError;
use crate::group_codec::GroupCodec;
use crate::header::{
    MIN_DATAGRAM, OOB_HEADER_SIZE, SHARD_HEADER_SIZE, TYPE_DATA, TYPE_OOB, TYPE_PARITY, paws,
    read_u16, read_u32,
};
use crate::stats::DecoderStats;

/// kcp-go's `maxShardSets`: groups more than this many behind the newest
/// are dropped.
const MAX_SHARD_SETS: u32 = 3;
/// Group slots: the newest, the 3 behind it, and one being opened.
const SLOTS: usize = MAX_SHARD_SETS as usize + 2;
/// After this many groups' worth of consecutive shards that each landed in
/// a group dropped at once as stale, the newest group is re-based on the
/// shard that just arrived (see `Decoder::track_newest`: a forged
/// far-ahead seqid must not switch recovery off for good).
const RESYNC_GROUPS: usize = 2;

/// One group's shards, stored as rows of `stride` bytes (the part of each
/// packet from offset 6 on: `size` field and payload, or parity).
#[derive(Debug, Default)]
struct Group {
    live: bool,
    /// Seqid of the group's first shard (`group id * shard count`, always
    /// below `paws` of the layout it was opened under).
    first: u32,
    count: usize,
    data_count: usize,
    present: [u64; 4],
    lens: Vec<u16>,
    buf: Vec<u8>,
}

impl Group {
    fn has(&self, i: usize) -> bool {
        self.present[i / 64] & (1 << (i % 64)) != 0
    }
}

/// What one datagram turned out to be.
#[derive(Debug)]
pub enum Decoded<'p, 'd> {
    /// A plain KCP datagram (no FEC header): feed all of it to KCP.
    Raw(&'p [u8]),
    /// An FEC data shard: feed `kcp` (the bytes after the 8-byte header) to
    /// KCP now, then every [`recovered`](Recovered) payload.
    Data {
        /// KCP bytes of this shard.
        kcp: &'p [u8],
        /// Data shards rebuilt thanks to this one.
        recovered: Recovered<'d>,
    },
    /// An FEC parity shard: nothing for KCP except what it helped recover.
    Parity {
        /// Data shards rebuilt thanks to this one.
        recovered: Recovered<'d>,
    },
    /// An out-of-band packet.
    Oob {
        /// The conv field (not checked against the session, as in kcp-go).
        conv: u32,
        /// The OOB payload.
        payload: &'p [u8],
    },
}

impl<'d> Decoded<'_, 'd> {
    /// The recovered shards (empty for raw and OOB datagrams).
    pub fn recovered(&self) -> Recovered<'d> {
        match self {
            Decoded::Data { recovered, .. } | Decoded::Parity { recovered } => *recovered,
            _ => Recovered::EMPTY,
        }
    }
}

/// Data shards rebuilt by one [`Decoder::input`] call, in index order.
/// Only shards whose `size` field is valid (`2 <= size <= shard length`)
/// are included.
#[derive(Clone, Copy, Debug)]
pub struct Recovered<'d> {
    buf: &'d [u8],
    stride: usize,
    len: usize,
    indices: &'d [u8],
}

impl<'d> Recovered<'d> {
    const EMPTY: Recovered<'static> = Recovered {
        buf: &[],
        stride: 0,
        len: 0,
        indices: &[],
    };

    /// Number of recovered shards.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether nothing was recovered.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The recovered shards.
    pub fn iter(&self) -> RecoveredIter<'d> {
        RecoveredIter { set: *self, pos: 0 }
    }
}

impl<'d> IntoIterator for Recovered<'d> {
    type Item = RecoveredShard<'d>;
    type IntoIter = RecoveredIter<'d>;

    fn into_iter(self) -> RecoveredIter<'d> {
        self.iter()
    }
}

/// Iterator over [`Recovered`].
#[derive(Clone, Debug)]
pub struct RecoveredIter<'d> {
    set: Recovered<'d>,
    pos: usize,
}

impl<'d> Iterator for RecoveredIter<'d> {
    type Item = RecoveredShard<'d>;

    fn next(&mut self) -> Option<RecoveredShard<'d>> {
        let Recovered {
            buf,
            stride,
            len,
            indices,
        } = self.set;
        let i = *indices.get(self.pos)? as usize;
        self.pos += 1;
        let shard = &buf[i * stride..i * stride + len];
        // Validated when the shard was rebuilt: 2 <= size <= len.
        let size = u16::from_le_bytes([shard[0], shard[1]]) as usize;
        Some(RecoveredShard {
            index: i,
            shard,
            payload: &shard[2..size],
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.set.indices.len() - self.pos;
        (n, Some(n))
    }
}

/// One rebuilt data shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveredShard<'d> {
    /// Its data index inside the group.
    pub index: usize,
    /// The whole shard as rebuilt: `size` field, payload, zero padding.
    pub shard: &'d [u8],
    /// The KCP bytes, `shard[2..size]`: what to feed to KCP.
    pub payload: &'d [u8],
}

/// Reassembles FEC groups and rebuilds lost data shards.
///
/// Feed every decrypted datagram to [`input`](Self::input); it demultiplexes
/// raw KCP, FEC data/parity and OOB packets on the u16 at offset 4. Shards
/// are copied into per-group storage allocated once per group slot (at most
/// 5 groups, each `data + parity` rows of `max_datagram - 6` bytes), so
/// steady-state decoding never allocates. Memory stays bounded whatever the
/// input: groups more than 3 behind the newest are dropped.
///
/// ```
/// use kcp_fec::{Decoded, Decoder, Encoder, FecConfig};
/// let cfg = FecConfig::new(2, 1);
/// let mut enc = Encoder::new(&cfg)?;
/// let mut dec = Decoder::new(&cfg)?;
/// let mut a = *b"\0\0\0\0\0\0\0\0hello";
/// let mut b = *b"\0\0\0\0\0\0\0\0kcp!";
/// enc.encode(&mut a, 0)?;
/// let parity = enc.encode(&mut b, 1)?.get(0).unwrap().to_vec();
/// // `a` is lost; `b` and the parity packet arrive.
/// assert!(matches!(dec.input(&b)?, Decoded::Data { kcp: b"kcp!", .. }));
/// let out = dec.input(&parity)?;
/// let rebuilt: Vec<&[u8]> = out.recovered().iter().map(|r| r.payload).collect();
/// assert_eq!(rebuilt, [b"hello"]);
/// # Ok::<(), kcp_fec::FecError>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    cfg: FecConfig,
    data_shards: usize,
    parity_shards: usize,
    shard_count: usize,
    paws: u32,
    stride: usize,
    codec: GroupCodec,
    groups: [Group; SLOTS],
    /// First seqid of the newest group seen under the current layout;
    /// `None` until a shard arrives after creation or a re-tune.
    newest: Option<u32>,
    /// Consecutive shards whose group was dropped as stale on arrival.
    stale_run: usize,
    tune: AutoTune,
    should_tune: bool,
    present: Vec<bool>,
    recovered: Vec<u8>,
    recovered_slot: usize,
    recovered_len: usize,
    stats: DecoderStats,
}

impl Decoder {
    /// A decoder expecting `cfg`'s layout (autotune follows the peer if it
    /// differs). kcp-go's session makes a (1, 1) decoder when FEC packets
    /// arrive on a session without FEC.
    pub fn new(cfg: &FecConfig) -> Result<Self, FecError> {
        let codec = GroupCodec::new(cfg, cfg.data_shards, cfg.parity_shards)?;
        if cfg.max_datagram < MIN_DATAGRAM {
            return Err(FecError::DatagramTooShort {
                len: cfg.max_datagram,
                min: MIN_DATAGRAM,
            });
        }
        let max = SHARD_HEADER_SIZE + u16::MAX as usize;
        if cfg.max_datagram > max {
            return Err(FecError::DatagramTooLong {
                len: cfg.max_datagram,
                max,
            });
        }
        let n = cfg.data_shards + cfg.parity_shards;
        Ok(Decoder {
            cfg: *cfg,
            data_shards: cfg.data_shards,
            parity_shards: cfg.parity_shards,
            shard_count: n,
            paws: paws(cfg.data_shards, cfg.parity_shards),
            // +1: room to pad an odd shard for codecs that need even lengths.
            stride: cfg.max_datagram - SHARD_HEADER_SIZE + 1,
            codec,
            groups: Default::default(),
            newest: None,
            stale_run: 0,
            tune: AutoTune::default(),
            should_tune: false,
            present: vec![false; n],
            recovered: Vec::with_capacity(256),
            recovered_slot: 0,
            recovered_len: 0,
            stats: DecoderStats::default(),
        })
    }

    /// The (data, parity) layout in use (changes when autotune follows the
    /// peer).
    pub fn layout(&self) -> (usize, usize) {
        (self.data_shards, self.parity_shards)
    }

    /// Counters.
    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }

    /// Groups currently held (at most 4 between calls).
    pub fn group_count(&self) -> usize {
        self.groups.iter().filter(|g| g.live).count()
    }

    /// Bytes of shard storage allocated (bounded by 5 group slots).
    pub fn storage_bytes(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.buf.capacity() + 2 * g.lens.capacity())
            .sum()
    }

    /// Classifies and processes one decrypted datagram.
    ///
    /// Errors are counted drops (too short, or an FEC shard longer than
    /// `max_datagram`); duplicates, stale or out-of-layout shards are not
    /// errors: a data shard is still handed to KCP, as kcp-go does.
    pub fn input<'p>(&mut self, datagram: &'p [u8]) -> Result<Decoded<'p, '_>, FecError> {
        let len = datagram.len();
        if len < MIN_DATAGRAM {
            self.stats.too_short += 1;
            return Err(FecError::DatagramTooShort {
                len,
                min: MIN_DATAGRAM,
            });
        }
        let ty = read_u16(datagram, 4).unwrap_or(0);
        match ty {
            TYPE_OOB => {
                self.stats.oob_packets += 1;
                let conv = read_u32(datagram, 8).unwrap_or(0);
                Ok(Decoded::Oob {
                    conv,
                    payload: &datagram[OOB_HEADER_SIZE..],
                })
            }
            TYPE_DATA | TYPE_PARITY => {
                if len > self.cfg.max_datagram {
                    self.stats.too_long += 1;
                    return Err(FecError::DatagramTooLong {
                        len,
                        max: self.cfg.max_datagram,
                    });
                }
                self.recovered.clear();
                self.decode_shard(datagram, ty == TYPE_DATA);
                let recovered = if self.recovered.is_empty() {
                    Recovered::EMPTY
                } else {
                    let g = &self.groups[self.recovered_slot];
                    Recovered {
                        buf: &g.buf,
                        stride: self.stride,
                        len: self.recovered_len,
                        indices: &self.recovered,
                    }
                };
                Ok(if ty == TYPE_DATA {
                    Decoded::Data {
                        kcp: &datagram[8..],
                        recovered,
                    }
                } else {
                    Decoded::Parity { recovered }
                })
            }
            _ => {
                self.stats.raw_packets += 1;
                Ok(Decoded::Raw(datagram))
            }
        }
    }

    fn decode_shard(&mut self, pkt: &[u8], is_data: bool) {
        let seqid = read_u32(pkt, 0).unwrap_or(0);
        self.tune.sample(is_data, seqid);
        if seqid >= self.paws {
            self.stats.beyond_paws += 1;
            return;
        }
        let pos = (seqid % self.shard_count as u32) as usize;
        if (pos < self.data_shards) != is_data {
            self.should_tune = true;
        }
        if self.should_tune {
            self.retune();
            self.stats.tune_skipped += 1;
            return;
        }

        // seqid < paws, a multiple of the shard count, so `first` is too.
        let ss = self.shard_count as u32;
        let first = seqid - seqid % ss;
        let slot = match self.groups.iter().position(|g| g.live && g.first == first) {
            Some(s) => s,
            None => {
                // At most 4 groups survive each call, so a slot is free.
                let Some(s) = self.groups.iter().position(|g| !g.live) else {
                    return;
                };
                let g = &mut self.groups[s];
                g.live = true;
                g.first = first;
                g.count = 0;
                g.data_count = 0;
                g.present = [0; 4];
                if g.buf.len() != self.shard_count * self.stride {
                    g.buf = vec![0; self.shard_count * self.stride];
                    g.lens = vec![0; self.shard_count];
                }
                self.stats.shard_sets_opened += 1;
                s
            }
        };

        let stride = self.stride;
        let g = &mut self.groups[slot];
        if g.has(pos) {
            self.stats.duplicates += 1;
            return;
        }
        if !is_data {
            self.stats.parity_shards += 1;
        }
        let body = &pkt[SHARD_HEADER_SIZE..];
        g.buf[pos * stride..pos * stride + body.len()].copy_from_slice(body);
        g.lens[pos] = body.len() as u16;
        g.present[pos / 64] |= 1 << (pos % 64);
        g.count += 1;
        if is_data {
            g.data_count += 1;
        }

        if g.count >= self.data_shards {
            self.recover(slot);
        }
        self.track_newest(first, slot);
        self.stats.shard_sets = self.group_count() as u64;
    }

    /// Moves the newest group forward and drops groups more than
    /// `MAX_SHARD_SETS` behind it (spec §4.3 step 6).
    ///
    /// Distances are wrapping `u32` differences of first seqids read as
    /// `i32`, as kcp-go's `_itimediff(shardId*shardSize, ...)` computes
    /// them, so the comparison survives the seqid wrap at `paws`. Two
    /// differences from kcp-go, both about hostile input: kcp-go keeps a
    /// group whose distance is negative (more than 2^31 seqids "ahead")
    /// forever, we drop it so memory stays bounded; and kcp-go trusts its
    /// newest group id forever, so one forged seqid far ahead (or a
    /// re-tune, after which kcp-go multiplies the old layout's group id by
    /// the new shard count) makes every honest group stale on arrival until
    /// the stream catches up, up to 2^31 seqids later. Here a re-tune
    /// forgets the newest group, and a long run of shards that are all
    /// stale on arrival re-bases it on the stream that is really arriving.
    fn track_newest(&mut self, first: u32, slot: usize) {
        let newest = match self.newest {
            Some(n) if (first.wrapping_sub(n) as i32) <= 0 => n,
            _ => {
                self.newest = Some(first);
                first
            }
        };
        self.drop_stale(newest);
        if self.groups[slot].live {
            self.stale_run = 0;
            return;
        }
        self.stats.stale_shards += 1;
        self.stale_run += 1;
        if self.stale_run >= RESYNC_GROUPS * self.shard_count {
            // The newest group is not where the stream is: follow the
            // stream, keeping the group this shard landed in. Groups out of
            // range of the new newest go now, so at most 4 stay and the
            // next group always finds a free slot.
            self.newest = Some(first);
            self.drop_stale(first);
            self.groups[slot].live = true;
            self.stale_run = 0;
            self.stats.resyncs += 1;
        }
    }

    /// Drops groups ahead of `newest` or more than `MAX_SHARD_SETS` groups
    /// behind it.
    fn drop_stale(&mut self, newest: u32) {
        let horizon = MAX_SHARD_SETS * self.shard_count as u32;
        for g in self.groups.iter_mut().filter(|g| g.live) {
            let behind = newest.wrapping_sub(g.first) as i32;
            if behind < 0 || behind as u32 > horizon {
                g.live = false;
            }
        }
    }

    /// Empties a group holding at least `data_shards` shards, rebuilding
    /// missing data shards if any (spec §4.3 step 5).
    fn recover(&mut self, slot: usize) {
        let stride = self.stride;
        let (d, n) = (self.data_shards, self.shard_count);
        let g = &mut self.groups[slot];
        let data_count = g.data_count;
        g.count = 0;
        g.data_count = 0;
        let present_bits = core::mem::take(&mut g.present);
        if data_count == d {
            self.stats.full_shard_sets += 1;
            return;
        }
        let mut max_len = 0;
        for i in 0..n {
            self.present[i] = present_bits[i / 64] & (1 << (i % 64)) != 0;
            if self.present[i] {
                max_len = max_len.max(g.lens[i] as usize);
            }
        }
        let max_len = self.codec.padded_len(max_len);
        for i in (0..n).filter(|&i| self.present[i]) {
            let row = i * stride;
            g.buf[row + g.lens[i] as usize..row + max_len].fill(0);
        }
        match self
            .codec
            .reconstruct_data_strided(&mut g.buf, stride, max_len, &self.present)
        {
            Ok(()) => {
                for j in (0..d).filter(|&j| !self.present[j]) {
                    self.stats.recovered += 1;
                    let size = if max_len >= 2 {
                        u16::from_le_bytes([g.buf[j * stride], g.buf[j * stride + 1]]) as usize
                    } else {
                        0
                    };
                    if (2..=max_len).contains(&size) {
                        self.recovered.push(j as u8);
                    } else {
                        self.stats.recovered_invalid += 1;
                    }
                }
                self.recovered_slot = slot;
                self.recovered_len = max_len;
            }
            Err(_) => self.stats.errors += 1,
        }
    }

    /// While the shard types disagree with our layout, try to read the
    /// peer's from recent seqids (spec §4.4) and adopt it.
    fn retune(&mut self) {
        let (Some(d), Some(p)) = (self.tune.find_period(true), self.tune.find_period(false)) else {
            return;
        };
        if d + p >= 256 {
            return;
        }
        if (d, p) != (self.data_shards, self.parity_shards) {
            let Ok(codec) = GroupCodec::new(&self.cfg, d, p) else {
                return;
            };
            self.codec = codec;
            self.data_shards = d;
            self.parity_shards = p;
            self.shard_count = d + p;
            self.paws = paws(d, p);
            self.present = vec![false; d + p];
            for g in &mut self.groups {
                g.live = false;
            }
            // Group ids and first seqids of the old layout mean nothing
            // under the new one (kcp-go keeps its newest id; see
            // `track_newest`).
            self.newest = None;
            self.stale_run = 0;
            self.stats.shard_sets = 0;
            self.stats.retunes += 1;
        }
        self.should_tune = false;
    }
}
