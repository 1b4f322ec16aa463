//! Snappy framing as kcptun's compression layer (`std.CompStream`, spec
//! smux-kcptun.md §9.2-9.3), as two sans-IO byte-stream transforms. The
//! block codec is the `snap` crate's; the chunk framing, Go's
//! compressed-or-not rule and its reader's checks are here, so a decoder
//! can take bytes as they arrive.
//!
//! ```
//! use kcp_session::smux::snappy::{SnappyDecoder, SnappyEncoder};
//! let mut enc = SnappyEncoder::new();
//! let mut wire = Vec::new();
//! enc.encode(b"one smux frame", &mut wire); // one write, one chunk
//! enc.encode(b"another", &mut wire);
//! let mut dec = SnappyDecoder::new();
//! let mut plain = Vec::new();
//! assert_eq!(dec.decode(&wire, &mut plain), Ok(wire.len()));
//! assert_eq!(plain, b"one smux frameanother");
//! dec.finish().unwrap(); // the stream ended on a chunk boundary
//! ```

use core::fmt;

use super::frame::{HEADER_LEN, Header, Version};

/// The stream identifier chunk: type 0xff, length 6, `sNaPpY`.
pub const STREAM_IDENTIFIER: [u8; 10] =
    [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];
/// Most uncompressed bytes in one chunk.
pub const MAX_BLOCK: usize = 65_536;
/// Longest chunk body Go's reader takes: a worst-case compressed 64 KiB
/// block plus the checksum (`snappy decode.go`).
pub const MAX_CHUNK_BODY: usize = 76_494;

const CHUNK_COMPRESSED: u8 = 0x00;
const CHUNK_UNCOMPRESSED: u8 = 0x01;
const CHUNK_STREAM_ID: u8 = 0xff;

/// Why a snappy stream was rejected: Go's "corrupt input" and
/// "unsupported input", with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnappyError {
    /// The stream does not start with the stream identifier.
    MissingStreamIdentifier,
    /// A stream identifier chunk with the wrong length or body.
    BadStreamIdentifier,
    /// A data chunk shorter than its 4-byte checksum.
    ChunkTooShort,
    /// A chunk longer than [`MAX_CHUNK_BODY`] ("unsupported input").
    ChunkTooLong(usize),
    /// A reserved unskippable chunk type 0x02..=0x7f ("unsupported input").
    Unsupported(u8),
    /// A block that does not decode, or decodes past [`MAX_BLOCK`].
    BadBlock,
    /// The masked CRC-32C does not match the data.
    Checksum,
    /// The stream ended inside a chunk.
    Truncated,
}

impl Default for SnappyEncoder {
    fn default() -> Self {
        SnappyEncoder::new()
    }
}

impl Default for SnappyDecoder {
    fn default() -> Self {
        SnappyDecoder::new()
    }
}

impl SnappyError {
    /// Whether Go's reader calls this "unsupported input" (otherwise
    /// "corrupt input").
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            SnappyError::ChunkTooLong(_) | SnappyError::Unsupported(_)
        )
    }
}

impl fmt::Display for SnappyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_unsupported() {
            "unsupported input"
        } else {
            "corrupt input"
        };
        let why = match self {
            SnappyError::MissingStreamIdentifier => "no stream identifier first".into(),
            SnappyError::BadStreamIdentifier => "bad stream identifier".into(),
            SnappyError::ChunkTooShort => "chunk shorter than its checksum".into(),
            SnappyError::ChunkTooLong(n) => format!("chunk of {n} bytes"),
            SnappyError::Unsupported(t) => format!("reserved chunk type {t:#04x}"),
            SnappyError::BadBlock => "bad compressed block".into(),
            SnappyError::Checksum => "checksum mismatch".into(),
            SnappyError::Truncated => "stream ends inside a chunk".into(),
        };
        write!(f, "snappy: {kind}: {why}")
    }
}

impl std::error::Error for SnappyError {}

