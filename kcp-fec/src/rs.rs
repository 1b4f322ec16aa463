//! Systematic Reed-Solomon erasure code over GF(2^8), parity byte-identical
//! to klauspost/reedsolomon's `New(d, p)` (and therefore to kcp-go).

use alloc::vec::Vec;

use crate::codec::{Backend, Kernel};
use crate::error::FecError;
use crate::matrix::{self, Matrix};

/// `ROWS[i] == i`: the data rows `0..d` as a row-index list.
static ROWS: [u8; 256] = {
    let mut r = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        r[i] = i as u8;
        i += 1;
    }
    r
};

/// Bytes of inverted matrices kept per codec (at least 4 and at most 64
/// erasure patterns, whatever the layout).
const CACHE_BYTES: usize = 1 << 20;

/// A Reed-Solomon codec for `data_shards + parity_shards <= 256`.
///
/// Shards of one group all have the same length. Encoding computes the
/// parity shards; [`reconstruct_data`](Self::reconstruct_data) rebuilds
/// missing data shards from any `data_shards` present shards. The inverted
/// matrix for each erasure pattern is cached (bounded, first in first out).
///
/// ```
/// use kcp_fec::ReedSolomon;
/// let rs = ReedSolomon::new(3, 2)?;
/// let data = [[1u8, 2, 3], [4, 5, 6], [7, 8, 9]];
/// let mut p0 = [0u8; 3];
/// let mut p1 = [0u8; 3];
/// rs.encode(&[&data[0], &data[1], &data[2]], &mut [&mut p0, &mut p1])?;
/// // Parity row 0 of klauspost's matrix is all ones: plain XOR.
/// assert_eq!(p0, [1 ^ 4 ^ 7, 2 ^ 5 ^ 8, 3 ^ 6 ^ 9]);
///
/// // Lose data shards 0 and 2, rebuild them from shard 1 and both parities.
/// let mut rs = rs;
/// let (mut d0, mut d1, mut d2) = ([0u8; 3], data[1], [0u8; 3]);
/// rs.reconstruct_data(
///     &mut [&mut d0, &mut d1, &mut d2, &mut p0, &mut p1],
///     &[false, true, false, true, true],
/// )?;
/// assert_eq!((d0, d2), (data[0], data[2]));
/// # Ok::<(), kcp_fec::FecError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReedSolomon {
    data_shards: usize,
    parity_shards: usize,
    /// `(d + p) x d`; the top `d` rows are the identity.
    encoding: Matrix,
    /// The parity coefficients by data shard: `[i * p + k] = coef(k, i)`.
    parity_column: Vec<u8>,
    kernel: Kernel,
    cache: DecodeCache,
}

