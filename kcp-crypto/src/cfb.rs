//! kcp-go's "CFB": full-block cipher feedback with a fixed IV (spec `session.md` §3.2).
//!
//! `R = E(IV)`; each full block is `C = P ^ R` followed by `R = E(C)`; a
//! trailing partial block is XORed with the leading bytes of `R`. This is
//! standard CFB with the segment size equal to the block size, written here
//! over a small trait so that the same code drives the RustCrypto ciphers,
//! the hand-written TEA/XTEA, and the multi-packet batch path.

use cipher::BlockEncrypt;
use cipher::generic_array::GenericArray;

/// kcp-go's fixed IV; 8-byte-block ciphers use its first 8 bytes.
pub(crate) const IV: [u8; 16] = [
    0xA7, 0x73, 0x4F, 0x9C, 0x12, 0xAC, 0x1B, 0x01, 0xA4, 0x15, 0xF2, 0xC1, 0xFC, 0x78, 0xE6, 0x6B,
];

/// Blocks handed to [`BlockEnc::encrypt8`] at once.
pub(crate) const LANES: usize = 8;

/// The forward direction of an `N`-byte block cipher (CFB never decrypts blocks).
pub(crate) trait BlockEnc<const N: usize> {
    /// Encrypts one block in place.
    fn encrypt(&self, block: &mut [u8; N]);

    /// Encrypts eight independent blocks; implementations with a pipelined
    /// backend (AES-NI) interleave them.
    #[inline]
    fn encrypt8(&self, blocks: &mut [[u8; N]; LANES]) {
        for b in blocks.iter_mut() {
            self.encrypt(b);
        }
    }

    /// CFB-encrypts a whole buffer in place ([`encrypt`]); ciphers whose
    /// feedback fits in registers override this to keep it there.
    #[inline]
    fn encrypt_cfb(&self, buf: &mut [u8])
    where
        Self: Sized,
    {
        encrypt_serial(self, buf);
    }

    /// CFB-decrypts a whole buffer in place ([`decrypt`]); the default
    /// runs [`BlockEnc::encrypt8`] over groups of eight blocks, ciphers on
    /// 32-bit halves override it with [`decrypt_be_halves`].
    #[inline]
    fn decrypt_cfb(&self, buf: &mut [u8])
    where
        Self: Sized,
    {
        decrypt_by_eights(self, buf);
    }
}

/// CFB encryption of `buf` for a cipher on the big-endian 32-bit halves of
/// 8-byte blocks, each half carried as a `W` (`widen` builds one from a
/// half, `narrow` recovers the half) and `enc` mapping input halves to
/// output halves: the feedback register stays in registers between blocks,
/// and the plaintext's byte swaps and the ciphertext's stores are off the
/// chain. `narrow(widen(x) ^ w) == x ^ narrow(w)` must hold.
#[inline(always)]
pub(crate) fn encrypt_be_halves<W: Copy + core::ops::BitXor<Output = W>>(
    buf: &mut [u8],
    widen: impl Fn(u32) -> W,
    narrow: impl Fn(W) -> u32,
    mut enc: impl FnMut(W, W) -> (W, W),
) {
    let half = |b: &[u8]| widen(u32::from_be_bytes(b.try_into().expect("4 bytes")));
    let (mut l, mut r) = (half(&IV[..4]), half(&IV[4..8]));
    let mut chunks = buf.chunks_exact_mut(8);
    for block in &mut chunks {
        (l, r) = enc(l, r);
        let (lo, hi) = block.split_at_mut(4);
        l = l ^ half(lo);
        r = r ^ half(hi);
        lo.copy_from_slice(&narrow(l).to_be_bytes());
        hi.copy_from_slice(&narrow(r).to_be_bytes());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        (l, r) = enc(l, r);
        let mut ks = [0u8; 8];
        ks[..4].copy_from_slice(&narrow(l).to_be_bytes());
        ks[4..].copy_from_slice(&narrow(r).to_be_bytes());
        xor_into(tail, &ks);
    }
}

/// CFB decryption of `buf` for a cipher on the big-endian 32-bit halves of
/// 8-byte blocks whose `enc` runs `G` blocks interleaved (given and
/// returning the left and right halves): the halves are read straight from
/// the buffer and the keystream is XORed back from registers, with no
/// block copies in between. Every keystream block depends on ciphertext
/// only, so a short last group is padded with zeros.
#[inline(always)]
pub(crate) fn decrypt_be_halves<const G: usize>(
    buf: &mut [u8],
    enc: impl Fn([u32; G], [u32; G]) -> ([u32; G], [u32; G]),
) {
    decrypt_be_halves_after::<G>(buf, IV[..8].try_into().expect("8 bytes"), enc);
}

