//! SSSE3 split-table kernel: `c * x = lo[x & 15] ^ hi[x >> 4]`, each table
//! lookup one `PSHUFB` over 16 bytes.

use core::arch::x86_64::*;

use super::padded_tail;
use crate::gf;

/// Proof that SSSE3 is present.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token(());

impl Token {
    pub(crate) fn detect() -> Option<Self> {
        std::is_x86_feature_detected!("ssse3").then_some(Token(()))
    }

    #[inline]
    pub(crate) fn run<const ACC: bool>(self, c: u8, src: &[u8], dst: &mut [u8]) {
        // SAFETY: the token exists only if SSSE3 was detected; `kernel`
        // stays inside the slices.
        unsafe { kernel::<ACC>(&gf::NIBBLE[c as usize], src, dst) }
    }
}

#[target_feature(enable = "ssse3")]
unsafe fn kernel<const ACC: bool>(tables: &[u8; 32], src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len());
    // SAFETY: `tables` is 32 bytes: two 16-byte loads.
    let (lo, hi) = unsafe {
        (
            _mm_loadu_si128(tables.as_ptr().cast()),
            _mm_loadu_si128(tables.as_ptr().add(16).cast()),
        )
    };
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: bytes i..i+32 are inside both slices (i + 32 <= n).
        unsafe {
            step::<ACC>(lo, hi, s.add(i), d.add(i));
            step::<ACC>(lo, hi, s.add(i + 16), d.add(i + 16));
        }
        i += 32;
    }
    while i + 16 <= n {
        // SAFETY: bytes i..i+16 are inside both slices.
        unsafe { step::<ACC>(lo, hi, s.add(i), d.add(i)) };
        i += 16;
    }
    padded_tail::<16>(&src[i..n], &mut dst[i..n], |s, d| {
        // SAFETY: both arrays are exactly 16 bytes; SSSE3 is enabled here.
        unsafe { step::<ACC>(lo, hi, s.as_ptr(), d.as_mut_ptr()) }
    });
}

/// One 16-byte step. Caller guarantees 16 readable bytes at `s` and 16
/// writable bytes at `d`.
#[target_feature(enable = "ssse3")]
#[inline]
unsafe fn step<const ACC: bool>(lo: __m128i, hi: __m128i, s: *const u8, d: *mut u8) {
    let mask = _mm_set1_epi8(0x0F);
    // SAFETY: forwarded from the caller's guarantee above.
    unsafe {
        let x = _mm_loadu_si128(s.cast());
        let l = _mm_and_si128(x, mask);
        let h = _mm_and_si128(_mm_srli_epi64::<4>(x), mask);
        let mut y = _mm_xor_si128(_mm_shuffle_epi8(lo, l), _mm_shuffle_epi8(hi, h));
        if ACC {
            y = _mm_xor_si128(y, _mm_loadu_si128(d.cast()));
        }
        _mm_storeu_si128(d.cast(), y);
    }
}
