//! Typed errors. Every one maps to a reference return code (`code()`), so
//! traces recorded from kcp-go or ikcp compare directly.

use core::fmt;

/// Why [`crate::Kcp::input`] rejected (part of) a datagram. Segments before
/// the offending one have already been applied, as in both references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// Fewer than 24 bytes.
    TooShort,
    /// A segment's conv differs from ours.
    ConvMismatch {
        /// The conv found on the wire.
        got: u32,
    },
    /// A segment's `len` runs past the end of the datagram.
    Truncated,
    /// A command byte other than 81..=84.
    UnknownCommand(u8),
}

impl InputError {
    /// The reference return code (-1, -2 or -3).
    pub fn code(self) -> i32 {
        match self {
            InputError::TooShort | InputError::ConvMismatch { .. } => -1,
            InputError::Truncated => -2,
            InputError::UnknownCommand(_) => -3,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::TooShort => f.write_str("datagram shorter than a KCP header"),
            InputError::ConvMismatch { got } => write!(f, "segment for conv {got:#x}"),
            InputError::Truncated => f.write_str("segment length exceeds the datagram"),
            InputError::UnknownCommand(c) => write!(f, "unknown KCP command {c}"),
        }
    }
}

impl core::error::Error for InputError {}

/// Why [`crate::Kcp::send`] refused data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Empty message (kcp-go refuses them: a kcp-go session reader would stall).
    Empty,
    /// The message needs more fragments than the configured maximum.
    TooManyFragments {
        /// Fragments the message would need.
        needed: usize,
        /// The configured maximum.
        max: u32,
    },
}

impl SendError {
    /// The reference return code.
    pub fn code(self) -> i32 {
        match self {
            SendError::Empty => -1,
            SendError::TooManyFragments { .. } => -2,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Empty => f.write_str("empty message"),
            SendError::TooManyFragments { needed, max } => {
                write!(f, "message needs {needed} fragments, at most {max} allowed")
            }
        }
    }
}

impl core::error::Error for SendError {}

/// Why [`crate::Kcp::recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing to read yet.
    Empty,
    /// The head message has not been fully received yet.
    Incomplete,
    /// The caller's buffer is smaller than the next message.
    BufferTooSmall {
        /// Size of the next message.
        needed: usize,
    },
}

impl RecvError {
    /// The kcp-go return code (-1 empty or incomplete, -2 buffer too small).
    pub fn code(self) -> i32 {
        match self {
            RecvError::Empty | RecvError::Incomplete => -1,
            RecvError::BufferTooSmall { .. } => -2,
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("no message available"),
            RecvError::Incomplete => f.write_str("next message not complete yet"),
            RecvError::BufferTooSmall { needed } => {
                write!(f, "buffer too small, next message is {needed} bytes")
            }
        }
    }
}

impl core::error::Error for RecvError {}

/// An invalid configuration value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// MTU below the profile's minimum or above 65535.
    MtuOutOfRange {
        /// The value given.
        mtu: u32,
        /// The profile's minimum.
        min: u32,
    },
    /// `max_frag` outside 1..=255.
    MaxFragOutOfRange(u32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MtuOutOfRange { mtu, min } => {
                write!(f, "mtu {mtu} outside {min}..=65535")
            }
            ConfigError::MaxFragOutOfRange(v) => write!(f, "max_frag {v} outside 1..=255"),
        }
    }
}

impl core::error::Error for ConfigError {}
