//! TEA and XTEA, the two 64-bit block ciphers RustCrypto does not ship.
//!
//! Both follow golang.org/x/crypto, which kcp-go uses: key words and block
//! halves are big-endian. kcp-go builds TEA with 16 rounds (8 cycles), not the
//! usual 64 (spec `session.md` §3.3), so [`Tea`] fixes that count.

use crate::cfb::{BlockEnc, LANES};

const DELTA: u32 = 0x9E37_79B9;

fn key_words(key: &[u8; 16]) -> [u32; 4] {
    core::array::from_fn(|i| {
        u32::from_be_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]])
    })
}

fn halves(block: &[u8; 8]) -> (u32, u32) {
    (
        u32::from_be_bytes([block[0], block[1], block[2], block[3]]),
        u32::from_be_bytes([block[4], block[5], block[6], block[7]]),
    )
}

fn store(block: &mut [u8; 8], v0: u32, v1: u32) {
    block[..4].copy_from_slice(&v0.to_be_bytes());
    block[4..].copy_from_slice(&v1.to_be_bytes());
}

/// TEA with 16 Feistel rounds, as kcp-go's `NewTEABlockCrypt` uses it.
#[derive(Clone)]
pub(crate) struct Tea {
    k: [u32; 4],
}

impl Tea {
    /// Rounds used by kcp-go (`tea.NewCipherWithRounds(key, 16)`).
    const ROUNDS: usize = 16;

    pub(crate) fn new(key: &[u8; 16]) -> Self {
        Tea { k: key_words(key) }
    }

    #[cfg(test)]
    fn decrypt(&self, block: &mut [u8; 8]) {
        let (mut v0, mut v1) = halves(block);
        let [k0, k1, k2, k3] = self.k;
        let mut sum = DELTA.wrapping_mul((Self::ROUNDS / 2) as u32);
        for _ in 0..Self::ROUNDS / 2 {
            v1 = v1.wrapping_sub(
                (v0 << 4).wrapping_add(k2) ^ v0.wrapping_add(sum) ^ (v0 >> 5).wrapping_add(k3),
            );
            v0 = v0.wrapping_sub(
                (v1 << 4).wrapping_add(k0) ^ v1.wrapping_add(sum) ^ (v1 >> 5).wrapping_add(k1),
            );
            sum = sum.wrapping_sub(DELTA);
        }
        store(block, v0, v1);
    }
}

impl BlockEnc<8> for Tea {
    #[inline]
    fn encrypt(&self, block: &mut [u8; 8]) {
        let (mut v0, mut v1) = halves(block);
        let [k0, k1, k2, k3] = self.k;
        let mut sum = 0u32;
        for _ in 0..Self::ROUNDS / 2 {
            sum = sum.wrapping_add(DELTA);
            v0 = v0.wrapping_add(
                (v1 << 4).wrapping_add(k0) ^ v1.wrapping_add(sum) ^ (v1 >> 5).wrapping_add(k1),
            );
            v1 = v1.wrapping_add(
                (v0 << 4).wrapping_add(k2) ^ v0.wrapping_add(sum) ^ (v0 >> 5).wrapping_add(k3),
            );
        }
        store(block, v0, v1);
    }

    /// Eight blocks as eight lanes of one loop, which the compiler turns into
    /// vector arithmetic (CFB decryption feeds this).
    fn encrypt8(&self, blocks: &mut [[u8; 8]; LANES]) {
        let (mut v0, mut v1) = split8(blocks);
        let [k0, k1, k2, k3] = self.k;
        let mut sum = 0u32;
        for _ in 0..Self::ROUNDS / 2 {
            sum = sum.wrapping_add(DELTA);
            for (a, b) in v0.iter_mut().zip(&v1) {
                *a = a.wrapping_add(
                    (b << 4).wrapping_add(k0) ^ b.wrapping_add(sum) ^ (b >> 5).wrapping_add(k1),
                );
            }
            for (b, a) in v1.iter_mut().zip(&v0) {
                *b = b.wrapping_add(
                    (a << 4).wrapping_add(k2) ^ a.wrapping_add(sum) ^ (a >> 5).wrapping_add(k3),
                );
            }
        }
        join8(blocks, &v0, &v1);
    }
}

fn split8(blocks: &[[u8; 8]; LANES]) -> ([u32; LANES], [u32; LANES]) {
    let mut v0 = [0u32; LANES];
    let mut v1 = [0u32; LANES];
    for (i, b) in blocks.iter().enumerate() {
        (v0[i], v1[i]) = halves(b);
    }
    (v0, v1)
}

