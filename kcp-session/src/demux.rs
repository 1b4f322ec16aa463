//! What a listener reads from a decrypted datagram before any session
//! lookup (spec session.md §6).

use kcp_core::OVERHEAD;
use kcp_core::segment::{Command, segments};
use kcp_fec::{HEADER_SIZE, PacketKind, packet_kind};

/// The demux view of one decrypted datagram (at least 12 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peek {
    /// Parity, or an FEC data shard too short to hold a KCP header: can
    /// only go to an existing session.
    NoConv,
    /// Raw KCP shorter than one header: dropped.
    Malformed,
    /// A conv (and the first segment's `sn`; 0 for OOB).
    Conv {
        conv: u32,
        sn: u32,
        /// Everything after the FEC header parses as KCP segments of this
        /// conv (or it is an OOB packet): may open a session.
        well_formed: bool,
        /// Well formed and carrying the first data segment of a stream
        /// (PUSH, `sn` 0), as a new client's first datagram does.
        opening: bool,
    },
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// `(well_formed, opening)`: every segment parses and has `conv`; one of
/// them is PUSH with `sn` 0.
fn kcp_scan(kcp: &[u8], conv: u32) -> (bool, bool) {
    let mut opening = false;
    for s in segments(kcp) {
        match s {
            Ok((h, _)) if h.conv == conv => {
                opening |= h.cmd == Command::Push as u8 && h.sn == 0;
            }
            _ => return (false, false),
        }
    }
    (true, opening)
}

fn conv_of(kcp: &[u8]) -> Peek {
    let conv = u32_at(kcp, 0);
    let (well_formed, opening) = kcp_scan(kcp, conv);
    Peek::Conv {
        conv,
        sn: u32_at(kcp, 12),
        well_formed,
        opening,
    }
}

