//! Table-driven 3DES-EDE (encrypt direction only: CFB never decrypts blocks).
//!
//! The RustCrypto `des` crate evaluates E, the S-boxes and P with bit
//! tricks per round (12 MB/s in kcp-go's benchmark shape). Here each round
//! is the classic "SP-table" form: the eight S-boxes with P folded in are
//! eight `u32` tables (built at compile time), and E is byte extraction
//! from the right half and one rotation of it (the halves are kept rotated
//! by 3 bits), so a round is one rotate, two key XORs and eight table loads
//! combined as a balanced XOR tree. The three DES passes share one initial and one final
//! permutation (FP followed by IP is the identity). The `des` crate stays the
//! reference in the tests; the key schedule, IP/FP and P below are
//! transcribed from it (MIT/Apache).

use crate::cfb::{BlockEnc, LANES};

const SHIFTS: [u8; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// The DES S-boxes, indexed directly by their 6 input bits (the `des`
/// crate's arrangement).
#[rustfmt::skip]
const SBOXES: [[u8; 64]; 8] = [
    [
        14,  0,  4, 15, 13,  7,  1,  4,  2, 14, 15,  2, 11, 13,  8,  1,
         3, 10, 10,  6,  6, 12, 12, 11,  5,  9,  9,  5,  0,  3,  7,  8,
         4, 15,  1, 12, 14,  8,  8,  2, 13,  4,  6,  9,  2,  1, 11,  7,
        15,  5, 12, 11,  9,  3,  7, 14,  3, 10, 10,  0,  5,  6,  0, 13,
    ],
    [
        15,  3,  1, 13,  8,  4, 14,  7,  6, 15, 11,  2,  3,  8,  4, 14,
         9, 12,  7,  0,  2,  1, 13, 10, 12,  6,  0,  9,  5, 11, 10,  5,
         0, 13, 14,  8,  7, 10, 11,  1, 10,  3,  4, 15, 13,  4,  1,  2,
         5, 11,  8,  6, 12,  7,  6, 12,  9,  0,  3,  5,  2, 14, 15,  9,
    ],
    [
        10, 13,  0,  7,  9,  0, 14,  9,  6,  3,  3,  4, 15,  6,  5, 10,
         1,  2, 13,  8, 12,  5,  7, 14, 11, 12,  4, 11,  2, 15,  8,  1,
        13,  1,  6, 10,  4, 13,  9,  0,  8,  6, 15,  9,  3,  8,  0,  7,
        11,  4,  1, 15,  2, 14, 12,  3,  5, 11, 10,  5, 14,  2,  7, 12,
    ],
    [
         7, 13, 13,  8, 14, 11,  3,  5,  0,  6,  6, 15,  9,  0, 10,  3,
         1,  4,  2,  7,  8,  2,  5, 12, 11,  1, 12, 10,  4, 14, 15,  9,
        10,  3,  6, 15,  9,  0,  0,  6, 12, 10, 11,  1,  7, 13, 13,  8,
        15,  9,  1,  4,  3,  5, 14, 11,  5, 12,  2,  7,  8,  2,  4, 14,
    ],
    [
         2, 14, 12, 11,  4,  2,  1, 12,  7,  4, 10,  7, 11, 13,  6,  1,
         8,  5,  5,  0,  3, 15, 15, 10, 13,  3,  0,  9, 14,  8,  9,  6,
         4, 11,  2,  8,  1, 12, 11,  7, 10,  1, 13, 14,  7,  2,  8, 13,
        15,  6,  9, 15, 12,  0,  5,  9,  6, 10,  3,  4,  0,  5, 14,  3,
    ],
    [
        12, 10,  1, 15, 10,  4, 15,  2,  9,  7,  2, 12,  6,  9,  8,  5,
         0,  6, 13,  1,  3, 13,  4, 14, 14,  0,  7, 11,  5,  3, 11,  8,
         9,  4, 14,  3, 15,  2,  5, 12,  2,  9,  8,  5, 12, 15,  3, 10,
         7, 11,  0, 14,  4,  1, 10,  7,  1,  6, 13,  0, 11,  8,  6, 13,
    ],
    [
         4, 13, 11,  0,  2, 11, 14,  7, 15,  4,  0,  9,  8,  1, 13, 10,
         3, 14, 12,  3,  9,  5,  7, 12,  5,  2, 10, 15,  6,  8,  1,  6,
         1,  6,  4, 11, 11, 13, 13,  8, 12,  1,  3,  4,  7, 10, 14,  7,
        10,  9, 15,  5,  6,  0,  8, 15,  0, 14,  5,  2,  9,  3,  2, 12,
    ],
    [
        13,  1,  2, 15,  8, 13,  4,  8,  6, 10, 15,  3, 11,  7,  1,  4,
        10, 12,  9,  5,  3,  6, 14, 11,  5,  0,  0, 14, 12,  9,  7,  2,
         7,  2, 11,  1,  4, 14,  1,  7,  9,  4, 12, 10, 14,  8,  2, 13,
         0, 15,  6, 12, 10,  9, 13,  0, 15,  3,  3,  5,  5,  6,  8, 11,
    ],
];

/// Swaps the bits of `a` selected by `mask` with those `delta` places up.
const fn delta_swap(a: u64, delta: u64, mask: u64) -> u64 {
    let b = (a ^ (a >> delta)) & mask;
    a ^ b ^ (b << delta)
}

fn pc1(mut key: u64) -> u64 {
    key = delta_swap(key, 2, 0x3333000033330000);
    key = delta_swap(key, 4, 0x0f0f0f0f00000000);
    key = delta_swap(key, 8, 0x009a000a00a200a8);
    key = delta_swap(key, 16, 0x00006c6c0000cccc);
    key = delta_swap(key, 1, 0x1045500500550550);
    key = delta_swap(key, 32, 0x00000000f0f0f5fa);
    key = delta_swap(key, 8, 0x00550055006a00aa);
    key = delta_swap(key, 2, 0x0000333330000300);
    key & 0xFFFFFFFFFFFFFF00
}

fn pc2(key: u64) -> u64 {
    let key = key.rotate_left(61);
    let b1 = (key & 0x0021000002000000) >> 7;
    let b2 = (key & 0x0008020010080000) << 1;
    let b3 = key & 0x0002200000000000;
    let b4 = (key & 0x0000000000100020) << 19;
    let b5 = (key.rotate_left(54) & 0x0005312400000011).wrapping_mul(0x0000000094200201)
        & 0xea40100880000000;
    let b6 = (key.rotate_left(7) & 0x0022110000012001).wrapping_mul(0x0001000000610006)
        & 0x1185004400000000;
    let b7 = (key.rotate_left(6) & 0x0000520040200002).wrapping_mul(0x00000080000000c1)
        & 0x0028811000200000;
    let b8 = (key & 0x01000004c0011100).wrapping_mul(0x0000000000004284) & 0x0400082244400000;
    let b9 = (key.rotate_left(60) & 0x0000000000820280).wrapping_mul(0x0000000000089001)
        & 0x0000000110880000;
    let b10 = (key.rotate_left(49) & 0x0000000000024084).wrapping_mul(0x0000000002040005)
        & 0x000000000a030000;
    b1 | b2 | b3 | b4 | b5 | b6 | b7 | b8 | b9 | b10
}

/// The 16 DES subkeys of `key`, 48 bits each in the top of a `u64`.
fn gen_keys(key: u64) -> [u64; 16] {
    fn rotate28(val: u64, shift: u8) -> u64 {
        ((val << shift) | (val >> (28 - shift))) & 0x0FFF_FFFF
    }
    let key = pc1(key) >> 8;
    let mut c = key >> 28;
    let mut d = key & 0x0FFF_FFFF;
    core::array::from_fn(|i| {
        c = rotate28(c, SHIFTS[i]);
        d = rotate28(d, SHIFTS[i]);
        pc2(((c << 28) | d) << 8)
    })
}

#[inline(always)]
fn ip(mut m: u64) -> u64 {
    m = delta_swap(m, 9, 0x0055005500550055);
    m = delta_swap(m, 18, 0x0000333300003333);
    m = delta_swap(m, 36, 0x000000000F0F0F0F);
    m = delta_swap(m, 24, 0x00000000FF00FF00);
    delta_swap(m, 24, 0x000000FF000000FF)
}

#[inline(always)]
fn fp(mut m: u64) -> u64 {
    m = delta_swap(m, 24, 0x000000FF000000FF);
    m = delta_swap(m, 24, 0x00000000FF00FF00);
    m = delta_swap(m, 36, 0x000000000F0F0F0F);
    m = delta_swap(m, 18, 0x0000333300003333);
    delta_swap(m, 9, 0x0055005500550055)
}

/// DES's P permutation on the top 32 bits of a `u64`.
const fn p(block: u64) -> u64 {
    let block = block.rotate_left(44);
    let b1 = (block & 0x0000000000200000) << 32;
    let b2 = (block & 0x0000000000480000) << 13;
    let b3 = (block & 0x0000088000000000) << 12;
    let b4 = (block & 0x0000002020120000) << 25;
    let b5 = (block & 0x0000000442000000) << 14;
    let b6 = (block & 0x0000000001800000) << 37;
    let b7 = (block & 0x0000000004000000) << 24;
    let b8 = (block & 0x0000020280015000).wrapping_mul(0x0000020080800083) & 0x02000a6400000000;
    let b9 = (block.rotate_left(29) & 0x01001400000000aa).wrapping_mul(0x0000210210008081)
        & 0x0902c01200000000;
    let b10 = (block & 0x0000000910040000).wrapping_mul(0x0000000c04000020) & 0x8410010000000000;
    b1 | b2 | b3 | b4 | b5 | b6 | b7 | b8 | b9 | b10
}

/// `SP[i][b] = P(S_i(b & 63) in nibble i)`, rotated right by 3 bits (the
/// halves are kept rotated, see [`f`]): the round function is the XOR of
/// eight of these. 256 entries so that a whole byte indexes them (the top
/// two bits are don't-cares), saving a mask per lookup.
static SP: [[u32; 256]; 8] = {
    let mut sp = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 8 {
        let mut b = 0;
        while b < 256 {
            let v = (p((SBOXES[i][b & 63] as u64) << (60 - 4 * i)) >> 32) as u32;
            sp[i][b] = v.rotate_right(3);
            b += 1;
        }
        i += 1;
    }
    sp
};

/// 3DES-EDE3 with its 48 round keys in SP-table order.
#[derive(Clone)]
pub(crate) struct TdesT {
    /// Per round: E-chunks 0, 2, 4, 6 of the subkey packed in the low six
    /// bits of bytes 3..0, then chunks 1, 3, 5, 7 likewise; see [`f`].
    ks: [[u32; 2]; 48],
}

/// The DES round function on halves kept rotated right by 3 bits. E's
/// six-bit chunk `i` of a half `r` is the top six bits of `r` rotated so that
/// DES bit `4i` (1-based, cyclic) leads: the even chunks sit in the bytes of
/// `r.rotate_right(3)` (the stored form), the odd ones in the bytes of
/// `r.rotate_left(1)`, each under two don't-care bits.
#[inline(always)]
fn f(r: u32, k: &[u32; 2]) -> u32 {
    use crate::simd::opaque;
    let u = r ^ k[0];
    let v = r.rotate_left(4) ^ k[1];
    let b = |x: u32, s: u32| ((x >> s) & 0xff) as usize;
    let a0 = opaque(SP[0][b(u, 24)] ^ SP[2][b(u, 16)]);
    let a1 = opaque(SP[4][b(u, 8)] ^ SP[6][b(u, 0)]);
    let a2 = opaque(SP[1][b(v, 24)] ^ SP[3][b(v, 16)]);
    let a3 = opaque(SP[5][b(v, 8)] ^ SP[7][b(v, 0)]);
    opaque(a0 ^ a1) ^ opaque(a2 ^ a3)
}

impl TdesT {
    pub(crate) fn new(key: &[u8; 24]) -> Self {
        let des = |i: usize| {
            gen_keys(u64::from_be_bytes(
                key[8 * i..8 * i + 8].try_into().expect("8 bytes"),
            ))
        };
        let (k1, mut k2, k3) = (des(0), des(1), des(2));
        k2.reverse(); // the middle pass decrypts
        let pack = |k: u64| {
            let chunk = |i: usize| ((k >> (58 - 6 * i)) & 63) as u32;
            [
                chunk(0) << 24 | chunk(2) << 16 | chunk(4) << 8 | chunk(6),
                chunk(1) << 24 | chunk(3) << 16 | chunk(5) << 8 | chunk(7),
            ]
        };
        let mut ks = [[0u32; 2]; 48];
        for (slot, &k) in ks.iter_mut().zip(k1.iter().chain(&k2).chain(&k3)) {
            *slot = pack(k);
        }
        TdesT { ks }
    }

    /// `L` blocks through the 48 rounds in lock step.
    #[inline(always)]
    fn encrypt_n<const L: usize>(&self, blocks: &mut [[u8; 8]]) {
        let mut l = [0u32; L];
        let mut r = [0u32; L];
        for i in 0..L {
            let x = ip(u64::from_be_bytes(blocks[i]));
            l[i] = ((x >> 32) as u32).rotate_right(3);
            r[i] = (x as u32).rotate_right(3);
        }
        for pass in self.ks.chunks_exact(16) {
            for pair in pass.chunks_exact(2) {
                for (l, r) in l.iter_mut().zip(&r) {
                    *l ^= f(*r, &pair[0]);
                }
                for (r, l) in r.iter_mut().zip(&l) {
                    *r ^= f(*l, &pair[1]);
                }
            }
            // Each DES pass ends with a swap of the halves (its FP and the
            // next pass's IP cancel out).
            core::mem::swap(&mut l, &mut r);
        }
        for i in 0..L {
            let (l, r) = (l[i].rotate_left(3), r[i].rotate_left(3));
            blocks[i] = fp(u64::from(l) << 32 | u64::from(r)).to_be_bytes();
        }
    }
}

impl BlockEnc<8> for TdesT {
    #[inline]
    fn encrypt(&self, block: &mut [u8; 8]) {
        let (a, b) = self.rounds_latency(to_domain(*block));
        *block = from_domain(a, b);
    }

    #[inline]
    fn encrypt8(&self, blocks: &mut [[u8; 8]; LANES]) {
        let (a, b) = blocks.split_at_mut(LANES / 2);
        self.encrypt_n::<{ LANES / 2 }>(a);
        self.encrypt_n::<{ LANES / 2 }>(b);
    }
}

/// IP, then both halves rotated right by 3 (the form the rounds work on).
/// Linear over XOR, like its inverse [`from_domain`].
#[inline(always)]
fn to_domain(block: [u8; 8]) -> (u32, u32) {
    let x = ip(u64::from_be_bytes(block));
    (
        ((x >> 32) as u32).rotate_right(3),
        (x as u32).rotate_right(3),
    )
}

#[inline(always)]
fn from_domain(a: u32, b: u32) -> [u8; 8] {
    let (a, b) = (a.rotate_left(3), b.rotate_left(3));
    fp(u64::from(a) << 32 | u64::from(b)).to_be_bytes()
}

/// Bytes of `x` as table indices, most significant first.
#[inline(always)]
fn bytes(x: u32) -> [usize; 4] {
    [
        (x >> 24) as usize,
        ((x >> 16) & 0xff) as usize,
        ((x >> 8) & 0xff) as usize,
        (x & 0xff) as usize,
    ]
}

impl TdesT {
    /// One block through the 48 rounds, arranged for the shortest dependency
    /// chain (CFB encryption is one long chain). Per round, with `b` the half
    /// going into `F` and `a` the other: `A` is the XOR of the even S-boxes
    /// (indexed by `b ^ k0`) and `B` that of the odd ones (indexed by
    /// `rotl(b, 4) ^ k1`, one rotate later). The next round's indices
    /// `new_b ^ k0'` and `rotl(new_b, 4) ^ k1'` are computed as
    /// `((a ^ k) ^ A) ^ B` directly, with `a ^ k` ready early, so neither the
    /// key XOR nor `new_b` itself is on the chain: about 9 cycles a round
    /// instead of 11.
    #[inline(always)]
    fn rounds_latency(&self, (mut a, mut b): (u32, u32)) -> (u32, u32) {
        use crate::simd::opaque;
        for pass in self.ks.chunks_exact(16) {
            let mut bu = b ^ pass[0][0];
            let mut bv = b.rotate_left(4) ^ pass[0][1];
            for i in 0..16 {
                let [u0, u1, u2, u3] = bytes(bu);
                let [v0, v1, v2, v3] = bytes(bv);
                let ea = opaque(opaque(SP[0][u0] ^ SP[2][u1]) ^ opaque(SP[4][u2] ^ SP[6][u3]));
                let eb = opaque(opaque(SP[1][v0] ^ SP[3][v1]) ^ opaque(SP[5][v2] ^ SP[7][v3]));
                let nb = opaque(a ^ ea) ^ eb;
                if i < 15 {
                    let k = &pass[i + 1];
                    bu = opaque(opaque(opaque(a ^ k[0]) ^ ea) ^ eb);
                    bv = (opaque(opaque(a ^ k[1].rotate_right(4)) ^ ea) ^ eb).rotate_left(4);
                }
                a = b;
                b = nb;
            }
            // Each DES pass ends with a swap of the halves (its FP and the
            // next pass's IP cancel out).
            core::mem::swap(&mut a, &mut b);
        }
        (a, b)
    }

    /// kcp-go's CFB encryption of `buf` in place (what `cfb::encrypt` does
    /// with [`BlockEnc::encrypt`]), with the feedback kept in the rounds'
    /// domain: IP and the rotation are linear, so the next cipher input is
    /// `rounds(s) ^ to_domain(plaintext)` and neither IP nor FP is on the
    /// chain.
    pub(crate) fn cfb_encrypt(&self, buf: &mut [u8]) {
        let mut s = to_domain(crate::cfb::IV[..8].try_into().expect("8 bytes"));
        let mut blocks = buf.chunks_exact_mut(8);
        for block in &mut blocks {
            let (a, b) = self.rounds_latency(s);
            let (pa, pb) = to_domain(block.try_into().expect("8 bytes"));
            s = (a ^ pa, b ^ pb);
            block.copy_from_slice(&from_domain(s.0, s.1));
        }
        let tail = blocks.into_remainder();
        if !tail.is_empty() {
            let ks = from_domain_pair(self.rounds_latency(s));
            for (t, k) in tail.iter_mut().zip(ks) {
                *t ^= k;
            }
        }
    }
}

#[inline(always)]
fn from_domain_pair((a, b): (u32, u32)) -> [u8; 8] {
    from_domain(a, b)
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod wide {
    //! CFB decryption sixteen blocks at a time with AVX-512: lane `j` of
    //! two 512-bit registers holds the halves of block `j`, and each S-box
    //! lookup (64 entries of 32 bits) is two `vpermt2d` over 32-entry
    //! halves of the table plus a blend on index bit 5.
    #![allow(unsafe_code)]

    use super::{SP, TdesT, from_domain, to_domain};
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

    /// The first 64 entries of each rotated SP table (the rest repeat them).
    #[repr(C, align(64))]
    struct Sp64([[u32; 64]; 8]);

    static SP64: Sp64 = {
        let mut t = [[0u32; 64]; 8];
        let mut i = 0;
        while i < 8 {
            let mut b = 0;
            while b < 64 {
                t[i][b] = SP[i][b];
                b += 1;
            }
            i += 1;
        }
        Sp64(t)
    };

    static AVAILABLE: AtomicU8 = AtomicU8::new(0);

    fn available() -> bool {
        match AVAILABLE.load(Relaxed) {
            0 => {
                let yes = std::is_x86_feature_detected!("avx512f");
                AVAILABLE.store(1 + u8::from(yes), Relaxed);
                yes
            }
            v => v == 2,
        }
    }

    /// kcp-go's CFB decryption of `buf` (as `cfb::decrypt`); `false` when
    /// the CPU lacks AVX-512F (the caller then runs the portable path).
    pub(crate) fn cfb_decrypt_wide(t: &TdesT, buf: &mut [u8]) -> bool {
        if !available() {
            return false;
        }
        // SAFETY: `available` checked AVX-512F.
        unsafe { cfb_decrypt(t, buf) };
        true
    }

    /// S-box `i` of sixteen indices (bits 0..5 of each lane of `idx`; the
    /// higher bits are ignored).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sbox(i: usize, idx: __m512i) -> __m512i {
        let t = &SP64.0[i];
        // SAFETY: `t` is 64 `u32`s, 64-byte aligned: four aligned loads.
        let (t0, t1, t2, t3) = unsafe {
            (
                _mm512_load_si512(t[0..].as_ptr().cast()),
                _mm512_load_si512(t[16..].as_ptr().cast()),
                _mm512_load_si512(t[32..].as_ptr().cast()),
                _mm512_load_si512(t[48..].as_ptr().cast()),
            )
        };
        let lo = _mm512_permutex2var_epi32(t0, idx, t1);
        let hi = _mm512_permutex2var_epi32(t2, idx, t3);
        let m = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
        _mm512_mask_blend_epi32(m, lo, hi)
    }

    /// The 48 rounds on sixteen blocks (halves in the rounds' domain), the
    /// same steps as `TdesT::rounds_latency`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn rounds16(ks: &[[u32; 2]; 48], mut a: __m512i, mut b: __m512i) -> (__m512i, __m512i) {
        for pass in ks.chunks_exact(16) {
            for k in pass {
                let u = _mm512_xor_si512(b, _mm512_set1_epi32(k[0] as i32));
                let v = _mm512_xor_si512(_mm512_rol_epi32::<4>(b), _mm512_set1_epi32(k[1] as i32));
                let e = _mm512_ternarylogic_epi32::<0x96>(
                    sbox(0, _mm512_srli_epi32::<24>(u)),
                    sbox(2, _mm512_srli_epi32::<16>(u)),
                    sbox(4, _mm512_srli_epi32::<8>(u)),
                );
                let o = _mm512_ternarylogic_epi32::<0x96>(
                    sbox(1, _mm512_srli_epi32::<24>(v)),
                    sbox(3, _mm512_srli_epi32::<16>(v)),
                    sbox(5, _mm512_srli_epi32::<8>(v)),
                );
                let f = _mm512_ternarylogic_epi32::<0x96>(e, o, sbox(6, u));
                let nb = _mm512_ternarylogic_epi32::<0x96>(a, f, sbox(7, v));
                a = b;
                b = nb;
            }
            core::mem::swap(&mut a, &mut b);
        }
        (a, b)
    }

    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    unsafe fn cfb_decrypt(t: &TdesT, buf: &mut [u8]) {
        let mut prev: [u8; 8] = crate::cfb::IV[..8].try_into().expect("8 bytes");
        let step = |g: &mut [u8]| {
            debug_assert_eq!(g.len(), 128);
            let mut la = [0u32; 16];
            let mut lb = [0u32; 16];
            for j in 0..16 {
                let input = if j == 0 {
                    prev
                } else {
                    g[8 * (j - 1)..8 * j].try_into().expect("8 bytes")
                };
                (la[j], lb[j]) = to_domain(input);
            }
            prev = g[120..].try_into().expect("8 bytes");
            // SAFETY: `la` and `lb` are 16 `u32`s each: unaligned 64-byte
            // loads and stores.
            unsafe {
                let (a, b) = rounds16(
                    &t.ks,
                    _mm512_loadu_si512(la.as_ptr().cast()),
                    _mm512_loadu_si512(lb.as_ptr().cast()),
                );
                _mm512_storeu_si512(la.as_mut_ptr().cast(), a);
                _mm512_storeu_si512(lb.as_mut_ptr().cast(), b);
            }
            for (j, block) in g.chunks_exact_mut(8).enumerate() {
                for (p, k) in block.iter_mut().zip(from_domain(la[j], lb[j])) {
                    *p ^= k;
                }
            }
        };
        crate::cfb::for_each_group_padded::<128>(buf, step);
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
        fn matches_the_des_crate(key in any::<[u8; 24]>(), blocks in any::<[[u8; 8]; LANES]>()) {
            let ours = TdesT::new(&key);
            let theirs = des::TdesEde3::new_from_slice(&key).unwrap();
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
        fn cfb_matches_the_reference(key in any::<[u8; 24]>(), data in proptest::collection::vec(any::<u8>(), 0..700)) {
            let ours = TdesT::new(&key);
            let theirs = des::TdesEde3::new_from_slice(&key).unwrap();
            let mut a = data.clone();
            ours.cfb_encrypt(&mut a);
            let mut b = data.clone();
            crate::cfb::encrypt(&theirs, &mut b);
            prop_assert_eq!(&a, &b);
            let mut c = a.clone();
            crate::cfb::decrypt(&ours, &mut a);
            prop_assert_eq!(&a, &data);
            #[cfg(target_arch = "x86_64")]
            if wide::cfb_decrypt_wide(&ours, &mut c) {
                prop_assert_eq!(&c, &data);
            }
        }
    }

    #[test]
    fn single_des_known_answer() {
        // FIPS 81 / classic vector: K = 133457799BBCDFF1, P = 0123456789ABCDEF,
        // C = 85E813540F0AB405; 3DES with K1 = K2 = K3 is single DES.
        let k = 0x1334_5779_9BBC_DFF1u64.to_be_bytes();
        let mut key = [0u8; 24];
        for c in key.chunks_exact_mut(8) {
            c.copy_from_slice(&k);
        }
        let mut block = 0x0123_4567_89AB_CDEFu64.to_be_bytes();
        TdesT::new(&key).encrypt(&mut block);
        assert_eq!(u64::from_be_bytes(block), 0x85E8_1354_0F0A_B405);
    }
}
