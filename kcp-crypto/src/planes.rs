//! Byte-sliced 32-bit arithmetic on AVX-512 for the CFB decryption of the
//! 8-byte-block ciphers whose round function is four 8→32-bit S-box
//! lookups (Blowfish, CAST5), 64 blocks at a time.
//!
//! A [`Word`] is one 32-bit half of 64 blocks kept as four 64-byte
//! registers, one per byte significance ("planes"). A byte plane is an
//! S-box index as it stands, so a lookup needs no index extraction: each
//! output plane is two `vpermi2b` over a 128-byte half of the S-box's
//! matching byte plane and a blend on the index's top bit ([`lookup`]). The
//! price is arithmetic: 32-bit additions and subtractions carry across
//! planes ([`add`], [`sub`]: carry-lookahead on the 64-bit lane masks).
//! Compared with one scalar lane per block (about 3.8 cycles per round
//! function per block on Zen 4 with five lanes interleaved, well above what
//! its four loads and ten ALU operations need; without hardware counters
//! the cause was not pinned down), this does a round function for 64
//! blocks in about 90 vector instructions: 1.4 cycles per block.
//!
//! Everything here needs AVX-512F, AVX-512BW and AVX-512VBMI ([`available`]);
//! the callers keep their scalar paths as the fallback and the reference
//! the tests compare with.
#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// One 32-bit half of 64 blocks: `w[k]` holds byte `k` (0 = least
/// significant) of every block's half, block `p` at byte `p`.
pub(crate) type Word = [__m512i; 4];

/// An 8→32-bit S-box as byte planes: `0[k][q]` holds byte `k` (0 = least
/// significant) of entries `64 q .. 64 q + 64`.
#[derive(Clone)]
#[repr(C, align(64))]
pub(crate) struct SboxPlanes([[[u8; 64]; 4]; 4]);

impl SboxPlanes {
    /// All zeros (a placeholder until the key schedule fills it).
    pub(crate) const fn zero() -> Self {
        SboxPlanes([[[0; 64]; 4]; 4])
    }

    /// The planes of `s`.
    pub(crate) const fn new(s: &[u32; 256]) -> Self {
        let mut t = [[[0u8; 64]; 4]; 4];
        let mut i = 0;
        while i < 256 {
            let b = s[i].to_le_bytes();
            let mut k = 0;
            while k < 4 {
                t[k][i / 64][i % 64] = b[k];
                k += 1;
            }
            i += 1;
        }
        SboxPlanes(t)
    }
}

static AVAILABLE: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU has AVX-512F, AVX-512BW and AVX-512VBMI.
pub(crate) fn available() -> bool {
    match AVAILABLE.load(Relaxed) {
        0 => {
            let yes = std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vbmi");
            AVAILABLE.store(1 + u8::from(yes), Relaxed);
            yes
        }
        v => v == 2,
    }
}

/// `s[idx]` for the 64 byte indices in `idx`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) fn lookup(s: &SboxPlanes, idx: __m512i) -> Word {
    let upper = _mm512_movepi8_mask(idx);
    let mut out = [_mm512_setzero_si512(); 4];
    for (o, plane) in out.iter_mut().zip(&s.0) {
        // SAFETY: each `plane[q]` is 64 bytes, 64-byte aligned (`SboxPlanes`
        // is `align(64)` and its rows are 64 bytes).
        let q: [__m512i; 4] =
            unsafe { core::array::from_fn(|q| _mm512_load_si512(plane[q].as_ptr().cast())) };
        let lo = _mm512_permutex2var_epi8(q[0], idx, q[1]);
        let hi = _mm512_permutex2var_epi8(q[2], idx, q[3]);
        *o = _mm512_mask_blend_epi8(upper, lo, hi);
    }
    out
}

