//! AES-CFB on raw AES-NI, the hot path for kcptun's default ciphers.
//!
//! CFB encryption is one long dependency chain (block `i + 1`'s cipher input
//! is block `i`'s ciphertext), so a packet costs `blocks × rounds × aesenc
//! latency`. Going through the `aes` crate one block per call roughly doubled
//! that (key reloads and dispatch per block); here the round keys stay in
//! registers and the first-round XOR is folded into the previous block's
//! last round: with `x = input ^ k0`, `aesenclast(s, k_last ^ k0 ^ p)` yields
//! `ciphertext ^ k0` directly, so the chain is exactly `rounds` instructions
//! per block. [`encrypt_lanes`] runs up to eight packets' chains side by side,
//! which hides the latency, and [`encrypt_lanes16`] sixteen with 512-bit VAES
//! (four packets per instruction); decryption is parallel inside a packet
//! anyway (eight blocks in flight on AES-NI, sixteen on VAES).
//!
//! Used only when the CPU has AES-NI (VAES and AVX-512F for the wide paths,
//! all checked at run time); the `aes` crate path in `cfb.rs` is the
//! reference the tests compare against, and the wide paths are also tested
//! against the 128-bit ones.
#![allow(unsafe_code)]
#![allow(unused_unsafe)] // intrinsics need `unsafe` on Rust 1.85, not on newer compilers

use crate::cfb::{IV, LANES};
use core::arch::x86_64::*;

/// Expanded AES round keys (10, 12 or 14 rounds).
#[derive(Clone)]
pub(crate) struct AesNi {
    rk: [[u8; 16]; 15],
    rounds: usize,
    /// VAES with AVX-512: [`encrypt_lanes16`](Self::encrypt_lanes16) runs
    /// four packets per instruction.
    vaes512: bool,
}

/// Packets [`AesNi::encrypt_lanes16`] runs side by side.
pub(crate) const WIDE_LANES: usize = 16;

impl AesNi {
    /// `None` when the CPU lacks AES-NI or the key is not 16, 24 or 32 bytes.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if !std::is_x86_feature_detected!("aes") || !std::is_x86_feature_detected!("sse2") {
            return None;
        }
        let (rk, rounds) = expand_key(key)?;
        let vaes512 =
            std::is_x86_feature_detected!("vaes") && std::is_x86_feature_detected!("avx512f");
        Some(AesNi {
            rk,
            rounds,
            vaes512,
        })
    }

    pub(crate) fn encrypt(&self, buf: &mut [u8]) {
        // SAFETY: `new` checked that the CPU supports AES-NI and SSE2.
        unsafe {
            match self.rounds {
                10 => encrypt_one::<10>(&self.rk, buf),
                12 => encrypt_one::<12>(&self.rk, buf),
                _ => encrypt_one::<14>(&self.rk, buf),
            }
        }
    }

    pub(crate) fn decrypt(&self, buf: &mut [u8]) {
        if self.vaes512 && buf.len() >= 256 {
            // SAFETY: `vaes512` is set only when the CPU has VAES and
            // AVX-512F (and `new` checked AES-NI and SSE2).
            unsafe {
                match self.rounds {
                    10 => decrypt_vaes::<10>(&self.rk, buf),
                    12 => decrypt_vaes::<12>(&self.rk, buf),
                    _ => decrypt_vaes::<14>(&self.rk, buf),
                }
            }
            return;
        }
        // SAFETY: as in `encrypt`.
        unsafe {
            match self.rounds {
                10 => decrypt::<10>(&self.rk, buf),
                12 => decrypt::<12>(&self.rk, buf),
                _ => decrypt::<14>(&self.rk, buf),
            }
        }
    }

    /// CFB-encrypts up to eight buffers side by side; same bytes as
    /// [`encrypt`](Self::encrypt) on each. Empty lanes are skipped.
    pub(crate) fn encrypt_lanes(&self, lanes: &mut [&mut [u8]; LANES]) {
        // SAFETY: as in `encrypt`.
        unsafe {
            match self.rounds {
                10 => encrypt_lanes::<10>(&self.rk, lanes),
                12 => encrypt_lanes::<12>(&self.rk, lanes),
                _ => encrypt_lanes::<14>(&self.rk, lanes),
            }
        }
    }
}

