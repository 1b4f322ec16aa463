//! Key derivation as kcptun does it (spec `kcptun-defaults.md` §1).

use sha1::Sha1;

/// kcptun's PBKDF2 salt.
pub const KCPTUN_SALT: &[u8] = b"kcp-go";
/// kcptun's PBKDF2 iteration count.
pub const KCPTUN_ITERATIONS: u32 = 4096;
/// kcptun's default `--key` (the misspelling is kcptun's).
pub const KCPTUN_DEFAULT_PASSPHRASE: &str = "it's a secrect";

/// Derives kcptun's 32-byte master key: PBKDF2-HMAC-SHA1(passphrase, `kcp-go`, 4096).
///
/// Each cipher then takes a prefix of it, see [`CryptName::key_len`](crate::CryptName::key_len).
///
/// ```
/// let key = kcp_crypto::kcptun_key(kcp_crypto::KCPTUN_DEFAULT_PASSPHRASE.as_bytes());
/// assert_eq!(key[..4], [0x25, 0xd7, 0xd7, 0xbd]);
/// ```
pub fn kcptun_key(passphrase: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha1>(passphrase, KCPTUN_SALT, KCPTUN_ITERATIONS, &mut key);
    key
}
