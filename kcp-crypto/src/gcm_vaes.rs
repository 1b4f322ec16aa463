//! AES-128/256-GCM (NIST SP 800-38D; 96-bit IV, no associated data) on
//! 512-bit VAES + VPCLMULQDQ with AVX-512, written from the spec.
//!
//! * CTR: four counter blocks per 512-bit register, four registers (sixteen
//!   blocks, 256 bytes) per step so the VAES latency is hidden. Counters are
//!   kept byte-reversed, where GCM's `inc32` is a plain 32-bit lane add.
//! * GHASH works on byte-reversed blocks: with `rev(A)` the block read as a
//!   big-endian integer, bit `j` holds the coefficient of `x^(127 - j)`, and
//!   the carry-less product `rev(A) ⊗ rev(B)` is the 256-bit reflected form
//!   of `A·B·x`. The key table therefore holds `K_k = H^k · x⁻¹` (so a
//!   product with `K_k` is `A·H^k`) for k = 1..=16, and sixteen blocks are
//!   multiplied by `H^16 … H^1` and summed unreduced (aggregated reduction):
//!   one reduction per 256 bytes.
//! * Reduction mod `P = x^128 + x^7 + x^2 + x + 1` of the reflected 256-bit
//!   value `[q0 q1 q2 q3]` (64-bit words, `q0` = the highest degrees) folds
//!   `q0` and then `q1` into the upper half: cancelling a term of degree
//!   `128 + d` adds `x^d · (x^7 + x^2 + x + 1)`, which in reflected bit
//!   positions is `+128` (the word moved two places up) plus `+121, +126,
//!   +127` (one carry-less product with `0xC2 << 56`, one word up).
//! * The tail (up to 255 bytes plus the length block) runs through masked
//!   loads and stores, and the length block joins the last aggregated group.
//!
//! Used only when the CPU has AVX-512F/BW/VL, VAES and VPCLMULQDQ (checked at
//! run time in [`VaesGcm::new`]); otherwise `aead.rs` uses `ring`. Tests
//! compare it with RustCrypto `aes-gcm` and NIST vectors (`tests/gcm.rs`).
#![allow(unsafe_code)]
#![allow(unused_unsafe)] // some intrinsics are safe in `target_feature` functions on newer compilers

use core::arch::x86_64::*;

/// Largest input taken here: the 32-bit block counter (starting at 2) never
/// wraps below it. Longer inputs go to the fallback.
pub(crate) const MAX_LEN: usize = 1 << 32;

/// Powers of `H` per aggregated group (four 512-bit registers).
const GROUP: usize = 16;

/// `K_k = H^k · x⁻¹` in reflected form, descending: `pow[i] = K_(16 - i)`
/// for i in 0..16, then four zero entries so a tail group's window
/// `pow[16 - m ..]` (m blocks) never reads past the end.
#[repr(C, align(64))]
struct Powers([u128; GROUP + 4]);

/// AES round keys and the GHASH key table.
pub(crate) struct VaesGcm {
    rk: [[u8; 16]; 15],
    rounds: usize,
    pow: Powers,
}

impl VaesGcm {
    /// `None` when the CPU lacks one of the needed features or the key is
    /// not 16 or 32 bytes.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if !(key.len() == 16 || key.len() == 32) || !supported() {
            return None;
        }
        let (rk, rounds) = crate::aesni::expand_key(key)?;
        let mut g = VaesGcm {
            rk,
            rounds,
            pow: Powers([0; GROUP + 4]),
        };
        // SAFETY: `supported()` checked every feature `init_powers` enables.
        unsafe { init_powers(&mut g) };
        Some(g)
    }

    /// Encrypts `data` (at most [`MAX_LEN`] bytes) in place; returns the tag.
    pub(crate) fn seal(&self, nonce: &[u8; 12], data: &mut [u8]) -> [u8; 16] {
        assert!(data.len() <= MAX_LEN);
        // SAFETY: `new` checked the CPU features; the length is within MAX_LEN.
        unsafe {
            if self.rounds == 10 {
                crypt::<10, true>(self, nonce, data)
            } else {
                crypt::<14, true>(self, nonce, data)
            }
        }
    }

    /// Checks `tag` and decrypts `data` (at most [`MAX_LEN`] bytes) in place
    /// (GHASH reads each ciphertext block before it is overwritten); `false`
    /// on a mismatch, leaving `data` unspecified.
    pub(crate) fn open(&self, nonce: &[u8; 12], data: &mut [u8], tag: &[u8; 16]) -> bool {
        assert!(data.len() <= MAX_LEN);
        // SAFETY: as in `seal`.
        unsafe {
            let want = if self.rounds == 10 {
                crypt::<10, false>(self, nonce, data)
            } else {
                crypt::<14, false>(self, nonce, data)
            };
            tags_equal(&want, tag)
        }
    }
}

