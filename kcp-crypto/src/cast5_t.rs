//! CAST5 (encrypt direction only: CFB never decrypts blocks), 16-byte keys
//! (Go's `cast5.NewCipher` takes no other size, so always 16 rounds).
//!
//! The RustCrypto `cast5` crate's round code is already table-driven; what
//! it lacks for CFB is parallelism: its eight-block call runs the blocks
//! one after another. Here [`BlockEnc::encrypt8`] (CFB decryption)
//! interleaves four blocks' rounds. (A sixteen-lane AVX-512 version with
//! `vpgatherdd` was slower on Zen 4.) The crate stays the reference in the
//! tests; the S-boxes and key schedule are transcribed from it (MIT/Apache).

use crate::cfb::{BlockEnc, LANES};

mod consts;
mod schedule;

/// The round S-boxes S1..S4.
static S: [[u32; 256]; 4] = [consts::S1, consts::S2, consts::S3, consts::S4];

/// CAST5 with its 16 masking and rotation subkeys.
#[derive(Clone)]
pub(crate) struct Cast5T {
    km: [u32; 16],
    kr: [u32; 16],
    /// `kr + 8` (mod 32): the rotation that brings byte 2 of the S-box
    /// input to the top, so it is one shift away (serial path).
    kr8: [u32; 16],
}

#[inline(always)]
fn sboxes(i: u32) -> [u32; 4] {
    [
        S[0][(i >> 24) as usize],
        S[1][((i >> 16) & 0xff) as usize],
        S[2][((i >> 8) & 0xff) as usize],
        S[3][(i & 0xff) as usize],
    ]
}

impl Cast5T {
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        let mut x: [u32; 4] = core::array::from_fn(|i| {
            u32::from_be_bytes(key[4 * i..4 * i + 4].try_into().expect("4 bytes"))
        });
        let mut z = [0u32; 4];
        let mut km = [0u32; 16];
        schedule::key_schedule(&mut x, &mut z, &mut km);
        let mut kr = [0u32; 16];
        schedule::key_schedule(&mut x, &mut z, &mut kr);
        Cast5T {
            km,
            kr: kr.map(|k| k & 0x1f),
            kr8: kr.map(|k| (k + 8) & 0x1f),
        }
    }

    /// Round `i`'s function of the right half `d` (types 1, 2, 3 in turn).
    #[inline(always)]
    fn f(&self, i: usize, d: u32) -> u32 {
        let (m, r) = (self.km[i], self.kr[i]);
        match i % 3 {
            0 => {
                let [a, b, c, e] = sboxes(m.wrapping_add(d).rotate_left(r));
                (a ^ b).wrapping_sub(c).wrapping_add(e)
            }
            1 => {
                let [a, b, c, e] = sboxes((m ^ d).rotate_left(r));
                a.wrapping_sub(b).wrapping_add(c) ^ e
            }
            _ => {
                let [a, b, c, e] = sboxes(m.wrapping_sub(d).rotate_left(r));
                (a.wrapping_add(b) ^ c).wrapping_sub(e)
            }
        }
    }

    /// Round `i`'s function for the serial chain: the S-box input is
    /// rotated twice (by `kr` and `kr + 8`) so that every byte is one
    /// instruction away.
    #[inline(always)]
    fn f_serial(&self, i: usize, d: u32) -> u32 {
        let (m, r, r8) = (self.km[i], self.kr[i], self.kr8[i]);
        let t = match i % 3 {
            0 => m.wrapping_add(d),
            1 => m ^ d,
            _ => m.wrapping_sub(d),
        };
        let (x, y) = (t.rotate_left(r), t.rotate_left(r8));
        let a = S[0][(x >> 24) as usize];
        let b = S[1][(y >> 24) as usize];
        let c = S[2][((x >> 8) & 0xff) as usize];
        let e = S[3][(x & 0xff) as usize];
        match i % 3 {
            0 => (a ^ b).wrapping_sub(c).wrapping_add(e),
            1 => a.wrapping_sub(b).wrapping_add(c) ^ e,
            _ => (a.wrapping_add(b) ^ c).wrapping_sub(e),
        }
    }

    /// One block (big-endian halves) for the serial CFB chain.
    #[inline(always)]
    fn encrypt_serial(&self, mut l: u32, mut r: u32) -> (u32, u32) {
        for i in 0..16 {
            let t = l ^ self.f_serial(i, r);
            l = r;
            r = t;
        }
        (r, l)
    }

    /// `L` blocks (big-endian halves) through the 16 rounds in lock step.
    #[inline(always)]
    fn encrypt_n<const L: usize>(&self, mut l: [u32; L], mut r: [u32; L]) -> ([u32; L], [u32; L]) {
        for i in 0..16 {
            for (l, r) in l.iter_mut().zip(r.iter_mut()) {
                let t = *l ^ self.f(i, *r);
                *l = *r;
                *r = t;
            }
        }
        // Output is (R16, L16).
        (r, l)
    }
}

impl BlockEnc<8> for Cast5T {
    #[inline]
    fn encrypt(&self, block: &mut [u8; 8]) {
        let l = u32::from_be_bytes(block[..4].try_into().expect("4 bytes"));
        let r = u32::from_be_bytes(block[4..].try_into().expect("4 bytes"));
        let ([a], [b]) = self.encrypt_n::<1>([l], [r]);
        block[..4].copy_from_slice(&a.to_be_bytes());
        block[4..].copy_from_slice(&b.to_be_bytes());
    }

    #[inline]
    fn encrypt8(&self, blocks: &mut [[u8; 8]; LANES]) {
        crate::cfb::encrypt8_be_quads(blocks, |l, r| self.encrypt_n::<4>(l, r));
    }

    fn encrypt_cfb(&self, buf: &mut [u8]) {
        crate::cfb::encrypt_be_halves(buf, |x| x, |x| x, |l, r| self.encrypt_serial(l, r));
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
        fn matches_the_cast5_crate(key in any::<[u8; 16]>(), blocks in any::<[[u8; 8]; LANES]>()) {
            let ours = Cast5T::new(&key);
            let theirs = cast5::Cast5::new_from_slice(&key).unwrap();
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
        fn cfb_encrypt_matches_the_crate(key in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let ours = Cast5T::new(&key);
            let theirs = cast5::Cast5::new_from_slice(&key).unwrap();
            let mut a = data.clone();
            let mut b = data.clone();
            crate::cfb::encrypt(&ours, &mut a);
            crate::cfb::encrypt_serial(&theirs, &mut b);
            prop_assert_eq!(&a, &b);
            crate::cfb::decrypt(&ours, &mut a);
            prop_assert_eq!(&a, &data);
        }

        #[test]
        fn cfb_decrypt_matches_the_crate(key in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let theirs = cast5::Cast5::new_from_slice(&key).unwrap();
            let mut a = data.clone();
            let mut b = data.clone();
            crate::cfb::decrypt(&Cast5T::new(&key), &mut a);
            crate::cfb::decrypt_serial(&theirs, &mut b);
            prop_assert_eq!(&a, &b);
        }
    }

    #[test]
    fn rfc_2144_b1_vector() {
        // RFC 2144 B.1, 128-bit key.
        let key = [
            0x01, 0x23, 0x45, 0x67, 0x12, 0x34, 0x56, 0x78, 0x23, 0x45, 0x67, 0x89, 0x34, 0x56,
            0x78, 0x9A,
        ];
        let mut block = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        Cast5T::new(&key).encrypt(&mut block);
        assert_eq!(block, [0x23, 0x8B, 0x4F, 0xE5, 0x84, 0x7E, 0x44, 0xB2]);
    }
}