impl AesNi {
    /// Whether [`encrypt_lanes16`](Self::encrypt_lanes16) is available.
    pub(crate) fn has_wide_lanes(&self) -> bool {
        self.vaes512
    }

    /// Drops the VAES path (tests compare it against the 8-lane AES-NI one).
    #[cfg(test)]
    pub(crate) fn without_wide_lanes(mut self) -> Self {
        self.vaes512 = false;
        self
    }

    /// CFB-encrypts up to sixteen buffers side by side with 512-bit VAES
    /// (four packets per register, four registers); same bytes as
    /// [`encrypt`](Self::encrypt) on each. Falls back to two 8-lane calls
    /// when VAES is absent. Empty lanes are skipped.
    pub(crate) fn encrypt_lanes16(&self, lanes: &mut [&mut [u8]; WIDE_LANES]) {
        if !self.vaes512 {
            let (a, b) = lanes.split_at_mut(LANES);
            self.encrypt_lanes(a.try_into().expect("8 lanes"));
            self.encrypt_lanes(b.try_into().expect("8 lanes"));
            return;
        }
        // SAFETY: `vaes512` is set only when the CPU has VAES and AVX-512F
        // (and `new` checked AES-NI and SSE2).
        unsafe {
            match self.rounds {
                10 => encrypt_lanes16::<10>(&self.rk, lanes),
                12 => encrypt_lanes16::<12>(&self.rk, lanes),
                _ => encrypt_lanes16::<14>(&self.rk, lanes),
            }
        }
    }
}

/// FIPS-197 key expansion, in software (it runs once per key).
pub(crate) fn expand_key(key: &[u8]) -> Option<([[u8; 16]; 15], usize)> {
    let nk = match key.len() {
        16 | 24 | 32 => key.len() / 4,
        _ => return None,
    };
    let rounds = nk + 6;
    let mut w = [0u32; 60];
    for (i, word) in key.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    let mut rcon = 1u8;
    for i in nk..4 * (rounds + 1) {
        let mut t = w[i - 1];
        if i % nk == 0 {
            t = sub_word(t.rotate_left(8)) ^ (u32::from(rcon) << 24);
            rcon = xtime(rcon);
        } else if nk > 6 && i % nk == 4 {
            t = sub_word(t);
        }
        w[i] = w[i - nk] ^ t;
    }
    let mut rk = [[0u8; 16]; 15];
    for (r, k) in rk.iter_mut().enumerate().take(rounds + 1) {
        for c in 0..4 {
            k[4 * c..4 * c + 4].copy_from_slice(&w[4 * r + c].to_be_bytes());
        }
    }
    Some((rk, rounds))
}

fn xtime(a: u8) -> u8 {
    (a << 1) ^ if a & 0x80 != 0 { 0x1B } else { 0 }
}

fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = xtime(a);
        b >>= 1;
    }
    p
}

/// The AES S-box, computed (multiplicative inverse, then the affine map).
fn sbox(x: u8) -> u8 {
    // x^254 is the inverse in GF(2^8) (and maps 0 to 0).
    let mut inv = 1u8;
    for _ in 0..254 {
        inv = gf_mul(inv, x);
    }
    inv ^ inv.rotate_left(1) ^ inv.rotate_left(2) ^ inv.rotate_left(3) ^ inv.rotate_left(4) ^ 0x63
}

fn sub_word(w: u32) -> u32 {
    u32::from_be_bytes(w.to_be_bytes().map(sbox))
}

/// Round keys in registers: `k[0]`, `k[1..NR]`, and `k[NR] ^ k[0]` (the
/// folded last round, see the module docs) plus the plain last key.
struct Keys<const NR: usize> {
    k: [__m128i; 15],
    last_k0: __m128i,
}

impl<const NR: usize> Keys<NR> {
    #[inline(always)]
    unsafe fn load(rk: &[[u8; 16]; 15]) -> Self {
        // SAFETY: each `rk[i]` is 16 readable bytes; unaligned loads.
        unsafe {
            let k: [__m128i; 15] = core::array::from_fn(|i| _mm_loadu_si128(rk[i].as_ptr().cast()));
            let last_k0 = _mm_xor_si128(k[NR], k[0]);
            Keys { k, last_k0 }
        }
    }