/// Whether the CPU has everything the fast path uses.
fn supported() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("vaes")
        && std::is_x86_feature_detected!("vpclmulqdq")
        && std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("sse4.1")
}

/// Constant-time tag comparison (one `ptest`, no early exit).
#[target_feature(enable = "sse4.1")]
unsafe fn tags_equal(a: &[u8; 16], b: &[u8; 16]) -> bool {
    // SAFETY: both arrays are 16 readable bytes; unaligned loads.
    unsafe {
        let d = _mm_xor_si128(
            _mm_loadu_si128(a.as_ptr().cast()),
            _mm_loadu_si128(b.as_ptr().cast()),
        );
        _mm_testz_si128(d, d) == 1
    }
}

/// Byte reversal inside each 128-bit lane.
#[inline(always)]
unsafe fn bswap_mask() -> __m512i {
    // SAFETY: callers run with AVX-512F enabled.
    unsafe {
        _mm512_broadcast_i32x4(_mm_set_epi8(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        ))
    }
}

/// The reduction constant `0xC2 << 56` in both 64-bit words.
#[inline(always)]
unsafe fn poly() -> __m128i {
    // SAFETY: SSE2 is part of x86-64.
    unsafe { _mm_set1_epi64x(0xC200_0000_0000_0000_u64 as i64) }
}

/// Reduces the reflected 256-bit value `hi:lo` modulo `P` (module docs).
#[inline(always)]
unsafe fn reduce(lo: __m128i, hi: __m128i) -> __m128i {
    // SAFETY: callers run with PCLMULQDQ and SSE2 enabled.
    unsafe {
        let c = poly();
        let t = _mm_clmulepi64_si128::<0x00>(lo, c);
        let l = _mm_xor_si128(_mm_shuffle_epi32::<0x4E>(lo), t);
        let t = _mm_clmulepi64_si128::<0x00>(l, c);
        _mm_xor_si128(_mm_xor_si128(hi, _mm_shuffle_epi32::<0x4E>(l)), t)
    }
}

/// `a · b · x` for reflected `a`, `b` (so `a ⊗ K_k` is `a · H^k`).
#[inline(always)]
unsafe fn gf_mul(a: __m128i, b: __m128i) -> __m128i {
    // SAFETY: callers run with PCLMULQDQ and SSE2 enabled.
    unsafe {
        let lo = _mm_clmulepi64_si128::<0x00>(a, b);
        let hi = _mm_clmulepi64_si128::<0x11>(a, b);
        let mid = _mm_xor_si128(
            _mm_clmulepi64_si128::<0x01>(a, b),
            _mm_clmulepi64_si128::<0x10>(a, b),
        );
        reduce(
            _mm_xor_si128(lo, _mm_slli_si128::<8>(mid)),
            _mm_xor_si128(hi, _mm_srli_si128::<8>(mid)),
        )
    }
}

/// `H = E(K, 0¹²⁸)`, then `K_1 = H · x⁻¹` and `K_(k+1) = K_k ⊗ K_1`.
#[target_feature(enable = "aes,pclmulqdq,sse2,sse4.1")]
unsafe fn init_powers(g: &mut VaesGcm) {
    // SAFETY: the caller checked the features; loads and stores are on
    // 16-byte round keys and `u128` table entries.
    unsafe {
        let k = |r: usize| _mm_loadu_si128(g.rk[r].as_ptr().cast());
        let mut h = _mm_xor_si128(_mm_setzero_si128(), k(0));
        for r in 1..g.rounds {
            h = _mm_aesenc_si128(h, k(r));
        }
        h = _mm_aesenclast_si128(h, k(g.rounds));
        let mut hb = [0u8; 16];
        _mm_storeu_si128(hb.as_mut_ptr().cast(), h);
        let h = u128::from_be_bytes(hb);
        // Multiplying by x⁻¹ shifts the reflected form left; the x⁰ term
        // that falls off becomes x⁻¹ = x^127 + x^6 + x + 1 (mod P).
        let k1 = (h << 1) ^ if h >> 127 == 1 { (0xC2 << 120) | 1 } else { 0 };
        let to = |v: u128| _mm_loadu_si128((&v as *const u128).cast());
        let k1x = to(k1);
        let mut kk = k1x;
        for i in (0..GROUP).rev() {
            _mm_storeu_si128((&mut g.pow.0[i] as *mut u128).cast(), kk);
            kk = gf_mul(kk, k1x);
        }
    }
}