/// `x + y` (mod 2^32) in every block.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn add(x: Word, y: Word) -> Word {
    let t = [
        _mm512_add_epi8(x[0], y[0]),
        _mm512_add_epi8(x[1], y[1]),
        _mm512_add_epi8(x[2], y[2]),
        _mm512_add_epi8(x[3], y[3]),
    ];
    // A byte generates a carry when its sum wrapped, and passes one on when
    // it is 0xff.
    let g0 = _mm512_cmplt_epu8_mask(t[0], x[0]);
    let g1 = _mm512_cmplt_epu8_mask(t[1], x[1]);
    let g2 = _mm512_cmplt_epu8_mask(t[2], x[2]);
    let ones = _mm512_set1_epi8(-1);
    let p1 = _mm512_cmpeq_epi8_mask(t[1], ones);
    let p2 = _mm512_cmpeq_epi8_mask(t[2], ones);
    let c1 = g0;
    let c2 = g1 | (p1 & c1);
    let c3 = g2 | (p2 & c2);
    [
        t[0],
        _mm512_mask_sub_epi8(t[1], c1, t[1], ones),
        _mm512_mask_sub_epi8(t[2], c2, t[2], ones),
        _mm512_mask_sub_epi8(t[3], c3, t[3], ones),
    ]
}

/// `x - y` (mod 2^32) in every block.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn sub(x: Word, y: Word) -> Word {
    let t = [
        _mm512_sub_epi8(x[0], y[0]),
        _mm512_sub_epi8(x[1], y[1]),
        _mm512_sub_epi8(x[2], y[2]),
        _mm512_sub_epi8(x[3], y[3]),
    ];
    // A byte generates a borrow when `x < y`, and passes one on when its
    // difference is zero.
    let g0 = _mm512_cmplt_epu8_mask(x[0], y[0]);
    let g1 = _mm512_cmplt_epu8_mask(x[1], y[1]);
    let g2 = _mm512_cmplt_epu8_mask(x[2], y[2]);
    let zero = _mm512_setzero_si512();
    let p1 = _mm512_cmpeq_epi8_mask(t[1], zero);
    let p2 = _mm512_cmpeq_epi8_mask(t[2], zero);
    let b1 = g0;
    let b2 = g1 | (p1 & b1);
    let b3 = g2 | (p2 & b2);
    let ones = _mm512_set1_epi8(-1);
    [
        t[0],
        _mm512_mask_add_epi8(t[1], b1, t[1], ones),
        _mm512_mask_add_epi8(t[2], b2, t[2], ones),
        _mm512_mask_add_epi8(t[3], b3, t[3], ones),
    ]
}

/// `x ^ y` in every block.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn xor(x: Word, y: Word) -> Word {
    [
        _mm512_xor_si512(x[0], y[0]),
        _mm512_xor_si512(x[1], y[1]),
        _mm512_xor_si512(x[2], y[2]),
        _mm512_xor_si512(x[3], y[3]),
    ]
}

/// `x ^ y ^ k` in every block, `k` one constant.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn xor_xor_const(x: Word, y: Word, k: u32) -> Word {
    let k = splat(k);
    [
        _mm512_ternarylogic_epi32::<0x96>(x[0], y[0], k[0]),
        _mm512_ternarylogic_epi32::<0x96>(x[1], y[1], k[1]),
        _mm512_ternarylogic_epi32::<0x96>(x[2], y[2], k[2]),
        _mm512_ternarylogic_epi32::<0x96>(x[3], y[3], k[3]),
    ]
}

/// The constant `k` in every block.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn splat(k: u32) -> Word {
    let b = k.to_le_bytes();
    [
        _mm512_set1_epi8(b[0] as i8),
        _mm512_set1_epi8(b[1] as i8),
        _mm512_set1_epi8(b[2] as i8),
        _mm512_set1_epi8(b[3] as i8),
    ]
}

#[repr(C, align(64))]
struct Index([u8; 64]);

/// Level 1 of the byte transpose: from 16 blocks (two registers of 8
/// bytes each), byte `off + j` of block `i` goes to position `16 j + i`
/// (`off` = 0 for a block's first four bytes, 4 for its last four).
const fn gather(off: usize) -> Index {
    let mut out = [0u8; 64];
    let mut p = 0;
    while p < 64 {
        out[p] = (8 * (p % 16) + off + p / 16) as u8;
        p += 1;
    }
    Index(out)
}

/// And back, for the first (`blocks` = 0) or second (8) register of the
/// pair: byte `j` of block `i` comes from position `16 j + i` of the
/// first-halves register (`j < 4`) or `64 + 16 (j - 4) + i` (the second
/// halves').
const fn scatter(blocks: usize) -> Index {
    let mut out = [0u8; 64];
    let mut p = 0;
    while p < 64 {
        let (i, j) = (blocks + p / 8, p % 8);
        out[p] = if j < 4 {
            16 * j + i
        } else {
            64 + 16 * (j - 4) + i
        } as u8;
        p += 1;
    }
    Index(out)
}

