//! The optional `reed-solomon-simd` codec (GF(2^16)); both ends must use it.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::error::FecError;

/// Encoder and decoder from `reed-solomon-simd`, kept across groups so their
/// work buffers are reused.
pub(crate) struct Simd16 {
    data_shards: usize,
    parity_shards: usize,
    enc: ReedSolomonEncoder,
    dec: ReedSolomonDecoder,
}

impl core::fmt::Debug for Simd16 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Simd16")
            .field("data_shards", &self.data_shards)
            .field("parity_shards", &self.parity_shards)
            .finish()
    }
}

fn codec_err(_: reed_solomon_simd::Error) -> FecError {
    FecError::ShardLength
}

impl Simd16 {
    pub(crate) fn new(data_shards: usize, parity_shards: usize) -> Result<Self, FecError> {
        if data_shards == 0
            || parity_shards == 0
            || data_shards + parity_shards > 256
            || !ReedSolomonEncoder::supports(data_shards, parity_shards)
        {
            return Err(FecError::InvalidShardCount {
                data_shards,
                parity_shards,
            });
        }
        Ok(Simd16 {
            data_shards,
            parity_shards,
            enc: ReedSolomonEncoder::new(data_shards, parity_shards, 2).map_err(codec_err)?,
            dec: ReedSolomonDecoder::new(data_shards, parity_shards, 2).map_err(codec_err)?,
        })
    }

    /// Parity rows `k * stride..+len` of `parity` from data rows of `data`;
    /// `len` is even.
    pub(crate) fn encode_strided(
        &mut self,
        data: &[u8],
        parity: &mut [u8],
        stride: usize,
        len: usize,
    ) -> Result<(), FecError> {
        let len = len.max(2);
        self.enc
            .reset(self.data_shards, self.parity_shards, len)
            .map_err(codec_err)?;
        for i in 0..self.data_shards {
            self.enc
                .add_original_shard(&data[i * stride..i * stride + len])
                .map_err(codec_err)?;
        }
        let out = self.enc.encode().map_err(codec_err)?;
        for (k, shard) in out.recovery_iter().enumerate() {
            parity[k * stride..k * stride + len].copy_from_slice(shard);
        }
        Ok(())
    }

    /// Rebuilds missing data rows in place; `len` is even.
    pub(crate) fn reconstruct_data_strided(
        &mut self,
        shards: &mut [u8],
        stride: usize,
        len: usize,
        present: &[bool],
    ) -> Result<(), FecError> {
        let d = self.data_shards;
        let have = present.iter().filter(|p| **p).count();
        if have < d {
            return Err(FecError::TooFewShards {
                present: have,
                needed: d,
            });
        }
        if len == 0 || !len.is_multiple_of(2) {
            return Err(FecError::ShardLength);
        }
        self.dec
            .reset(d, self.parity_shards, len)
            .map_err(codec_err)?;
        for (i, _) in present.iter().enumerate().filter(|(_, p)| **p) {
            let row = &shards[i * stride..i * stride + len];
            if i < d {
                self.dec.add_original_shard(i, row).map_err(codec_err)?;
            } else {
                self.dec.add_recovery_shard(i - d, row).map_err(codec_err)?;
            }
        }
        let out = self.dec.decode().map_err(codec_err)?;
        for (j, _) in present[..d].iter().enumerate().filter(|(_, p)| !**p) {
            let shard = out.restored_original(j).ok_or(FecError::ShardLength)?;
            shards[j * stride..j * stride + len].copy_from_slice(shard);
        }
        Ok(())
    }
}
