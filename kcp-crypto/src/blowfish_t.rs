//! Blowfish (encrypt direction only: CFB never decrypts blocks), arranged
//! for CFB: the encryption of one block is a chain of 16 rounds, so each
//! round XORs its P-array word into the other half *before* the round
//! function's result arrives (one XOR on the chain instead of two). CFB
//! decryption runs 64 blocks per step on AVX-512 VBMI byte planes
//! ([`wide`]), or five blocks' rounds interleaved on scalar lanes (four
//! for [`BlockEnc::encrypt8`], which batches use). (A sixteen-lane AVX-512
//! version with `vpgatherdd` was slower on Zen 4: 4.8 µs against 3.4 µs per
//! 1500-byte decryption.) The RustCrypto `blowfish` crate stays the
//! reference in the tests.

use crate::cfb::{BlockEnc, LANES};

#[path = "blowfish_consts.rs"]
mod consts;

/// Blowfish with its expanded P-array and S-boxes.
#[derive(Clone)]
pub(crate) struct BlowfishT {
    /// S1..S4 back to back, so one base register indexes all four.
    s: Box<[u32; 1024]>,
    p: [u32; 18],
    /// The S-boxes and P-array [`widen`]ed, for the serial CFB chain.
    s64: Box<[u64; 1024]>,
    p64: [u64; 18],
    /// The S-boxes as byte planes, for the AVX-512 CFB decryption.
    #[cfg(target_arch = "x86_64")]
    planes: Box<[crate::planes::SboxPlanes; 4]>,
}

/// `x` in the low 32 bits and `x << 8` (mod 2^32) in the high 32 bits.
/// Additions and XORs of such words keep bits 40..64 equal to bits 0..24
/// of the low half (a carry out of the low half only reaches bits 32..40,
/// which are zero in every table word), so byte 2 of the low half is also
/// the top byte: one shift instead of a shift and a mask on the chain.
#[inline(always)]
fn widen(x: u32) -> u64 {
    u64::from(x) | (u64::from(x << 8) << 32)
}

impl BlowfishT {
    /// `None` unless the key is 1 to 56 bytes (Go's `blowfish.NewCipher`;
    /// the key bytes are cycled over the P-array).
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if key.is_empty() || key.len() > 56 {
            return None;
        }
        let mut s = Box::new([0u32; 1024]);
        for (d, src) in s.chunks_exact_mut(256).zip(&consts::S) {
            d.copy_from_slice(src);
        }
        let mut c = BlowfishT {
            s,
            p: consts::P,
            s64: Box::new([0; 1024]),
            p64: [0; 18],
            #[cfg(target_arch = "x86_64")]
            planes: Box::new([const { crate::planes::SboxPlanes::zero() }; 4]),
        };
        let mut pos = 0;
        for p in c.p.iter_mut() {
            let mut v = 0u32;
            for _ in 0..4 {
                v = (v << 8) | u32::from(key[pos]);
                pos = (pos + 1) % key.len();
            }
            *p ^= v;
        }
        let mut lr = (0u32, 0u32);
        for i in 0..9 {
            lr = c.encrypt_words(lr);
            (c.p[2 * i], c.p[2 * i + 1]) = lr;
        }
        for i in 0..4 {
            for j in 0..128 {
                lr = c.encrypt_words(lr);
                (c.s[256 * i + 2 * j], c.s[256 * i + 2 * j + 1]) = lr;
            }
        }
        for (w, &x) in c.s64.iter_mut().zip(c.s.iter()) {
            *w = widen(x);
        }
        c.p64 = c.p.map(widen);
        #[cfg(target_arch = "x86_64")]
        for (t, s) in c.planes.iter_mut().zip(c.s.chunks_exact(256)) {
            *t = crate::planes::SboxPlanes::new(s.try_into().expect("256 entries"));
        }
        Some(c)
    }

    /// The round function on a [`widen`]ed half (valid in its low 32 bits
    /// and, from bit 40 up, as [`widen`] describes).
    #[inline(always)]
    fn f_wide(&self, x: u64) -> u64 {
        let s = &*self.s64;
        let a = s[((x as u32) >> 24) as usize];
        let b = s[256 + (x >> 56) as usize];
        let c = s[512 + ((x >> 8) & 0xff) as usize];
        let d = s[768 + (x & 0xff) as usize];
        (a.wrapping_add(b) ^ c).wrapping_add(d)
    }

    /// [`Self::encrypt_words`] on [`widen`]ed halves.
    #[inline(always)]
    fn encrypt_wide(&self, l: u64, r: u64) -> (u64, u64) {
        let p = &self.p64;
        let (mut l, mut r) = (l ^ p[0], r);
        for i in 0..8 {
            r = crate::simd::opaque64(r ^ p[2 * i + 1]) ^ self.f_wide(l);
            l = crate::simd::opaque64(l ^ p[2 * i + 2]) ^ self.f_wide(r);
        }
        (r ^ p[17], l)
    }

    #[inline(always)]
    fn f(&self, x: u32) -> u32 {
        let s = &*self.s;
        let a = s[(x >> 24) as usize];
        let b = s[256 + ((x >> 16) & 0xff) as usize];
        let c = s[512 + ((x >> 8) & 0xff) as usize];
        let d = s[768 + (x & 0xff) as usize];
        (a.wrapping_add(b) ^ c).wrapping_add(d)
    }

    /// One block as its big-endian halves; returns the output halves.
    #[inline(always)]
    fn encrypt_words(&self, (l, r): (u32, u32)) -> (u32, u32) {
        use crate::simd::opaque;
        let (mut l, mut r) = (l ^ self.p[0], r);
        for i in 0..8 {
            r = opaque(r ^ self.p[2 * i + 1]) ^ self.f(l);
            l = opaque(l ^ self.p[2 * i + 2]) ^ self.f(r);
        }
        (r ^ self.p[17], l)
    }

    /// `L` blocks (big-endian halves) through the rounds in lock step.
    #[inline(always)]
    fn encrypt_n<const L: usize>(&self, mut l: [u32; L], mut r: [u32; L]) -> ([u32; L], [u32; L]) {
        for l in l.iter_mut() {
            *l ^= self.p[0];
        }
        for i in 0..8 {
            for (r, l) in r.iter_mut().zip(&l) {
                *r ^= self.p[2 * i + 1] ^ self.f(*l);
            }
            for (l, r) in l.iter_mut().zip(&r) {
                *l ^= self.p[2 * i + 2] ^ self.f(*r);
            }
        }
        for r in r.iter_mut() {
            *r ^= self.p[17];
        }
        (r, l)
    }
}