/// CRC-32C of `data`, masked as the framing format stores it.
pub fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Compressing side: every [`encode`](Self::encode) call becomes whole
/// chunks at once, as kcptun's `CompStream.Write` (write + flush) does.
#[derive(Debug)]
pub struct SnappyEncoder {
    started: bool,
    codec: snap::raw::Encoder,
    block: Vec<u8>,
}

impl SnappyEncoder {
    /// A new stream (the stream identifier goes before its first chunk).
    pub fn new() -> SnappyEncoder {
        SnappyEncoder {
            started: false,
            codec: snap::raw::Encoder::new(),
            block: Vec::new(),
        }
    }

    /// Appends `data` to `out` as chunks of at most [`MAX_BLOCK`] bytes
    /// each: compressed when that saves at least an eighth (golang/snappy's
    /// rule), otherwise stored. Empty input writes nothing.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for piece in data.chunks(MAX_BLOCK) {
            if !self.started {
                self.started = true;
                out.extend_from_slice(&STREAM_IDENTIFIER);
            }
            let crc = masked_crc(piece);
            self.block
                .resize(snap::raw::max_compress_len(piece.len()), 0);
            let n = self
                .codec
                .compress(piece, &mut self.block)
                .unwrap_or(usize::MAX);
            let (ty, body) = if n < piece.len() - piece.len() / 8 {
                (CHUNK_COMPRESSED, &self.block[..n])
            } else {
                (CHUNK_UNCOMPRESSED, piece)
            };
            // At most 4 + max_compress_len(65536) < 2^24.
            let len = (4 + body.len()) as u32;
            out.push(ty);
            out.extend_from_slice(&len.to_le_bytes()[..3]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(body);
        }
    }
}

impl SnappyEncoder {
    /// Encodes the whole smux frames at the front of `frames` (as
    /// [`Mux::poll_output`](super::Mux::poll_output) hands them out), one
    /// chunk per frame, as kcptun's `CompStream` does (one `Write` + `Flush`
    /// per frame); returns how many bytes of `frames` it took. A trailing
    /// partial frame is left for the next call. Bytes that do not parse as
    /// a `version` header (never from our own mux) go out as one chunk.
    pub fn encode_frames(&mut self, frames: &[u8], version: Version, out: &mut Vec<u8>) -> usize {
        let mut at = 0;
        while at < frames.len() {
            let end = match Header::parse(&frames[at..], version) {
                Ok(h) => at + HEADER_LEN + h.payload_len(),
                Err(_) if frames.len() - at < HEADER_LEN => break,
                Err(_) => frames.len(),
            };
            if end > frames.len() {
                break;
            }
            self.encode(&frames[at..end], out);
            at = end;
        }
        at
    }
}

/// Decompressing side: takes bytes as they arrive and hands out the data of
/// every complete chunk, checking what golang/snappy's reader checks.
#[derive(Debug)]
pub struct SnappyDecoder {
    /// A chunk (header included) not yet complete.
    partial: Vec<u8>,
    seen_identifier: bool,
    codec: snap::raw::Decoder,
    error: Option<SnappyError>,
}

