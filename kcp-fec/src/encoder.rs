//! kcp-go's FEC encoder (spec session.md §4.2), sans-IO and in place.

use alloc::vec;
use alloc::vec::Vec;

use crate::config::FecConfig;
use crate::error::FecError;
use crate::group_codec::GroupCodec;
use crate::header::{
    HEADER_SIZE, OOB_HEADER_SIZE, OOB_SEQID, SHARD_HEADER_SIZE, TYPE_DATA, TYPE_OOB, TYPE_PARITY,
    paws, write_shard_header,
};
use crate::stats::EncoderStats;

/// Stamps outgoing datagrams with the FEC header and produces the parity
/// packets of every completed group.
///
/// Each datagram is `[header_offset bytes of head room][8-byte FEC header
/// room][KCP bytes]`; [`encode`](Self::encode) fills the FEC header in
/// place. With kcp-go's codec the encoder folds each data shard into the
/// parity as it passes (no copy of the data is kept), so the parity of a
/// group is ready the moment its last data shard is stamped. Parity packets
/// live in storage sized once at construction: steady-state encoding never
/// allocates.
///
/// ```
/// use kcp_fec::{Encoder, FecConfig};
/// let mut enc = Encoder::new(&FecConfig::new(2, 1))?;
/// let mut a = [0u8; 8 + 3];
/// a[8..].copy_from_slice(b"abc");
/// assert!(enc.encode(&mut a, 0)?.is_empty());
/// assert_eq!(a[..8], [0, 0, 0, 0, 0xF1, 0, 5, 0]); // seqid 0, data, size 2+3
/// let mut b = [0u8; 8 + 1];
/// let parity = enc.encode(&mut b, 10)?; // completes the group
/// assert_eq!(parity.len(), 1);
/// let p = parity.get(0).unwrap();
/// assert_eq!(p.len(), a.len()); // padded to the longest data datagram
/// assert_eq!(p[..6], [2, 0, 0, 0, 0xF2, 0]); // seqid 2, parity
/// # Ok::<(), kcp_fec::FecError>(())
/// ```
#[derive(Debug)]
pub struct Encoder {
    data_shards: usize,
    parity_shards: usize,
    paws: u32,
    next: u32,
    header_offset: usize,
    /// Largest datagram accepted, head room included.
    max_datagram: usize,
    /// Row length of `parity` (and `data` for codecs that need copies): a
    /// multiple of 64 bytes, so that with `parity_at` every parity region
    /// starts on a 64-byte boundary and the SIMD kernels never split a
    /// cache line on the parity side.
    stride: usize,
    /// Offset of parity row 0 inside `parity`.
    parity_at: usize,
    skip_gap: Option<u32>,
    codec: GroupCodec,
    /// Data shards in the current group.
    count: usize,
    /// Longest datagram of the current group, head room included.
    max_size: usize,
    /// Length of the parity region (from the `size` field) computed so far.
    acc_len: usize,
    /// `parity_shards` rows of `stride` bytes from `parity_at` on, each a
    /// whole parity datagram.
    parity: Vec<u8>,
    /// Copies of the group's data regions, only for codecs that cannot
    /// encode incrementally.
    #[cfg_attr(not(feature = "rs-simd"), allow(dead_code))]
    data: Vec<u8>,
    last_ts: Option<u32>,
    stats: EncoderStats,
}

impl Encoder {
    /// An encoder for `cfg` (seqids start at 0).
    pub fn new(cfg: &FecConfig) -> Result<Self, FecError> {
        let codec = GroupCodec::new(cfg, cfg.data_shards, cfg.parity_shards)?;
        let min = cfg.header_offset + HEADER_SIZE;
        if cfg.max_datagram < min {
            return Err(FecError::DatagramTooShort {
                len: cfg.max_datagram,
                min,
            });
        }
        // The size field is 16 bits; +1 leaves room for even padding.
        let max = cfg.header_offset + SHARD_HEADER_SIZE + u16::MAX as usize;
        if cfg.max_datagram > max {
            return Err(FecError::DatagramTooLong {
                len: cfg.max_datagram,
                max,
            });
        }
        // +1: room to pad an odd shard for codecs that need even lengths.
        let stride = (cfg.max_datagram + 1).next_multiple_of(64);
        let parity = vec![0; cfg.parity_shards * stride + 64];
        // Parity regions (after head room and the 6-byte shard header) start
        // 64-byte aligned. The heap block never moves: `parity` is never
        // resized.
        let region_at = cfg.header_offset + SHARD_HEADER_SIZE;
        let parity_at = (64 - (parity.as_ptr() as usize + region_at) % 64) % 64;
        let data = match codec {
            GroupCodec::Rs(_) => Vec::new(),
            #[cfg(feature = "rs-simd")]
            GroupCodec::Simd(_) => vec![0; cfg.data_shards * stride],
        };
        Ok(Encoder {
            data_shards: cfg.data_shards,
            parity_shards: cfg.parity_shards,
            paws: paws(cfg.data_shards, cfg.parity_shards),
            next: 0,
            header_offset: cfg.header_offset,
            max_datagram: cfg.max_datagram,
            stride,
            parity_at,
            skip_gap: cfg.parity_skip_gap_ms,
            codec,
            count: 0,
            max_size: 0,
            acc_len: 0,
            parity,
            data,
            last_ts: None,
            stats: EncoderStats::default(),
        })
    }