/// [`decrypt_be_halves`] of the part of a buffer that follows the
/// ciphertext block `prev` (the IV at the start).
#[inline(always)]
pub(crate) fn decrypt_be_halves_after<const G: usize>(
    buf: &mut [u8],
    prev: [u8; 8],
    enc: impl Fn([u32; G], [u32; G]) -> ([u32; G], [u32; G]),
) {
    let half = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let mut prev = (half(&prev, 0), half(&prev, 4));
    let group = |g: &mut [u8], prev: &mut (u32, u32)| {
        let mut l = [prev.0; G];
        let mut r = [prev.1; G];
        for j in 1..G {
            l[j] = half(g, 8 * j - 8);
            r[j] = half(g, 8 * j - 4);
        }
        *prev = (half(g, 8 * G - 8), half(g, 8 * G - 4));
        let (a, b) = enc(l, r);
        for (j, block) in g.chunks_exact_mut(8).enumerate() {
            let (lo, hi) = block.split_at_mut(4);
            lo.copy_from_slice(&(half(lo, 0) ^ a[j]).to_be_bytes());
            hi.copy_from_slice(&(half(hi, 0) ^ b[j]).to_be_bytes());
        }
    };
    let mut groups = buf.chunks_exact_mut(8 * G);
    for g in &mut groups {
        group(g, &mut prev);
    }
    let rest = groups.into_remainder();
    if !rest.is_empty() {
        let mut tmp = [[0u8; 8]; G];
        let flat = tmp.as_flattened_mut();
        flat[..rest.len()].copy_from_slice(rest);
        group(flat, &mut prev);
        rest.copy_from_slice(&flat[..rest.len()]);
    }
}

/// [`BlockEnc::encrypt8`] for a cipher on big-endian 32-bit halves whose
/// `encrypt4` runs four blocks interleaved (given and returning the left and
/// right halves of the four blocks): two calls cover the eight lanes.
#[inline]
pub(crate) fn encrypt8_be_quads(
    blocks: &mut [[u8; 8]; LANES],
    encrypt4: impl Fn([u32; 4], [u32; 4]) -> ([u32; 4], [u32; 4]),
) {
    for quad in blocks.chunks_exact_mut(4) {
        let w = |i: usize, h: usize| {
            u32::from_be_bytes(quad[i][4 * h..4 * h + 4].try_into().expect("4 bytes"))
        };
        let (a, b) = encrypt4(
            core::array::from_fn(|i| w(i, 0)),
            core::array::from_fn(|i| w(i, 1)),
        );
        for (i, blk) in quad.iter_mut().enumerate() {
            blk[..4].copy_from_slice(&a[i].to_be_bytes());
            blk[4..].copy_from_slice(&b[i].to_be_bytes());
        }
    }
}

macro_rules! rustcrypto_block {
    ($($ty:ty => $n:literal),* $(,)?) => {$(
        impl BlockEnc<$n> for $ty {
            #[inline]
            fn encrypt(&self, block: &mut [u8; $n]) {
                self.encrypt_block(GenericArray::from_mut_slice(block));
            }

            #[inline]
            fn encrypt8(&self, blocks: &mut [[u8; $n]; LANES]) {
                let mut ga = blocks.map(GenericArray::from);
                self.encrypt_blocks(&mut ga);
                *blocks = ga.map(Into::into);
            }
        }
    )*};
}

rustcrypto_block!(
    aes::Aes128 => 16,
    aes::Aes192 => 16,
    aes::Aes256 => 16,
);

// The crates the hand-written SM4, Twofish, 3DES, Blowfish and CAST5 are
// tested against.
/// Runs `step` over every full `N`-byte group of `buf`, then over the tail as
/// one zero-padded group, copying back only the tail's bytes. Sound for CFB
/// decryption, where each keystream block depends only on the ciphertext
/// before it, so the padding changes nothing that is copied back.
pub(crate) fn for_each_group_padded<const N: usize>(
    buf: &mut [u8],
    mut step: impl FnMut(&mut [u8]),
) {
    let mut groups = buf.chunks_exact_mut(N);
    for g in &mut groups {
        step(g);
    }
    let rest = groups.into_remainder();
    if !rest.is_empty() {
        let mut tmp = [0u8; N];
        tmp[..rest.len()].copy_from_slice(rest);
        step(&mut tmp);
        rest.copy_from_slice(&tmp[..rest.len()]);
    }
}

