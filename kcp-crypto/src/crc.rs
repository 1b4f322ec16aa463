//! CRC-32/IEEE with a VPCLMULQDQ (AVX-512) fold for datagram-sized inputs.
//!
//! `crc32fast` folds 128 bits at a time below 256 bytes, 256 bits up to
//! 2 KiB and 512 bits above, and then reduces its accumulators to one
//! 128-bit value with a serial chain of 128-bit folds (8 or 16 of them,
//! ~5 cycles each); on a 1 KiB datagram that chain is a large part of the
//! time. Here four 512-bit accumulators fold 256 bytes per step and are
//! combined as a tree (1024-bit, then 512-bit distances), and the four
//! 128-bit lanes of the result go down to one in a single multiply by
//! per-lane distance constants. The last 128 bits to 32 (and any tail) is
//! `crc32fast`'s reduction, transcribed (MIT/Apache). `crc32fast` stays the
//! reference, and the path below 256 bytes.
//!
//! Fold constants: for a distance of `D` bits, the low and high 64-bit
//! multipliers are `reflect32(x^(D+32) mod P) << 1` and
//! `reflect32(x^(D-32) mod P) << 1` (`P` = 0x104C11DB7); these reproduce
//! `crc32fast`'s `K1..K4` and 1024/2048-bit constants.
#![allow(unsafe_code)]

/// CRC-32/IEEE of `data` (`crc32fast::hash` semantics).
#[inline]
pub(crate) fn crc32(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= MIN_LEN && avx512::available() {
        // SAFETY: `available` checked AVX-512F, VPCLMULQDQ, PCLMULQDQ,
        // SSE4.1 and SSSE3.
        return unsafe { avx512::crc32(data) };
    }
    crc32fast::hash(data)
}

