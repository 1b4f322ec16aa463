//! Every block cipher's runtime-dispatched fast paths (AES-NI, AVX-512 CFB
//! decryption, AVX2 Salsa20) against the same cipher built `without_simd`,
//! in both directions; the VPCLMULQDQ CRC-32 against `crc32fast` at every
//! length and alignment; and the AVX2 XOR at every length and alignment
//! against a byte-by-byte XOR with its key table. (The XOR and the VAES
//! batch lanes also have unit tests against their scalar references.)

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
fn crc32_matches_crc32fast_at_every_alignment() {
    // Lengths around every path boundary (the 17-byte threshold, whole and
    // partial 64-byte blocks, the 24-block direct limit, the 512-byte fold),
    // each at every start offset within a cache line.
    let data: Vec<u8> = (0..4200u32)
        .map(|i| (i.wrapping_mul(0x85EB_CA6B) >> 9) as u8)
        .collect();
    let lens = (0..=200)
        .chain((1000..=1100).step_by(3))
        .chain(1400..=1600)
        .chain([2047, 2048, 2049, 2559, 2560, 2561, 4095, 4096]);
    for n in lens {
        for off in 0..64 {
            let d = &data[off..off + n];
            assert_eq!(
                kcp_crypto::crc32(d),
                crc32fast::hash(d),
                "len {n} offset {off}"
            );
        }
    }
}

#[test]
fn xor_matches_bytewise_at_every_length_and_alignment() {
    let c = BlockCrypt::xor(b"fast paths");
    // The key table (XOR over zeros, one call); every other length and
    // alignment below must agree with it byte by byte.
    let mut table = vec![0u8; 1500];
    c.encrypt(&mut table);
    let data: Vec<u8> = (0..1700u32)
        .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 11) as u8)
        .collect();
    let mut store = vec![0u8; 1700 + 64];
    for n in (0..=300).chain([1023, 1024, 1025, 1399, 1400, 1499, 1500, 1501, 1600]) {
        for off in 0..64 {
            let buf = &mut store[off..off + n];
            buf.copy_from_slice(&data[..n]);
            c.encrypt(buf);
            for (i, (&b, &x)) in buf.iter().zip(&data[..n]).enumerate() {
                // Bytes past the 1500-byte table stay as they are.
                let want = if i < 1500 { x ^ table[i] } else { x };
                assert_eq!(b, want, "len {n} offset {off} byte {i}");
            }
            c.decrypt(buf);
            assert_eq!(&buf[..], &data[..n], "len {n} offset {off} round trip");
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

#[test]
fn fast_paths_match_the_portable_ones_on_long_buffers() {
    // Beyond the proptest's 1600 bytes: many 64-block steps of the wide
    // decryptions, and the largest datagram `Crypt` handles.
    let key = kcptun_key(b"long buffers");
    for n in [4096 + 13, 9000, kcp_crypto::MAX_DATAGRAM_LEN] {
        let data: Vec<u8> = (0..n as u32)
            .map(|i| (i.wrapping_mul(0x9E37_79B1) >> 11) as u8)
            .collect();
        for (name, fast) in ciphers(&key) {
            let slow = fast.clone().without_simd();
            let (mut a, mut b) = (data.clone(), data.clone());
            fast.encrypt(&mut a);
            slow.encrypt(&mut b);
            assert_eq!(a, b, "{name} encrypt, {n} bytes");
            let (mut x, mut y) = (data.clone(), data.clone());
            fast.decrypt(&mut x);
            slow.decrypt(&mut y);
            assert_eq!(x, y, "{name} decrypt, {n} bytes");
        }
    }
}
