//! Typed errors.

use core::fmt;

use kcp_crypto::CryptError;
use kcp_fec::FecError;

/// A [`SessionConfig`](crate::SessionConfig) that cannot make a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The MTU leaves no room for one KCP header after the crypt and FEC
    /// headers (kcp-go's `SetMtu` returns false; spec §2.1).
    Mtu {
        /// The session MTU asked for.
        mtu: usize,
        /// Bytes of crypt + FEC headers and AEAD tag.
        overhead: usize,
    },
    /// The FEC layout cannot be built (more than 256 shards).
    Fec(FecError),
    /// The cipher cannot be built (key length, RNG).
    Crypt(CryptError),
    /// KCP rejected a setting.
    Kcp(kcp_core::ConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Mtu { mtu, overhead } => {
                write!(
                    f,
                    "mtu {mtu} leaves no room for KCP after {overhead} header bytes"
                )
            }
            ConfigError::Fec(e) => write!(f, "fec: {e}"),
            ConfigError::Crypt(e) => write!(f, "crypt: {e}"),
            ConfigError::Kcp(e) => write!(f, "kcp: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why [`Connection::send`](crate::Connection::send) refused data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The connection was closed.
    Closed,
    /// KCP refused a piece (cannot happen with pieces of at most `mss`).
    Kcp(kcp_core::SendError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Closed => f.write_str("connection closed"),
            WriteError::Kcp(e) => write!(f, "kcp: {e}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Why [`Connection::recv`](crate::Connection::recv) returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// No complete message yet: wait for [`Event::Readable`](crate::Event::Readable).
    WouldBlock,
    /// The connection was closed.
    Closed,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::WouldBlock => f.write_str("no message ready"),
            ReadError::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Why [`Connection::send_oob`](crate::Connection::send_oob) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OobError {
    /// OOB packets need FEC framing, which this session does not send.
    FecDisabled,
    /// The payload exceeds [`Connection::oob_max_size`](crate::Connection::oob_max_size).
    TooLong {
        /// Payload length.
        len: usize,
        /// Largest payload.
        max: usize,
    },
    /// The connection was closed.
    Closed,
}

impl fmt::Display for OobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OobError::FecDisabled => f.write_str("OOB needs FEC enabled"),
            OobError::TooLong { len, max } => write!(f, "OOB payload {len} > {max}"),
            OobError::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for OobError {}
