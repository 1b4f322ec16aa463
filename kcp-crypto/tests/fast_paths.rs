//! Every block cipher's runtime-dispatched fast paths (AES-NI, AVX-512 CFB
//! decryption, AVX2 Salsa20) against the same cipher built `without_simd`,
//! in both directions; and the VPCLMULQDQ CRC-32 against `crc32fast`. (The
//! AVX-512 XOR and the VAES batch lanes have their own unit tests against
//! their scalar references.)

use kcp_crypto::{BlockCrypt, kcptun_key};
use proptest::prelude::*;

fn ciphers(key: &[u8; 32]) -> Vec<(&'static str, BlockCrypt)> {
    vec![
        ("aes-128", BlockCrypt::aes(&key[..16]).unwrap()),
        ("aes-192", BlockCrypt::aes(&key[..24]).unwrap()),
        ("aes-256", BlockCrypt::aes(key).unwrap()),
        ("sm4", BlockCrypt::sm4(&key[..16]).unwrap()),
        ("twofish", BlockCrypt::twofish(key).unwrap()),
        ("3des", BlockCrypt::triple_des(&key[..24]).unwrap()),
        ("cast5", BlockCrypt::cast5(&key[..16]).unwrap()),
        ("blowfish", BlockCrypt::blowfish(key).unwrap()),
        ("blowfish-2", BlockCrypt::blowfish(&key[..2]).unwrap()),
        ("tea", BlockCrypt::tea(&key[..16]).unwrap()),
        ("xtea", BlockCrypt::xtea(&key[..16]).unwrap()),
        ("salsa20", BlockCrypt::salsa20(key)),
        ("xor", BlockCrypt::xor(key)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn fast_paths_match_the_portable_ones(
        data in proptest::collection::vec(any::<u8>(), 0..1600),
        pass in any::<[u8; 8]>(),
    ) {
        let key = kcptun_key(&pass);
        for (name, fast) in ciphers(&key) {
            let slow = fast.clone().without_simd();
            let (mut a, mut b) = (data.clone(), data.clone());
            fast.encrypt(&mut a);
            slow.encrypt(&mut b);
            prop_assert_eq!(&a, &b, "{} encrypt", name);
            // Decrypt the ciphertext, and also the raw data (any bytes are a ciphertext).
            for input in [a.clone(), data.clone()] {
                let (mut x, mut y) = (input.clone(), input);
                fast.decrypt(&mut x);
                slow.decrypt(&mut y);
                prop_assert_eq!(&x, &y, "{} decrypt", name);
            }
        }
    }
}

#[test]
fn crc32_matches_crc32fast_at_every_length() {
    let data: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 11) as u8)
        .collect();
    for n in 0..data.len() {
        assert_eq!(
            kcp_crypto::crc32(&data[..n]),
            crc32fast::hash(&data[..n]),
            "len {n}"
        );
    }
}
