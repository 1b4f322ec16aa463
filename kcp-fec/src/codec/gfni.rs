//! GFNI kernels: `GF2P8AFFINEQB` multiplies 64 (or 32) bytes by a constant
//! in one instruction, given the constant's 8x8 bit matrix
//! ([`gf::AFFINE`](crate::gf::AFFINE)). The bit matrix is independent of the
//! reducing polynomial, so this matches the 0x11D field exactly.

use core::arch::x86_64::*;

use super::padded_tail;
use crate::gf;

/// Proof that GFNI, AVX-512F and AVX-512BW are present.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512Token(());

impl Avx512Token {
    pub(crate) fn detect() -> Option<Self> {
        (std::is_x86_feature_detected!("gfni")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw"))
        .then_some(Avx512Token(()))
    }

    #[inline]
    pub(crate) fn run<const ACC: bool>(self, c: u8, src: &[u8], dst: &mut [u8]) {
        // SAFETY: the token exists only if `detect` saw every feature the
        // function enables; `avx512` itself stays inside the slices.
        unsafe { avx512::<ACC>(gf::AFFINE[c as usize], src, dst) }
    }
}

impl Avx512Token {
    /// `dst[k * stride..][..src.len()] (^)= coefs[k] * src` for every `k`,
    /// loading each 64-byte block of `src` once for up to 8 rows.
    #[inline]
    pub(crate) fn run_rows<const ACC: bool>(
        self,
        coefs: &[u8],
        src: &[u8],
        dst: &mut [u8],
        stride: usize,
    ) {
        let n = src.len();
        for (b, block) in coefs.chunks(8).enumerate() {
            let base = b * 8 * stride;
            // Bounds checked here so the kernel can trust them.
            let last = base + (block.len() - 1) * stride + n;
            if n == 0 || n > stride || last > dst.len() {
                continue;
            }
            let mut m = [0u64; 8];
            for (mm, &c) in m.iter_mut().zip(block) {
                *mm = gf::AFFINE[c as usize];
            }
            // SAFETY: the token proves the features; rows base + k * stride
            // for k < block.len() each have n bytes inside `dst` (checked
            // above: the last one ends at `last <= dst.len()`, rows are
            // disjoint because n <= stride).
            unsafe { avx512_rows::<ACC>(&m, block.len(), src, &mut dst[base..], stride) }
        }
    }
}

/// Caller guarantees: `rows <= 8`, `src.len() <= stride`, and
/// `(rows - 1) * stride + src.len() <= dst.len()`.
#[target_feature(enable = "gfni,avx512f,avx512bw")]
unsafe fn avx512_rows<const ACC: bool>(
    m: &[u64; 8],
    rows: usize,
    src: &[u8],
    dst: &mut [u8],
    stride: usize,
) {
    // SAFETY: forwarded; the row count is a compile-time constant below so
    // the per-row loop unrolls.
    unsafe {
        match rows {
            1 => avx512_rows_n::<1, ACC>(m, src, dst, stride),
            2 => avx512_rows_n::<2, ACC>(m, src, dst, stride),
            3 => avx512_rows_n::<3, ACC>(m, src, dst, stride),
            4 => avx512_rows_n::<4, ACC>(m, src, dst, stride),
            5 => avx512_rows_n::<5, ACC>(m, src, dst, stride),
            6 => avx512_rows_n::<6, ACC>(m, src, dst, stride),
            7 => avx512_rows_n::<7, ACC>(m, src, dst, stride),
            8 => avx512_rows_n::<8, ACC>(m, src, dst, stride),
            _ => {}
        }
    }
}

/// [`avx512_rows`] for exactly `R` rows.
// Row `k` indexes both `mats` and the destination offset `k * stride`.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "gfni,avx512f,avx512bw")]
unsafe fn avx512_rows_n<const R: usize, const ACC: bool>(
    m: &[u64; 8],
    src: &[u8],
    dst: &mut [u8],
    stride: usize,
) {
    let n = src.len();
    let mut mats = [_mm512_setzero_si512(); R];
    for k in 0..R {
        mats[k] = _mm512_set1_epi64(m[k] as i64);
    }
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY (all blocks below): src bytes i..i+64 (or the masked part
    // below n) are inside `src`; dst row k bytes k*stride+i.. likewise lie
    // inside `dst` by the caller's guarantee (k < R = rows).
    while i + 128 <= n {
        unsafe {
            let x0 = _mm512_loadu_si512(s.add(i).cast());
            let x1 = _mm512_loadu_si512(s.add(i + 64).cast());
            for k in 0..R {
                let p = d.add(k * stride + i);
                let mut y0 = _mm512_gf2p8affine_epi64_epi8::<0>(x0, mats[k]);
                let mut y1 = _mm512_gf2p8affine_epi64_epi8::<0>(x1, mats[k]);
                if ACC {
                    y0 = _mm512_xor_si512(y0, _mm512_loadu_si512(p.cast()));
                    y1 = _mm512_xor_si512(y1, _mm512_loadu_si512(p.add(64).cast()));
                }
                _mm512_storeu_si512(p.cast(), y0);
                _mm512_storeu_si512(p.add(64).cast(), y1);
            }
        }
        i += 128;
    }
    while i + 64 <= n {
        unsafe {
            let x = _mm512_loadu_si512(s.add(i).cast());
            for k in 0..R {
                let p = d.add(k * stride + i);
                let mut y = _mm512_gf2p8affine_epi64_epi8::<0>(x, mats[k]);
                if ACC {
                    y = _mm512_xor_si512(y, _mm512_loadu_si512(p.cast()));
                }
                _mm512_storeu_si512(p.cast(), y);
            }
        }
        i += 64;
    }
    if i < n {
        let km: __mmask64 = (1u64 << (n - i)) - 1;
        unsafe {
            let x = _mm512_maskz_loadu_epi8(km, s.add(i).cast());
            for k in 0..R {
                let p = d.add(k * stride + i);
                let mut y = _mm512_gf2p8affine_epi64_epi8::<0>(x, mats[k]);
                if ACC {
                    y = _mm512_xor_si512(y, _mm512_maskz_loadu_epi8(km, p.cast()));
                }
                _mm512_mask_storeu_epi8(p.cast(), km, y);
            }
        }
    }
}

/// Proof that GFNI and AVX2 are present.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2Token(());

impl Avx2Token {
    pub(crate) fn detect() -> Option<Self> {
        (std::is_x86_feature_detected!("gfni") && std::is_x86_feature_detected!("avx2"))
            .then_some(Avx2Token(()))
    }

    #[inline]
    pub(crate) fn run<const ACC: bool>(self, c: u8, src: &[u8], dst: &mut [u8]) {
        // SAFETY: the token exists only if `detect` saw GFNI and AVX2;
        // `avx2` stays inside the slices.
        unsafe { avx2::<ACC>(gf::AFFINE[c as usize], src, dst) }
    }
}

impl Avx2Token {
    /// [`Avx512Token::run_rows`] on 256-bit registers.
    #[inline]
    pub(crate) fn run_rows<const ACC: bool>(
        self,
        coefs: &[u8],
        src: &[u8],
        dst: &mut [u8],
        stride: usize,
    ) {
        let n = src.len();
        for (b, block) in coefs.chunks(8).enumerate() {
            let base = b * 8 * stride;
            // Bounds checked here so the kernel can trust them.
            let last = base + (block.len() - 1) * stride + n;
            if n == 0 || n > stride || last > dst.len() {
                continue;
            }
            let mut m = [0u64; 8];
            for (mm, &c) in m.iter_mut().zip(block) {
                *mm = gf::AFFINE[c as usize];
            }
            // SAFETY: the token proves the features; rows base + k * stride
            // for k < block.len() each have n bytes inside `dst` (checked
            // above), disjoint because n <= stride.
            unsafe {
                match block.len() {
                    1 => avx2_rows_n::<1, ACC>(&m, src, &mut dst[base..], stride),
                    2 => avx2_rows_n::<2, ACC>(&m, src, &mut dst[base..], stride),
                    3 => avx2_rows_n::<3, ACC>(&m, src, &mut dst[base..], stride),
                    4 => avx2_rows_n::<4, ACC>(&m, src, &mut dst[base..], stride),
                    5 => avx2_rows_n::<5, ACC>(&m, src, &mut dst[base..], stride),
                    6 => avx2_rows_n::<6, ACC>(&m, src, &mut dst[base..], stride),
                    7 => avx2_rows_n::<7, ACC>(&m, src, &mut dst[base..], stride),
                    _ => avx2_rows_n::<8, ACC>(&m, src, &mut dst[base..], stride),
                }
            }
        }
    }
}

/// `dst[k * stride..][..src.len()] (^)= m[k] (x) src` for `k < R`, loading
/// each 32-byte block of `src` once.
///
/// Caller guarantees: `R <= 8`, `src.len() <= stride`, and
/// `(R - 1) * stride + src.len() <= dst.len()`.
// Row `k` indexes both `mats` and the destination offset `k * stride`.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "gfni,avx2")]
unsafe fn avx2_rows_n<const R: usize, const ACC: bool>(
    m: &[u64; 8],
    src: &[u8],
    dst: &mut [u8],
    stride: usize,
) {
    let n = src.len();
    let mut mats = [_mm256_setzero_si256(); R];
    for k in 0..R {
        mats[k] = _mm256_set1_epi64x(m[k] as i64);
    }
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY: src bytes i..i+32 are inside `src` (i + 32 <= n); row k bytes
    // k*stride+i..+32 are inside `dst` by the caller's guarantee.
    while i + 32 <= n {
        unsafe {
            let x = _mm256_loadu_si256(s.add(i).cast());
            for k in 0..R {
                let p = d.add(k * stride + i);
                let mut y = _mm256_gf2p8affine_epi64_epi8::<0>(x, mats[k]);
                if ACC {
                    y = _mm256_xor_si256(y, _mm256_loadu_si256(p.cast()));
                }
                _mm256_storeu_si256(p.cast(), y);
            }
        }
        i += 32;
    }
    if i < n {
        let rest = n - i;
        let mut x = [0u8; 32];
        x[..rest].copy_from_slice(&src[i..]);
        for k in 0..R {
            let row = &mut dst[k * stride + i..k * stride + n];
            let mut y = [0u8; 32];
            y[..rest].copy_from_slice(row);
            // SAFETY: both arrays are exactly 32 bytes.
            unsafe { step256::<ACC>(mats[k], x.as_ptr(), y.as_mut_ptr()) };
            row.copy_from_slice(&y[..rest]);
        }
    }
}

#[target_feature(enable = "gfni,avx512f,avx512bw")]
unsafe fn avx512<const ACC: bool>(matrix: u64, src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len());
    let m = _mm512_set1_epi64(matrix as i64);
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY (all blocks below): every access covers bytes i..i+64 (or the
    // masked prefix of i..n) with i + 64 <= n or the mask limited to n - i,
    // and n is at most the length of both slices. Unaligned loads/stores
    // are used throughout.
    while i + 256 <= n {
        unsafe {
            let x0 = _mm512_loadu_si512(s.add(i).cast());
            let x1 = _mm512_loadu_si512(s.add(i + 64).cast());
            let x2 = _mm512_loadu_si512(s.add(i + 128).cast());
            let x3 = _mm512_loadu_si512(s.add(i + 192).cast());
            let mut y0 = _mm512_gf2p8affine_epi64_epi8::<0>(x0, m);
            let mut y1 = _mm512_gf2p8affine_epi64_epi8::<0>(x1, m);
            let mut y2 = _mm512_gf2p8affine_epi64_epi8::<0>(x2, m);
            let mut y3 = _mm512_gf2p8affine_epi64_epi8::<0>(x3, m);
            if ACC {
                y0 = _mm512_xor_si512(y0, _mm512_loadu_si512(d.add(i).cast()));
                y1 = _mm512_xor_si512(y1, _mm512_loadu_si512(d.add(i + 64).cast()));
                y2 = _mm512_xor_si512(y2, _mm512_loadu_si512(d.add(i + 128).cast()));
                y3 = _mm512_xor_si512(y3, _mm512_loadu_si512(d.add(i + 192).cast()));
            }
            _mm512_storeu_si512(d.add(i).cast(), y0);
            _mm512_storeu_si512(d.add(i + 64).cast(), y1);
            _mm512_storeu_si512(d.add(i + 128).cast(), y2);
            _mm512_storeu_si512(d.add(i + 192).cast(), y3);
        }
        i += 256;
    }
    while i + 64 <= n {
        unsafe {
            let mut y = _mm512_gf2p8affine_epi64_epi8::<0>(_mm512_loadu_si512(s.add(i).cast()), m);
            if ACC {
                y = _mm512_xor_si512(y, _mm512_loadu_si512(d.add(i).cast()));
            }
            _mm512_storeu_si512(d.add(i).cast(), y);
        }
        i += 64;
    }
    if i < n {
        // Masked tail: lanes at or past n are neither read nor written.
        let k: __mmask64 = (1u64 << (n - i)) - 1;
        unsafe {
            let mut y =
                _mm512_gf2p8affine_epi64_epi8::<0>(_mm512_maskz_loadu_epi8(k, s.add(i).cast()), m);
            if ACC {
                y = _mm512_xor_si512(y, _mm512_maskz_loadu_epi8(k, d.add(i).cast()));
            }
            _mm512_mask_storeu_epi8(d.add(i).cast(), k, y);
        }
    }
}

#[target_feature(enable = "gfni,avx2")]
unsafe fn avx2<const ACC: bool>(matrix: u64, src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len());
    let m = _mm256_set1_epi64x(matrix as i64);
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY (all blocks below): every access covers bytes i..i+32 with
    // i + 32 <= n <= both slice lengths; unaligned loads/stores only.
    while i + 128 <= n {
        unsafe {
            let x0 = _mm256_loadu_si256(s.add(i).cast());
            let x1 = _mm256_loadu_si256(s.add(i + 32).cast());
            let x2 = _mm256_loadu_si256(s.add(i + 64).cast());
            let x3 = _mm256_loadu_si256(s.add(i + 96).cast());
            let mut y0 = _mm256_gf2p8affine_epi64_epi8::<0>(x0, m);
            let mut y1 = _mm256_gf2p8affine_epi64_epi8::<0>(x1, m);
            let mut y2 = _mm256_gf2p8affine_epi64_epi8::<0>(x2, m);
            let mut y3 = _mm256_gf2p8affine_epi64_epi8::<0>(x3, m);
            if ACC {
                y0 = _mm256_xor_si256(y0, _mm256_loadu_si256(d.add(i).cast()));
                y1 = _mm256_xor_si256(y1, _mm256_loadu_si256(d.add(i + 32).cast()));
                y2 = _mm256_xor_si256(y2, _mm256_loadu_si256(d.add(i + 64).cast()));
                y3 = _mm256_xor_si256(y3, _mm256_loadu_si256(d.add(i + 96).cast()));
            }
            _mm256_storeu_si256(d.add(i).cast(), y0);
            _mm256_storeu_si256(d.add(i + 32).cast(), y1);
            _mm256_storeu_si256(d.add(i + 64).cast(), y2);
            _mm256_storeu_si256(d.add(i + 96).cast(), y3);
        }
        i += 128;
    }
    while i + 32 <= n {
        unsafe { step256::<ACC>(m, s.add(i), d.add(i)) };
        i += 32;
    }
    padded_tail::<32>(&src[i..n], &mut dst[i..n], |s, d| {
        // SAFETY: both arrays are exactly 32 bytes; the features are
        // enabled for this whole function (and the closure inlined into it).
        unsafe { step256::<ACC>(m, s.as_ptr(), d.as_mut_ptr()) }
    });
}

/// One 32-byte step. Caller guarantees 32 readable bytes at `s` and 32
/// writable bytes at `d`.
#[target_feature(enable = "gfni,avx2")]
#[inline]
unsafe fn step256<const ACC: bool>(m: __m256i, s: *const u8, d: *mut u8) {
    // SAFETY: forwarded from the caller's guarantee above.
    unsafe {
        let mut y = _mm256_gf2p8affine_epi64_epi8::<0>(_mm256_loadu_si256(s.cast()), m);
        if ACC {
            y = _mm256_xor_si256(y, _mm256_loadu_si256(d.cast()));
        }
        _mm256_storeu_si256(d.cast(), y);
    }
}

/// Inputs per pass of the output-stationary kernel (bounds the stack copy of
/// the bit matrices to `8 * MATRIX_INPUTS` words).
const MATRIX_INPUTS: usize = 32;

impl Avx512Token {
    /// Output-stationary matrix multiply over the rows of one strided
    /// buffer: for every `(row, coefs)` in `outs`,
    /// `buf[row * stride..][..len] = sum_t coefs[t] * buf[ins[t] * stride..][..len]`.
    ///
    /// Each 64-byte column of every input is loaded once and folded into up
    /// to 8 accumulators held in registers; each output column is stored
    /// once. Returns `false` (touching nothing) if the arguments are not a
    /// valid layout: `len > stride`, a row out of bounds, an output row that
    /// is also an input or repeated, `outs.len() > 8`, or a coefficient row
    /// shorter than `ins`.
    pub(crate) fn matrix_strided(
        self,
        outs: &[(usize, &[u8])],
        ins: &[u8],
        buf: &mut [u8],
        stride: usize,
        len: usize,
    ) -> bool {
        // SAFETY: the token proves GFNI + AVX-512F/BW, all `matrix512_any`
        // needs beyond the driver's own guarantees.
        unsafe { strided_driver(outs, ins, buf, stride, len, matrix512_any) }
    }

