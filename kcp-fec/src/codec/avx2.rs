//! AVX2 split-table kernel: `c * x = lo[x & 15] ^ hi[x >> 4]`, each table
//! lookup one `VPSHUFB` over 32 bytes.

use core::arch::x86_64::*;

use super::padded_tail;
use crate::gf;

/// Proof that AVX2 is present.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token(());

impl Token {
    pub(crate) fn detect() -> Option<Self> {
        std::is_x86_feature_detected!("avx2").then_some(Token(()))
    }

    #[inline]
    pub(crate) fn run<const ACC: bool>(self, c: u8, src: &[u8], dst: &mut [u8]) {
        // SAFETY: the token exists only if AVX2 was detected; `kernel`
        // stays inside the slices.
        unsafe { kernel::<ACC>(&gf::NIBBLE[c as usize], src, dst) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn kernel<const ACC: bool>(tables: &[u8; 32], src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len());
    // SAFETY: `tables` is 32 bytes: two 16-byte loads.
    let (lo, hi) = unsafe {
        (
            _mm256_broadcastsi128_si256(_mm_loadu_si128(tables.as_ptr().cast())),
            _mm256_broadcastsi128_si256(_mm_loadu_si128(tables.as_ptr().add(16).cast())),
        )
    };
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    while i + 64 <= n {
        // SAFETY: bytes i..i+64 are inside both slices (i + 64 <= n).
        unsafe {
            step::<ACC>(lo, hi, s.add(i), d.add(i));
            step::<ACC>(lo, hi, s.add(i + 32), d.add(i + 32));
        }
        i += 64;
    }
    while i + 32 <= n {
        // SAFETY: bytes i..i+32 are inside both slices.
        unsafe { step::<ACC>(lo, hi, s.add(i), d.add(i)) };
        i += 32;
    }
    padded_tail::<32>(&src[i..n], &mut dst[i..n], |s, d| {
        // SAFETY: both arrays are exactly 32 bytes; AVX2 is enabled here.
        unsafe { step::<ACC>(lo, hi, s.as_ptr(), d.as_mut_ptr()) }
    });
}

/// One 32-byte step. Caller guarantees 32 readable bytes at `s` and 32
/// writable bytes at `d`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn step<const ACC: bool>(lo: __m256i, hi: __m256i, s: *const u8, d: *mut u8) {
    let mask = _mm256_set1_epi8(0x0F);
    // SAFETY: forwarded from the caller's guarantee above.
    unsafe {
        let x = _mm256_loadu_si256(s.cast());
        let l = _mm256_and_si256(x, mask);
        let h = _mm256_and_si256(_mm256_srli_epi64::<4>(x), mask);
        let mut y = _mm256_xor_si256(_mm256_shuffle_epi8(lo, l), _mm256_shuffle_epi8(hi, h));
        if ACC {
            y = _mm256_xor_si256(y, _mm256_loadu_si256(d.cast()));
        }
        _mm256_storeu_si256(d.cast(), y);
    }
}