static GATHER_HI: Index = gather(0);
static GATHER_LO: Index = gather(4);
static SCATTER_FIRST: Index = scatter(0);
static SCATTER_SECOND: Index = scatter(8);

#[inline]
#[target_feature(enable = "avx512f")]
fn index(i: &Index) -> __m512i {
    // SAFETY: `Index` is 64 bytes, 64-byte aligned.
    unsafe { _mm512_load_si512(i.0.as_ptr().cast()) }
}

/// 4×4 transpose of the 128-bit lanes of `x` (an involution).
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose_lanes(x: [__m512i; 4]) -> [__m512i; 4] {
    let u0 = _mm512_shuffle_i64x2::<0x44>(x[0], x[1]);
    let u1 = _mm512_shuffle_i64x2::<0xEE>(x[0], x[1]);
    let u2 = _mm512_shuffle_i64x2::<0x44>(x[2], x[3]);
    let u3 = _mm512_shuffle_i64x2::<0xEE>(x[2], x[3]);
    [
        _mm512_shuffle_i64x2::<0x88>(u0, u2),
        _mm512_shuffle_i64x2::<0xDD>(u0, u2),
        _mm512_shuffle_i64x2::<0x88>(u1, u3),
        _mm512_shuffle_i64x2::<0xDD>(u1, u3),
    ]
}

/// 64 8-byte blocks (512 bytes, block `p` at bytes `8 p ..`) as the
/// big-endian halves' [`Word`]s: (first four bytes, last four bytes).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) fn from_be_blocks(z: &[u8; 512]) -> (Word, Word) {
    // SAFETY: eight unaligned 64-byte loads inside the 512-byte array.
    let z: [__m512i; 8] =
        unsafe { core::array::from_fn(|m| _mm512_loadu_si512(z[64 * m..].as_ptr().cast())) };
    let (gh, gl) = (index(&GATHER_HI), index(&GATHER_LO));
    let mut hi = [_mm512_setzero_si512(); 4];
    let mut lo = [_mm512_setzero_si512(); 4];
    for q in 0..4 {
        hi[q] = _mm512_permutex2var_epi8(z[2 * q], gh, z[2 * q + 1]);
        lo[q] = _mm512_permutex2var_epi8(z[2 * q], gl, z[2 * q + 1]);
    }
    // Planes by byte position in the half (0 = most significant).
    let (hi, lo) = (transpose_lanes(hi), transpose_lanes(lo));
    ([hi[3], hi[2], hi[1], hi[0]], [lo[3], lo[2], lo[1], lo[0]])
}

/// The inverse of [`from_be_blocks`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) fn to_be_blocks(hi: Word, lo: Word, z: &mut [u8; 512]) {
    let hi = transpose_lanes([hi[3], hi[2], hi[1], hi[0]]);
    let lo = transpose_lanes([lo[3], lo[2], lo[1], lo[0]]);
    let (first, second) = (index(&SCATTER_FIRST), index(&SCATTER_SECOND));
    for q in 0..4 {
        let a = _mm512_permutex2var_epi8(hi[q], first, lo[q]);
        let b = _mm512_permutex2var_epi8(hi[q], second, lo[q]);
        // SAFETY: two unaligned 64-byte stores inside the 512-byte array.
        unsafe {
            _mm512_storeu_si512(z[128 * q..].as_mut_ptr().cast(), a);
            _mm512_storeu_si512(z[128 * q + 64..].as_mut_ptr().cast(), b);
        }
    }
}

/// Positions of byte `k` of dword `p` (of 32 dwords in two registers) for
/// planes `k0` (first 32 bytes) and `k0 + 1` (last 32).
const fn dword_bytes(k0: usize) -> Index {
    let mut out = [0u8; 64];
    let mut p = 0;
    while p < 64 {
        out[p] = (4 * (p % 32) + k0 + p / 32) as u8;
        p += 1;
    }
    Index(out)
}

