//! kcp-go compatible packet encryption for kcp-rs.
//!
//! Byte-for-byte the crypt layer of kcp-go (`crypt.go`) and the cipher
//! selection and key derivation of kcptun: a kcptun or kcp-go peer given the
//! same `--key` and `--crypt` talks to a [`Crypt`] built with
//! [`Crypt::from_passphrase`]. Everything is sans-IO and works in place on
//! caller buffers that reserve head room for the header.
//!
//! * [`Crypt`] — framing: nonce, CRC-32 or AEAD tag, `seal`/`open`, batches.
//! * [`BlockCrypt`] — the non-AEAD ciphers as whole-buffer transforms
//!   (kcp-go's `BlockCrypt`): AES, SM4, Twofish, 3DES, CAST5, Blowfish, TEA,
//!   XTEA in kcp-go's CFB mode, Salsa20, XOR, none.
//! * [`AeadCrypt`] — AES-GCM.
//! * [`CryptName`] and [`kcptun_key`] — kcptun's `--crypt` names and key derivation.
//!
//! ```
//! use kcp_crypto::{Crypt, CryptName};
//! let mut a = Crypt::from_passphrase(CryptName::Salsa20, "secret")?;
//! let b = Crypt::from_passphrase("salsa20".parse()?, "secret")?;
//! let mut buf = vec![0u8; 1500];
//! buf[20..25].copy_from_slice(b"hello");
//! let n = a.seal(&mut buf, 5)?;
//! assert_eq!(b.open(&mut buf[..n])?, b"hello");
//! # Ok::<(), kcp_crypto::CryptError>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod aead;
#[cfg(target_arch = "x86_64")]
mod aesni;
mod batch;
mod block;
mod blowfish_t;
mod by_name;
mod cast5_t;
mod cfb;
mod crc;
mod error;
mod framing;
#[cfg(target_arch = "x86_64")]
mod gcm_vaes;
mod kdf;
mod nonce;
#[cfg(target_arch = "x86_64")]
mod planes;
mod salsa;
mod simd;
mod sm4_t;
mod tdes;
mod tea;
mod twofish_t;
mod xor;

pub use aead::{AeadCrypt, GCM_NONCE_LEN, GCM_TAG_LEN};
pub use block::BlockCrypt;
pub use by_name::CryptName;
pub use error::CryptError;
pub use framing::Crypt;
pub use kdf::{KCPTUN_DEFAULT_PASSPHRASE, KCPTUN_ITERATIONS, KCPTUN_SALT, kcptun_key};

/// CRC-32/IEEE (Go's `crc32.ChecksumIEEE`, zlib's `crc32`), the checksum
/// of non-AEAD datagrams.
///
/// ```
/// assert_eq!(kcp_crypto::crc32(b"123456789"), 0xCBF4_3926);
/// ```
#[inline]
pub fn crc32(data: &[u8]) -> u32 {
    crc::crc32(data)
}

/// Largest datagram kcp-go sends or reads (`mtuLimit`).
pub const MTU_LIMIT: usize = 1500;
/// Largest datagram [`Crypt`] handles: the largest UDP payload. kcp-go's own
/// sessions stay within [`MTU_LIMIT`], but its crypt layer has no limit.
pub const MAX_DATAGRAM_LEN: usize = 65_507;
/// Random nonce in front of a non-AEAD datagram (`nonceSize`).
pub const NONCE_LEN: usize = 16;
/// CRC-32 after the nonce (`crcSize`).
pub const CRC_LEN: usize = 4;
/// Non-AEAD header: nonce + CRC (`cryptHeaderSize`).
pub const CRYPT_HEADER_LEN: usize = NONCE_LEN + CRC_LEN;
