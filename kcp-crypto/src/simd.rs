//! Runtime-dispatched fast paths. Each has a safe scalar counterpart that
//! the tests compare it against.
#![allow(unsafe_code)]
#![allow(unused_unsafe)] // intrinsics need `unsafe` on Rust 1.85, not on newer compilers

/// Returns `x` unchanged, but hides it from LLVM's reassociation so that an
/// XOR tree written as a tree stays one (LLVM otherwise turns the S-box XORs
/// of the table-driven ciphers into a serial chain, which lengthens their
/// round latency by several cycles). Emits no instruction.
#[inline(always)]
pub(crate) fn opaque(mut x: u32) -> u32 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the asm template is a comment: it executes nothing and touches
    // no memory, stack or flags; it only claims to rewrite `x`'s register.
    unsafe {
        core::arch::asm!("/* {x:e} */", x = inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (`w` names the 32-bit view of the register).
    unsafe {
        core::arch::asm!("/* {x:w} */", x = inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    x
}

/// [`opaque`] for a `u64` (Blowfish's widened CFB path keeps `r ^ p` off
/// its chain with it).
#[inline(always)]
pub(crate) fn opaque64(mut x: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the asm template is a comment: it executes nothing and touches
    // no memory, stack or flags; it only claims to rewrite `x`'s register.
    unsafe {
        core::arch::asm!("/* {x} */", x = inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above.
    unsafe {
        core::arch::asm!("/* {x} */", x = inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    x
}

/// `dst[i] ^= src[i]` for `i < min(len)`: AVX2 (32-byte stores aligned
/// on `dst`) when the CPU has it, else [`xor_scalar`].
#[inline]
pub(crate) fn xor_in_place(dst: &mut [u8], src: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if xor_avx2::available() {
        // SAFETY: `available` checked AVX2.
        return unsafe { xor_avx2::xor(dst, src) };
    }
    xor_scalar(dst, src)
}

/// The portable reference of [`xor_in_place`] (u64 words). Not inlined on
/// x86-64, where it is the rare fallback: inlined, its register saves landed
/// on the AVX2 path too (~1 ns a call).
#[cfg_attr(target_arch = "x86_64", inline(never))]
pub(crate) fn xor_scalar(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let x = u64::from_ne_bytes((&*d).try_into().expect("8"))
            ^ u64::from_ne_bytes(s.try_into().expect("8"));
        d.copy_from_slice(&x.to_ne_bytes());
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d ^= s;
    }
}

/// The XOR cipher's fast path. On the Zen 4 this is tuned on, what limits
/// kcp-go's shape (XOR a 1500-byte buffer, then XOR it again) is the memory
/// side: 32 bytes stored per cycle, whether as one 512-bit or one 256-bit
/// store; two 32-byte loads per cycle, a load that crosses a cache line
/// counting twice; and a load only takes its bytes straight from a store
/// still in flight when that one store covers it exactly. So:
///
/// * every store is 256 bits and 32-byte aligned on `dst` (no store crosses
///   a cache line), and the unaligned head and tail (`< 32` bytes each) go
///   as non-overlapping 16-, 8-, 4-, 2- and 1-byte pieces: the second pass
///   then loads exactly what the first stored;
/// * when `src` is 16 bytes off that alignment (a 64-byte aligned key table
///   and a buffer from the allocator, which aligns to 16), `src` is read
///   with aligned loads and each 32-byte window is put together from two of
///   them with one `vperm2i128`, instead of loads that cross cache lines.
///
/// Measured alternatives: 512-bit aligned stores with overlapping 64-byte
/// head and tail (the previous code) took 1.3–1.6× as long on 1500 bytes,
/// and masked stores cost ~4.5 ns each.
#[cfg(target_arch = "x86_64")]
mod xor_avx2 {
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

    /// 0: not probed yet, 1: absent, 2: present.
    static AVAILABLE: AtomicU8 = AtomicU8::new(0);

    #[inline]
    pub(super) fn available() -> bool {
        match AVAILABLE.load(Relaxed) {
            0 => probe(),
            v => v == 2,
        }
    }

    #[cold]
    #[inline(never)]
    fn probe() -> bool {
        let yes = std::is_x86_feature_detected!("avx2");
        AVAILABLE.store(1 + u8::from(yes), Relaxed);
        yes
    }

    /// `d[..k] ^= s[..k]` for `k < 32`, as non-overlapping pieces (SSE2 and
    /// scalar only, so it inlines anywhere).
    ///
    /// # Safety
    /// `k < 32` bytes are readable at `s` and readable and writable at `d`.
    #[inline(always)]
    unsafe fn short(d: *mut u8, s: *const u8, k: usize) {
        debug_assert!(k < 32);
        // SAFETY: each piece covers bytes `o .. o + w` with `o + w <= k`
        // (the pieces are the binary digits of `k`); unaligned accesses;
        // SSE2 is part of x86-64.
        unsafe {
            let mut o = 0;
            if k & 16 != 0 {
                let x = _mm_xor_si128(_mm_loadu_si128(d.cast()), _mm_loadu_si128(s.cast()));
                _mm_storeu_si128(d.cast(), x);
                o = 16;
            }
            if k & 8 != 0 {
                let x = d.add(o).cast::<u64>().read_unaligned()
                    ^ s.add(o).cast::<u64>().read_unaligned();
                d.add(o).cast::<u64>().write_unaligned(x);
                o += 8;
            }
            if k & 4 != 0 {
                let x = d.add(o).cast::<u32>().read_unaligned()
                    ^ s.add(o).cast::<u32>().read_unaligned();
                d.add(o).cast::<u32>().write_unaligned(x);
                o += 4;
            }
            if k & 2 != 0 {
                let x = d.add(o).cast::<u16>().read_unaligned()
                    ^ s.add(o).cast::<u16>().read_unaligned();
                d.add(o).cast::<u16>().write_unaligned(x);
                o += 2;
            }
            if k & 1 != 0 {
                *d.add(o) ^= *s.add(o);
            }
        }
    }

    /// `dst ^= src` over `min(len)` bytes.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn xor(dst: &mut [u8], src: &[u8]) {
        let n = dst.len().min(src.len());
        let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
        // SAFETY: AVX2 per the contract. Every access lies in `0 .. n` of
        // both slices: the head is `h < 32 <= n` bytes; the 32-byte steps
        // start at `i >= h` with `i + 32 <= n` (`d + i` is 32-byte aligned,
        // as the aligned loads and stores need); in the realigning loop the
        // `src` loads cover `i - 16 .. i + 144` with `i >= 16` and
        // `i + 144 <= n`, 32-byte aligned; the tail is the `n - i < 32`
        // bytes from `i`.
        unsafe {
            if n < 32 {
                return short(d, s, n);
            }
            let h = (32 - (d as usize & 31)) & 31;
            short(d, s, h);
            let mut i = h;
            if (s as usize + i) & 31 == 16 && i >= 16 {
                // `s + i - 16` is 32-byte aligned: window `j` is the high
                // half of one aligned load and the low half of the next.
                let mut prev = _mm256_load_si256(s.add(i - 16).cast());
                while i + 144 <= n {
                    for j in (0..128).step_by(32) {
                        let next = _mm256_load_si256(s.add(i + j + 16).cast());
                        let b = _mm256_permute2x128_si256::<0x21>(prev, next);
                        prev = next;
                        let a = _mm256_load_si256(d.add(i + j).cast());
                        _mm256_store_si256(d.add(i + j).cast(), _mm256_xor_si256(a, b));
                    }
                    i += 128;
                }
            }
            while i + 128 <= n {
                for j in (0..128).step_by(32) {
                    let a = _mm256_load_si256(d.add(i + j).cast());
                    let b = _mm256_loadu_si256(s.add(i + j).cast());
                    _mm256_store_si256(d.add(i + j).cast(), _mm256_xor_si256(a, b));
                }
                i += 128;
            }
            while i + 32 <= n {
                let a = _mm256_load_si256(d.add(i).cast());
                let b = _mm256_loadu_si256(s.add(i).cast());
                _mm256_store_si256(d.add(i).cast(), _mm256_xor_si256(a, b));
                i += 32;
            }
            short(d.add(i), s.add(i), n - i);
        }
    }
}

/// Salsa20/20 keystream XOR (counter from 0) with a SIMD backend; returns
/// `false` when no backend applies, and the caller then runs the reference.
#[inline]
pub(crate) fn salsa20_xor(key: &[u8; 32], nonce: &[u8; 8], body: &mut [u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { salsa_avx2::xor(key, nonce, body) };
        return true;
    }
    let _ = (key, nonce, body);
    false
}

/// Salsa20 eight blocks at a time: state word `i` of blocks `n..n+8` lives in
/// one AVX2 register (one lane per block), then an 8×8 transpose turns the
/// lanes back into keystream bytes.
#[cfg(target_arch = "x86_64")]
mod salsa_avx2 {
    use core::arch::x86_64::*;

    const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

    macro_rules! rotl {
        ($x:expr, $n:literal) => {
            _mm256_or_si256(
                _mm256_slli_epi32::<$n>($x),
                _mm256_srli_epi32::<{ 32 - $n }>($x),
            )
        };
    }

    macro_rules! qr {
        ($x:ident, $a:literal, $b:literal, $c:literal, $d:literal) => {
            $x[$b] = _mm256_xor_si256($x[$b], rotl!(_mm256_add_epi32($x[$a], $x[$d]), 7));
            $x[$c] = _mm256_xor_si256($x[$c], rotl!(_mm256_add_epi32($x[$b], $x[$a]), 9));
            $x[$d] = _mm256_xor_si256($x[$d], rotl!(_mm256_add_epi32($x[$c], $x[$b]), 13));
            $x[$a] = _mm256_xor_si256($x[$a], rotl!(_mm256_add_epi32($x[$d], $x[$c]), 18));
        };
    }

    fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
        core::array::from_fn(|i| {
            u32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        })
    }

    /// Transposes 8 rows of 8 lanes: output `b` holds lane `b` of every row.
    #[inline(always)]
    unsafe fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
        // SAFETY: AVX2 enabled by the caller.
        unsafe {
            let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
            let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
            let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
            let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
            let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
            let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
            let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
            let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
            let u0 = _mm256_unpacklo_epi64(t0, t2);
            let u1 = _mm256_unpackhi_epi64(t0, t2);
            let u2 = _mm256_unpacklo_epi64(t1, t3);
            let u3 = _mm256_unpackhi_epi64(t1, t3);
            let u4 = _mm256_unpacklo_epi64(t4, t6);
            let u5 = _mm256_unpackhi_epi64(t4, t6);
            let u6 = _mm256_unpacklo_epi64(t5, t7);
            let u7 = _mm256_unpackhi_epi64(t5, t7);
            [
                _mm256_permute2x128_si256::<0x20>(u0, u4),
                _mm256_permute2x128_si256::<0x20>(u1, u5),
                _mm256_permute2x128_si256::<0x20>(u2, u6),
                _mm256_permute2x128_si256::<0x20>(u3, u7),
                _mm256_permute2x128_si256::<0x31>(u0, u4),
                _mm256_permute2x128_si256::<0x31>(u1, u5),
                _mm256_permute2x128_si256::<0x31>(u2, u6),
                _mm256_permute2x128_si256::<0x31>(u3, u7),
            ]
        }
    }

    /// Keystream of blocks `ctr..ctr+8` (512 bytes) XORed into `out`.
    #[inline(always)]
    unsafe fn eight_blocks(input: &[__m256i; 16], ctr: u64, out: &mut [u8; 512]) {
        // SAFETY: AVX2 enabled by the caller; every load/store is a 32-byte
        // piece of the 512-byte `out`.
        unsafe {
            let mut init = *input;
            let c: [u64; 8] = core::array::from_fn(|i| ctr + i as u64);
            init[8] = _mm256_setr_epi32(
                c[0] as i32,
                c[1] as i32,
                c[2] as i32,
                c[3] as i32,
                c[4] as i32,
                c[5] as i32,
                c[6] as i32,
                c[7] as i32,
            );
            init[9] = _mm256_setr_epi32(
                (c[0] >> 32) as i32,
                (c[1] >> 32) as i32,
                (c[2] >> 32) as i32,
                (c[3] >> 32) as i32,
                (c[4] >> 32) as i32,
                (c[5] >> 32) as i32,
                (c[6] >> 32) as i32,
                (c[7] >> 32) as i32,
            );
            let mut x = init;
            for _ in 0..10 {
                qr!(x, 0, 4, 8, 12);
                qr!(x, 5, 9, 13, 1);
                qr!(x, 10, 14, 2, 6);
                qr!(x, 15, 3, 7, 11);
                qr!(x, 0, 1, 2, 3);
                qr!(x, 5, 6, 7, 4);
                qr!(x, 10, 11, 8, 9);
                qr!(x, 15, 12, 13, 14);
            }
            for (v, i) in x.iter_mut().zip(init) {
                *v = _mm256_add_epi32(*v, i);
            }
            let lo = transpose([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
            let hi = transpose([x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]]);
            for b in 0..8 {
                let p = out[64 * b..].as_mut_ptr();
                let d0 = _mm256_loadu_si256(p.cast());
                let d1 = _mm256_loadu_si256(p.add(32).cast());
                _mm256_storeu_si256(p.cast(), _mm256_xor_si256(d0, lo[b]));
                _mm256_storeu_si256(p.add(32).cast(), _mm256_xor_si256(d1, hi[b]));
            }
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn xor(key: &[u8; 32], nonce: &[u8; 8], body: &mut [u8]) {
        let k: [u32; 8] = words(key);
        let n: [u32; 2] = words(nonce);
        let state = [
            SIGMA[0], k[0], k[1], k[2], k[3], SIGMA[1], n[0], n[1], 0, 0, SIGMA[2], k[4], k[5],
            k[6], k[7], SIGMA[3],
        ];
        // SAFETY: AVX2 is enabled on this function; the caller checked the CPU.
        unsafe {
            let input: [__m256i; 16] = core::array::from_fn(|i| _mm256_set1_epi32(state[i] as i32));
            let mut ctr = 0u64;
            let mut chunks = body.chunks_exact_mut(512);
            for chunk in &mut chunks {
                eight_blocks(&input, ctr, chunk.try_into().expect("512 bytes"));
                ctr += 8;
            }
            let rest = chunks.into_remainder();
            if !rest.is_empty() {
                let mut buf = [0u8; 512];
                buf[..rest.len()].copy_from_slice(rest);
                eight_blocks(&input, ctr, &mut buf);
                rest.copy_from_slice(&buf[..rest.len()]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::salsa::Salsa;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn xor_matches_scalar(dst in proptest::collection::vec(any::<u8>(), 0..1600), src in proptest::collection::vec(any::<u8>(), 0..1600), skip in 0usize..64, dskip in 0usize..64) {
            let src = &src[skip.min(src.len())..];
            let dskip = dskip.min(dst.len());
            let mut a = dst.clone();
            let mut b = dst.clone();
            super::xor_in_place(&mut a[dskip..], src);
            super::xor_scalar(&mut b[dskip..], src);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn salsa20_simd_matches_reference(key in any::<[u8; 32]>(), nonce in any::<[u8; 8]>(), data in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let s = Salsa::new(&key);
            let mut a = data.clone();
            let mut b = data.clone();
            if super::salsa20_xor(&key, &nonce, &mut a) {
                s.apply_reference(&nonce, &mut b);
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn xor_every_length_and_alignment() {
        let src: Vec<u8> = (0..1700u32)
            .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 9) as u8)
            .collect();
        let dst: Vec<u8> = (0..1700u32)
            .map(|i| (i.wrapping_mul(0x85EB_CA6B) >> 7) as u8)
            .collect();
        for n in (0..=300).chain([
            511, 512, 513, 1023, 1024, 1025, 1400, 1499, 1500, 1501, 1600,
        ]) {
            for doff in 0..64 {
                for soff in [0, 1, 3, 8, 15, 16, 17, 31, 32, 33, 48, 63] {
                    let mut a = dst.clone();
                    let mut b = dst.clone();
                    super::xor_in_place(&mut a[doff..doff + n], &src[soff..soff + n]);
                    super::xor_scalar(&mut b[doff..doff + n], &src[soff..soff + n]);
                    assert!(a == b, "len {n} dst offset {doff} src offset {soff}");
                }
            }
        }
        // Unequal lengths: only the common prefix changes.
        let mut a = dst[..100].to_vec();
        super::xor_in_place(&mut a, &src[..40]);
        let mut b = dst[..100].to_vec();
        super::xor_scalar(&mut b, &src[..40]);
        assert_eq!(a, b);
    }

    #[test]
    fn salsa20_long_counter_runs_match() {
        // Several 512-byte chunks plus a tail, past the 32-bit word boundary of nothing in particular.
        let key = [7u8; 32];
        let nonce = [1u8; 8];
        let mut a = vec![0u8; 65_507];
        let mut b = a.clone();
        if super::salsa20_xor(&key, &nonce, &mut a) {
            Salsa::new(&key).apply_reference(&nonce, &mut b);
            assert!(a == b);
        }
    }
}