    /// Rounds 1..NR-1 (the middle of the cipher) on a whitened state.
    #[inline(always)]
    unsafe fn middle(&self, mut x: __m128i) -> __m128i {
        // SAFETY: callers run with AES-NI enabled.
        unsafe {
            for r in 1..NR {
                x = _mm_aesenc_si128(x, self.k[r]);
            }
        }
        x
    }
}

#[inline(always)]
unsafe fn load(block: &[u8]) -> __m128i {
    debug_assert!(block.len() >= 16);
    // SAFETY: callers pass a slice of at least 16 bytes; unaligned load.
    unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
}

#[inline(always)]
unsafe fn store(block: &mut [u8], v: __m128i) {
    debug_assert!(block.len() >= 16);
    // SAFETY: callers pass a slice of at least 16 bytes; unaligned store.
    unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), v) }
}

/// Runs one lane's CFB chain over `data` from whitened state `x`
/// (`x = next cipher input ^ k0`), including a trailing partial block.
#[inline(always)]
unsafe fn chain<const NR: usize>(keys: &Keys<NR>, mut x: __m128i, data: &mut [u8]) {
    // SAFETY: AES-NI/SSE2 enabled by the callers; loads/stores are on 16-byte chunks.
    unsafe {
        let k0 = keys.k[0];
        let mut blocks = data.chunks_exact_mut(16);
        for block in &mut blocks {
            let p = load(block);
            x = _mm_aesenclast_si128(keys.middle(x), _mm_xor_si128(keys.last_k0, p));
            store(block, _mm_xor_si128(x, k0));
        }
        let tail = blocks.into_remainder();
        if !tail.is_empty() {
            let mut t = [0u8; 16];
            t[..tail.len()].copy_from_slice(tail);
            let ks = _mm_aesenclast_si128(keys.middle(x), keys.k[NR]);
            let v = _mm_xor_si128(load(&t), ks);
            store(&mut t, v);
            tail.copy_from_slice(&t[..tail.len()]);
        }
    }
}

#[target_feature(enable = "aes,sse2")]
unsafe fn encrypt_one<const NR: usize>(rk: &[[u8; 16]; 15], buf: &mut [u8]) {
    // SAFETY: the caller checked AES-NI/SSE2; `load(&IV)` reads the 16-byte IV.
    unsafe {
        let keys = Keys::<NR>::load(rk);
        chain(&keys, _mm_xor_si128(load(&IV), keys.k[0]), buf);
    }
}

#[target_feature(enable = "aes,sse2")]
unsafe fn encrypt_lanes<const NR: usize>(rk: &[[u8; 16]; 15], lanes: &mut [&mut [u8]; LANES]) {
    // SAFETY: the caller checked AES-NI/SSE2; every load/store below is on a
    // 16-byte block inside `lanes[i][..full]`.
    unsafe {
        let keys = Keys::<NR>::load(rk);
        let start = _mm_xor_si128(load(&IV), keys.k[0]);
        let mut x = [start; LANES];
        // Blocks every non-empty lane has in full: run those in lock step.
        let common = lanes
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.len() / 16)
            .min()
            .unwrap_or(0);
        let live = lanes.iter().filter(|l| !l.is_empty()).count();
        if live == LANES {
            for j in 0..common {
                let off = 16 * j;
                let mut s = x;
                for r in 1..NR {
                    for v in s.iter_mut() {
                        *v = _mm_aesenc_si128(*v, keys.k[r]);
                    }
                }
                for ((xv, sv), lane) in x.iter_mut().zip(s).zip(lanes.iter_mut()) {
                    let block = &mut lane[off..off + 16];
                    *xv = _mm_aesenclast_si128(sv, _mm_xor_si128(keys.last_k0, load(block)));
                    store(block, _mm_xor_si128(*xv, keys.k[0]));
                }
            }
        } else if live > 1 {
            // Fewer packets than lanes: same lock step over the live ones.
            for j in 0..common {
                let off = 16 * j;
                let mut s = x;
                for r in 1..NR {
                    for (v, lane) in s.iter_mut().zip(lanes.iter()) {
                        if !lane.is_empty() {
                            *v = _mm_aesenc_si128(*v, keys.k[r]);
                        }
                    }
                }
                for ((xv, sv), lane) in x.iter_mut().zip(s).zip(lanes.iter_mut()) {
                    if lane.is_empty() {
                        continue;
                    }
                    let block = &mut lane[off..off + 16];
                    *xv = _mm_aesenclast_si128(sv, _mm_xor_si128(keys.last_k0, load(block)));
                    store(block, _mm_xor_si128(*xv, keys.k[0]));
                }
            }
        }
        let done = if live > 1 { 16 * common } else { 0 };
        // Whatever is left (unequal lengths, tails) goes lane by lane.
        for (xv, lane) in x.iter().zip(lanes.iter_mut()) {
            if lane.len() > done {
                chain(&keys, *xv, &mut lane[done..]);
            }
        }
    }
}

