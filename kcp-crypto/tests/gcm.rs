//! AES-GCM backends: NIST vectors, the AVX-512 VAES path (`gcm_vaes.rs`,
//! used by `AeadCrypt::aes_gcm` when the CPU has it) against RustCrypto
//! `aes-gcm` (`aes_gcm_reference`) and `ring` (`without_simd`), for every
//! length 0..=2100, some up to 65536, misaligned buffers, and tampering.

use kcp_crypto::{AeadCrypt, CryptError};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Whether `AeadCrypt::aes_gcm` should pick the AVX-512 path on this CPU.
fn expect_fast() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("vaes")
            && std::is_x86_feature_detected!("vpclmulqdq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[test]
fn fast_path_is_selected_when_available() {
    for klen in [16, 32] {
        let g = AeadCrypt::aes_gcm(&vec![3u8; klen]).unwrap();
        let dbg = format!("{g:?}");
        assert_eq!(dbg.contains("vaes-avx512"), expect_fast(), "{dbg}");
        let slow = format!("{:?}", g.without_simd());
        assert!(slow.contains("ring"), "{slow}");
    }
    // AES-192 never takes it.
    let g = AeadCrypt::aes_gcm(&[3u8; 24]).unwrap();
    assert!(!format!("{g:?}").contains("vaes"));
}

/// The GCM specification's test cases without AAD (McGrew & Viega, as
/// referenced by NIST SP 800-38D): key, IV, plaintext, ciphertext, tag.
const NIST: &[(&str, &str, &str, &str, &str)] = &[
    // Test case 1: AES-128, empty plaintext.
    (
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "58e2fccefa7e3061367f1d57a4e7455a",
    ),
    // Test case 2: AES-128, one zero block.
    (
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "00000000000000000000000000000000",
        "0388dace60b6a392f328c2b971b2fe78",
        "ab6e47d42cec13bdf53a67b21257bddf",
    ),
    // Test case 3: AES-128, four blocks.
    (
        "feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4",
    ),
    // Test case 13: AES-256, empty plaintext.
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "530f8afbc74536b9a963b4f1c4cb738b",
    ),
    // Test case 14: AES-256, one zero block.
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "00000000000000000000000000000000",
        "cea7403d4d606b6e074ec5d3baf39d18",
        "d0d1c8a799996bf0265b98b5d48ab919",
    ),
    // Test case 15: AES-256, four blocks.
    (
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c",
    ),
];

