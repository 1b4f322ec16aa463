//! kcp-go's 8-byte FEC header (spec session.md §4.1).
//!
//! ```text
//! | seqid u32 LE | type u16 LE | size u16 LE | payload ... |
//! ```
//! `size` counts itself plus the payload. Parity packets reuse the `size`
//! position for the first two parity bytes.

/// Length of the FEC header on data and OOB packets.
pub const HEADER_SIZE: usize = 8;
/// Length of seqid + type, the part every FEC packet (parity included) has.
pub const SHARD_HEADER_SIZE: usize = 6;
/// `type` of a data shard.
pub const TYPE_DATA: u16 = 0xF1;
/// `type` of a parity shard.
pub const TYPE_PARITY: u16 = 0xF2;
/// `type` of an out-of-band packet.
pub const TYPE_OOB: u16 = 0xF3;
/// The seqid every OOB packet carries.
pub const OOB_SEQID: u32 = 0xFFFF_FFFF;
/// Bytes before an OOB payload: FEC header plus the 4-byte conv.
pub const OOB_HEADER_SIZE: usize = HEADER_SIZE + 4;
/// Shortest datagram kcp-go accepts after decryption: an empty OOB packet
/// (`min(IKCP_OVERHEAD, 8 + 4)`).
pub const MIN_DATAGRAM: usize = 12;
/// kcp-go's `mtuLimit`: the size of every receive buffer.
pub const MTU_LIMIT: usize = 1500;

/// What the u16 at offset 4 of a decrypted datagram says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// FEC data shard (0xF1).
    Data,
    /// FEC parity shard (0xF2).
    Parity,
    /// Out-of-band packet (0xF3).
    Oob,
    /// Anything else: plain KCP segments (a KCP header's `cmd | frg << 8`
    /// can never be 0x00F1..0x00F3).
    Raw,
}

/// Classifies a decrypted datagram; `None` if it is shorter than 6 bytes.
///
/// ```
/// use kcp_fec::{packet_kind, PacketKind};
/// assert_eq!(packet_kind(&[0, 0, 0, 0, 0xF1, 0, 2, 0]), Some(PacketKind::Data));
/// assert_eq!(packet_kind(&[0, 0, 0, 0, 81, 0]), Some(PacketKind::Raw));
/// ```
pub fn packet_kind(datagram: &[u8]) -> Option<PacketKind> {
    let t = read_u16(datagram, 4)?;
    Some(match t {
        TYPE_DATA => PacketKind::Data,
        TYPE_PARITY => PacketKind::Parity,
        TYPE_OOB => PacketKind::Oob,
        _ => PacketKind::Raw,
    })
}

/// `paws`: the seqid modulus, the largest multiple of `data + parity` that
/// fits below 2^32 - 1.
///
/// ```
/// assert_eq!(kcp_fec::paws(10, 3), 0xFFFF_FFFF / 13 * 13);
/// ```
pub fn paws(data_shards: usize, parity_shards: usize) -> u32 {
    // Codecs allow at most 256 shards; this public helper also takes any
    // counts without overflowing or dividing by a truncated zero.
    let n = data_shards.saturating_add(parity_shards).max(1);
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    0xFFFF_FFFF / n * n
}

pub(crate) fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Writes seqid and type at the start of `b` (at least 6 bytes).
pub(crate) fn write_shard_header(b: &mut [u8], seqid: u32, ty: u16) {
    b[..4].copy_from_slice(&seqid.to_le_bytes());
    b[4..6].copy_from_slice(&ty.to_le_bytes());
}
