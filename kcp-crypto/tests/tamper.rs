//! Corrupted, short and oversized datagrams: typed errors, never panics.

mod common;

use common::{all_crypts, fill, seal};
use kcp_crypto::{Crypt, CryptError, CryptName, MAX_DATAGRAM_LEN, MTU_LIMIT};

/// Bytes at the front of a non-AEAD datagram whose corruption kcp-go cannot
/// notice: the CRC covers bytes 20.., not the nonce. A flipped ciphertext bit
/// flips the same plaintext bit and, in CFB, garbles the next block, so for
/// 16-byte blocks every flip reaches the CRC-covered area; for 8-byte blocks
/// flips in bytes 0..8 only disturb the nonce; for stream ciphers flips in
/// the nonce stay there (Salsa20's clear 8 bytes change the keystream and are
/// caught).
fn blind_prefix(name: &str) -> usize {
    match name {
        "aes" | "aes-128" | "aes-192" | "twofish" | "twofish-128" | "twofish-192" | "sm4" => 0,
        "blowfish" | "blowfish-3" | "cast5" | "3des" | "tea" | "xtea" => 8,
        "xor" | "none" => 16,
        "salsa20" => 16, // bytes 8..16; flips in 0..8 are caught
        _ => 0,
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for (name, mut c) in all_crypts() {
        if c.overhead() == 0 {
            continue; // null: no integrity at all, as in kcp-go
        }
        let aead = c.aead().is_some();
        for len in [0usize, 1, 13, 100] {
            let mut payload = vec![0u8; len];
            fill(&mut payload, 7 + len as u64);
            let (wire, n) = seal(&mut c, &payload);
            for bit in 0..n * 8 {
                let mut d = wire[..n].to_vec();
                d[bit / 8] ^= 1 << (bit % 8);
                let got = c.open(&mut d);
                let byte = bit / 8;
                if aead {
                    assert_eq!(got, Err(CryptError::Auth), "{name} len {len} bit {bit}");
                } else if byte >= blind_prefix(&name) || (name == "salsa20" && byte < 8) {
                    assert_eq!(got, Err(CryptError::Checksum), "{name} len {len} bit {bit}");
                } else {
                    // Undetectable by design; the payload must still be intact.
                    assert_eq!(got, Ok(&payload[..]), "{name} len {len} bit {bit}");
                }
            }
        }
    }
}

#[test]
fn short_datagrams_are_too_short() {
    for (name, c) in all_crypts() {
        for len in 0..c.overhead() {
            let mut d = vec![0xA5u8; len];
            assert_eq!(
                c.open(&mut d),
                Err(CryptError::TooShort {
                    len,
                    min: c.overhead()
                }),
                "{name}"
            );
        }
    }
}

#[test]
fn oversized_datagrams_are_too_long() {
    for (name, mut c) in all_crypts() {
        let max = c.max_datagram_len();
        let mut d = vec![0u8; max + 1];
        assert_eq!(
            c.open(&mut d),
            Err(CryptError::TooLong { len: max + 1, max }),
            "{name}"
        );
        let payload_len = max + 1 - c.overhead();
        let mut buf = vec![0u8; max + 1];
        assert_eq!(
            c.seal(&mut buf, payload_len),
            Err(CryptError::TooLong { len: max + 1, max }),
            "{name}"
        );
        assert!(
            buf.iter().all(|&b| b == 0),
            "{name}: seal touched the buffer on error"
        );
    }
    let xor = Crypt::from_passphrase(CryptName::Xor, "k").unwrap();
    assert_eq!(xor.max_datagram_len(), MTU_LIMIT);
    let aes = Crypt::from_passphrase(CryptName::Aes, "k").unwrap();
    assert_eq!(aes.max_datagram_len(), MAX_DATAGRAM_LEN);
}

#[test]
fn seal_needs_room() {
    for (name, mut c) in all_crypts() {
        let mut buf = vec![0u8; 50];
        let needed = 51 + c.overhead();
        assert_eq!(
            c.seal(&mut buf, 51),
            Err(CryptError::NoRoom { needed, len: 50 }),
            "{name}"
        );
        assert_eq!(
            c.seal(&mut buf, usize::MAX).unwrap_err(),
            CryptError::NoRoom {
                needed: usize::MAX,
                len: 50
            }
        );
    }
    let c = Crypt::from_passphrase(CryptName::Aes, "k").unwrap();
    let mut buf = [0u8; 40];
    assert_eq!(
        c.seal_with_nonce(&mut buf, 4, &[0; 12]),
        Err(CryptError::NonceLength {
            len: 12,
            expected: 16
        })
    );
}

#[test]
fn garbage_is_rejected_with_typed_errors() {
    for (name, c) in all_crypts() {
        for len in [28usize, 64, 1400] {
            let mut d = vec![0u8; len];
            fill(&mut d, len as u64 * 31);
            match c.open(&mut d) {
                Err(CryptError::Checksum) => assert!(c.block().is_some(), "{name}"),
                Err(CryptError::Auth) => assert!(c.aead().is_some(), "{name}"),
                Ok(_) => assert_eq!(c.overhead(), 0, "{name} accepted garbage"),
                Err(e) => panic!("{name}: unexpected {e}"),
            }
        }
    }
}

#[test]
fn errors_display() {
    let e: Box<dyn std::error::Error> = Box::new(CryptError::TooShort { len: 3, min: 20 });
    assert_eq!(
        e.to_string(),
        "datagram of 3 bytes is shorter than the 20-byte minimum"
    );
    assert_eq!(
        CryptError::Checksum.to_string(),
        "CRC-32 mismatch after decryption"
    );
}
