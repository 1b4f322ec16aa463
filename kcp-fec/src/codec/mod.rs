//! GF(2^8) multiply(-accumulate) kernels and their run-time selection.
//!
//! Every kernel computes `dst[i] (^)= c * src[i]` over equal-length slices;
//! the Reed-Solomon layer builds encoding and reconstruction out of that
//! operation. The GFNI kernels also provide a fused matrix form
//! ([`Kernel::matrix_strided`]): all inputs of a 64-byte (or 32-byte) column
//! are folded into up to 8 output accumulators held in registers and each
//! output column is stored once, which is what whole-group encode and
//! reconstruct use. The SIMD kernels live in their own modules, the only
//! places in the crate with `unsafe`; each is reachable only through a
//! zero-sized token that proves the CPU features were detected.

mod scalar;

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod gfni;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod ssse3;

use core::fmt;

/// Which GF(2^8) kernel a codec uses.
///
/// [`Backend::detect`] picks the fastest one the CPU supports; the others
/// exist so benchmarks and tests can compare every path against
/// [`Backend::Scalar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable table-driven code; always available.
    Scalar,
    /// x86-64 SSSE3 split-table `PSHUFB` kernel (16 bytes per step).
    Ssse3,
    /// x86-64 AVX2 split-table `VPSHUFB` kernel (32 bytes per step).
    Avx2,
    /// x86-64 GFNI `GF2P8AFFINEQB` on 256-bit AVX registers.
    GfniAvx2,
    /// x86-64 GFNI `GF2P8AFFINEQB` on 512-bit AVX-512 registers.
    GfniAvx512,
    /// AArch64 NEON `TBL` split-table kernel.
    Neon,
}

impl Backend {
    /// Every backend, fastest first.
    pub const ALL: [Backend; 6] = [
        Backend::GfniAvx512,
        Backend::GfniAvx2,
        Backend::Avx2,
        Backend::Neon,
        Backend::Ssse3,
        Backend::Scalar,
    ];

    /// The fastest backend this CPU supports (scalar without the `std`
    /// feature on x86-64, since feature detection needs `std`).
    ///
    /// ```
    /// let b = kcp_fec::Backend::detect();
    /// assert!(b.is_available());
    /// ```
    pub fn detect() -> Backend {
        Self::ALL
            .into_iter()
            .find(|b| b.is_available())
            .unwrap_or(Backend::Scalar)
    }

    /// Whether this backend can run on this CPU.
    pub fn is_available(self) -> bool {
        Kernel::new(self).is_some()
    }