/// Expanded round keys broadcast to all four lanes.
struct Keys<const NR: usize> {
    k: [__m512i; 15],
}

impl<const NR: usize> Keys<NR> {
    #[inline(always)]
    unsafe fn load(rk: &[[u8; 16]; 15]) -> Self {
        // SAFETY: each `rk[i]` is 16 readable bytes; AVX-512F enabled by callers.
        unsafe {
            let mut k = [_mm512_setzero_si512(); 15];
            for (kv, r) in k.iter_mut().zip(rk) {
                *kv = _mm512_broadcast_i32x4(_mm_loadu_si128(r.as_ptr().cast()));
            }
            Keys { k }
        }
    }

    /// Encrypts four byte-reversed counter registers.
    #[inline(always)]
    unsafe fn encrypt4(&self, ctr: [__m512i; 4], bswap: __m512i) -> [__m512i; 4] {
        // SAFETY: callers run with AVX-512F/BW and VAES enabled.
        unsafe {
            let mut b = ctr;
            for v in b.iter_mut() {
                *v = _mm512_xor_si512(_mm512_shuffle_epi8(*v, bswap), self.k[0]);
            }
            for r in 1..NR {
                for v in b.iter_mut() {
                    *v = _mm512_aesenc_epi128(*v, self.k[r]);
                }
            }
            for v in b.iter_mut() {
                *v = _mm512_aesenclast_epi128(*v, self.k[NR]);
            }
            b
        }
    }

    /// [`encrypt4`](Self::encrypt4) with the GHASH products of the sixteen
    /// reflected blocks `x` (by `H^16 … H^1`) issued between the AES rounds,
    /// so both run in the same window (`y` is added to the first block).
    /// Returns the key stream and the new GHASH state.
    #[inline(always)]
    unsafe fn encrypt4_ghash(
        &self,
        ctr: [__m512i; 4],
        bswap: __m512i,
        pw: &[__m512i; 4],
        y: __m128i,
        x: [__m512i; 4],
    ) -> ([__m512i; 4], __m128i) {
        // SAFETY: callers run with AVX-512F/BW/VL, VAES, VPCLMULQDQ and
        // PCLMULQDQ enabled.
        unsafe {
            let mut acc = Acc {
                lo: _mm512_setzero_si512(),
                mid: _mm512_setzero_si512(),
                hi: _mm512_setzero_si512(),
            };
            let mut b = ctr;
            for v in b.iter_mut() {
                *v = _mm512_xor_si512(_mm512_shuffle_epi8(*v, bswap), self.k[0]);
            }
            for r in 1..NR {
                for v in b.iter_mut() {
                    *v = _mm512_aesenc_epi128(*v, self.k[r]);
                }
                // One register of products every other round (rounds 1, 3, 5, 7).
                if r % 2 == 1 && r / 2 < 4 {
                    let j = r / 2;
                    let xj = if j == 0 {
                        _mm512_xor_si512(x[0], _mm512_zextsi128_si512(y))
                    } else {
                        x[j]
                    };
                    acc.mul_add(xj, pw[j]);
                }
            }
            for v in b.iter_mut() {
                *v = _mm512_aesenclast_epi128(*v, self.k[NR]);
            }
            (b, acc.finish())
        }
    }

    #[inline(always)]
    unsafe fn encrypt1(&self, ctr: __m512i, bswap: __m512i) -> __m512i {
        // SAFETY: as in `encrypt4`.
        unsafe {
            let mut v = _mm512_xor_si512(_mm512_shuffle_epi8(ctr, bswap), self.k[0]);
            for r in 1..NR {
                v = _mm512_aesenc_epi128(v, self.k[r]);
            }
            _mm512_aesenclast_epi128(v, self.k[NR])
        }
    }
}

/// The next four counter registers (byte-reversed, 16 blocks); `inc32` is
/// a 32-bit lane add.
#[inline(always)]
unsafe fn next4(ctr: &mut __m512i, inc4: __m512i) -> [__m512i; 4] {
    // SAFETY: callers run with AVX-512F enabled.
    unsafe {
        let mut c = [*ctr; 4];
        for v in c.iter_mut() {
            *v = *ctr;
            *ctr = _mm512_add_epi32(*ctr, inc4);
        }
        c
    }
}

