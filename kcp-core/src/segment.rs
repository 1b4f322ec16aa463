//! The 24-byte KCP segment header (spec `kcp-wire.md` §1–2).
//!
//! A datagram is a concatenation of segments; each is this header followed by
//! `len` payload bytes. All integers are little-endian.

use core::fmt;

/// Size of a segment header (`IKCP_OVERHEAD`).
pub const OVERHEAD: usize = 24;

/// The four KCP commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// Data (`IKCP_CMD_PUSH`, 81).
    Push = 81,
    /// Selective acknowledgement of one `sn` (`IKCP_CMD_ACK`, 82).
    Ack = 82,
    /// Window probe: "tell me your window" (`IKCP_CMD_WASK`, 83).
    WindowAsk = 83,
    /// Window announcement (`IKCP_CMD_WINS`, 84).
    WindowTell = 84,
}

impl Command {
    /// The command for a wire byte, or `None` for an unknown value.
    pub const fn from_u8(b: u8) -> Option<Command> {
        match b {
            81 => Some(Command::Push),
            82 => Some(Command::Ack),
            83 => Some(Command::WindowAsk),
            84 => Some(Command::WindowTell),
            _ => None,
        }
    }
}

/// A decoded segment header. `cmd` stays a raw byte so that a parser can
/// reproduce the reference check order (conv, then length, then command).
///
/// ```
/// use kcp_core::segment::{Header, OVERHEAD};
/// let h = Header { conv: 0x12345678, cmd: 81, frg: 0, wnd: 32, ts: 1000, sn: 5, una: 3, len: 5 };
/// let mut buf = [0u8; OVERHEAD];
/// h.encode(&mut buf);
/// assert_eq!(&buf[..8], &[0x78, 0x56, 0x34, 0x12, 0x51, 0x00, 0x20, 0x00]);
/// assert_eq!(Header::decode(&buf), Some(h));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// Conversation id.
    pub conv: u32,
    /// Command byte (see [`Command`]).
    pub cmd: u8,
    /// Fragment countdown (0 = last fragment of a message).
    pub frg: u8,
    /// Sender's free receive window, in segments.
    pub wnd: u16,
    /// Timestamp: sender clock (PUSH) or echoed timestamp (ACK).
    pub ts: u32,
    /// Sequence number (PUSH) or acknowledged sequence number (ACK).
    pub sn: u32,
    /// Sender's `rcv_nxt`: every sn below it has been received.
    pub una: u32,
    /// Payload length that follows the header.
    pub len: u32,
}

impl Header {
    /// Decodes the first 24 bytes of `buf`; `None` if it is shorter.
    pub fn decode(buf: &[u8]) -> Option<Header> {
        let b: &[u8; OVERHEAD] = buf.get(..OVERHEAD)?.try_into().ok()?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Header {
            conv: u32_at(0),
            cmd: b[4],
            frg: b[5],
            wnd: u16::from_le_bytes([b[6], b[7]]),
            ts: u32_at(8),
            sn: u32_at(12),
            una: u32_at(16),
            len: u32_at(20),
        })
    }

    /// Writes the header into `out`.
    pub fn encode(&self, out: &mut [u8; OVERHEAD]) {
        out[0..4].copy_from_slice(&self.conv.to_le_bytes());
        out[4] = self.cmd;
        out[5] = self.frg;
        out[6..8].copy_from_slice(&self.wnd.to_le_bytes());
        out[8..12].copy_from_slice(&self.ts.to_le_bytes());
        out[12..16].copy_from_slice(&self.sn.to_le_bytes());
        out[16..20].copy_from_slice(&self.una.to_le_bytes());
        out[20..24].copy_from_slice(&self.len.to_le_bytes());
    }

    /// The command, if the byte is one of the four known values.
    pub fn command(&self) -> Option<Command> {
        Command::from_u8(self.cmd)
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Header {{ conv: {:#x}, cmd: {}, frg: {}, wnd: {}, ts: {}, sn: {}, una: {}, len: {} }}",
            self.conv, self.cmd, self.frg, self.wnd, self.ts, self.sn, self.una, self.len
        )
    }
}

/// Why a datagram could not be parsed into segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than 24 bytes in the whole datagram.
    TooShort,
    /// A header's `len` exceeds the bytes left in the datagram.
    Truncated,
    /// A header carries a command byte other than 81..=84.
    UnknownCommand(u8),
}

/// Iterates the segments of a datagram without touching any state: the tool
/// for inspectors, demultiplexers and fuzzers. Trailing bytes shorter than a
/// header are ignored, as both reference implementations do.
///
/// ```
/// use kcp_core::segment::{segments, Header, OVERHEAD};
/// let mut dgram = [0u8; OVERHEAD + 2];
/// let h = Header { conv: 7, cmd: 81, len: 2, ..Header::default() };
/// h.encode((&mut dgram[..OVERHEAD]).try_into().unwrap());
/// let all: Vec<_> = segments(&dgram).collect();
/// assert_eq!(all.len(), 1);
/// let (hdr, payload) = all[0].unwrap();
/// assert_eq!((hdr.conv, payload.len()), (7, 2));
/// ```
pub fn segments(datagram: &[u8]) -> Segments<'_> {
    Segments {
        rest: datagram,
        first: true,
    }
}

/// Iterator returned by [`segments`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    rest: &'a [u8],
    first: bool,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<(Header, &'a [u8]), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if core::mem::take(&mut self.first) && self.rest.len() < OVERHEAD {
            self.rest = &[];
            return Some(Err(ParseError::TooShort));
        }
        let h = Header::decode(self.rest)?;
        let body = &self.rest[OVERHEAD..];
        if (body.len() as u64) < u64::from(h.len) {
            self.rest = &[];
            return Some(Err(ParseError::Truncated));
        }
        if h.command().is_none() {
            self.rest = &[];
            return Some(Err(ParseError::UnknownCommand(h.cmd)));
        }
        // `h.len <= body.len()` (checked above), so it fits a usize.
        let (payload, rest) = body.split_at(h.len as usize);
        self.rest = rest;
        Some(Ok((h, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_byte_example_round_trips() {
        // kcp-wire.md §9
        let push = [
            0x78, 0x56, 0x34, 0x12, 0x51, 0x00, 0x20, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x05, 0x00,
            0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
        ];
        let h = Header::decode(&push).unwrap();
        assert_eq!(h.conv, 0x1234_5678);
        assert_eq!(h.command(), Some(Command::Push));
        assert_eq!((h.wnd, h.ts, h.sn, h.una, h.len), (32, 1000, 5, 3, 5));
        let mut out = [0u8; OVERHEAD];
        h.encode(&mut out);
        assert_eq!(out, push);
    }

    #[test]
    fn iterator_reports_each_error_kind() {
        assert_eq!(
            segments(&[0u8; 5]).collect::<alloc::vec::Vec<_>>(),
            [Err(ParseError::TooShort)]
        );
        let mut d = [0u8; OVERHEAD];
        Header {
            cmd: 81,
            len: 1,
            ..Header::default()
        }
        .encode(&mut d);
        assert_eq!(segments(&d).next(), Some(Err(ParseError::Truncated)));
        Header {
            cmd: 9,
            ..Header::default()
        }
        .encode(&mut d);
        assert_eq!(
            segments(&d).next(),
            Some(Err(ParseError::UnknownCommand(9)))
        );
    }
}