    /// Short lower-case name, used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Ssse3 => "ssse3",
            Backend::Avx2 => "avx2",
            Backend::GfniAvx2 => "gfni_avx2",
            Backend::GfniAvx512 => "gfni_avx512",
            Backend::Neon => "neon",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend whose CPU features have been checked.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kernel {
    Scalar,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Ssse3(ssse3::Token),
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx2(avx2::Token),
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    GfniAvx2(gfni::Avx2Token),
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    GfniAvx512(gfni::Avx512Token),
    #[cfg(target_arch = "aarch64")]
    Neon(neon::Token),
}

impl Kernel {
    /// The kernel for `backend`, or `None` when the CPU lacks its features.
    pub(crate) fn new(backend: Backend) -> Option<Kernel> {
        match backend {
            Backend::Scalar => Some(Kernel::Scalar),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::Ssse3 => ssse3::Token::detect().map(Kernel::Ssse3),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::Avx2 => avx2::Token::detect().map(Kernel::Avx2),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::GfniAvx2 => gfni::Avx2Token::detect().map(Kernel::GfniAvx2),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Backend::GfniAvx512 => gfni::Avx512Token::detect().map(Kernel::GfniAvx512),
            #[cfg(target_arch = "aarch64")]
            Backend::Neon => neon::Token::detect().map(Kernel::Neon),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    pub(crate) fn backend(self) -> Backend {
        match self {
            Kernel::Scalar => Backend::Scalar,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Ssse3(_) => Backend::Ssse3,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Avx2(_) => Backend::Avx2,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx2(_) => Backend::GfniAvx2,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx512(_) => Backend::GfniAvx512,
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon(_) => Backend::Neon,
        }
    }

    /// `dst[i] ^= c * src[i]` for `i < min(src.len(), dst.len())`.
    #[inline]
    pub(crate) fn mul_add(self, c: u8, src: &[u8], dst: &mut [u8]) {
        self.run::<true>(c, src, dst)
    }

    /// `dst[i] = c * src[i]` for `i < min(src.len(), dst.len())`.
    #[inline]
    pub(crate) fn mul(self, c: u8, src: &[u8], dst: &mut [u8]) {
        self.run::<false>(c, src, dst)
    }

    /// For every `k < coefs.len()`:
    /// `dst[k * stride..][..src.len()] (^)= coefs[k] * src` (`=` when
    /// `first`). Requires `src.len() <= stride` and room for every row.
    pub(crate) fn mul_rows(
        self,
        first: bool,
        coefs: &[u8],
        src: &[u8],
        dst: &mut [u8],
        stride: usize,
    ) {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        match self {
            Kernel::GfniAvx512(t) => {
                if first {
                    t.run_rows::<false>(coefs, src, dst, stride);
                } else {
                    t.run_rows::<true>(coefs, src, dst, stride);
                }
                return;
            }
            Kernel::GfniAvx2(t) => {
                if first {
                    t.run_rows::<false>(coefs, src, dst, stride);
                } else {
                    t.run_rows::<true>(coefs, src, dst, stride);
                }
                return;
            }
            _ => {}
        }
        for (k, &c) in coefs.iter().enumerate() {
            let row = &mut dst[k * stride..k * stride + src.len()];
            if first {
                self.mul(c, src, row);
            } else {
                self.mul_add(c, src, row);
            }
        }
    }

    /// Matrix multiply over the rows of one strided buffer: for every
    /// `(row, coefs)` in `outs`,
    /// `buf[row * stride..][..len] = sum_t coefs[t] * buf[ins[t] * stride..][..len]`.
    ///
    /// Returns `false` (and may have written nothing or some outputs) unless
    /// `len <= stride`, every row is inside `buf`, every coefficient row
    /// covers `ins`, and the output rows are distinct and not inputs.
    /// The GFNI kernels run output-stationary (each input column loaded
    /// once per 8 outputs, each output column stored once); the others
    /// accumulate one input row at a time.
    pub(crate) fn matrix_strided(
        self,
        outs: &[(usize, &[u8])],
        ins: &[u8],
        buf: &mut [u8],
        stride: usize,
        len: usize,
    ) -> bool {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        match self {
            Kernel::GfniAvx512(t) => {
                return outs
                    .chunks(8)
                    .all(|chunk| t.matrix_strided(chunk, ins, buf, stride, len));
            }
            Kernel::GfniAvx2(t) => {
                return outs
                    .chunks(8)
                    .all(|chunk| t.matrix_strided(chunk, ins, buf, stride, len));
            }
            _ => {}
        }
        let fits = |r: usize| {
            r.checked_mul(stride)
                .and_then(|o| o.checked_add(len))
                .is_some_and(|end| end <= buf.len())
        };
        let valid = len <= stride
            && ins.iter().all(|&r| fits(r as usize))
            && outs.iter().enumerate().all(|(k, &(r, c))| {
                fits(r)
                    && c.len() >= ins.len()
                    && !ins.iter().any(|&i| i as usize == r)
                    && !outs[..k].iter().any(|&(o, _)| o == r)
            });
        if !valid {
            return false;
        }
        for &(r, coefs) in outs {
            for (t, &i) in ins.iter().enumerate() {
                let (src, dst) = src_dst(buf, i as usize * stride, r * stride, len);
                if t == 0 {
                    self.mul(coefs[t], src, dst);
                } else {
                    self.mul_add(coefs[t], src, dst);
                }
            }
            if ins.is_empty() {
                buf[r * stride..r * stride + len].fill(0);
            }
        }
        true
    }

    /// [`matrix_strided`](Self::matrix_strided) over separate shards
    /// (`shards[row][..len] = sum_t coefs[t] * shards[ins[t]][..len]`), on
    /// the GFNI kernels only: `false` means not done (other kernel, or an
    /// invalid layout), and the caller runs its row-at-a-time loop.
    pub(crate) fn matrix_shards(
        self,
        outs: &[(usize, &[u8])],
        ins: &[u8],
        shards: &mut [&mut [u8]],
        len: usize,
    ) -> bool {
        match self {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx512(t) => outs
                .chunks(8)
                .all(|chunk| t.matrix_shards(chunk, ins, shards, len)),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx2(t) => outs
                .chunks(8)
                .all(|chunk| t.matrix_shards(chunk, ins, shards, len)),
            _ => {
                let _ = (outs, ins, shards, len);
                false
            }
        }
    }

    /// `parity[k][..len] = sum_t coefs[k][t] * data[t][..len]`, on the GFNI
    /// kernels only (`false`: not done, as for
    /// [`matrix_shards`](Self::matrix_shards)).
    pub(crate) fn matrix_split(
        self,
        coefs: &[&[u8]],
        data: &[&[u8]],
        parity: &mut [&mut [u8]],
        len: usize,
    ) -> bool {
        if coefs.len() != parity.len() {
            return false;
        }
        match self {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx512(t) => coefs
                .chunks(8)
                .zip(parity.chunks_mut(8))
                .all(|(c, p)| t.matrix_split(c, data, p, len)),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx2(t) => coefs
                .chunks(8)
                .zip(parity.chunks_mut(8))
                .all(|(c, p)| t.matrix_split(c, data, p, len)),
            _ => {
                let _ = (data, len);
                false
            }
        }
    }

    #[inline]
    fn run<const ACC: bool>(self, c: u8, src: &[u8], dst: &mut [u8]) {
        let n = src.len().min(dst.len());
        let (src, dst) = (&src[..n], &mut dst[..n]);
        // c = 0 and c = 1 are common (parity row 0 is all ones) and need no
        // multiplication at all.
        match c {
            0 => {
                if !ACC {
                    dst.fill(0);
                }
                return;
            }
            1 => {
                if ACC {
                    scalar::xor(src, dst);
                } else {
                    dst.copy_from_slice(src);
                }
                return;
            }
            _ => {}
        }
        match self {
            Kernel::Scalar => scalar::run::<ACC>(c, src, dst),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Ssse3(t) => t.run::<ACC>(c, src, dst),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::Avx2(t) => t.run::<ACC>(c, src, dst),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx2(t) => t.run::<ACC>(c, src, dst),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kernel::GfniAvx512(t) => t.run::<ACC>(c, src, dst),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon(t) => t.run::<ACC>(c, src, dst),
        }
    }
}

/// Two disjoint `len`-byte ranges of `buf`, at `src` and `dst`.
fn src_dst(buf: &mut [u8], src: usize, dst: usize, len: usize) -> (&[u8], &mut [u8]) {
    if src < dst {
        let (a, b) = buf.split_at_mut(dst);
        (&a[src..src + len], &mut b[..len])
    } else {
        let (a, b) = buf.split_at_mut(src);
        (&b[..len], &mut a[dst..dst + len])
    }
}

/// Runs a fixed-width SIMD step on the last `src.len() < W` bytes by going
/// through zero-padded stack copies, so kernels never read past a slice.
#[cfg_attr(
    not(any(all(feature = "std", target_arch = "x86_64"), target_arch = "aarch64")),
    allow(dead_code)
)]
#[inline]
pub(crate) fn padded_tail<const W: usize>(
    src: &[u8],
    dst: &mut [u8],
    step: impl FnOnce(&[u8; W], &mut [u8; W]),
) {
    let n = src.len();
    debug_assert!(n < W && n == dst.len());
    if n == 0 {
        return;
    }
    let mut s = [0u8; W];
    let mut d = [0u8; W];
    s[..n].copy_from_slice(src);
    d[..n].copy_from_slice(dst);
    step(&s, &mut d);
    dst.copy_from_slice(&d[..n]);
}

#[cfg(test)]
mod tests {

