//! Error types.

use core::fmt;

use crate::Backend;

/// Errors from building a codec, encoding or reconstructing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FecError {
    /// `data_shards` or `parity_shards` is 0, or their sum exceeds 256.
    InvalidShardCount {
        /// Requested data shards.
        data_shards: usize,
        /// Requested parity shards.
        parity_shards: usize,
    },
    /// The requested kernel cannot run on this CPU (or build).
    BackendUnavailable(Backend),
    /// Shard slices of different lengths, or a buffer too small for the
    /// stated stride and length.
    ShardLength,
    /// Fewer than `data_shards` shards present: nothing can be recovered.
    TooFewShards {
        /// Shards present.
        present: usize,
        /// Shards needed (the data shard count).
        needed: usize,
    },
    /// A datagram too short for the headers it must carry.
    DatagramTooShort {
        /// Its length.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// A datagram longer than the configured maximum (or than a 16-bit
    /// `size` field can describe).
    DatagramTooLong {
        /// Its length.
        len: usize,
        /// The maximum length.
        max: usize,
    },
    /// The optional second codec is not compiled in (`rs-simd` feature).
    CodecUnavailable,
}

impl fmt::Display for FecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FecError::InvalidShardCount {
                data_shards,
                parity_shards,
            } => write!(
                f,
                "invalid FEC layout {data_shards}+{parity_shards}: both must be > 0 and sum to at most 256"
            ),
            FecError::BackendUnavailable(b) => {
                write!(f, "GF(2^8) backend {b} is not available on this CPU")
            }
            FecError::ShardLength => f.write_str("shard buffers have inconsistent lengths"),
            FecError::TooFewShards { present, needed } => {
                write!(
                    f,
                    "only {present} shards present, {needed} needed to reconstruct"
                )
            }
            FecError::DatagramTooShort { len, min } => {
                write!(
                    f,
                    "datagram of {len} bytes is shorter than the minimum {min}"
                )
            }
            FecError::DatagramTooLong { len, max } => {
                write!(
                    f,
                    "datagram of {len} bytes is longer than the maximum {max}"
                )
            }
            FecError::CodecUnavailable => f.write_str("the rs-simd codec is not compiled in"),
        }
    }
}

impl core::error::Error for FecError {}
