//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use kcp_crypto::{AeadCrypt, BlockCrypt, Crypt, CryptName};

/// Every cipher configuration: the 15 kcptun names plus the key sizes kcptun
/// never picks (Twofish-128/192, AES-256-GCM, AES-192-GCM, short Blowfish key).
pub fn all_crypts() -> Vec<(String, Crypt)> {
    let key = kcp_crypto::kcptun_key(b"proptest");
    let mut v: Vec<(String, Crypt)> = CryptName::ALL
        .iter()
        .map(|&n| (n.to_string(), Crypt::new(n, &key).unwrap()))
        .collect();
    v.push((
        "twofish-128".into(),
        Crypt::from_block(BlockCrypt::twofish(&key[..16]).unwrap()).unwrap(),
    ));
    v.push((
        "twofish-192".into(),
        Crypt::from_block(BlockCrypt::twofish(&key[..24]).unwrap()).unwrap(),
    ));
    v.push((
        "blowfish-3".into(),
        Crypt::from_block(BlockCrypt::blowfish(&key[..3]).unwrap()).unwrap(),
    ));
    v.push((
        "aes-192-gcm".into(),
        Crypt::from_aead(AeadCrypt::aes_gcm(&key[..24]).unwrap()).unwrap(),
    ));
    v.push((
        "aes-256-gcm".into(),
        Crypt::from_aead(AeadCrypt::aes_gcm(&key).unwrap()).unwrap(),
    ));
    v
}

/// Deterministic filler (xorshift), so failures reproduce.
pub fn fill(buf: &mut [u8], mut seed: u64) {
    seed |= 1;
    for b in buf {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = seed as u8;
    }
}

/// Seals `payload` into a fresh 1600-byte buffer; returns (buffer, datagram length).
pub fn seal(c: &mut Crypt, payload: &[u8]) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; 1600];
    let h = c.header_len();
    buf[h..h + payload.len()].copy_from_slice(payload);
    let n = c.seal(&mut buf, payload.len()).unwrap();
    (buf, n)
}