/// 16 packets in lock step: packet `4q + i` is 128-bit lane `i` of register
/// `q`. Every block step is `NR` VAES instructions per register on the chain
/// (four independent chains), so the step costs about one chain latency for
/// 256 bytes instead of 128 with 8 AES-NI lanes. The blocks all live packets
/// have in full run here; tails and unequal lengths finish on the 128-bit
/// [`chain`].
#[target_feature(enable = "aes,sse2,avx512f,vaes")]
unsafe fn encrypt_lanes16<const NR: usize>(
    rk: &[[u8; 16]; 15],
    lanes: &mut [&mut [u8]; WIDE_LANES],
) {
    // SAFETY: the caller checked AES-NI, SSE2, AVX-512F and VAES. Every
    // pointer access below is to block `j < common` of a lane, i.e. bytes
    // `16 j .. 16 j + 16 <= 16 common <= lane.len()`.
    unsafe {
        let keys = Keys::<NR>::load(rk);
        let start = _mm_xor_si128(load(&IV), keys.k[0]);
        let live = lanes.iter().filter(|l| !l.is_empty()).count();
        let common = lanes
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.len() / 16)
            .min()
            .unwrap_or(0);
        if live < WIDE_LANES || common == 0 {
            let (a, b) = lanes.split_at_mut(LANES);
            encrypt_lanes::<NR>(rk, a.try_into().expect("8 lanes"));
            encrypt_lanes::<NR>(rk, b.try_into().expect("8 lanes"));
            return;
        }
        let wide = |k: __m128i| _mm512_broadcast_i32x4(k);
        let k: [__m512i; 15] = core::array::from_fn(|r| wide(keys.k[r]));
        let k0 = k[0];
        let last_k0 = wide(keys.last_k0);
        let ptr: [*mut u8; WIDE_LANES] = core::array::from_fn(|i| lanes[i].as_mut_ptr());
        let mut x = [wide(start); 4];
        for j in 0..common {
            let off = 16 * j;
            let mut s = x;
            for kr in &k[1..NR] {
                for v in s.iter_mut() {
                    *v = _mm512_aesenc_epi128(*v, *kr);
                }
            }
            for (q, (xv, sv)) in x.iter_mut().zip(s).enumerate() {
                let p = |i: usize| _mm_loadu_si128(ptr[4 * q + i].add(off).cast());
                let mut pt = _mm512_castsi128_si512(p(0));
                pt = _mm512_inserti32x4::<1>(pt, p(1));
                pt = _mm512_inserti32x4::<2>(pt, p(2));
                pt = _mm512_inserti32x4::<3>(pt, p(3));
                *xv = _mm512_aesenclast_epi128(sv, _mm512_xor_si512(last_k0, pt));
                let c = _mm512_xor_si512(*xv, k0);
                let st = |i: usize, v: __m128i| _mm_storeu_si128(ptr[4 * q + i].add(off).cast(), v);
                st(0, _mm512_castsi512_si128(c));
                st(1, _mm512_extracti32x4_epi32::<1>(c));
                st(2, _mm512_extracti32x4_epi32::<2>(c));
                st(3, _mm512_extracti32x4_epi32::<3>(c));
            }
        }
        let done = 16 * common;
        for (q, xv) in x.iter().enumerate() {
            let xs = [
                _mm512_castsi512_si128(*xv),
                _mm512_extracti32x4_epi32::<1>(*xv),
                _mm512_extracti32x4_epi32::<2>(*xv),
                _mm512_extracti32x4_epi32::<3>(*xv),
            ];
            for (i, xi) in xs.into_iter().enumerate() {
                let lane = &mut lanes[4 * q + i];
                if lane.len() > done {
                    chain(&keys, xi, &mut lane[done..]);
                }
            }
        }
    }
}

