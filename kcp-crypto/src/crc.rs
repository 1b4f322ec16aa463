//! CRC-32/IEEE with a VPCLMULQDQ (AVX-512) path for datagram-sized inputs.
//!
//! On the Zen 4 this is tuned on, a 512-bit `vpclmulqdq` issues once every
//! two cycles (one pipe, double-pumped) and a 128-bit one just as slowly, so
//! the count of carry-less multiply instructions sets the speed: one 64×64
//! product per 64 bits of input is the floor (32 `vpclmulqdq` per KiB).
//! `crc32fast` is at that floor in its folds but then reduces with serial
//! chains of 128-bit folds (8–16 multiplies, each waiting for the last).
//! Here every 128-bit lane of the last up to 24 × 64 bytes is multiplied
//! **directly** by per-lane constants that carry it to the end of the
//! message: all products are independent and simply XORed together, and
//! they land in a 96-bit remainder that a two-multiply Barrett reduction
//! turns into the CRC (`crc32fast` needs four multiplies from 128 bits).
//! Longer inputs first fold 512 bytes per step into eight 512-bit
//! accumulators, which are then multiplied to the end like data blocks.
//!
//! Framing: the message is cut into 64-byte blocks **aligned to its end**;
//! the first block holds the `1..=64` leading bytes, moved to its top (as if
//! the message had leading zero bytes, which do not change the polynomial),
//! with the initial `!0` XORed into the first four message bytes. So the
//! last block always ends at the message end and the constants are a fixed
//! table indexed by the distance to the end.
//!
//! Constants: a 64-bit chunk whose lowest coefficient sits at `x^e` of
//! `M(x)·x^32` is reduced by a carry-less multiply by
//! `k(e) = reflect32(x^e mod P) << 1` (`P` = 0x104C11DB7), which leaves a
//! 96-bit value whose bit `i` is the coefficient of `x^(95 - i)`; a 128-bit
//! lane `t` lanes before the last one has its two halves at
//! `e = 128t + 96` (first eight bytes) and `e = 128t + 32`. `k` reproduces
//! `crc32fast`'s `K1..K5` (checked in the tests). `crc32fast` stays the
//! reference, the fallback on other CPUs and the path below [`MIN_LEN`]
//! bytes.
#![allow(unsafe_code)]
// Everything but `crc32` serves the x86-64 path (and the tests).
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// CRC-32/IEEE of `data` (`crc32fast::hash` semantics).
#[inline]
pub(crate) fn crc32(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= MIN_LEN && avx512::available() {
        // SAFETY: `available` checked AVX-512F/BW/VBMI, VPCLMULQDQ,
        // PCLMULQDQ and SSE4.1; `data.len() >= MIN_LEN`.
        return unsafe { avx512::crc32(data) };
    }
    fallback(data)
}

