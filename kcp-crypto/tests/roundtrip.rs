//! seal → open round trips for every cipher.

mod common;

use common::{all_crypts, fill, seal};
use kcp_crypto::{AeadCrypt, Crypt, CryptError, CryptName};
use proptest::prelude::*;

#[test]
fn every_cipher_every_length() {
    for (name, mut c) in all_crypts() {
        let max = c.max_datagram_len().min(1500) - c.overhead();
        for len in 0..=max {
            let mut payload = vec![0u8; len];
            fill(&mut payload, len as u64);
            let (mut buf, n) = seal(&mut c, &payload);
            assert_eq!(n, len + c.overhead(), "{name}");
            if len >= 16 && !matches!(name.as_str(), "none" | "null") {
                assert_ne!(
                    &buf[c.header_len()..][..len],
                    &payload[..],
                    "{name} left the payload in clear"
                );
            }
            assert_eq!(c.open(&mut buf[..n]), Ok(&payload[..]), "{name} len {len}");
        }
    }
}

#[test]
fn header_sizes_follow_the_spec() {
    let key = [0u8; 32];
    for name in CryptName::ALL {
        let c = Crypt::new(name, &key).unwrap();
        assert_eq!(c.header_len(), name.header_len(), "{name}");
        assert_eq!(c.overhead(), name.overhead(), "{name}");
    }
    assert_eq!(CryptName::Aes.overhead(), 20);
    assert_eq!(CryptName::Aes128Gcm.overhead(), 28);
    assert_eq!(CryptName::Null.overhead(), 0);
}

#[test]
fn unknown_names_fall_back_to_aes_256() {
    assert_eq!(CryptName::from_kcptun("rot13"), CryptName::Aes);
    assert_eq!("rot13".parse::<CryptName>(), Err(CryptError::UnknownName));
    for name in CryptName::ALL {
        assert_eq!(name.as_str().parse::<CryptName>(), Ok(name));
        assert_eq!(CryptName::from_kcptun(name.as_str()), name);
    }
}

#[test]
fn different_keys_do_not_interoperate() {
    let mut a = Crypt::from_passphrase(CryptName::Aes, "one").unwrap();
    let b = Crypt::from_passphrase(CryptName::Aes, "two").unwrap();
    let (mut buf, n) = seal(&mut a, b"hello world, this is kcp");
    assert_eq!(b.open(&mut buf[..n]), Err(CryptError::Checksum));
    let mut a = Crypt::from_passphrase(CryptName::Aes128Gcm, "one").unwrap();
    let b = Crypt::from_passphrase(CryptName::Aes128Gcm, "two").unwrap();
    let (mut buf, n) = seal(&mut a, b"hello");
    assert_eq!(b.open(&mut buf[..n]), Err(CryptError::Auth));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_random_payloads(payload in proptest::collection::vec(any::<u8>(), 0..1472), seed in any::<[u8; 32]>()) {
        for (name, mut c) in all_crypts() {
            c.seed_nonces_for_tests(seed);
            let (mut buf, n) = seal(&mut c, &payload);
            prop_assert_eq!(c.open(&mut buf[..n]), Ok(&payload[..]), "{}", name);
        }
    }

    #[test]
    fn ring_gcm_matches_rustcrypto(payload in proptest::collection::vec(any::<u8>(), 0..1472), nonce in any::<[u8; 12]>(), key in any::<[u8; 32]>(), klen in prop_oneof![Just(16usize), Just(32)]) {
        let fast = Crypt::from_aead(AeadCrypt::aes_gcm(&key[..klen]).unwrap()).unwrap();
        let slow = Crypt::from_aead(AeadCrypt::aes_gcm_reference(&key[..klen]).unwrap()).unwrap();
        let mut a = vec![0u8; 1600];
        a[12..12 + payload.len()].copy_from_slice(&payload);
        let mut b = a.clone();
        let n = fast.seal_with_nonce(&mut a, payload.len(), &nonce).unwrap();
        prop_assert_eq!(slow.seal_with_nonce(&mut b, payload.len(), &nonce).unwrap(), n);
        prop_assert_eq!(&a[..n], &b[..n]);
        prop_assert_eq!(slow.open(&mut a[..n]), Ok(&payload[..]));
    }
}
