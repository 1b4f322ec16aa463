//! Arithmetic in GF(2^8) with the reducing polynomial x^8+x^4+x^3+x^2+1
//! (0x11D) and generator 2, the field klauspost/reedsolomon (and therefore
//! kcp-go) uses.
//!
//! Every table is built at compile time, so the scalar kernel needs no
//! initialisation and works in `no_std`.

/// The reducing polynomial, including the x^8 term.
pub const POLYNOMIAL: u16 = 0x11D;

/// `EXP[i] = 2^i`, doubled in length so `EXP[log a + log b]` needs no modulo.
pub(crate) static EXP: [u8; 510] = build_exp();
/// `LOG[a]` for `a != 0`; `LOG[0]` is unused (0).
pub(crate) static LOG: [u8; 256] = build_log();
/// Full product table, `MUL[a][b] = a * b`, 64 KiB; the scalar kernel reads
/// one 256-byte row per coefficient.
pub(crate) static MUL: [[u8; 256]; 256] = build_mul();

const fn build_exp() -> [u8; 510] {
    let mut t = [0u8; 510];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        t[i] = x as u8;
        t[i + 255] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLYNOMIAL;
        }
        i += 1;
    }
    t
}

const fn build_log() -> [u8; 256] {
    let exp = build_exp();
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        t[exp[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const fn const_mul(a: u8, b: u8) -> u8 {
    // Carry-less multiply then reduce: slow but only used at compile time.
    let mut r: u16 = 0;
    let mut a16 = a as u16;
    let mut b8 = b;
    while b8 != 0 {
        if b8 & 1 != 0 {
            r ^= a16;
        }
        a16 <<= 1;
        if a16 & 0x100 != 0 {
            a16 ^= POLYNOMIAL;
        }
        b8 >>= 1;
    }
    r as u8
}

const fn build_mul() -> [[u8; 256]; 256] {
    let mut t = [[0u8; 256]; 256];
    let mut a = 0;
    while a < 256 {
        let mut b = 0;
        while b < 256 {
            t[a][b] = const_mul(a as u8, b as u8);
            b += 1;
        }
        a += 1;
    }
    t
}

/// `a * b` in GF(2^8).
#[inline]
pub fn mul(a: u8, b: u8) -> u8 {
    MUL[a as usize][b as usize]
}

/// Multiplicative inverse; `None` for 0.
#[inline]
pub fn inv(a: u8) -> Option<u8> {
    if a == 0 {
        None
    } else {
        Some(EXP[255 - LOG[a as usize] as usize])
    }
}

/// `a^n`, with `a^0 = 1` for every `a` (including 0), as the Vandermonde
/// construction of klauspost/reedsolomon defines it.
pub fn pow(a: u8, n: usize) -> u8 {
    if n == 0 {
        return 1;
    }
    if a == 0 {
        return 0;
    }
    let l = (LOG[a as usize] as usize * n) % 255;
    EXP[l]
}

/// Low/high nibble product tables for split-table (shuffle) kernels:
/// `NIBBLE[c][x] = c * x` and `NIBBLE[c][16 + x] = c * (x << 4)` for `x < 16`.
#[cfg_attr(
    not(any(all(feature = "std", target_arch = "x86_64"), target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) static NIBBLE: [[u8; 32]; 256] = build_nibble();

#[cfg_attr(
    not(any(all(feature = "std", target_arch = "x86_64"), target_arch = "aarch64")),
    allow(dead_code)
)]
const fn build_nibble() -> [[u8; 32]; 256] {
    let mut t = [[0u8; 32]; 256];
    let mut c = 0;
    while c < 256 {
        let mut x = 0;
        while x < 16 {
            t[c][x] = const_mul(c as u8, x as u8);
            t[c][16 + x] = const_mul(c as u8, (x << 4) as u8);
            x += 1;
        }
        c += 1;
    }
    t
}

/// `AFFINE[c]` is the 8x8 bit matrix that makes `GF2P8AFFINEQB` multiply
/// every byte by `c`.
///
/// The instruction computes output bit `i` as the parity of
/// `matrix.byte[7 - i] & x`, so byte `7 - i` holds, for each input bit `j`,
/// bit `i` of `c * 2^j`.
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), allow(dead_code))]
pub(crate) static AFFINE: [u64; 256] = build_affine();

#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), allow(dead_code))]
const fn build_affine() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 256 {
        let mut m = 0u64;
        let mut i = 0;
        while i < 8 {
            let mut row = 0u8;
            let mut j = 0;
            while j < 8 {
                if (const_mul(c as u8, 1 << j) >> i) & 1 != 0 {
                    row |= 1 << j;
                }
                j += 1;
            }
            m |= (row as u64) << (8 * (7 - i));
            i += 1;
        }
        t[c] = m;
        c += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree_with_slow_multiply() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), const_mul(a, b));
            }
            if a != 0 {
                assert_eq!(mul(a, inv(a).unwrap()), 1);
            }
        }
        assert_eq!(inv(0), None);
        assert_eq!(pow(0, 0), 1);
        assert_eq!(pow(2, 8), 0x1D);
    }

    #[test]
    fn nibble_tables_split_the_product() {
        for c in 0..=255u8 {
            for x in 0..=255u8 {
                let t = &NIBBLE[c as usize];
                assert_eq!(t[(x & 15) as usize] ^ t[16 + (x >> 4) as usize], mul(c, x));
            }
        }
    }

    #[test]
    fn affine_matrix_is_multiplication() {
        // Emulate GF2P8AFFINEQB in software.
        for c in [0u8, 1, 2, 3, 0x1D, 0x8E, 0xFF] {
            let m = AFFINE[c as usize];
            for x in 0..=255u8 {
                let mut out = 0u8;
                for i in 0..8 {
                    let row = (m >> (8 * (7 - i))) as u8;
                    out |= (((row & x).count_ones() & 1) as u8) << i;
                }
                assert_eq!(out, mul(c, x), "c={c} x={x}");
            }
        }
    }
}