/// CFB decryption sixteen blocks (256 bytes) per step with 512-bit VAES
/// (four independent registers of four blocks), then the 128-bit code for
/// the rest.
#[target_feature(enable = "aes,sse2,avx512f,vaes")]
unsafe fn decrypt_vaes<const NR: usize>(rk: &[[u8; 16]; 15], buf: &mut [u8]) {
    // SAFETY: the caller checked AES-NI, SSE2, AVX-512F and VAES; loads and
    // stores are on 64-byte chunks of 256-byte groups of `buf`.
    unsafe {
        let keys = Keys::<NR>::load(rk);
        let wide = |k: __m128i| _mm512_broadcast_i32x4(k);
        let k: [__m512i; 15] = core::array::from_fn(|r| wide(keys.k[r]));
        // The previous ciphertext block sits in the top 128-bit lane.
        let mut prev = _mm512_inserti32x4::<3>(_mm512_setzero_si512(), load(&IV));
        let mut groups = buf.chunks_exact_mut(256);
        for g in &mut groups {
            let p = g.as_mut_ptr();
            let c: [__m512i; 4] =
                core::array::from_fn(|q| _mm512_loadu_si512(p.add(64 * q).cast()));
            let mut s: [__m512i; 4] = core::array::from_fn(|q| {
                let before = if q == 0 { prev } else { c[q - 1] };
                // Blocks 4q-1 .. 4q+2: the lane above of `before`, then three of `c[q]`.
                _mm512_xor_si512(_mm512_alignr_epi64::<6>(c[q], before), k[0])
            });
            for kr in &k[1..NR] {
                for v in s.iter_mut() {
                    *v = _mm512_aesenc_epi128(*v, *kr);
                }
            }
            for (q, (sv, cv)) in s.iter().zip(c).enumerate() {
                let out = _mm512_xor_si512(_mm512_aesenclast_epi128(*sv, k[NR]), cv);
                _mm512_storeu_si512(p.add(64 * q).cast(), out);
            }
            prev = c[3];
        }
        decrypt_from::<NR>(
            &keys,
            _mm512_extracti32x4_epi32::<3>(prev),
            groups.into_remainder(),
        );
    }
}

#[target_feature(enable = "aes,sse2")]
unsafe fn decrypt<const NR: usize>(rk: &[[u8; 16]; 15], buf: &mut [u8]) {
    // SAFETY: the caller checked AES-NI/SSE2.
    unsafe {
        let keys = Keys::<NR>::load(rk);
        decrypt_from::<NR>(&keys, load(&IV), buf);
    }
}

