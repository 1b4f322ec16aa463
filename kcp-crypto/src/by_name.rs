//! kcptun's `--crypt` names and the key prefix each one takes
//! (spec `kcptun-defaults.md` §2).

use crate::CryptError;
use core::fmt;
use core::str::FromStr;

/// A kcptun `--crypt` value.
///
/// ```
/// use kcp_crypto::CryptName;
/// assert_eq!("aes-128".parse::<CryptName>(), Ok(CryptName::Aes128));
/// assert_eq!(CryptName::from_kcptun("no-such-cipher"), CryptName::Aes);
/// assert_eq!(CryptName::TripleDes.key_len(), 24);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptName {
    /// `aes`: AES-256-CFB with the whole 32-byte key (kcptun's default).
    Aes,
    /// `aes-128`: AES-128-CFB.
    Aes128,
    /// `aes-192`: AES-192-CFB.
    Aes192,
    /// `aes-128-gcm`: AES-128-GCM (AEAD, 12-byte nonce, no CRC).
    Aes128Gcm,
    /// `salsa20`.
    Salsa20,
    /// `blowfish`: Blowfish-CFB with a 32-byte key.
    Blowfish,
    /// `twofish`: Twofish-256-CFB.
    Twofish,
    /// `cast5`: CAST5-CFB.
    Cast5,
    /// `3des`: 3DES-EDE-CFB.
    TripleDes,
    /// `tea`: TEA-CFB, 16 rounds.
    Tea,
    /// `xtea`: XTEA-CFB.
    Xtea,
    /// `xor`: kcp-go's simple XOR.
    Xor,
    /// `sm4`: SM4-CFB.
    Sm4,
    /// `none`: identity cipher, but the 20-byte nonce + CRC header is still sent.
    None,
    /// `null`: no crypt layer at all, no header.
    Null,
}

impl CryptName {
    /// Every name, in kcptun's documentation order.
    pub const ALL: [CryptName; 15] = [
        CryptName::Aes,
        CryptName::Aes128,
        CryptName::Aes192,
        CryptName::Aes128Gcm,
        CryptName::Salsa20,
        CryptName::Blowfish,
        CryptName::Twofish,
        CryptName::Cast5,
        CryptName::TripleDes,
        CryptName::Tea,
        CryptName::Xtea,
        CryptName::Xor,
        CryptName::Sm4,
        CryptName::None,
        CryptName::Null,
    ];

    /// The `--crypt` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CryptName::Aes => "aes",
            CryptName::Aes128 => "aes-128",
            CryptName::Aes192 => "aes-192",
            CryptName::Aes128Gcm => "aes-128-gcm",
            CryptName::Salsa20 => "salsa20",
            CryptName::Blowfish => "blowfish",
            CryptName::Twofish => "twofish",
            CryptName::Cast5 => "cast5",
            CryptName::TripleDes => "3des",
            CryptName::Tea => "tea",
            CryptName::Xtea => "xtea",
            CryptName::Xor => "xor",
            CryptName::Sm4 => "sm4",
            CryptName::None => "none",
            CryptName::Null => "null",
        }
    }

    /// Parses like kcptun does: any name it does not know means `aes`.
    pub fn from_kcptun(name: &str) -> CryptName {
        name.parse().unwrap_or(CryptName::Aes)
    }

    /// How many leading bytes of the 32-byte [`kcptun_key`](crate::kcptun_key)
    /// the cipher gets (kcptun `std/crypt.go`); `null` takes none.
    pub fn key_len(self) -> usize {
        match self {
            CryptName::Aes128
            | CryptName::Aes128Gcm
            | CryptName::Sm4
            | CryptName::Tea
            | CryptName::Xtea
            | CryptName::Cast5 => 16,
            CryptName::Aes192 | CryptName::TripleDes => 24,
            CryptName::Null => 0,
            _ => 32,
        }
    }

    /// Bytes the crypt layer puts in front of the payload: 20 (nonce + CRC),
    /// 12 (GCM nonce) or 0 (`null`).
    pub fn header_len(self) -> usize {
        match self {
            CryptName::Aes128Gcm => crate::GCM_NONCE_LEN,
            CryptName::Null => 0,
            _ => crate::CRYPT_HEADER_LEN,
        }
    }

    /// Total bytes the crypt layer adds to a datagram: header plus AEAD tag.
    pub fn overhead(self) -> usize {
        match self {
            CryptName::Aes128Gcm => crate::GCM_NONCE_LEN + crate::GCM_TAG_LEN,
            other => other.header_len(),
        }
    }
}

impl FromStr for CryptName {
    type Err = CryptError;

    /// Strict parsing: unknown names are an error (see [`CryptName::from_kcptun`]).
    fn from_str(s: &str) -> Result<Self, CryptError> {
        CryptName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or(CryptError::UnknownName)
    }
}

impl fmt::Display for CryptName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
