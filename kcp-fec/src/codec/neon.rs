//! AArch64 NEON split-table kernel: `c * x = lo[x & 15] ^ hi[x >> 4]`, each
//! lookup one `TBL` over 16 bytes.

use core::arch::aarch64::*;

use super::padded_tail;
use crate::gf;

/// Proof that NEON is present (it is baseline on AArch64, but the check
/// keeps the pattern uniform).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token(());

impl Token {
    pub(crate) fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::arch::is_aarch64_feature_detected!("neon");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(target_feature = "neon");
        ok.then_some(Token(()))
    }

    #[inline]
    pub(crate) fn run<const ACC: bool>(self, c: u8, src: &[u8], dst: &mut [u8]) {
        // SAFETY: the token exists only if NEON was detected; `kernel`
        // stays inside the slices.
        unsafe { kernel::<ACC>(&gf::NIBBLE[c as usize], src, dst) }
    }
}

#[target_feature(enable = "neon")]
unsafe fn kernel<const ACC: bool>(tables: &[u8; 32], src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len());
    // SAFETY: `tables` is 32 bytes: two 16-byte loads.
    let (lo, hi) = unsafe { (vld1q_u8(tables.as_ptr()), vld1q_u8(tables.as_ptr().add(16))) };
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
        // SAFETY: both arrays are exactly 16 bytes; NEON is enabled here.
        unsafe { step::<ACC>(lo, hi, s.as_ptr(), d.as_mut_ptr()) }
    });
}

/// One 16-byte step. Caller guarantees 16 readable bytes at `s` and 16
/// writable bytes at `d`.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn step<const ACC: bool>(lo: uint8x16_t, hi: uint8x16_t, s: *const u8, d: *mut u8) {
    let mask = vdupq_n_u8(0x0F);
    // SAFETY: forwarded from the caller's guarantee above.
    unsafe {
        let x = vld1q_u8(s);
        let l = vqtbl1q_u8(lo, vandq_u8(x, mask));
        let h = vqtbl1q_u8(hi, vshrq_n_u8::<4>(x));
        let mut y = veorq_u8(l, h);
        if ACC {
            y = veorq_u8(y, vld1q_u8(d));
        }
        vst1q_u8(d, y);
    }
}