impl SnappyDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> SnappyDecoder {
        SnappyDecoder {
            partial: Vec::new(),
            seen_identifier: false,
            codec: snap::raw::Decoder::new(),
            error: None,
        }
    }

    /// Feeds `input`; appends decoded data to `out` and returns how many
    /// input bytes were taken (all of them, unless an error stops it). An
    /// error is final. At most one chunk is held back (under 77 KiB).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, SnappyError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut pos = 0;
        while pos < input.len() {
            // Complete the header, then the body (checked once the header
            // is whole), in `partial`.
            let need = if self.partial.len() < 4 {
                4 - self.partial.len()
            } else {
                4 + chunk_len(&self.partial) - self.partial.len()
            };
            let n = need.min(input.len() - pos);
            self.partial.extend_from_slice(&input[pos..pos + n]);
            pos += n;
            if self.partial.len() < 4 {
                continue;
            }
            let body = chunk_len(&self.partial);
            if self.partial.len() == 4
                && let Err(e) = self.check_header(body)
            {
                self.error = Some(e);
                return Err(e);
            }
            if self.partial.len() == 4 + body {
                let chunk = core::mem::take(&mut self.partial);
                let done = self.chunk(&chunk, out);
                self.partial = chunk;
                self.partial.clear();
                if let Err(e) = done {
                    self.error = Some(e);
                    return Err(e);
                }
            }
        }
        Ok(pos)
    }

    /// The stream ended: fine on a chunk boundary, an error inside a chunk.
    pub fn finish(&self) -> Result<(), SnappyError> {
        match self.error {
            Some(e) => Err(e),
            None if self.partial.is_empty() => Ok(()),
            None => Err(SnappyError::Truncated),
        }
    }

    fn check_header(&self, body: usize) -> Result<(), SnappyError> {
        let ty = self.partial[0];
        if !self.seen_identifier && ty != CHUNK_STREAM_ID {
            return Err(SnappyError::MissingStreamIdentifier);
        }
        if body > MAX_CHUNK_BODY {
            return Err(SnappyError::ChunkTooLong(body));
        }
        match ty {
            CHUNK_STREAM_ID if body != 6 => Err(SnappyError::BadStreamIdentifier),
            CHUNK_COMPRESSED | CHUNK_UNCOMPRESSED if body < 4 => Err(SnappyError::ChunkTooShort),
            0x02..=0x7f => Err(SnappyError::Unsupported(ty)),
            _ => Ok(()),
        }
    }

    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), SnappyError> {
        let body = &chunk[4..];
        match chunk[0] {
            CHUNK_STREAM_ID => {
                if body != &STREAM_IDENTIFIER[4..] {
                    return Err(SnappyError::BadStreamIdentifier);
                }
                self.seen_identifier = true;
            }
            CHUNK_COMPRESSED => {
                let crc = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                let block = &body[4..];
                let n = snap::raw::decompress_len(block).map_err(|_| SnappyError::BadBlock)?;
                if n > MAX_BLOCK {
                    return Err(SnappyError::BadBlock);
                }
                let at = out.len();
                out.resize(at + n, 0);
                let got = self
                    .codec
                    .decompress(block, &mut out[at..])
                    .map_err(|_| SnappyError::BadBlock);
                if got != Ok(n) || masked_crc(&out[at..]) != crc {
                    out.truncate(at);
                    return Err(got.err().unwrap_or(SnappyError::Checksum));
                }
            }
            CHUNK_UNCOMPRESSED => {
                let crc = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                let data = &body[4..];
                if data.len() > MAX_BLOCK {
                    return Err(SnappyError::BadBlock);
                }
                if masked_crc(data) != crc {
                    return Err(SnappyError::Checksum);
                }
                out.extend_from_slice(data);
            }
            // Padding (0xfe) and reserved skippable chunks (0x80..=0xfd).
            _ => {}
        }
        Ok(())
    }
}

/// The body length in a chunk header (u24 little-endian).
fn chunk_len(h: &[u8]) -> usize {
    usize::from(h[1]) | usize::from(h[2]) << 8 | usize::from(h[3]) << 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_examples() {
        assert_eq!(masked_crc(b""), 0xa282_ead8);
        assert_eq!(masked_crc(b"hello"), 0x191c_1fbb);
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        let mut enc = SnappyEncoder::new();
        let mut wire = Vec::new();
        let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        enc.encode(&data, &mut wire);
        enc.encode(b"tail", &mut wire);
        let mut dec = SnappyDecoder::new();
        let mut out = Vec::new();
        for b in &wire {
            assert_eq!(dec.decode(core::slice::from_ref(b), &mut out), Ok(1));
        }
        dec.finish().unwrap();
        assert_eq!(&out[..150_000], &data[..]);
        assert_eq!(&out[150_000..], b"tail");
    }
}