fn backends(key: &[u8]) -> [(&'static str, AeadCrypt); 3] {
    [
        ("default", AeadCrypt::aes_gcm(key).unwrap()),
        ("ring", AeadCrypt::aes_gcm(key).unwrap().without_simd()),
        ("rustcrypto", AeadCrypt::aes_gcm_reference(key).unwrap()),
    ]
}

#[test]
fn nist_vectors() {
    for (k, iv, p, c, t) in NIST {
        let (key, iv, pt, ct, tag) = (hex(k), hex(iv), hex(p), hex(c), hex(t));
        let nonce: [u8; 12] = iv.try_into().unwrap();
        let tag: [u8; 16] = tag.try_into().unwrap();
        for (name, g) in backends(&key) {
            let mut buf = pt.clone();
            assert_eq!(g.seal_in_place(&nonce, &mut buf), tag, "{name} {k}");
            assert_eq!(buf, ct, "{name} {k}");
            g.open_in_place(&nonce, &mut buf, &tag).unwrap();
            assert_eq!(buf, pt, "{name} {k}");
        }
    }
}

/// splitmix64, for deterministic test data.
fn fill(buf: &mut [u8], seed: u64) {
    let mut s = seed;
    for chunk in buf.chunks_mut(8) {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

/// Seals and opens `len` bytes at byte offset `off` with the default
/// backend and checks ciphertext, tag and round trip against the reference.
fn check(key: &[u8], nonce: &[u8; 12], len: usize, off: usize, seed: u64) {
    let fast = AeadCrypt::aes_gcm(key).unwrap();
    let reference = AeadCrypt::aes_gcm_reference(key).unwrap();
    let mut pt = vec![0u8; len];
    fill(&mut pt, seed);
    let mut want = pt.clone();
    let want_tag = reference.seal_in_place(nonce, &mut want);
    let mut store = vec![0xA5u8; len + off + 64];
    let buf = &mut store[off..off + len];
    buf.copy_from_slice(&pt);
    let tag = fast.seal_in_place(nonce, buf);
    assert_eq!(tag, want_tag, "tag len {len} off {off}");
    assert!(buf == &want[..], "ciphertext len {len} off {off}");
    // Bytes around the buffer are untouched (masked tail stores).
    assert!(store[..off].iter().all(|&b| b == 0xA5), "before len {len}");
    assert!(
        store[off + len..].iter().all(|&b| b == 0xA5),
        "after len {len}"
    );
    let buf = &mut store[off..off + len];
    fast.open_in_place(nonce, buf, &tag).unwrap();
    assert!(buf == &pt[..], "plaintext len {len} off {off}");
    assert!(
        store[off + len..].iter().all(|&b| b == 0xA5),
        "after open len {len}"
    );
    // The reference opens what the fast path sealed, and vice versa.
    let mut c2 = want.clone();
    reference.open_in_place(nonce, &mut c2, &want_tag).unwrap();
    assert_eq!(c2, pt);
    // A wrong tag is rejected.
    let mut bad = want_tag;
    bad[len % 16] ^= 0x80;
    let mut c3 = want.clone();
    assert!(matches!(
        fast.open_in_place(nonce, &mut c3, &bad),
        Err(CryptError::Auth)
    ));
}

#[test]
fn every_length_up_to_2100_matches_reference() {
    for len in 0..=2100usize {
        let mut key = [0u8; 32];
        fill(&mut key, len as u64);
        let mut nonce = [0u8; 12];
        fill(&mut nonce, !(len as u64));
        let klen = if len % 2 == 0 { 16 } else { 32 };
        check(&key[..klen], &nonce, len, len % 67, len as u64 * 31);
    }
}

#[test]
fn long_lengths_match_reference() {
    for (i, len) in [4095usize, 4096, 4097, 8191, 16384 + 7, 32768, 65535, 65536]
        .into_iter()
        .enumerate()
    {
        for klen in [16, 32] {
            let mut key = [0u8; 32];
            fill(&mut key, 1000 + i as u64);
            let mut nonce = [0u8; 12];
            fill(&mut nonce, 2000 + i as u64);
            check(&key[..klen], &nonce, len, i * 5 % 64, i as u64);
        }
    }
}

#[test]
fn nonce_counter_low_word_edge() {
    // Nonces are 96 bits; the block counter starts at 2 in the low 32 bits.
    // Make sure no carry leaks into the nonce with all-ones nonces.
    for klen in [16, 32] {
        check(&[0xFF; 32][..klen], &[0xFF; 12], 4096, 3, 9);
    }
}

#[test]
fn every_bit_flip_is_rejected() {
    for klen in [16, 32] {
        let mut key = [0u8; 32];
        fill(&mut key, 77);
        let g = AeadCrypt::aes_gcm(&key[..klen]).unwrap();
        let nonce = [5u8; 12];
        for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 300, 1400] {
            let mut pt = vec![0u8; len];
            fill(&mut pt, len as u64);
            let mut ct = pt.clone();
            let tag = g.seal_in_place(&nonce, &mut ct);
            for bit in 0..(len + 16) * 8 {
                let mut c = ct.clone();
                let mut t = tag;
                if bit < len * 8 {
                    c[bit / 8] ^= 1 << (bit % 8);
                } else {
                    let b = bit - len * 8;
                    t[b / 8] ^= 1 << (b % 8);
                }
                assert!(
                    matches!(g.open_in_place(&nonce, &mut c, &t), Err(CryptError::Auth)),
                    "klen {klen} len {len} bit {bit}"
                );
            }
            // Wrong nonce.
            let mut c = ct.clone();
            let mut n2 = nonce;
            n2[11] ^= 1;
            assert!(g.open_in_place(&n2, &mut c, &tag).is_err());
            let mut c = ct.clone();
            g.open_in_place(&nonce, &mut c, &tag).unwrap();
            assert_eq!(c, pt);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_reference(
        len in 0usize..2100,
        off in 0usize..64,
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 12]>(),
        aes256 in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let klen = if aes256 { 32 } else { 16 };
        check(&key[..klen], &nonce, len, off, seed);
    }

    #[test]
    fn matches_ring(
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 12]>(),
        aes256 in any::<bool>(),
    ) {
        let klen = if aes256 { 32 } else { 16 };
        let fast = AeadCrypt::aes_gcm(&key[..klen]).unwrap();
        let ring = AeadCrypt::aes_gcm(&key[..klen]).unwrap().without_simd();
        let mut a = payload.clone();
        let mut b = payload.clone();
        let ta = fast.seal_in_place(&nonce, &mut a);
        let tb = ring.seal_in_place(&nonce, &mut b);
        prop_assert_eq!(ta, tb);
        prop_assert_eq!(&a, &b);
        ring.open_in_place(&nonce, &mut a, &ta).unwrap();
        prop_assert_eq!(&a, &payload);
        fast.open_in_place(&nonce, &mut b, &tb).unwrap();
        prop_assert_eq!(&b, &payload);
    }

    #[test]
    fn random_long_lengths(
        len in 2100usize..=65536,
        off in 0usize..64,
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 12]>(),
        seed in any::<u64>(),
    ) {
        check(&key[..16], &nonce, len, off, seed);
    }

    #[test]
    fn single_flip_rejected(
        len in 0usize..600,
        key in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        pick in any::<usize>(),
    ) {
        let g = AeadCrypt::aes_gcm(&key).unwrap();
        let mut ct = vec![0x11u8; len];
        let tag = g.seal_in_place(&nonce, &mut ct);
        let bit = pick % ((len + 16) * 8);
        let mut t = tag;
        if bit < len * 8 {
            ct[bit / 8] ^= 1 << (bit % 8);
        } else {
            let b = bit - len * 8;
            t[b / 8] ^= 1 << (b % 8);
        }
        prop_assert!(g.open_in_place(&nonce, &mut ct, &t).is_err());
    }
}