impl ReedSolomon {
    /// A codec using the fastest kernel this CPU supports.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Self, FecError> {
        Self::with_backend(data_shards, parity_shards, Backend::detect())
    }

    /// A codec using a specific kernel.
    pub fn with_backend(
        data_shards: usize,
        parity_shards: usize,
        backend: Backend,
    ) -> Result<Self, FecError> {
        if data_shards == 0 || parity_shards == 0 || data_shards + parity_shards > 256 {
            return Err(FecError::InvalidShardCount {
                data_shards,
                parity_shards,
            });
        }
        let kernel = Kernel::new(backend).ok_or(FecError::BackendUnavailable(backend))?;
        let per_entry = data_shards * data_shards;
        let encoding = matrix::encoding_matrix(data_shards, parity_shards);
        let mut parity_column = Vec::with_capacity(data_shards * parity_shards);
        for i in 0..data_shards {
            for k in 0..parity_shards {
                parity_column.push(encoding.row(data_shards + k)[i]);
            }
        }
        Ok(ReedSolomon {
            data_shards,
            parity_shards,
            encoding,
            parity_column,
            kernel,
            cache: DecodeCache::new((CACHE_BYTES / per_entry).clamp(4, 64)),
        })
    }

    /// Number of data shards per group.
    pub fn data_shards(&self) -> usize {
        self.data_shards
    }

    /// Number of parity shards per group.
    pub fn parity_shards(&self) -> usize {
        self.parity_shards
    }

    /// The kernel in use.
    pub fn backend(&self) -> Backend {
        self.kernel.backend()
    }

    /// Row `k` of the parity part of the encoding matrix: element `i` is the
    /// coefficient of data shard `i` in parity shard `k`.
    ///
    /// # Panics
    /// If `k >= parity_shards`.
    pub fn parity_row(&self, k: usize) -> &[u8] {
        self.encoding.row(self.data_shards + k)
    }

    /// Computes `parity` from `data`; every slice must have the same length.
    pub fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError> {
        if data.len() != self.data_shards || parity.len() != self.parity_shards {
            return Err(FecError::ShardLength);
        }
        let len = data[0].len();
        if data.iter().any(|s| s.len() != len) || parity.iter().any(|s| s.len() != len) {
            return Err(FecError::ShardLength);
        }
        let mut coefs: [&[u8]; 256] = [&[]; 256];
        for (k, c) in coefs[..self.parity_shards].iter_mut().enumerate() {
            *c = self.parity_row(k);
        }
        if self
            .kernel
            .matrix_split(&coefs[..self.parity_shards], data, parity, len)
        {
            return Ok(());
        }
        for (k, out) in parity.iter_mut().enumerate() {
            let row = self.parity_row(k);
            for (i, src) in data.iter().enumerate() {
                self.apply(i == 0, row[i], src, out);
            }
        }
        Ok(())
    }

    /// Computes the parity rows of a group stored in one buffer: row `r`
    /// (data rows `0..d`, then parity rows `d..d+p`) is
    /// `shards[r * stride..r * stride + len]`.
    pub fn encode_strided(
        &self,
        shards: &mut [u8],
        stride: usize,
        len: usize,
    ) -> Result<(), FecError> {
        let d = self.data_shards;
        check_strided(shards.len(), d + self.parity_shards, stride, len)?;
        let p = self.parity_shards;
        for k0 in (0..p).step_by(8) {
            let mut outs: [(usize, &[u8]); 8] = [(0, &[]); 8];
            let r = (p - k0).min(8);
            for (k, o) in outs[..r].iter_mut().enumerate() {
                *o = (d + k0 + k, self.parity_row(k0 + k));
            }
            if !self
                .kernel
                .matrix_strided(&outs[..r], &ROWS[..d], shards, stride, len)
            {
                return Err(FecError::ShardLength);
            }
        }
        Ok(())
    }

    /// Adds data shard `index`'s contribution to every parity row:
    /// `parity[k * stride..][..src.len()] (^)= coef(k, index) * src`, with
    /// `=` instead of `^=` when `first`. The encoder uses this to fold each
    /// datagram into the parity as it passes, without keeping a copy.
    pub(crate) fn add_data_shard(
        &self,
        index: usize,
        first: bool,
        src: &[u8],
        parity: &mut [u8],
        stride: usize,
    ) {
        let coefs =
            &self.parity_column[index * self.parity_shards..(index + 1) * self.parity_shards];
        self.kernel.mul_rows(first, coefs, src, parity, stride);
    }

    #[inline]
    fn apply(&self, first: bool, c: u8, src: &[u8], dst: &mut [u8]) {
        if first {
            self.kernel.mul(c, src, dst);
        } else {
            self.kernel.mul_add(c, src, dst);
        }
    }

    /// Rebuilds the missing data shards in place (`present[i] == false`),
    /// leaving missing parity shards untouched. All slices have the same
    /// length; `shards.len() == present.len() == data + parity`.
    pub fn reconstruct_data(
        &mut self,
        shards: &mut [&mut [u8]],
        present: &[bool],
    ) -> Result<(), FecError> {
        let n = self.data_shards + self.parity_shards;
        if shards.len() != n || present.len() != n {
            return Err(FecError::ShardLength);
        }
        let len = shards[0].len();
        if shards.iter().any(|s| s.len() != len) {
            return Err(FecError::ShardLength);
        }
        let Some(plan) = self.plan(present)? else {
            return Ok(());
        };
        let (kernel, d) = (self.kernel, self.data_shards);
        let inverse = self.cache.get(plan.key);
        let mut outs: [(usize, &[u8]); 256] = [(0, &[]); 256];
        let mut r = 0;
        for j in (0..d).filter(|&j| !present[j]) {
            outs[r] = (j, &inverse[j * d..(j + 1) * d]);
            r += 1;
        }
        if kernel.matrix_shards(&outs[..r], &plan.chosen[..d], shards, len) {
            return Ok(());
        }
        for j in (0..d).filter(|&j| !present[j]) {
            let (before, rest) = shards.split_at_mut(j);
            let (out, after) = rest.split_first_mut().ok_or(FecError::ShardLength)?;
            let coefs = &inverse[j * d..(j + 1) * d];
            for (t, &i) in plan.chosen[..d].iter().enumerate() {
                let i = i as usize;
                let src: &[u8] = if i < j { before[i] } else { after[i - j - 1] };
                apply(kernel, t == 0, coefs[t], src, out);
            }
        }
        Ok(())
    }

    /// [`reconstruct_data`](Self::reconstruct_data) for a group stored in
    /// one buffer with rows `stride` bytes apart, each `len` bytes long.
    pub fn reconstruct_data_strided(
        &mut self,
        shards: &mut [u8],
        stride: usize,
        len: usize,
        present: &[bool],
    ) -> Result<(), FecError> {
        let n = self.data_shards + self.parity_shards;
        check_strided(shards.len(), n, stride, len)?;
        if present.len() != n {
            return Err(FecError::ShardLength);
        }
        let Some(plan) = self.plan(present)? else {
            return Ok(());
        };
        let (kernel, d) = (self.kernel, self.data_shards);
        let inverse = self.cache.get(plan.key);
        let mut outs: [(usize, &[u8]); 8] = [(0, &[]); 8];
        let mut r = 0;
        for j in (0..d).filter(|&j| !present[j]) {
            outs[r] = (j, &inverse[j * d..(j + 1) * d]);
            r += 1;
            if r == 8 {
                if !kernel.matrix_strided(&outs, &plan.chosen[..d], shards, stride, len) {
                    return Err(FecError::ShardLength);
                }
                r = 0;
            }
        }
        if r > 0 && !kernel.matrix_strided(&outs[..r], &plan.chosen[..d], shards, stride, len) {
            return Err(FecError::ShardLength);
        }
        Ok(())
    }

    /// The one-row-at-a-time rebuild, kept as a reference for tests.
    #[cfg(test)]
    fn reconstruct_data_strided_rowwise(
        &mut self,
        shards: &mut [u8],
        stride: usize,
        len: usize,
        present: &[bool],
    ) -> Result<(), FecError> {
        let Some(plan) = self.plan(present)? else {
            return Ok(());
        };
        let (kernel, d) = (self.kernel, self.data_shards);
        let inverse = self.cache.get(plan.key);
        for j in (0..d).filter(|&j| !present[j]) {
            let (before, rest) = shards.split_at_mut(j * stride);
            let (out, after) = rest.split_at_mut(stride.min(rest.len()));
            let out = &mut out[..len];
            let coefs = &inverse[j * d..(j + 1) * d];
            for (t, &i) in plan.chosen[..d].iter().enumerate() {
                let i = i as usize;
                let src = if i < j {
                    &before[i * stride..i * stride + len]
                } else {
                    let o = (i - j - 1) * stride;
                    &after[o..o + len]
                };
                apply(kernel, t == 0, coefs[t], src, out);
            }
        }
        Ok(())
    }

    /// Picks the first `d` present shards (as klauspost does) and makes sure
    /// the inverse for that choice is cached. `None`: no data is missing.
    fn plan(&mut self, present: &[bool]) -> Result<Option<Plan>, FecError> {
        let d = self.data_shards;
        if present[..d].iter().all(|&p| p) {
            return Ok(None);
        }
        let mut plan = Plan {
            key: [0; 4],
            chosen: [0; 256],
        };
        let mut count = 0;
        for (i, _) in present.iter().enumerate().filter(|(_, p)| **p) {
            if count == d {
                break;
            }
            plan.chosen[count] = i as u8;
            plan.key[i / 64] |= 1 << (i % 64);
            count += 1;
        }
        if count < d {
            return Err(FecError::TooFewShards {
                present: count,
                needed: d,
            });
        }
        if !self.cache.contains(plan.key) {
            let encoding = &self.encoding;
            let chosen = &plan.chosen[..d];
            // Any d rows of this matrix are independent (MDS), so this only
            // fails if that property were broken. No allocation once the
            // cache is full: the evicted entry's buffer is reused.
            let ok = self.cache.insert_with(plan.key, |work, out| {
                crate::matrix::invert_rows_into(encoding, chosen, work, out)
            });
            if !ok {
                return Err(FecError::TooFewShards {
                    present: count,
                    needed: d,
                });
            }
        }
        Ok(Some(plan))
    }
}