/// And back: byte `k` of dword `i` (of the pair's first register when
/// `first`) comes from plane `k`'s half-register position `i` (+16 for the
/// second register): planes 0 and 1 in the first source, 2 and 3 in the
/// second.
const fn dword_gather(second: usize) -> Index {
    let mut out = [0u8; 64];
    let mut p = 0;
    while p < 64 {
        let (i, k) = (second + p / 4, p % 4);
        out[p] = (64 * (k / 2) + 32 * (k % 2) + i) as u8;
        p += 1;
    }
    Index(out)
}

static DWORD_BYTES_01: Index = dword_bytes(0);
static DWORD_BYTES_23: Index = dword_bytes(2);
static DWORD_GATHER_FIRST: Index = dword_gather(0);
static DWORD_GATHER_SECOND: Index = dword_gather(16);

/// 64 32-bit values, 16 per register (block `16 m + i` in lane `i` of
/// register `m`), as a [`Word`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) fn from_dwords(d: [__m512i; 4]) -> Word {
    let (i01, i23) = (index(&DWORD_BYTES_01), index(&DWORD_BYTES_23));
    let a0 = _mm512_permutex2var_epi8(d[0], i01, d[1]);
    let b0 = _mm512_permutex2var_epi8(d[0], i23, d[1]);
    let a1 = _mm512_permutex2var_epi8(d[2], i01, d[3]);
    let b1 = _mm512_permutex2var_epi8(d[2], i23, d[3]);
    [
        _mm512_shuffle_i64x2::<0x44>(a0, a1),
        _mm512_shuffle_i64x2::<0xEE>(a0, a1),
        _mm512_shuffle_i64x2::<0x44>(b0, b1),
        _mm512_shuffle_i64x2::<0xEE>(b0, b1),
    ]
}

/// The inverse of [`from_dwords`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) fn to_dwords(w: Word) -> [__m512i; 4] {
    let a0 = _mm512_shuffle_i64x2::<0x44>(w[0], w[1]);
    let a1 = _mm512_shuffle_i64x2::<0xEE>(w[0], w[1]);
    let b0 = _mm512_shuffle_i64x2::<0x44>(w[2], w[3]);
    let b1 = _mm512_shuffle_i64x2::<0xEE>(w[2], w[3]);
    let (first, second) = (index(&DWORD_GATHER_FIRST), index(&DWORD_GATHER_SECOND));
    [
        _mm512_permutex2var_epi8(a0, first, b0),
        _mm512_permutex2var_epi8(a0, second, b0),
        _mm512_permutex2var_epi8(a1, first, b1),
        _mm512_permutex2var_epi8(a1, second, b1),
    ]
}