impl BlockEnc<8> for BlowfishT {
    #[inline]
    fn encrypt(&self, block: &mut [u8; 8]) {
        let l = u32::from_be_bytes(block[..4].try_into().expect("4 bytes"));
        let r = u32::from_be_bytes(block[4..].try_into().expect("4 bytes"));
        let (l, r) = self.encrypt_words((l, r));
        block[..4].copy_from_slice(&l.to_be_bytes());
        block[4..].copy_from_slice(&r.to_be_bytes());
    }

    #[inline]
    fn encrypt8(&self, blocks: &mut [[u8; 8]; LANES]) {
        crate::cfb::encrypt8_be_quads(blocks, |l, r| self.encrypt_n::<4>(l, r));
    }

    fn encrypt_cfb(&self, buf: &mut [u8]) {
        crate::cfb::encrypt_be_halves(buf, widen, |x| x as u32, |l, r| self.encrypt_wide(l, r));
    }

    fn decrypt_cfb(&self, buf: &mut [u8]) {
        crate::cfb::decrypt_be_halves::<5>(buf, |l, r| self.encrypt_n::<5>(l, r));
    }
}

/// CFB decryption with AVX-512 VBMI, 64 blocks per step on byte planes
/// ([`crate::planes`]): 16 rounds of four `vpermi2b` lookups per S-box
/// byte plane instead of one scalar lane per block.
#[cfg(target_arch = "x86_64")]
pub(crate) mod wide {
    #![allow(unsafe_code)]

    use super::BlowfishT;
    use crate::planes::{self, SboxPlanes, Word};

    /// Below this many bytes the scalar lanes are faster than one padded
    /// 64-block step (one step costs about as much as 190–200 bytes on
    /// the scalar lanes).
    const MIN: usize = 200;

    /// kcp-go's CFB decryption of `buf` (as `cfb::decrypt`); `false` when
    /// the buffer is short or the CPU lacks AVX-512 VBMI (the caller then
    /// runs the scalar path).
    pub(crate) fn cfb_decrypt_wide(c: &BlowfishT, buf: &mut [u8]) -> bool {
        if buf.len() < MIN || !planes::available() {
            return false;
        }
        // SAFETY: `planes::available` checked AVX-512F, AVX-512BW and AVX-512VBMI.
        let (done, prev) = unsafe { decrypt(c, buf) };
        crate::cfb::decrypt_be_halves_after::<5>(&mut buf[done..], prev, |l, r| {
            c.encrypt_n::<5>(l, r)
        });
        true
    }