pub(crate) fn peek(plain: &[u8]) -> Peek {
    match packet_kind(plain) {
        Some(PacketKind::Data) if plain.len() >= HEADER_SIZE + OVERHEAD => {
            conv_of(&plain[HEADER_SIZE..])
        }
        Some(PacketKind::Data | PacketKind::Parity) => Peek::NoConv,
        Some(PacketKind::Oob) if plain.len() >= HEADER_SIZE + 4 => Peek::Conv {
            conv: u32_at(plain, HEADER_SIZE),
            sn: 0,
            well_formed: true,
            opening: false,
        },
        _ if plain.len() >= OVERHEAD => conv_of(plain),
        _ => Peek::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcp_core::segment::Header;

    fn push(conv: u32, sn: u32) -> Vec<u8> {
        let mut d = vec![0u8; OVERHEAD + 3];
        let h = Header {
            conv,
            cmd: 81,
            sn,
            len: 3,
            ..Header::default()
        };
        h.encode((&mut d[..OVERHEAD]).try_into().unwrap());
        d
    }

    #[test]
    fn reads_conv_at_the_right_offset() {
        let raw = push(0xAABBCCDD, 5);
        assert_eq!(
            peek(&raw),
            Peek::Conv {
                conv: 0xAABBCCDD,
                sn: 5,
                well_formed: true,
                opening: false,
            }
        );
        let mut fec = vec![0, 0, 0, 0, 0xF1, 0, 0, 0];
        fec.extend_from_slice(&push(9, 0));
        assert_eq!(
            peek(&fec),
            Peek::Conv {
                conv: 9,
                sn: 0,
                well_formed: true,
                opening: true,
            }
        );
        fec[4] = 0xF2;
        assert_eq!(peek(&fec), Peek::NoConv);
        let short = [0, 0, 0, 0, 0xF1, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(peek(&short), Peek::NoConv);
        let oob = [0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0, 6, 0, 7, 0, 0, 0];
        assert_eq!(
            peek(&oob),
            Peek::Conv {
                conv: 7,
                sn: 0,
                well_formed: true,
                opening: false,
            }
        );
        assert_eq!(peek(&[0x51; 12]), Peek::Malformed);
        let mut bad = push(1, 0);
        bad[4] = 99; // unknown command
        assert!(matches!(
            peek(&bad),
            Peek::Conv {
                well_formed: false,
                opening: false,
                ..
            }
        ));
    }

    #[test]
    fn opening_means_a_push_with_sn_0_anywhere_in_the_datagram() {
        let ack = {
            let mut d = vec![0u8; OVERHEAD];
            let h = Header {
                conv: 3,
                cmd: 82,
                sn: 0,
                ..Header::default()
            };
            h.encode((&mut d[..]).try_into().unwrap());
            d
        };
        // An ACK of sn 0 is not an opening; an ACK then PUSH sn 0 is.
        assert!(matches!(peek(&ack), Peek::Conv { opening: false, .. }));
        let mut both = ack.clone();
        both.extend_from_slice(&push(3, 0));
        assert!(matches!(
            peek(&both),
            Peek::Conv {
                sn: 0,
                opening: true,
                well_formed: true,
                ..
            }
        ));
        // PUSH sn 1 then sn 0 (a retransmission after a newer segment).
        let mut later = push(3, 1);
        later.extend_from_slice(&push(3, 0));
        assert!(matches!(
            peek(&later),
            Peek::Conv {
                sn: 1,
                opening: true,
                ..
            }
        ));
        // Another conv's PUSH sn 0 makes the datagram malformed, not opening.
        let mut mixed = push(3, 1);
        mixed.extend_from_slice(&push(4, 0));
        assert!(matches!(
            peek(&mixed),
            Peek::Conv {
                well_formed: false,
                opening: false,
                ..
            }
        ));
    }

    /// Plaintexts around one KCP header long are classified by length, never
    /// read past their end: an FEC data shard needs its 8-byte header plus a
    /// whole KCP header to name a conv, raw KCP a whole header, an OOB
    /// packet its header plus the conv.
    #[test]
    fn lengths_around_a_header_are_classified_without_panicking() {
        // Raw KCP: one byte short of a header is malformed; a whole
        // (empty) PUSH header names its conv.
        let header = push(0x0102_0304, 0);
        let header = &header[..OVERHEAD];
        assert_eq!(peek(&header[..OVERHEAD - 1]), Peek::Malformed);
        assert!(matches!(
            peek(header),
            Peek::Conv {
                conv: 0x0102_0304,
                sn: 0,
                ..
            }
        ));
        // FEC data shard: header + KCP header exactly, then one byte less.
        let mut fec = vec![0, 0, 0, 0, 0xF1, 0, 26, 0];
        fec.extend_from_slice(header);
        assert!(matches!(
            peek(&fec),
            Peek::Conv {
                conv: 0x0102_0304,
                ..
            }
        ));
        assert_eq!(peek(&fec[..HEADER_SIZE + OVERHEAD - 1]), Peek::NoConv);
        // OOB: the conv needs 4 bytes after the FEC header.
        let oob = [0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0, 6, 0, 7, 0, 0, 0];
        assert!(matches!(peek(&oob), Peek::Conv { conv: 7, .. }));
        // Shorter than anything: every length from 0 to a header minus one,
        // whatever the type bytes say.
        for ty in [0xF1u8, 0xF2, 0xF3, 81] {
            let mut b = [0u8; OVERHEAD];
            b[4] = ty;
            for len in 0..OVERHEAD {
                let p = peek(&b[..len]);
                match (ty, len) {
                    (0xF1 | 0xF2, 6..) => assert_eq!(p, Peek::NoConv, "{ty:#x} {len}"),
                    (0xF3, 12..) => assert!(matches!(p, Peek::Conv { .. })),
                    _ => assert_eq!(p, Peek::Malformed, "{ty:#x} {len}"),
                }
            }
        }
    }
}