    #[test]
    fn backend_names_are_distinct_lower_case_and_displayed() {
        extern crate alloc;
        use alloc::string::ToString;
        let names = Backend::ALL.map(Backend::name);
        assert_eq!(
            names,
            [
                "gfni_avx512",
                "gfni_avx2",
                "avx2",
                "neon",
                "ssse3",
                "scalar"
            ]
        );
        for b in Backend::ALL {
            assert_eq!(b.to_string(), b.name());
        }
    }

    use super::*;
    use crate::gf;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn reference<const ACC: bool>(c: u8, src: &[u8], dst: &mut [u8]) {
        for (d, s) in dst.iter_mut().zip(src) {
            let p = gf::mul(c, *s);
            *d = if ACC { *d ^ p } else { p };
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn every_backend_matches_reference(
            c in any::<u8>(),
            src in proptest::collection::vec(any::<u8>(), 0..700),
            seed in any::<u8>(),
            offset in 0usize..64,
        ) {
            let n = src.len();
            let src = &src[offset.min(n)..];
            let dst0: Vec<u8> = (0..src.len()).map(|i| (i as u8).wrapping_mul(seed) ^ 0x5A).collect();
            let mut want_acc = dst0.clone();
            reference::<true>(c, src, &mut want_acc);
            let mut want_mul = dst0.clone();
            reference::<false>(c, src, &mut want_mul);
            for b in Backend::ALL {
                let Some(k) = Kernel::new(b) else { continue };
                let mut got = dst0.clone();
                k.mul_add(c, src, &mut got);
                prop_assert_eq!(&got, &want_acc, "mul_add on {}", b);
                let mut got = dst0.clone();
                k.mul(c, src, &mut got);
                prop_assert_eq!(&got, &want_mul, "mul on {}", b);
                // Multi-row form: ten rows (two passes of at most 8) with
                // coefficients including c, 0 and 1.
                let coefs = [c, c ^ 1, 0, 1, c.wrapping_add(3), 7, 9, 200, 13, c];
                let stride = src.len() + 3;
                let mut rows = vec![0x77u8; coefs.len() * stride];
                k.mul_rows(false, &coefs, src, &mut rows, stride);
                for (r, &cr) in coefs.iter().enumerate() {
                    let mut want = vec![0x77u8; src.len()];
                    reference::<true>(cr, src, &mut want);
                    prop_assert_eq!(&rows[r * stride..r * stride + src.len()], &want[..], "mul_rows on {}", b);
                }
                k.mul_rows(true, &coefs, src, &mut rows, stride);
                for (r, &cr) in coefs.iter().enumerate() {
                    let mut want = vec![0u8; src.len()];
                    reference::<false>(cr, src, &mut want);
                    prop_assert_eq!(&rows[r * stride..r * stride + src.len()], &want[..], "mul_rows first on {}", b);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        /// The matrix form (output-stationary on GFNI/AVX-512) against the
        /// reference, with up to 10 outputs (more than one 8-row pass) and
        /// up to 40 inputs (more than one 32-input pass).
        #[test]
        fn matrix_strided_matches_reference(
            n_in in 0usize..40,
            n_out in 1usize..11,
            len in 0usize..300,
            pad in 0usize..70,
            seed in any::<u64>(),
        ) {
            let stride = len + pad;
            let rows = n_in + n_out;
            let mut x = seed | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            };
            let buf0: Vec<u8> = (0..rows * stride + 3).map(|_| next()).collect();
            // Interleave outputs among inputs: row order shuffled by seed.
            let mut order: Vec<usize> = (0..rows).collect();
            for i in (1..rows).rev() {
                let j = next() as usize % (i + 1);
                order.swap(i, j);
            }
            let ins: Vec<u8> = order[..n_in].iter().map(|&r| r as u8).collect();
            let out_rows = &order[n_in..];
            let coefs: Vec<Vec<u8>> = (0..n_out)
                .map(|k| (0..n_in).map(|t| match (k + t) % 5 { 0 => 0, 1 => 1, _ => next() }).collect())
                .collect();
            let outs: Vec<(usize, &[u8])> = out_rows.iter().zip(&coefs).map(|(&r, c)| (r, c.as_slice())).collect();
            let mut want = buf0.clone();
            for &(r, c) in &outs {
                let mut acc = vec![0u8; len];
                for (t, &i) in ins.iter().enumerate() {
                    let i = i as usize;
                    let src = buf0[i * stride..i * stride + len].to_vec();
                    reference::<true>(c[t], &src, &mut acc);
                }
                want[r * stride..r * stride + len].copy_from_slice(&acc);
            }
            for b in Backend::ALL {
                let Some(k) = Kernel::new(b) else { continue };
                let mut got = buf0.clone();
                prop_assert!(k.matrix_strided(&outs, &ins, &mut got, stride, len));
                prop_assert_eq!(&got, &want, "matrix_strided on {}", b);
                // Invalid layouts are refused untouched.
                if n_in > 0 {
                    let bad = [(ins[0] as usize, coefs[0].as_slice())];
                    let mut got = buf0.clone();
                    prop_assert!(!k.matrix_strided(&bad, &ins, &mut got, stride, len));
                    prop_assert_eq!(&got, &buf0);
                }
            }
        }
    }

    #[test]
    fn detect_is_available() {
        assert!(Backend::detect().is_available());
        assert!(Backend::Scalar.is_available());
        assert_eq!(
            Kernel::new(Backend::detect()).unwrap().backend(),
            Backend::detect()
        );
    }
}
