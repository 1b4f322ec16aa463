//! Nonce generator: AES-128 in counter mode, keyed once from the operating
//! system (`getrandom`) and re-keyed every 2^24 blocks, so a datagram costs
//! an eighth of an eight-block AES call instead of a syscall. Like kcp-go's
//! generator it is not part of the wire contract; it only has to be
//! unpredictable and non-repeating.

use crate::CryptError;
use crate::cfb::{BlockEnc, LANES};
use cipher::KeyInit;

/// Blocks produced between two re-keyings (kcp-go also reseeds every 2^24 reads).
const RESEED_BLOCKS: u64 = 1 << 24;

pub(crate) struct NonceRng {
    aes: aes::Aes128,
    counter: u128,
    buf: [[u8; 16]; LANES],
    next: usize,
    since_reseed: u64,
}

impl NonceRng {
    /// Seeds from the operating system.
    pub(crate) fn new() -> Result<Self, CryptError> {
        Ok(Self::from_seed(os_seed()?))
    }

    /// A deterministic generator, for tests only.
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        let (key, ctr) = seed.split_at(16);
        NonceRng {
            aes: aes::Aes128::new_from_slice(key).expect("16-byte key"),
            counter: u128::from_le_bytes(ctr.try_into().expect("16 bytes")),
            buf: [[0; 16]; LANES],
            next: LANES,
            since_reseed: 0,
        }
    }

    /// Fills `out` (at most 16 bytes) with fresh random bytes.
    #[inline]
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        if self.next == LANES {
            self.refill();
        }
        let block = &self.buf[self.next];
        out.copy_from_slice(&block[..out.len()]);
        self.next += 1;
    }

    fn refill(&mut self) {
        if self.since_reseed >= RESEED_BLOCKS {
            // A failed re-key keeps the current key: counter mode under one key
            // never repeats a block, so the output stays unique either way.
            if let Ok(seed) = os_seed() {
                *self = Self::from_seed(seed);
            }
            self.since_reseed = 0;
        }
        for b in self.buf.iter_mut() {
            *b = self.counter.to_le_bytes();
            self.counter = self.counter.wrapping_add(1);
        }
        self.aes.encrypt8(&mut self.buf);
        self.since_reseed += LANES as u64;
        self.next = 0;
    }
}

fn os_seed() -> Result<[u8; 32], CryptError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| CryptError::Rng)?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_and_reseed_keeps_going() {
        let mut rng = NonceRng::from_seed([3; 32]);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let mut n = [0u8; 16];
            rng.fill(&mut n);
            assert!(seen.insert(n));
        }
        rng.since_reseed = RESEED_BLOCKS;
        let mut n = [0u8; 12];
        rng.fill(&mut n);
        assert_eq!(rng.since_reseed, LANES as u64);
    }
}
