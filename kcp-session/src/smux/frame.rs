//! smux's 8-byte frame header (spec smux-kcptun.md §1), as a checked view
//! plus a plain [`Header`] with `parse`/`emit`.
//!
//! ```text
//! | ver u8 | cmd u8 | length u16 LE | sid u32 LE | payload (length bytes) |
//! ```

use core::fmt;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 8;
/// Payload bytes of an UPD frame (`consumed u32 LE`, `window u32 LE`).
pub const UPD_LEN: usize = 8;

/// The protocol version byte. Nothing negotiates it: both ends must be
/// configured alike (kcptun's `--smuxver`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// smux v1: no per-stream flow control.
    V1 = 1,
    /// smux v2: per-stream windows updated by UPD frames.
    V2 = 2,
}

impl Version {
    /// The version for a wire byte, if it is one.
    pub fn from_byte(b: u8) -> Option<Version> {
        match b {
            1 => Some(Version::V1),
            2 => Some(Version::V2),
            _ => None,
        }
    }
}

/// A frame's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmd {
    /// Open stream `sid` (no payload).
    Syn = 0,
    /// The sender closed stream `sid` (no payload).
    Fin = 1,
    /// Stream data.
    Psh = 2,
    /// Keepalive (sid 0, no payload).
    Nop = 3,
    /// v2 flow-control update: `consumed`, `window`.
    Upd = 4,
}

impl Cmd {
    /// The command for a wire byte, if it is one.
    pub fn from_byte(b: u8) -> Option<Cmd> {
        Some(match b {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            _ => return None,
        })
    }
}

/// Why a header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The version byte is not the session's (smux: "invalid protocol").
    BadVersion {
        /// The byte received.
        got: u8,
        /// The session's version.
        expected: Version,
    },
    /// A command byte smux does not know (smux: "invalid protocol").
    UnknownCommand(u8),
    /// UPD on a v1 session (smux: "invalid protocol").
    UpdOnV1,
    /// A payload longer than a frame can carry (emit only).
    Oversize {
        /// The payload length asked for.
        len: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { len } => write!(f, "frame header truncated at {len} bytes"),
            FrameError::BadVersion { got, expected } => {
                write!(f, "version byte {got}, session is v{}", *expected as u8)
            }
            FrameError::UnknownCommand(c) => write!(f, "unknown command {c}"),
            FrameError::UpdOnV1 => f.write_str("UPD frame on a v1 session"),
            FrameError::Oversize { len } => write!(f, "payload of {len} bytes exceeds 65535"),
        }
    }
}

impl std::error::Error for FrameError {}

/// A parsed frame header.
///
/// ```
/// use kcp_session::smux::{Cmd, Header, Version};
/// let h = Header { version: Version::V2, cmd: Cmd::Psh, length: 5, sid: 3 };
/// let mut b = [0u8; 8];
/// h.emit(&mut b);
/// assert_eq!(b, [2, 2, 5, 0, 3, 0, 0, 0]);
/// assert_eq!(Header::parse(&b, Version::V2), Ok(h));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: Version,
    /// Command.
    pub cmd: Cmd,
    /// Payload length field. Only PSH payloads follow it on the wire: smux
    /// reads no payload after SYN, FIN or NOP whatever this says, and always
    /// 8 bytes after UPD (spec §1.2).
    pub length: u16,
    /// Stream id.
    pub sid: u32,
}

impl Header {
    /// Parses the first [`HEADER_LEN`] bytes of `b` for a session of
    /// `version`, checking the version and command as smux's receive loop
    /// does.
    pub fn parse(b: &[u8], version: Version) -> Result<Header, FrameError> {
        let h: &[u8; HEADER_LEN] = b
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(FrameError::Truncated { len: b.len() })?;
        if h[0] != version as u8 {
            return Err(FrameError::BadVersion {
                got: h[0],
                expected: version,
            });
        }
        let cmd = Cmd::from_byte(h[1]).ok_or(FrameError::UnknownCommand(h[1]))?;
        if cmd == Cmd::Upd && version == Version::V1 {
            return Err(FrameError::UpdOnV1);
        }
        Ok(Header {
            version,
            cmd,
            length: u16::from_le_bytes([h[2], h[3]]),
            sid: u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
        })
    }