    /// [`matrix_strided`](Self::matrix_strided) over separate shards:
    /// `shards[row][..len] = sum_t coefs[t] * shards[ins[t]][..len]`.
    pub(crate) fn matrix_shards(
        self,
        outs: &[(usize, &[u8])],
        ins: &[u8],
        shards: &mut [&mut [u8]],
        len: usize,
    ) -> bool {
        // SAFETY: as above.
        unsafe { shards_driver(outs, ins, shards, len, matrix512_any) }
    }

    /// `parity[k][..len] = sum_t coefs[k][t] * data[t][..len]` for every `k`
    /// (`coefs.len() == parity.len() <= 8`).
    pub(crate) fn matrix_split(
        self,
        coefs: &[&[u8]],
        data: &[&[u8]],
        parity: &mut [&mut [u8]],
        len: usize,
    ) -> bool {
        // SAFETY: as above.
        unsafe { split_driver(coefs, data, parity, len, matrix512_any) }
    }
}

impl Avx2Token {
    /// [`Avx512Token::matrix_strided`] on 256-bit registers.
    pub(crate) fn matrix_strided(
        self,
        outs: &[(usize, &[u8])],
        ins: &[u8],
        buf: &mut [u8],
        stride: usize,
        len: usize,
    ) -> bool {
        // SAFETY: the token proves GFNI + AVX2, all `matrix256_any` needs
        // beyond the driver's own guarantees.
        unsafe { strided_driver(outs, ins, buf, stride, len, matrix256_any) }
    }

