//! The one error type of this crate.

use core::fmt;

/// Why a datagram could not be sealed or opened, or a cipher not built.
///
/// The three receive-side failures ([`TooShort`](CryptError::TooShort),
/// [`Checksum`](CryptError::Checksum), [`Auth`](CryptError::Auth)) are kept
/// apart so that a session can count them the way kcp-go does: kcp-go drops
/// short datagrams silently and counts CRC and tag failures in
/// `InCsumErrors` (spec `session.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptError {
    /// The datagram is shorter than the crypt header (plus tag for AEAD).
    TooShort {
        /// Length of the datagram received.
        len: usize,
        /// Smallest length this cipher accepts.
        min: usize,
    },
    /// The datagram (or the datagram a seal would produce) is longer than
    /// [`Crypt::max_datagram_len`](crate::Crypt::max_datagram_len).
    TooLong {
        /// Length of the datagram.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
    /// Non-AEAD mode: the CRC-32 stored after the nonce does not match the
    /// decrypted contents (wrong key, wrong cipher or corruption).
    Checksum,
    /// AEAD mode: the authentication tag did not verify.
    Auth,
    /// The buffer given to `seal` has no room for the header in front of the
    /// payload or for the AEAD tag behind it.
    NoRoom {
        /// Bytes the buffer must hold.
        needed: usize,
        /// Bytes it holds.
        len: usize,
    },
    /// The key length does not suit the cipher.
    KeyLength {
        /// Length given.
        len: usize,
    },
    /// The nonce given to a `*_with_nonce` call has the wrong length.
    NonceLength {
        /// Length given.
        len: usize,
        /// Length required.
        expected: usize,
    },
    /// `seal_batch` got a different number of buffers and lengths.
    BatchLength {
        /// Buffers given.
        bufs: usize,
        /// Lengths given.
        lens: usize,
    },
    /// A crypt name that kcptun does not know (strict parsing only).
    UnknownName,
    /// The operating system's random source failed.
    Rng,
}

impl fmt::Display for CryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CryptError::TooShort { len, min } => {
                write!(
                    f,
                    "datagram of {len} bytes is shorter than the {min}-byte minimum"
                )
            }
            CryptError::TooLong { len, max } => {
                write!(f, "datagram of {len} bytes exceeds the {max}-byte limit")
            }
            CryptError::Checksum => f.write_str("CRC-32 mismatch after decryption"),
            CryptError::Auth => f.write_str("AEAD authentication failed"),
            CryptError::NoRoom { needed, len } => {
                write!(
                    f,
                    "buffer of {len} bytes has no room for a {needed}-byte datagram"
                )
            }
            CryptError::KeyLength { len } => write!(f, "invalid key length {len} for this cipher"),
            CryptError::NonceLength { len, expected } => {
                write!(f, "nonce of {len} bytes given, {expected} required")
            }
            CryptError::BatchLength { bufs, lens } => {
                write!(f, "batch of {bufs} buffers came with {lens} lengths")
            }
            CryptError::UnknownName => f.write_str("unknown crypt name"),
            CryptError::Rng => f.write_str("operating system random source failed"),
        }
    }
}

impl std::error::Error for CryptError {}