/// CFB decryption of `buf` in groups of 64 blocks while at least `min`
/// bytes remain (the last such group padded with zeros), `keystream`
/// mapping 64 input blocks' halves to their encryption's halves; returns
/// the number of bytes decrypted (a multiple of 8 or all of `buf`) and the
/// last ciphertext block's halves, for the caller to finish the rest.
///
/// # Safety
/// The CPU must have AVX-512F, AVX-512BW and AVX-512VBMI.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub(crate) unsafe fn cfb_decrypt(
    buf: &mut [u8],
    min: usize,
    mut keystream: impl FnMut(Word, Word) -> (Word, Word),
) -> (usize, [u8; 8]) {
    let mut prev: [u8; 8] = crate::cfb::IV[..8].try_into().expect("8 bytes");
    let mut done = 0;
    let mut inp = [0u8; 512];
    let mut ks = [0u8; 512];
    while buf.len() - done >= min.max(1) {
        let group = &mut buf[done..];
        let n = group.len().min(512);
        inp[..8].copy_from_slice(&prev);
        let body = n.min(504);
        inp[8..8 + body].copy_from_slice(&group[..body]);
        inp[8 + body..].fill(0);
        if n == 512 {
            prev.copy_from_slice(&group[504..512]);
        }
        let (hi, lo) = from_be_blocks(&inp);
        let (hi, lo) = keystream(hi, lo);
        to_be_blocks(hi, lo, &mut ks);
        for (b, k) in group[..n].iter_mut().zip(&ks) {
            *b ^= k;
        }
        done += n;
    }
    (done, prev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 64 values as a [`Word`] (value `p` in byte position `p`), by way of
    /// memory: the reference layout the vector code must agree with.
    fn word(v: &[u32; 64]) -> Word {
        let mut planes = [[0u8; 64]; 4];
        for (p, x) in v.iter().enumerate() {
            for (k, b) in x.to_le_bytes().into_iter().enumerate() {
                planes[k][p] = b;
            }
        }
        // SAFETY: only called after `available()`; unaligned 64-byte loads.
        planes.map(|pl| unsafe { _mm512_loadu_si512(pl.as_ptr().cast()) })
    }

    fn values(w: Word) -> [u32; 64] {
        let mut planes = [[0u8; 64]; 4];
        for (pl, x) in planes.iter_mut().zip(w) {
            // SAFETY: only called after `available()`; an unaligned 64-byte store.
            unsafe { _mm512_storeu_si512(pl.as_mut_ptr().cast(), x) };
        }
        core::array::from_fn(|p| u32::from_le_bytes(core::array::from_fn(|k| planes[k][p])))
    }

    fn values64() -> impl Strategy<Value = [u32; 64]> {
        // Carries across all four bytes need runs of 0xff / 0x00 bytes, which
        // uniform values rarely have: mix in values made of such bytes.
        let edgy = prop_oneof![
            any::<u32>(),
            proptest::array::uniform4(prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()])
                .prop_map(u32::from_le_bytes),
        ];
        proptest::collection::vec(edgy, 64).prop_map(|v| v.try_into().unwrap())
    }

    proptest! {
        #[test]
        fn arithmetic_matches_u32(x in values64(), y in values64(), k in any::<u32>()) {
            if !available() {
                return Ok(());
            }
            // SAFETY: `available()` checked the features of every call below.
            unsafe {
                let (wx, wy) = (word(&x), word(&y));
                prop_assert_eq!(values(add(wx, wy)), core::array::from_fn(|i| x[i].wrapping_add(y[i])));
                prop_assert_eq!(values(sub(wx, wy)), core::array::from_fn(|i| x[i].wrapping_sub(y[i])));
                prop_assert_eq!(values(xor(wx, wy)), core::array::from_fn(|i| x[i] ^ y[i]));
                prop_assert_eq!(values(xor_xor_const(wx, wy, k)), core::array::from_fn(|i| x[i] ^ y[i] ^ k));
                prop_assert_eq!(values(splat(k)), [k; 64]);
            }
        }

        #[test]
        fn lookup_matches_the_table(s in proptest::collection::vec(any::<u32>(), 256), idx in proptest::collection::vec(any::<u8>(), 64)) {
            if !available() {
                return Ok(());
            }
            let table: [u32; 256] = s.try_into().unwrap();
            let planes = SboxPlanes::new(&table);
            let idx: [u8; 64] = idx.try_into().unwrap();
            // SAFETY: `available()` checked the features.
            let got = unsafe { values(lookup(&planes, _mm512_loadu_si512(idx.as_ptr().cast()))) };
            prop_assert_eq!(got, idx.map(|i| table[usize::from(i)]));
        }

        #[test]
        fn layouts_convert_both_ways(bytes in proptest::collection::vec(any::<u8>(), 512)) {
            if !available() {
                return Ok(());
            }
            let z: [u8; 512] = bytes.try_into().unwrap();
            let half = |p: usize, h: usize| u32::from_be_bytes(z[8 * p + 4 * h..][..4].try_into().unwrap());
            // SAFETY: `available()` checked the features.
            unsafe {
                let (hi, lo) = from_be_blocks(&z);
                prop_assert_eq!(values(hi), core::array::from_fn(|p| half(p, 0)));
                prop_assert_eq!(values(lo), core::array::from_fn(|p| half(p, 1)));
                let mut back = [0u8; 512];
                to_be_blocks(hi, lo, &mut back);
                prop_assert_eq!(back, z);

                let d = to_dwords(hi);
                let mut lanes = [[0u32; 16]; 4];
                for (l, x) in lanes.iter_mut().zip(d) {
                    _mm512_storeu_si512(l.as_mut_ptr().cast(), x);
                }
                prop_assert_eq!(lanes.as_flattened(), &values(hi)[..]);
                prop_assert_eq!(values(from_dwords(d)), values(hi));
            }
        }
    }
}