    /// The round function on 64 blocks.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn f(s: &[SboxPlanes; 4], x: Word) -> Word {
        let a = planes::lookup(&s[0], x[3]);
        let b = planes::lookup(&s[1], x[2]);
        let c = planes::lookup(&s[2], x[1]);
        let d = planes::lookup(&s[3], x[0]);
        planes::add(planes::xor(planes::add(a, b), c), d)
    }

    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW and AVX-512VBMI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn decrypt(c: &BlowfishT, buf: &mut [u8]) -> (usize, [u8; 8]) {
        let (s, p) = (&*c.planes, &c.p);
        // SAFETY: the caller's features are this function's.
        unsafe {
            planes::cfb_decrypt(buf, MIN, |l, r| {
                let mut l = planes::xor(l, planes::splat(p[0]));
                let mut r = r;
                for i in 0..8 {
                    r = planes::xor_xor_const(r, f(s, l), p[2 * i + 1]);
                    l = planes::xor_xor_const(l, f(s, r), p[2 * i + 2]);
                }
                (planes::xor(r, planes::splat(p[17])), l)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipher::generic_array::GenericArray;
    use cipher::{BlockEncrypt, KeyInit};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_the_blowfish_crate(
            key in proptest::collection::vec(any::<u8>(), 4..=56),
            blocks in any::<[[u8; 8]; LANES]>(),
        ) {
            let ours = BlowfishT::new(&key).unwrap();
            let theirs: blowfish::Blowfish = KeyInit::new_from_slice(&key).unwrap();
            let mut expected = blocks;
            for b in expected.iter_mut() {
                theirs.encrypt_block(GenericArray::from_mut_slice(b));
            }
            let mut one = blocks;
            for b in one.iter_mut() {
                ours.encrypt(b);
            }
            prop_assert_eq!(one, expected);
            let mut eight = blocks;
            ours.encrypt8(&mut eight);
            prop_assert_eq!(eight, expected);
        }

        #[test]
        fn short_keys_cycle(key in proptest::collection::vec(any::<u8>(), 1..4), block in any::<[u8; 8]>()) {
            let repeated: Vec<u8> = key.iter().copied().cycle().take(12).collect();
            let (mut a, mut b) = (block, block);
            BlowfishT::new(&key).unwrap().encrypt(&mut a);
            BlowfishT::new(&repeated).unwrap().encrypt(&mut b);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn cfb_encrypt_matches_the_crate(key in proptest::collection::vec(any::<u8>(), 1..=56), data in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let ours = BlowfishT::new(&key).unwrap();
            let theirs: blowfish::Blowfish = KeyInit::new_from_slice(&repeat_to_4(&key)).unwrap();
            let mut a = data.clone();
            let mut b = data.clone();
            crate::cfb::encrypt(&ours, &mut a);
            crate::cfb::encrypt_serial(&theirs, &mut b);
            prop_assert_eq!(&a, &b);
            crate::cfb::decrypt(&ours, &mut a);
            prop_assert_eq!(&a, &data);
        }

        #[test]
        fn cfb_decrypt_matches_the_crate(key in proptest::collection::vec(any::<u8>(), 4..=56), data in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let theirs: blowfish::Blowfish = KeyInit::new_from_slice(&key).unwrap();
            let mut a = data.clone();
            let mut b = data.clone();
            crate::cfb::decrypt(&BlowfishT::new(&key).unwrap(), &mut a);
            crate::cfb::decrypt_serial(&theirs, &mut b);
            prop_assert_eq!(&a, &b);
        }
    }

    #[cfg(target_arch = "x86_64")]
    proptest! {
        #[test]
        fn wide_cfb_decrypt_matches_the_crate(key in proptest::collection::vec(any::<u8>(), 4..=56), data in proptest::collection::vec(any::<u8>(), 0..1700)) {
            let theirs: blowfish::Blowfish = KeyInit::new_from_slice(&key).unwrap();
            let mut a = data.clone();
            let mut b = data.clone();
            if wide::cfb_decrypt_wide(&BlowfishT::new(&key).unwrap(), &mut a) {
                crate::cfb::decrypt_serial(&theirs, &mut b);
                prop_assert_eq!(&a, &b);
            } else {
                prop_assert!(data.len() < 200 || !crate::planes::available());
            }
        }
    }

    /// The crate takes 4 to 56 key bytes; shorter keys cycle (Go's behaviour).
    fn repeat_to_4(key: &[u8]) -> Vec<u8> {
        if key.len() >= 4 {
            key.to_vec()
        } else {
            key.iter().copied().cycle().take(12).collect()
        }
    }

    #[test]
    fn rejects_bad_key_lengths() {
        assert!(BlowfishT::new(&[]).is_none());
        assert!(BlowfishT::new(&[0; 57]).is_none());
    }
}
