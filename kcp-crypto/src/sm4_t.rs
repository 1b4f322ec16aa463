//! Table-driven SM4 (encrypt direction only: CFB never decrypts blocks).
//!
//! The RustCrypto `sm4` crate applies the S-box byte by byte and then the
//! linear map `L` (four rotations) every round. Here `L` is folded into four
//! 256-entry `u32` "T-tables" built at compile time, so a round's `T` is
//! four loads and three XORs. The `sm4` crate stays the reference in the
//! tests.

use crate::cfb::{BlockEnc, LANES};

#[rustfmt::skip]
const SBOX: [u8; 256] = [
    0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
    0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
    0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
    0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
    0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
    0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
    0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
    0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
    0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
    0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
    0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
    0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
    0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
    0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
    0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
    0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,
];

const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];

/// `T(x) = L(S(x))` split by input byte: `T[j][b]` is `L` of `S(b)` placed
/// in byte `j` (most significant first).
static T: [[u32; 256]; 4] = {
    let mut t = [[0u32; 256]; 4];
    let mut b = 0;
    while b < 256 {
        let s = (SBOX[b] as u32) << 24;
        let l = s ^ s.rotate_left(2) ^ s.rotate_left(10) ^ s.rotate_left(18) ^ s.rotate_left(24);
        t[0][b] = l;
        t[1][b] = l.rotate_right(8);
        t[2][b] = l.rotate_right(16);
        t[3][b] = l.rotate_right(24);
        b += 1;
    }
    t
};

#[inline(always)]
fn t(x: u32) -> u32 {
    (T[0][(x >> 24) as usize] ^ T[1][((x >> 16) & 0xff) as usize])
        ^ (T[2][((x >> 8) & 0xff) as usize] ^ T[3][(x & 0xff) as usize])
}

/// The key schedule's `T'`: S-boxes then `L'(B) = B ^ (B <<< 13) ^ (B <<< 23)`.
fn t_prime(x: u32) -> u32 {
    let b = u32::from_be_bytes(x.to_be_bytes().map(|v| SBOX[v as usize]));
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

/// SM4 with its 32 round keys.
#[derive(Clone)]
pub(crate) struct Sm4T {
    rk: [u32; 32],
}

impl Sm4T {
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        let mut k: [u32; 4] = core::array::from_fn(|i| {
            u32::from_be_bytes(key[4 * i..4 * i + 4].try_into().expect("4 bytes")) ^ FK[i]
        });
        let mut rk = [0u32; 32];
        for (i, slot) in rk.iter_mut().enumerate() {
            // CK[i]: byte j is (4i + j) * 7 mod 256.
            let ck = u32::from_be_bytes(core::array::from_fn(|j| ((4 * i + j) * 7) as u8));
            let next = k[0] ^ t_prime(k[1] ^ k[2] ^ k[3] ^ ck);
            k = [k[1], k[2], k[3], next];
            *slot = next;
        }
        Sm4T { rk }
    }

    /// `L` blocks through the 32 rounds in lock step.
    #[inline(always)]
    fn encrypt_n<const L: usize>(&self, blocks: &mut [[u8; 16]]) {
        let mut x: [[u32; 4]; L] = core::array::from_fn(|l| {
            core::array::from_fn(|i| {
                u32::from_be_bytes(blocks[l][4 * i..4 * i + 4].try_into().expect("4 bytes"))
            })
        });
        for rk in self.rk.chunks_exact(4) {
            for x in x.iter_mut() {
                x[0] ^= t(x[1] ^ x[2] ^ x[3] ^ rk[0]);
                x[1] ^= t(x[2] ^ x[3] ^ x[0] ^ rk[1]);
                x[2] ^= t(x[3] ^ x[0] ^ x[1] ^ rk[2]);
                x[3] ^= t(x[0] ^ x[1] ^ x[2] ^ rk[3]);
            }
        }
        for (b, x) in blocks.iter_mut().zip(x) {
            for (chunk, w) in b.chunks_exact_mut(4).zip(x.iter().rev()) {
                chunk.copy_from_slice(&w.to_be_bytes());
            }
        }
    }
}

