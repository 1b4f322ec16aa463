//! kcp-go's Salsa20 framing (spec `session.md` §3.3): the first 8 bytes of the
//! datagram are the Salsa20 nonce and stay in clear; the rest is XORed with
//! the Salsa20/20 keystream from block counter 0.

use cipher::{KeyIvInit, StreamCipher};

/// A 32-byte Salsa20 key (shorter keys zero-padded, longer ones cut, as kcp-go does).
#[derive(Clone)]
pub(crate) struct Salsa {
    key: [u8; 32],
    /// Whether the SIMD keystream may be used (cleared for reference runs).
    pub(crate) simd: bool,
}

impl Salsa {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut k = [0u8; 32];
        let n = key.len().min(32);
        k[..n].copy_from_slice(&key[..n]);
        Salsa { key: k, simd: true }
    }

    /// Encrypts or decrypts (the same operation) `buf` in place.
    pub(crate) fn apply(&self, buf: &mut [u8]) {
        if buf.len() < 8 {
            return;
        }
        let (nonce, body) = buf.split_at_mut(8);
        let nonce: &[u8; 8] = (&*nonce).try_into().expect("split at 8");
        if self.simd && crate::simd::salsa20_xor(&self.key, nonce, body) {
            return;
        }
        self.apply_reference(nonce, body);
    }

    /// The RustCrypto `salsa20` crate: the reference the SIMD path is tested against.
    pub(crate) fn apply_reference(&self, nonce: &[u8; 8], body: &mut [u8]) {
        let mut c = salsa20::Salsa20::new(&self.key.into(), nonce.into());
        c.apply_keystream(body);
    }
}