/// Unreduced GHASH sums: `lo`, `mid`, `hi` words of the 256-bit products.
struct Acc {
    lo: __m512i,
    mid: __m512i,
    hi: __m512i,
}

impl Acc {
    /// Adds `x ⊗ p` lane by lane. (Karatsuba's three products instead of
    /// four measured slower here: the extra shuffles cost more than the
    /// saved VPCLMULQDQ.)
    #[inline(always)]
    unsafe fn mul_add(&mut self, x: __m512i, p: __m512i) {
        // SAFETY: callers run with AVX-512F and VPCLMULQDQ enabled.
        unsafe {
            self.lo = _mm512_xor_si512(self.lo, _mm512_clmulepi64_epi128::<0x00>(x, p));
            self.hi = _mm512_xor_si512(self.hi, _mm512_clmulepi64_epi128::<0x11>(x, p));
            // mid ^= x.lo·p.hi ^ x.hi·p.lo (0x96: three-way XOR)
            self.mid = _mm512_ternarylogic_epi64::<0x96>(
                self.mid,
                _mm512_clmulepi64_epi128::<0x01>(x, p),
                _mm512_clmulepi64_epi128::<0x10>(x, p),
            );
        }
    }

    /// Sums the four lanes and reduces: the new GHASH state (reflected).
    #[inline(always)]
    unsafe fn finish(self) -> __m128i {
        // SAFETY: callers run with AVX-512F/VL, PCLMULQDQ enabled.
        unsafe {
            let lo = _mm512_xor_si512(self.lo, _mm512_bslli_epi128::<8>(self.mid));
            let hi = _mm512_xor_si512(self.hi, _mm512_bsrli_epi128::<8>(self.mid));
            reduce(hsum(lo), hsum(hi))
        }
    }
}

/// XOR of the four 128-bit lanes.
#[inline(always)]
unsafe fn hsum(v: __m512i) -> __m128i {
    // SAFETY: callers run with AVX-512F enabled.
    unsafe {
        let y = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
        _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y))
    }
}

/// GHASH of one group of `m <= 16` reflected blocks in `x` (block `i` is
/// lane `i % 4` of `x[i / 4]`, lanes past `m` zero), continuing from state
/// `y`: `(y ⊕ X_1)·H^m ⊕ X_2·H^(m-1) ⊕ … ⊕ X_m·H`.
#[inline(always)]
unsafe fn ghash_group(pow: &Powers, y: __m128i, x: &[__m512i], m: usize) -> __m128i {
    // SAFETY: AVX-512F/VPCLMULQDQ enabled by callers; table loads stay in
    // `pow.0[16 - m .. 16 - m + 4 ceil(m / 4)]`, inside its 20 entries.
    unsafe {
        let base = pow.0.as_ptr().add(GROUP - m);
        let mut acc = Acc {
            lo: _mm512_setzero_si512(),
            mid: _mm512_setzero_si512(),
            hi: _mm512_setzero_si512(),
        };
        for (j, &xj) in x.iter().enumerate().take(m.div_ceil(4)) {
            let xj = if j == 0 {
                _mm512_xor_si512(xj, _mm512_zextsi128_si512(y))
            } else {
                xj
            };
            acc.mul_add(xj, _mm512_loadu_si512(base.add(4 * j).cast()));
        }
        acc.finish()
    }
}