impl Sm4T {
    /// One block, arranged for the shortest dependency chain (CFB encryption
    /// is one long chain): round `i`'s `T` input is
    /// `x[i+1] ^ x[i+2] ^ x[i+3] ^ rk[i]` where only `x[i+3]` (the previous
    /// round's output `x[i-1] ^ T(..)`) is late, so it is formed as
    /// `((x[i+1] ^ x[i+2] ^ rk[i]) ^ x[i-1]) ^ T(..)`: one XOR after the
    /// previous round's four table loads.
    #[inline(always)]
    fn encrypt_latency(&self, block: &mut [u8; 16]) {
        use crate::simd::opaque;
        let mut x: [u32; 4] = core::array::from_fn(|i| {
            u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().expect("4 bytes"))
        });
        // `input` is round i's T input, `x` = [x_i, x_{i+1}, x_{i+2}, x_{i+3}].
        let mut input = x[1] ^ x[2] ^ x[3] ^ self.rk[0];
        for i in 0..32 {
            let tv = opaque(T[0][(input >> 24) as usize] ^ T[1][((input >> 16) & 0xff) as usize])
                ^ opaque(T[2][((input >> 8) & 0xff) as usize] ^ T[3][(input & 0xff) as usize]);
            let tv = opaque(tv);
            if i < 31 {
                let early = opaque(opaque(x[2] ^ x[3]) ^ self.rk[i + 1]) ^ x[0];
                input = opaque(early) ^ tv;
            }
            let new = x[0] ^ tv;
            x = [x[1], x[2], x[3], new];
        }
        for (chunk, w) in block.chunks_exact_mut(4).zip(x.iter().rev()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
    }
}

impl BlockEnc<16> for Sm4T {
    #[inline]
    fn encrypt(&self, block: &mut [u8; 16]) {
        self.encrypt_latency(block);
    }