fn join8(blocks: &mut [[u8; 8]; LANES], v0: &[u32; LANES], v1: &[u32; LANES]) {
    for (i, b) in blocks.iter_mut().enumerate() {
        store(b, v0[i], v1[i]);
    }
}

/// XTEA with the standard 64 Feistel rounds (32 cycles).
#[derive(Clone)]
pub(crate) struct Xtea {
    /// `sum + k[..]` per round, precomputed.
    table: [u32; 64],
}

impl Xtea {
    pub(crate) fn new(key: &[u8; 16]) -> Self {
        let k = key_words(key);
        let mut table = [0u32; 64];
        let mut sum = 0u32;
        for pair in table.chunks_exact_mut(2) {
            pair[0] = sum.wrapping_add(k[(sum & 3) as usize]);
            sum = sum.wrapping_add(DELTA);
            pair[1] = sum.wrapping_add(k[((sum >> 11) & 3) as usize]);
        }
        Xtea { table }
    }

    #[cfg(test)]
    fn decrypt(&self, block: &mut [u8; 8]) {
        let (mut v0, mut v1) = halves(block);
        for pair in self.table.chunks_exact(2).rev() {
            v1 = v1.wrapping_sub((((v0 << 4) ^ (v0 >> 5)).wrapping_add(v0)) ^ pair[1]);
            v0 = v0.wrapping_sub((((v1 << 4) ^ (v1 >> 5)).wrapping_add(v1)) ^ pair[0]);
        }
        store(block, v0, v1);
    }
}

impl BlockEnc<8> for Xtea {
    #[inline]
    fn encrypt(&self, block: &mut [u8; 8]) {
        let (mut v0, mut v1) = halves(block);
        for pair in self.table.chunks_exact(2) {
            v0 = v0.wrapping_add((((v1 << 4) ^ (v1 >> 5)).wrapping_add(v1)) ^ pair[0]);
            v1 = v1.wrapping_add((((v0 << 4) ^ (v0 >> 5)).wrapping_add(v0)) ^ pair[1]);
        }
        store(block, v0, v1);
    }

    /// Eight lanes at once, as for [`Tea`].
    fn encrypt8(&self, blocks: &mut [[u8; 8]; LANES]) {
        let (mut v0, mut v1) = split8(blocks);
        for pair in self.table.chunks_exact(2) {
            for (a, b) in v0.iter_mut().zip(&v1) {
                *a = a.wrapping_add((((b << 4) ^ (b >> 5)).wrapping_add(*b)) ^ pair[0]);
            }
            for (b, a) in v1.iter_mut().zip(&v0) {
                *b = b.wrapping_add((((a << 4) ^ (a >> 5)).wrapping_add(*a)) ^ pair[1]);
            }
        }
        join8(blocks, &v0, &v1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtea_reference_vector() {
        // Published XTEA test vector (32 cycles): key 000102..0f, plaintext 4142434445464748.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let mut block = *b"ABCDEFGH";
        let x = Xtea::new(&key);
        x.encrypt(&mut block);
        assert_eq!(block, [0x49, 0x7d, 0xf3, 0xd0, 0x72, 0x61, 0x2c, 0xb5]);
        x.decrypt(&mut block);
        assert_eq!(&block, b"ABCDEFGH");
    }

    #[test]
    fn eight_lanes_match_one_at_a_time() {
        let key: [u8; 16] = core::array::from_fn(|i| (i * 13 + 5) as u8);
        let blocks: [[u8; 8]; LANES] =
            core::array::from_fn(|i| core::array::from_fn(|j| (i * 8 + j) as u8));
        let (t, x) = (Tea::new(&key), Xtea::new(&key));
        let (mut a, mut b) = (blocks, blocks);
        t.encrypt8(&mut a);
        x.encrypt8(&mut b);
        for i in 0..LANES {
            let (mut p, mut q) = (blocks[i], blocks[i]);
            t.encrypt(&mut p);
            x.encrypt(&mut q);
            assert_eq!((a[i], b[i]), (p, q));
        }
    }

    #[test]
    fn tea_round_trip() {
        let key: [u8; 16] = core::array::from_fn(|i| (i * 7) as u8);
        let t = Tea::new(&key);
        let mut block = *b"kcp-go!!";
        t.encrypt(&mut block);
        assert_ne!(&block, b"kcp-go!!");
        t.decrypt(&mut block);
        assert_eq!(&block, b"kcp-go!!");
    }
}