#[inline]
fn apply(kernel: Kernel, first: bool, c: u8, src: &[u8], dst: &mut [u8]) {
    if first {
        kernel.mul(c, src, dst);
    } else {
        kernel.mul_add(c, src, dst);
    }
}

fn check_strided(buf: usize, rows: usize, stride: usize, len: usize) -> Result<(), FecError> {
    if len > stride || buf < (rows - 1) * stride + len {
        return Err(FecError::ShardLength);
    }
    Ok(())
}

struct Plan {
    /// Bit set of the chosen input shards.
    key: [u64; 4],
    /// The chosen input shard indices, in order; first `d` are valid.
    chosen: [u8; 256],
}

/// Inverted decode matrices keyed by the set of input shards, bounded to
/// `capacity` entries with first-in-first-out replacement (evicted storage is
/// reused, so a steady erasure mix stops allocating).
#[derive(Clone, Debug)]
struct DecodeCache {
    capacity: usize,
    entries: Vec<([u64; 4], Vec<u8>)>,
    next: usize,
    /// Scratch for the elimination, reused by every insert.
    work: Vec<u8>,
}

/// A key no erasure pattern has (it would choose 256 shards: d + p <= 256
/// with p >= 1), marking a slot whose inversion failed.
const NO_KEY: [u64; 4] = [u64::MAX; 4];