    /// Head room in front of the FEC header.
    pub fn header_offset(&self) -> usize {
        self.header_offset
    }

    /// The seqid the next data shard will get.
    pub fn next_seqid(&self) -> u32 {
        self.next
    }

    /// Moves the seqid counter (tests near `paws`; reduced modulo `paws`).
    /// Only meaningful at a group boundary, as kcp-go's tests use it.
    pub fn set_next_seqid(&mut self, seqid: u32) {
        self.next = seqid % self.paws;
    }

    /// Counters.
    pub fn stats(&self) -> &EncoderStats {
        &self.stats
    }

    /// Stamps `datagram` as the next data shard and folds it into the
    /// group's parity. `now` is the caller's wrapping millisecond clock.
    ///
    /// Returns the group's parity packets when this datagram completes it
    /// (empty otherwise, or when parity is skipped for the time gap). Each
    /// packet is a whole datagram with the same head room; send them right
    /// after `datagram`, before the next `encode` call reuses the storage.
    pub fn encode(&mut self, datagram: &mut [u8], now: u32) -> Result<ParityPackets<'_>, FecError> {
        let len = datagram.len();
        let min = self.header_offset + HEADER_SIZE;
        if len < min {
            return Err(FecError::DatagramTooShort { len, min });
        }
        let max = self.max_datagram;
        if len > max {
            return Err(FecError::DatagramTooLong { len, max });
        }
        let ho = self.header_offset;
        let region_at = ho + SHARD_HEADER_SIZE;
        write_shard_header(&mut datagram[ho..], self.next, TYPE_DATA);
        let size = (len - region_at) as u16;
        datagram[region_at..region_at + 2].copy_from_slice(&size.to_le_bytes());
        self.next = self.seqid_after(self.next);
        self.stats.data_shards += 1;

        let region = &datagram[region_at..];
        let index = self.count;
        match &self.codec {
            GroupCodec::Rs(rs) => {
                let rlen = region.len();
                if index > 0 && rlen > self.acc_len {
                    // Shorter shards are implicitly zero-padded: clear the
                    // newly covered tail of every parity row first.
                    for k in 0..self.parity_shards {
                        let row = self.parity_at + k * self.stride + region_at;
                        self.parity[row + self.acc_len..row + rlen].fill(0);
                    }
                }
                rs.add_data_shard(
                    index,
                    index == 0,
                    region,
                    &mut self.parity[self.parity_at + region_at..],
                    self.stride,
                );
                if index == 0 || rlen > self.acc_len {
                    self.acc_len = rlen;
                }
            }
            #[cfg(feature = "rs-simd")]
            GroupCodec::Simd(_) => {
                let row = index * self.stride;
                self.data[row..row + region.len()].copy_from_slice(region);
                self.acc_len = self.acc_len.max(region.len());
            }
        }
        self.count += 1;
        self.max_size = self.max_size.max(len);