/// CFB decryption of `buf` whose previous ciphertext block is `prev`.
#[inline(always)]
unsafe fn decrypt_from<const NR: usize>(keys: &Keys<NR>, mut prev: __m128i, buf: &mut [u8]) {
    // SAFETY: the callers run with AES-NI/SSE2 enabled; loads/stores are on
    // 16-byte chunks of `buf` or on local 16-byte arrays.
    unsafe {
        let k0 = keys.k[0];
        let klast = keys.k[NR];
        let mut groups = buf.chunks_exact_mut(16 * LANES);
        for group in &mut groups {
            let c: [__m128i; LANES] = core::array::from_fn(|i| load(&group[16 * i..]));
            let mut s: [__m128i; LANES] =
                core::array::from_fn(|i| _mm_xor_si128(if i == 0 { prev } else { c[i - 1] }, k0));
            for r in 1..NR {
                for v in s.iter_mut() {
                    *v = _mm_aesenc_si128(*v, keys.k[r]);
                }
            }
            for (i, (sv, cv)) in s.iter().zip(c).enumerate() {
                store(
                    &mut group[16 * i..],
                    _mm_xor_si128(_mm_aesenclast_si128(*sv, klast), cv),
                );
            }
            prev = c[LANES - 1];
        }
        let rest = groups.into_remainder();
        let mut blocks = rest.chunks_exact_mut(16);
        for block in &mut blocks {
            let c = load(block);
            let ks = _mm_aesenclast_si128(keys.middle(_mm_xor_si128(prev, k0)), klast);
            store(block, _mm_xor_si128(c, ks));
            prev = c;
        }
        let tail = blocks.into_remainder();
        if !tail.is_empty() {
            let mut t = [0u8; 16];
            t[..tail.len()].copy_from_slice(tail);
            let ks = _mm_aesenclast_si128(keys.middle(_mm_xor_si128(prev, k0)), klast);
            let v = _mm_xor_si128(load(&t), ks);
            store(&mut t, v);
            tail.copy_from_slice(&t[..tail.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfb;
    use cipher::KeyInit;
    use proptest::prelude::*;

    fn reference(key: &[u8], data: &mut [u8], enc: bool) {
        macro_rules! go {
            ($t:ty) => {{
                let c = <$t>::new_from_slice(key).unwrap();
                if enc {
                    cfb::encrypt(&c, data)
                } else {
                    cfb::decrypt(&c, data)
                }
            }};
        }
        match key.len() {
            16 => go!(aes::Aes128),
            24 => go!(aes::Aes192),
            _ => go!(aes::Aes256),
        }
    }

    #[test]
    fn sbox_spot_checks() {
        assert_eq!(sbox(0x00), 0x63);
        assert_eq!(sbox(0x01), 0x7C);
        assert_eq!(sbox(0x53), 0xED);
        assert_eq!(sbox(0xFF), 0x16);
    }

    proptest! {
        #[test]
        fn matches_the_aes_crate(
            key in proptest::collection::vec(any::<u8>(), 32),
            klen in prop_oneof![Just(16usize), Just(24), Just(32)],
            data in proptest::collection::vec(any::<u8>(), 0..700),
            lens in proptest::collection::vec(0usize..400, 0..=8),
        ) {
            let key = &key[..klen];
            let Some(ni) = AesNi::new(key) else { return Ok(()) };
            let mut a = data.clone();
            let mut b = data.clone();
            ni.encrypt(&mut a);
            reference(key, &mut b, true);
            prop_assert_eq!(&a, &b);
            ni.decrypt(&mut a);
            reference(key, &mut b, false);
            prop_assert_eq!(&a, &data);
            prop_assert_eq!(&b, &data);

            let mut bufs: Vec<Vec<u8>> = lens.iter().map(|&l| data.iter().copied().cycle().take(l).collect()).collect();
            let mut expected = bufs.clone();
            for e in expected.iter_mut() {
                reference(key, e, true);
            }
            let mut lanes: [&mut [u8]; LANES] = Default::default();
            for (lane, b) in lanes.iter_mut().zip(bufs.iter_mut()) {
                *lane = b;
            }
            ni.encrypt_lanes(&mut lanes);
            prop_assert_eq!(&bufs, &expected);
        }

        #[test]
        fn sixteen_lanes_match_the_aes_crate(
            key in proptest::collection::vec(any::<u8>(), 32),
            klen in prop_oneof![Just(16usize), Just(24), Just(32)],
            data in proptest::collection::vec(any::<u8>(), 1..700),
            lens in proptest::collection::vec(0usize..700, 0..=16),
            same in any::<bool>(),
        ) {
            let key = &key[..klen];
            let Some(ni) = AesNi::new(key) else { return Ok(()) };
            // Equal lengths (the common case) and 16 live lanes take the VAES loop.
            let lens: Vec<usize> = if same { vec![data.len(); 16] } else { lens };
            let mut bufs: Vec<Vec<u8>> = lens.iter().enumerate()
                .map(|(i, &l)| data.iter().cycle().skip(i).copied().take(l).collect())
                .collect();
            let mut expected = bufs.clone();
            for e in expected.iter_mut() {
                reference(key, e, true);
            }
            // VAES decryption against the 128-bit code.
            for e in expected.iter() {
                let (mut a, mut b) = (e.clone(), e.clone());
                ni.decrypt(&mut a);
                ni.clone().without_wide_lanes().decrypt(&mut b);
                prop_assert_eq!(&a, &b);
            }
            // The 16-lane entry point with the VAES loop where the CPU has
            // it, and with the 128-bit code on any CPU: both must match.
            let mut narrow = bufs.clone();
            for (ni, target) in [(ni.clone(), &mut bufs), (ni.without_wide_lanes(), &mut narrow)] {
                let mut lanes: [&mut [u8]; WIDE_LANES] = Default::default();
                for (lane, b) in lanes.iter_mut().zip(target.iter_mut()) {
                    *lane = b;
                }
                ni.encrypt_lanes16(&mut lanes);
            }
            prop_assert_eq!(&bufs, &expected);
            prop_assert_eq!(&narrow, &expected);
        }
    }
}