/// Shortest input the wide fold takes (four 512-bit accumulators).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MIN_LEN: usize = 256;

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    const K_128: (i64, i64) = (0x1751997d0, 0x0ccaa009e);
    const K_256: (i64, i64) = (0x0f1da05aa, 0x15a546366);
    const K_384: (i64, i64) = (0x03db1ecdc, 0x174359406);
    const K_512: (i64, i64) = (0x154442bd4, 0x1c6e41596);
    const K_1024: (i64, i64) = (0x1e88ef372, 0x14a7fe880);
    const K_2048: (i64, i64) = (0x11542778a, 0x1322d1430);
    const K5: i64 = 0x163cd6124;
    const P_X: i64 = 0x1DB710641;
    const U_PRIME: i64 = 0x1F7011641;

    /// 0: not probed yet, 1: absent, 2: present. One load per call instead
    /// of five feature-cache lookups (a 1 KiB CRC takes ~25 ns).
    static AVAILABLE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

    #[inline]
    pub(super) fn available() -> bool {
        use core::sync::atomic::Ordering::Relaxed;
        match AVAILABLE.load(Relaxed) {
            0 => {
                let yes = std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("vpclmulqdq")
                    && std::is_x86_feature_detected!("pclmulqdq")
                    && std::is_x86_feature_detected!("sse4.1")
                    && std::is_x86_feature_detected!("ssse3");
                AVAILABLE.store(1 + u8::from(yes), Relaxed);
                yes
            }
            v => v == 2,
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn wide((lo, hi): (i64, i64)) -> __m512i {
        _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo)
    }

    /// `a` carried `D` bits forward (per 128-bit lane) and XORed into `b`.
    #[inline]
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    fn fold(a: __m512i, b: __m512i, k: __m512i) -> __m512i {
        let lo = _mm512_clmulepi64_epi128::<0x00>(a, k);
        let hi = _mm512_clmulepi64_epi128::<0x11>(a, k);
        _mm512_ternarylogic_epi64::<0x96>(lo, hi, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn get512(data: &mut &[u8]) -> __m512i {
        // SAFETY: `data[..64]` is 64 readable bytes; unaligned load.
        let v = unsafe { _mm512_loadu_si512(data[..64].as_ptr().cast()) };
        *data = &data[64..];
        v
    }

    #[inline]
    #[target_feature(enable = "pclmulqdq,sse2")]
    fn fold128(a: __m128i, b: __m128i, k: __m128i) -> __m128i {
        let t1 = _mm_clmulepi64_si128::<0x00>(a, k);
        let t2 = _mm_clmulepi64_si128::<0x11>(a, k);
        _mm_xor_si128(_mm_xor_si128(b, t1), t2)
    }

    /// `data.len() >= 256`.
    #[target_feature(enable = "avx512f,vpclmulqdq,pclmulqdq,sse4.1,ssse3")]
    pub(super) unsafe fn crc32(mut data: &[u8]) -> u32 {
        debug_assert!(data.len() >= super::MIN_LEN);
        // SAFETY: the caller checked the CPU features; every load goes
        // through `get512` or `_mm_loadu_si128` on in-bounds slices.
        unsafe {
            let mut v0 = get512(&mut data);
            let mut v1 = get512(&mut data);
            let mut v2 = get512(&mut data);
            let mut v3 = get512(&mut data);
            // Initial CRC !0, XORed into the first 32 bits.
            v0 = _mm512_xor_si512(v0, _mm512_castsi128_si512(_mm_cvtsi32_si128(-1)));
            let k2048 = wide(K_2048);
            while data.len() >= 256 {
                v0 = fold(v0, get512(&mut data), k2048);
                v1 = fold(v1, get512(&mut data), k2048);
                v2 = fold(v2, get512(&mut data), k2048);
                v3 = fold(v3, get512(&mut data), k2048);
            }
            let k512 = wide(K_512);
            let a = fold(v0, v2, wide(K_1024));
            let b = fold(v1, v3, wide(K_1024));
            let mut v = fold(a, b, k512);
            while data.len() >= 64 {
                v = fold(v, get512(&mut data), k512);
            }
            // Lanes 0, 1, 2 are 384, 256 and 128 bits before lane 3.
            let k = _mm512_set_epi64(0, 0, K_128.1, K_128.0, K_256.1, K_256.0, K_384.1, K_384.0);
            let t = fold(v, _mm512_setzero_si512(), k);
            let lane3 = _mm512_extracti32x4_epi32::<3>(v);
            let x = _mm_ternarylogic_epi64::<0x96>(
                _mm512_castsi512_si128(t),
                _mm512_extracti32x4_epi32::<1>(t),
                _mm_xor_si128(_mm512_extracti32x4_epi32::<2>(t), lane3),
            );
            reduce_128_to_crc(x, data)
        }
    }

    /// `crc32fast`'s final steps: fold remaining 16-byte chunks, then the
    /// partial tail, then 128 → 64 → 32 bits with a Barrett reduction.
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1,ssse3")]
    unsafe fn reduce_128_to_crc(mut x: __m128i, mut data: &[u8]) -> u32 {
        // SAFETY: the caller checked the CPU features; loads are on
        // in-bounds 16-byte slices.
        unsafe {
            let k3k4 = _mm_set_epi64x(K_128.1, K_128.0);
            while data.len() >= 16 {
                x = fold128(x, _mm_loadu_si128(data[..16].as_ptr().cast()), k3k4);
                data = &data[16..];
            }
            let n = data.len();
            if n > 0 {
                let seq = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                let shl = _mm_add_epi8(seq, _mm_set1_epi8(n as i8 - 16));
                let shr = _mm_xor_si128(shl, _mm_set1_epi8(-128));
                let overflow = _mm_shuffle_epi8(x, shl);
                x = _mm_shuffle_epi8(x, shr);
                let (lo, hi) = partial_words(data);
                let part = _mm_set_epi64x(hi as i64, lo as i64);
                x = _mm_xor_si128(x, _mm_shuffle_epi8(part, shl));
                x = fold128(overflow, x, k3k4);
            }
            let x = _mm_xor_si128(
                _mm_clmulepi64_si128::<0x10>(x, k3k4),
                _mm_srli_si128::<8>(x),
            );
            let x = _mm_xor_si128(
                _mm_clmulepi64_si128::<0x00>(
                    _mm_and_si128(x, _mm_set_epi32(0, 0, 0, !0)),
                    _mm_set_epi64x(0, K5),
                ),
                _mm_srli_si128::<4>(x),
            );
            let pu = _mm_set_epi64x(U_PRIME, P_X);
            let t1 = _mm_clmulepi64_si128::<0x10>(_mm_and_si128(x, _mm_set_epi32(0, 0, 0, !0)), pu);
            let t2 =
                _mm_clmulepi64_si128::<0x00>(_mm_and_si128(t1, _mm_set_epi32(0, 0, 0, !0)), pu);
            !(_mm_extract_epi32::<1>(_mm_xor_si128(x, t2)) as u32)
        }
    }

    /// The `n < 16` trailing bytes as a little-endian 128-bit value.
    fn partial_words(data: &[u8]) -> (u64, u64) {
        let n = data.len();
        debug_assert!(n > 0 && n < 16);
        let v: u128 = if n >= 8 {
            let lo = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
            let hi = u64::from_le_bytes(data[n - 8..].try_into().expect("8 bytes"));
            lo as u128 | (hi as u128) << (8 * (n - 8))
        } else if n >= 4 {
            let lo = u32::from_le_bytes(data[..4].try_into().expect("4 bytes"));
            let hi = u32::from_le_bytes(data[n - 4..].try_into().expect("4 bytes"));
            lo as u128 | (hi as u128) << (8 * (n - 4))
        } else {
            data[0] as u128
                | (data[n / 2] as u128) << (8 * (n / 2))
                | (data[n - 1] as u128) << (8 * (n - 1))
        };
        (v as u64, (v >> 64) as u64)
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
