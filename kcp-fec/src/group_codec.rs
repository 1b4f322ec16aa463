//! The erasure code behind an encoder or decoder: kcp-go's GF(2^8)
//! Reed-Solomon, or optionally `reed-solomon-simd`.

use crate::config::{Codec, FecConfig};
use crate::error::FecError;
use crate::{Backend, ReedSolomon};

#[derive(Debug)]
pub(crate) enum GroupCodec {
    Rs(ReedSolomon),
    #[cfg(feature = "rs-simd")]
    Simd(crate::simd16::Simd16),
}

impl GroupCodec {
    pub(crate) fn new(
        cfg: &FecConfig,
        data_shards: usize,
        parity_shards: usize,
    ) -> Result<Self, FecError> {
        match cfg.codec {
            Codec::KcpGo => {
                let backend = cfg.backend.unwrap_or_else(Backend::detect);
                ReedSolomon::with_backend(data_shards, parity_shards, backend).map(GroupCodec::Rs)
            }
            #[cfg(feature = "rs-simd")]
            Codec::RsSimd => {
                crate::simd16::Simd16::new(data_shards, parity_shards).map(GroupCodec::Simd)
            }
            #[cfg(not(feature = "rs-simd"))]
            Codec::RsSimd => Err(FecError::CodecUnavailable),
        }
    }

    /// Shard lengths this codec can work on: GF(2^16) needs an even count.
    pub(crate) fn padded_len(&self, len: usize) -> usize {
        match self {
            GroupCodec::Rs(_) => len,
            #[cfg(feature = "rs-simd")]
            GroupCodec::Simd(_) => (len + 1) & !1,
        }
    }

    /// Rebuilds missing data rows of a strided group (see
    /// [`ReedSolomon::reconstruct_data_strided`]).
    pub(crate) fn reconstruct_data_strided(
        &mut self,
        shards: &mut [u8],
        stride: usize,
        len: usize,
        present: &[bool],
    ) -> Result<(), FecError> {
        match self {
            GroupCodec::Rs(rs) => rs.reconstruct_data_strided(shards, stride, len, present),
            #[cfg(feature = "rs-simd")]
            GroupCodec::Simd(s) => s.reconstruct_data_strided(shards, stride, len, present),
        }
    }
}