/// CTR + GHASH over `data`; `SEAL` encrypts (GHASH over the output),
/// otherwise decrypts (GHASH over the input). Returns the tag.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,sse4.1")]
unsafe fn crypt<const NR: usize, const SEAL: bool>(
    g: &VaesGcm,
    nonce: &[u8; 12],
    data: &mut [u8],
) -> [u8; 16] {
    // SAFETY: the caller checked the features and `data.len() <= MAX_LEN`.
    // Full-register loads and stores are at `p + 256 c + 64 i` with
    // `256 (c + 1) <= len`; tail accesses are masked to bytes `< len`.
    unsafe {
        let len = data.len();
        let p = data.as_mut_ptr();
        let keys = Keys::<NR>::load(&g.rk);
        let bswap = bswap_mask();
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        let j0 = _mm_loadu_si128(j0.as_ptr().cast());
        // E(K, J0), the tag mask.
        let ej0 = _mm512_castsi512_si128(keys.encrypt1(
            _mm512_castsi128_si512(_mm_shuffle_epi8(j0, _mm512_castsi512_si128(bswap))),
            bswap,
        ));
        // Byte-reversed counters J0 + 1 .. J0 + 4; `inc32` is a lane add.
        let mut ctr = _mm512_add_epi32(
            _mm512_broadcast_i32x4(_mm_shuffle_epi8(j0, _mm512_castsi512_si128(bswap))),
            _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1),
        );
        let inc4 = _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, 4));
        let mut y = _mm_setzero_si128();

        let full = len / 256;
        let mut pw = [_mm512_setzero_si512(); 4];
        for (j, v) in pw.iter_mut().enumerate() {
            *v = _mm512_loadu_si512(g.pow.0.as_ptr().add(4 * j).cast());
        }
        if SEAL && full > 0 {
            // GHASH of chunk `c - 1`'s ciphertext runs inside chunk `c`'s AES.
            let ks = keys.encrypt4(next4(&mut ctr, inc4), bswap);
            let mut prev = [_mm512_setzero_si512(); 4];
            for (i, (pv, k)) in prev.iter_mut().zip(ks).enumerate() {
                let o = _mm512_xor_si512(_mm512_loadu_si512(p.add(64 * i).cast()), k);
                _mm512_storeu_si512(p.add(64 * i).cast(), o);
                *pv = _mm512_shuffle_epi8(o, bswap);
            }
            for c in 1..full {
                let q = p.add(256 * c);
                let (ks, y2) = keys.encrypt4_ghash(next4(&mut ctr, inc4), bswap, &pw, y, prev);
                y = y2;
                for (i, (pv, k)) in prev.iter_mut().zip(ks).enumerate() {
                    let o = _mm512_xor_si512(_mm512_loadu_si512(q.add(64 * i).cast()), k);
                    _mm512_storeu_si512(q.add(64 * i).cast(), o);
                    *pv = _mm512_shuffle_epi8(o, bswap);
                }
            }
            y = ghash_group(&g.pow, y, &prev, GROUP);
        } else {
            // Opening (and sealing less than one chunk): GHASH reads the
            // input, independent of the AES, so the out-of-order core
            // overlaps them without help (stitching measured slower here).
            for c in 0..full {
                let q = p.add(256 * c);
                let ks = keys.encrypt4(next4(&mut ctr, inc4), bswap);
                let mut inp = [_mm512_setzero_si512(); 4];
                for (i, v) in inp.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(q.add(64 * i).cast());
                }
                for (i, k) in ks.into_iter().enumerate() {
                    _mm512_storeu_si512(q.add(64 * i).cast(), _mm512_xor_si512(inp[i], k));
                }
                let mut x = inp;
                for v in x.iter_mut() {
                    *v = _mm512_shuffle_epi8(*v, bswap);
                }
                y = ghash_group(&g.pow, y, &x, GROUP);
            }
        }

        // Tail: < 256 bytes, then the length block.
        let done = 256 * full;
        let rem = len - done;
        let mut x = [_mm512_setzero_si512(); 5];
        for (i, xi) in x.iter_mut().enumerate().take(rem.div_ceil(64)) {
            let q = p.add(done + 64 * i);
            let n = (rem - 64 * i).min(64);
            let mask: __mmask64 = if n == 64 { !0 } else { (1u64 << n) - 1 };
            let ks = keys.encrypt1(ctr, bswap);
            ctr = _mm512_add_epi32(ctr, inc4);
            let inp = _mm512_maskz_loadu_epi8(mask, q.cast());
            let out = _mm512_maskz_mov_epi8(mask, _mm512_xor_si512(inp, ks));
            _mm512_mask_storeu_epi8(q.cast(), mask, out);
            *xi = _mm512_shuffle_epi8(if SEAL { out } else { inp }, bswap);
        }
        let nb = rem.div_ceil(16);
        // Reflected length block: len(A) = 0 in the high word, len(C) in bits.
        let lens = _mm512_broadcast_i32x4(_mm_set_epi64x(0, (len as u64 * 8) as i64));
        x[nb / 4] = _mm512_mask_mov_epi64(x[nb / 4], 0b11 << (2 * (nb % 4)), lens);
        let m = nb + 1;
        if m <= GROUP {
            y = ghash_group(&g.pow, y, &x[..4], m);
        } else {
            y = ghash_group(&g.pow, y, &x[..4], GROUP);
            y = ghash_group(&g.pow, y, &x[4..], 1);
        }
        let s = _mm_shuffle_epi8(y, _mm512_castsi512_si128(bswap));
        let mut tag = [0u8; 16];
        _mm_storeu_si128(tag.as_mut_ptr().cast(), _mm_xor_si128(s, ej0));
        tag
    }
}