/// `crc32fast` out of line, so that [`crc32`] stays a few instructions
/// that inline into the caller (with `crc32fast`'s feature checks inlined
/// too, the dispatch cost ~1 ns a call).
#[inline(never)]
fn fallback(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Shortest input of the AVX-512 path: at least 4, so that the initial
/// value lies inside the message; up to 16 bytes `crc32fast`'s table code
/// is as fast (measured: 5.7 ns at 16 bytes, the AVX-512 path 5.9 ns at
/// any length from 17 to 63).
const MIN_LEN: usize = 17;

/// `x^n mod P`, `P` = 0x104C11DB7, in normal (not reflected) bit order.
const fn xpow_mod(mut r: u32, n: u32) -> u32 {
    // `r` times x^n.
    let mut i = 0;
    while i < n {
        let carry = r & 0x8000_0000 != 0;
        r <<= 1;
        if carry {
            r ^= 0x04C1_1DB7;
        }
        i += 1;
    }
    r
}

/// `k(32 + 64 m)` for `m < N`, built incrementally (each step multiplies
/// by `x^64`; [`k`] per entry would take the compiler much longer).
const fn k_table<const N: usize>() -> [u64; N] {
    let mut out = [0u64; N];
    let mut p = xpow_mod(1, 32);
    let mut m = 0;
    while m < N {
        out[m] = (p.reverse_bits() as u64) << 1;
        p = xpow_mod(p, 64);
        m += 1;
    }
    out
}

/// `k(e) = reflect32(x^e mod P) << 1` (see the module docs).
const fn k(e: u32) -> u64 {
    (xpow_mod(1, e).reverse_bits() as u64) << 1
}

/// Blocks (64 bytes) whose per-lane constants are tabled: the direct
/// multiply handles up to this many; longer inputs fold first.
const DIRECT_BLOCKS: usize = 24;
/// `k(32 + 64 m)` for every `m` the lane table and the 512-byte fold need.
const POW_LEN: usize = 8 * DIRECT_BLOCKS;
const POW: [u64; POW_LEN] = k_table::<POW_LEN>();

/// `LANE_K.0[d]`: the (low, high) multipliers of the four 128-bit lanes of
/// the block `d` blocks before the last one, as one 512-bit vector.
#[repr(C, align(64))]
struct LaneK([[u64; 8]; DIRECT_BLOCKS]);

static LANE_K: LaneK = {
    let mut t = [[0u64; 8]; DIRECT_BLOCKS];
    let mut d = 0;
    while d < DIRECT_BLOCKS {
        let mut lane = 0;
        while lane < 4 {
            // Lanes before the last lane of the message.
            let back = 4 * d + 3 - lane;
            // k(128 back + 96) and k(128 back + 32).
            t[d][2 * lane] = POW[2 * back + 1];
            t[d][2 * lane + 1] = POW[2 * back];
            lane += 1;
        }
        d += 1;
    }
    LaneK(t)
};

/// `reflect64(floor(x^96 / P) - x^64)`: the Barrett multiplier for a
/// 96-bit remainder (the quotient's `x^64` term is the input itself).
const fn barrett96_mu() -> u64 {
    let p: u128 = 0x1_04C1_1DB7;
    let mut rem: u128 = 1 << 96;
    let mut q: u128 = 0;
    let mut bit = 96 - 32;
    loop {
        if rem & (1 << (bit + 32)) != 0 {
            rem ^= p << bit;
            q |= 1 << bit;
        }
        if bit == 0 {
            break;
        }
        bit -= 1;
    }
    ((q ^ (1 << 64)) as u64).reverse_bits()
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{DIRECT_BLOCKS, LANE_K, k};
    use core::arch::x86_64::*;

    /// 512-byte fold: a 128-bit lane carried 4096 bits forward.
    const K_4096: (u64, u64) = (k(4096 + 32), k(4096 - 32));
    const MU_96: u64 = super::barrett96_mu();
    /// `reflect32(P) << 1 | 1`.
    const P_X: i64 = 0x1DB710641;

    /// 0: not probed yet, 1: absent, 2: present. One load per call instead
    /// of several feature-cache lookups.
    static AVAILABLE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

    #[inline]
    pub(super) fn available() -> bool {
        match AVAILABLE.load(core::sync::atomic::Ordering::Relaxed) {
            0 => probe(),
            v => v == 2,
        }
    }

    #[cold]
    #[inline(never)]
    fn probe() -> bool {
        let yes = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
            && std::is_x86_feature_detected!("vpclmulqdq")
            && std::is_x86_feature_detected!("pclmulqdq")
            && std::is_x86_feature_detected!("sse4.1");
        AVAILABLE.store(1 + u8::from(yes), core::sync::atomic::Ordering::Relaxed);
        yes
    }

    /// `v`'s four lanes multiplied by the constants `k` (low halves by the
    /// even, high halves by the odd 64-bit words) and XORed into `acc`.
    #[inline]
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    fn mul_acc(acc: __m512i, v: __m512i, k: __m512i) -> __m512i {
        let lo = _mm512_clmulepi64_epi128::<0x00>(v, k);
        let hi = _mm512_clmulepi64_epi128::<0x11>(v, k);
        _mm512_ternarylogic_epi64::<0x96>(lo, hi, acc)
    }

    /// The lane constants of the block `d` blocks before the last.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lane_k(d: usize) -> __m512i {
        // SAFETY: `LANE_K.0[d]` is 64 readable, 64-byte aligned bytes (the
        // index is bounds-checked).
        unsafe { _mm512_load_si512(LANE_K.0[d].as_ptr().cast()) }
    }

    /// The `count` whole blocks that end at `end`, multiplied to the end
    /// (block `d` from the end with `lane_k(d)`), into `acc`.
    ///
    /// # Safety
    /// AVX-512F and VPCLMULQDQ are available; the `64 * count` bytes before
    /// `end` are readable; `count <= DIRECT_BLOCKS`.
    #[inline]
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    unsafe fn direct(acc: &mut [__m512i; 4], end: *const u8, count: usize) {
        debug_assert!(count <= DIRECT_BLOCKS);
        let k = LANE_K.0.as_ptr();
        // SAFETY: block `d < count` is the 64 bytes at `end - 64 (d + 1)`,
        // readable per the contract; `k.add(d)` is `LANE_K.0[d]`, in bounds
        // as `d < count <= DIRECT_BLOCKS`.
        unsafe {
            let mul = |acc: __m512i, d: usize| {
                let v = _mm512_loadu_si512(end.sub(64 * (d + 1)).cast());
                mul_acc(acc, v, _mm512_load_si512(k.add(d).cast()))
            };
            // Groups of four from the end, then the 0..3 earliest blocks
            // (measured a little faster than the other way round).
            let top = count - count % 4;
            let mut d = 0;
            while d < top {
                acc[0] = mul(acc[0], d);
                acc[1] = mul(acc[1], d + 1);
                acc[2] = mul(acc[2], d + 2);
                acc[3] = mul(acc[3], d + 3);
                d += 4;
            }
            if top < count {
                acc[0] = mul(acc[0], top);
            }
            if top + 1 < count {
                acc[1] = mul(acc[1], top + 1);
            }
            if top + 2 < count {
                acc[2] = mul(acc[2], top + 2);
            }
        }
    }

    /// `data.len() >= MIN_LEN` (at least 4).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,vpclmulqdq,pclmulqdq,sse4.1")]
    pub(super) unsafe fn crc32(data: &[u8]) -> u32 {
        let n = data.len();
        debug_assert!(n >= super::MIN_LEN && super::MIN_LEN >= 4);
        // Bytes in the first block (1..=64), and the number of blocks.
        let r = (n - 1) % 64 + 1;
        let blocks = (n - r) / 64 + 1;
        let p = data.as_ptr();
        // SAFETY: the caller checked the CPU features (`crc32`'s
        // `#[target_feature]` list). Memory: the first load reads
        // `min(n, 64)` bytes from `p` (masked below 64: masked-off bytes are
        // not accessed); the other blocks are the 64-byte pieces at
        // `r + 64 j` for `j < blocks - 1`, and `r + 64 (blocks - 1) = n`,
        // so every block lies inside `data` (`end` is one past its end).
        unsafe {
            let end = p.add(n);
            let init = _mm512_castsi128_si512(_mm_cvtsi32_si128(-1));
            let first = if n >= 64 {
                _mm512_loadu_si512(p.cast())
            } else {
                _mm512_maskz_loadu_epi8((1u64 << n) - 1, p.cast())
            };
            let first = _mm512_xor_si512(first, init);
            // The first block: its `r` bytes moved to the top, zeros below.
            let head = if r == 64 {
                first
            } else {
                let seq = _mm512_set_epi64(
                    0x3f3e3d3c3b3a3938,
                    0x3736353433323130,
                    0x2f2e2d2c2b2a2928,
                    0x2726252423222120,
                    0x1f1e1d1c1b1a1918,
                    0x1716151413121110,
                    0x0f0e0d0c0b0a0908,
                    0x0706050403020100,
                );
                let idx = _mm512_add_epi8(seq, _mm512_set1_epi8(r as i8));
                _mm512_maskz_permutexvar_epi8(!0u64 << (64 - r), idx, first)
            };

            // When `r < 4`, the part of the initial value that did not fit
            // in the first block goes into the first bytes of the second.
            let spill = if r < 4 { u32::MAX >> (8 * r) } else { 0 };
            let spill = _mm512_castsi128_si512(_mm_cvtsi32_si128(spill as i32));

            let mut acc = [_mm512_setzero_si512(); 4];
            if blocks <= DIRECT_BLOCKS {
                direct(&mut acc, end, blocks - 1);
                acc[3] = mul_acc(acc[3], head, lane_k(blocks - 1));
                if r < 4 {
                    acc[2] = mul_acc(acc[2], spill, lane_k(blocks - 2));
                }
            } else {
                // Eight accumulators over blocks `0..8`, then 512 bytes per
                // step while at least 16 blocks remain.
                let block = |j: usize| _mm512_loadu_si512(p.add(r + 64 * (j - 1)).cast());
                let mut a = [
                    head,
                    _mm512_xor_si512(block(1), spill),
                    block(2),
                    block(3),
                    block(4),
                    block(5),
                    block(6),
                    block(7),
                ];
                let (lo, hi) = K_4096;
                let k4096 = _mm512_set_epi64(
                    hi as i64, lo as i64, hi as i64, lo as i64, hi as i64, lo as i64, hi as i64,
                    lo as i64,
                );
                let mut next = 8;
                while blocks - next >= 16 {
                    for (i, a) in a.iter_mut().enumerate() {
                        let lo = _mm512_clmulepi64_epi128::<0x00>(*a, k4096);
                        let hi = _mm512_clmulepi64_epi128::<0x11>(*a, k4096);
                        *a = _mm512_ternarylogic_epi64::<0x96>(lo, hi, block(next + i));
                    }
                    next += 8;
                }
                // `rest` blocks remain (8..16); accumulator `i` sits
                // `rest + 7 - i` blocks before the last.
                let rest = blocks - next;
                direct(&mut acc, end, rest);
                for (i, a) in a.iter().enumerate() {
                    acc[i % 4] = mul_acc(acc[i % 4], *a, lane_k(rest + 7 - i));
                }
            }
            let acc =
                _mm512_ternarylogic_epi64::<0x96>(acc[0], acc[1], _mm512_xor_si512(acc[2], acc[3]));
            let x = _mm256_xor_si256(
                _mm512_castsi512_si256(acc),
                _mm512_extracti64x4_epi64::<1>(acc),
            );
            let x = _mm_xor_si128(_mm256_castsi256_si128(x), _mm256_extracti128_si256::<1>(x));
            barrett96(x)
        }
    }

    /// The CRC of the 96-bit remainder `x` (bit `i` is the coefficient of
    /// `x^(95 - i)`). Barrett: the quotient by `P` is
    /// `q = hi ^ floor(hi · MU_96 / x^64)` with `hi` the top 64 bits, and the
    /// CRC is the low 32 bits of `x ^ q · P` (then inverted).
    #[inline]
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    fn barrett96(x: __m128i) -> u32 {
        // `MU_96 << 1` (its top bit is clear): the product's low 64 bits are
        // then the quotient term already lined up with `x`'s bits.
        const MU_SHIFTED: u64 = {
            assert!(MU_96 >> 63 == 0);
            MU_96 << 1
        };
        let t = _mm_clmulepi64_si128::<0x00>(x, _mm_set_epi64x(0, MU_SHIFTED as i64));
        let q = _mm_xor_si128(x, t);
        let qp = _mm_clmulepi64_si128::<0x00>(q, _mm_set_epi64x(0, P_X));
        !(_mm_extract_epi32::<2>(_mm_xor_si128(x, qp)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        #[test]
        fn matches_crc32fast(data in proptest::collection::vec(any::<u8>(), 0..1700), skip in 0usize..16) {
            let d = &data[skip.min(data.len())..];
            prop_assert_eq!(crc32(d), crc32fast::hash(d));
        }
    }

    #[test]
    fn constants_match_crc32fast() {
        // crc32fast's K1/K2 (512-bit fold), K3/K4 (128-bit fold), K5.
        assert_eq!((k(512 + 32), k(512 - 32)), (0x154442bd4, 0x1c6e41596));
        assert_eq!((k(128 + 32), k(128 - 32)), (0x1751997d0, 0x0ccaa009e));
        assert_eq!(k(64), 0x163cd6124);
        assert_eq!(barrett96_mu(), 0x5a72d812fb808b20);
        assert_eq!(POW[3], k(224));
        assert_eq!(k(2048 + 32), 0x11542778a);
    }

    #[test]
    fn every_length_up_to_2k() {
        let data: Vec<u8> = (0..2100u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for n in 0..data.len() {
            assert_eq!(crc32(&data[..n]), crc32fast::hash(&data[..n]), "len {n}");
        }
        assert_eq!(crc32(&[0xFF; 4096]), crc32fast::hash(&[0xFF; 4096]));
    }
}