    /// Bytes of payload that follow this header on the wire.
    pub fn payload_len(&self) -> usize {
        match self.cmd {
            Cmd::Psh => self.length as usize,
            Cmd::Upd => UPD_LEN,
            Cmd::Syn | Cmd::Fin | Cmd::Nop => 0,
        }
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than [`HEADER_LEN`].
    pub fn emit(&self, out: &mut [u8]) {
        out[0] = self.version as u8;
        out[1] = self.cmd as u8;
        out[2..4].copy_from_slice(&self.length.to_le_bytes());
        out[4..8].copy_from_slice(&self.sid.to_le_bytes());
    }

    /// The header of a frame carrying `payload_len` bytes.
    pub fn new(
        version: Version,
        cmd: Cmd,
        sid: u32,
        payload_len: usize,
    ) -> Result<Header, FrameError> {
        let length =
            u16::try_from(payload_len).map_err(|_| FrameError::Oversize { len: payload_len })?;
        Ok(Header {
            version,
            cmd,
            length,
            sid,
        })
    }
}

/// An UPD payload: what the sender has delivered to its application and
/// its per-stream window (spec §1.1, §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upd {
    /// Bytes of the stream delivered so far, mod 2^32.
    pub consumed: u32,
    /// The sender's `MaxStreamBuffer`.
    pub window: u32,
}

impl Upd {
    /// Parses the 8-byte payload.
    pub fn parse(b: &[u8; UPD_LEN]) -> Upd {
        Upd {
            consumed: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            window: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The 8-byte payload.
    pub fn to_bytes(self) -> [u8; UPD_LEN] {
        let mut b = [0u8; UPD_LEN];
        b[..4].copy_from_slice(&self.consumed.to_le_bytes());
        b[4..].copy_from_slice(&self.window.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let cases: [(&str, Version, Cmd, u16, u32); 4] = [
            ("0100000003000000", Version::V1, Cmd::Syn, 0, 3),
            ("0202050003000000", Version::V2, Cmd::Psh, 5, 3),
            ("0201000003000000", Version::V2, Cmd::Fin, 0, 3),
            ("0203000000000000", Version::V2, Cmd::Nop, 0, 0),
        ];
        for (hex, version, cmd, length, sid) in cases {
            let bytes: Vec<u8> = (0..16)
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let h = Header::parse(&bytes, version).unwrap();
            assert_eq!(
                h,
                Header {
                    version,
                    cmd,
                    length,
                    sid
                }
            );
            let mut out = [0u8; 8];
            h.emit(&mut out);
            assert_eq!(&out[..], &bytes[..]);
        }
        let upd = Upd {
            consumed: 18,
            window: 2_097_152,
        };
        assert_eq!(upd.to_bytes(), [0x12, 0, 0, 0, 0, 0, 0x20, 0]);
        assert_eq!(Upd::parse(&upd.to_bytes()), upd);
    }

    #[test]
    fn rejects_what_smux_rejects() {
        let v1 = Version::V1;
        assert_eq!(
            Header::parse(&[2, 0, 0, 0, 3, 0, 0, 0], v1),
            Err(FrameError::BadVersion {
                got: 2,
                expected: v1
            })
        );
        assert_eq!(
            Header::parse(&[2, 5, 0, 0, 3, 0, 0, 0], Version::V2),
            Err(FrameError::UnknownCommand(5))
        );
        assert_eq!(
            Header::parse(&[1, 4, 8, 0, 3, 0, 0, 0], v1),
            Err(FrameError::UpdOnV1)
        );
        assert_eq!(
            Header::parse(&[1, 0, 0], v1),
            Err(FrameError::Truncated { len: 3 })
        );
        assert_eq!(
            Header::new(Version::V2, Cmd::Psh, 3, 65536),
            Err(FrameError::Oversize { len: 65536 })
        );
    }

    #[test]
    fn payload_len_follows_smux_not_the_length_field() {
        let h = |cmd, length| Header {
            version: Version::V2,
            cmd,
            length,
            sid: 3,
        };
        assert_eq!(h(Cmd::Syn, 2).payload_len(), 0);
        assert_eq!(h(Cmd::Fin, 9).payload_len(), 0);
        assert_eq!(h(Cmd::Nop, 9).payload_len(), 0);
        assert_eq!(h(Cmd::Upd, 0).payload_len(), 8);
        assert_eq!(h(Cmd::Psh, 65535).payload_len(), 65535);
    }
}