        let mut emitted = 0;
        let mut packet_len = 0;
        if self.count == self.data_shards {
            // spec §4.2: parity only when the last two data shards are less
            // than the gap apart. A first shard ever counts as a huge gap
            // (kcp-go compares against a zero timestamp).
            let continuous = match (self.skip_gap, self.last_ts) {
                (None, _) => true,
                // Signed wrapping distance, as kcp-go's `now - tsLatestPacket`
                // (int64 there); compared in i64 so a gap setting above
                // i32::MAX does not wrap negative and skip every group.
                (Some(gap), Some(prev)) => {
                    i64::from(now.wrapping_sub(prev) as i32) < i64::from(gap)
                }
                (Some(_), None) => false,
            };
            if continuous && self.finish_group()? {
                for k in 0..self.parity_shards {
                    let row = self.parity_at + k * self.stride + ho;
                    write_shard_header(&mut self.parity[row..], self.next, TYPE_PARITY);
                    self.next = self.seqid_after(self.next);
                }
                emitted = self.parity_shards;
                packet_len = self.codec.padded_len(self.max_size - region_at) + region_at;
                self.stats.parity_shards += emitted as u64;
            } else {
                self.next =
                    ((self.next as u64 + self.parity_shards as u64) % self.paws as u64) as u32;
                self.stats.parity_skipped += 1;
            }
            self.count = 0;
            self.max_size = 0;
            self.acc_len = 0;
        }
        self.last_ts = Some(now);
        Ok(ParityPackets {
            buf: &mut self.parity[self.parity_at..],
            stride: self.stride,
            packet_len,
            count: emitted,
        })
    }

    /// `(seqid + 1) % paws` for `seqid < paws`, without a division.
    #[inline]
    fn seqid_after(&self, seqid: u32) -> u32 {
        // `seqid < paws <= u32::MAX` (every `next` is reduced), so `+ 1`
        // cannot overflow; kcp-go: `(next + 1) % paws` in uint32.
        debug_assert!(seqid < self.paws);
        if seqid + 1 >= self.paws { 0 } else { seqid + 1 }
    }

    /// Computes the parity of a complete group for codecs that need the
    /// whole group at once; `false` if encoding failed.
    fn finish_group(&mut self) -> Result<bool, FecError> {
        match &mut self.codec {
            GroupCodec::Rs(_) => Ok(true),
            #[cfg(feature = "rs-simd")]
            GroupCodec::Simd(s) => {
                let region_at = self.header_offset + SHARD_HEADER_SIZE;
                let plen = (self.acc_len + 1) & !1;
                for i in 0..self.data_shards {
                    let row = i * self.stride;
                    let size = u16::from_le_bytes([self.data[row], self.data[row + 1]]) as usize;
                    self.data[row + size..row + plen].fill(0);
                }
                Ok(s.encode_strided(
                    &self.data,
                    &mut self.parity[self.parity_at + region_at..],
                    self.stride,
                    plen,
                )
                .is_ok())
            }
        }
    }

    /// Stamps an out-of-band packet: `datagram` is `[head room][8-byte FEC
    /// header room][4-byte conv room][payload]`. OOB packets use seqid
    /// 0xFFFFFFFF, are not part of any group and do not advance the seqid.
    ///
    /// ```
    /// let mut enc = kcp_fec::Encoder::new(&kcp_fec::FecConfig::new(10, 3))?;
    /// let mut pkt = [0u8; 12 + 2];
    /// enc.encode_oob(&mut pkt, 0x11223344)?;
    /// assert_eq!(pkt[..12], [0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0, 8, 0, 0x44, 0x33, 0x22, 0x11]);
    /// # Ok::<(), kcp_fec::FecError>(())
    /// ```
    pub fn encode_oob(&mut self, datagram: &mut [u8], conv: u32) -> Result<(), FecError> {
        let ho = self.header_offset;
        let len = datagram.len();
        let min = ho + OOB_HEADER_SIZE;
        if len < min {
            return Err(FecError::DatagramTooShort { len, min });
        }
        let max = ho + SHARD_HEADER_SIZE + u16::MAX as usize;
        if len > max {
            return Err(FecError::DatagramTooLong { len, max });
        }
        write_shard_header(&mut datagram[ho..], OOB_SEQID, TYPE_OOB);
        let size = (len - ho - SHARD_HEADER_SIZE) as u16;
        datagram[ho + 6..ho + 8].copy_from_slice(&size.to_le_bytes());
        datagram[ho + 8..ho + 12].copy_from_slice(&conv.to_le_bytes());
        self.stats.oob_packets += 1;
        Ok(())
    }
}

/// The parity packets [`Encoder::encode`] produced, borrowed from the
/// encoder. Each is a whole datagram (head room, 6-byte header, parity
/// bytes), mutable so an outer layer can encrypt it in place.
#[derive(Debug)]
pub struct ParityPackets<'a> {
    buf: &'a mut [u8],
    stride: usize,
    packet_len: usize,
    count: usize,
}

impl<'a> ParityPackets<'a> {
    /// Number of parity packets (0 or `parity_shards`).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Packet `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.count).then(|| &self.buf[i * self.stride..i * self.stride + self.packet_len])
    }

    /// Packet `i`, mutable.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        (i < self.count).then(|| &mut self.buf[i * self.stride..i * self.stride + self.packet_len])
    }

    /// All packets in seqid order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).map(move |i| &self.buf[i * self.stride..i * self.stride + self.packet_len])
    }

    /// All packets in seqid order, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        let len = self.packet_len;
        self.buf
            .chunks_mut(self.stride)
            .take(self.count)
            .map(move |c| &mut c[..len])
    }
}