#[cfg(test)]
rustcrypto_block!(
    sm4::Sm4 => 16,
    twofish::Twofish => 16,
    des::TdesEde3 => 8,
    blowfish::Blowfish => 8,
    cast5::Cast5 => 8,
);

#[inline]
fn xor_into(dst: &mut [u8], ks: &[u8]) {
    for (d, k) in dst.iter_mut().zip(ks) {
        *d ^= k;
    }
}

/// First keystream register, `E(IV)`.
#[inline]
pub(crate) fn first_register<const N: usize, C: BlockEnc<N>>(c: &C) -> [u8; N] {
    let mut r: [u8; N] = core::array::from_fn(|i| IV[i]);
    c.encrypt(&mut r);
    r
}

/// CFB-encrypts `buf` in place ([`BlockEnc::encrypt_cfb`]).
#[inline]
pub(crate) fn encrypt<const N: usize, C: BlockEnc<N>>(c: &C, buf: &mut [u8]) {
    c.encrypt_cfb(buf);
}

/// CFB-encrypts `buf` in place (the reference, one block after another).
pub(crate) fn encrypt_serial<const N: usize, C: BlockEnc<N>>(c: &C, buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    let mut r = first_register(c);
    let mut chunks = buf.chunks_exact_mut(N);
    let mut first = true;
    for block in &mut chunks {
        if !first {
            c.encrypt(&mut r);
        }
        first = false;
        xor_into(block, &r);
        r.copy_from_slice(block);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        if !first {
            c.encrypt(&mut r);
        }
        xor_into(tail, &r);
    }
}

/// CFB-decrypts `buf` in place ([`BlockEnc::decrypt_cfb`]).
#[inline]
pub(crate) fn decrypt<const N: usize, C: BlockEnc<N>>(c: &C, buf: &mut [u8]) {
    c.decrypt_cfb(buf);
}

/// CFB decryption through [`BlockEnc::encrypt8`]. Every keystream block
/// depends on ciphertext only, so eight of them are computed at once.
pub(crate) fn decrypt_by_eights<const N: usize, C: BlockEnc<N>>(c: &C, buf: &mut [u8]) {
    let mut prev: [u8; N] = core::array::from_fn(|i| IV[i]);
    let mut chunks = buf.chunks_mut(N * LANES);
    for group in &mut chunks {
        let mut ks = [[0u8; N]; LANES];
        ks[0] = prev;
        let blocks = group.len().div_ceil(N);
        for (j, slot) in ks.iter_mut().enumerate().take(blocks).skip(1) {
            slot.copy_from_slice(&group[(j - 1) * N..j * N]);
        }
        if group.len() == N * LANES {
            prev.copy_from_slice(&group[(LANES - 1) * N..]);
        }
        if blocks == 1 {
            c.encrypt(&mut ks[0]);
        } else {
            c.encrypt8(&mut ks);
        }
        for (block, k) in group.chunks_mut(N).zip(&ks) {
            xor_into(block, k);
        }
    }
}

/// Decryption one block at a time, kept as the reference for [`decrypt`].
#[cfg(test)]
pub(crate) fn decrypt_serial<const N: usize, C: BlockEnc<N>>(c: &C, buf: &mut [u8]) {
    let mut r: [u8; N] = core::array::from_fn(|i| IV[i]);
    for block in buf.chunks_mut(N) {
        c.encrypt(&mut r);
        let mut next = [0u8; N];
        next[..block.len()].copy_from_slice(block);
        xor_into(block, &r);
        r = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipher::{AsyncStreamCipher, KeyInit, KeyIvInit};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_cfb_mode_crate(data in proptest::collection::vec(any::<u8>(), 0..600), key in any::<[u8; 16]>()) {
            let aes = aes::Aes128::new(&key.into());
            let mut ours = data.clone();
            encrypt(&aes, &mut ours);
            let mut theirs = data.clone();
            cfb_mode::Encryptor::<aes::Aes128>::new(&key.into(), &IV.into()).encrypt(&mut theirs);
            prop_assert_eq!(&ours, &theirs);
            let mut back = ours.clone();
            decrypt(&aes, &mut back);
            prop_assert_eq!(&back, &data);
            decrypt_serial(&aes, &mut ours);
            prop_assert_eq!(&ours, &data);
        }
    }
}
