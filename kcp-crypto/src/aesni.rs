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
//! which hides the latency; decryption is parallel inside a packet anyway.
//!
//! Used only when the CPU has AES-NI (checked at run time); the `aes` crate
//! path in `cfb.rs` is the reference the tests compare against.
#![allow(unsafe_code)]
#![allow(unused_unsafe)] // intrinsics need `unsafe` on Rust 1.85, not on newer compilers

use crate::cfb::{IV, LANES};
use core::arch::x86_64::*;

/// Expanded AES round keys (10, 12 or 14 rounds).
#[derive(Clone)]
pub(crate) struct AesNi {
    rk: [[u8; 16]; 15],
    rounds: usize,
}

impl AesNi {
    /// `None` when the CPU lacks AES-NI or the key is not 16, 24 or 32 bytes.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if !std::is_x86_feature_detected!("aes") || !std::is_x86_feature_detected!("sse2") {
            return None;
        }
        let (rk, rounds) = expand_key(key)?;
        Some(AesNi { rk, rounds })
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

/// FIPS-197 key expansion, in software (it runs once per key).
fn expand_key(key: &[u8]) -> Option<([[u8; 16]; 15], usize)> {
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

#[target_feature(enable = "aes,sse2")]
unsafe fn decrypt<const NR: usize>(rk: &[[u8; 16]; 15], buf: &mut [u8]) {
    // SAFETY: the caller checked AES-NI/SSE2; loads/stores are on 16-byte
    // chunks of `buf` or on local 16-byte arrays.
    unsafe {
        let keys = Keys::<NR>::load(rk);
        let k0 = keys.k[0];
        let klast = keys.k[NR];
        let mut prev = load(&IV);
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
    }
}
