//! Arbitrary bytes into `Crypt::open` for a CFB block cipher (16- and 8-byte
//! blocks), Salsa20, XOR and AES-GCM: every input must give `Ok` or a typed
//! error, never a panic. The first byte picks the cipher; on `Ok` the payload
//! is re-sealed with the recovered nonce and must reproduce the input.
#![no_main]

use kcp_crypto::{Crypt, CryptName};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NAMES: [CryptName; 8] = [
    CryptName::Aes128,
    CryptName::Blowfish,
    CryptName::Cast5,
    CryptName::Xtea,
    CryptName::Salsa20,
    CryptName::Xor,
    CryptName::Aes128Gcm,
    CryptName::Null,
];

fn crypts() -> &'static Vec<Crypt> {
    static CRYPTS: OnceLock<Vec<Crypt>> = OnceLock::new();
    CRYPTS.get_or_init(|| {
        let key = kcp_crypto::kcptun_key(b"fuzz");
        NAMES
            .iter()
            .map(|&n| Crypt::new(n, &key).expect("cipher"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, datagram)) = data.split_first() else {
        return;
    };
    let crypt = &crypts()[pick as usize % NAMES.len()];
    let mut buf = datagram.to_vec();
    if let Ok(range) = crypt.open_in_place(&mut buf) {
        assert!(range.end <= datagram.len());
        if crypt.block().is_some() {
            // Decrypted header + payload re-encrypt to the same wire bytes.
            let nonce = buf[..crypt.nonce_len()].to_vec();
            let mut again = buf.clone();
            let n = crypt
                .seal_with_nonce(&mut again, range.len(), &nonce)
                .expect("fits");
            assert_eq!(&again[..n], datagram);
        }
    }
});
