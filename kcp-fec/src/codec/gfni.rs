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
    let n = src.len();
    let mut mats = [_mm512_setzero_si512(); 8];
    for k in 0..rows {
        mats[k] = _mm512_set1_epi64(m[k] as i64);
    }
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY (all blocks below): src bytes i..i+64 (or the masked part
    // below n) are inside `src`; dst row k bytes k*stride+i.. likewise lie
    // inside `dst` by the caller's guarantee.
    while i + 64 <= n {
        unsafe {
            let x = _mm512_loadu_si512(s.add(i).cast());
            for (k, mat) in mats.iter().enumerate().take(rows) {
                let p = d.add(k * stride + i);
                let mut y = _mm512_gf2p8affine_epi64_epi8::<0>(x, *mat);
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
            for (k, mat) in mats.iter().enumerate().take(rows) {
                let p = d.add(k * stride + i);
                let mut y = _mm512_gf2p8affine_epi64_epi8::<0>(x, *mat);
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
