//! Encoder/decoder configuration.

use crate::Backend;
use crate::header::MTU_LIMIT;

/// Which erasure code protects the groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Reed-Solomon over GF(2^8) with klauspost's matrix: what kcp-go sends
    /// and expects. The default, and the only choice for talking to kcp-go.
    #[default]
    KcpGo,
    /// The `reed-solomon-simd` crate (GF(2^16), Leopard-style FFT), behind
    /// the `rs-simd` feature. **Not compatible with kcp-go**: its parity
    /// bytes differ, so both ends must be kcp-rs with this setting. Parity
    /// shards are padded to an even length. See `BENCHES.md` for when it is
    /// worth it (large parity counts; never for 10+3-sized groups).
    RsSimd,
}

/// Settings shared by [`Encoder`](crate::Encoder) and
/// [`Decoder`](crate::Decoder), with kcp-go's names and defaults.
///
/// ```
/// let cfg = kcp_fec::FecConfig { header_offset: 20, ..kcp_fec::FecConfig::new(10, 3) };
/// assert_eq!(cfg.max_datagram, 1500);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FecConfig {
    /// Data shards per group (`dataShards`).
    pub data_shards: usize,
    /// Parity shards per group (`parityShards`).
    pub parity_shards: usize,
    /// Encoder only: bytes in front of the FEC header that an outer layer
    /// (crypto: 20, or 12 for AEAD) fills in later. Parity packets get the
    /// same head room.
    pub header_offset: usize,
    /// Largest datagram, head room included (kcp-go's `mtuLimit`, 1500).
    /// Shard storage is sized for it up front.
    pub max_datagram: usize,
    /// Encoder only: skip a group's parity (still consuming its seqids)
    /// when the last two data shards are this many ms apart or more.
    /// kcp-go passes a constant 500. `None` never skips.
    pub parity_skip_gap_ms: Option<u32>,
    /// The erasure code.
    pub codec: Codec,
    /// GF(2^8) kernel; `None` picks the fastest available.
    pub backend: Option<Backend>,
}

impl FecConfig {
    /// kcp-go's defaults for a (data, parity) layout.
    pub fn new(data_shards: usize, parity_shards: usize) -> Self {
        FecConfig {
            data_shards,
            parity_shards,
            header_offset: 0,
            max_datagram: MTU_LIMIT,
            parity_skip_gap_ms: Some(500),
            codec: Codec::KcpGo,
            backend: None,
        }
    }
}