impl DecodeCache {
    fn new(capacity: usize) -> Self {
        DecodeCache {
            capacity,
            entries: Vec::new(),
            next: 0,
            work: Vec::new(),
        }
    }

    fn contains(&self, key: [u64; 4]) -> bool {
        self.entries.iter().any(|(k, _)| *k == key)
    }

    fn get(&self, key: [u64; 4]) -> &[u8] {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// Fills a slot for `key` with `fill(work, value)`, first in first out;
    /// a full cache reuses the evicted slot's buffer. `false` (and no entry
    /// for `key`) if `fill` fails.
    fn insert_with(
        &mut self,
        key: [u64; 4],
        fill: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> bool,
    ) -> bool {
        let slot = if self.entries.len() < self.capacity {
            self.entries.push((NO_KEY, Vec::new()));
            self.entries.len() - 1
        } else {
            let s = self.next;
            self.next = (self.next + 1) % self.capacity;
            s
        };
        let (k, value) = &mut self.entries[slot];
        let ok = fill(&mut self.work, value);
        *k = if ok { key } else { NO_KEY };
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn rejects_bad_layouts() {
        assert!(ReedSolomon::new(0, 1).is_err());
        assert!(ReedSolomon::new(1, 0).is_err());
        assert!(ReedSolomon::new(200, 57).is_err());
        assert!(ReedSolomon::new(200, 56).is_ok());
    }

    #[test]
    fn strided_paths_match_rowwise_on_every_backend() {
        for (d, p) in [(10, 3), (4, 9), (1, 1), (20, 10), (40, 2)] {
            for len in [0usize, 1, 63, 64, 65, 1400] {
                let stride = len + 5;
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (d * 31 + len) as u64;
                let group: Vec<u8> = (0..(d + p) * stride)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let mut want = group.clone();
                let scalar = ReedSolomon::with_backend(d, p, Backend::Scalar).unwrap();
                // Reference parity: one data row at a time.
                {
                    let (data, parity) = want.split_at_mut(d * stride);
                    for i in 0..d {
                        let src = &data[i * stride..i * stride + len];
                        scalar.add_data_shard(i, i == 0, src, parity, stride);
                    }
                }
                // Lose up to p data rows (every other one from the front).
                let mut present = vec![true; d + p];
                for j in (0..d).step_by(2).take(p) {
                    present[j] = false;
                }
                for b in Backend::ALL.into_iter().filter(|b| b.is_available()) {
                    let mut rs = ReedSolomon::with_backend(d, p, b).unwrap();
                    let mut got = group.clone();
                    rs.encode_strided(&mut got, stride, len).unwrap();
                    for r in 0..d + p {
                        assert_eq!(
                            got[r * stride..r * stride + len],
                            want[r * stride..r * stride + len],
                            "encode {b} {d}+{p} len {len} row {r}"
                        );
                    }
                    let mut lost = got.clone();
                    let mut rowwise = got.clone();
                    for j in (0..d).filter(|&j| !present[j]) {
                        lost[j * stride..j * stride + len].fill(0xEE);
                        rowwise[j * stride..j * stride + len].fill(0xEE);
                    }
                    rs.reconstruct_data_strided(&mut lost, stride, len, &present)
                        .unwrap();
                    rs.reconstruct_data_strided_rowwise(&mut rowwise, stride, len, &present)
                        .unwrap();
                    assert_eq!(lost, got, "decode {b} {d}+{p} len {len}");
                    assert_eq!(rowwise, got, "rowwise decode {b} {d}+{p} len {len}");

                    // The slice-of-shards API: same parity, same rebuild.
                    let mut shards: Vec<Vec<u8>> = (0..d + p)
                        .map(|r| group[r * stride..r * stride + len].to_vec())
                        .collect();
                    {
                        let (data, parity) = shards.split_at_mut(d);
                        let data: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
                        let mut parity: Vec<&mut [u8]> =
                            parity.iter_mut().map(Vec::as_mut_slice).collect();
                        rs.encode(&data, &mut parity).unwrap();
                    }
                    for (r, s) in shards.iter().enumerate() {
                        assert_eq!(s[..], got[r * stride..r * stride + len], "slice encode {b}");
                    }
                    for j in (0..d).filter(|&j| !present[j]) {
                        shards[j].fill(0xEE);
                    }
                    let mut refs: Vec<&mut [u8]> =
                        shards.iter_mut().map(Vec::as_mut_slice).collect();
                    rs.reconstruct_data(&mut refs, &present).unwrap();
                    for (r, s) in shards.iter().enumerate() {
                        assert_eq!(s[..], got[r * stride..r * stride + len], "slice decode {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn cache_is_bounded() {
        let mut rs = ReedSolomon::with_backend(4, 4, Backend::Scalar).unwrap();
        let cap = rs.cache.capacity;
        let mut buf = vec![0u8; 8 * 4];
        // Every way of keeping 4 of 8 shards with some data lost.
        for mask in 0u32..256 {
            if mask.count_ones() != 4 {
                continue;
            }
            let present: Vec<bool> = (0..8).map(|i| mask & (1 << i) != 0).collect();
            rs.reconstruct_data_strided(&mut buf, 4, 4, &present)
                .unwrap();
            assert!(rs.cache.entries.len() <= cap);
        }
    }
}