    #[inline]
    fn encrypt8(&self, blocks: &mut [[u8; 16]; LANES]) {
        for pair in blocks.chunks_exact_mut(4) {
            self.encrypt_n::<4>(pair);
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod wide {
    //! CFB decryption sixteen blocks at a time with AVX-512 VBMI: word `i`
    //! of sixteen blocks fills one 512-bit register, the S-box is applied
    //! to all 64 bytes at once (two `vpermt2b` over 128-byte halves of the
    //! table and a blend on bit 7), and `L` is four `vprold`.
    #![allow(unsafe_code)]

    use super::{SBOX, Sm4T};
    use core::arch::x86_64::*;

    #[repr(C, align(64))]
    struct Aligned([u8; 256]);

    static SBOX64: Aligned = Aligned(SBOX);

    /// kcp-go's CFB decryption of `buf` (as `cfb::decrypt`); `false` when
    /// the CPU lacks AVX-512 VBMI (the caller then runs the portable path).
    pub(crate) fn cfb_decrypt_wide(c: &Sm4T, buf: &mut [u8]) -> bool {
        if !crate::planes::available() {
            return false;
        }
        // SAFETY: `planes::available` checked AVX-512F, AVX-512BW and AVX-512VBMI.
        unsafe { cfb_decrypt(c, buf) };
        true
    }

    /// Sixteen blocks as four registers of words; the 32 rounds.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn rounds16(rk: &[u32; 32], mut x: [__m512i; 4]) -> [__m512i; 4] {
        // SAFETY: `SBOX64` is 256 bytes, 64-byte aligned: four aligned loads.
        let s: [__m512i; 4] = unsafe {
            core::array::from_fn(|i| _mm512_load_si512(SBOX64.0[64 * i..].as_ptr().cast()))
        };
        for (i, &k) in rk.iter().enumerate() {
            let x1 = x[(i + 1) % 4];
            let x2 = x[(i + 2) % 4];
            let x3 = x[(i + 3) % 4];
            let idx = _mm512_ternarylogic_epi32::<0x96>(
                x1,
                x2,
                _mm512_xor_si512(x3, _mm512_set1_epi32(k as i32)),
            );
            let lo = _mm512_permutex2var_epi8(s[0], idx, s[1]);
            let hi = _mm512_permutex2var_epi8(s[2], idx, s[3]);
            let b = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi);
            let l = _mm512_ternarylogic_epi32::<0x96>(
                b,
                _mm512_rol_epi32::<2>(b),
                _mm512_rol_epi32::<10>(b),
            );
            let l2 = _mm512_ternarylogic_epi32::<0x96>(
                l,
                _mm512_rol_epi32::<18>(b),
                _mm512_rol_epi32::<24>(b),
            );
            x[i % 4] = _mm512_xor_si512(x[i % 4], l2);
        }
        x
    }

    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW and AVX-512VBMI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn cfb_decrypt(c: &Sm4T, buf: &mut [u8]) {
        let mut prev: [u8; 16] = crate::cfb::IV;
        let step = |g: &mut [u8]| {
            debug_assert_eq!(g.len(), 256);
            let mut w = [[0u32; 16]; 4];
            for j in 0..16 {
                let input: &[u8] = if j == 0 {
                    &prev
                } else {
                    &g[16 * (j - 1)..16 * j]
                };
                for (i, wi) in w.iter_mut().enumerate() {
                    wi[j] = u32::from_be_bytes(input[4 * i..4 * i + 4].try_into().expect("4"));
                }
            }
            prev = g[240..].try_into().expect("16 bytes");
            // SAFETY: each `w[i]` is 16 `u32`s: unaligned 64-byte loads and stores.
            unsafe {
                let x = rounds16(&c.rk, w.map(|wi| _mm512_loadu_si512(wi.as_ptr().cast())));
                for (wi, xi) in w.iter_mut().zip(x) {
                    _mm512_storeu_si512(wi.as_mut_ptr().cast(), xi);
                }
            }
            // Output words are x35, x34, x33, x32 = w[3], w[2], w[1], w[0].
            for (j, block) in g.chunks_exact_mut(16).enumerate() {
                for (i, chunk) in block.chunks_exact_mut(4).enumerate() {
                    let k = w[3 - i][j].to_be_bytes();
                    for (p, k) in chunk.iter_mut().zip(k) {
                        *p ^= k;
                    }
                }
            }
        };
        crate::cfb::for_each_group_padded::<256>(buf, step);
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
        fn matches_the_sm4_crate(key in any::<[u8; 16]>(), blocks in any::<[[u8; 16]; LANES]>()) {
            let ours = Sm4T::new(&key);
            let theirs = sm4::Sm4::new_from_slice(&key).unwrap();
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
    }

    #[cfg(target_arch = "x86_64")]
    proptest! {
        #[test]
        fn wide_cfb_decrypt_matches_the_sm4_crate(key in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..900)) {
            let theirs = sm4::Sm4::new_from_slice(&key).unwrap();
            let mut a = data.clone();
            let mut b = data.clone();
            if wide::cfb_decrypt_wide(&Sm4T::new(&key), &mut a) {
                crate::cfb::decrypt_serial(&theirs, &mut b);
                prop_assert_eq!(&a, &b);
            }
        }
    }

    #[test]
    fn gb_t_32907_example() {
        // GB/T 32907-2016 example 1: key = plaintext = 0123456789abcdeffedcba9876543210.
        let v: [u8; 16] = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32, 0x10,
        ];
        let mut block = v;
        Sm4T::new(&v).encrypt(&mut block);
        assert_eq!(
            block,
            [
                0x68, 0x1e, 0xdf, 0x34, 0xd2, 0x06, 0x96, 0x5e, 0x86, 0xb3, 0xe9, 0x4f, 0x53, 0x6e,
                0x42, 0x46
            ]
        );
    }
}