    /// [`Avx512Token::matrix_shards`] on 256-bit registers.
    pub(crate) fn matrix_shards(
        self,
        outs: &[(usize, &[u8])],
        ins: &[u8],
        shards: &mut [&mut [u8]],
        len: usize,
    ) -> bool {
        // SAFETY: as above.
        unsafe { shards_driver(outs, ins, shards, len, matrix256_any) }
    }

    /// [`Avx512Token::matrix_split`] on 256-bit registers.
    pub(crate) fn matrix_split(
        self,
        coefs: &[&[u8]],
        data: &[&[u8]],
        parity: &mut [&mut [u8]],
        len: usize,
    ) -> bool {
        // SAFETY: as above.
        unsafe { split_driver(coefs, data, parity, len, matrix256_any) }
    }
}

/// A matrix kernel: `(mats, ins, outs, len, first)`, see [`matrix512`].
type MatrixKernel = unsafe fn(&[u64], &[*const u8], &[*mut u8], usize, bool);

/// Output rows distinct, not inputs, at most 8, coefficient rows covering
/// the inputs.
fn valid_rows(outs: &[(usize, &[u8])], ins: &[u8]) -> bool {
    outs.len() <= 8
        && outs.iter().enumerate().all(|(k, &(r, c))| {
            c.len() >= ins.len()
                && !ins.iter().any(|&i| i as usize == r)
                && !outs[..k].iter().any(|&(o, _)| o == r)
        })
}

/// Validates a strided matrix multiply and runs it.
///
/// # Safety
/// The CPU must support whatever `kernel` needs; given that, `kernel` must
/// be sound for the contract documented on [`matrix512`].
unsafe fn strided_driver(
    outs: &[(usize, &[u8])],
    ins: &[u8],
    buf: &mut [u8],
    stride: usize,
    len: usize,
    kernel: MatrixKernel,
) -> bool {
    let fits = |r: usize| {
        r.checked_mul(stride)
            .and_then(|o| o.checked_add(len))
            .is_some_and(|end| end <= buf.len())
    };
    let valid = len <= stride
        && valid_rows(outs, ins)
        && ins.iter().all(|&r| fits(r as usize))
        && outs.iter().all(|&(r, _)| fits(r));
    if !valid {
        return false;
    }
    let base = buf.as_mut_ptr();
    let mut out_ptrs = [core::ptr::null_mut::<u8>(); 8];
    let mut coefs: [&[u8]; 8] = [&[]; 8];
    for ((p, c), &(r, row)) in out_ptrs.iter_mut().zip(&mut coefs).zip(outs) {
        // SAFETY: `fits(r)` checked r * stride + len <= buf.len().
        *p = unsafe { base.add(r * stride) };
        *c = row;
    }
    // SAFETY: every pointer has `len` bytes inside `buf` (`fits`); output
    // rows are distinct and not inputs and `len <= stride`, so no output
    // range overlaps another output or an input. `buf` is not used through a
    // reference while the kernel runs. Features: the caller's promise.
    unsafe {
        run_matrix(
            &coefs[..outs.len()],
            &out_ptrs[..outs.len()],
            ins.len(),
            |t| base.add(ins[t] as usize * stride).cast_const(),
            len,
            kernel,
        )
    };
    true
}

/// Validates a matrix multiply over separate shards and runs it.
///
/// # Safety
/// As [`strided_driver`].
unsafe fn shards_driver(
    outs: &[(usize, &[u8])],
    ins: &[u8],
    shards: &mut [&mut [u8]],
    len: usize,
    kernel: MatrixKernel,
) -> bool {
    let fits = |r: usize| shards.get(r).is_some_and(|s| s.len() >= len);
    let valid = ins.len() <= 256
        && valid_rows(outs, ins)
        && ins.iter().all(|&r| fits(r as usize))
        && outs.iter().all(|&(r, _)| fits(r));
    if !valid {
        return false;
    }
    let mut out_ptrs = [core::ptr::null_mut::<u8>(); 8];
    let mut coefs: [&[u8]; 8] = [&[]; 8];
    for ((p, c), &(r, row)) in out_ptrs.iter_mut().zip(&mut coefs).zip(outs) {
        *p = shards[r].as_mut_ptr();
        *c = row;
    }
    let mut in_ptrs = [core::ptr::null::<u8>(); 256];
    for (p, &i) in in_ptrs.iter_mut().zip(ins) {
        *p = shards[i as usize].as_ptr();
    }
    // SAFETY: each shard is its own `&mut [u8]`, so distinct rows never
    // overlap; every pointer has `len` bytes (`fits`); output rows are
    // distinct and not inputs. `shards` is not used while the kernel runs.
    unsafe {
        run_matrix(
            &coefs[..outs.len()],
            &out_ptrs[..outs.len()],
            ins.len(),
            |t| in_ptrs[t],
            len,
            kernel,
        )
    };
    true
}

/// Validates a matrix multiply from `data` into `parity` and runs it.
///
/// # Safety
/// As [`strided_driver`].
unsafe fn split_driver(
    coefs: &[&[u8]],
    data: &[&[u8]],
    parity: &mut [&mut [u8]],
    len: usize,
    kernel: MatrixKernel,
) -> bool {
    let valid = coefs.len() == parity.len()
        && parity.len() <= 8
        && coefs.iter().all(|c| c.len() >= data.len())
        && data.iter().all(|s| s.len() >= len)
        && parity.iter().all(|s| s.len() >= len);
    if !valid {
        return false;
    }
    let mut out_ptrs = [core::ptr::null_mut::<u8>(); 8];
    for (p, s) in out_ptrs.iter_mut().zip(parity.iter_mut()) {
        *p = s.as_mut_ptr();
    }
    // SAFETY: `data` is shared and `parity` exclusive, so no output overlaps
    // an input, and the `&mut` outputs are disjoint; every slice has `len`
    // bytes. `parity` is not used while the kernel runs.
    unsafe {
        run_matrix(
            coefs,
            &out_ptrs[..parity.len()],
            data.len(),
            |t| data[t].as_ptr(),
            len,
            kernel,
        )
    };
    true
}

/// `outs[k][..len] = sum_t coefs[k][t] * in_ptr(t)[..len]`, in passes of at
/// most [`MATRIX_INPUTS`] inputs.
///
/// # Safety
/// `coefs.len() == outs.len() <= 8`, each `coefs[k]` has at least `n_in`
/// entries, `in_ptr(t)` is readable and each `outs[k]` writable for `len`
/// bytes, no output range overlaps another output or an input, and the CPU
/// supports `kernel`, which must be sound for [`matrix512`]'s contract.
unsafe fn run_matrix(
    coefs: &[&[u8]],
    outs: &[*mut u8],
    n_in: usize,
    in_ptr: impl Fn(usize) -> *const u8,
    len: usize,
    kernel: MatrixKernel,
) {
    let r = outs.len();
    if len == 0 || r == 0 {
        return;
    }
    let mut first = true;
    let mut t0 = 0;
    loop {
        let n = (n_in - t0).min(MATRIX_INPUTS);
        let mut in_ptrs = [core::ptr::null::<u8>(); MATRIX_INPUTS];
        for (t, p) in in_ptrs[..n].iter_mut().enumerate() {
            *p = in_ptr(t0 + t);
        }
        // Matrices laid out input-major: mats[t * r + k].
        let mut mats = [0u64; 8 * MATRIX_INPUTS];
        for t in 0..n {
            for (k, c) in coefs.iter().enumerate() {
                mats[t * r + k] = gf::AFFINE[c[t0 + t] as usize];
            }
        }
        // SAFETY: the caller's guarantees, passed on.
        unsafe { kernel(&mats, &in_ptrs[..n], outs, len, first) };
        first = false;
        t0 += n;
        if t0 >= n_in {
            break;
        }
    }
}

/// Dispatches [`matrix512`] on the output count (1..=8) and `first`.
///
/// # Safety
/// As [`matrix512`], plus the CPU supports GFNI and AVX-512F/BW.
unsafe fn matrix512_any(
    mats: &[u64],
    ins: &[*const u8],
    outs: &[*mut u8],
    len: usize,
    first: bool,
) {
    // SAFETY: forwarded.
    unsafe {
        match (outs.len(), first) {
            (1, true) => matrix512::<1, false>(mats, ins, outs, len),
            (2, true) => matrix512::<2, false>(mats, ins, outs, len),
            (3, true) => matrix512::<3, false>(mats, ins, outs, len),
            (4, true) => matrix512::<4, false>(mats, ins, outs, len),
            (5, true) => matrix512::<5, false>(mats, ins, outs, len),
            (6, true) => matrix512::<6, false>(mats, ins, outs, len),
            (7, true) => matrix512::<7, false>(mats, ins, outs, len),
            (8, true) => matrix512::<8, false>(mats, ins, outs, len),
            (1, false) => matrix512::<1, true>(mats, ins, outs, len),
            (2, false) => matrix512::<2, true>(mats, ins, outs, len),
            (3, false) => matrix512::<3, true>(mats, ins, outs, len),
            (4, false) => matrix512::<4, true>(mats, ins, outs, len),
            (5, false) => matrix512::<5, true>(mats, ins, outs, len),
            (6, false) => matrix512::<6, true>(mats, ins, outs, len),
            (7, false) => matrix512::<7, true>(mats, ins, outs, len),
            (8, false) => matrix512::<8, true>(mats, ins, outs, len),
            _ => {}
        }
    }
}

/// Dispatches [`matrix256`] on the output count (1..=8) and `first`.
///
/// # Safety
/// As [`matrix512`], plus the CPU supports GFNI and AVX2.
unsafe fn matrix256_any(
    mats: &[u64],
    ins: &[*const u8],
    outs: &[*mut u8],
    len: usize,
    first: bool,
) {
    // SAFETY: forwarded.
    unsafe {
        match (outs.len(), first) {
            (1, true) => matrix256::<1, false>(mats, ins, outs, len),
            (2, true) => matrix256::<2, false>(mats, ins, outs, len),
            (3, true) => matrix256::<3, false>(mats, ins, outs, len),
            (4, true) => matrix256::<4, false>(mats, ins, outs, len),
            (5, true) => matrix256::<5, false>(mats, ins, outs, len),
            (6, true) => matrix256::<6, false>(mats, ins, outs, len),
            (7, true) => matrix256::<7, false>(mats, ins, outs, len),
            (8, true) => matrix256::<8, false>(mats, ins, outs, len),
            (1, false) => matrix256::<1, true>(mats, ins, outs, len),
            (2, false) => matrix256::<2, true>(mats, ins, outs, len),
            (3, false) => matrix256::<3, true>(mats, ins, outs, len),
            (4, false) => matrix256::<4, true>(mats, ins, outs, len),
            (5, false) => matrix256::<5, true>(mats, ins, outs, len),
            (6, false) => matrix256::<6, true>(mats, ins, outs, len),
            (7, false) => matrix256::<7, true>(mats, ins, outs, len),
            (8, false) => matrix256::<8, true>(mats, ins, outs, len),
            _ => {}
        }
    }
}

/// [`matrix512`] on 256-bit registers; the last `len % 32` bytes go through
/// zero-padded stack copies (AVX2 has no masked byte loads).
///
/// Same contract as [`matrix512`] (`ins.len() <= MATRIX_INPUTS`).
#[target_feature(enable = "gfni,avx2")]
unsafe fn matrix256<const R: usize, const ACC: bool>(
    mats: &[u64],
    ins: &[*const u8],
    outs: &[*mut u8],
    len: usize,
) {
    let n = ins.len();
    let mats = &mats[..n * R];
    let outs: &[*mut u8; R] = outs.try_into().expect("R outputs");
    let mut i = 0;
    // SAFETY: bytes i..i+32 of every input and output are inside the ranges
    // the caller guaranteed (i + 32 <= len).
    while i + 32 <= len {
        unsafe {
            let mut acc = [_mm256_setzero_si256(); R];
            if ACC {
                for k in 0..R {
                    acc[k] = _mm256_loadu_si256(outs[k].add(i).cast());
                }
            }
            for (t, &src) in ins.iter().enumerate() {
                let x = _mm256_loadu_si256(src.add(i).cast());
                let m = &mats[t * R..t * R + R];
                for k in 0..R {
                    let y = _mm256_gf2p8affine_epi64_epi8::<0>(x, _mm256_set1_epi64x(m[k] as i64));
                    acc[k] = _mm256_xor_si256(acc[k], y);
                }
            }
            for k in 0..R {
                _mm256_storeu_si256(outs[k].add(i).cast(), acc[k]);
            }
        }
        i += 32;
    }
    let rest = len - i;
    if rest > 0 {
        let mut acc = [[0u8; 32]; R];
        if ACC {
            for k in 0..R {
                // SAFETY: `rest` bytes from i are inside output k.
                unsafe {
                    core::ptr::copy_nonoverlapping(outs[k].add(i), acc[k].as_mut_ptr(), rest)
                };
            }
        }
        for (t, &src) in ins.iter().enumerate() {
            let mut x = [0u8; 32];
            // SAFETY: `rest` bytes from i are inside input t.
            unsafe { core::ptr::copy_nonoverlapping(src.add(i), x.as_mut_ptr(), rest) };
            for k in 0..R {
                // SAFETY: both arrays are 32 bytes.
                unsafe {
                    step256::<true>(
                        _mm256_set1_epi64x(mats[t * R + k] as i64),
                        x.as_ptr(),
                        acc[k].as_mut_ptr(),
                    )
                };
            }
        }
        for k in 0..R {
            // SAFETY: `rest` bytes from i are inside output k, which overlaps
            // no input and no other output.
            unsafe { core::ptr::copy_nonoverlapping(acc[k].as_ptr(), outs[k].add(i), rest) };
        }
    }
}

/// `outs[k][..len] (^)= sum_t mats[t * R + k] (x) ins[t][..len]`, where
/// `(x)` is `GF2P8AFFINEQB` with that bit matrix; `^=` when `ACC`.
///
/// Caller guarantees: `outs.len() == R <= 8`, `mats.len() >= ins.len() * R`
/// (`mats[t * R + k]` is the bit matrix of input `t` for output `k`),
/// every `ins[t]` readable and every `outs[k]` writable for `len` bytes, and
/// no output range overlapping another output or any input.
#[target_feature(enable = "gfni,avx512f,avx512bw")]
unsafe fn matrix512<const R: usize, const ACC: bool>(
    mats: &[u64],
    ins: &[*const u8],
    outs: &[*mut u8],
    len: usize,
) {
    let n = ins.len();
    let mats = &mats[..n * R];
    let outs: &[*mut u8; R] = outs.try_into().expect("R outputs");
    let mut i = 0;
    // SAFETY (both blocks): bytes i..i+64 (or the masked part below len) of
    // every input and output are inside the ranges the caller guaranteed.
    while i + 64 <= len {
        unsafe {
            let mut acc = [_mm512_setzero_si512(); R];
            if ACC {
                for k in 0..R {
                    acc[k] = _mm512_loadu_si512(outs[k].add(i).cast());
                }
            }
            for (t, &src) in ins.iter().enumerate() {
                let x = _mm512_loadu_si512(src.add(i).cast());
                let m = &mats[t * R..t * R + R];
                for k in 0..R {
                    let y = _mm512_gf2p8affine_epi64_epi8::<0>(x, _mm512_set1_epi64(m[k] as i64));
                    acc[k] = _mm512_xor_si512(acc[k], y);
                }
            }
            for k in 0..R {
                _mm512_storeu_si512(outs[k].add(i).cast(), acc[k]);
            }
        }
        i += 64;
    }
    if i < len {
        let km: __mmask64 = (1u64 << (len - i)) - 1;
        unsafe {
            let mut acc = [_mm512_setzero_si512(); R];
            if ACC {
                for k in 0..R {
                    acc[k] = _mm512_maskz_loadu_epi8(km, outs[k].add(i).cast());
                }
            }
            for (t, &src) in ins.iter().enumerate() {
                let x = _mm512_maskz_loadu_epi8(km, src.add(i).cast());
                let m = &mats[t * R..t * R + R];
                for k in 0..R {
                    let y = _mm512_gf2p8affine_epi64_epi8::<0>(x, _mm512_set1_epi64(m[k] as i64));
                    acc[k] = _mm512_xor_si512(acc[k], y);
                }
            }
            for k in 0..R {
                _mm512_mask_storeu_epi8(outs[k].add(i).cast(), km, acc[k]);
            }
        }
    }
}
